/* Each ONNX operator as spindle layers. NCHW values live channels last
 * (onnx_internal.h's layouts); weights are permuted here, once: Conv
 * (M, C/g, kh, kw) -> (kh, kw, C/g, M), Gemm rows of a flattened NCHW map
 * from C, H, W order to H, W, C order. Activations fold into the Dense or
 * Conv they follow when nothing else reads that layer's output. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "io/onnx_internal.h"
#include "nn/shape.h"

typedef int (*op_fn)(onnx_conv_t *cv, const Onnx__NodeProto *n);

static int fail_attr(onnx_conv_t *cv, const Onnx__NodeProto *n, const char *attr,
                     const char *why) {
  return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "attribute '%s': %s", attr, why);
}

/* Output 0 of @p n as the output of @p layer. */
static int define_layer_output(onnx_conv_t *cv, const Onnx__NodeProto *n, int layer,
                               onnx_layout_t layout, onnx_value_t **out) {
  if (!n->n_output)
    return spd__onnx_fail(cv, n, SPD_EFORMAT, "no output");
  onnx_value_t *v = spd__onnx_define(cv, n, n->output[0]);
  if (!v)
    return SPD_EFORMAT;
  int consumers = v->consumers;
  *v = (onnx_value_t){.name = n->output[0], .consumers = consumers, .kind = ONNX_V_LAYER,
                      .layer = layer, .layer_output = true, .layout = layout};
  if (out)
    *out = v;
  return 0;
}

/* Output 0 of @p n as the same values as @p from (Identity, folds). */
static int define_alias(onnx_conv_t *cv, const Onnx__NodeProto *n, const onnx_value_t *from) {
  if (!n->n_output)
    return spd__onnx_fail(cv, n, SPD_EFORMAT, "no output");
  onnx_value_t copy = *from;
  onnx_value_t *v = spd__onnx_define(cv, n, n->output[0]);
  if (!v)
    return SPD_EFORMAT;
  int consumers = v->consumers;
  *v = copy;
  v->name = n->output[0];
  v->consumers = consumers;
  v->layer_output = false;
  if (copy.kind == ONNX_V_CONST) { /* a constant's arrays get their own copy */
    v->f = spd_malloc(cv->ctx, (copy.count ? copy.count : 1) * sizeof *v->f);
    v->i = copy.i ? spd_malloc(cv->ctx, (copy.count ? copy.count : 1) * sizeof *v->i) : NULL;
    if (!v->f || (copy.i && !v->i))
      return spd__onnx_fail(cv, n, SPD_ENOMEM, "copying a constant");
    memcpy(v->f, copy.f, copy.count * sizeof *v->f);
    if (copy.i)
      memcpy(v->i, copy.i, copy.count * sizeof *v->i);
  }
  return 0;
}

/* Outputs past the first must be unused (Dropout's mask, MaxPool's indices,
 * BatchNormalization's training statistics). */
static int only_first_output(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  for (size_t o = 1; o < n->n_output; o++) {
    onnx_value_t *v = NULL;
    if (n->output[o] && n->output[o][0]) {
      for (size_t i = 0; i < cv->values_cap && !v; i++)
        if (cv->values[i].name && !strcmp(cv->values[i].name, n->output[o]))
          v = &cv->values[i];
      if (v && v->consumers)
        return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED,
                              "output %zu ('%s') is used: spindle computes only the first", o,
                              n->output[o]);
    }
  }
  return 0;
}

/* A layer value in the (spatial..., C) layout a window layer needs: a
 * squeezed (N, C, 1, 1) is reshaped back to (1, 1, C). */
static int spatial_input(onnx_conv_t *cv, const Onnx__NodeProto *n, onnx_value_t *v,
                         int *layer, int *nd) {
  const spd_shape_t *s = spd__onnx_shape(cv, v->layer);
  if (v->layout == ONNX_SQUEEZED) {
    spd_layer_config_t cfg;
    spd_layer_config_defaults(&cfg, SPD_LAYER_RESHAPE, NULL);
    cfg.target_shape = (spd_shape_t){.rank = 3, .dims = {1, 1, s->dims[0]}};
    *nd = 2;
    return spd__onnx_add_layer(cv, n, &cfg, &v->layer, 1, layer);
  }
  if (v->layout != ONNX_CL || s->rank < 2 || s->rank > 3)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED,
                          "input '%s' is not a (batch, channels, length) or (batch, channels, "
                          "rows, cols) map", v->name);
  *layer = v->layer;
  *nd = s->rank - 1;
  return 0;
}

/* kernel_shape, strides, pads, dilations and auto_pad of a window node into
 * @p cfg (@p k: the kernel's spatial sizes, from the weights or the
 * attribute); explicit pads become VALID or SAME when they are exactly
 * that. */
