/* The ONNX operators that slide windows over maps: Conv (with a Pad folded
 * in), MaxPool, AveragePool, GlobalAveragePool, and Pad itself, which waits
 * for its Conv. Explicit pads become Keras's valid or same when they are
 * exactly that, so the model keeps a Keras form where it can. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "io/onnx_internal.h"
#include "nn/shape.h"

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
    return spd__onnx_fail_attr(cv, n, "strides", "one value per spatial axis expected");
  if ((rc = spd__onnx_attr_ints(cv, n, "dilations", dil, 2, &count)))
    return rc;
  if (count && count != nd)
    return spd__onnx_fail_attr(cv, n, "dilations", "one value per spatial axis expected");
  if ((rc = spd__onnx_attr_ints(cv, n, "pads", pads, 4, &count)))
    return rc;
  if (count && count != 2 * nd)
    return spd__onnx_fail_attr(cv, n, "pads", "two values per spatial axis expected");
  char auto_pad[32];
  if ((rc = spd__onnx_attr_string(cv, n, "auto_pad", "NOTSET", auto_pad, sizeof auto_pad)))
    return rc;
  for (int i = 0; i < nd; i++) {
    if (strides[i] < 1 || strides[i] > ONNX_MAX_ELEMENTS || dil[i] < 1 ||
        dil[i] > ONNX_MAX_ELEMENTS || k[i] < 1 || k[i] > ONNX_MAX_ELEMENTS)
      return spd__onnx_fail(cv, n, SPD_EFORMAT,
                            "kernel %lld, stride %lld, dilation %lld: each must be from 1 to "
                            "2^31-1",
                            (long long)k[i], (long long)strides[i], (long long)dil[i]);
    cfg->strides[i] = (int32_t)strides[i];
    cfg->dilation_rate[i] = (int32_t)dil[i];
  }
  bool same_upper = !strcmp(auto_pad, "SAME_UPPER"), same_lower = !strcmp(auto_pad, "SAME_LOWER");
  if (!same_upper && !same_lower && strcmp(auto_pad, "VALID") && strcmp(auto_pad, "NOTSET"))
    return spd__onnx_fail_attr(cv, n, "auto_pad",
                               "must be NOTSET, VALID, SAME_UPPER or SAME_LOWER");
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
          return spd__onnx_fail_attr(cv, n, "pads", "negative or absurd padding");
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
  cfg->padding = zero && !cfg->ceil_mode ? SPD_PAD_VALID : same ? SPD_PAD_SAME : SPD_PAD_EXPLICIT;
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

/* A layer value in the (spatial..., C) layout a window layer needs: a
 * squeezed (N, C, 1, 1) is reshaped back to (1, 1, C). */
static int spatial_input(onnx_conv_t *cv, const Onnx__NodeProto *n, onnx_value_t *v, int *layer,
                         int *nd) {
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
                          "rows, cols) map",
                          v->name);
  *layer = v->layer;
  *nd = s->rank - 1;
  return 0;
}

int spd__onnx_op_conv(onnx_conv_t *cv, const Onnx__NodeProto *n) {
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
    return spd__onnx_fail_attr(cv, n, "group", "grouped 1-D convolutions are not supported");
  if (b && (b->kind != ONNX_V_CONST || b->count != (size_t)w->dims[0]))
    return spd__onnx_fail(cv, n, SPD_ESHAPE, "bias must be an initializer of %lld values",
                          (long long)w->dims[0]);
  int64_t ks[2] = {w->dims[2], nd == 2 ? w->dims[3] : 1}, attr_k[2];
  int count;
  if ((rc = spd__onnx_attr_ints(cv, n, "kernel_shape", attr_k, 2, &count)))
    return rc;
  for (int i = 0; i < count; i++)
    if (count != nd || attr_k[i] != ks[i])
      return spd__onnx_fail_attr(cv, n, "kernel_shape", "does not match the weights");
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
  if ((rc = spd__onnx_keep_weight(cv, n, layer, "kernel", conv_kernel(cv, w, nd), w->count)))
    return rc;
  if (b && (rc = spd__onnx_keep_weight(cv, n, layer, "bias",
                                       spd__onnx_copy_floats(cv, b->f, b->count, 1.0f), b->count)))
    return rc;
  spd__onnx_release(cv, w);
  return spd__onnx_define_output(cv, n, layer, ONNX_CL, NULL);
}

