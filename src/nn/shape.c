/* Shapes: size, comparison, Keras formatting and per-kind inference. */
#include "nn/shape.h"

#include "nn/layer_op.h"

#include <stdio.h>
#include <string.h>

size_t spd_shape_size(const spd_shape_t *s) {
  size_t n = 1;
  for (int i = 0; i < s->rank; i++)
    n *= (size_t)s->dims[i];
  return n;
}

bool spd_shape_equal(const spd_shape_t *a, const spd_shape_t *b) {
  if (a->rank != b->rank)
    return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i])
      return false;
  return true;
}

void spd_shape_format(const spd_shape_t *s, char *buf, size_t size) {
  if (size == 0)
    return;
  size_t used = (size_t)snprintf(buf, size, "(None");
  for (int i = 0; i < s->rank && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, ", %d", (int)s->dims[i]);
  if (used < size)
    snprintf(buf + used, size - used, s->rank == 0 ? ",)" : ")");
}

/* The window arithmetic runs in 64 bits: n + s - 1 and d * (k - 1) pass
 * 2^31 for strides, kernels or dilations near INT32_MAX. Shape inference
 * refuses spans that do not fit in 32 bits, so the results always fit. */
int32_t spd__window_out(int32_t n, int32_t k, int32_t s, int32_t d, spd_padding_t padding) {
  if (padding == SPD_PAD_SAME)
    return (int32_t)(((int64_t)n + s - 1) / s);
  int64_t span = (int64_t)d * (k - 1) + 1;
  if (n < span)
    return 0;
  return (int32_t)((n - span) / s + 1);
}

int32_t spd__window_pad_before(int32_t n, int32_t k, int32_t s, int32_t d,
                               spd_padding_t padding) {
  if (padding != SPD_PAD_SAME)
    return 0;
  int64_t out = spd__window_out(n, k, s, d, padding);
  int64_t total = (out - 1) * s + (int64_t)d * (k - 1) + 1 - n;
  return total > 0 ? (int32_t)(total / 2) : 0;
}

int32_t spd__layer_pad_before(const spd_layer_config_t *c, int axis, int32_t n, int32_t k,
                              int32_t s, int32_t d) {
  if (c->padding == SPD_PAD_EXPLICIT)
    return c->pads[axis];
  return spd__window_pad_before(n, k, s, d, c->padding);
}

/* Output length with explicit pads: floor((n + pads - span) / s) + 1, or
 * ceil as PyTorch's ceil_mode, whose last window must start inside the
 * input or the leading padding. */
static int32_t explicit_out(int64_t n, int64_t before, int64_t after, int64_t span, int64_t s,
                            bool ceil_mode) {
  int64_t room = n + before + after - span;
  if (room < 0)
    return 0;
  int64_t out = (ceil_mode ? (room + s - 1) / s : room / s) + 1;
  if (ceil_mode && (out - 1) * s >= n + before)
    out--;
  return out > INT32_MAX ? INT32_MAX : (int32_t)out;
}

int spd__shape_fail(spd_ctx_t *ctx, const spd_layer_config_t *cfg,
                      const spd_shape_t *in, const char *why) {
  char shape[96];
  spd_shape_format(in, shape, sizeof shape);
  return spd_ctx_fail(ctx, SPD_ESHAPE, "layer '%s' (%s): input shape %s: %s", cfg->name,
                      spd_layer_kind_name(cfg->kind), shape, why);
}

int spd__config_fail(spd_ctx_t *ctx, const spd_layer_config_t *cfg, const char *why) {
  return spd_ctx_fail(ctx, SPD_EINVAL, "layer '%s' (%s): %s", cfg->name,
                      spd_layer_kind_name(cfg->kind), why);
}

/* The product of @p n factors, or -1 when it passes SPD_MAX_ELEMENTS. */
int64_t spd__checked_product(const int32_t *dims, int n) {
  int64_t p = 1;
  for (int i = 0; i < n; i++) {
    if (dims[i] < 0 || (dims[i] > 0 && p > SPD_MAX_ELEMENTS / dims[i]))
      return -1;
    p *= dims[i];
  }
  return p;
}

int spd__too_many(spd_ctx_t *ctx, const spd_layer_config_t *cfg, const char *field,
                    const char *what, const int32_t *dims, int n) {
  char prod[160];
  size_t used = 0;
  prod[0] = '\0';
  for (int i = 0; i < n && used < sizeof prod; i++)
    used += (size_t)snprintf(prod + used, sizeof prod - used, "%s%d", i ? " x " : "",
                             (int)dims[i]);
  return spd_ctx_fail(ctx, SPD_EINVAL,
                      "layer '%s' (%s): %s: %s of %s elements is more than 2^31-1",
                      cfg->name, spd_layer_kind_name(cfg->kind), field, what, prod);
}