static int window_attrs(onnx_conv_t *cv, const Onnx__NodeProto *n, int nd, const int64_t *k,
                        const spd_shape_t *in, spd_layer_config_t *cfg, const int32_t *extra) {
  int64_t strides[2] = {1, 1}, dil[2] = {1, 1}, pads[4] = {0, 0, 0, 0};
  int count, rc;
  if ((rc = spd__onnx_attr_ints(cv, n, "strides", strides, 2, &count)))
    return rc;
  if (count && count != nd)
    return fail_attr(cv, n, "strides", "one value per spatial axis expected");
  if ((rc = spd__onnx_attr_ints(cv, n, "dilations", dil, 2, &count)))
    return rc;
  if (count && count != nd)
    return fail_attr(cv, n, "dilations", "one value per spatial axis expected");
  if ((rc = spd__onnx_attr_ints(cv, n, "pads", pads, 4, &count)))
    return rc;
  if (count && count != 2 * nd)
    return fail_attr(cv, n, "pads", "two values per spatial axis expected");
  char auto_pad[32];
  if ((rc = spd__onnx_attr_string(cv, n, "auto_pad", "NOTSET", auto_pad, sizeof auto_pad)))
    return rc;
  for (int i = 0; i < nd; i++) {
    if (strides[i] < 1 || strides[i] > ONNX_MAX_ELEMENTS || dil[i] < 1 ||
        dil[i] > ONNX_MAX_ELEMENTS || k[i] < 1 || k[i] > ONNX_MAX_ELEMENTS)
      return spd__onnx_fail(cv, n, SPD_EFORMAT,
                            "kernel %lld, stride %lld, dilation %lld: each must be from 1 to "
                            "2^31-1", (long long)k[i], (long long)strides[i], (long long)dil[i]);
    cfg->strides[i] = (int32_t)strides[i];
    cfg->dilation_rate[i] = (int32_t)dil[i];
  }
  bool same_upper = !strcmp(auto_pad, "SAME_UPPER"), same_lower = !strcmp(auto_pad, "SAME_LOWER");
  if (!same_upper && !same_lower && strcmp(auto_pad, "VALID") && strcmp(auto_pad, "NOTSET"))
    return fail_attr(cv, n, "auto_pad", "must be NOTSET, VALID, SAME_UPPER or SAME_LOWER");
  int32_t p[4] = {0, 0, 0, 0};
  for (int i = 0; i < nd; i++) {
    int32_t same_before = spd__window_pad_before(in->dims[i], (int32_t)k[i], cfg->strides[i],
                                                 cfg->dilation_rate[i], SPD_PAD_SAME);
    int32_t out = spd__window_out(in->dims[i], (int32_t)k[i], cfg->strides[i],
                                  cfg->dilation_rate[i], SPD_PAD_SAME);
    int64_t total = (int64_t)(out - 1) * cfg->strides[i] +
                    (int64_t)cfg->dilation_rate[i] * (k[i] - 1) + 1 - in->dims[i];
    total = total > 0 ? total : 0;
    if (same_upper || same_lower) {
      p[i] = same_upper ? same_before : (int32_t)(total - same_before);
      p[i + 2] = (int32_t)(total - p[i]);
    } else if (strcmp(auto_pad, "VALID")) {
      for (int side = 0; side < 2; side++) {
        int64_t v = pads[i + side * nd];
        if (v < 0 || v > ONNX_MAX_ELEMENTS)
          return fail_attr(cv, n, "pads", "negative or absurd padding");
        p[i + 2 * side] = (int32_t)v;
      }
    }
    p[i] += extra ? extra[i] : 0;
    p[i + 2] += extra ? extra[i + 2] : 0;
  }
  /* ceil_mode that adds no window (the division is exact) is no ceil_mode. */
  bool ceil_adds = false;
  for (int i = 0; cfg->ceil_mode && i < nd; i++) {
    int64_t room = (int64_t)in->dims[i] + p[i] + p[i + 2] - cfg->dilation_rate[i] * (k[i] - 1) - 1;
    ceil_adds = ceil_adds || (room >= 0 && room % cfg->strides[i] != 0 &&
                              (room / cfg->strides[i] + 1) * cfg->strides[i] < in->dims[i] + p[i]);
  }
  cfg->ceil_mode = ceil_adds;
  bool zero = true, same = !cfg->ceil_mode;
  for (int i = 0; i < nd; i++) {
    int32_t before = spd__window_pad_before(in->dims[i], (int32_t)k[i], cfg->strides[i],
                                            cfg->dilation_rate[i], SPD_PAD_SAME);
    int32_t out = spd__window_out(in->dims[i], (int32_t)k[i], cfg->strides[i],
                                  cfg->dilation_rate[i], SPD_PAD_SAME);
    int64_t total = (int64_t)(out - 1) * cfg->strides[i] +
                    (int64_t)cfg->dilation_rate[i] * (k[i] - 1) + 1 - in->dims[i];
    total = total > 0 ? total : 0;
    zero = zero && !p[i] && !p[i + 2];
    same = same && p[i] == before && p[i + 2] == total - before;
  }
  /* Keras's windows refuse strides with dilation; explicit ones take both. */
  for (int i = 0; i < nd; i++)
    if (cfg->strides[i] > 1 && cfg->dilation_rate[i] > 1)
      zero = same = false;
  memcpy(cfg->pads, p, sizeof p);
  cfg->padding = zero && !cfg->ceil_mode ? SPD_PAD_VALID
                 : same                  ? SPD_PAD_SAME
                                         : SPD_PAD_EXPLICIT;
  return 0;
}

static float *conv_kernel(onnx_conv_t *cv, const onnx_value_t *w, int nd) {
  int64_t m = w->dims[0], c = w->dims[1], kh = w->dims[2], kw = nd == 2 ? w->dims[3] : 1;
  float *k = spd_malloc(cv->ctx, (w->count ? w->count : 1) * sizeof *k);
  if (!k)
    return NULL;
  for (int64_t o = 0; o < m; o++)
    for (int64_t i = 0; i < c; i++)
      for (int64_t y = 0; y < kh; y++)
        for (int64_t x = 0; x < kw; x++)
          k[((y * kw + x) * c + i) * m + o] = w->f[((o * c + i) * kh + y) * kw + x];
  return k;
}

static float *copy_floats(onnx_conv_t *cv, const float *src, size_t count, float scale) {
  float *d = spd_malloc(cv->ctx, (count ? count : 1) * sizeof *d);
  if (d)
    for (size_t i = 0; i < count; i++)
      d[i] = src[i] * scale;
  return d;
}

/* Drop the file's copy of constant @p v once its only reader took it (the
 * weights of VGG are 500 MB). */
static void release(onnx_conv_t *cv, onnx_value_t *v) {
  if (v && v->kind == ONNX_V_CONST && v->consumers == 1) {
    spd_free(cv->ctx, v->f);
    spd_free(cv->ctx, v->i);
    v->f = NULL;
    v->i = NULL;
    v->count = 0;
  }
}

static int weight(onnx_conv_t *cv, const Onnx__NodeProto *n, int layer, const char *param,
                  float *data, size_t count) {
  if (!data)
    return spd__onnx_fail(cv, n, SPD_ENOMEM, "weights of %zu values", count);
  return spd__onnx_weight(cv, layer, param, data, count);
}

