/* The source (docs/dense-on-machine.md, "Core roles"): its slice of every
 * sample sits in its chip's SDRAM as the host wrote it (bytes, converted by
 * a 256-entry table made at map time, or ready 32-bit words). For each
 * sample it reads its slice, converts it and sends one packet per value,
 * split by the first layer's row blocks; a slot is used again only when
 * every credit for the sample in it has come back. In training the samples
 * go in the order the host wrote (each epoch's shuffle, docs/training.md). */
#include "kernels/kernel_common.h"
#include "kernels/kernels.h"
#include "spindle/error.h"

#include <string.h>

typedef struct source {
  spd_kc_t kc;
  uint32_t n, stride;   /* values per sample, bytes per sample in SDRAM */
  uint32_t sent;        /* values it sends per sample, over every partition */
  uint32_t *table;      /* 256 words, byte inputs */
  uint8_t *raw;         /* one sample as stored */
  uint32_t *x;          /* slots x sent words, in the partitions' order */
  uint32_t next;        /* next sample to inject */
} source_t;

/* Own value @p v of the sample in @p s->raw as a packet's payload. */
static uint32_t value(const source_t *s, uint32_t v) {
  if (s->table)
    return s->table[s->raw[v]];
  uint32_t w;
  memcpy(&w, s->raw + (size_t)v * 4u, sizeof w);
  return w;
}

static void store(spd_kc_t *kc, uint32_t in, uint32_t slot, uint32_t v, uint32_t word,
                  uint32_t payload) {
  (void)kc;
  (void)in;
  (void)slot;
  (void)v;
  (void)word;
  (void)payload;
}

static void inject(source_t *s, uint32_t slot) {
  spd_kc_t *kc = &s->kc;
  uint32_t sample = s->next++;
  uint32_t *x = s->x + slot * s->n;
  if (kc->cfg.order_addr &&
      spd_core_sdram_read(kc->core, kc->cfg.order_addr + sample * 4u, &sample, 4)) {
    spd_kc_fail(kc, SPD_EINVAL);
    return;
  }
  if (spd_core_sdram_read(kc->core, kc->cfg.sdram_addr + sample * s->stride, s->raw,
                          s->stride)) {
    spd_kc_fail(kc, SPD_EINVAL);
    return;
  }
  /* Each partition's values in its own order: a run of the sample's values
   * for a Dense layer or a reader of every channel, a feature-map block's
   * channels for a pooling tile that reads only its own. */
  uint32_t used = 0, decoded = 0;
  for (uint32_t p = 0; p < kc->h.n_out; p++) {
    const spd_ds_out_t *o = &kc->out[p];
    if (o->kind != SPD_DS_KIND_X)
      continue;
    for (uint32_t i = 0; i < o->n; i++)
      x[used + i] = value(s, spd_kc_value_of(&o->fm, o->lo, i));
    decoded += o->fm.width ? o->n : 0;
    used += o->n;
  }
  spd_core_charge(kc->core, used * SPD_COST_INPUT_CONVERT + decoded * SPD_COST_FM_DECODE);
  used = 0;
  for (uint32_t p = 0; p < kc->h.n_out; p++) {
    if (kc->out[p].kind != SPD_DS_KIND_X)
      continue;
    if (spd_kc_send(kc, p, slot, x + used, kc->out[p].n)) {
      spd_kc_fail(kc, SPD_EQUEUE);
      return;
    }
    used += kc->out[p].n;
  }
}

/* Every credit of the slot is back: its sample is done everywhere. */
static void slot_done(spd_kc_t *kc, uint32_t slot, uint32_t phase) {
  (void)phase;
  source_t *s = kc->role;
  if (s->next < kc->h.n_samples)
    inject(s, slot);
  spd_kc_sample_done(kc);
}

/* The first tick: every core has read its parameters (interrupts are off
 * while a core runs main, so a packet sent earlier would wait at its
 * comms controller and drop). */
static void first_tick(spd_core_t *core, uint32_t a0, uint32_t a1) {
  (void)a0;
  (void)a1;
  spd_kc_t *kc = spd_core_get_state(core);
  spd_kc_count_callback(kc);
  spd_core_set_timer_us(core, 0);
  spd_core_callback_off(core, SPD_EVENT_TIMER_TICK);
  if (spd_kc_watch(kc)) {
    spd_kc_fail(kc, SPD_EINVAL);
    return;
  }
  source_t *s = kc->role;
  for (uint32_t slot = 0; slot < kc->h.slots && s->next < kc->h.n_samples; slot++)
    inject(s, slot);
  if (kc->h.n_samples == 0) {
    spd_kc_provenance(kc, true);
    spd_core_exit(core, 0);
  }
}

static int source_main(spd_core_t *core, uint32_t params) {
  source_t *s = spd_core_dtcm_alloc(core, sizeof *s);
  if (!s)
    return SPD_ENOMEM;
  spd_kc_t *kc = &s->kc;
  int err = spd_kc_init(kc, core, params, SPD_DS_ROLE_SOURCE);
  if (err)
    return err;
  kc->role = s;
  kc->store = store;
  kc->slot_done = slot_done;
  const spd_ds_config_t *c = &kc->cfg;
  if (c->bytes_per_value != 1 && c->bytes_per_value != 4)
    return SPD_EINVAL;
  s->n = c->rows;
  s->stride = (s->n * c->bytes_per_value + 3u) & ~3u;
  for (uint32_t p = 0; p < kc->h.n_out; p++) {
    const spd_ds_out_t *o = &kc->out[p];
    if (o->kind != SPD_DS_KIND_X) /* its requests (kernels/resend.c) */
      continue;
    if (o->words != 1 || (!o->fm.width && o->lo + o->n > s->n))
      return SPD_EINVAL;
    s->sent += o->n;
  }
  /* The partitions split the sample (Dense row blocks, halo pieces, channel
   * blocks), so they send at most its n values. */
  if (s->sent > s->n)
    return SPD_EINVAL;
  s->raw = spd_kc_alloc(kc, s->stride);
  s->x = spd_kc_alloc(kc, kc->h.slots * s->n * 4u);
  if (!s->raw || !s->x)
    return SPD_ENOMEM;
  if (c->bytes_per_value == 1) {
    if (!(s->table = spd_kc_alloc(kc, 256u * 4u)))
      return SPD_ENOMEM;
    if ((err = spd_kc_read_data(kc, 0, s->table, 256u * 4u)))
      return err;
  }
  if ((err = spd_kc_start(kc)))
    return err;
  spd_core_set_timer_us(core, c->start_us ? c->start_us : 1);
  return spd_core_callback_on(core, SPD_EVENT_TIMER_TICK, first_tick, 1);
}

const spd_kernel_t spd_kernel_dense_source = {"spindle_source", source_main};
