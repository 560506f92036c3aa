/* Concatenate: the inputs joined on the last axis (channels). */
#include "nn/layers/layers.h"

static int infer(spd_ctx_t *ctx, const spd_layer_config_t *cfg,
                        const spd_shape_t *const *inputs, int n, spd_shape_t *out) {
  if (n < 2)
    return spd__config_fail(ctx, cfg, "Concatenate needs at least 2 inputs");
  const spd_shape_t *a = inputs[0];
  if (a->rank < 1)
    return spd__shape_fail(ctx, cfg, a, "Concatenate needs rank >= 1");
  int64_t total = 0;
  for (int i = 0; i < n; i++) {
    const spd_shape_t *b = inputs[i];
    bool same = b->rank == a->rank;
    for (int d = 0; same && d < a->rank - 1; d++)
      same = a->dims[d] == b->dims[d];
    if (!same) {
      char sa[96], sb[96];
      spd_shape_format(a, sa, sizeof sa);
      spd_shape_format(b, sb, sizeof sb);
      return spd_ctx_fail(ctx, SPD_ESHAPE,
                          "layer '%s' (Concatenate): input 0 has shape %s but input %d has %s "
                          "(all axes but the last must agree)", cfg->name, sa, i, sb);
    }
    total += b->dims[b->rank - 1];
  }
  if (total > INT32_MAX)
    return spd__config_fail(ctx, cfg, "the joined axis is longer than 2^31-1");
  *out = *a;
  out->dims[out->rank - 1] = (int32_t)total;
  return 0;
}

static int keras_read(spd__kjr_t *r, const char *cls, const cJSON *c, const char *name,
                      spd_layer_config_t *o) {
  (void)cls;
  (void)o;
  int32_t axis = -1;
  int err = spd__kjr_int(r, c, name, "axis", false, &axis);
  if (!err && axis != -1)
    err = spd_ctx_fail(spd__kjr_ctx(r), SPD_EUNSUPPORTED,
                       "Keras JSON: layer '%s': Concatenate axis=%d (spindle joins the last "
                       "axis, -1)", name, (int)axis);
  return err;
}

static void keras_write(spd__kjw_t *w, const spd_layer_t *l) {
  (void)l;
  spd__kjw_int(w, "axis", -1);
}

/* The channel counts of a Concatenate's inputs and the number of positions
 * (rows of channels) they share, for the batch. */
static spd_concat_params_t concat_params(const spd_ref_t *ref, const spd_layer_t *layer) {
  spd_concat_params_t p = {.n_inputs = layer->n_inbound};
  const spd_shape_t *out = &layer->output_shape;
  p.rows = spd_shape_size(out) / (size_t)spd__last_dim(out) * (size_t)ref->batch;
  for (int k = 0; k < layer->n_inbound; k++)
    p.channels[k] = spd__last_dim(&ref->model->layers[layer->inbound[k]].output_shape);
  return p;
}

static void forward(spd_ref_t *ref, int i, bool training) {
  (void)training;
  const spd_layer_t *layer = &ref->model->layers[i];
  const float *inputs[SPD_MAX_INBOUND];
  for (int k = 0; k < layer->n_inbound; k++)
    inputs[k] = spd__ref_input_of(ref, layer, k);
  spd_concat_params_t p = concat_params(ref, layer);
  spd_concat_forward(ref->layers[i].out, inputs, &p);
}

static void backward(spd_ref_t *ref, int i, const float *dz_ready) {
  (void)dz_ready;
  const spd_layer_t *layer = &ref->model->layers[i];
  float *dins[SPD_MAX_INBOUND];
  for (int k = 0; k < layer->n_inbound; k++)
    dins[k] = spd__ref_input_grad_of(ref, layer, k);
  spd_concat_params_t p = concat_params(ref, layer);
  spd_concat_backward(dins, ref->layers[i].dout, &p);
}

const spd_layer_op_t spd__op_CONCATENATE = {
    .keras = "Concatenate",
    .snake = "concatenate",
    .min_inputs = 2,
    .infer = infer,
    .keras_read = keras_read,
    .keras_write = keras_write,
    .ref_forward = forward,
    .ref_backward = backward,
};
