/* The fixed-point reference network: layer buffers and parameters, the
 * numeric plan applied to them, the batch loop, weight updates, calibration
 * and export. Forward and backward live in fx_pass.c, the loss core in
 * fx_loss.c; everything a tile computes goes through base/. A batch runs
 * layer by layer, each sample with a tile's per-sample arithmetic; batch
 * sums are exact, so neither the sample order nor the tiling matters. */
#include "nn/fx_net_internal.h"

#include <math.h>
#include <string.h>

#include "nn/shape.h"

static int fixed_shape_fail(spd_fx_net_t *net, const spd_layer_t *l, const spd_shape_t *s,
                            const char *what) {
  char shape[96];
  spd_shape_format(s, shape, sizeof shape);
  return spd_ctx_fail(net->ctx, SPD_EUNSUPPORTED,
                      "layer '%s' (%s): shape %s: the fixed-point reference does not run %s",
                      l->config.name, spd_layer_kind_name(l->config.kind), shape, what);
}

static int check_layer(spd_fx_net_t *net, const spd_layer_t *l, int i) {
  spd_layer_kind_t k = l->config.kind;
  const spd_layer_op_t *op = spd__op_of(l);
  bool known = i == 0 ? k == SPD_LAYER_INPUT
                      : op->fx_forward || op->fx_forward_batch || (op->traits & SPD_OP_MOVER);
  if (!known)
    return spd_ctx_fail(net->ctx, SPD_EUNSUPPORTED,
                        "layer '%s' (%s): not supported by the fixed-point reference yet",
                        l->config.name,
                        k == SPD_LAYER_INPUT ? "a second model input" : spd_layer_kind_name(k));
  spd_activation_t a = spd__op_activation(l);
  if ((is_conv(k) && l->config.groups > 1) || !spd__act_has_fixed_form(a))
    return spd_ctx_fail(net->ctx, SPD_EUNSUPPORTED,
                        "layer '%s' (%s): the fixed-point reference has no %s yet (--numeric "
                        "float runs it)", l->config.name, spd_layer_kind_name(k),
                        l->config.groups > 1 ? "grouped convolution" : spd__act_display_name(a));
  if (spd__op_has(l, SPD_OP_ACTIVATION) && !spd__act_alpha_fits(&l->config))
    return spd_ctx_fail(net->ctx, SPD_EUNSUPPORTED,
                        "layer '%s' (%s): %s %s %g does not fit the fixed-point multiplier "
                        "(0 to below 2; --numeric float runs it)", l->config.name,
                        spd_layer_kind_name(k), spd_activation_name(l->config.activation),
                        l->config.activation == SPD_ACT_ELU ? "alpha" : "slope",
                        (double)(l->config.activation == SPD_ACT_ELU ? l->config.elu_alpha
                                                                     : l->config.negative_slope));
  /* A softmax acts on the last axis of its output in Keras; the fixed-point
   * softmax takes the whole output as one vector. */
  if (spd__op_activation(l) == SPD_ACT_SOFTMAX && l->output_shape.rank > 1)
    return fixed_shape_fail(net, l, &l->output_shape, "a softmax over an output of rank > 1; "
                            "add a Flatten before it, or use --numeric float");
  if (i > 0 && op->min_inputs < 2 && l->n_inbound != 1)
    return spd_ctx_fail(net->ctx, SPD_EUNSUPPORTED,
                        "layer '%s' (%s): %d inputs, the fixed-point reference expects one",
                        l->config.name, spd_layer_kind_name(k), l->n_inbound);
  return 0;
}

int spd__fx_param_new(spd_fx_net_t *net, fx_param_t *p, const spd_param_t *src, bool mac_copy,
                      uint32_t stream) {
  spd_ctx_t *ctx = net->ctx;
  size_t n = spd_shape_size(&src->value.shape);
  p->n = n;
  p->stream = stream;
  p->master = spd_calloc(ctx, n, sizeof *p->master);
  p->grad = spd_calloc(ctx, n, sizeof *p->grad);
  p->a = spd_calloc(ctx, n, sizeof *p->a);
  p->b = spd_calloc(ctx, n, sizeof *p->b);
  p->c = spd_calloc(ctx, n, sizeof *p->c);
  p->w16 = mac_copy ? spd_calloc(ctx, n, sizeof *p->w16) : NULL;
  if (!p->master || !p->grad || !p->a || !p->b || !p->c || (mac_copy && !p->w16))
    return spd_ctx_fail(ctx, SPD_ENOMEM, "fixed-point reference: out of memory for %zu weights",
                        n);
  for (size_t e = 0; e < n; e++)
    p->master[e] = spd_fx_from_float32(src->value.data[e], SPD_FX_MASTER_FRAC, &net->sat);
  return 0;
}

