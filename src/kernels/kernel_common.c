#include "kernels/kernel_common.h"

#include <math.h>
#include <string.h>

#include "base/recovery_switch.h"
#include "spindle/error.h"
#include "spindle/fixed_math.h"

/* A packet's send costs the queued call's dispatch, the send task's own
 * work and the send (docs/cost-model.md): a partition's pace longer than
 * that is charged as the rest of its time. */
#define SEND_OVERHEAD (SPD_COST_TASK_DISPATCH + SPD_COST_SEND_TASK + SPD_COST_SEND)
#define SEND_PRIORITY 2
#define SLOT_PRIORITY 1

void *spd_kc_alloc(spd_kc_t *kc, uint32_t bytes) {
  return spd_core_dtcm_alloc(kc->core, bytes ? bytes : 4);
}

void spd_kc_release(spd_kc_t *kc, uint8_t *pending, const uint32_t *next_fwd,
                    uint32_t batches_done) {
  uint32_t slot = *next_fwd & (kc->h.slots - 1);
  while (pending[slot] && spd_kc_batch_of(kc, *next_fwd) <= batches_done) {
    pending[slot] = 0;
    kc->slot_done(kc, slot, SPD_KC_FORWARD);
    slot = *next_fwd & (kc->h.slots - 1);
  }
}

int spd_kc_fail(spd_kc_t *kc, int code) {
  spd_kc_provenance(kc, true);
  spd_core_exit(kc->core, code);
  return code;
}

/* The region is written whole, the magic set: the host reads it at the
 * end of the run (or when it stopped the run), as SpiNNFrontEndCommon's
 * host reads each core's provenance region. Not inlined: it is rare, and
 * the images' ITCM is tight. */
__attribute__((noinline)) void spd_kc_provenance(spd_kc_t *kc, bool final) {
  if (!kc->cfg.prov_addr)
    return;
  kc->prov.magic = SPD_DS_PROV_MAGIC;
  kc->prov.writes++;
  kc->prov.final = final;
  kc->prov.samples_done = kc->done;
  kc->prov.duplicates = kc->duplicates;
  (void)spd_core_sdram_write(kc->core, kc->cfg.prov_addr, &kc->prov, sizeof kc->prov);
}

int spd_kc_read_data(spd_kc_t *kc, uint32_t offset, void *dst, uint32_t bytes) {
  if (!bytes)
    return 0;
  if ((uint64_t)offset + bytes > kc->h.data_bytes)
    return SPD_EINVAL;
  return spd_core_sdram_read(kc->core, kc->params + kc->h.data_offset + offset, dst, bytes);
}

/* Float partial sums from several senders (spd_kc_held) wait in
 * kc->held until their phase of the slot is complete and are then stored
 * in partition-table order, so every float sum is the same whatever order
 * the network delivered them in. Fixed-point sums are exact and need it
 * not; the fixed ARM images compile it out. */
static int held_init(spd_kc_t *kc) {
  if (SPD_KC_FIXED(kc->h.numeric == SPD_DS_FIXED))
    return 0;
  uint32_t senders[SPD_DS_KIND_NACK + 1] = {0}, words[2] = {0, 0};
  for (uint32_t i = 0; i < kc->h.n_in; i++)
    if (kc->in[i].kind <= SPD_DS_KIND_NACK)
      senders[kc->in[i].kind]++;
  for (uint32_t pass = 0; pass < 2; pass++) {
    words[0] = words[1] = 0;
    for (uint32_t i = 0; i < kc->h.n_in; i++) {
      const spd_ds_in_t *in = &kc->in[i];
      bool batch = spd_kc_phase_of(in->kind) == SPD_KC_BATCH;
      bool held = in->kind <= SPD_DS_KIND_NACK && spd_kc_held(in->kind, senders[in->kind]);
      if (pass)
        kc->held_at[i] = !held ? UINT32_MAX
                               : batch ? kc->h.slots * kc->held_words + words[1] : words[0];
      if (held)
        words[batch] += in->n * in->words;
    }
    if (pass || (!words[0] && !words[1]))
      break;
    kc->held_at = spd_kc_alloc(kc, kc->h.n_in * 4u);
    kc->held = spd_kc_alloc(kc, (words[0] * kc->h.slots + words[1]) * 4u);
    if (!kc->held_at || !kc->held)
      return SPD_ENOMEM;
    kc->held_words = words[0];
    kc->held_batch = words[1];
  }
  return 0;
}

