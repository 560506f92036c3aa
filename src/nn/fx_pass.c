/* Forward and backward of one sample through the fixed-point reference
 * network, layer by layer, calling the tile functions of base/ with one
 * block covering each whole layer; reducers round once into the next
 * tensor's format (docs/numerics.md). */
#include <math.h>
#include <string.h>

#include "base/fx_dense.h"
#include "nn/fx_net_internal.h"
#include "nn/layer_op.h"
#include "spindle/rng.h"

int spd__fx_inbound(const spd_fx_net_t *net, int i, int k) {
  return net->model->layers[i].inbound[k];
}

/* The layer whose int16 output format a (possibly data-moving) layer uses. */
int spd__fx_owner(const spd_fx_net_t *net, int i) {
  while (i > 0 && fx_aliased(&net->layers[i]))
    i = spd__fx_inbound(net, i, 0);
  return i;
}

/* The output of the layer feeding input @p k of layer @p i. */
const int16_t *spd__fx_input_y(const spd_fx_net_t *net, int i, int k) {
  return net->layers[spd__fx_inbound(net, i, k)].y;
}

static double fmax_abs(double a, double v) { return fabs(v) > a ? fabs(v) : a; }

/* Calibration statistic of a pre-activation: the largest output it can
 * produce, measured before rounding to int16. */
static void note_z(fx_layer_t *fl, int32_t z) {
  double v = ldexp((double)z, -SPD_FX_Z_FRAC);
  if (fl->act.kind == SPD_FX_ACT_RELU || fl->act.kind == SPD_FX_ACT_ELU)
    v = v > 0 ? v : 0;
  fl->max_z = fmax_abs(fl->max_z, v);
}

void spd__fx_activate(spd_fx_net_t *net, fx_layer_t *fl) {
  if (fl->softmax) {
    spd_fx_softmax(fl->y, fl->z, (int)fl->out_size, fl->act.out_frac, &net->sat);
    return;
  }
  for (size_t c = 0; c < fl->out_size; c++) {
    if (net->calibrating)
      note_z(fl, fl->z[c]);
    fl->y[c] = spd_fx_act_forward(&fl->act, fl->z[c], &net->sat);
  }
}

static int acc_frac_of(const spd_fx_net_t *net, int i) {
  return spd_numeric_input_frac(net->plan, net->model, i) + net->plan->layers[i].weight_frac;
}

/* Keras's Dense acts on the last axis: an input of P positions of n_in
 * values each (P = 1 for a rank-1 input) shares one n_in x n_out kernel. */
typedef struct dense_dims {
  int positions, n_in, n_out;
} dense_dims_t;

static dense_dims_t dense_dims(const fx_layer_t *fl, const spd_fx_net_t *net, int i) {
  const spd_shape_t *out = &net->model->layers[i].output_shape;
  int n_out = (int)out->dims[out->rank - 1];
  int positions = (int)(fl->out_size / (size_t)n_out);
  return (dense_dims_t){positions, (int)(fl->in_size / (size_t)positions), n_out};
}

void spd__fx_forward_dense(spd_fx_net_t *net, int i) {
  fx_layer_t *fl = &net->layers[i];
  dense_dims_t d = dense_dims(fl, net, i);
  int acc_frac = acc_frac_of(net, i);
  const int16_t *x = spd__fx_input_y(net, i, 0);
  memset(fl->acc, 0, fl->out_size * sizeof *fl->acc);
  for (int p = 0; p < d.positions; p++) {
    size_t o = (size_t)p * (size_t)d.n_out;
    spd_fx_dense_forward_block(fl->acc + o, x + (size_t)p * (size_t)d.n_in, fl->kernel.w16,
                               d.n_in, d.n_out, d.n_out);
    spd_fx_dense_reduce(fl->z + o, fl->acc + o, fl->bias.master, d.n_out, acc_frac,
                        SPD_FX_MASTER_FRAC, &net->sat);
  }
  spd__fx_activate(net, fl);
}