static void free_param(spd_ctx_t *ctx, fx_param_t *p) {
  spd_free(ctx, p->master);
  spd_free(ctx, p->grad);
  spd_free(ctx, p->a);
  spd_free(ctx, p->b);
  spd_free(ctx, p->c);
  spd_free(ctx, p->w16);
}

/* Derive the int16 MAC-loop copy of a kernel from its master weights. */
static void refresh_mac_copy(fx_param_t *p, int weight_frac, uint32_t *sat) {
  for (size_t e = 0; e < p->n; e++)
    p->w16[e] = spd_fx_to16(p->master[e], SPD_FX_MASTER_FRAC, weight_frac, sat);
}

/* Geometry of a window layer from its shapes (1-D layers get one row). */
static spd_fx_window_t window_of(const spd_layer_t *l) {
  const spd_layer_config_t *c = &l->config;
  const spd_shape_t *in = &l->input_shape, *out = &l->output_shape;
  bool one_d = in->rank == 2;
  bool pool = !is_conv(c->kind);
  const int32_t *k = pool ? c->pool_size : c->kernel_size;
  spd_fx_window_t g = {0};
  g.in_h = one_d ? 1 : in->dims[0];
  g.in_w = in->dims[one_d ? 0 : 1];
  g.in_c = in->dims[in->rank - 1];
  g.out_h = one_d ? 1 : out->dims[0];
  g.out_w = out->dims[one_d ? 0 : 1];
  g.out_c = out->dims[out->rank - 1];
  g.k_h = one_d ? 1 : k[0];
  g.k_w = k[one_d ? 0 : 1];
  g.stride_h = one_d ? 1 : c->strides[0];
  g.stride_w = c->strides[one_d ? 0 : 1];
  g.dil_h = pool || one_d ? 1 : c->dilation_rate[0];
  g.dil_w = pool ? 1 : c->dilation_rate[one_d ? 0 : 1];
  g.pad_top = one_d ? 0 : spd__layer_pad_before(c, 0, g.in_h, g.k_h, g.stride_h, g.dil_h);
  g.pad_left = spd__layer_pad_before(c, one_d ? 0 : 1, g.in_w, g.k_w, g.stride_w, g.dil_w);
  return g;
}

/* Map-time constants of a pooling layer: 1/count per window size, or
 * argmax slots. */
int spd__fx_setup_pooling(spd_fx_net_t *net, int i) {
  fx_layer_t *fl = &net->layers[i];
  const spd_layer_t *l = &net->model->layers[i];
  if (!(spd__op_of(l)->traits & SPD_OP_WINDOW)) { /* global average pooling */
    const spd_shape_t *in = &l->input_shape;
    fl->window = (spd_fx_window_t){.in_h = in->dims[0], .in_w = in->dims[1],
                                   .in_c = in->dims[2], .out_c = in->dims[2]};
    fl->inv_count = spd_calloc(net->ctx, 1, sizeof *fl->inv_count);
    if (!fl->inv_count)
      return spd_ctx_fail(net->ctx, SPD_ENOMEM, "layer '%s': out of memory", l->config.name);
    fl->inv_count[0] = spd_fx_const_from_double(1.0 / (double)(in->dims[0] * in->dims[1]));
    return 0;
  }
  fl->window = window_of(l);
  if (is_maxpool(fl->kind)) {
    fl->all.argmax = spd_calloc(net->ctx, fl->out_size * (size_t)net->max_batch,
                                sizeof *fl->all.argmax);
    return fl->all.argmax ? 0 : spd_ctx_fail(net->ctx, SPD_ENOMEM, "layer '%s': out of memory",
                                             l->config.name);
  }
  int taps = fl->window.k_h * fl->window.k_w;
  fl->inv_count = spd_calloc(net->ctx, (size_t)taps + 1, sizeof *fl->inv_count);
  if (!fl->inv_count)
    return spd_ctx_fail(net->ctx, SPD_ENOMEM, "layer '%s': out of memory", l->config.name);
  for (int c = 1; c <= taps; c++)
    fl->inv_count[c] = spd_fx_const_from_double(1.0 / c);
  return 0;
}