/* Where value @p j of incoming partition @p i of slot @p slot is held
 * (the batch phase has one slot). */
static uint32_t *held_word(spd_kc_t *kc, uint32_t i, uint32_t slot, uint32_t j) {
  bool batch = spd_kc_phase_of(kc->in[i].kind) == SPD_KC_BATCH;
  return kc->held + kc->held_at[i] + (batch ? 0 : slot * kc->held_words) + j;
}

/* Store the held sums of phase @p phase of slot @p slot, partition by
 * partition in table order, each in value order. */
static void held_flush(spd_kc_t *kc, uint32_t slot, uint32_t phase) {
  uint32_t words = 0;
  for (uint32_t i = 0; i < kc->h.n_in; i++) {
    const spd_ds_in_t *in = &kc->in[i];
    if (kc->held_at[i] == UINT32_MAX || spd_kc_phase_of(in->kind) != phase)
      continue;
    const uint32_t *held = held_word(kc, i, slot, 0);
    for (uint32_t j = 0; j < in->n * in->words; j++)
      kc->store(kc, i, slot, spd_kc_value_of(&in->fm, in->lo, j / in->words), j % in->words,
                held[j]);
    words += in->n * in->words;
  }
  spd_core_charge(kc->core, words * SPD_COST_PER_VALUE);
}

/* Each phase's expected packets and each incoming partition's first bit
 * in its phase's bitmap; the bitmaps, the rounds, the slots waiting for
 * their turn (slot_task) and the resend's state. */
static int dedup_init(spd_kc_t *kc) {
  uint32_t S = kc->h.slots, total = 0, at = 0;
  while ((1u << kc->slot_bits) < S)
    kc->slot_bits++;
  kc->bit_of = spd_kc_alloc(kc, kc->h.n_in * 4u);
  kc->recip = spd_kc_alloc(kc, kc->h.n_in * (uint32_t)sizeof *kc->recip);
  if (!kc->bit_of || !kc->recip)
    return SPD_ENOMEM;
  for (uint32_t i = 0; i < kc->h.n_in; i++) {
    const spd_ds_fm_t *fm = &kc->in[i].fm;
    kc->recip[i] = (spd_kc_recip_t){spd_kc_recip(kc->in[i].words),
                                    spd_kc_recip(fm->width * fm->chans), spd_kc_recip(fm->chans)};
    uint32_t ph = spd_kc_phase_of(kc->in[i].kind);
    kc->bit_of[i] = kc->expected[ph];
    if (kc->in[i].kind != SPD_DS_KIND_NACK) /* requests are not counted */
      kc->expected[ph] += kc->in[i].n * kc->in[i].words;
  }
  for (uint32_t ph = 0; ph < SPD_KC_PHASES; ph++) {
    total += kc->expected[ph];
    kc->seen_words[ph] = (kc->expected[ph] + 31u) / 32u;
    kc->seen_at[ph] = at;
    at += kc->seen_words[ph] * S;
  }
  /* The same bound the partitioner counted (spd_kc_seen_words). */
  kc->seen = spd_kc_alloc(kc, (uint32_t)spd_kc_seen_words(total) * S * 4u);
  kc->round_in = spd_kc_alloc(kc, SPD_KC_PHASES * S);
  kc->round_out = spd_kc_alloc(kc, kc->h.n_out * S);
  kc->ready = spd_kc_alloc(kc, SPD_KC_PHASES * S);
  if (!kc->seen || !kc->round_in || !kc->round_out || !kc->ready)
    return SPD_ENOMEM;
  int err = held_init(kc);
  return err ? err : spd__kc_resend_init(kc);
}

/* Incoming partitions of values: every kind but credits and requests. */
static uint32_t data_partitions_in(const spd_kc_t *kc) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < kc->h.n_in; i++)
    n += spd_kc_data_kind(kc->in[i].kind);
  return n;
}