static int op_conv(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  onnx_value_t *x, *w, *b;
  int rc = spd__onnx_input(cv, n, 0, ONNX_V_LAYER, &x);
  if (!rc)
    rc = spd__onnx_input(cv, n, 1, ONNX_V_CONST, &w);
  if (!rc)
    rc = spd__onnx_input(cv, n, 2, 0, &b);
  int in_layer, nd;
  if (!rc)
    rc = spatial_input(cv, n, x, &in_layer, &nd);
  if (rc)
    return rc;
  const spd_shape_t *in = spd__onnx_shape(cv, in_layer);
  int64_t group;
  if ((rc = spd__onnx_attr_int(cv, n, "group", 1, &group)))
    return rc;
  int32_t cin = in->dims[nd];
  if (w->rank != nd + 2 || group < 1 || group > cin || w->dims[1] * group != cin)
    return spd__onnx_fail(cv, n, SPD_ESHAPE,
                          "weights of rank %d with %lld input channels per group x group %lld "
                          "do not fit an input of %d channels and %d spatial axes",
                          w->rank, w->rank > 1 ? (long long)w->dims[1] : 0LL, (long long)group,
                          (int)cin, nd);
  if (group > 1 && nd != 2)
    return fail_attr(cv, n, "group", "grouped 1-D convolutions are not supported");
  if (b && (b->kind != ONNX_V_CONST || b->count != (size_t)w->dims[0]))
    return spd__onnx_fail(cv, n, SPD_ESHAPE, "bias must be an initializer of %lld values",
                          (long long)w->dims[0]);
  int64_t ks[2] = {w->dims[2], nd == 2 ? w->dims[3] : 1}, attr_k[2];
  int count;
  if ((rc = spd__onnx_attr_ints(cv, n, "kernel_shape", attr_k, 2, &count)))
    return rc;
  for (int i = 0; i < count; i++)
    if (count != nd || attr_k[i] != ks[i])
      return fail_attr(cv, n, "kernel_shape", "does not match the weights");
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, nd == 2 ? SPD_LAYER_CONV2D : SPD_LAYER_CONV1D, NULL);
  cfg.filters = (int32_t)w->dims[0];
  cfg.groups = (int32_t)group;
  cfg.kernel_size[0] = (int32_t)ks[0];
  cfg.kernel_size[1] = (int32_t)ks[1];
  cfg.use_bias = b != NULL;
  if ((rc = window_attrs(cv, n, nd, ks, in, &cfg, x->padded ? x->pads : NULL)))
    return rc;
  int layer;
  if ((rc = spd__onnx_add_layer(cv, n, &cfg, &in_layer, 1, &layer)))
    return rc;
  if ((rc = weight(cv, n, layer, "kernel", conv_kernel(cv, w, nd), w->count)))
    return rc;
  if (b && (rc = weight(cv, n, layer, "bias", copy_floats(cv, b->f, b->count, 1.0f), b->count)))
    return rc;
  release(cv, w);
  return define_layer_output(cv, n, layer, ONNX_CL, NULL);
}

/* A flat (batch, features) input of a Dense layer, and the row order its
 * kernel must follow. */
static int flat_input(onnx_conv_t *cv, const Onnx__NodeProto *n, const onnx_value_t *x) {
  if (x->layout == ONNX_CL && spd__onnx_shape(cv, x->layer)->rank != 1)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED,
                          "input '%s' is a map: spindle's Dense takes (batch, features)", x->name);
  return 0;
}

/* Kernel (K, M) from B (K, M), or (M, K) when @p trans, times alpha, rows
 * moved from C, H, W to H, W, C order when @p x was flattened from NCHW. */
static float *dense_kernel(onnx_conv_t *cv, const onnx_value_t *x, const onnx_value_t *b,
                           bool trans, float alpha) {
  int64_t k_n = trans ? b->dims[1] : b->dims[0], m_n = trans ? b->dims[0] : b->dims[1];
  float *k = spd_malloc(cv->ctx, (b->count ? b->count : 1) * sizeof *k);
  if (!k)
    return NULL;
  int64_t c_n = x->chw[0], hw = (int64_t)x->chw[1] * x->chw[2];
  for (int64_t r = 0; r < k_n; r++) {
    int64_t row = r; /* row of spindle's kernel: the position of ONNX feature r */
    if (x->layout == ONNX_FLAT_HWC)
      row = (r % hw) * c_n + r / hw;
    for (int64_t o = 0; o < m_n; o++)
      k[row * m_n + o] = alpha * (trans ? b->f[o * k_n + r] : b->f[r * m_n + o]);
  }
  return k;
}

static int add_dense(onnx_conv_t *cv, const Onnx__NodeProto *n, const onnx_value_t *x,
                     onnx_value_t *b, bool trans, float alpha, const onnx_value_t *c,
                     float beta) {
  int rc = flat_input(cv, n, x);
  if (rc)
    return rc;
  int64_t features = (int64_t)spd_shape_size(spd__onnx_shape(cv, x->layer));
  int64_t k_n = b->rank == 2 ? (trans ? b->dims[1] : b->dims[0]) : -1;
  int64_t m_n = b->rank == 2 ? (trans ? b->dims[0] : b->dims[1]) : -1;
  if (b->rank != 2 || k_n != features || m_n < 1)
    return spd__onnx_fail(cv, n, SPD_ESHAPE,
                          "weights of rank %d do not take the input's %lld features", b->rank,
                          (long long)features);
  if (c && c->count != (size_t)m_n && c->count != 1)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED,
                          "C of %zu values: spindle's bias has one per output (%lld)", c->count,
                          (long long)m_n);
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, SPD_LAYER_DENSE, NULL);
  cfg.units = (int32_t)m_n;
  cfg.use_bias = c != NULL;
  int layer;
  if ((rc = spd__onnx_add_layer(cv, n, &cfg, &x->layer, 1, &layer)))
    return rc;
  if ((rc = weight(cv, n, layer, "kernel", dense_kernel(cv, x, b, trans, alpha), b->count)))
    return rc;
  release(cv, b);
  if (c) {
    float *bias = spd_malloc(cv->ctx, (size_t)m_n * sizeof *bias);
    for (int64_t o = 0; bias && o < m_n; o++)
      bias[o] = beta * c->f[c->count == 1 ? 0 : o];
    if ((rc = weight(cv, n, layer, "bias", bias, (size_t)m_n)))
      return rc;
  }
  return define_layer_output(cv, n, layer, ONNX_FLAT, NULL);
}

static int op_gemm(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  onnx_value_t *a, *b, *c;
  int rc = spd__onnx_input(cv, n, 0, ONNX_V_LAYER, &a);
  if (!rc)
    rc = spd__onnx_input(cv, n, 1, ONNX_V_CONST, &b);
  if (!rc)
    rc = spd__onnx_input(cv, n, 2, 0, &c);
  if (!rc && c && c->kind != ONNX_V_CONST)
    rc = spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "C must be an initializer");
  int64_t trans_a, trans_b;
  float alpha, beta;
  if (!rc)
    rc = spd__onnx_attr_int(cv, n, "transA", 0, &trans_a);
  if (!rc)
    rc = spd__onnx_attr_int(cv, n, "transB", 0, &trans_b);
  if (!rc)
    rc = spd__onnx_attr_float(cv, n, "alpha", 1.0f, &alpha);
  if (!rc)
    rc = spd__onnx_attr_float(cv, n, "beta", 1.0f, &beta);
  if (!rc && trans_a)
    rc = fail_attr(cv, n, "transA", "1: the samples must be the rows of A");
  if (rc)
    return rc;
  return add_dense(cv, n, a, b, trans_b != 0, alpha, c, beta);
}

static int op_matmul(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  onnx_value_t *a, *b;
  int rc = spd__onnx_input(cv, n, 0, ONNX_V_LAYER, &a);
  if (!rc)
    rc = spd__onnx_input(cv, n, 1, ONNX_V_CONST, &b);
  return rc ? rc : add_dense(cv, n, a, b, false, 1.0f, NULL, 1.0f);
}

