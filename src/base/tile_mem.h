/* What the kernels keep in DTCM, as size functions the kernels and the
 * partitioner (src/map/tile_cost.c, partition_conv.c, machine_graph.c) all
 * use, so the plan and the kernel cannot disagree (docs/dense-on-machine.md
 * and docs/conv-on-machine.md, "Memory per tile"): what every kernel's
 * spd_kc_init allocates for its partition tables, what a Dense tile kernel
 * (src/kernels/tile.c) allocates and what a convolution or pooling tile
 * kernel (src/kernels/conv.c) allocates. The kernels check their
 * allocations against these. Every allocation is
 * rounded up to 8 bytes as spd_core_dtcm_alloc does. Not counted: the
 * kernel's state struct, which the budget's runtime reserve covers. */
#ifndef SPINDLE_BASE_TILE_MEM_H
#define SPINDLE_BASE_TILE_MEM_H

#include <stdbool.h>
#include <stdint.h>

#include "spindle/dataspec.h"

/** Phases a kernel counts per slot (kernel_common.h: forward, backward,
 *  credit, batch). */
#define SPD_KC_PHASES 4u

/** A run of packets to send: key0 + i carries data[i] (kernel_common.h's
 *  send ring). */
typedef struct spd_kc_job {
  uint32_t key0;
  const uint32_t *data;
  uint32_t n, next, pace, phase;
  uint32_t again;          /* a resend or a request: no role's sent hook */
} spd_kc_job_t;

/** DTCM bytes of a job and of a resend record as the partitioner plans
 *  them and the kernels allocate them: the 64-bit host's sizes, so that
 *  the ARM968E-S image (4-byte pointers, smaller structs) allocates
 *  exactly what the host planned (docs/calibration.md). */
#define SPD_KC_JOB_BYTES 40u
#define SPD_KC_SENT_REC_BYTES 24u

/** Received packets queued between the packet interrupt (the FIQ) and
 *  the receive drain (kernel_common.c): at least this many, a power of
 *  two. */
#define SPD_KC_RX_SLOTS 16u

/** Does an incoming partition of kind @p kind (SPD_DS_KIND_*) carry
 *  values? Every kind but credits and requests does; the incoming table
 *  lists those first (map/dataspec.c), so a value's packet searches only
 *  them. */
static inline bool spd_kc_data_kind(uint32_t kind) {
  return kind != SPD_DS_KIND_CREDIT && kind != SPD_DS_KIND_NACK;
}

/** The receive ring of a core with @p n_data incoming partitions of
 *  values (every kind but credits and requests): room for one packet of
 *  each at once, and two more. The pacing (map/pacing.c) sends a core
 *  packets no faster than its drain takes them, and a sender core sends
 *  one partition at a time, so packets back up only when senders line
 *  up: at most one per partition, plus the one the drain is taking and
 *  the one the FIQ is queueing. Credits are staggered by the receive cost
 *  itself (spd__ds_phase_of) and requests only follow a loss. The ring
 *  never fills, and no packet waits at a router for longer than the FIQ
 *  takes (docs/calibration.md). */
static inline uint32_t spd_kc_rx_slots(uint32_t n_data) {
  uint32_t n = SPD_KC_RX_SLOTS;
  while (n < n_data + 2u && n < (1u << 30))
    n <<= 1;
  return n;
}

/** Jobs of the send ring kept for resends and requests
 *  (kernels/resend.c), beyond one per outgoing partition and slot. */
#define SPD_KC_RESEND_JOBS 4u

/** What the end-to-end resend keeps per outgoing partition and slot: the
 *  last round's first key and data (kernels/resend.c). */
typedef struct spd_kc_sent_rec {
  uint32_t key0;
  const uint32_t *data;
  uint32_t n, valid;
} spd_kc_sent_rec_t;

/** DTCM bytes spd_kc_init allocates for a core with @p n_in incoming and
 *  @p n_out outgoing partition table entries (@p n_data of the incoming
 *  carry values: spd_kc_rx_slots), @p slots samples in flight
 *  and @p packets_in packets received per slot over every phase: the two
 *  tables, the slot counters, the send ring, and what ignores duplicates
 *  (a bit per expected packet and slot, the round of each phase's slot
 *  and each outgoing partition's slot); and the float partial sums held until
 *  their slot's phase is complete (spd_kc_held): @p held_in words per slot
 *  of the forward and backward phases, @p held_batch words of the batch
 *  phase (which uses slot 0 only), with each partition's place in them. */
uint64_t spd_kc_init_dtcm(uint32_t n_in, uint32_t n_data, uint32_t n_out, uint32_t slots,
                          uint64_t packets_in, uint64_t held_in, uint64_t held_batch);