void spd__fx_forward_conv(spd_fx_net_t *net, int i) {
  fx_layer_t *fl = &net->layers[i];
  const spd_fx_window_t *g = &fl->window;
  spd_fx_conv_block_t whole = spd_fx_conv_whole(g);
  memset(fl->acc, 0, fl->out_size * sizeof *fl->acc);
  spd_fx_conv_forward_block(fl->acc, spd__fx_input_y(net, i, 0), fl->kernel.w16, g, &whole);
  spd_fx_conv_reduce(fl->z, fl->acc, fl->bias.master, g->out_h * g->out_w, g->out_c,
                     acc_frac_of(net, i), SPD_FX_MASTER_FRAC, &net->sat);
  spd__fx_activate(net, fl);
}

void spd__fx_forward_pool(spd_fx_net_t *net, int i) {
  fx_layer_t *fl = &net->layers[i];
  const int16_t *x = spd__fx_input_y(net, i, 0);
  const spd_fx_window_t *g = &fl->window;
  if (is_maxpool(fl->kind))
    spd_fx_maxpool_forward(fl->y, fl->argmax, x, g);
  else if (is_avgpool(fl->kind))
    spd_fx_avgpool_forward(fl->y, x, g, fl->inv_count, &net->sat);
  else
    spd_fx_gap_forward(fl->y, x, g->in_h * g->in_w, g->in_c, fl->inv_count[0], &net->sat);
}

void spd__fx_forward_dropout(spd_fx_net_t *net, int i) {
  fx_layer_t *fl = &net->layers[i];
  const int16_t *x = spd__fx_input_y(net, i, 0);
  bool drop = net->training && fl->drop_threshold > 0;
  uint32_t words[4];
  uint64_t counter = fl->samples_seen * ((fl->out_size + 3) / 4);
  uint32_t key[2] = {(uint32_t)fl->drop_seed, (uint32_t)(fl->drop_seed >> 32)};
  for (size_t c = 0; c < fl->out_size; c++) {
    if (drop && c % 4 == 0)
      spd_philox4x32(key, counter + c / 4, (uint32_t)i, words);
    fl->keep[c] = !drop || (words[c % 4] >> 8) >= fl->drop_threshold;
    int64_t v = drop && fl->keep[c] ? spd_fx_mul_const(x[c], fl->drop_scale, 0, 0,
                                                       SPD_FX_ROUND_NEAREST, &net->sat)
                                    : (fl->keep[c] ? x[c] : 0);
    fl->y[c] = spd_fx_sat16(v, &net->sat);
  }
  if (net->training)
    fl->samples_seen++;
}

void spd__fx_forward_activation(spd_fx_net_t *net, int i) {
  fx_layer_t *fl = &net->layers[i];
  const int16_t *x = spd__fx_input_y(net, i, 0);
  int in_frac = spd_numeric_input_frac(net->plan, net->model, i);
  for (size_t c = 0; c < fl->out_size; c++)
    fl->z[c] = spd_fx_to32(x[c], in_frac, SPD_FX_Z_FRAC, &net->sat);
  spd__fx_activate(net, fl);
}

/* Add: the inputs (each at its own frac) summed exactly at the finest of
 * their fracs, then rounded once into the output format. */
void spd__fx_forward_add(spd_fx_net_t *net, int i) {
  fx_layer_t *fl = &net->layers[i];
  const spd_layer_t *l = &net->model->layers[i];
  int finest = 0;
  for (int k = 0; k < l->n_inbound; k++) {
    int f = net->plan->layers[spd__fx_owner(net, l->inbound[k])].act_frac;
    finest = f > finest ? f : finest;
  }
  memset(fl->acc, 0, fl->out_size * sizeof *fl->acc);
  for (int k = 0; k < l->n_inbound; k++) {
    int up = finest - net->plan->layers[spd__fx_owner(net, l->inbound[k])].act_frac;
    const int16_t *x = spd__fx_input_y(net, i, k);
    for (size_t c = 0; c < fl->out_size; c++)
      fl->acc[c] += (int64_t)x[c] * ((int64_t)1 << up);
  }
  for (size_t c = 0; c < fl->out_size; c++) {
    if (net->calibrating)
      fl->max_z = fmax_abs(fl->max_z, ldexp((double)fl->acc[c], -finest));
    fl->y[c] = spd_fx_to16(fl->acc[c], finest, fl->act.out_frac, &net->sat);
  }
}