/* Add/Sum of computed values: an Add layer; Add of a Dense output without
 * bias and a constant: that bias (MatMul + Add). */
static int op_add(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  if (n->n_input < 1 || n->n_input > SPD_MAX_INBOUND)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "%zu inputs (1 to %d)", n->n_input,
                          SPD_MAX_INBOUND);
  onnx_value_t *in[SPD_MAX_INBOUND];
  int consts = 0;
  for (size_t k = 0; k < n->n_input; k++) {
    int rc = spd__onnx_input(cv, n, k, -1, &in[k]);
    if (rc)
      return rc;
    consts += in[k]->kind == ONNX_V_CONST;
  }
  if (n->n_input == 1)
    return define_alias(cv, n, in[0]);
  if (consts) {
    onnx_value_t *x = in[0]->kind == ONNX_V_CONST ? in[1] : in[0];
    onnx_value_t *c = in[0]->kind == ONNX_V_CONST ? in[0] : in[1];
    spd_layer_t *l = x->kind == ONNX_V_LAYER ? &cv->m->layers[x->layer] : NULL;
    if (n->n_input != 2 || consts != 1 || !l || l->config.kind != SPD_LAYER_DENSE ||
        l->config.use_bias || !x->layer_output || x->consumers != 1 ||
        (c->count != (size_t)l->config.units && c->count != 1))
      return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED,
                            "adding a constant is supported only as the bias of the MatMul "
                            "before it");
    l->config.use_bias = true;
    float *bias = spd_malloc(cv->ctx, (size_t)l->config.units * sizeof *bias);
    for (int32_t o = 0; bias && o < l->config.units; o++)
      bias[o] = c->f[c->count == 1 ? 0 : o];
    int rc = weight(cv, n, x->layer, "bias", bias, (size_t)l->config.units);
    return rc ? rc : define_layer_output(cv, n, x->layer, x->layout, NULL);
  }
  int inbound[SPD_MAX_INBOUND];
  for (size_t k = 0; k < n->n_input; k++) {
    if (in[k]->layout != in[0]->layout || in[k]->padded)
      return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "inputs of different layouts");
    inbound[k] = in[k]->layer;
  }
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, SPD_LAYER_ADD, NULL);
  int layer, rc = spd__onnx_add_layer(cv, n, &cfg, inbound, (int)n->n_input, &layer);
  return rc ? rc : define_layer_output(cv, n, layer, in[0]->layout, NULL);
}

static int op_concat(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  if (n->n_input < 1 || n->n_input > SPD_MAX_INBOUND)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "%zu inputs (1 to %d)", n->n_input,
                          SPD_MAX_INBOUND);
  int64_t axis;
  int rc = spd__onnx_attr_int(cv, n, "axis", 1, &axis);
  if (rc)
    return rc;
  onnx_value_t *in[SPD_MAX_INBOUND];
  int inbound[SPD_MAX_INBOUND];
  for (size_t k = 0; k < n->n_input; k++) {
    if ((rc = spd__onnx_input(cv, n, k, ONNX_V_LAYER, &in[k])))
      return rc;
    int64_t dims[8];
    int rank = spd__onnx_value_dims(cv, in[k], dims);
    if (axis != 1 && axis != 1 - rank)
      return fail_attr(cv, n, "axis", "spindle joins on the channel axis (1) only");
    if (in[k]->layout != in[0]->layout || in[k]->layout == ONNX_FLAT_HWC || in[k]->padded)
      return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED,
                            "input '%s' is laid out unlike input 0 (or was flattened from a map)",
                            in[k]->name);
    inbound[k] = in[k]->layer;
  }
  if (n->n_input == 1)
    return define_alias(cv, n, in[0]);
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, SPD_LAYER_CONCATENATE, NULL);
  int layer;
  rc = spd__onnx_add_layer(cv, n, &cfg, inbound, (int)n->n_input, &layer);
  return rc ? rc : define_layer_output(cv, n, layer, in[0]->layout, NULL);
}

/* An activation: folded into the Dense/Conv it follows when that layer's
 * output is read by this node only, else an Activation layer. */
static int activation(onnx_conv_t *cv, const Onnx__NodeProto *n, spd_activation_t act,
                      float slope, float alpha) {
  onnx_value_t *x;
  int rc = spd__onnx_input(cv, n, 0, ONNX_V_LAYER, &x);
  if (rc)
    return rc;
  if (x->padded)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "follows a Pad (spindle folds a Pad only "
                                                   "into a Conv)");
  spd_layer_t *l = &cv->m->layers[x->layer];
  spd_layer_kind_t k = l->config.kind;
  bool weights = k == SPD_LAYER_DENSE || k == SPD_LAYER_CONV1D || k == SPD_LAYER_CONV2D;
  if (weights && x->layer_output && x->consumers == 1 &&
      l->config.activation == SPD_ACT_LINEAR) {
    l->config.activation = act;
    l->config.negative_slope = slope;
    l->config.elu_alpha = alpha;
    return define_layer_output(cv, n, x->layer, x->layout, NULL);
  }
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, SPD_LAYER_ACTIVATION, NULL);
  cfg.activation = act;
  cfg.negative_slope = slope;
  cfg.elu_alpha = alpha;
  int layer;
  rc = spd__onnx_add_layer(cv, n, &cfg, &x->layer, 1, &layer);
  if (rc)
    return rc;
  onnx_value_t *out;
  rc = define_layer_output(cv, n, layer, x->layout, &out);
  if (!rc)
    memcpy(out->chw, x->chw, sizeof out->chw);
  return rc;
}

static int op_relu(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  return activation(cv, n, SPD_ACT_RELU, 0.2f, 1.0f);
}
static int op_sigmoid(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  return activation(cv, n, SPD_ACT_SIGMOID, 0.2f, 1.0f);
}
static int op_tanh(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  return activation(cv, n, SPD_ACT_TANH, 0.2f, 1.0f);
}

static int op_leaky_relu(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  float alpha;
  int rc = spd__onnx_attr_float(cv, n, "alpha", 0.01f, &alpha);
  return rc ? rc : activation(cv, n, SPD_ACT_LEAKY_RELU, alpha, 1.0f);
}

static int op_elu(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  float alpha;
  int rc = spd__onnx_attr_float(cv, n, "alpha", 1.0f, &alpha);
  return rc ? rc : activation(cv, n, SPD_ACT_ELU, 0.2f, alpha);
}