/** Does a float kernel hold the values of its @p partitions incoming
 *  partitions of kind @p kind (SPD_DS_KIND_*) until its slot has them all?
 *  Partial sums from several senders go into one accumulator, and float
 *  addition is not associative: added as they arrive, the sum would
 *  depend on the network's timing. Held, they are added in the order of
 *  the partition table (by key) once all have arrived
 *  (docs/dense-on-machine.md, "Float sums in a fixed order"). Two
 *  contributions need no holding: 0 + a + b is b + a + 0 exactly, float
 *  addition being commutative. Fixed point adds integers exactly and
 *  holds nothing. */
static inline bool spd_kc_held(uint32_t kind, uint32_t partitions) {
  return partitions > 2 &&
         (kind == SPD_DS_KIND_PSUM || kind == SPD_DS_KIND_DXPSUM || kind == SPD_DS_KIND_DWSUM);
}

/** Words of the duplicate bitmap of one slot for @p packets_in packets
 *  over every phase: an upper bound on the sum of each phase's words. */
static inline uint64_t spd_kc_seen_words(uint64_t packets_in) {
  return packets_in / 32u + SPD_KC_PHASES;
}

/* Optimizer state bits (spd_ds_config_t.state). Fixed point: a int32 (SGD
 * velocity, Adam m, RMSprop momentum), b int64 (Adam v, RMSprop mean
 * square), c int32 (RMSprop centered mean). Float: a = m, b = v, float. */
#define SPD_TM_STATE_A 1u
#define SPD_TM_STATE_B 2u
#define SPD_TM_STATE_C 4u

/** The state bits of an optimizer (SGD when neither @p adam nor
 *  @p rmsprop). Float keeps m (and v for Adam) only. */
uint32_t spd_tile_mem_state(bool fixed, bool adam, bool rmsprop, bool momentum, bool centered);

/** One Dense tile as its kernel sees it. */
typedef struct spd_tile_mem {
  uint32_t rows, cols, slots;
  bool fixed;
  bool full;         /* reduces itself (R = 1) */
  bool last;         /* feeds the loss core */
  bool bias;         /* holds the bias (a full tile of a layer with one) */
  bool streamed;     /* weights stay in SDRAM, read in 4 KB chunks */
  bool train;
  bool split;        /* training, fixed: master, slabs and gradient in SDRAM
                        (one row of each in DTCM) */
  uint32_t state;    /* SPD_TM_STATE_* */
  uint32_t dxstage;  /* training: words per slot of the dX partial sums
                        staged for a feature map's partitions, else 0 */
} spd_tile_mem_t;

/** Bytes of the SDRAM chunk a streamed tile reads its weights through. */
#define SPD_TM_STREAM_BYTES 4096u

/** DTCM bytes the tile kernel allocates after spd_kc_init. */
uint64_t spd_tile_mem_dtcm(const spd_tile_mem_t *t);

/** SDRAM bytes the tile kernel allocates (split training state). */
uint64_t spd_tile_mem_sdram(const spd_tile_mem_t *t);

/** One convolution or pooling tile as its kernel (src/kernels/conv.c) sees
 *  it; a pooling fused into a convolution is the convolution tile's. */
typedef struct spd_conv_mem {
  bool fixed, train;
  bool conv;         /* a convolution tile (else a pooling tile) */
  uint32_t pool;     /* the pooling it computes: SPD_DS_POOL_* */
  uint32_t pool_taps; /* an average pooling's k_h k_w (its 1/count table) */
  bool bias;         /* the convolution has a bias */
  bool owner;        /* training: tile (0, j), which updates its channel block */
  bool others;       /* the owner receives the other row blocks' dW (R > 1) */
  uint32_t slots;
  uint32_t b;        /* channels */
  uint32_t n_in;     /* input values per slot (halo rows, every column, its
                        input channels) */
  uint32_t n_conv;   /* convolution outputs (a convolution tile) */
  uint32_t n_out;    /* values it sends per slot (after the pooling) */
  uint32_t n_w;      /* weights of its kernel slice */
  uint32_t stage;    /* values of its outgoing y partitions per slot (the
                        rows some reader reads) */
  uint32_t dxstage;  /* training: words of its outgoing dX partitions per
                        sample, 0 for a first layer */
  uint32_t state;    /* SPD_TM_STATE_* */
} spd_conv_mem_t;

/** Samples whose dX partitions a conv or pool tile stages at once (at most
 *  the samples in flight): a sample's backward waits until the staging
 *  of the sample this many before it has been sent. */
#define SPD_CONV_DX_STAGES 2u

/** DTCM bytes the conv or pool tile kernel allocates after spd_kc_init. */
uint64_t spd_conv_mem_dtcm(const spd_conv_mem_t *t);

#endif