int spd__check_activation(spd_ctx_t *ctx, const spd_layer_config_t *cfg) {
  if ((int)cfg->activation < 0 || cfg->activation >= SPD_ACT_COUNT)
    return spd__config_fail(ctx, cfg, "unknown activation");
  return 0;
}

int spd__field_fail(spd_ctx_t *ctx, const spd_layer_config_t *cfg, const char *field,
                      int32_t value, const char *why) {
  return spd_ctx_fail(ctx, SPD_EINVAL, "layer '%s' (%s): %s %d %s", cfg->name,
                      spd_layer_kind_name(cfg->kind), field, (int)value, why);
}

/* Spatial output sizes of a window layer over the first @p nd axes of @p in;
 * the last axis (channels) is kept or replaced by @p channels. */
int spd__infer_window(spd_ctx_t *ctx, const spd_layer_config_t *cfg,
                        const spd_shape_t *in, int nd, const int32_t *k, int32_t dil_apply,
                        int32_t channels, spd_shape_t *out) {
  if (in->rank != nd + 1)
    return spd__shape_fail(ctx, cfg, in, nd == 2 ? "expected rank 3 (rows, cols, channels)"
                                            : "expected rank 2 (steps, channels)");
  const char *k_field = dil_apply ? "kernel_size" : "pool_size";
  for (int i = 0; i < nd; i++) {
    int rc = 0;
    if (k[i] <= 0)
      rc = spd__field_fail(ctx, cfg, k_field, k[i], "must be positive");
    else if (cfg->strides[i] <= 0)
      rc = spd__field_fail(ctx, cfg, "strides", cfg->strides[i], "must be positive");
    else if (dil_apply && cfg->dilation_rate[i] <= 0)
      rc = spd__field_fail(ctx, cfg, "dilation_rate", cfg->dilation_rate[i], "must be positive");
    else if (dil_apply && (int64_t)cfg->dilation_rate[i] * (k[i] - 1) + 1 > SPD_MAX_ELEMENTS)
      rc = spd__field_fail(ctx, cfg, k_field, k[i],
                      "times dilation_rate spans more than 2^31-1 positions");
    if (rc)
      return rc;
  }
  if (cfg->padding != SPD_PAD_VALID && cfg->padding != SPD_PAD_SAME &&
      cfg->padding != SPD_PAD_EXPLICIT)
    return spd__config_fail(ctx, cfg, "padding must be 'valid' or 'same'");
  bool explicit_pads = cfg->padding == SPD_PAD_EXPLICIT;
  for (int i = 0; explicit_pads && i < nd; i++) {
    int32_t d = dil_apply ? cfg->dilation_rate[i] : 1;
    int64_t span = (int64_t)d * (k[i] - 1) + 1;
    for (int side = 0; side < 2; side++) {
      int32_t pad = cfg->pads[i + 2 * side];
      /* A pad as long as the window would make a window of padding only. */
      if (pad < 0 || pad >= span)
        return spd__field_fail(ctx, cfg, "pads", pad, "must be at least 0 and shorter than the window");
    }
  }
  out->rank = nd + 1;
  for (int i = 0; i < nd; i++) {
    int32_t d = dil_apply ? cfg->dilation_rate[i] : 1;
    int32_t o = explicit_pads
                    ? explicit_out(in->dims[i], cfg->pads[i], cfg->pads[i + 2],
                                   (int64_t)d * (k[i] - 1) + 1, cfg->strides[i], cfg->ceil_mode)
                    : spd__window_out(in->dims[i], k[i], cfg->strides[i], d, cfg->padding);
    if (o <= 0) {
      char why[128];
      snprintf(why, sizeof why, "window of %d (dilation %d) longer than axis %d of length %d",
               (int)k[i], (int)d, i + 1, (int)in->dims[i]);
      return spd__shape_fail(ctx, cfg, in, why);
    }
    out->dims[i] = o;
  }
  out->dims[nd] = channels > 0 ? channels : in->dims[nd];
  return 0;
}

int spd__layer_infer_shape(spd_ctx_t *ctx, const spd_layer_config_t *cfg,
                           const spd_shape_t *const *inputs, int n_inputs,
                           spd_shape_t *out) {
  spd_shape_t result = {0};
  const spd_layer_op_t *op = spd__layer_op(cfg->kind);
  int rc;
  if (!op)
    rc = spd__config_fail(ctx, cfg, "unknown layer kind");
  else if (op->min_inputs == 1 && n_inputs != 1)
    rc = spd__config_fail(ctx, cfg, "this layer takes exactly one input");
  else
    rc = op->infer(ctx, cfg, inputs, n_inputs, &result);
  if (rc == 0 && spd__checked_product(result.dims, result.rank) < 0)
    rc = spd__too_many(ctx, cfg, "output", "an output", result.dims, result.rank);
  if (rc == 0)
    *out = result;
  return rc;
}
