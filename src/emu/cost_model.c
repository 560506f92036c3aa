/* The one table of emulator timing and energy constants; see cost_model.h
 * and docs/cost-model.md for each row's source. */
#include "emu/cost_model.h"

const spd_cost_model_t spd__cost_model = {
    /* #2: 200 MHz -> 5 ns per CPU cycle. */
    .core_cycle_ps = 5000,
    /* #15: 133 MHz -> 7.519 ns per router cycle (rounded to the ps). */
    .router_cycle_ps = 7519,
    /* #16: SARK sets wait1 0x40 = 240 router cycles; #17: wait2 = 0, so a
     * packet still blocked after wait1 is dropped (no emergency routing). */
    .router_wait1_cycles = 240,
    /* Assumption: the link receivers and router pipeline hold a few packets;
     * when full, upstream links and local cores are held back. */
    .router_input_slots = 8,
    /* #18: ~5 M pkt/s at 40 bits -> 200 ns; ~3 M pkt/s at 72 bits -> 333 ns. */
    .link_ps_40bit = 200000,
    .link_ps_72bit = 333333,
    /* §7: 200-1000 ns handling per received packet; the emulator charges the
     * low end (40 cycles) for the interrupt and dispatch of every event and
     * lets the kernel charge its own work on top. */
    .event_dispatch_cycles = 40,
    /* Assumption: spin1's scheduler taking a task off its queue and calling
     * it. Also guarantees that a callback rescheduling itself advances time. */
    .task_dispatch_cycles = 10,
    /* Assumption: writing the comms controller's TX registers and queueing. */
    .send_cycles = 20,
    /* Assumption: three DMA register writes plus the spin1 queue entry. */
    .dma_setup_cycles = 30,
    /* #8: a single SDRAM read takes >100 ns -> 20 cycles per word. */
    .sdram_word_cycles = 20,
    /* #8: DMA ~15 ns per word for one core. */
    .dma_ps_per_word = 15000,
    /* #5: >1 GB/s sustained per chip -> 4 ns per 32-bit word. */
    .sdram_ps_per_word = 4000,
    /* #26: 16-slot rings (15 usable) per priority, TX queue 16; #9: 16. */
    .task_queue_slots = 16,
    .tx_queue_slots = 16,
    .dma_queue_slots = 16,
    /* The reinjector: the router latches one dropped packet in its dump
     * registers and raises the monitor's FIQ; a second drop before the
     * monitor has read them only sets the overflow bit (that packet is
     * lost). The handler copies the packet into a 4096-entry queue and
     * re-sends it through the comms controller when the router's output
     * stage is empty. Cycle counts are assumptions: an FIQ entry and five
     * register reads, three register writes. */
    .monitor_dump_cycles = 40,
    .monitor_reinject_cycles = 20,
    .monitor_retry_cycles = 200,
    .monitor_queue_packets = 4096,
    /* §1: SVC 384 + IRQ 256 + FIQ 256 + SYS 1152 bytes of stacks. */
    .dtcm_stack_bytes = 384 + 256 + 256 + 1152,
    /* #13: 8 control + 32 key bits, + 32 payload bits. */
    .packet_bits_40 = 40,
    .packet_bits_72 = 72,
    /* #28: 0.35 W idle per chip, 0.034 W per busy core. */
    .chip_idle_watts = 0.35,
    .core_busy_watts = 0.034,
    /* #30: 25 pJ per bit routed. */
    .joules_per_bit = 25e-12,
};
