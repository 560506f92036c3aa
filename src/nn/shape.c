/* Shapes: size, comparison, Keras formatting and per-kind inference. */
#include "nn/shape.h"

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

static int shape_fail(spd_ctx_t *ctx, const spd_layer_config_t *cfg,
                      const spd_shape_t *in, const char *why) {
  char shape[96];
  spd_shape_format(in, shape, sizeof shape);
  return spd_ctx_fail(ctx, SPD_ESHAPE, "layer '%s' (%s): input shape %s: %s", cfg->name,
                      spd_layer_kind_name(cfg->kind), shape, why);
}

static int config_fail(spd_ctx_t *ctx, const spd_layer_config_t *cfg, const char *why) {
  return spd_ctx_fail(ctx, SPD_EINVAL, "layer '%s' (%s): %s", cfg->name,
                      spd_layer_kind_name(cfg->kind), why);
}

/* Every tensor, per sample, and every weight tensor holds at most
 * SPD_MAX_ELEMENTS values: the executors index them with int and size_t
 * products of int32 dimensions, which must not wrap. */
#define SPD_MAX_ELEMENTS INT32_MAX

/* The product of @p n factors, or -1 when it passes SPD_MAX_ELEMENTS. */
static int64_t checked_product(const int32_t *dims, int n) {
  int64_t p = 1;
  for (int i = 0; i < n; i++) {
    if (dims[i] < 0 || (dims[i] > 0 && p > SPD_MAX_ELEMENTS / dims[i]))
      return -1;
    p *= dims[i];
  }
  return p;
}

