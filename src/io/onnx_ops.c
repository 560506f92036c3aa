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

int spd__onnx_fail_attr(onnx_conv_t *cv, const Onnx__NodeProto *n, const char *attr,
                        const char *why) {
  return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "attribute '%s': %s", attr, why);
}

/* Output 0 of @p n as the output of @p layer. */
int spd__onnx_define_output(onnx_conv_t *cv, const Onnx__NodeProto *n, int layer,
                            onnx_layout_t layout, onnx_value_t **out) {
  if (!n->n_output)
    return spd__onnx_fail(cv, n, SPD_EFORMAT, "no output");
  onnx_value_t *v = spd__onnx_define(cv, n, n->output[0]);
  if (!v)
    return SPD_EFORMAT;
  int consumers = v->consumers;
  *v = (onnx_value_t){.name = n->output[0],
                      .consumers = consumers,
                      .kind = ONNX_V_LAYER,
                      .layer = layer,
                      .layer_output = true,
                      .layout = layout};
  if (out)
    *out = v;
  return 0;
}

/* Output 0 of @p n as the same values as @p from (Identity, folds). */
int spd__onnx_define_alias(onnx_conv_t *cv, const Onnx__NodeProto *n, const onnx_value_t *from) {
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
    if (copy.f) /* NULL once released to a weight (count 0) */
      memcpy(v->f, copy.f, copy.count * sizeof *v->f);
    if (copy.i)
      memcpy(v->i, copy.i, copy.count * sizeof *v->i);
  }
  return 0;
}

/* Outputs past the first must be unused (Dropout's mask, MaxPool's indices,
 * BatchNormalization's training statistics). */