static int read_tables(spd_kc_t *kc) {
  kc->in = spd_kc_alloc(kc, kc->h.n_in * (uint32_t)sizeof *kc->in);
  kc->out = spd_kc_alloc(kc, kc->h.n_out * (uint32_t)sizeof *kc->out);
  kc->count = spd_kc_alloc(kc, SPD_KC_PHASES * kc->h.slots * (uint32_t)sizeof *kc->count);
  kc->jobs = spd_kc_alloc(kc, kc->jobs_cap * SPD_KC_JOB_BYTES);
  if (!kc->in || !kc->out || !kc->count || !kc->jobs)
    return SPD_ENOMEM;
  int err = 0;
  if (kc->h.n_in)
    err = spd_core_sdram_read(kc->core, kc->params + kc->h.in_offset, kc->in,
                              kc->h.n_in * (uint32_t)sizeof *kc->in);
  kc->n_data = data_partitions_in(kc);
  for (uint32_t i = 0; !err && i < kc->h.n_in; i++)
    if (spd_kc_data_kind(kc->in[i].kind) != (i < kc->n_data))
      return SPD_EINVAL; /* the values' partitions first (map/dataspec.c) */
  kc->rx_slots = spd_kc_rx_slots(kc->n_data);
  kc->rx = spd_kc_alloc(kc, kc->rx_slots * 8u);
  if (!err && !kc->rx)
    return SPD_ENOMEM;
  if (!err && kc->h.n_out)
    err = spd_core_sdram_read(kc->core, kc->params + kc->h.out_offset, kc->out,
                              kc->h.n_out * (uint32_t)sizeof *kc->out);
  if (!err)
    err = spd_core_sdram_read(kc->core, kc->params + kc->h.config_offset, &kc->cfg,
                              sizeof kc->cfg);
  return err ? err : dedup_init(kc);
}

int spd_kc_init(spd_kc_t *kc, spd_core_t *core, uint32_t params, uint32_t role) {
  *kc = (spd_kc_t){.core = core, .params = params};
  int err = spd_core_sdram_read(core, params, &kc->h, sizeof kc->h);
  if (err)
    return err;
  if (kc->h.magic != SPD_DS_MAGIC || kc->h.version != SPD_DS_VERSION || kc->h.role != role ||
      kc->h.slots == 0 || (kc->h.slots & (kc->h.slots - 1)))
    return SPD_EINVAL;
#ifdef SPD_KC_NUMERIC
  if (kc->h.numeric != SPD_KC_NUMERIC)
    return SPD_EINVAL; /* an image of the other numeric */
#endif
  spd_core_set_state(core, kc);
  kc->jobs_cap = kc->h.n_out * kc->h.slots + 1u + SPD_KC_RESEND_JOBS;
  uint32_t free0 = spd_core_dtcm_free(core);
  if ((err = read_tables(kc)))
    return err;
  /* The partitioner counted these bytes with the same function. */
  uint64_t packets_in = 0;
  for (uint32_t ph = 0; ph < SPD_KC_PHASES; ph++)
    packets_in += kc->expected[ph];
  return free0 - spd_core_dtcm_free(core) ==
                 spd_kc_init_dtcm(kc->h.n_in, data_partitions_in(kc), kc->h.n_out, kc->h.slots,
                                  packets_in,
                                  kc->held_words, kc->held_batch)
             ? 0
             : SPD_EINVAL;
}

/* ------------------------------------------------------------- sending */

static void maybe_exit(spd_kc_t *kc) {
  if (kc->done >= kc->h.n_samples && kc->jobs_count == 0) {
    spd_kc_provenance(kc, true);
    spd_core_exit(kc->core, 0);
  }
}

/* One packet per call at the head job's pace; reschedules itself while
 * packets wait, so the TX queue holds at most one or two. */