/* Dropout draws the float reference's mask (reference.h): element i of
 * training sample s keeps when the 24-bit uniform of Philox word i of
 * block s*ceil(n/4) of (seed, stream = layer) is >= rate, i.e. when
 * (word >> 8) >= ceil(rate * 2^24), an integer comparison. */
void spd__fx_dropout_consts(double rate, uint32_t *threshold, spd_fx_const_t *scale) {
  *threshold = rate > 0 ? (uint32_t)ceil(ldexp((float)rate, 24)) : 0;
  *scale = spd_fx_const_from_double(rate < 1 ? 1.0 / (1.0 - (float)rate) : 0.0);
}

int spd__fx_setup_dropout(spd_fx_net_t *net, int i) {
  fx_layer_t *fl = &net->layers[i];
  const spd_layer_t *l = &net->model->layers[i];
  double rate = l->config.rate;
  fl->all.keep = spd_calloc(net->ctx, fl->out_size * (size_t)net->max_batch,
                            sizeof *fl->all.keep);
  if (!fl->all.keep)
    return spd_ctx_fail(net->ctx, SPD_ENOMEM, "layer '%s': out of memory", l->config.name);
  spd__fx_dropout_consts(rate, &fl->drop_threshold, &fl->drop_scale);
  fl->drop_seed = l->config.dropout_seed ? l->config.dropout_seed : net->seed;
  return 0;
}

static int setup_layer(spd_fx_net_t *net, int i) {
  const spd_layer_t *l = &net->model->layers[i];
  fx_layer_t *fl = &net->layers[i];
  spd_ctx_t *ctx = net->ctx;
  fl->kind = l->config.kind;
  fl->out_size = spd_shape_size(&l->output_shape);
  int in = i > 0 ? l->inbound[0] : 0;
  fl->in_size = net->layers[in].out_size;
  int folded = spd__layer_folded_into(net->model, i);
  fl->softmax = spd__op_activation(folded >= 0 ? &net->model->layers[folded] : l) ==
                SPD_ACT_SOFTMAX;
  fl->folded = spd__layer_fold_target(net->model, i) >= 0;
  if (fx_aliased(fl)) /* values pass unchanged: views alias the input's */
    return 0;
  size_t n = fl->out_size, wide = n > fl->in_size ? n : fl->in_size;
  size_t nb = n * (size_t)net->max_batch;
  fx_batch_tensors_t *t = &fl->all;
  t->y = spd_calloc(ctx, nb, sizeof *t->y);
  t->z = spd_calloc(ctx, nb, sizeof *t->z);
  t->dy = spd_calloc(ctx, nb, sizeof *t->dy);
  t->dz = spd_calloc(ctx, nb, sizeof *t->dz);
  t->dy_acc = spd_calloc(ctx, nb, sizeof *t->dy_acc);
  fl->acc = spd_calloc(ctx, wide, sizeof *fl->acc);
  if (!t->y || !t->z || !t->dy || !t->dz || !t->dy_acc || !fl->acc)
    return spd_ctx_fail(ctx, SPD_ENOMEM, "layer '%s': out of memory for fixed-point buffers "
                        "(%zu values x %d samples)", l->config.name, n, net->max_batch);
  const spd_layer_op_t *op = spd__op_of(l);
  return op->fx_setup ? op->fx_setup(net, i) : 0;
}

int spd__fx_setup_batchnorm(spd_fx_net_t *net, int i) {
  return spd__fx_bn_setup(net, &net->layers[i], &net->model->layers[i], i);
}

int spd__fx_setup_weights(spd_fx_net_t *net, int i) {
  const spd_layer_t *l = &net->model->layers[i];
  fx_layer_t *fl = &net->layers[i];
  if (is_conv(fl->kind))
    fl->window = window_of(l);
  int rc = spd__fx_param_new(net, &fl->kernel, &l->params[0], true, (uint32_t)i * 16u);
  if (rc == 0 && l->config.use_bias && l->n_params > 1)
    rc = spd__fx_param_new(net, &fl->bias, &l->params[1], false, (uint32_t)i * 16u + 1u);
  return rc;
}

