/* What every Dense-pipeline kernel shares (docs/dense-on-machine.md): reading
 * its data specification (docs/dataspec.md), decoding received keys into
 * (slot, value, word), counting the packets of each sample slot, and a
 * paced sender that never overfills the TX queue. A role supplies three
 * hooks: store one received word, process a completed slot, and (sources)
 * react to nothing else. Kernels see only spindle/core.h and base/. */
#ifndef SPINDLE_KERNELS_KERNEL_COMMON_H
#define SPINDLE_KERNELS_KERNEL_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "base/tile_mem.h"
#include "machine/cost_table.h"
#include "spindle/core.h"
#include "spindle/dataspec.h"

/* The cycles the kernels charge: the one cost table, machine/cost_table.h
 * (docs/cost-model.md, docs/calibration.md). */

/* One numeric per image: the ARM builds (scripts/arm_build.py,
 * docs/calibration.md) define SPD_KC_NUMERIC as SPD_DS_FIXED or
 * SPD_DS_FLOAT, so SPD_KC_FIXED is a constant and the compiler drops the
 * other numeric's code (spd_kc_init refuses a data specification of the
 * other numeric). The host build carries both and reads each role's flag,
 * set from the header. */
#ifdef SPD_KC_NUMERIC
#define SPD_KC_FIXED(flag) (SPD_KC_NUMERIC == SPD_DS_FIXED)
/* On the chip work costs what it costs: the emulator's charges compile
 * away instead of costing a call each (the shim's spd_core_charge does
 * nothing). */
#define spd_core_charge(core, cycles) ((void)(core), (void)(cycles))
#else
#define SPD_KC_FIXED(flag) (flag)
#endif

typedef struct spd_kc spd_kc_t;

/** The divisions of a received key, made multiplications (no division in
 *  the packet path): ceil(2^32 / d) of an incoming partition's words per
 *  value and, for a feature map, of its values per row and channels, 0
 *  for a divisor of 1 (spd_kc_div). */
typedef struct spd_kc_recip {
  uint32_t words, per_row, chans;
} spd_kc_recip_t;

/** ceil(2^32 / @p d), the reciprocal spd_kc_div multiplies by; 0 for 1. */
static inline uint32_t spd_kc_recip(uint32_t d) { return d > 1u ? 0xFFFFFFFFu / d + 1u : 0u; }

/** @p n / d by its reciprocal @p m = spd_kc_recip(d) (0: d = 1). Exact
 *  when n < 2^32 / d: m * d = 2^32 + e with 0 <= e < d, so n * m / 2^32
 *  exceeds n / d by n * e / (d 2^32) < 1 / d, too little to reach the next
 *  integer. Keys address at most 2^16 words, far inside the bound. */
static inline uint32_t spd_kc_div(uint32_t n, uint32_t m) {
  return m ? (uint32_t)(((uint64_t)n * m) >> 32) : n;
}

/** Store word @p word of value @p value (the receiver's index) of slot
 *  @p slot, from incoming partition @p in. Runs inside the packet interrupt:
 *  keep it short. */
typedef void (*spd_kc_store_fn)(spd_kc_t *kc, uint32_t in, uint32_t slot, uint32_t value,
                                uint32_t word, uint32_t payload);
/* Phases of a slot: the forward values, the backward gradients and the
 * sources' credits are counted apart (a tile holds a sample's x while its
 * dZ arrives). */
#define SPD_KC_FORWARD 0u
#define SPD_KC_BACKWARD 1u
#define SPD_KC_CREDIT 2u
#define SPD_KC_BATCH 3u /* once per batch: conv dW sums and weight updates */

/** The phase a partition kind is counted in. */
static inline uint32_t spd_kc_phase_of(uint32_t kind) {
  if (kind == SPD_DS_KIND_DZ || kind == SPD_DS_KIND_DXPSUM)
    return SPD_KC_BACKWARD;
  if (kind == SPD_DS_KIND_DWSUM || kind == SPD_DS_KIND_WUPD)
    return SPD_KC_BATCH;
  return kind == SPD_DS_KIND_CREDIT ? SPD_KC_CREDIT : SPD_KC_FORWARD;
}

/** Every packet of phase @p phase of slot @p slot has arrived (a queued
 *  task). */
typedef void (*spd_kc_slot_fn)(spd_kc_t *kc, uint32_t slot, uint32_t phase);
/** The last packet of a queued send of @p data has gone (a role that
 *  reuses its staging buffers; optional). Runs in the send task. */
typedef void (*spd_kc_sent_fn)(spd_kc_t *kc, const uint32_t *data);
/** The resend timer ticked (a role that waits on something only the host
 *  changes, as the sink on its record ring; optional). */
typedef void (*spd_kc_tick_fn)(spd_kc_t *kc);


