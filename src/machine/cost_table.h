/* The one cost table: every cycle, time and energy figure of the machine
 * that the kernels charge, the mapper plans with and the emulator keeps
 * time by. Plain constants, so a freestanding kernel image reads it as the
 * host does. Each row names its source in ../shared/SPINNAKER.md (#n, §n)
 * or in the calibration (docs/calibration.md: measured by make
 * bench-calibrate from the kernels' ARM968E-S instruction traces, ARM9E-S
 * timings); docs/cost-model.md lists them all. Change a row here and in
 * those docs together. */
#ifndef SPINDLE_MACHINE_COST_TABLE_H
#define SPINDLE_MACHINE_COST_TABLE_H

/* ---- Clocks, links, memories (the hardware) ---- */
#define SPD_COST_CORE_CYCLE_PS 5000u        /* #2: 200 MHz */
#define SPD_COST_ROUTER_CYCLE_PS 7519u      /* #15: 133 MHz */
#define SPD_COST_ROUTER_WAIT1_CYCLES 240u   /* #16, #17: SARK's wait1, no wait2 */
#define SPD_COST_ROUTER_INPUT_SLOTS 8u      /* assumption */
#define SPD_COST_LINK_PS_40BIT 200000u      /* #18: 5 M packets/s */
#define SPD_COST_LINK_PS_72BIT 333333u      /* #18: 3 M packets/s */
#define SPD_COST_DMA_PS_PER_WORD 15000u     /* #8 */
#define SPD_COST_SDRAM_PS_PER_WORD 4000u    /* #5: > 1 GB/s per chip */
#define SPD_COST_SDRAM_WORD_CYCLES 20u      /* #8: a CPU read > 100 ns */
#define SPD_COST_DTCM_STACK_BYTES (384u + 256u + 256u + 1152u) /* §1 */
#define SPD_COST_TASK_QUEUE_SLOTS 16u       /* #26 */
#define SPD_COST_TX_QUEUE_SLOTS 16u         /* #26 */
#define SPD_COST_DMA_QUEUE_SLOTS 16u        /* #9 */
#define SPD_COST_PACKET_BITS_40 40u         /* #13 */
#define SPD_COST_PACKET_BITS_72 72u
#define SPD_COST_CHIP_IDLE_WATTS 0.35       /* #28 */
#define SPD_COST_CORE_BUSY_WATTS 0.034      /* #28 */
#define SPD_COST_JOULES_PER_BIT 25e-12      /* #30 */
/* A 72-bit packet's link time in CPU cycles, rounded up. */
#define SPD_COST_LINK_CYCLES                                                                  \
  ((SPD_COST_LINK_PS_72BIT + SPD_COST_CORE_CYCLE_PS - 1u) / SPD_COST_CORE_CYCLE_PS)

/* ---- spin1 and the monitor (CPU cycles) ---- */
#define SPD_COST_EVENT_DISPATCH 75u /* measured: interrupt entry, handler, return */
#define SPD_COST_TASK_DISPATCH 80u /* measured: spin1's dispatcher and the shim's trampoline */
#define SPD_COST_SEND 30u /* measured: spd_core_send_mc, the controller's registers */
#define SPD_COST_DMA_SETUP 30u        /* three DMA registers and spin1's queue (assumption) */
#define SPD_COST_MONITOR_DUMP 40u     /* reinjector: dump FIQ (assumption) */
#define SPD_COST_MONITOR_REINJECT 20u /* reinjector: TX registers (assumption) */
#define SPD_COST_MONITOR_RETRY 200u   /* reinjector: output busy, look again (assumption) */
#define SPD_COST_MONITOR_QUEUE 4096u  /* FEC's PKT_QUEUE_SIZE */

