/* Dropout masks rebuilt on the core (kernels/dropout.h). */
#include "kernels/dropout.h"

#include "spindle/fixed.h"
#include "spindle/rng.h"

void spd_kc_drop_init(spd_kc_drop_t *d, const spd_kc_t *kc) {
  *d = (spd_kc_drop_t){.on = kc->cfg.flags & SPD_DS_DROPOUT,
                       .fixed = kc->h.numeric == SPD_DS_FIXED,
                       .p = kc->cfg.drop};
}

bool spd_kc_drop_keep(spd_kc_drop_t *d, spd_core_t *core, uint32_t seq, uint32_t e) {
  if (!d->on)
    return true;
  uint64_t counter = ((uint64_t)seq + d->p.seq_base) * d->p.blocks + e / 4u;
  if (d->block != counter + 1u) {
    uint32_t key[2] = {d->p.seed_lo, d->p.seed_hi};
    spd_philox4x32(key, counter, d->p.stream, d->words);
    d->block = counter + 1u;
    spd_core_charge(core, SPD_COST_PHILOX);
  }
  spd_core_charge(core, SPD_COST_DROP_VALUE);
  return (d->words[e % 4u] >> 8) >= d->p.threshold;
}

int16_t spd_kc_drop_fixed(const spd_kc_drop_t *d, bool keep, int16_t v, uint32_t *saturations) {
  if (!d->on)
    return v;
  if (!keep)
    return 0;
  spd_fx_const_t k = {d->p.scale_mant, d->p.scale_shift};
  return spd_fx_sat16(spd_fx_mul_const(v, k, 0, 0, SPD_FX_ROUND_NEAREST, saturations),
                      saturations);
}

float spd_kc_drop_float(const spd_kc_drop_t *d, bool keep, float v) {
  if (!d->on)
    return v;
  return keep ? v * spd_kc_u2f(d->p.scale_f) : 0.0f;
}