struct spd_kc {
  spd_core_t *core;
  uint32_t params;
  spd_ds_header_t h;
  spd_ds_config_t cfg;
  spd_ds_in_t *in;         /* the n_data partitions of values, then credits and requests */
  spd_ds_out_t *out;
  uint32_t n_data;
  uint32_t expected[SPD_KC_PHASES]; /* packets per slot and phase */
  uint32_t *count;         /* per phase and slot */
  /* Duplicates (a monitor re-sends a dropped packet to all its outputs,
   * docs/emulator.md): a key carries the round of its slot (one bit, the
   * slot's uses mod 2) next to the slot; a packet of the other round is a
   * late copy of the last one, one whose bit is set a copy of this one. */
  uint32_t slot_bits;      /* log2 slots */
  uint32_t *bit_of;        /* per incoming partition: its first bit in its phase */
  spd_kc_recip_t *recip;   /* per incoming partition: its divisors' reciprocals */
  uint32_t seen_words[SPD_KC_PHASES], seen_at[SPD_KC_PHASES]; /* per slot; offsets */
  uint32_t *seen;          /* per phase, slot: a bit per expected packet */
  uint8_t *round_in;       /* per phase and slot */
  uint8_t *round_out;      /* per outgoing partition and slot */
  uint32_t duplicates;     /* copies ignored */
  uint8_t *ready;          /* per phase and slot: complete, waiting for its turn */
  uint32_t next_slot[SPD_KC_PHASES]; /* the slot whose turn it is */
  /* Float partial sums held until their phase of the slot is complete, then
   * stored in partition-table order (spd_kc_held): NULL in fixed point
   * and on cores that sum nothing. */
  uint32_t *held_at;       /* per incoming partition: its first held word, or UINT32_MAX */
  uint32_t held_words;     /* per slot, forward and backward */
  uint32_t held_batch;     /* the batch phase's (slot 0 only) */
  uint32_t *held;          /* slots x held_words, then held_batch */
  /* The end-to-end resend (resend.c). */
  spd_kc_sent_rec_t *sent_rec; /* per outgoing partition and slot */
  uint32_t *last_count;    /* per phase and slot: the count at the last tick */
  uint8_t *stale;          /* per phase and slot: ticks without progress */
  uint32_t *asks;          /* requests' payloads while they wait to go */
  uint32_t next_ask, resends_queued;
  uint32_t nack_out;       /* the outgoing "nack" partition, or UINT32_MAX */
  const uint32_t *reused_lo, *reused_hi; /* a role's staging reused once sent */
  uint32_t done;           /* samples finished by the role */
  spd_kc_job_t *jobs;      /* ring */
  uint32_t jobs_cap, jobs_head, jobs_count;
  bool sending;
  /* Packets the interrupt queued for the receive task: (key, payload)
   * pairs, a ring of rx_slots (spd_kc_rx_slots). */
  uint32_t *rx;
  uint32_t rx_slots, rx_head, rx_count;
  bool rx_draining;
  /* Provenance (docs/provenance.md): the counters the kernel keeps and
   * writes into its region (spd_kc_provenance), and when its resend timer
   * last ticked (timer overruns). */
  spd_ds_prov_t prov;
  uint32_t last_tick_us;
  spd_kc_store_fn store;
  spd_kc_slot_fn slot_done;
  spd_kc_sent_fn sent;     /* NULL: none */
  spd_kc_tick_fn tick;     /* NULL: none */
  void *role;
};

/** Read the header, tables and configuration of the blob at @p params into
 *  DTCM, allocate the per-slot counters and a send ring holding every
 *  outgoing partition of every slot.
 *  @return 0, SPD_EINVAL (bad magic/version/role), SPD_ENOMEM (DTCM). */
int spd_kc_init(spd_kc_t *kc, spd_core_t *core, uint32_t params, uint32_t role);

/** DTCM of @p bytes, zeroed; NULL leaves the core's diagnostic. */
void *spd_kc_alloc(spd_kc_t *kc, uint32_t bytes);

/** Read @p bytes of the blob's data region from @p offset (charged). */
int spd_kc_read_data(spd_kc_t *kc, uint32_t offset, void *dst, uint32_t bytes);

/** Register the packet callback and start counting. */
int spd_kc_start(spd_kc_t *kc);

/** Queue every outgoing partition's share of @p words (the sender's values,
 *  @c words words each as the partitions say) for slot @p slot. The data
 *  must stay unchanged until sent. @return 0 or SPD_EQUEUE (ring full). */
int spd_kc_send_all(spd_kc_t *kc, uint32_t slot, const uint32_t *words);
/** Queue every outgoing partition of kind @p kind (its share of @p words). */
int spd_kc_send_kind(spd_kc_t *kc, uint32_t kind, uint32_t slot, const uint32_t *words);
/** The core's own value index of value @p i of a partition with value
 *  range start @p lo and feature-map addressing @p fm (dataspec.h). */