static void send_task(spd_core_t *core, uint32_t a0, uint32_t a1) {
  (void)a0;
  (void)a1;
  spd_kc_t *kc = spd_core_get_state(core);
  spd_kc_count_callback(kc);
  spd_kc_job_t *job = &kc->jobs[kc->jobs_head];
  if (job->phase) {
    spd_core_charge(core, job->phase);
    job->phase = 0;
  } else if (spd_core_tx_free(core) > 0) {
    if (spd_core_send_mc(core, job->key0 + job->next, job->data[job->next], true) == 0)
      kc->prov.packets_out++;
    job->next++;
  }
  spd_core_charge(core, SPD_COST_SEND_TASK +
                            (job->pace > SEND_OVERHEAD ? job->pace - SEND_OVERHEAD : 0u));
  if (job->next == job->n) {
    kc->jobs_head = (kc->jobs_head + 1) % kc->jobs_cap;
    kc->jobs_count--;
    if (job->again)
      kc->resends_queued--;
    else if (kc->sent) {
      spd__kc_resend_gone(kc, job);
      kc->sent(kc, job->data);
    }
  }
  if (kc->jobs_count == 0) {
    kc->sending = false;
    maybe_exit(kc);
    return;
  }
  if (spd_core_schedule_callback(core, send_task, 0, 0, SEND_PRIORITY))
    spd_kc_fail(kc, SPD_EQUEUE);
}

static int push_job(spd_kc_t *kc, uint32_t key0, const uint32_t *data, uint32_t n,
                    uint32_t pace, uint32_t phase, uint32_t again) {
  if (!n)
    return 0;
  /* The ring holds one job per partition and slot, and SPD_KC_RESEND_JOBS
   * more for resends and requests, which never take the others' room. */
  if (kc->jobs_count == kc->jobs_cap ||
      (again && kc->resends_queued == SPD_KC_RESEND_JOBS))
    return SPD_EQUEUE;
  kc->resends_queued += again != 0;
  kc->jobs[(kc->jobs_head + kc->jobs_count) % kc->jobs_cap] =
      (spd_kc_job_t){key0, data, n, 0, pace, phase, again};
  kc->jobs_count++;
  spd_core_charge(kc->core, SPD_COST_PUSH_JOB);
  if (!kc->sending) {
    kc->sending = true;
    return spd_core_schedule_callback(kc->core, send_task, 0, 0, SEND_PRIORITY);
  }
  return 0;
}

int spd_kc_send(spd_kc_t *kc, uint32_t out, uint32_t slot, const uint32_t *data, uint32_t n) {
  const spd_ds_out_t *o = &kc->out[out];
  uint8_t *round = &kc->round_out[out * kc->h.slots + slot];
  uint32_t tag = ((uint32_t)*round << kc->slot_bits) | slot;
  uint32_t key0 = o->base + (tag << o->value_bits);
  int err = push_job(kc, key0, data, n, o->pace, o->phase, 0);
  if (!err && n) {
    *round ^= 1u;
    spd__kc_resend_note(kc, out, slot, key0, data, n);
  }
  return err;
}

int spd__kc_push_again(spd_kc_t *kc, uint32_t key0, const uint32_t *data, uint32_t n,
                       uint32_t pace) {
  return push_job(kc, key0, data, n, pace, 0, 1);
}

int spd_kc_send_all(spd_kc_t *kc, uint32_t slot, const uint32_t *words) {
  for (uint32_t p = 0; p < kc->h.n_out; p++) {
    const spd_ds_out_t *o = &kc->out[p];
    if (o->kind == SPD_DS_KIND_NACK)
      continue;
    int err = spd_kc_send(kc, p, slot, words + (uint64_t)o->lo * o->words, o->n * o->words);
    if (err)
      return err;
  }
  return 0;
}

int spd_kc_send_kind(spd_kc_t *kc, uint32_t kind, uint32_t slot, const uint32_t *words) {
  for (uint32_t p = 0; p < kc->h.n_out; p++) {
    const spd_ds_out_t *o = &kc->out[p];
    if (o->kind != kind)
      continue;
    int err = spd_kc_send(kc, p, slot, words + (uint64_t)o->lo * o->words, o->n * o->words);
    if (err)
      return err;
  }
  return 0;
}

