/* The reducer of one column block (docs/dense-on-machine.md, "Core roles"):
 * sums the partial sums of the block's R tiles as they arrive. In fixed
 * point an int64 sum travels as two words; adding the low words (as
 * unsigned) and the high words (shifted) separately is exact modulo 2^64,
 * and the true sum fits int64, so the order of arrival does not matter.
 * Then the bias, one rounding (spd_fx_dense_reduce), the activation, and y
 * goes on to the next layer (z to the loss core). */
#include <string.h>

#include "base/fx_dense.h"
#include "kernels/kernel_common.h"
#include "kernels/kernels.h"
#include "spindle/error.h"
#include "spindle/fixed_math.h"
#include "spindle/partition.h"

typedef struct reducer {
  spd_kc_t kc;
  bool fixed;
  uint32_t b;
  uint64_t *acc;     /* fixed: slots x b, modulo 2^64 */
  float *accf;       /* float: slots x b */
  int32_t *bias32;
  float *biasf;
  int32_t *z;
  uint32_t *out;     /* slots x b */
  spd_fx_act_params_t act;
  uint32_t saturations;
} reducer_t;

static void store(spd_kc_t *kc, uint32_t in, uint32_t slot, uint32_t v, uint32_t word,
                  uint32_t payload) {
  (void)in;
  reducer_t *r = kc->role;
  if (v >= r->b)
    return;
  if (r->fixed)
    r->acc[slot * r->b + v] += word ? (uint64_t)payload << 32 : (uint64_t)payload;
  else
    r->accf[slot * r->b + v] += spd_kc_u2f(payload);
  spd_core_charge(kc->core, r->fixed ? SPD_KC_ADD_FIXED : SPD_KC_ADD_FLOAT);
}

static void slot_done(spd_kc_t *kc, uint32_t slot) {
  reducer_t *r = kc->role;
  const spd_ds_config_t *c = &kc->cfg;
  bool last = c->flags & SPD_DS_LAST;
  uint32_t *out = r->out + slot * r->b;
  if (r->fixed) {
    int64_t *acc = (int64_t *)(r->acc + slot * r->b);
    spd_fx_dense_reduce(r->z, acc, r->bias32, (int)r->b, c->acc_frac, c->bias_frac,
                        &r->saturations);
    for (uint32_t j = 0; j < r->b; j++)
      out[j] = last ? (uint32_t)r->z[j]
                    : (uint32_t)(int32_t)spd_fx_act_forward(&r->act, r->z[j], &r->saturations);
    memset(acc, 0, r->b * sizeof *acc);
  } else {
    float alpha = spd_kc_u2f((uint32_t)c->act_alpha);
    float *acc = r->accf + slot * r->b;
    for (uint32_t j = 0; j < r->b; j++) {
      float z = acc[j] + (r->biasf ? r->biasf[j] : 0.0f);
      out[j] = spd_kc_f2u(last ? z : spd_kc_act_float(c->act_kind, alpha, z));
    }
    memset(acc, 0, r->b * sizeof *acc);
  }
  uint32_t per = last ? SPD_KC_PER_VALUE : spd_kc_act_cycles(r->fixed, c->act_kind);
  spd_core_charge(kc->core, r->b * (per + (r->fixed ? SPD_KC_ADD_FIXED : SPD_KC_ADD_FLOAT)));
  if (spd_kc_send_all(kc, slot, out)) {
    spd_kc_fail(kc, SPD_EQUEUE);
    return;
  }
  spd_kc_sample_done(kc);
}

static int reducer_main(spd_core_t *core, uint32_t params) {
  reducer_t *r = spd_core_dtcm_alloc(core, sizeof *r);
  if (!r)
    return SPD_ENOMEM;
  spd_kc_t *kc = &r->kc;
  int err = spd_kc_init(kc, core, params, SPD_ROLE_REDUCER);
  if (err)
    return err;
  kc->role = r;
  kc->store = store;
  kc->slot_done = slot_done;
  const spd_ds_config_t *c = &kc->cfg;
  r->fixed = kc->h.numeric == SPD_NUMERIC_FIXED;
  r->b = c->cols;
  r->act = (spd_fx_act_params_t){(spd_fx_act_t)c->act_kind, c->act_out_frac, c->act_alpha};
  uint32_t s = kc->h.slots;
  if (r->fixed) {
    r->acc = spd_kc_alloc(kc, s * r->b * 8u);
    r->z = spd_kc_alloc(kc, r->b * 4u);
  } else {
    r->accf = spd_kc_alloc(kc, s * r->b * 4u);
  }
  r->out = spd_kc_alloc(kc, s * r->b * 4u);
  if ((r->fixed ? !r->acc || !r->z : !r->accf) || !r->out)
    return SPD_ENOMEM;
  if (c->flags & SPD_DS_BIAS) {
    void *bias = spd_kc_alloc(kc, r->b * 4u);
    if (!bias)
      return SPD_ENOMEM;
    if (r->fixed)
      r->bias32 = bias;
    else
      r->biasf = bias;
    if ((err = spd_kc_read_data(kc, 0, bias, r->b * 4u)))
      return err;
  }
  return spd_kc_start(kc);
}

const spd_kernel_t spd_kernel_dense_reducer = {"spindle_reducer", reducer_main};