void spd__fx_net_select(spd_fx_net_t *net, int s) {
  for (int i = 0; i < net->n_layers; i++) {
    fx_layer_t *fl = &net->layers[i];
    if (fx_aliased(fl)) { /* same values, same order: the input's views */
      const fx_layer_t *in = &net->layers[spd__fx_inbound(net, i, 0)];
      fl->y = in->y;
      fl->dy = in->dy;
      fl->dy_acc = in->dy_acc;
      if (fl->folded) { /* the producer's z and dz are the activation's */
        fl->z = in->z;
        fl->dz = in->dz;
      }
      continue;
    }
    size_t at = (size_t)s * fl->out_size;
    fl->y = fl->all.y + at;
    fl->z = fl->all.z + at;
    fl->dy = fl->all.dy + at;
    fl->dz = fl->all.dz + at;
    fl->dy_acc = fl->all.dy_acc + at;
    fl->argmax = fl->all.argmax ? fl->all.argmax + at : NULL;
    fl->keep = fl->all.keep ? fl->all.keep + at : NULL;
  }
}

static void forward_input(spd_fx_net_t *net, const float *x) {
  fx_layer_t *input = &net->layers[0];
  int frac = net->plan->layers[0].act_frac;
  for (size_t c = 0; c < input->out_size; c++) {
    if (net->calibrating)
      input->max_z = fmax_abs(input->max_z, x[c]);
    input->y[c] = spd_fx_from_float16(x[c], frac, &net->sat);
  }
}

static void forward_layer(spd_fx_net_t *net, int i, const float *x) {
  const spd_layer_op_t *op = spd__op_of(&net->model->layers[i]);
  if (i == 0)
    forward_input(net, x);
  else if (op->fx_forward && !net->layers[i].folded)
    op->fx_forward(net, i);
}

void spd__fx_net_forward(spd_fx_net_t *net, const float *x, int batch) {
  size_t in_size = net->layers[0].out_size;
  for (int i = 0; i < net->n_layers; i++) {
    uint32_t before = net->sat;
    const spd_layer_op_t *op = spd__op_of(&net->model->layers[i]);
    if (i > 0 && op->fx_forward_batch && !net->layers[i].folded) /* needs the whole batch */
      op->fx_forward_batch(net, i, batch);
    else
      for (int s = 0; s < batch; s++) {
        spd__fx_net_select(net, s);
        forward_layer(net, i, x + (size_t)s * in_size);
      }
    net->layers[i].sat_forward += net->sat - before;
  }
}

/* dZ of a hidden layer from its dY and stored output. */
static void activation_backward(spd_fx_net_t *net, fx_layer_t *fl) {
  if (fl->softmax) {
    spd_fx_softmax_backward(fl->dz, fl->y, fl->dy, (int)fl->out_size, fl->act.out_frac,
                            &net->sat);
    return;
  }
  for (size_t c = 0; c < fl->out_size; c++)
    fl->dz[c] = spd_fx_act_backward(&fl->act, fl->y[c], fl->dy[c], &net->sat);
}

/* Add a full dX sum (frac @p from) into the gradient accumulator of the
 * layer feeding input @p k of layer @p i, exactly (a left shift to
 * SPD_FX_GRAD_SUM_FRAC): a tensor feeding several layers receives the sum of
 * their gradients, rounded once when its own backward starts. */
