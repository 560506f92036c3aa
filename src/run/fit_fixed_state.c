/* The fixed-point network's part of a checkpoint (docs/formats.md
 * "Checkpoints"): everything spd__fx_net_train_batch reads and writes
 * between batches, so a net restored from it trains on with the same bits.
 * The int16 MAC-loop copies are not stored: they are re-derived from the
 * masters, as every update does. */
#include <stdio.h>

#include "nn/fx_net_internal.h"
#include "run/fit_fixed.h"

static void put_param(spd__blob_t *b, int layer, const char *what, const fx_param_t *p) {
  char name[64];
  snprintf(name, sizeof name, "layer%d.%s.master", layer, what);
  spd__blob_put(b, name, p->master, sizeof *p->master, p->n);
  snprintf(name, sizeof name, "layer%d.%s.a", layer, what);
  spd__blob_put(b, name, p->a, sizeof *p->a, p->n);
  snprintf(name, sizeof name, "layer%d.%s.b", layer, what);
  spd__blob_put(b, name, p->b, sizeof *p->b, p->n);
  snprintf(name, sizeof name, "layer%d.%s.c", layer, what);
  spd__blob_put(b, name, p->c, sizeof *p->c, p->n);
}

static int get_param(spd__blob_reader_t *r, int layer, const char *what, fx_param_t *p) {
  char name[64];
  snprintf(name, sizeof name, "layer%d.%s.master", layer, what);
  int rc = spd__blob_get(r, name, p->master, sizeof *p->master, p->n);
  snprintf(name, sizeof name, "layer%d.%s.a", layer, what);
  if (!rc)
    rc = spd__blob_get(r, name, p->a, sizeof *p->a, p->n);
  snprintf(name, sizeof name, "layer%d.%s.b", layer, what);
  if (!rc)
    rc = spd__blob_get(r, name, p->b, sizeof *p->b, p->n);
  snprintf(name, sizeof name, "layer%d.%s.c", layer, what);
  if (!rc)
    rc = spd__blob_get(r, name, p->c, sizeof *p->c, p->n);
  return rc;
}

/* A layer's counters: Dropout samples so far, saturations forward and
 * backward. */
static void layer_counters(const fx_layer_t *fl, uint64_t out[3]) {
  out[0] = fl->samples_seen;
  out[1] = fl->sat_forward;
  out[2] = fl->sat_backward;
}

void spd__fx_net_put_state(const spd_fx_net_t *net, spd__blob_t *b) {
  for (int i = 0; i < net->n_layers; i++) {
    const spd_layer_numerics_t *ln = &net->plan->layers[i];
    int32_t fracs[3] = {ln->act_frac, ln->grad_frac, ln->weight_frac};
    spd__blob_put(b, "plan.fracs", fracs, sizeof *fracs, 3);
  }
  for (int i = 0; i < net->n_layers; i++) {
    const fx_layer_t *fl = &net->layers[i];
    char name[64];
    if (fl->kernel.master)
      put_param(b, i, "kernel", &fl->kernel);
    if (fl->bias.master)
      put_param(b, i, "bias", &fl->bias);
    if (fl->kind == SPD_LAYER_BATCHNORM) {
      snprintf(name, sizeof name, "layer%d.moving_mean", i);
      spd__blob_put(b, name, fl->bn.moving_mean, sizeof(int64_t), (size_t)fl->bn.channels);
      snprintf(name, sizeof name, "layer%d.moving_var", i);
      spd__blob_put(b, name, fl->bn.moving_var, sizeof(int64_t), (size_t)fl->bn.channels);
    }
    uint64_t counters[3];
    layer_counters(fl, counters);
    snprintf(name, sizeof name, "layer%d.counters", i);
    spd__blob_put(b, name, counters, sizeof *counters, 3);
  }
  uint64_t sat[2] = {net->sat_total, net->sat};
  spd__blob_put(b, "saturations", sat, sizeof *sat, 2);
}

static int get_layer(spd_fx_net_t *net, spd__blob_reader_t *r, int i) {
  fx_layer_t *fl = &net->layers[i];
  char name[64];
  int rc = 0;
  if (fl->kernel.master)
    rc = get_param(r, i, "kernel", &fl->kernel);
  if (!rc && fl->bias.master)
    rc = get_param(r, i, "bias", &fl->bias);
  if (!rc && fl->kind == SPD_LAYER_BATCHNORM) {
    snprintf(name, sizeof name, "layer%d.moving_mean", i);
    rc = spd__blob_get(r, name, fl->bn.moving_mean, sizeof(int64_t), (size_t)fl->bn.channels);
    snprintf(name, sizeof name, "layer%d.moving_var", i);
    if (!rc)
      rc = spd__blob_get(r, name, fl->bn.moving_var, sizeof(int64_t), (size_t)fl->bn.channels);
  }
  uint64_t counters[3];
  snprintf(name, sizeof name, "layer%d.counters", i);
  if (!rc)
    rc = spd__blob_get(r, name, counters, sizeof *counters, 3);
  if (!rc) {
    fl->samples_seen = counters[0];
    fl->sat_forward = counters[1];
    fl->sat_backward = counters[2];
  }
  return rc;
}

int spd__fx_net_get_state(spd_fx_net_t *net, spd__blob_reader_t *r) {
  int rc = 0;
  for (int i = 0; i < net->n_layers && !rc; i++) {
    int32_t fracs[3];
    rc = spd__blob_get(r, "plan.fracs", fracs, sizeof *fracs, 3);
    if (!rc)
      net->plan->layers[i] = (spd_layer_numerics_t){fracs[0], fracs[1], fracs[2]};
  }
  for (int i = 0; i < net->n_layers && !rc; i++)
    rc = get_layer(net, r, i);
  uint64_t sat[2];
  if (!rc)
    rc = spd__blob_get(r, "saturations", sat, sizeof *sat, 2);
  if (rc)
    return rc;
  spd__fx_net_apply_plan(net);
  net->sat_total = sat[0];
  net->sat = (uint32_t)sat[1];
  return 0;
}