void spd_kc_gather(spd_kc_t *kc, uint32_t out, const uint32_t *src, uint32_t *dst) {
  const spd_ds_out_t *o = &kc->out[out];
  for (uint32_t i = 0; i < o->n; i++) {
    uint32_t v = spd_kc_value_of(&o->fm, o->lo, i);
    for (uint32_t w = 0; w < o->words; w++)
      dst[i * o->words + w] = src[v * o->words + w];
  }
  spd_core_charge(kc->core, o->n * o->words * SPD_COST_PER_VALUE +
                                (o->fm.width ? o->n * SPD_COST_FM_DECODE : 0));
}

uint32_t spd_kc_send_gathered(spd_kc_t *kc, uint32_t kind, uint32_t slot, const uint32_t *own,
                              uint32_t *stage) {
  uint32_t used = 0;
  for (uint32_t p = 0; p < kc->h.n_out; p++) {
    const spd_ds_out_t *o = &kc->out[p];
    if (o->kind != kind)
      continue;
    spd_kc_gather(kc, p, own, stage + used);
    if (spd_kc_send(kc, p, slot, stage + used, o->n * o->words))
      return UINT32_MAX;
    used += o->n * o->words;
  }
  return used;
}

/* A run resumed mid-epoch starts seq_offset samples into its first epoch
 * (a batch boundary): its steps count from that batch. */
uint32_t spd_kc_batch_of(const spd_kc_t *kc, uint32_t seq) {
  uint32_t n = kc->cfg.epoch_samples, b = kc->cfg.batch, off = kc->cfg.seq_offset;
  uint32_t steps = (n + b - 1) / b, g = seq + off;
  return g / n * steps + g % n / b - off / b;
}

bool spd_kc_batch_end(const spd_kc_t *kc, uint32_t seq) {
  uint32_t i = (seq + kc->cfg.seq_offset) % kc->cfg.epoch_samples + 1;
  return i == kc->cfg.epoch_samples || i % kc->cfg.batch == 0;
}

void spd_kc_sample_done(spd_kc_t *kc) {
  kc->done++;
  spd_core_count_sample(kc->core);
  maybe_exit(kc);
}

/* ----------------------------------------------------------- receiving */

/* A source injects sample n into slot n mod slots, so its slots' credits
 * complete in sample order: a slot whose credits are all back before those
 * of the slot ahead of it (whose sample waited for a packet asked for
 * again, kernels/resend.c) waits for it. Out of turn, the next sample
 * lapped the late one and the pipeline stalled. */
static void slot_task(spd_core_t *core, uint32_t slot, uint32_t phase) {
  spd_kc_t *kc = spd_core_get_state(core);
  spd_kc_count_callback(kc);
  if (phase != SPD_KC_CREDIT) {
    if (!SPD_KC_FIXED(kc->h.numeric == SPD_DS_FIXED) && kc->held)
      held_flush(kc, slot, phase); /* in the slot's task, not the packet callback */
    kc->slot_done(kc, slot, phase);
    return;
  }
  uint32_t S = kc->h.slots;
  kc->ready[phase * S + slot] = 1;
  while (kc->ready[phase * S + kc->next_slot[phase]]) {
    uint32_t s = kc->next_slot[phase];
    kc->ready[phase * S + s] = 0;
    kc->next_slot[phase] = (s + 1u) & (S - 1u);
    kc->slot_done(kc, s, phase);
  }
}

/* The entry of [lo, hi) of the incoming table whose block holds @p key,
 * or UINT32_MAX, counting the search's steps into @p steps. The part is
 * sorted by base and its blocks are disjoint and aligned: the block
 * holding the key is the last one starting at or below it. */
static uint32_t find_in(const spd_kc_t *kc, uint32_t key, uint32_t lo, uint32_t hi,
                        uint32_t *steps) {
  if (lo == hi)
    return UINT32_MAX;
  while (hi - lo > 1) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (kc->in[mid].base <= key)
      lo = mid;
    else
      hi = mid;
    ++*steps;
  }
  return (key & kc->in[lo].mask) == kc->in[lo].base ? lo : UINT32_MAX;
}

/* A received packet's work, in the receive task: find its partition,
 * drop duplicates, store its word and count its slot. */