static int op_softmax(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  onnx_value_t *x;
  int64_t axis;
  int rc = spd__onnx_input(cv, n, 0, ONNX_V_LAYER, &x);
  if (!rc)
    rc = spd__onnx_attr_int(cv, n, "axis", cv->opset >= 13 ? -1 : 1, &axis);
  if (rc)
    return rc;
  int64_t dims[8];
  int rank = spd__onnx_value_dims(cv, x, dims);
  if (axis < 0)
    axis += rank;
  /* spindle's softmax runs over the channels (the last axis it holds):
   * ONNX's axis 1 of (N, C) or of a map when opset >= 13 (one axis), or
   * the last axis of a (N, C) before opset 13 (the flattened rest). */
  bool channels = axis == 1 && (rank == 2 || cv->opset >= 13 || x->layout == ONNX_SQUEEZED);
  if (!channels || x->layout == ONNX_FLAT_HWC)
    return fail_attr(cv, n, "axis", "spindle's softmax runs over the channel axis only");
  return activation(cv, n, SPD_ACT_SOFTMAX, 0.2f, 1.0f);
}

/* Clip(0, 6) is ReLU6 and Clip(0, inf) ReLU; bounds from attributes before
 * opset 11, from constant inputs after. */
static int op_clip(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  float lo = -INFINITY, hi = INFINITY;
  int rc = 0;
  if (cv->opset < 11) {
    rc = spd__onnx_attr_float(cv, n, "min", -INFINITY, &lo);
    if (!rc)
      rc = spd__onnx_attr_float(cv, n, "max", INFINITY, &hi);
  } else {
    onnx_value_t *vlo, *vhi;
    rc = spd__onnx_input(cv, n, 1, 0, &vlo);
    if (!rc)
      rc = spd__onnx_input(cv, n, 2, 0, &vhi);
    if (!rc && ((vlo && (vlo->kind != ONNX_V_CONST || vlo->count != 1)) ||
                (vhi && (vhi->kind != ONNX_V_CONST || vhi->count != 1))))
      rc = spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "min and max must be constant scalars");
    if (!rc && vlo)
      lo = vlo->f[0];
    if (!rc && vhi)
      hi = vhi->f[0];
  }
  if (rc)
    return rc;
  if (lo == 0.0f && hi == 6.0f)
    return activation(cv, n, SPD_ACT_RELU6, 0.2f, 1.0f);
  if (lo == 0.0f && isinf(hi) && hi > 0)
    return activation(cv, n, SPD_ACT_RELU, 0.2f, 1.0f);
  return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED,
                        "Clip to [%g, %g]: spindle has ReLU (0, inf) and ReLU6 (0, 6)", lo, hi);
}

static int pool(onnx_conv_t *cv, const Onnx__NodeProto *n, bool max) {
  onnx_value_t *x;
  int rc = spd__onnx_input(cv, n, 0, ONNX_V_LAYER, &x);
  if (!rc)
    rc = only_first_output(cv, n);
  if (!rc && x->padded)
    rc = spd__onnx_fail(cv, n, SPD_EUNSUPPORTED,
                        "follows a Pad: pooling over zero padding is not spindle's pooling");
  int in_layer, nd;
  if (!rc)
    rc = spatial_input(cv, n, x, &in_layer, &nd);
  if (rc)
    return rc;
  int64_t k[2] = {1, 1}, ceil_mode, include_pad, dil[2];
  int count, dil_count;
  if ((rc = spd__onnx_attr_ints(cv, n, "kernel_shape", k, 2, &count)))
    return rc;
  if (count != nd)
    return fail_attr(cv, n, "kernel_shape", "one value per spatial axis is required");
  if ((rc = spd__onnx_attr_int(cv, n, "ceil_mode", 0, &ceil_mode)) ||
      (rc = spd__onnx_attr_int(cv, n, "count_include_pad", 0, &include_pad)) ||
      (rc = spd__onnx_attr_ints(cv, n, "dilations", dil, 2, &dil_count)))
    return rc;
  for (int i = 0; i < dil_count; i++)
    if (dil[i] != 1)
      return fail_attr(cv, n, "dilations", "dilated pooling is not supported");
  const spd_shape_t *in = spd__onnx_shape(cv, in_layer);
  /* A 1x1 window of stride 1 without padding (adaptive pooling to the size
   * the map already has) copies its input. */
  int64_t strides[2] = {1, 1}, pads[4] = {0, 0, 0, 0};
  int sc, pc;
  if ((rc = spd__onnx_attr_ints(cv, n, "strides", strides, 2, &sc)) ||
      (rc = spd__onnx_attr_ints(cv, n, "pads", pads, 4, &pc)))
    return rc;
  if (k[0] == 1 && k[1] == 1 && strides[0] == 1 && strides[1] == 1 && !pads[0] && !pads[1] &&
      !pads[2] && !pads[3] && !spd__onnx_attr(n, "auto_pad"))
    return define_alias(cv, n, x);
  spd_layer_config_t cfg;
  spd_layer_kind_t kind = max ? (nd == 2 ? SPD_LAYER_MAXPOOL2D : SPD_LAYER_MAXPOOL1D)
                              : (nd == 2 ? SPD_LAYER_AVGPOOL2D : SPD_LAYER_AVGPOOL1D);
  spd_layer_config_defaults(&cfg, kind, NULL);
  cfg.ceil_mode = ceil_mode != 0;
  for (int i = 0; i < nd; i++)
    cfg.pool_size[i] = k[i] > 0 && k[i] <= ONNX_MAX_ELEMENTS ? (int32_t)k[i] : 0;
  if ((rc = window_attrs(cv, n, nd, k, in, &cfg, NULL)))
    return rc;
  if (!max && include_pad && cfg.padding != SPD_PAD_VALID)
    return fail_attr(cv, n, "count_include_pad", "1 with padding: spindle averages over the "
                                                 "input's positions only");
  int layer;
  rc = spd__onnx_add_layer(cv, n, &cfg, &in_layer, 1, &layer);
  return rc ? rc : define_layer_output(cv, n, layer, ONNX_CL, NULL);
}

static int op_maxpool(onnx_conv_t *cv, const Onnx__NodeProto *n) { return pool(cv, n, true); }
static int op_avgpool(onnx_conv_t *cv, const Onnx__NodeProto *n) { return pool(cv, n, false); }

static int op_global_avgpool(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  onnx_value_t *x;
  int rc = spd__onnx_input(cv, n, 0, ONNX_V_LAYER, &x);
  if (rc)
    return rc;
  if (x->layout == ONNX_SQUEEZED)
    return define_alias(cv, n, x);
  if (x->layout != ONNX_CL || spd__onnx_shape(cv, x->layer)->rank != 3 || x->padded)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED,
                          "spindle pools globally over (batch, channels, rows, cols) maps only");
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, SPD_LAYER_GLOBALAVGPOOL2D, NULL);
  int layer;
  rc = spd__onnx_add_layer(cv, n, &cfg, &x->layer, 1, &layer);
  return rc ? rc : define_layer_output(cv, n, layer, ONNX_SQUEEZED, NULL);
}