static int too_many(spd_ctx_t *ctx, const spd_layer_config_t *cfg, const char *field,
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

static int check_activation(spd_ctx_t *ctx, const spd_layer_config_t *cfg) {
  if ((int)cfg->activation < 0 || cfg->activation >= SPD_ACT_COUNT)
    return config_fail(ctx, cfg, "unknown activation");
  return 0;
}

static int field_fail(spd_ctx_t *ctx, const spd_layer_config_t *cfg, const char *field,
                      int32_t value, const char *why) {
  return spd_ctx_fail(ctx, SPD_EINVAL, "layer '%s' (%s): %s %d %s", cfg->name,
                      spd_layer_kind_name(cfg->kind), field, (int)value, why);
}

static int infer_dense(spd_ctx_t *ctx, const spd_layer_config_t *cfg,
                       const spd_shape_t *in, spd_shape_t *out) {
  if (cfg->units <= 0)
    return config_fail(ctx, cfg, "units must be positive");
  if (in->rank < 1)
    return shape_fail(ctx, cfg, in, "Dense needs an input of rank >= 1");
  int32_t kernel[2] = {in->dims[in->rank - 1], cfg->units};
  if (checked_product(kernel, 2) < 0)
    return too_many(ctx, cfg, "units", "a kernel", kernel, 2);
  /* Keras's Dense acts on the last axis and keeps the others. */
  *out = *in;
  out->dims[out->rank - 1] = cfg->units;
  return check_activation(ctx, cfg);
}

/* Spatial output sizes of a window layer over the first @p nd axes of @p in;
 * the last axis (channels) is kept or replaced by @p channels. */
static int infer_window(spd_ctx_t *ctx, const spd_layer_config_t *cfg,
                        const spd_shape_t *in, int nd, const int32_t *k, int32_t dil_apply,
                        int32_t channels, spd_shape_t *out) {
  if (in->rank != nd + 1)
    return shape_fail(ctx, cfg, in, nd == 2 ? "expected rank 3 (rows, cols, channels)"
                                            : "expected rank 2 (steps, channels)");
  const char *k_field = dil_apply ? "kernel_size" : "pool_size";
  for (int i = 0; i < nd; i++) {
    int rc = 0;
    if (k[i] <= 0)
      rc = field_fail(ctx, cfg, k_field, k[i], "must be positive");
    else if (cfg->strides[i] <= 0)
      rc = field_fail(ctx, cfg, "strides", cfg->strides[i], "must be positive");
    else if (dil_apply && cfg->dilation_rate[i] <= 0)
      rc = field_fail(ctx, cfg, "dilation_rate", cfg->dilation_rate[i], "must be positive");
    else if (dil_apply && (int64_t)cfg->dilation_rate[i] * (k[i] - 1) + 1 > SPD_MAX_ELEMENTS)
      rc = field_fail(ctx, cfg, k_field, k[i],
                      "times dilation_rate spans more than 2^31-1 positions");
    if (rc)
      return rc;
  }
  if (cfg->padding != SPD_PAD_VALID && cfg->padding != SPD_PAD_SAME &&
      cfg->padding != SPD_PAD_EXPLICIT)
    return config_fail(ctx, cfg, "padding must be 'valid' or 'same'");
  bool explicit_pads = cfg->padding == SPD_PAD_EXPLICIT;
  for (int i = 0; explicit_pads && i < nd; i++) {
    int32_t d = dil_apply ? cfg->dilation_rate[i] : 1;
    int64_t span = (int64_t)d * (k[i] - 1) + 1;
    for (int side = 0; side < 2; side++) {
      int32_t pad = cfg->pads[i + 2 * side];
      /* A pad as long as the window would make a window of padding only. */
      if (pad < 0 || pad >= span)
        return field_fail(ctx, cfg, "pads", pad, "must be at least 0 and shorter than the window");
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
      return shape_fail(ctx, cfg, in, why);
    }
    out->dims[i] = o;
  }
  out->dims[nd] = channels > 0 ? channels : in->dims[nd];
  return 0;
}

static int infer_conv(spd_ctx_t *ctx, const spd_layer_config_t *cfg,
                      const spd_shape_t *in, int nd, spd_shape_t *out) {
  if (cfg->filters <= 0)
    return config_fail(ctx, cfg, "filters must be positive");
  /* Keras refuses both at once; ONNX's Conv (explicit windows) takes them. */
  for (int i = 0; i < nd; i++)
    if (cfg->strides[i] > 1 && cfg->dilation_rate[i] > 1 && cfg->padding != SPD_PAD_EXPLICIT)
      return config_fail(ctx, cfg,
                         "strides > 1 together with dilation_rate > 1 (Keras rejects it too)");
  int rc = infer_window(ctx, cfg, in, nd, cfg->kernel_size, 1, cfg->filters, out);
  if (rc)
    return rc;
  int32_t groups = cfg->groups > 0 ? cfg->groups : 1;
  if (cfg->groups < 0 || (groups > 1 && nd != 2))
    return field_fail(ctx, cfg, "groups", cfg->groups, "is not supported (Conv2D only, >= 1)");
  if (in->dims[nd] % groups || cfg->filters % groups)
    return field_fail(ctx, cfg, "groups", groups,
                      "must divide both the input channels and the filters");
  int32_t kernel[4] = {cfg->kernel_size[0], nd == 2 ? cfg->kernel_size[1] : 1,
                       in->dims[nd] / groups, cfg->filters};
  if (checked_product(kernel, 4) < 0)
    return too_many(ctx, cfg, "filters", "a kernel", kernel, 4);
  return check_activation(ctx, cfg);
}

static int infer_reshape(spd_ctx_t *ctx, const spd_layer_config_t *cfg,
                         const spd_shape_t *in, spd_shape_t *out) {
  const spd_shape_t *t = &cfg->target_shape;
  if (t->rank < 1 || t->rank > SPD_MAX_RANK)
    return config_fail(ctx, cfg, "target_shape must have 1 to 5 dimensions");
  int64_t known = 1;
  int unknown = -1;
  for (int i = 0; i < t->rank; i++) {
    if (t->dims[i] == -1 && unknown < 0)
      unknown = i;
    else if (t->dims[i] <= 0)
      return config_fail(ctx, cfg, "target_shape dimensions must be positive (one may be -1)");
    else if (known > SPD_MAX_ELEMENTS / t->dims[i])
      return too_many(ctx, cfg, "target_shape", "a shape", t->dims, t->rank);
    else
      known *= t->dims[i];
  }
  int64_t total = (int64_t)spd_shape_size(in);
  *out = *t;
  if (unknown >= 0) {
    if (total % known)
      return shape_fail(ctx, cfg, in, "cannot reshape: size not divisible by target_shape");
    out->dims[unknown] = (int32_t)(total / known);
  } else if (known != total) {
    char why[96];
    snprintf(why, sizeof why, "cannot reshape %lld elements into %lld", (long long)total,
             (long long)known);
    return shape_fail(ctx, cfg, in, why);
  }
  return 0;
}

static int infer_add(spd_ctx_t *ctx, const spd_layer_config_t *cfg,
                     const spd_shape_t *const *inputs, int n, spd_shape_t *out) {
  if (n < 2)
    return config_fail(ctx, cfg, "Add needs at least 2 inputs");
  for (int i = 1; i < n; i++) {
    if (!spd_shape_equal(inputs[0], inputs[i])) {
      char a[96], b[96];
      spd_shape_format(inputs[0], a, sizeof a);
      spd_shape_format(inputs[i], b, sizeof b);
      return spd_ctx_fail(ctx, SPD_ESHAPE, "layer '%s' (Add): input 0 has shape %s but input %d has %s",
                          cfg->name, a, i, b);
    }
  }
  *out = *inputs[0];
  return 0;
}

/* Concatenate joins on the last axis (channels in channels_last); every
 * other axis must agree. */
static int infer_concat(spd_ctx_t *ctx, const spd_layer_config_t *cfg,
                        const spd_shape_t *const *inputs, int n, spd_shape_t *out) {
  if (n < 2)
    return config_fail(ctx, cfg, "Concatenate needs at least 2 inputs");
  const spd_shape_t *a = inputs[0];
  if (a->rank < 1)
    return shape_fail(ctx, cfg, a, "Concatenate needs rank >= 1");
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
    return config_fail(ctx, cfg, "the joined axis is longer than 2^31-1");
  *out = *a;
  out->dims[out->rank - 1] = (int32_t)total;
  return 0;
}

static int infer_input(spd_ctx_t *ctx, const spd_layer_config_t *cfg, spd_shape_t *out) {
  const spd_shape_t *s = &cfg->input_shape;
  if (s->rank < 1 || s->rank > SPD_MAX_RANK)
    return config_fail(ctx, cfg, "input shape must have 1 to 5 dimensions");
  for (int i = 0; i < s->rank; i++)
    if (s->dims[i] <= 0)
      return config_fail(ctx, cfg, "input shape dimensions must be positive");
  if (checked_product(s->dims, s->rank) < 0)
    return too_many(ctx, cfg, "batch_input_shape", "an input", s->dims, s->rank);
  *out = *s;
  return 0;
}

static int infer_single(spd_ctx_t *ctx, const spd_layer_config_t *cfg,
                        const spd_shape_t *in, spd_shape_t *out) {
  switch (cfg->kind) {
  case SPD_LAYER_DENSE:
    return infer_dense(ctx, cfg, in, out);
  case SPD_LAYER_CONV1D:
    return infer_conv(ctx, cfg, in, 1, out);
  case SPD_LAYER_CONV2D:
    return infer_conv(ctx, cfg, in, 2, out);
  case SPD_LAYER_MAXPOOL1D:
  case SPD_LAYER_AVGPOOL1D:
    return infer_window(ctx, cfg, in, 1, cfg->pool_size, 0, 0, out);
  case SPD_LAYER_MAXPOOL2D:
  case SPD_LAYER_AVGPOOL2D:
    return infer_window(ctx, cfg, in, 2, cfg->pool_size, 0, 0, out);
  case SPD_LAYER_GLOBALAVGPOOL2D:
    if (in->rank != 3)
      return shape_fail(ctx, cfg, in, "expected rank 3 (rows, cols, channels)");
    out->rank = 1;
    out->dims[0] = in->dims[2];
    return 0;
  case SPD_LAYER_FLATTEN: {
    int64_t n = checked_product(in->dims, in->rank);
    if (n < 0)
      return too_many(ctx, cfg, "output", "a flattened input", in->dims, in->rank);
    out->rank = 1;
    out->dims[0] = (int32_t)n;
    return 0;
  }
  case SPD_LAYER_RESHAPE:
    return infer_reshape(ctx, cfg, in, out);
  case SPD_LAYER_ACTIVATION:
    *out = *in;
    return check_activation(ctx, cfg);
  case SPD_LAYER_DROPOUT:
    if (!(cfg->rate >= 0.0f && cfg->rate < 1.0f))
      return config_fail(ctx, cfg, "rate must be in [0, 1)");
    *out = *in;
    return 0;
  case SPD_LAYER_LRN:
    if (in->rank < 1)
      return shape_fail(ctx, cfg, in, "LRN needs rank >= 1");
    if (cfg->lrn_size < 1 || !(cfg->lrn_bias > 0.0f) || !(cfg->lrn_alpha >= 0.0f) ||
        !(cfg->lrn_beta >= 0.0f))
      return config_fail(ctx, cfg, "size must be >= 1, bias > 0, alpha and beta >= 0");
    *out = *in;
    return 0;
  case SPD_LAYER_BATCHNORM:
    if (in->rank < 1)
      return shape_fail(ctx, cfg, in, "BatchNormalization needs rank >= 1");
    if (!(cfg->epsilon > 0.0f) || !(cfg->momentum >= 0.0f && cfg->momentum <= 1.0f))
      return config_fail(ctx, cfg, "epsilon must be > 0 and momentum in [0, 1]");
    *out = *in;
    return 0;
  default:
    return config_fail(ctx, cfg, "unknown layer kind");
  }
}

int spd__layer_infer_shape(spd_ctx_t *ctx, const spd_layer_config_t *cfg,
                           const spd_shape_t *const *inputs, int n_inputs,
                           spd_shape_t *out) {
  spd_shape_t result = {0};
  int rc;
  if (cfg->kind == SPD_LAYER_INPUT)
    rc = infer_input(ctx, cfg, &result);
  else if (cfg->kind == SPD_LAYER_ADD)
    rc = infer_add(ctx, cfg, inputs, n_inputs, &result);
  else if (cfg->kind == SPD_LAYER_CONCATENATE)
    rc = infer_concat(ctx, cfg, inputs, n_inputs, &result);
  else if (n_inputs != 1)
    rc = config_fail(ctx, cfg, "this layer takes exactly one input");
  else
    rc = infer_single(ctx, cfg, inputs[0], &result);
  if (rc == 0 && checked_product(result.dims, result.rank) < 0)
    rc = too_many(ctx, cfg, "output", "an output", result.dims, result.rank);
  if (rc == 0)
    *out = result;
  return rc;
}