static void receive(spd_core_t *core, spd_kc_t *kc, uint32_t key, uint32_t payload) {
  /* The partitions of values first (they are nearly every packet), then
   * the credits and requests (map/dataspec.c orders the table so), one
   * step more for the first part's miss. */
  uint32_t steps = 0, i = find_in(kc, key, 0, kc->n_data, &steps);
  if (i == UINT32_MAX && kc->n_data < kc->h.n_in) {
    steps++;
    i = find_in(kc, key, kc->n_data, kc->h.n_in, &steps);
  }
  if (i == UINT32_MAX) {
    spd_core_charge(core, SPD_COST_RECV_HANDLER + SPD_COST_RECV_STEP * steps);
    return; /* not ours: the router never sends such a packet */
  }
  const spd_ds_in_t *in = &kc->in[i];
  if (in->kind == SPD_DS_KIND_NACK) { /* a receiver asks again: answer as a task */
    spd_core_charge(core, SPD_COST_RECV_HANDLER + SPD_COST_RECV_STEP * steps);
    /* A full task queue loses the request; the receiver asks again. */
    (void)spd_core_schedule_callback(core, spd__kc_resend_asked, payload, 0, SLOT_PRIORITY);
    return;
  }
  spd_core_charge(core, SPD_COST_RECV_HANDLER + SPD_COST_DEDUP * SPD_RECOVERY +
                            SPD_COST_RECV_STEP * steps);
  uint32_t off = key - in->base, S = kc->h.slots;
  uint32_t tag = (off >> in->value_bits) & (2u * S - 1u), slot = tag & (S - 1u);
  uint32_t j = off & ((1u << in->value_bits) - 1u);
  uint32_t phase = spd_kc_phase_of(in->kind), ps = phase * S + slot;
  uint32_t *seen = kc->seen + kc->seen_at[phase] + slot * kc->seen_words[phase];
  if (SPD_RECOVERY) {
    if (tag >> kc->slot_bits != kc->round_in[ps] || j >= in->n * in->words) {
      kc->duplicates++;
      return;
    }
    uint32_t bit = kc->bit_of[i] + j;
    if (seen[bit / 32u] & (1u << bit % 32u)) {
      kc->duplicates++;
      return;
    }
    seen[bit / 32u] |= 1u << bit % 32u;
  }
  bool held = !SPD_KC_FIXED(kc->h.numeric == SPD_DS_FIXED) && kc->held &&
              kc->held_at[i] != UINT32_MAX;
  if (held) {
    if (in->fm.width)
      spd_core_charge(core, SPD_COST_FM_DECODE);
    *held_word(kc, i, slot, j) = payload;
  } else {
    const spd_kc_recip_t *rc = &kc->recip[i];
    uint32_t v = spd_kc_div(j, rc->words), word = j - v * in->words;
    if (in->fm.width) { /* spd_kc_value_of, by the reciprocals */
      spd_core_charge(core, SPD_COST_FM_DECODE);
      const spd_ds_fm_t *fm = &in->fm;
      uint32_t q = fm->first + v, r = spd_kc_div(q, rc->per_row);
      uint32_t rem = q - r * fm->width * fm->chans, col = spd_kc_div(rem, rc->chans);
      v = in->lo + r * fm->row_stride + col * fm->col_stride + (rem - col * fm->chans);
    } else {
      v += in->lo;
    }
    kc->store(kc, i, slot, v, word, payload);
  }
  uint32_t *count = &kc->count[ps];
  if (++*count == kc->expected[phase]) {
    *count = 0;
    kc->round_in[ps] ^= 1u;
    if (SPD_RECOVERY) {
      memset(seen, 0, kc->seen_words[phase] * 4u);
      spd_core_charge(core, kc->seen_words[phase] * SPD_COST_PER_VALUE);
    }
    if (spd_core_schedule_callback(core, slot_task, slot, phase, SLOT_PRIORITY))
      spd_kc_fail(kc, SPD_EQUEUE);
  }
}

/* The receive drain, a user event (priority 0, in the IRQ as spin1 runs
 * it): every packet the FIQ queued, in order. It pre-empts the task level,
 * so a long slot task or a paced send never holds the packets back: the
 * ring only absorbs packets that arrive together, and the pacing keeps the
 * packets a core is sent within what this drain takes (map/pacing). */
