/* Flatten and Reshape: the same values in the same order, another shape. */
#include "nn/layers/layers.h"

static int infer_flatten(spd_ctx_t *ctx, const spd_layer_config_t *cfg,
                         const spd_shape_t *const *inputs, int n, spd_shape_t *out) {
  (void)n;
  const spd_shape_t *in = inputs[0];
  int64_t count = spd__checked_product(in->dims, in->rank);
  if (count < 0)
    return spd__too_many(ctx, cfg, "output", "a flattened input", in->dims, in->rank);
  out->rank = 1;
  out->dims[0] = (int32_t)count;
  return 0;
}

static int infer_reshape(spd_ctx_t *ctx, const spd_layer_config_t *cfg,
                         const spd_shape_t *in, spd_shape_t *out) {
  const spd_shape_t *t = &cfg->target_shape;
  if (t->rank < 1 || t->rank > SPD_MAX_RANK)
    return spd__config_fail(ctx, cfg, "target_shape must have 1 to 5 dimensions");
  int64_t known = 1;
  int unknown = -1;
  for (int i = 0; i < t->rank; i++) {
    if (t->dims[i] == -1 && unknown < 0)
      unknown = i;
    else if (t->dims[i] <= 0)
      return spd__config_fail(ctx, cfg, "target_shape dimensions must be positive (one may be -1)");
    else if (known > SPD_MAX_ELEMENTS / t->dims[i])
      return spd__too_many(ctx, cfg, "target_shape", "a shape", t->dims, t->rank);
    else
      known *= t->dims[i];
  }
  int64_t total = (int64_t)spd_shape_size(in);
  *out = *t;
  if (unknown >= 0) {
    if (total % known)
      return spd__shape_fail(ctx, cfg, in, "cannot reshape: size not divisible by target_shape");
    out->dims[unknown] = (int32_t)(total / known);
  } else if (known != total) {
    char why[96];
    snprintf(why, sizeof why, "cannot reshape %lld elements into %lld", (long long)total,
             (long long)known);
    return spd__shape_fail(ctx, cfg, in, why);
  }
  return 0;
}

static int infer(spd_ctx_t *ctx, const spd_layer_config_t *cfg, const spd_shape_t *const *in,
                 int n, spd_shape_t *out) {
  (void)n;
  return infer_reshape(ctx, cfg, in[0], out);
}

static int keras_read(spd__kjr_t *r, const char *cls, const cJSON *c, const char *n,
                      spd_layer_config_t *o) {
  (void)cls;
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "target_shape");
  int k = cJSON_GetArraySize(t);
  if (!spd__kjr_present(t))
    return spd_ctx_fail(spd__kjr_ctx(r), SPD_EFORMAT,
                        "Keras JSON: layer '%s': missing required field 'target_shape'", n);
  if (!cJSON_IsArray(t) || k < 1 || k > SPD_MAX_RANK)
    return spd__kjr_bad_field(r, n, "target_shape", "a list of 1 to 5 integers");
  o->target_shape.rank = k;
  for (int i = 0; i < k; i++) {
    const cJSON *v = cJSON_GetArrayItem(t, i);
    if (!spd__kjr_is_int(v) || (v->valuedouble < 1 && v->valuedouble != -1))
      return spd__kjr_bad_field(r, n, "target_shape", "a list of positive integers (one may be -1)");
    o->target_shape.dims[i] = (int32_t)v->valuedouble;
  }
  return 0;
}

static void write_flatten(spd__kjw_t *w, const spd_layer_t *l) {
  (void)l;
  spd__kjw_str(w, "data_format", "channels_last");
}

static void write_reshape(spd__kjw_t *w, const spd_layer_t *l) {
  spd__kjw_ints(w, "target_shape", l->config.target_shape.dims, l->config.target_shape.rank);
}

static void forward(spd_ref_t *ref, int i, bool training) {
  (void)training;
  const spd_layer_t *layer = &ref->model->layers[i];
  spd_reshape_forward(ref->layers[i].out, spd__ref_input_of(ref, layer, 0),
                      ref->layers[i].out_size * (size_t)ref->batch);
}

static void backward(spd_ref_t *ref, int i, const float *dz_ready) {
  (void)dz_ready;
  const spd_layer_t *layer = &ref->model->layers[i];
  float *din = spd__ref_input_grad_of(ref, layer, 0);
  if (din)
    spd_reshape_backward(din, ref->layers[i].dout, ref->layers[i].out_size * (size_t)ref->batch);
}

/* The fixed-point reference aliases a mover's tensors to its input's. */
const spd_layer_op_t spd__op_FLATTEN = {
    .keras = "Flatten",
    .snake = "flatten",
    .traits = SPD_OP_MOVER | SPD_OP_KERAS_BUILD,
    .min_inputs = 1,
    .machine = SPD_OPM_PASS,
    .infer = infer_flatten,
    .keras_write = write_flatten,
    .ref_forward = forward,
    .ref_backward = backward,
};

const spd_layer_op_t spd__op_RESHAPE = {
    .keras = "Reshape",
    .snake = "reshape",
    .traits = SPD_OP_MOVER,
    .min_inputs = 1,
    .machine = SPD_OPM_PASS,
    .infer = infer,
    .keras_read = keras_read,
    .keras_write = write_reshape,
    .ref_forward = forward,
    .ref_backward = backward,
};
