/* The emulator's cost model: the timing and energy constants of the one
 * cost table (machine/cost_table.h, which names each row's source; the
 * arithmetic is in docs/cost-model.md) as the struct the emulator reads. */
#ifndef SPINDLE_EMU_COST_MODEL_H
#define SPINDLE_EMU_COST_MODEL_H

#include <stdint.h>

typedef struct spd_cost_model {
  /* Clocks, as picoseconds per cycle. */
  uint64_t core_cycle_ps;        /* 200 MHz CPU (#2) */
  uint64_t router_cycle_ps;      /* 133 MHz router (#15) */
  /* Router. */
  uint32_t router_wait1_cycles;  /* blocked packet dropped after (#16, #17) */
  uint32_t router_input_slots;   /* packets buffered at a router's inputs (assumption) */
  /* Links: time one packet occupies a link direction (#18). */
  uint64_t link_ps_40bit;        /* 5 M packets/s */
  uint64_t link_ps_72bit;        /* 3 M packets/s */
  /* Core event costs, in CPU cycles. */
  uint32_t event_dispatch_cycles; /* interrupt + dispatch per event (§7) */
  uint32_t task_dispatch_cycles; /* taking a queued callback off its queue (assumption) */
  uint32_t send_cycles;          /* spd_core_send_mc (assumption) */
  uint32_t dma_setup_cycles;     /* programming one DMA (assumption) */
  uint32_t sdram_word_cycles;    /* CPU read/write of one SDRAM word (#8) */
  /* DMA and SDRAM bandwidth. */
  uint64_t dma_ps_per_word;      /* one core's DMA engine (#8) */
  uint64_t sdram_ps_per_word;    /* the chip's SDRAM, shared by its cores (#5) */
  /* Queues (#9, #26). */
  uint32_t task_queue_slots;     /* per priority; one slot stays empty */
  uint32_t tx_queue_slots;
  uint32_t dma_queue_slots;
  /* The monitor core's reinjector (SPINNAKER.md "Dump registers /
   * reinjection"; SpiNNFrontEndCommon extra_monitor_support.c). */
  uint32_t monitor_dump_cycles;     /* dump FIQ: read the registers, queue (assumption) */
  uint32_t monitor_reinject_cycles; /* write the comms controller's TX registers (assumption) */
  uint32_t monitor_retry_cycles;    /* router output stage busy: look again (assumption) */
  uint32_t monitor_queue_packets;   /* FEC's PKT_QUEUE_SIZE 4096 (one slot stays empty) */
  /* DTCM reserved for the spin1 mode stacks (§1 Memories). */
  uint32_t dtcm_stack_bytes;
  /* Packet sizes in bits (#13). */
  uint32_t packet_bits_40;
  uint32_t packet_bits_72;
  /* Energy (#28, #30). */
  double chip_idle_watts;
  double core_busy_watts;
  double joules_per_bit;
} spd_cost_model_t;

/** The SpiNNaker1 cost model (read-only). */
extern const spd_cost_model_t spd__cost_model;

#endif