static void free_layers(spd_fx_net_t *net) {
  for (int i = 0; net->layers && i < net->n_layers; i++) {
    fx_layer_t *fl = &net->layers[i];
    if (fx_aliased(fl))
      continue;
    spd_free(net->ctx, fl->all.y);
    spd_free(net->ctx, fl->all.z);
    spd_free(net->ctx, fl->all.dy);
    spd_free(net->ctx, fl->all.dz);
    spd_free(net->ctx, fl->all.dy_acc);
    spd_free(net->ctx, fl->all.argmax);
    spd_free(net->ctx, fl->all.keep);
    spd_free(net->ctx, fl->acc);
    spd_free(net->ctx, fl->inv_count);
    spd__fx_bn_free(net, fl);
    free_param(net->ctx, &fl->kernel);
    free_param(net->ctx, &fl->bias);
  }
  spd_free(net->ctx, net->layers);
}

void spd__fx_net_free(spd_fx_net_t *net) {
  if (!net)
    return;
  free_layers(net);
  spd_numeric_plan_free(net->plan);
  spd_free(net->ctx, net->loss_scratch);
  spd_free(net->ctx, net);
}

static int copy_plan(spd_fx_net_t *net, const spd_numeric_plan_t *plan) {
  int rc = spd_numeric_plan_new(net->ctx, net->model, &net->plan);
  if (rc)
    return rc;
  if (plan->n_layers != net->n_layers)
    return spd_ctx_fail(net->ctx, SPD_EINVAL, "numeric plan has %d layers, model '%s' has %d",
                        plan->n_layers, net->model->name, net->n_layers);
  memcpy(net->plan->layers, plan->layers, (size_t)plan->n_layers * sizeof *plan->layers);
  return 0;
}

/* Activation parameters and MAC copies follow the plan. */
static void apply_plan(spd_fx_net_t *net) {
  for (int i = 0; i < net->n_layers; i++) {
    fx_layer_t *fl = &net->layers[i];
    fl->act = spd_numeric_act_params(net->plan, net->model, i);
    if (fl->kernel.w16)
      refresh_mac_copy(&fl->kernel, net->plan->layers[i].weight_frac, &net->sat);
  }
}

void spd__fx_net_apply_plan(spd_fx_net_t *net) { apply_plan(net); }

int spd__fx_net_new(spd_ctx_t *ctx, const spd_model_t *m, const spd_numeric_plan_t *plan,
                    spd_fx_loss_t loss, bool from_logits, int max_batch, uint64_t seed,
                    spd_fx_net_t **out) {
  if (!m->built || m->output != m->n_layers - 1 || max_batch < 1)
    return spd_ctx_fail(ctx, SPD_EINVAL,
                        "fixed-point reference: model '%s' must be built, end at its output "
                        "layer, and batches need at least one sample",
                        m->name);
  spd_fx_net_t *net = spd_calloc(ctx, 1, sizeof *net);
  if (!net)
    return spd_ctx_fail(ctx, SPD_ENOMEM, "fixed-point reference: out of memory");
  net->ctx = ctx;
  net->model = m;
  net->n_layers = m->n_layers;
  net->loss = loss;
  net->from_logits = from_logits;
  net->seed = seed;
  net->max_batch = max_batch;
  int rc = 0;
  for (int i = 0; rc == 0 && i < m->n_layers; i++)
    rc = check_layer(net, &m->layers[i], i);
  if (rc == 0)
    rc = spd__fx_loss_check(net);
  if (rc == 0) {
    net->layers = spd_calloc(ctx, (size_t)m->n_layers, sizeof *net->layers);
    rc = net->layers ? 0 : spd_ctx_fail(ctx, SPD_ENOMEM, "fixed-point reference: out of memory");
  }
  for (int i = 0; rc == 0 && i < m->n_layers; i++)
    rc = setup_layer(net, i);
  if (rc == 0)
    rc = copy_plan(net, plan);
  if (rc == 0) {
    size_t n = net->layers[net->n_layers - 1].out_size;
    net->loss_scratch = spd_calloc(ctx, n, sizeof *net->loss_scratch);
    rc = net->loss_scratch ? 0 : spd_ctx_fail(ctx, SPD_ENOMEM, "fixed-point reference: out of memory");
  }
  if (rc) {
    spd__fx_net_free(net);
    return rc;
  }
  apply_plan(net);
  *out = net;
  return 0;
}

