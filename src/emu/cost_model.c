/* The emulator's view of the one cost table (machine/cost_table.h, where
 * each row names its source; docs/cost-model.md). */
#include "emu/cost_model.h"

#include "machine/cost_table.h"

const spd_cost_model_t spd__cost_model = {
    .core_cycle_ps = SPD_COST_CORE_CYCLE_PS,
    .router_cycle_ps = SPD_COST_ROUTER_CYCLE_PS,
    .router_wait1_cycles = SPD_COST_ROUTER_WAIT1_CYCLES,
    .router_input_slots = SPD_COST_ROUTER_INPUT_SLOTS,
    .link_ps_40bit = SPD_COST_LINK_PS_40BIT,
    .link_ps_72bit = SPD_COST_LINK_PS_72BIT,
    .event_dispatch_cycles = SPD_COST_EVENT_DISPATCH,
    .task_dispatch_cycles = SPD_COST_TASK_DISPATCH,
    .send_cycles = SPD_COST_SEND,
    .dma_setup_cycles = SPD_COST_DMA_SETUP,
    .sdram_word_cycles = SPD_COST_SDRAM_WORD_CYCLES,
    .dma_ps_per_word = SPD_COST_DMA_PS_PER_WORD,
    .sdram_ps_per_word = SPD_COST_SDRAM_PS_PER_WORD,
    .task_queue_slots = SPD_COST_TASK_QUEUE_SLOTS,
    .tx_queue_slots = SPD_COST_TX_QUEUE_SLOTS,
    .dma_queue_slots = SPD_COST_DMA_QUEUE_SLOTS,
    .monitor_dump_cycles = SPD_COST_MONITOR_DUMP,
    .monitor_reinject_cycles = SPD_COST_MONITOR_REINJECT,
    .monitor_retry_cycles = SPD_COST_MONITOR_RETRY,
    .monitor_queue_packets = SPD_COST_MONITOR_QUEUE,
    .dtcm_stack_bytes = SPD_COST_DTCM_STACK_BYTES,
    .packet_bits_40 = SPD_COST_PACKET_BITS_40,
    .packet_bits_72 = SPD_COST_PACKET_BITS_72,
    .chip_idle_watts = SPD_COST_CHIP_IDLE_WATTS,
    .core_busy_watts = SPD_COST_CORE_BUSY_WATTS,
    .joules_per_bit = SPD_COST_JOULES_PER_BIT,
};