static int op_batchnorm(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  onnx_value_t *x, *p[4];
  int rc = spd__onnx_input(cv, n, 0, ONNX_V_LAYER, &x);
  for (int k = 0; k < 4 && !rc; k++)
    rc = spd__onnx_input(cv, n, (size_t)k + 1, ONNX_V_CONST, &p[k]);
  if (!rc)
    rc = only_first_output(cv, n);
  float eps, momentum;
  int64_t training;
  if (!rc)
    rc = spd__onnx_attr_float(cv, n, "epsilon", 1e-5f, &eps);
  if (!rc)
    rc = spd__onnx_attr_float(cv, n, "momentum", 0.9f, &momentum);
  if (!rc)
    rc = spd__onnx_attr_int(cv, n, "training_mode", 0, &training);
  if (!rc && training)
    rc = fail_attr(cv, n, "training_mode", "1: spindle reads inference graphs");
  int64_t spatial; /* opsets before 9: 0 normalises every value separately */
  if (!rc)
    rc = spd__onnx_attr_int(cv, n, "spatial", 1, &spatial);
  if (!rc && !spatial)
    rc = fail_attr(cv, n, "spatial", "0: spindle normalises per channel");
  if (rc)
    return rc;
  if (x->layout == ONNX_FLAT_HWC || x->padded)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "input flattened from a map");
  const spd_shape_t *s = spd__onnx_shape(cv, x->layer);
  size_t c = (size_t)s->dims[s->rank - 1];
  for (int k = 0; k < 4; k++)
    if (p[k]->count != c)
      return spd__onnx_fail(cv, n, SPD_ESHAPE, "input %d has %zu values for %zu channels", k + 1,
                            p[k]->count, c);
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, SPD_LAYER_BATCHNORM, NULL);
  cfg.epsilon = eps;
  cfg.momentum = momentum;
  int layer;
  if ((rc = spd__onnx_add_layer(cv, n, &cfg, &x->layer, 1, &layer)))
    return rc;
  static const char *const names[4] = {"gamma", "beta", "moving_mean", "moving_variance"};
  for (int k = 0; k < 4; k++)
    if ((rc = weight(cv, n, layer, names[k], copy_floats(cv, p[k]->f, c, 1.0f), c)))
      return rc;
  return define_layer_output(cv, n, layer, x->layout, NULL);
}

/* (batch, C, spatial...) -> (batch, C * prod(spatial)) */
static int flatten_value(onnx_conv_t *cv, const Onnx__NodeProto *n, onnx_value_t *x) {
  if (x->padded)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "follows a Pad");
  const spd_shape_t *s = spd__onnx_shape(cv, x->layer);
  if (x->layout != ONNX_CL || s->rank == 1) {
    onnx_value_t flat = *x;
    flat.layout = x->layout == ONNX_SQUEEZED || x->layout == ONNX_CL ? ONNX_FLAT : x->layout;
    return define_alias(cv, n, &flat);
  }
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, SPD_LAYER_FLATTEN, NULL);
  int layer;
  int rc = spd__onnx_add_layer(cv, n, &cfg, &x->layer, 1, &layer);
  onnx_value_t *out;
  if (!rc)
    rc = define_layer_output(cv, n, layer, ONNX_FLAT_HWC, &out);
  if (rc)
    return rc;
  out->chw[0] = s->dims[s->rank - 1];
  out->chw[1] = s->dims[0];
  out->chw[2] = s->rank == 3 ? s->dims[1] : 1;
  if (spd_shape_size(s) == (size_t)out->chw[0])
    out->layout = ONNX_FLAT; /* 1x1 maps: both orders agree */
  return 0;
}

static int op_flatten(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  onnx_value_t *x;
  int64_t axis;
  int rc = spd__onnx_input(cv, n, 0, ONNX_V_LAYER, &x);
  if (!rc)
    rc = spd__onnx_attr_int(cv, n, "axis", 1, &axis);
  if (rc)
    return rc;
  if (axis != 1)
    return fail_attr(cv, n, "axis", "spindle flattens everything but the batch (axis 1)");
  return flatten_value(cv, n, x);
}

static int op_reshape(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  onnx_value_t *x, *shape;
  int rc = spd__onnx_input(cv, n, 0, ONNX_V_LAYER, &x);
  if (!rc)
    rc = spd__onnx_input(cv, n, 1, ONNX_V_CONST, &shape);
  if (rc)
    return rc;
  if (!shape->i || shape->count > 8)
    return spd__onnx_fail(cv, n, SPD_EFORMAT, "the shape input is not a short list of ints");
  int64_t dims[8];
  int rank = spd__onnx_value_dims(cv, x, dims);
  int64_t total = 1;
  for (int i = 1; i < rank; i++)
    total *= dims[i];
  /* The only reshapes spindle folds: to (batch, features), with the batch
   * given as 0, -1, 1 or the features as -1; or to the shape it has. */
  bool flat = shape->count == 2 && (shape->i[1] == -1 || shape->i[1] == total) &&
              (shape->i[0] == 0 || shape->i[0] == 1 || shape->i[0] == -1) &&
              !(shape->i[0] == -1 && shape->i[1] == -1);
  bool same = (int)shape->count == rank;
  for (int i = 1; same && i < rank; i++)
    same = shape->i[i] == dims[i] || shape->i[i] == 0;
  if (same)
    return define_alias(cv, n, x);
  if (!flat)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED,
                          "reshaping to a %zu-value shape: spindle folds only a flatten to "
                          "(batch, features)", shape->count);
  return flatten_value(cv, n, x);
}

static int op_lrn(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  onnx_value_t *x;
  int64_t size;
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, SPD_LAYER_LRN, NULL);
  int rc = spd__onnx_input(cv, n, 0, ONNX_V_LAYER, &x);
  if (!rc)
    rc = spd__onnx_attr_int(cv, n, "size", 0, &size);
  if (!rc)
    rc = spd__onnx_attr_float(cv, n, "alpha", 1e-4f, &cfg.lrn_alpha);
  if (!rc)
    rc = spd__onnx_attr_float(cv, n, "beta", 0.75f, &cfg.lrn_beta);
  if (!rc)
    rc = spd__onnx_attr_float(cv, n, "bias", 1.0f, &cfg.lrn_bias);
  if (rc)
    return rc;
  if (size < 1 || size > 1 << 20)
    return fail_attr(cv, n, "size", "must be from 1 to 2^20");
  if (x->layout == ONNX_FLAT_HWC || x->padded)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "input flattened from a map, or padded");
  cfg.lrn_size = (int32_t)size;
  int layer;
  rc = spd__onnx_add_layer(cv, n, &cfg, &x->layer, 1, &layer);
  return rc ? rc : define_layer_output(cv, n, layer, x->layout, NULL);
}