static void update_param(spd_fx_net_t *net, fx_param_t *p, const spd_fx_hyper_t *h,
                         int grad_frac, int weight_frac) {
  spd_fx_update_t u;
  spd_fx_update_prepare(&u, h, grad_frac, net->seed, p->stream, p->n);
  for (size_t e = 0; e < p->n; e++) {
    spd_fx_slot_ptrs_t s = {&p->master[e], &p->a[e], &p->b[e], &p->c[e]};
    spd_fx_update_one(&u, s, e, p->grad[e], &net->sat);
    p->grad[e] = 0;
  }
  if (p->w16)
    refresh_mac_copy(p, weight_frac, &net->sat);
}

/* BatchNormalization: gamma's gradient sums dz xhat (frac g + 16), beta's
 * sums dz (frac g). */
static void update_batchnorm(spd_fx_net_t *net, fx_layer_t *fl, int i, const spd_fx_hyper_t *h) {
  int g = net->plan->layers[i].grad_frac;
  if (fl->kernel.master)
    update_param(net, &fl->kernel, h, g + 16, 0);
  if (fl->bias.master)
    update_param(net, &fl->bias, h, g, 0);
}

static void update_all(spd_fx_net_t *net, const spd_fx_hyper_t *h) {
  for (int i = 1; i < net->n_layers; i++) {
    fx_layer_t *fl = &net->layers[i];
    if (fl->kind == SPD_LAYER_BATCHNORM)
      update_batchnorm(net, fl, i, h);
    if (!has_weights(fl->kind))
      continue;
    const spd_layer_numerics_t *ln = &net->plan->layers[i];
    int in_frac = spd_numeric_input_frac(net->plan, net->model, i);
    update_param(net, &fl->kernel, h, in_frac + ln->grad_frac, ln->weight_frac);
    if (fl->bias.master)
      update_param(net, &fl->bias, h, ln->grad_frac, 0);
  }
}

static void collect_saturations(spd_fx_net_t *net) {
  net->sat_total += net->sat;
  net->sat = 0;
}

/* The output layer's values of the sample in flight, as floats. */
static void copy_outputs(const spd_fx_net_t *net, float *out) {
  const fx_layer_t *last = &net->layers[net->n_layers - 1];
  int frac = net->plan->layers[spd__fx_owner(net, net->n_layers - 1)].act_frac;
  for (size_t c = 0; c < last->out_size; c++)
    out[c] = spd_fx_to_float(last->y[c], frac);
}

/* Forward the batch layer by layer; then per sample the outputs (into
 * @p out), the loss and its gradient (with targets); then, if @p learn,
 * backward layer by layer. */
static void run_batch(spd_fx_net_t *net, const spd_fx_batch_t *b, float *out,
                      spd_fx_result_t *res, bool learn) {
  size_t n_out = net->layers[net->n_layers - 1].out_size;
  bool targets = b->labels || b->targets;
  spd__fx_net_forward(net, b->x, b->batch);
  for (int s = 0; s < b->batch; s++) {
    spd__fx_net_select(net, s);
    if (out)
      copy_outputs(net, out + (size_t)s * n_out);
    if (targets)
      spd__fx_loss_sample(net, b, s, res);
  }
  if (learn && targets)
    spd__fx_net_backward(net, b->batch);
}

static int check_batch(spd_fx_net_t *net, const spd_fx_batch_t *b) {
  if (b->batch < 1 || b->batch > net->max_batch)
    return spd_ctx_fail(net->ctx, SPD_EINVAL, "fixed-point reference: batch of %d (1..%d)",
                        b->batch, net->max_batch);
  return 0;
}

int spd__fx_net_train_batch(spd_fx_net_t *net, const spd_fx_batch_t *b, const spd_fx_hyper_t *h,
                            float *out, spd_fx_result_t *res) {
  int rc = check_batch(net, b);
  if (!rc)
    rc = spd__fx_bn_check_batch(net, b->batch);
  if (rc)
    return rc;
  net->training = true;
  run_batch(net, b, out, res, true);
  net->training = false;
  spd_fx_hyper_t step = *h;
  step.batch = b->batch;
  update_all(net, &step);
  collect_saturations(net);
  return 0;
}

int spd__fx_net_evaluate(spd_fx_net_t *net, const spd_fx_batch_t *b, float *out,
                         spd_fx_result_t *res) {
  int rc = check_batch(net, b);
  if (rc)
    return rc;
  spd_fx_result_t ignored = {0};
  run_batch(net, b, out, res ? res : &ignored, false);
  collect_saturations(net);
  return 0;
}

