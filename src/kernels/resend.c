/* The end-to-end resend: what the monitors' reinjection cannot bring back
 * (a packet dropped while its router's dump registers were full) the
 * receiver asks for again, and its sender sends it again.
 *
 * A receiver counts each slot's packets per phase (kernel_common.c). Its
 * timer (spd_ds_config_t.resend_tick_us, set by the host from the pacing:
 * a few times the slowest vertex's sends of a sample) looks at every phase
 * of every slot that has some packets but not all: one that made no
 * progress for two ticks is missing packets. For each incoming partition
 * of that phase whose bits are not all set (none set: only after
 * PATIENT_TICKS), the receiver sends a request
 * on its "nack" partition, which reaches every vertex that sends to it;
 * the payload is the first key of the round it waits for (base + the
 * slot's tag). The sender whose partition that key belongs to sends the
 * round again if it still holds it: the data of a slot's last round stays
 * in place until the slot's next round (the next sample in that slot
 * cannot start before this one is done everywhere), except a role's
 * staging that it reuses once sent (conv dX partial sums, reused_lo/hi),
 * which cannot be sent again. Receivers ignore the copies they have. A
 * request that goes unanswered is made again two ticks later. */
#include "kernels/kernel_common.h"

#include "spindle/error.h"

#define PARTIAL_TICKS 3u /* before asking for the rest of a partition */
#define PATIENT_TICKS 6u /* before asking for a partition none of which came */

int spd__kc_resend_init(spd_kc_t *kc) {
  uint32_t S = kc->h.slots;
  kc->sent_rec = spd_kc_alloc(kc, kc->h.n_out * S * SPD_KC_SENT_REC_BYTES);
  kc->last_count = spd_kc_alloc(kc, SPD_KC_PHASES * S * 4u);
  kc->stale = spd_kc_alloc(kc, SPD_KC_PHASES * S);
  kc->asks = spd_kc_alloc(kc, SPD_KC_RESEND_JOBS * 4u);
  kc->nack_out = UINT32_MAX;
  for (uint32_t p = 0; p < kc->h.n_out; p++)
    if (kc->out[p].kind == SPD_DS_KIND_NACK)
      kc->nack_out = p;
  return kc->sent_rec && kc->last_count && kc->stale && kc->asks ? 0 : SPD_ENOMEM;
}

void spd__kc_resend_note(spd_kc_t *kc, uint32_t out, uint32_t slot, uint32_t key0,
                         const uint32_t *data, uint32_t n) {
  if (kc->out[out].kind == SPD_DS_KIND_NACK)
    return;
  kc->sent_rec[out * kc->h.slots + slot] = (spd_kc_sent_rec_t){key0, data, n, 1};
}

void spd__kc_resend_gone(spd_kc_t *kc, const spd_kc_job_t *job) {
  if (job->data < kc->reused_lo || job->data >= kc->reused_hi)
    return;
  for (uint32_t i = 0; i < kc->h.n_out * kc->h.slots; i++)
    if (kc->sent_rec[i].data == job->data && kc->sent_rec[i].key0 == job->key0)
      kc->sent_rec[i].valid = 0;
}

/* Whether a job of the send ring sends (or will send) the round whose
 * first key is @p key0. */
static bool queued(const spd_kc_t *kc, uint32_t key0) {
  for (uint32_t i = 0; i < kc->jobs_count; i++)
    if (kc->jobs[(kc->jobs_head + i) % kc->jobs_cap].key0 == key0)
      return true;
  return false;
}

void spd__kc_resend_asked(spd_core_t *core, uint32_t key0, uint32_t unused) {
  (void)unused;
  spd_kc_t *kc = spd_core_get_state(core);
  spd_kc_count_callback(kc);
  uint32_t S = kc->h.slots;
  for (uint32_t p = 0; p < kc->h.n_out; p++) {
    const spd_ds_out_t *o = &kc->out[p];
    spd_core_charge(core, SPD_COST_RESEND_CHECK);
    if (o->kind == SPD_DS_KIND_NACK || key0 - o->base >= (2u * S << o->value_bits))
      continue;
    uint32_t slot = ((key0 - o->base) >> o->value_bits) & (S - 1u);
    const spd_kc_sent_rec_t *rec = &kc->sent_rec[p * S + slot];
    /* Only the round asked for, only while its data is in place, and not
     * while that round is still on its way out. */
    if (!rec->valid || rec->key0 != key0 || queued(kc, key0))
      return;
    if (spd__kc_push_again(kc, key0, rec->data, rec->n, o->pace) == 0) {
      spd_core_count_resent(core, rec->n);
      kc->prov.resent += rec->n;
    }
    return;
  }
}