static int op_dropout(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  onnx_value_t *x, *ratio = NULL;
  float rate = 0.5f;
  int rc = spd__onnx_input(cv, n, 0, ONNX_V_LAYER, &x);
  if (!rc)
    rc = only_first_output(cv, n);
  if (!rc && cv->opset < 12)
    rc = spd__onnx_attr_float(cv, n, "ratio", 0.5f, &rate);
  else if (!rc)
    rc = spd__onnx_input(cv, n, 1, 0, &ratio);
  if (rc)
    return rc;
  if (ratio && (ratio->kind != ONNX_V_CONST || ratio->count != 1))
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "ratio must be a constant scalar");
  if (ratio)
    rate = ratio->f[0];
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, SPD_LAYER_DROPOUT, NULL);
  cfg.rate = rate;
  int layer;
  rc = spd__onnx_add_layer(cv, n, &cfg, &x->layer, 1, &layer);
  onnx_value_t *out;
  if (!rc)
    rc = define_layer_output(cv, n, layer, x->layout, &out);
  if (!rc)
    memcpy(out->chw, x->chw, sizeof out->chw);
  return rc;
}

static int op_identity(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  onnx_value_t *x;
  int rc = spd__onnx_input(cv, n, 0, -1, &x);
  return rc ? rc : define_alias(cv, n, x);
}

static int op_constant(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  if (!n->n_output)
    return spd__onnx_fail(cv, n, SPD_EFORMAT, "no output");
  const Onnx__AttributeProto *a = spd__onnx_attr(n, "value");
  onnx_value_t *v = spd__onnx_define(cv, n, n->output[0]);
  if (!v)
    return SPD_EFORMAT;
  if (a && a->t) {
    v->kind = ONNX_V_CONST;
    return spd__onnx_tensor(cv, a->t, n->output[0], v);
  }
  const Onnx__AttributeProto *fa = spd__onnx_attr(n, "value_float");
  const Onnx__AttributeProto *fs = spd__onnx_attr(n, "value_floats");
  const Onnx__AttributeProto *ia = spd__onnx_attr(n, "value_int");
  const Onnx__AttributeProto *is = spd__onnx_attr(n, "value_ints");
  size_t count = fa || ia ? 1 : fs ? fs->n_floats : is ? is->n_ints : 0;
  v->kind = ONNX_V_CONST;
  v->rank = fa || ia ? 0 : 1;
  v->dims[0] = (int64_t)count;
  v->count = count;
  v->f = spd_malloc(cv->ctx, (count ? count : 1) * sizeof *v->f);
  v->i = spd_malloc(cv->ctx, (count ? count : 1) * sizeof *v->i);
  if (!v->f || !v->i)
    return spd__onnx_fail(cv, n, SPD_ENOMEM, "a constant of %zu values", count);
  if (!fa && !fs && !ia && !is)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED,
                          "no value, value_float(s) or value_int(s) attribute");
  for (size_t k = 0; k < count; k++) {
    v->f[k] = fa ? fa->f : fs ? fs->floats[k] : (float)(ia ? ia->i : is->ints[k]);
    v->i[k] = ia ? ia->i : is ? is->ints[k] : (int64_t)v->f[k];
  }
  return 0;
}

/* A zero Pad of the spatial axes, kept for the Conv that reads it. */
static int op_pad(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  onnx_value_t *x;
  int rc = spd__onnx_input(cv, n, 0, ONNX_V_LAYER, &x);
  if (rc)
    return rc;
  char mode[32];
  if ((rc = spd__onnx_attr_string(cv, n, "mode", "constant", mode, sizeof mode)))
    return rc;
  if (strcmp(mode, "constant"))
    return fail_attr(cv, n, "mode", "only constant (zero) padding");
  int64_t pads[8] = {0};
  int count = 0;
  float value = 0.0f;
  if (cv->opset < 11) {
    if ((rc = spd__onnx_attr_ints(cv, n, "pads", pads, 8, &count)) ||
        (rc = spd__onnx_attr_float(cv, n, "value", 0.0f, &value)))
      return rc;
  } else {
    onnx_value_t *p, *v;
    if ((rc = spd__onnx_input(cv, n, 1, ONNX_V_CONST, &p)) ||
        (rc = spd__onnx_input(cv, n, 2, 0, &v)))
      return rc;
    if (p->count > 8 || (v && (v->kind != ONNX_V_CONST || v->count != 1)))
      return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "pads or value of an unexpected size");
    count = (int)p->count;
    memcpy(pads, p->i, p->count * sizeof *pads);
    value = v ? v->f[0] : 0.0f;
  }
  if (n->n_input > 3)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "axes input");
  int64_t dims[8];
  int rank = spd__onnx_value_dims(cv, x, dims);
  if (value != 0.0f || count != 2 * rank || x->layout != ONNX_CL || rank < 3 || x->padded)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED,
                          "spindle folds only zero padding of the spatial axes of a map");
  onnx_value_t padded = *x;
  padded.padded = true;
  for (int i = 0; i < 2 * rank; i++) {
    int axis = i % rank;
    if (pads[i] < 0 || pads[i] > 1 << 20 || (axis < 2 && pads[i]))
      return fail_attr(cv, n, "pads", "negative, absurd, or on the batch or channel axis");
    if (axis >= 2)
      padded.pads[(axis - 2) + (i >= rank ? 2 : 0)] = (int32_t)pads[i];
  }
  return define_alias(cv, n, &padded);
}

/* Transpose of a constant (a weight stored transposed): computed now. */
static int transpose_const(onnx_conv_t *cv, const Onnx__NodeProto *n, const onnx_value_t *x,
                           const int64_t *perm, int count) {
  int64_t p[8];
  for (int i = 0; i < x->rank; i++) {
    p[i] = count ? perm[i] : x->rank - 1 - i;
    if (p[i] < 0 || p[i] >= x->rank)
      return fail_attr(cv, n, "perm", "an axis out of range");
  }
  if (count && count != x->rank)
    return fail_attr(cv, n, "perm", "one axis per dimension expected");
  onnx_value_t t = {.kind = ONNX_V_CONST, .rank = x->rank, .count = x->count};
  int64_t in_stride[8], idx[8] = {0};
  for (int i = x->rank - 1, s = 1; i >= 0; s *= (int)x->dims[i], i--)
    in_stride[i] = s;
  for (int i = 0; i < x->rank; i++)
    t.dims[i] = x->dims[p[i]];
  t.f = spd_malloc(cv->ctx, (x->count ? x->count : 1) * sizeof *t.f);
  if (!t.f)
    return spd__onnx_fail(cv, n, SPD_ENOMEM, "a constant of %zu values", x->count);
  for (size_t k = 0; k < x->count; k++) { /* idx walks the output in order */
    int64_t src = 0;
    for (int i = 0; i < x->rank; i++)
      src += idx[i] * in_stride[p[i]];
    t.f[k] = x->f[src];
    for (int i = x->rank - 1; i >= 0 && ++idx[i] == t.dims[i]; i--)
      idx[i] = 0;
  }
  int rc = define_alias(cv, n, &t);
  spd_free(cv->ctx, t.f);
  return rc;
}

