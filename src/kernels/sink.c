/* The sink (docs/dense-on-machine.md, "Core roles"): assembles each
 * sample's record from the loss core (outputs, loss in two words,
 * predicted class, label), tags it with the sample's sequence number + 1
 * and writes it into a ring of records in SDRAM, from which the host reads
 * the records while the machine runs (docs/dataspec.md, "Records"), as
 * SpiNNaker's buffered recording does. The host writes how many it has
 * read into a word beside the ring; a record that would overwrite one the
 * host has not read waits in its slot, and so does the slot's credit to
 * the sources: the pipeline waits for the host rather than lose a record. */
#include "kernels/kernel_common.h"
#include "kernels/kernels.h"
#include "spindle/error.h"

typedef struct sink {
  spd_kc_t kc;
  uint32_t words;      /* per record received (the tag follows in SDRAM) */
  uint32_t ring;       /* records the SDRAM ring holds */
  uint32_t host_read;  /* the host's count as last read */
  uint32_t *rec;       /* slots x (words + 1) */
  uint32_t *seq;       /* per slot: the sample it holds */
  uint8_t *waiting;    /* per slot: complete, its ring slot not yet free */
  uint32_t n_waiting;
  uint32_t zero;       /* a credit's payload */
} sink_t;

static void store(spd_kc_t *kc, uint32_t in, uint32_t slot, uint32_t v, uint32_t word,
                  uint32_t payload) {
  (void)in;
  (void)word;
  sink_t *s = kc->role;
  if (v < s->words)
    s->rec[slot * (s->words + 1u) + v] = payload;
}

/* Whether record @p n may go to its ring slot: the host has read the one
 * there before (its count is read from SDRAM only when the cached one says
 * no). */
static bool ring_free(sink_t *s, uint32_t n) {
  if (n - s->host_read < s->ring)
    return true;
  spd_core_sdram_read(s->kc.core, s->kc.cfg.record_read_addr, &s->host_read, 4);
  return n - s->host_read < s->ring;
}

static void emit(sink_t *s, uint32_t slot) {
  spd_kc_t *kc = &s->kc;
  uint32_t n = s->seq[slot], words = s->words + 1u;
  uint32_t *rec = s->rec + slot * words;
  rec[s->words] = n + 1u;
  s->seq[slot] += kc->h.slots;
  uint32_t at = n < s->ring ? n : n % s->ring;
  if (spd_core_sdram_write(kc->core, kc->cfg.sdram_addr + at * words * 4u, rec, words * 4u) ||
      spd_kc_send_kind(kc, SPD_DS_KIND_CREDIT, slot, &s->zero)) {
    spd_kc_fail(kc, SPD_EINVAL);
    return;
  }
  spd_kc_sample_done(kc);
}

/* Slots whose records waited for the host, oldest sample first, while the
 * ring has room. */
static void emit_waiting(spd_kc_t *kc) {
  sink_t *s = kc->role;
  while (s->n_waiting) {
    uint32_t best = UINT32_MAX;
    for (uint32_t i = 0; i < kc->h.slots; i++)
      if (s->waiting[i] && (best == UINT32_MAX || s->seq[i] < s->seq[best]))
        best = i;
    if (!ring_free(s, s->seq[best]))
      return;
    s->waiting[best] = 0;
    s->n_waiting--;
    emit(s, best);
  }
}

static void slot_done(spd_kc_t *kc, uint32_t slot, uint32_t phase) {
  (void)phase;
  sink_t *s = kc->role;
  if (s->n_waiting || !ring_free(s, s->seq[slot])) {
    s->waiting[slot] = 1;
    s->n_waiting++;
    emit_waiting(kc);
    return;
  }
  emit(s, slot);
}

static int sink_main(spd_core_t *core, uint32_t params) {
  sink_t *s = spd_core_dtcm_alloc(core, sizeof *s);
  if (!s)
    return SPD_ENOMEM;
  spd_kc_t *kc = &s->kc;
  int err = spd_kc_init(kc, core, params, SPD_DS_ROLE_SINK);
  if (err)
    return err;
  kc->role = s;
  kc->store = store;
  kc->slot_done = slot_done;
  kc->tick = emit_waiting;
  s->words = kc->cfg.cols;
  s->ring = kc->cfg.record_ring;
  if (!s->ring || (s->ring < kc->h.n_samples && !kc->cfg.resend_tick_us))
    return SPD_EINVAL; /* a ring it could wait on with no timer to look again */
  s->rec = spd_kc_alloc(kc, kc->h.slots * (s->words + 1u) * 4u);
  s->seq = spd_kc_alloc(kc, kc->h.slots * 4u);
  s->waiting = spd_kc_alloc(kc, kc->h.slots);
  if (!s->rec || !s->seq || !s->waiting)
    return SPD_ENOMEM;
  for (uint32_t i = 0; i < kc->h.slots; i++)
    s->seq[i] = i;
  return spd_kc_start(kc);
}

const spd_kernel_t spd_kernel_dense_sink = {"spindle_sink", sink_main};