void spd__fx_emit_dx(spd_fx_net_t *net, int i, int k, const int64_t *dx, int from) {
  int target = spd__fx_inbound(net, i, k);
  if (spd__fx_owner(net, target) == 0)
    return; /* no gradient for the model input */
  int64_t *sum = net->layers[target].dy_acc;
  for (size_t r = 0; r < net->layers[i].in_size; r++)
    sum[r] += spd_fx_shift_round(dx[r], from - SPD_FX_GRAD_SUM_FRAC);
}

/* dY of layer @p i: the exact sum of what its consumers sent, rounded once
 * into its gradient format; the accumulator is cleared for the next
 * sample. */
static void collect_dy(spd_fx_net_t *net, int i) {
  fx_layer_t *fl = &net->layers[i];
  for (size_t c = 0; c < fl->out_size; c++) {
    if (net->calibrating)
      fl->max_g = fmax_abs(fl->max_g, ldexp((double)fl->dy_acc[c], -SPD_FX_GRAD_SUM_FRAC));
    fl->dy[c] = spd_fx_to16(fl->dy_acc[c], SPD_FX_GRAD_SUM_FRAC,
                            net->plan->layers[i].grad_frac, &net->sat);
  }
  memset(fl->dy_acc, 0, fl->out_size * sizeof *fl->dy_acc);
}

void spd__fx_backward_dense(spd_fx_net_t *net, int i) {
  fx_layer_t *fl = &net->layers[i];
  dense_dims_t d = dense_dims(fl, net, i);
  const int16_t *x = spd__fx_input_y(net, i, 0);
  /* Every position adds to the one kernel's exact int64 sums. */
  for (int p = 0; p < d.positions; p++) {
    const int16_t *dz = fl->dz + (size_t)p * (size_t)d.n_out;
    spd_fx_dense_grad_block(fl->kernel.grad, x + (size_t)p * (size_t)d.n_in, dz, d.n_in,
                            d.n_out, d.n_out);
    if (fl->bias.master)
      spd_fx_bias_grad(fl->bias.grad, dz, d.n_out);
  }
  if (spd__fx_owner(net, spd__fx_inbound(net, i, 0)) == 0)
    return; /* no gradient for the input: skip the dX product */
  memset(fl->acc, 0, fl->in_size * sizeof *fl->acc);
  for (int p = 0; p < d.positions; p++)
    spd_fx_dense_backward_input_block(fl->acc + (size_t)p * (size_t)d.n_in,
                                      fl->dz + (size_t)p * (size_t)d.n_out, fl->kernel.w16,
                                      d.n_in, d.n_out, d.n_out);
  spd__fx_emit_dx(net, i, 0, fl->acc,
          net->plan->layers[i].weight_frac + net->plan->layers[i].grad_frac);
}

void spd__fx_backward_conv(spd_fx_net_t *net, int i) {
  fx_layer_t *fl = &net->layers[i];
  const spd_fx_window_t *g = &fl->window;
  spd_fx_conv_block_t whole = spd_fx_conv_whole(g);
  spd_fx_conv_grad_block(fl->kernel.grad, spd__fx_input_y(net, i, 0), fl->dz, g, &whole);
  if (fl->bias.master)
    spd_fx_conv_bias_grad(fl->bias.grad, fl->dz, g, &whole);
  if (spd__fx_owner(net, spd__fx_inbound(net, i, 0)) == 0)
    return;
  memset(fl->acc, 0, fl->in_size * sizeof *fl->acc);
  spd_fx_conv_backward_input_block(fl->acc, fl->dz, fl->kernel.w16, g, &whole);
  spd__fx_emit_dx(net, i, 0, fl->acc,
          net->plan->layers[i].weight_frac + net->plan->layers[i].grad_frac);
}

/* Pooling passes gradients exactly (max) or at 16 extra fraction bits
 * (averages), then rounds once into the gradient of the layer below. */