static inline uint32_t spd_kc_value_of(const spd_ds_fm_t *fm, uint32_t lo, uint32_t i) {
  if (!fm->width)
    return lo + i;
  uint32_t q = fm->first + i, per_row = fm->width * fm->chans;
  uint32_t r = q / per_row, rem = q - r * per_row, col = rem / fm->chans;
  return lo + r * fm->row_stride + col * fm->col_stride + (rem - col * fm->chans);
}

/** Copy outgoing partition @p out's values (each @c words words) from the
 *  core's own values @p src into @p dst, in the partition's order. */
void spd_kc_gather(spd_kc_t *kc, uint32_t out, const uint32_t *src, uint32_t *dst);

/** Queue every outgoing partition of kind @p kind, each gathered
 *  (spd_kc_gather) from the core's own values @p own into @p stage, which
 *  must stay unchanged until sent. @return the words staged, or UINT32_MAX
 *  when the send ring is full. */
uint32_t spd_kc_send_gathered(spd_kc_t *kc, uint32_t kind, uint32_t slot, const uint32_t *own,
                              uint32_t *stage);

/** Queue @p n packets of outgoing partition @p out from its value 0. */
int spd_kc_send(spd_kc_t *kc, uint32_t out, uint32_t slot, const uint32_t *data, uint32_t n);

/** A sample is finished: exits once every sample is and the ring drained. */
void spd_kc_sample_done(spd_kc_t *kc);

/** Training: the batch of sample @p seq (the run's sequence number) and
 *  whether it ends its batch. */
uint32_t spd_kc_batch_of(const spd_kc_t *kc, uint32_t seq);
bool spd_kc_batch_end(const spd_kc_t *kc, uint32_t seq);

/** Training: run the forwards held until their batch's weight update
 *  (@p pending[slot] set by the role's slot_done), in sample order, while
 *  the batch of sample @p *next_fwd is within the @p batches_done updated
 *  ones. Each goes through the role's slot_done (SPD_KC_FORWARD), whose
 *  forward advances *next_fwd. */
void spd_kc_release(spd_kc_t *kc, uint8_t *pending, const uint32_t *next_fwd,
                    uint32_t batches_done);

/** Start the timer of the end-to-end resend (spd_kc_start does, except for
 *  a source, whose first tick starts the run and then calls this). */
int spd_kc_watch(spd_kc_t *kc);

/* resend.c, for kernel_common.c */
int spd__kc_resend_init(spd_kc_t *kc);
/** A send of outgoing partition @p out for slot @p slot was queued. */
void spd__kc_resend_note(spd_kc_t *kc, uint32_t out, uint32_t slot, uint32_t key0,
                         const uint32_t *data, uint32_t n);
/** A job from a role's staging has gone. */
void spd__kc_resend_gone(spd_kc_t *kc, const spd_kc_job_t *job);
/** A receiver asked for the round whose first key is @p key0 (a task). */
void spd__kc_resend_asked(spd_core_t *core, uint32_t key0, uint32_t unused);
/** Queue @p n packets from @p data under @p key0 as a resend or request. */
int spd__kc_push_again(spd_kc_t *kc, uint32_t key0, const uint32_t *data, uint32_t n,
                       uint32_t pace);

/** Fail the core with @p code (its provenance written first). */
int spd_kc_fail(spd_kc_t *kc, int code);

/** Write the kernel's counters into its provenance region
 *  (spd_ds_config_t.prov_addr; none: nothing), @p final when it exits:
 *  the one place a kernel writes its provenance (charged SDRAM writes). */
void spd_kc_provenance(spd_kc_t *kc, bool final);
/** Count a callback of the kernel's (every one counts itself on entry). */
static inline void spd_kc_count_callback(spd_kc_t *kc) { kc->prov.callbacks++; }


/** y = f(z) in float for spd_fx_act_t @p kind (the dataspec's code in both
 *  numeric modes; softmax is the loss core's, SPD_DS_SOFTMAX);
 *  @p alpha is the leaky_relu slope or elu alpha. */
float spd_kc_act_float(int32_t kind, float alpha, float z);
/** dz = dy f'(z) in float from the kept output y. */
float spd_kc_act_grad_float(int32_t kind, float alpha, float y, float dy);
/** Cycles of one activation of spd_fx_act_t @p kind in fixed point or
 *  float per @p fixed. */
uint32_t spd_kc_act_cycles(bool fixed, int32_t kind);

static inline uint32_t spd_kc_f2u(float f) {
  union { float f; uint32_t u; } v = {.f = f};
  return v.u;
}
static inline float spd_kc_u2f(uint32_t u) {
  union { uint32_t u; float f; } v = {.u = u};
  return v.f;
}

#endif