/* How many packets of incoming partition @p i's round the bitmap @p seen
 * of its phase's slot holds. */
static uint32_t arrived(const spd_kc_t *kc, uint32_t i, const uint32_t *seen) {
  uint32_t lo = kc->bit_of[i], n = kc->in[i].n * kc->in[i].words, got = 0;
  for (uint32_t b = lo; b < lo + n; b++)
    got += (seen[b / 32u] >> b % 32u) & 1u;
  return got;
}

static void ask(spd_kc_t *kc, uint32_t i, uint32_t phase, uint32_t slot, uint32_t missing) {
  const spd_ds_in_t *in = &kc->in[i];
  uint32_t tag = ((uint32_t)kc->round_in[phase * kc->h.slots + slot] << kc->slot_bits) | slot;
  uint32_t *at = &kc->asks[kc->next_ask];
  *at = in->base + (tag << in->value_bits);
  const spd_ds_out_t *o = &kc->out[kc->nack_out];
  if (spd__kc_push_again(kc, o->base, at, 1, o->pace) == 0) {
    kc->next_ask = (kc->next_ask + 1u) % SPD_KC_RESEND_JOBS;
    kc->prov.requests++;
    kc->prov.missing += missing;
  }
  spd_core_charge(kc->core, SPD_COST_RESEND_ASK);
}

static void tick(spd_core_t *core, uint32_t t, uint32_t unused) {
  (void)t;
  (void)unused;
  spd_kc_t *kc = spd_core_get_state(core);
  uint32_t S = kc->h.slots;
  spd_kc_count_callback(kc);
  /* A tick later than half a period past its time overran (the core was
   * busy); so did every one it stood for. */
  uint32_t now = (uint32_t)spd_core_time_us(core), period = kc->cfg.resend_tick_us;
  uint32_t since = now - kc->last_tick_us; /* 32-bit: no long division on the core */
  if (kc->prov.timer_ticks++ && since > period + period / 2u)
    kc->prov.timer_overruns += (since - period / 2u) / period;
  kc->last_tick_us = now;
  spd_core_charge(core, SPD_COST_RESEND_TICK);
  for (uint32_t ph = 0; ph < SPD_KC_PHASES; ph++)
    for (uint32_t s = 0; kc->expected[ph] && s < S; s++) {
      uint32_t ps = ph * S + s, c = kc->count[ps];
      spd_core_charge(core, SPD_COST_RESEND_CHECK);
      if (c == 0 || c != kc->last_count[ps]) {
        kc->last_count[ps] = c;
        kc->stale[ps] = 0;
        continue;
      }
      /* A partition with some of its packets is asked for after two
       * ticks; one with none only after PATIENT_TICKS, as the inputs of a
       * phase may come from different depths of the pipeline (a source's
       * credits: the sink's after the forward pass, the first layer's
       * after the backward one). */
      uint32_t stale = ++kc->stale[ps];
      bool partial = stale % PARTIAL_TICKS == 0, all = stale >= PATIENT_TICKS;
      if (all)
        kc->stale[ps] = 0;
      if (!partial && !all)
        continue;
      const uint32_t *seen = kc->seen + kc->seen_at[ph] + s * kc->seen_words[ph];
      spd_core_charge(core, kc->seen_words[ph] * SPD_COST_PER_VALUE);
      for (uint32_t i = 0; i < kc->h.n_in; i++) {
        if (kc->in[i].kind == SPD_DS_KIND_NACK || spd_kc_phase_of(kc->in[i].kind) != ph)
          continue;
        uint32_t got = arrived(kc, i, seen);
        if (got < kc->in[i].n * kc->in[i].words && (got || all))
          ask(kc, i, ph, s, kc->in[i].n * kc->in[i].words - got);
      }
    }
  if (kc->tick)
    kc->tick(kc);
  spd_kc_provenance(kc, false);
}

int spd_kc_watch(spd_kc_t *kc) {
  if (!kc->cfg.resend_tick_us || kc->nack_out == UINT32_MAX)
    return 0;
  spd_core_set_timer_us(kc->core, kc->cfg.resend_tick_us);
  return spd_core_callback_on(kc->core, SPD_EVENT_TIMER_TICK, tick, 1);
}