int spd__onnx_only_first_output(onnx_conv_t *cv, const Onnx__NodeProto *n) {
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

float *spd__onnx_copy_floats(onnx_conv_t *cv, const float *src, size_t count, float scale) {
  float *d = spd_malloc(cv->ctx, (count ? count : 1) * sizeof *d);
  if (d)
    for (size_t i = 0; i < count; i++)
      d[i] = src[i] * scale;
  return d;
}

/* Drop the file's copy of constant @p v once its only reader took it (the
 * weights of VGG are 500 MB). */
void spd__onnx_release(onnx_conv_t *cv, onnx_value_t *v) {
  if (v && v->kind == ONNX_V_CONST && v->consumers == 1) {
    spd_free(cv->ctx, v->f);
    spd_free(cv->ctx, v->i);
    v->f = NULL;
    v->i = NULL;
    v->count = 0;
  }
}

int spd__onnx_keep_weight(onnx_conv_t *cv, const Onnx__NodeProto *n, int layer, const char *param,
                          float *data, size_t count) {
  if (!data)
    return spd__onnx_fail(cv, n, SPD_ENOMEM, "weights of %zu values", count);
  return spd__onnx_weight(cv, layer, param, data, count);
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
                     onnx_value_t *b, bool trans, float alpha, const onnx_value_t *c, float beta) {
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
  if ((rc = spd__onnx_keep_weight(cv, n, layer, "kernel", dense_kernel(cv, x, b, trans, alpha),
                                  b->count)))
    return rc;
  spd__onnx_release(cv, b);
  if (c) {
    float *bias = spd_malloc(cv->ctx, (size_t)m_n * sizeof *bias);
    for (int64_t o = 0; bias && o < m_n; o++)
      bias[o] = beta * c->f[c->count == 1 ? 0 : o];
    if ((rc = spd__onnx_keep_weight(cv, n, layer, "bias", bias, (size_t)m_n)))
      return rc;
  }
  return spd__onnx_define_output(cv, n, layer, ONNX_FLAT, NULL);
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
    rc = spd__onnx_fail_attr(cv, n, "transA", "1: the samples must be the rows of A");
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
    return spd__onnx_define_alias(cv, n, in[0]);
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
    int rc = spd__onnx_keep_weight(cv, n, x->layer, "bias", bias, (size_t)l->config.units);
    return rc ? rc : spd__onnx_define_output(cv, n, x->layer, x->layout, NULL);
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
  return rc ? rc : spd__onnx_define_output(cv, n, layer, in[0]->layout, NULL);
}

/* An activation: folded into the Dense/Conv it follows when that layer's
 * output is read by this node only, else an Activation layer. */
static int activation(onnx_conv_t *cv, const Onnx__NodeProto *n, spd_activation_t act, float slope,
                      float alpha) {
  onnx_value_t *x;
  int rc = spd__onnx_input(cv, n, 0, ONNX_V_LAYER, &x);
  if (rc)
    return rc;
  if (x->padded)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED,
                          "follows a Pad (spindle folds a Pad only "
                          "into a Conv)");
  spd_layer_t *l = &cv->m->layers[x->layer];
  spd_layer_kind_t k = l->config.kind;
  bool weights = k == SPD_LAYER_DENSE || k == SPD_LAYER_CONV1D || k == SPD_LAYER_CONV2D;
  if (weights && x->layer_output && x->consumers == 1 && l->config.activation == SPD_ACT_LINEAR) {
    l->config.activation = act;
    l->config.negative_slope = slope;
    l->config.elu_alpha = alpha;
    return spd__onnx_define_output(cv, n, x->layer, x->layout, NULL);
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
  rc = spd__onnx_define_output(cv, n, layer, x->layout, &out);
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
    return spd__onnx_fail_attr(cv, n, "axis", "spindle's softmax runs over the channel axis only");
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

static int op_batchnorm(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  onnx_value_t *x, *p[4];
  int rc = spd__onnx_input(cv, n, 0, ONNX_V_LAYER, &x);
  for (int k = 0; k < 4 && !rc; k++)
    rc = spd__onnx_input(cv, n, (size_t)k + 1, ONNX_V_CONST, &p[k]);
  if (!rc)
    rc = spd__onnx_only_first_output(cv, n);
  float eps, momentum;
  int64_t training;
  if (!rc)
    rc = spd__onnx_attr_float(cv, n, "epsilon", 1e-5f, &eps);
  if (!rc)
    rc = spd__onnx_attr_float(cv, n, "momentum", 0.9f, &momentum);
  if (!rc)
    rc = spd__onnx_attr_int(cv, n, "training_mode", 0, &training);
  if (!rc && training)
    rc = spd__onnx_fail_attr(cv, n, "training_mode", "1: spindle reads inference graphs");
  int64_t spatial; /* opsets before 9: 0 normalises every value separately */
  if (!rc)
    rc = spd__onnx_attr_int(cv, n, "spatial", 1, &spatial);
  if (!rc && !spatial)
    rc = spd__onnx_fail_attr(cv, n, "spatial", "0: spindle normalises per channel");
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
    if ((rc = spd__onnx_keep_weight(cv, n, layer, names[k],
                                    spd__onnx_copy_floats(cv, p[k]->f, c, 1.0f), c)))
      return rc;
  return spd__onnx_define_output(cv, n, layer, x->layout, NULL);
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
    return spd__onnx_fail_attr(cv, n, "size", "must be from 1 to 2^20");
  if (x->layout == ONNX_FLAT_HWC || x->padded)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "input flattened from a map, or padded");
  cfg.lrn_size = (int32_t)size;
  int layer;
  rc = spd__onnx_add_layer(cv, n, &cfg, &x->layer, 1, &layer);
  return rc ? rc : spd__onnx_define_output(cv, n, layer, x->layout, NULL);
}

static int op_dropout(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  onnx_value_t *x, *ratio = NULL;
  float rate = 0.5f;
  int rc = spd__onnx_input(cv, n, 0, ONNX_V_LAYER, &x);
  if (!rc)
    rc = spd__onnx_only_first_output(cv, n);
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
    rc = spd__onnx_define_output(cv, n, layer, x->layout, &out);
  if (!rc)
    memcpy(out->chw, x->chw, sizeof out->chw);
  return rc;
}

static int op_identity(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  onnx_value_t *x;
  int rc = spd__onnx_input(cv, n, 0, -1, &x);
  return rc ? rc : spd__onnx_define_alias(cv, n, x);
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

typedef struct op_entry {
  const char *name;
  op_fn fn;
} op_entry_t;

static const op_entry_t ops[] = {
    {"Conv", spd__onnx_op_conv},
    {"Gemm", op_gemm},
    {"MatMul", op_matmul},
    {"Add", op_add},
    {"Sum", op_add},
    {"Concat", spd__onnx_op_concat},
    {"Relu", op_relu},
    {"LeakyRelu", op_leaky_relu},
    {"Elu", op_elu},
    {"Sigmoid", op_sigmoid},
    {"Tanh", op_tanh},
    {"Softmax", op_softmax},
    {"Clip", op_clip},
    {"MaxPool", spd__onnx_op_maxpool},
    {"AveragePool", spd__onnx_op_avgpool},
    {"GlobalAveragePool", spd__onnx_op_global_avgpool},
    {"BatchNormalization", op_batchnorm},
    {"Flatten", spd__onnx_op_flatten},
    {"Reshape", spd__onnx_op_reshape},
    {"Pad", spd__onnx_op_pad},
    {"Dropout", op_dropout},
    {"LRN", op_lrn},
    {"Identity", op_identity},
    {"Constant", op_constant},
    {"Transpose", spd__onnx_op_transpose},
    {"Unsqueeze", spd__onnx_op_unsqueeze},
    {"Squeeze", spd__onnx_op_squeeze},
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