static void reset_stats(spd_fx_net_t *net) {
  for (int i = 0; i < net->n_layers; i++)
    net->layers[i].max_z = net->layers[i].max_g = 0;
}

static double fmax_abs(double a, double v) { return fabs(v) > a ? fabs(v) : a; }

static int gather_stats(spd_fx_net_t *net, spd_layer_stats_t **out) {
  spd_layer_stats_t *st = spd_calloc(net->ctx, (size_t)net->n_layers, sizeof *st);
  if (!st)
    return spd_ctx_fail(net->ctx, SPD_ENOMEM, "calibration: out of memory");
  for (int i = 0; i < net->n_layers; i++) {
    const fx_layer_t *fl = &net->layers[i];
    st[i].max_act = (float)fl->max_z;
    st[i].max_grad = (float)fl->max_g;
    for (size_t e = 0; fl->kernel.w16 && e < fl->kernel.n; e++)
      st[i].max_weight = (float)fmax_abs(st[i].max_weight,
                                         ldexp((double)fl->kernel.master[e], -SPD_FX_MASTER_FRAC));
  }
  *out = st;
  return 0;
}

int spd__fx_net_calibrate(spd_fx_net_t *net, const spd_fx_batch_t *batch, int passes) {
  int rc = check_batch(net, batch);
  if (rc)
    return rc;
  /* The probe takes batch statistics: as many of the batch's first samples
   * as keep them exact (an inference batch of large images may be bigger). */
  int layer = 0, limit = spd__fx_bn_batch_limit(net, &layer);
  if (limit < 1)
    return spd__fx_bn_check_batch(net, 1);
  spd_fx_batch_t probe = *batch;
  if (probe.batch > limit)
    probe.batch = limit;
  const spd_fx_batch_t *b = &probe;
  for (int pass = 0; pass < passes; pass++) {
    reset_stats(net);
    net->calibrating = true;
    spd_fx_result_t ignored = {0}; /* prediction data may have no targets */
    run_batch(net, b, NULL, &ignored, true);
    net->calibrating = false;
    for (int i = 0; i < net->n_layers; i++) { /* the probe's gradients are discarded */
      fx_layer_t *fl = &net->layers[i];
      if (fl->kernel.grad)
        memset(fl->kernel.grad, 0, fl->kernel.n * sizeof *fl->kernel.grad);
      if (fl->bias.grad)
        memset(fl->bias.grad, 0, fl->bias.n * sizeof *fl->bias.grad);
    }
    spd_layer_stats_t *st = NULL;
    int rc = gather_stats(net, &st);
    if (rc)
      return rc;
    spd_numeric_plan_calibrate(net->plan, net->model, st);
    spd_free(net->ctx, st);
    apply_plan(net);
  }
  net->sat = 0; /* saturations of the probe passes are expected, not reported */
  net->sat_total = 0;
  for (int i = 0; i < net->n_layers; i++)
    net->layers[i].sat_forward = net->layers[i].sat_backward = 0;
  return 0;
}

void spd__fx_net_export(const spd_fx_net_t *net, spd_model_t *m) {
  for (int i = 0; i < net->n_layers; i++) {
    const fx_layer_t *fl = &net->layers[i];
    if (fl->kind == SPD_LAYER_BATCHNORM)
      spd__fx_bn_export(net, i, m);
    if (!has_weights(fl->kind))
      continue;
    spd_layer_t *l = &m->layers[i];
    for (size_t e = 0; e < fl->kernel.n; e++)
      l->params[0].value.data[e] = spd_fx_to_float(fl->kernel.master[e], SPD_FX_MASTER_FRAC);
    for (size_t e = 0; fl->bias.master && e < fl->bias.n; e++)
      l->params[1].value.data[e] = spd_fx_to_float(fl->bias.master[e], SPD_FX_MASTER_FRAC);
  }
}

const spd_numeric_plan_t *spd__fx_net_plan(const spd_fx_net_t *net) { return net->plan; }

uint64_t spd__fx_net_saturations(const spd_fx_net_t *net) { return net->sat_total + net->sat; }

void spd__fx_net_layer_saturations(const spd_fx_net_t *net, int layer, uint64_t *forward,
                                   uint64_t *backward) {
  *forward = net->layers[layer].sat_forward;
  *backward = net->layers[layer].sat_backward;
}
