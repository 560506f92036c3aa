/* The sink (docs/dense-on-machine.md, "Core roles"): assembles each
 * sample's record from the loss core (outputs, loss in two words,
 * predicted class, label) and writes it into SDRAM at its sequence number,
 * where the host reads the records after the run. */
#include "kernels/kernel_common.h"
#include "kernels/kernels.h"
#include "spindle/error.h"

typedef struct sink {
  spd_kc_t kc;
  uint32_t words;      /* per record */
  uint32_t *rec;       /* slots x words */
  uint32_t *seq;       /* per slot: the sample it holds */
  uint32_t zero;       /* a credit's payload */
} sink_t;

static void store(spd_kc_t *kc, uint32_t in, uint32_t slot, uint32_t v, uint32_t word,
                  uint32_t payload) {
  (void)in;
  (void)word;
  sink_t *s = kc->role;
  if (v < s->words)
    s->rec[slot * s->words + v] = payload;
}

static void slot_done(spd_kc_t *kc, uint32_t slot, uint32_t phase) {
  (void)phase;
  sink_t *s = kc->role;
  uint32_t n = s->seq[slot];
  s->seq[slot] += kc->h.slots;
  if (spd_core_sdram_write(kc->core, kc->cfg.sdram_addr + n * s->words * 4u,
                           s->rec + slot * s->words, s->words * 4u) ||
      spd_kc_send_kind(kc, SPD_DS_KIND_CREDIT, slot, &s->zero)) {
    spd_kc_fail(kc, SPD_EINVAL);
    return;
  }
  spd_kc_sample_done(kc);
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
  s->words = kc->cfg.cols;
  s->rec = spd_kc_alloc(kc, kc->h.slots * s->words * 4u);
  s->seq = spd_kc_alloc(kc, kc->h.slots * 4u);
  if (!s->rec || !s->seq)
    return SPD_ENOMEM;
  for (uint32_t i = 0; i < kc->h.slots; i++)
    s->seq[i] = i;
  return spd_kc_start(kc);
}

const spd_kernel_t spd_kernel_dense_sink = {"spindle_sink", sink_main};