static int op_transpose(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  onnx_value_t *x;
  int rc = spd__onnx_input(cv, n, 0, -1, &x);
  if (rc)
    return rc;
  int64_t perm[8];
  int count;
  if ((rc = spd__onnx_attr_ints(cv, n, "perm", perm, 8, &count)))
    return rc;
  if (x->kind == ONNX_V_CONST)
    return transpose_const(cv, n, x, perm, count);
  int64_t dims[8];
  int rank = spd__onnx_value_dims(cv, x, dims);
  /* Axes of length 1 may move freely: what stays is a layout change only
   * when the other axes keep their order. */
  int64_t last = -1;
  bool order_kept = count == rank || count == 0;
  for (int i = 0; i < count && order_kept; i++) {
    if (perm[i] < 0 || perm[i] >= rank)
      return fail_attr(cv, n, "perm", "an axis out of range");
    if (dims[perm[i]] != 1) {
      order_kept = perm[i] > last;
      last = perm[i];
    }
  }
  if (count == 0 && rank > 1)
    order_kept = false;
  if (!order_kept)
    return fail_attr(cv, n, "perm", "moves data: spindle folds only transposes that keep the "
                                    "values in place");
  return define_alias(cv, n, x);
}

/* Unsqueeze/Squeeze of axes of length 1 after the batch and channels: the
 * same values in a new shape (a Reshape layer when the held shape
 * changes). */
static int squeeze(onnx_conv_t *cv, const Onnx__NodeProto *n, bool insert) {
  onnx_value_t *x, *axes_in = NULL;
  int rc = spd__onnx_input(cv, n, 0, ONNX_V_LAYER, &x);
  int64_t axes[8];
  int count = 0;
  if (!rc && cv->opset < 13)
    rc = spd__onnx_attr_ints(cv, n, "axes", axes, 8, &count);
  else if (!rc)
    rc = spd__onnx_input(cv, n, 1, insert ? ONNX_V_CONST : 0, &axes_in);
  if (rc)
    return rc;
  if (axes_in) {
    if (axes_in->kind != ONNX_V_CONST || !axes_in->i || axes_in->count > 8)
      return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "axes must be a short constant list");
    count = (int)axes_in->count;
    memcpy(axes, axes_in->i, (size_t)count * sizeof *axes);
  }
  if (x->layout == ONNX_FLAT_HWC || x->padded)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "input flattened from a map, or padded");
  int64_t dims[8], out[8];
  int rank = spd__onnx_value_dims(cv, x, dims), out_rank = insert ? rank + count : 0;
  bool marked[8] = {false};
  for (int i = 0; i < count; i++) {
    int64_t a = axes[i] < 0 ? axes[i] + (insert ? out_rank : rank) : axes[i];
    if (a < 2 || a >= (insert ? out_rank : rank) || marked[a] || (!insert && dims[a] != 1))
      return fail_attr(cv, n, "axes", "spindle moves only axes of length 1 after the batch "
                                      "and the channels");
    marked[a] = true;
  }
  if (insert) {
    for (int i = 0, j = 0; i < out_rank; i++)
      out[i] = marked[i] ? 1 : dims[j++];
  } else {
    for (int i = 0; i < rank; i++)
      if (!(count ? marked[i] : i >= 2 && dims[i] == 1))
        out[out_rank++] = dims[i];
  }
  if (out_rank < 2 || out_rank > 4)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "a result of rank %d", out_rank);
  spd_shape_t target = {.rank = out_rank - 1};
  for (int i = 2; i < out_rank; i++)
    target.dims[i - 2] = (int32_t)out[i];
  target.dims[out_rank - 2] = (int32_t)out[1];
  onnx_value_t moved = *x;
  moved.layout = out_rank == 2 ? ONNX_FLAT : ONNX_CL;
  if (spd_shape_equal(&target, spd__onnx_shape(cv, x->layer)))
    return define_alias(cv, n, &moved);
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, SPD_LAYER_RESHAPE, NULL);
  cfg.target_shape = target;
  int layer;
  rc = spd__onnx_add_layer(cv, n, &cfg, &x->layer, 1, &layer);
  return rc ? rc : define_layer_output(cv, n, layer, moved.layout, NULL);
}

static int op_unsqueeze(onnx_conv_t *cv, const Onnx__NodeProto *n) { return squeeze(cv, n, true); }
static int op_squeeze(onnx_conv_t *cv, const Onnx__NodeProto *n) { return squeeze(cv, n, false); }

typedef struct op_entry {
  const char *name;
  op_fn fn;
} op_entry_t;

static const op_entry_t ops[] = {
    {"Conv", op_conv},
    {"Gemm", op_gemm},
    {"MatMul", op_matmul},
    {"Add", op_add},
    {"Sum", op_add},
    {"Concat", op_concat},
    {"Relu", op_relu},
    {"LeakyRelu", op_leaky_relu},
    {"Elu", op_elu},
    {"Sigmoid", op_sigmoid},
    {"Tanh", op_tanh},
    {"Softmax", op_softmax},
    {"Clip", op_clip},
    {"MaxPool", op_maxpool},
    {"AveragePool", op_avgpool},
    {"GlobalAveragePool", op_global_avgpool},
    {"BatchNormalization", op_batchnorm},
    {"Flatten", op_flatten},
    {"Reshape", op_reshape},
    {"Pad", op_pad},
    {"Dropout", op_dropout},
    {"LRN", op_lrn},
    {"Identity", op_identity},
    {"Constant", op_constant},
    {"Transpose", op_transpose},
    {"Unsqueeze", op_unsqueeze},
    {"Squeeze", op_squeeze},
};

static const op_entry_t *find_op(const char *name) {
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (!strcmp(ops[i].name, name))
      return &ops[i];
  return NULL;
}

bool spd__onnx_op_known(const char *op_type) { return find_op(op_type) != NULL; }

int spd__onnx_convert_node(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  const op_entry_t *op = find_op(n->op_type);
  if (!op)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "operator not supported");
  return op->fn(cv, n);
}