static int pool(onnx_conv_t *cv, const Onnx__NodeProto *n, bool max) {
  onnx_value_t *x;
  int rc = spd__onnx_input(cv, n, 0, ONNX_V_LAYER, &x);
  if (!rc)
    rc = spd__onnx_only_first_output(cv, n);
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
    return spd__onnx_fail_attr(cv, n, "kernel_shape", "one value per spatial axis is required");
  if ((rc = spd__onnx_attr_int(cv, n, "ceil_mode", 0, &ceil_mode)) ||
      (rc = spd__onnx_attr_int(cv, n, "count_include_pad", 0, &include_pad)) ||
      (rc = spd__onnx_attr_ints(cv, n, "dilations", dil, 2, &dil_count)))
    return rc;
  for (int i = 0; i < dil_count; i++)
    if (dil[i] != 1)
      return spd__onnx_fail_attr(cv, n, "dilations", "dilated pooling is not supported");
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
    return spd__onnx_define_alias(cv, n, x);
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
    return spd__onnx_fail_attr(cv, n, "count_include_pad",
                               "1 with padding: spindle averages over the "
                               "input's positions only");
  int layer;
  rc = spd__onnx_add_layer(cv, n, &cfg, &in_layer, 1, &layer);
  return rc ? rc : spd__onnx_define_output(cv, n, layer, ONNX_CL, NULL);
}

int spd__onnx_op_maxpool(onnx_conv_t *cv, const Onnx__NodeProto *n) { return pool(cv, n, true); }

int spd__onnx_op_avgpool(onnx_conv_t *cv, const Onnx__NodeProto *n) { return pool(cv, n, false); }

int spd__onnx_op_global_avgpool(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  onnx_value_t *x;
  int rc = spd__onnx_input(cv, n, 0, ONNX_V_LAYER, &x);
  if (rc)
    return rc;
  if (x->layout == ONNX_SQUEEZED)
    return spd__onnx_define_alias(cv, n, x);
  if (x->layout != ONNX_CL || spd__onnx_shape(cv, x->layer)->rank != 3 || x->padded)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED,
                          "spindle pools globally over (batch, channels, rows, cols) maps only");
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, SPD_LAYER_GLOBALAVGPOOL2D, NULL);
  int layer;
  rc = spd__onnx_add_layer(cv, n, &cfg, &x->layer, 1, &layer);
  return rc ? rc : spd__onnx_define_output(cv, n, layer, ONNX_SQUEEZED, NULL);
}

/* A zero Pad of the spatial axes, kept for the Conv that reads it. */
int spd__onnx_op_pad(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  onnx_value_t *x;
  int rc = spd__onnx_input(cv, n, 0, ONNX_V_LAYER, &x);
  if (rc)
    return rc;
  char mode[32];
  if ((rc = spd__onnx_attr_string(cv, n, "mode", "constant", mode, sizeof mode)))
    return rc;
  if (strcmp(mode, "constant"))
    return spd__onnx_fail_attr(cv, n, "mode", "only constant (zero) padding");
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
    if (p->count > 8 || (p->count && !p->i) || (v && (v->kind != ONNX_V_CONST || v->count != 1)))
      return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "pads or value of an unexpected size");
    count = (int)p->count;
    if (p->count)
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
      return spd__onnx_fail_attr(cv, n, "pads",
                                 "negative, absurd, or on the batch or channel axis");
    if (axis >= 2)
      padded.pads[(axis - 2) + (i >= rank ? 2 : 0)] = (int32_t)pads[i];
  }
  return spd__onnx_define_alias(cv, n, &padded);
}