/* ---- The kernels' work (CPU cycles) ---- */
#define SPD_COST_RX_QUEUE 60u /* measured: the packet FIQ queueing a packet, raising the drain */
#define SPD_COST_RECV_HANDLER 210u /* measured: a packet's partition, word, store and count */
#define SPD_COST_RECV_STEP 10u /* measured: a step of the binary search of the incoming table */
#define SPD_COST_DEDUP 6u          /* a packet's round compared, its bit tested and set */
#define SPD_COST_PUSH_JOB 450u /* measured: a partition's send queued, the sender scheduled */
#define SPD_COST_SEND_TASK 190u /* measured: the send task's job, resend note, next call */
#define SPD_COST_MAC_FIXED 14u /* measured: int16 x int16 into an int64 in memory */
#define SPD_COST_MAC_FLOAT 100u /* measured: soft-float multiply and add */
#define SPD_COST_CONV_MAC_FIXED 100u /* measured: a window MAC (a call per tap, 64-bit indices) */
#define SPD_COST_CONV_MAC_FLOAT 215u
#define SPD_COST_ADD_FIXED 30u /* measured: a partial sum into an int64 accumulator */
#define SPD_COST_ADD_FLOAT 40u     /* a soft-float add */
/* measured: an output value's stage (requantize, relu/linear/leaky, dropout, stage) */
#define SPD_COST_ACT_CHEAP 200u
#define SPD_COST_ACT_FIXED 250u    /* sigmoid, tanh, elu per value, fixed point */
#define SPD_COST_ACT_FLOAT 400u    /* ... in float */
#define SPD_COST_ACT_BWD_FIXED 10u /* an activation's derivative per value (the mapper) */
#define SPD_COST_ACT_BWD_FLOAT 80u
#define SPD_COST_SOFTMAX_FIXED 1000u /* measured: per output */
#define SPD_COST_SOFTMAX_FLOAT 1450u
#define SPD_COST_LOSS_LOG 400u      /* a sample's log (the mapper) */
#define SPD_COST_PER_VALUE 2u       /* a store or copy in a loop */
#define SPD_COST_FM_DECODE 12u      /* a feature-map position into (row, column, channel) */
#define SPD_COST_POOL_OP 4u         /* a pooling compare or add per window tap */
#define SPD_COST_INPUT_CONVERT 29u /* measured: an input byte through the source's table */
#define SPD_COST_PHILOX 80u         /* one Philox block (Dropout masks) */
#define SPD_COST_DROP_VALUE 8u      /* a value kept or dropped */
/* Optimizer steps per parameter at a batch boundary (with one Philox block
 * for the stochastic rounding in fixed point); momentum measured, the other
 * rules scaled from it. */
#define SPD_COST_UPDATE_SGD_FIXED 420u
#define SPD_COST_UPDATE_MOMENTUM_FIXED 620u
#define SPD_COST_UPDATE_ADAM_FIXED 1700u
#define SPD_COST_UPDATE_RMSPROP_FIXED 1400u
#define SPD_COST_UPDATE_SGD_FLOAT 300u
#define SPD_COST_UPDATE_MOMENTUM_FLOAT 700u
#define SPD_COST_UPDATE_ADAM_FLOAT 1700u
#define SPD_COST_UPDATE_RMSPROP_FLOAT 1400u
/* The end-to-end resend's watch (kernels/resend.c). */
#define SPD_COST_RESEND_ASK 20u    /* a request's payload formed and queued */
#define SPD_COST_RESEND_TICK 95u /* measured: the watch's timer callback */
#define SPD_COST_RESEND_CHECK 30u /* measured: one phase of one slot looked at */
/* A chip's router per packet in the pacing (CPU cycles): one for local
 * cores waits at worst until each has taken the one before, which is the
 * packet FIQ (its dispatch and queueing); one passing through takes a few
 * router cycles. */
#define SPD_COST_ROUTER_LOCAL (SPD_COST_EVENT_DISPATCH + SPD_COST_RX_QUEUE)
#define SPD_COST_ROUTER_PASS 3u

#endif
