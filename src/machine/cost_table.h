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
/* #18, §4: a link between boards goes through the boards' FPGAs (spiNNlink,
 * SATA cables) and is about 50 % slower: half the packet rate. */
#define SPD_COST_LINK_PS_40BIT_FPGA 400000u
#define SPD_COST_LINK_PS_72BIT_FPGA 666667u
#define SPD_COST_DMA_PS_PER_WORD 15000u     /* #8 */
#define SPD_COST_SDRAM_PS_PER_WORD 4000u    /* #5: > 1 GB/s per chip */
#define SPD_COST_SDRAM_WORD_CYCLES 20u      /* #8: a CPU read > 100 ns */
#define SPD_COST_DTCM_STACK_BYTES (384u + 256u + 256u + 1152u) /* §1 */
#define SPD_COST_TASK_QUEUE_SLOTS 16u       /* #26 */
#define SPD_COST_TX_QUEUE_SLOTS 16u         /* #26 */
#define SPD_COST_DMA_QUEUE_SLOTS 16u        /* #9 */
#define SPD_COST_PACKET_BITS_40 40u         /* #13 */
#define SPD_COST_PACKET_BITS_72 72u
#define SPD_COST_CHIP_IDLE_WATTS 0.35       /* #28: a chip outside a board (a bare torus) */
/* #29: a bare SpiNN-5 board idle, measured: its 48 chips' 16.8 W and the
 * rest of the board (FPGAs, BMP, regulators, Ethernet) */
#define SPD_COST_BOARD_IDLE_WATTS 26.84
/* A SpiNN-3 board idle, measured for an hour (SpiNNMachine version_3.py
 * WATTS_FOR_4_CHIP_BOARD_IDLE_COST) */
#define SPD_COST_SPINN3_IDLE_WATTS 3.56
#define SPD_COST_CORE_BUSY_WATTS 0.034      /* #28, #29: (59.38 - 31.88) W / 806 busy cores */
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
/* measured: a held float value stored when its slot's phase is complete
 * (its index, the call to the role's store; the store charges its add) */
#define SPD_COST_HELD_VALUE 110u
#define SPD_COST_PUSH_JOB 450u /* measured: a partition's send queued, the sender scheduled */
#define SPD_COST_SEND_TASK 190u /* measured: the send task's job, resend note, next call */
/* measured: a dense forward MAC, two rows per pass (an int64 accumulator
 * loaded and stored once per two SMLALs; was 14 with one row per pass) */
#define SPD_COST_MAC_FIXED 9u
/* measured: a dense backward MAC (the gradient into an int64 in memory,
 * dX into a register pair) */
#define SPD_COST_MAC_BWD_FIXED 17u
#define SPD_COST_MAC_ROW_FIXED 20u /* measured: a dense forward row's (or pair's) setup */
#define SPD_COST_MAC_FLOAT 100u /* measured: soft-float multiply and add */
/* A window tile's convolution (conv.c forward_cycles): per window tap
 * inside the input (its offsets), per tap and input channel (the pass over
 * the output channels), per MAC (fixed: two input channels per pass, the
 * int64 accumulator loaded and stored once per two SMLALs). */
#define SPD_COST_CONV_TAP 60u
#define SPD_COST_CONV_CHAN 15u
#define SPD_COST_CONV_MAC_FIXED 13u
#define SPD_COST_CONV_MAC_FLOAT 100u
/* measured: a window tile's backward MAC (gradient or dX, int64 in memory,
 * a tap's offsets per MAC) */
#define SPD_COST_CONV_MAC_BWD_FIXED 100u
#define SPD_COST_CONV_MAC_BWD_FLOAT 130u
/* a window tile's dY value (rounded to int16, Dropout) before its backward */
#define SPD_COST_DY_VALUE 60u
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
#define SPD_COST_FM_DECODE 40u      /* a feature-map position into (row, column, channel) */
#define SPD_COST_POOL_TAP 60u       /* a pooling window tap's offset, once for all channels */
#define SPD_COST_POOL_OP 12u        /* a pooling compare or add per window tap and channel */
#define SPD_COST_POOL_BWD_OP 4u     /* a pooling backward's share per output and window tap */
#define SPD_COST_INPUT_CONVERT 24u /* measured: an input byte through the source's table */
#define SPD_COST_PHILOX 80u         /* one Philox block (Dropout masks) */
#define SPD_COST_DROP_VALUE 8u      /* a value kept or dropped */
/* Optimizer steps per parameter at a batch boundary (with one Philox block
 * for the stochastic rounding in fixed point); momentum measured, the other
 * rules scaled from it. */
#define SPD_COST_UPDATE_SGD_FIXED 420u
#define SPD_COST_UPDATE_MOMENTUM_FIXED 620u
#define SPD_COST_UPDATE_ADAM_FIXED 1700u
#define SPD_COST_UPDATE_RMSPROP_FIXED 1400u
/* float: momentum measured (two soft-float multiplies and adds per
 * weight, no Philox); SGD one of each; Adam and RMSprop add a soft
 * sqrtf and a division (estimated from the operation count) */
#define SPD_COST_UPDATE_SGD_FLOAT 90u
#define SPD_COST_UPDATE_MOMENTUM_FLOAT 180u
#define SPD_COST_UPDATE_ADAM_FLOAT 1000u
#define SPD_COST_UPDATE_RMSPROP_FLOAT 800u
/* The end-to-end resend's watch (kernels/resend.c). */
#define SPD_COST_RESEND_ASK 20u    /* a request's payload formed and queued */
#define SPD_COST_RESEND_TICK 95u /* measured: the watch's timer callback */
#define SPD_COST_RESEND_CHECK 30u /* measured: one phase of one slot looked at */
/* measured: the provenance region's fields set and copied to SDRAM (its
 * words' SDRAM time is charged apart), each resend tick and at the end */
#define SPD_COST_PROVENANCE 170u
/* A chip's router per packet in the pacing (CPU cycles): one for local
 * cores waits at worst until each has taken the one before, which is the
 * packet FIQ (its dispatch and queueing); one passing through takes a few
 * router cycles. */
#define SPD_COST_ROUTER_LOCAL (SPD_COST_EVENT_DISPATCH + SPD_COST_RX_QUEUE)
#define SPD_COST_ROUTER_PASS 3u

#endif