void spd__fx_backward_pool(spd_fx_net_t *net, int i) {
  fx_layer_t *fl = &net->layers[i];
  const spd_fx_window_t *g = &fl->window;
  int frac = net->plan->layers[i].grad_frac;
  memset(fl->acc, 0, fl->in_size * sizeof *fl->acc);
  if (is_maxpool(fl->kind)) {
    spd_fx_maxpool_backward(fl->acc, fl->dz, fl->argmax, (int)fl->out_size);
  } else if (is_avgpool(fl->kind)) {
    spd_fx_avgpool_backward(fl->acc, fl->dz, g, fl->inv_count);
    frac += 16;
  } else {
    spd_fx_gap_backward(fl->acc, fl->dz, g->in_h * g->in_w, g->in_c, fl->inv_count[0]);
    frac += 16;
  }
  spd__fx_emit_dx(net, i, 0, fl->acc, frac);
}

/* dX = dY * mask: the kept elements scaled by 1/(1-rate), rounded once. */
void spd__fx_backward_dropout(spd_fx_net_t *net, int i) {
  fx_layer_t *fl = &net->layers[i];
  bool scaled = net->training && fl->drop_threshold > 0;
  for (size_t c = 0; c < fl->out_size; c++)
    fl->acc[c] = !fl->keep[c] ? 0
                 : scaled     ? spd_fx_mul_const(fl->dz[c], fl->drop_scale, 0, 0,
                                                 SPD_FX_ROUND_NEAREST, &net->sat)
                              : fl->dz[c];
  spd__fx_emit_dx(net, i, 0, fl->acc, net->plan->layers[i].grad_frac);
}

/* Activation and Add pass dZ on unchanged (Add to every input). */
void spd__fx_backward_pass_on(spd_fx_net_t *net, int i) {
  fx_layer_t *fl = &net->layers[i];
  for (size_t c = 0; c < fl->in_size; c++)
    fl->acc[c] = fl->dz[c];
  for (int k = 0; k < net->model->layers[i].n_inbound; k++)
    spd__fx_emit_dx(net, i, k, fl->acc, net->plan->layers[i].grad_frac);
}

/* dY and dZ of layer @p i for the selected sample. */
static void backward_entry(spd_fx_net_t *net, int i) {
  int last = net->n_layers - 1;
  if (net->layers[last].folded) /* the loss's gradient is its producer's */
    last = spd__fx_inbound(net, last, 0);
  if (i != last)
    collect_dy(net, i);
  if (i != last || !net->loss_fused)
    activation_backward(net, &net->layers[i]);
}

/* BatchNormalization's dX needs sums over the whole batch first. */
void spd__fx_backward_batchnorm(spd_fx_net_t *net, int i, int batch) {
  fx_layer_t *fl = &net->layers[i];
  for (int s = 0; s < batch; s++) {
    spd__fx_net_select(net, s);
    backward_entry(net, i);
  }
  bool need_dx = spd__fx_owner(net, spd__fx_inbound(net, i, 0)) != 0;
  spd__fx_bn_backward(net, i, batch, need_dx ? fl->bn.dx : NULL);
  for (int s = 0; need_dx && s < batch; s++) {
    spd__fx_net_select(net, s);
    spd__fx_emit_dx(net, i, 0, fl->bn.dx + (size_t)s * fl->out_size, SPD_FX_GRAD_SUM_FRAC);
  }
}

static void backward_layer(spd_fx_net_t *net, int i) {
  backward_entry(net, i);
  spd__op_of(&net->model->layers[i])->fx_backward(net, i);
}

void spd__fx_net_backward(spd_fx_net_t *net, int batch) {
  for (int i = net->n_layers - 1; i > 0; i--) {
    if (fx_aliased(&net->layers[i]))
      continue;
    uint32_t before = net->sat;
    const spd_layer_op_t *op = spd__op_of(&net->model->layers[i]);
    if (op->fx_backward_batch)
      op->fx_backward_batch(net, i, batch);
    else
      for (int s = 0; s < batch; s++) {
        spd__fx_net_select(net, s);
        backward_layer(net, i);
      }
    net->layers[i].sat_backward += net->sat - before;
  }
}