static void rx_task(spd_core_t *core, uint32_t a0, uint32_t a1) {
  (void)a0;
  (void)a1;
  spd_kc_t *kc = spd_core_get_state(core);
  spd_kc_count_callback(kc);
  while (kc->rx_count) {
    uint32_t at = kc->rx_head;
    kc->rx_head = (at + 1u) & (kc->rx_slots - 1u);
    kc->rx_count--;
    receive(core, kc, kc->rx[2u * at], kc->rx[2u * at + 1u]);
  }
  kc->rx_draining = false;
}

/* The packet interrupt (the FIQ) only queues the packet and raises the
 * drain (as spin1 applications do): a packet's work takes longer than a
 * router waits for a blocked output (docs/calibration.md), so the next
 * packet must not wait for it. A full queue (which the pacing never lets
 * happen) takes the packet at once. */
static void packet_cb(spd_core_t *core, uint32_t key, uint32_t payload) {
  spd_kc_t *kc = spd_core_get_state(core);
  spd_kc_count_callback(kc);
  kc->prov.packets_in++;
  spd_core_charge(core, SPD_COST_RX_QUEUE);
  if (kc->rx_count == kc->rx_slots) {
    receive(core, kc, key, payload);
    return;
  }
  uint32_t at = (kc->rx_head + kc->rx_count) & (kc->rx_slots - 1u);
  kc->rx[2u * at] = key;
  kc->rx[2u * at + 1u] = payload;
  kc->rx_count++;
  if (kc->rx_count > kc->prov.max_rx_queue)
    kc->prov.max_rx_queue = kc->rx_count;
  if (!kc->rx_draining) {
    kc->rx_draining = true;
    if (spd_core_trigger_user_event(core, 0, 0))
      spd_kc_fail(kc, SPD_EQUEUE);
  }
}

int spd_kc_start(spd_kc_t *kc) {
  spd_kc_provenance(kc, false); /* started: the region holds a record */
  int err = spd_core_callback_on(kc->core, SPD_EVENT_MCPL_PACKET, packet_cb,
                                 SPD_PRIORITY_PREEMINENT);
  if (!err)
    err = spd_core_callback_on(kc->core, SPD_EVENT_USER, rx_task, 0);
  return err || kc->h.role == SPD_DS_ROLE_SOURCE ? err : spd_kc_watch(kc);
}

float spd_kc_act_float(int32_t kind, float alpha, float z) {
  switch ((spd_fx_act_t)kind) {
  case SPD_FX_ACT_RELU:
    return z > 0.0f ? z : 0.0f;
  case SPD_FX_ACT_SIGMOID:
    return 1.0f / (1.0f + expf(-z));
  case SPD_FX_ACT_TANH:
    return tanhf(z);
  case SPD_FX_ACT_LEAKY_RELU:
    return z > 0.0f ? z : alpha * z;
  case SPD_FX_ACT_ELU:
    return z > 0.0f ? z : alpha * (expf(z) - 1.0f);
  default:
    return z;
  }
}

float spd_kc_act_grad_float(int32_t kind, float alpha, float y, float dy) {
  switch ((spd_fx_act_t)kind) {
  case SPD_FX_ACT_RELU:
    return y > 0.0f ? dy : 0.0f;
  case SPD_FX_ACT_SIGMOID:
    return dy * y * (1.0f - y);
  case SPD_FX_ACT_TANH:
    return dy * (1.0f - y * y);
  case SPD_FX_ACT_LEAKY_RELU:
    return y > 0.0f ? dy : alpha * dy;
  case SPD_FX_ACT_ELU:
    return y > 0.0f ? dy : dy * (y + alpha);
  default:
    return dy;
  }
}

uint32_t spd_kc_act_cycles(bool fixed, int32_t kind) {
  if (kind != SPD_FX_ACT_SIGMOID && kind != SPD_FX_ACT_TANH && kind != SPD_FX_ACT_ELU)
    return SPD_COST_ACT_CHEAP;
  return fixed ? SPD_COST_ACT_FIXED : SPD_COST_ACT_FLOAT;
}
