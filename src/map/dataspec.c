/* Building every vertex's parameter blob (docs/dataspec.md): the header,
 * the incoming and outgoing partition tables (keys from the routing step,
 * value ranges relative to the vertex's own), the role's configuration
 * (activation, formats, flags) and its data (its block of weights, bias,
 * the input conversion table). */
#include "map/dataspec.h"

#include <stdlib.h>
#include <string.h>

#include "base/tile_mem.h"
#include "map/machine_graph.h"
#include "map/pacing.h"
#include "machine/cost_table.h"
#include "map/tile_cost.h"
#include "nn/fx_net.h"
#include "nn/layer_op.h"

#include "spindle/fixed.h"
#include "spindle/route.h"

const char *spd__ds_kernel_name(spd_vertex_role_t role) {
  static const char *const names[SPD_ROLE_COUNT] = {
      [SPD_ROLE_SOURCE] = "spindle_source",   [SPD_ROLE_TILE] = "spindle_tile",
      [SPD_ROLE_TILE_FULL] = "spindle_tile_full", [SPD_ROLE_REDUCER] = "spindle_reducer",
      [SPD_ROLE_LOSS] = "spindle_loss",       [SPD_ROLE_SINK] = "spindle_sink",
      [SPD_ROLE_CONV] = "spindle_conv",       [SPD_ROLE_POOL] = "spindle_pool"};
  return role < SPD_ROLE_COUNT ? names[role] : "?";
}

static uint32_t kind_of(const char *name) {
  static const char *const kinds[] = {"x",      "psum",   "y",     "dz",  "dxpsum",
                                      "record", "credit", "dwsum", "wupd", "nack"};
  for (uint32_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
    if (!strcmp(name, kinds[k]))
      return k;
  return UINT32_MAX;
}

/* The first index of the vertex's own range that a partition's values are
 * counted from: sources and tiles receive rows, reducers and producers
 * send and receive columns, the loss and sink count from 0. */
static uint32_t own_lo(const spd_vertex_t *v, uint32_t kind, bool receiving) {
  if (kind == SPD_DS_KIND_CREDIT || kind == SPD_DS_KIND_RECORD)
    return 0;
  switch (v->role) {
  case SPD_ROLE_SOURCE:
    return receiving ? 0 : v->rows.lo;
  case SPD_ROLE_TILE:
  case SPD_ROLE_TILE_FULL:
    if (receiving)
      return kind == SPD_DS_KIND_X || kind == SPD_DS_KIND_Y ? v->rows.lo : v->cols.lo;
    return kind == SPD_DS_KIND_DXPSUM ? v->rows.lo : v->cols.lo;
  case SPD_ROLE_REDUCER:
    return v->cols.lo;
  default:
    return 0;
  }
}

/* The activation model layer @p layer applies: its own, or that of an
 * activation layer folded into it (nn/layer_op.h). */
static spd_activation_t output_activation(const spd_model_t *m, int layer) {
  int f = spd__layer_folded_into(m, layer);
  return m->layers[f >= 0 ? f : layer].config.activation;
}

static bool is_last_dense(const spd_machine_graph_t *g, int layer) {
  return g->n_dense > 0 && g->dense[g->n_dense - 1].layer == layer;
}

static void act_config(const spd__ds_inputs_t *in, int layer, spd_ds_config_t *c) {
  const spd_model_t *m = in->model;
  spd_fx_act_params_t p = spd_numeric_act_params(in->plan, m, layer);
  c->act_kind = (int32_t)p.kind;
  if (in->numeric == SPD_NUMERIC_FIXED) {
    c->act_out_frac = p.out_frac;
    c->act_alpha = p.alpha_q30;
    c->acc_frac = spd_numeric_input_frac(in->plan, m, layer) + in->plan->layers[layer].weight_frac;
    c->bias_frac = SPD_FX_MASTER_FRAC;
  } else {
    float alpha = (float)spd_fx_to_float(p.alpha_q30, 30);
    memcpy(&c->act_alpha, &alpha, sizeof alpha);
  }
}

static uint32_t configure_role(const spd__ds_inputs_t *in, uint32_t vi, spd_ds_config_t *c);

/* The Dense stage after model layer @p layer, or -1. */
static int next_dense(const spd_machine_graph_t *g, int layer) {
  for (int i = 0; i + 1 < g->n_dense; i++)
    if (g->dense[i].layer == layer)
      return g->dense[i + 1].layer;
  return -1;
}

static void train_config(const spd__ds_inputs_t *in, uint32_t vi, spd_ds_config_t *c) {
  const spd_vertex_t *v = &in->g->vertices[vi];
  const spd_numeric_plan_t *plan = in->plan;
  c->flags |= SPD_DS_TRAIN;
  c->epoch_samples = in->epoch_samples;
  c->batch = in->batch;
  c->seq_offset = in->seq_offset;
  c->snap_addr = in->snap_addr ? in->snap_addr[vi] : 0;
  c->snap_every = in->snap_every;
  c->state = in->state;
  c->update_addr = in->update_addr[vi];
  c->result_addr = in->result_addr[vi];
  if (in->epoch_results)
    c->flags |= SPD_DS_EPOCH_RESULTS;
  c->result_ring = in->result_ring;
  c->order_addr = in->order_addr[vi];
  for (int w = 0; w < 2; w++) { /* training checkpoints */
    c->state_in[w] = in->state_in ? in->state_in[vi][w] : 0;
    c->state_out[w] = in->state_out ? in->state_out[vi][w] : 0;
  }
  c->grad_frac = plan->layers[v->layer].grad_frac;
  c->weight_frac = plan->layers[v->layer].weight_frac;
  int above = next_dense(in->g, v->layer);
  if (above >= 0)
    c->dy_from_frac = plan->layers[above].weight_frac + plan->layers[above].grad_frac;
  c->row_lo = v->rows.lo;
  c->col_lo = v->cols.lo;
  c->ld = (uint32_t)in->model->layers[v->layer].config.units;
}

static bool is_maxpool(spd_layer_kind_t k);

static bool is_add(const spd_model_t *m, int l) {
  return l > 0 && spd__op_of(&m->layers[l])->machine == SPD_OPM_ADD;
}

/* Layers between a producer's tiles and its readers' that carry its
 * values on: Flatten, Reshape, Dropout, a padding folded into its Conv2D,
 * an activation folded into its producer (a convolution's or an Add's). */
static bool carries_values(const spd_model_t *m, int r) {
  spd_op_machine_t role = spd__op_of(&m->layers[r])->machine;
  return role == SPD_OPM_PASS || role == SPD_OPM_MASK || role == SPD_OPM_PAD ||
         spd__layer_fold_target(m, r) >= 0 ||
         (m->layers[r].n_inbound == 1 &&
          spd__layer_add_folded_act(m, m->layers[r].inbound[0]) == r);
}

/* The layer whose tiles send the values model layer @p l holds. */
static int sent_by(const spd_model_t *m, int l) {
  while (l > 0 && carries_values(m, l))
    l = m->layers[l].inbound[0];
  return l;
}

/* Frac of the dX one reader @p r sends back: w + g of a convolution or
 * Dense layer, an Add's g, g of a max pooling, g + 16 of an average
 * pooling (base/fx_conv.h). */
static int32_t dx_frac_of(const spd__ds_inputs_t *in, int r) {
  const spd_layer_numerics_t *pl = &in->plan->layers[r];
  if (spd__op_has(&in->model->layers[r], SPD_OP_WEIGHTS))
    return pl->weight_frac + pl->grad_frac;
  if (is_add(in->model, r))
    return pl->grad_frac;
  return is_maxpool(in->model->layers[r].config.kind) ? pl->grad_frac : pl->grad_frac + 16;
}

static int32_t max_reader_frac(const spd__ds_inputs_t *in, int sent, int32_t best) {
  const spd_model_t *m = in->model;
  for (int j = sent + 1; j < m->n_layers; j++)
    for (int k = 0; k < m->layers[j].n_inbound; k++)
      if (m->layers[j].inbound[k] == sent) {
        int32_t f = carries_values(m, j) ? max_reader_frac(in, j, best) : dx_frac_of(in, j);
        best = f > best ? f : best;
        break;
      }
  return best;
}

/* Frac of the dX sums the layers reading model layer @p sent's output
 * send back, the largest when several read it (each shifts its sums up to
 * it: dx_shift); 0 when nothing reads it. */
static int32_t dx_frac_of_reader(const spd__ds_inputs_t *in, int sent) {
  int32_t f = max_reader_frac(in, sent, INT32_MIN);
  return f == INT32_MIN ? 0 : f;
}

/* Input k (in the inbound order of window layer @p l) whose values model
 * layer @p sent's tiles send; 0 when none matches. */
static int input_index(const spd_model_t *m, int l, int sent) {
  for (int k = 0; k < m->layers[l].n_inbound; k++)
    if (sent_by(m, m->layers[l].inbound[k]) == sent_by(m, sent))
      return k;
  return 0;
}

/* An Add tile: the exact sum's frac (the finest input's), each input's
 * shift to it, the Add's own format, and the activation folded into it (or
 * the identity at the Add's format); training: its dY frac is the sent
 * layer's, its dZ goes back at the Add's gradient frac, shifted to each
 * producer's dY frac. */
static void configure_add(const spd__ds_inputs_t *in, const spd_vertex_t *v,
                          spd_ds_config_t *c) {
  const spd_model_t *m = in->model;
  const spd_layer_t *l = &m->layers[v->layer];
  int a = spd__layer_add_folded_act(m, v->layer);
  act_config(in, a >= 0 ? a : v->layer, c);
  int32_t finest = 0;
  for (int k = 0; k < l->n_inbound; k++) {
    int32_t f = in->plan->layers[l->inbound[k]].act_frac;
    finest = f > finest ? f : finest;
  }
  c->add_inputs = (uint32_t)l->n_inbound;
  for (int k = 0; k < l->n_inbound; k++)
    c->add_up[k] = finest - in->plan->layers[l->inbound[k]].act_frac;
  c->acc_frac = finest;
  c->add_frac = in->plan->layers[v->layer].act_frac;
}

/* Training: the left shift of the dX sums window tile @p v sends to each
 * input's producer (the producer's dY frac less this layer's dX frac). */
static void dx_shifts(const spd__ds_inputs_t *in, const spd_vertex_t *v, spd_ds_config_t *c) {
  const spd_model_t *m = in->model;
  const spd_layer_t *l = &m->layers[v->layer];
  int32_t own = dx_frac_of(in, v->layer);
  for (int k = 0; k < l->n_inbound && k < 8; k++) {
    int p = sent_by(m, l->inbound[k]);
    int32_t s = p > 0 ? dx_frac_of_reader(in, p) - own : 0;
    c->dx_shift[k] = s > 0 ? s : 0;
  }
}

/* Training of a conv or pool tile: the block's place in the kernel (its
 * channels of k_h k_w C_in x out_c, for the stochastic rounding's element
 * indices), the pooling's dZ frac, the frac of the dX sums it receives,
 * the owner of its channel block; a conv tile's data region ends with its
 * master slice. @return the extra data bytes. */
static uint32_t train_window(const spd__ds_inputs_t *in, const spd_vertex_t *v,
                             spd_ds_config_t *c) {
  const spd_conv_tiling_t *t = spd_machine_graph_conv_tiling(in->g, v->layer);
  int sent = v->fused_pool ? v->fused_pool : v->layer;
  if (is_add(in->model, v->layer)) { /* the values sent are the folded activation's */
    int a = spd__layer_add_folded_act(in->model, v->layer);
    sent = a >= 0 ? a : v->layer;
    c->grad_frac = in->plan->layers[sent].grad_frac;
    c->add_grad_frac = in->plan->layers[v->layer].grad_frac;
  }
  dx_shifts(in, v, c);
  c->row_lo = 0;
  c->col_lo = v->cols.lo;
  c->ld = t->out_c;
  c->pool_grad_frac = in->plan->layers[v->role == SPD_ROLE_POOL ? v->layer : sent].grad_frac;
  c->dy_from_frac = dx_frac_of_reader(in, sent);
  if (v->role != SPD_ROLE_CONV)
    return 0;
  c->flags |= v->grid_row == 0 ? SPD_DS_OWNER : 0;
  /* the float weights are their own masters */
  return in->numeric == SPD_NUMERIC_FIXED ? t->k_h * t->k_w * t->in_c * v->cols.n * 4u : 0u;
}

/* Layers that pass every value on unchanged and in order: Flatten,
 * Reshape and a Dropout of rate 0 (the reference neither masks nor
 * scales); and an activation folded into its producer, which the
 * producer's tiles apply before any mask. */
static bool passes_values(const spd_model_t *m, int i) {
  const spd_layer_t *l = &m->layers[i];
  spd_op_machine_t role = spd__op_of(l)->machine;
  return role == SPD_OPM_PASS || (role == SPD_OPM_MASK && !(l->config.rate > 0)) ||
         spd__layer_fold_target(m, i) >= 0;
}

/* The Dropout (rate > 0) that reads model layer @p layer's output, directly
 * or through layers that pass values on, or -1. */
int spd__ds_dropout_reading(const spd_model_t *m, int layer) {
  for (int i = layer + 1; i < m->n_layers; i++) {
    const spd_layer_t *l = &m->layers[i];
    if (l->n_inbound < 1 || l->inbound[0] != layer)
      continue;
    if (passes_values(m, i)) {
      layer = i;
      continue;
    }
    return spd__op_of(l)->machine == SPD_OPM_MASK ? i : -1;
  }
  return -1;
}

/* Whether vertex @p v sends a layer's output values (y, not partial sums
 * or z for the loss), so that it can mask them for a Dropout. */
static bool masks_dropout(const spd_vertex_t *v) {
  switch (v->role) {
  case SPD_ROLE_REDUCER:
  case SPD_ROLE_TILE_FULL:
  case SPD_ROLE_CONV:
  case SPD_ROLE_POOL:
    return true;
  default:
    return false;
  }
}

int spd__ds_check_dropouts(spd_ctx_t *ctx, const spd_model_t *m, const spd_machine_graph_t *g) {
  for (int i = 1; i < m->n_layers; i++) {
    const spd_layer_t *l = &m->layers[i];
    if (spd__op_of(l)->machine != SPD_OPM_MASK || !(l->config.rate > 0))
      continue;
    bool masked = false;
    for (uint32_t v = 0; v < g->n_vertices && !masked; v++) {
      const spd_vertex_t *vx = &g->vertices[v];
      masked = masks_dropout(vx) &&
               spd__ds_dropout_reading(m, vx->fused_pool ? vx->fused_pool : vx->layer) == i;
    }
    if (masked)
      continue;
    int p = l->inbound[0];
    while (p > 0 && passes_values(m, p))
      p = m->layers[p].inbound[0];
    return spd_ctx_fail(ctx, SPD_EUNSUPPORTED,
                        "layer '%s' (Dropout, rate %g): machine training applies a Dropout's "
                        "mask in the cores that send the values it reads (a Dense layer's, a "
                        "convolution's or a pooling's output), and no core sends the output "
                        "of '%s' (%s) as such (the model input, another Dropout, an "
                        "Activation, or a convolution whose tiles pool it first); train it "
                        "with --backend reference",
                        l->config.name, l->config.rate, m->layers[p].config.name,
                        spd_layer_kind_name(m->layers[p].config.kind));
  }
  return 0;
}

/* Training: the mask of the Dropout reading what vertex @p v sends (its
 * y), the reference's constants (spd__fx_dropout_consts, and the float
 * reference's 1 / (1 - rate) in float). */
static void dropout_config(const spd__ds_inputs_t *in, const spd_vertex_t *v,
                           spd_ds_config_t *c) {
  int sent = v->fused_pool ? v->fused_pool : v->layer;
  int d = masks_dropout(v) ? spd__ds_dropout_reading(in->model, sent) : -1;
  if (d < 0)
    return;
  const spd_layer_t *l = &in->model->layers[d];
  uint64_t seed = l->config.dropout_seed ? l->config.dropout_seed : in->seed;
  spd_fx_const_t scale;
  float scale_f = 1.0f / (1.0f - (float)l->config.rate);
  c->flags |= SPD_DS_DROPOUT;
  c->drop = (spd_ds_dropout_t){.seed_lo = (uint32_t)seed, .seed_hi = (uint32_t)(seed >> 32),
                               .stream = (uint32_t)d, .seq_base = in->seq_base,
                               .blocks = (uint32_t)((spd_shape_size(&l->output_shape) + 3) / 4)};
  spd__fx_dropout_consts(l->config.rate, &c->drop.threshold, &scale);
  c->drop.scale_mant = scale.mant;
  c->drop.scale_shift = scale.shift;
  memcpy(&c->drop.scale_f, &scale_f, sizeof scale_f);
}

/* Role configuration and the size of the data region. */
static uint32_t configure(const spd__ds_inputs_t *in, uint32_t vi, spd_ds_config_t *c) {
  uint32_t bytes = configure_role(in, vi, c);
  c->resend_tick_us = in->resend_tick_us;
  const spd_vertex_t *v = &in->g->vertices[vi];
  if (in->train) {
    train_config(in, vi, c);
    if (in->numeric == SPD_NUMERIC_FIXED &&
        (v->role == SPD_ROLE_TILE || v->role == SPD_ROLE_TILE_FULL))
      bytes += v->rows.n * v->cols.n * 4u;
    if (v->role == SPD_ROLE_CONV || v->role == SPD_ROLE_POOL)
      bytes += train_window(in, v, c);
    dropout_config(in, v, c);
  }
  /* What the partitioner planned for a conv or pool tile's tables and
   * buffers (its state struct aside): the kernel checks it allocates
   * exactly that. */
  if ((v->role == SPD_ROLE_CONV || v->role == SPD_ROLE_POOL) &&
      v->dtcm_bytes > spd__cost_vertex_overhead())
    c->dtcm_plan = v->dtcm_bytes - spd__cost_vertex_overhead();
  return bytes;
}

static spd_ds_window_t ds_window(const spd_conv_tiling_t *t) {
  return (spd_ds_window_t){(int32_t)t->in_h,     (int32_t)t->in_w,     (int32_t)t->in_c,
                           (int32_t)t->out_h,    (int32_t)t->out_w,    (int32_t)t->out_c,
                           (int32_t)t->k_h,      (int32_t)t->k_w,      (int32_t)t->stride_h,
                           (int32_t)t->stride_w, (int32_t)t->dil_h,    (int32_t)t->dil_w,
                           (int32_t)t->pad_top,  (int32_t)t->pad_left};
}

static bool is_maxpool(spd_layer_kind_t k) {
  return (spd__layer_op(k)->traits & SPD_OP_MAXPOOL) != 0;
}

/* The pooling a conv or pool tile computes (its own layer or the fused
 * one), or NULL. */
static const spd_conv_tiling_t *pool_of(const spd_machine_graph_t *g, const spd_vertex_t *v) {
  if (v->role == SPD_ROLE_POOL)
    return spd_machine_graph_conv_tiling(g, v->layer);
  return v->fused_pool ? spd_machine_graph_conv_tiling(g, v->fused_pool) : NULL;
}

/* Bytes of an average pooling's 1/count table (count 0 .. k_h k_w). */
static uint32_t inv_count_bytes(const spd_conv_tiling_t *pool) {
  return pool && !is_maxpool(pool->kind) &&
                 spd__layer_op(pool->kind)->machine != SPD_OPM_ADD
             ? (pool->k_h * pool->k_w + 1u) * 8u
             : 0u;
}

/* A conv or pool tile: geometry of its layer(s), its rows and channels;
 * data: the kernel slice and bias (conv), the 1/count table (average). */
static uint32_t configure_window(const spd__ds_inputs_t *in, const spd_vertex_t *v,
                                 spd_ds_config_t *c) {
  const spd_conv_tiling_t *pool = pool_of(in->g, v);
  c->rows = v->rows.n;
  c->cols = v->cols.n;
  c->ch_lo = v->cols.lo;
  c->in_lo = v->in_rows.lo;
  c->in_n = v->in_rows.n;
  c->out_lo = v->rows.lo;
  c->out_n = v->rows.n;
  c->conv_lo = v->conv_rows.lo;
  c->conv_n = v->conv_rows.n;
  c->in_col_lo = v->in_cols.lo;
  c->in_col_n = v->in_cols.n;
  c->conv_col_lo = v->conv_cols.lo;
  c->conv_col_n = v->conv_cols.n;
  c->out_col_lo = v->out_cols.lo;
  c->out_col_n = v->out_cols.n;
  if (pool) {
    c->pool = ds_window(pool);
    c->pool_kind = is_add(in->model, pool->layer) ? SPD_DS_POOL_ADD
                   : is_maxpool(pool->kind)        ? SPD_DS_POOL_MAX
                                                   : SPD_DS_POOL_AVG;
  }
  if (v->role == SPD_ROLE_POOL && c->pool_kind == SPD_DS_POOL_ADD)
    configure_add(in, v, c);
  if (v->role == SPD_ROLE_POOL)
    return inv_count_bytes(pool);
  bool fixed = in->numeric == SPD_NUMERIC_FIXED;
  const spd_conv_tiling_t *conv = spd_machine_graph_conv_tiling(in->g, v->layer);
  c->conv = ds_window(conv);
  bool bias = fixed ? in->bias32[v->layer] != NULL : in->biasf[v->layer] != NULL;
  c->flags = bias ? SPD_DS_BIAS : 0;
  act_config(in, v->layer, c);
  uint32_t weights = conv->k_h * conv->k_w * conv->in_c * v->cols.n * (fixed ? 2u : 4u);
  return ((weights + 3u) & ~3u) + (bias ? v->cols.n * 4u : 0u) + inv_count_bytes(pool);
}

static uint32_t configure_role(const spd__ds_inputs_t *in, uint32_t vi, spd_ds_config_t *c) {
  const spd_vertex_t *v = &in->g->vertices[vi];
  bool fixed = in->numeric == SPD_NUMERIC_FIXED;
  uint32_t vb = fixed ? 2u : 4u;
  *c = (spd_ds_config_t){0};
  c->sdram_addr = in->sdram_addr[vi];
  c->prov_addr = in->prov_addr ? in->prov_addr[vi] : 0;
  switch (v->role) {
  case SPD_ROLE_SOURCE:
    c->rows = v->rows.n;
    c->bytes_per_value = in->bytes_per_value;
    c->start_us = in->start_us;
    return in->bytes_per_value == 1 ? 256u * 4u : 0u;
  case SPD_ROLE_TILE:
  case SPD_ROLE_TILE_FULL: {
    c->rows = v->rows.n;
    c->cols = v->cols.n;
    bool full = v->role == SPD_ROLE_TILE_FULL;
    c->flags = (full ? SPD_DS_FULL : 0) | (full && is_last_dense(in->g, v->layer) ? SPD_DS_LAST : 0);
    c->flags |= v->memory == SPD_TILE_STREAMED ? SPD_DS_STREAMED : 0;
    c->flags |= v->memory == SPD_TILE_SPLIT && fixed ? SPD_DS_SPLIT : 0;
    bool bias = full && (fixed ? in->bias32[v->layer] != NULL : in->biasf[v->layer] != NULL);
    c->flags |= bias ? SPD_DS_BIAS : 0;
    act_config(in, v->layer, c);
    return c->rows * c->cols * vb + (bias ? c->cols * 4u : 0u);
  }
  case SPD_ROLE_REDUCER: {
    c->cols = v->cols.n;
    bool bias = fixed ? in->bias32[v->layer] != NULL : in->biasf[v->layer] != NULL;
    c->flags = (is_last_dense(in->g, v->layer) ? SPD_DS_LAST : 0) | (bias ? SPD_DS_BIAS : 0);
    act_config(in, v->layer, c);
    return bias ? c->cols * 4u : 0u;
  }
  case SPD_ROLE_LOSS: {
    spd_activation_t a = output_activation(in->model, v->layer);
    c->cols = v->cols.n;
    act_config(in, v->layer, c);
    c->grad_frac = in->plan->layers[v->layer].grad_frac;
    c->flags = (a == SPD_ACT_SOFTMAX ? SPD_DS_SOFTMAX : 0) |
               (a == SPD_ACT_LINEAR && in->from_logits ? SPD_DS_FROM_LOGITS : 0) |
               (in->labels ? SPD_DS_LABELS : 0);
    return 0;
  }
  case SPD_ROLE_SINK:
    c->cols = v->cols.n + SPD_DS_RECORD_EXTRA;
    c->record_ring = spd__sink_ring(in->n_samples, v->cols.n);
    c->record_read_addr = c->sdram_addr + c->record_ring * SPD_DS_RECORD_WORDS(v->cols.n) * 4u;
    return 0;
  case SPD_ROLE_CONV:
  case SPD_ROLE_POOL:
    return configure_window(in, v, c);
  default:
    return 0;
  }
}

/* A conv tile's kernel slice (its channels of k_h x k_w x in_c x out_c)
 * and bias slice; an average pooling's 1/count table. */
static void fill_window(const spd__ds_inputs_t *in, const spd_vertex_t *v, uint8_t *d) {
  bool fixed = in->numeric == SPD_NUMERIC_FIXED;
  size_t off = 0, vb = fixed ? 2u : 4u;
  int l = v->layer;
  if (v->role == SPD_ROLE_CONV) {
    const spd_conv_tiling_t *conv = spd_machine_graph_conv_tiling(in->g, l);
    size_t rows = (size_t)conv->k_h * conv->k_w * conv->in_c;
    for (size_t e = 0; e < rows; e++) {
      size_t src = e * conv->out_c + v->cols.lo;
      memcpy(d + off, fixed ? (const void *)(in->w16[l] + src) : (const void *)(in->wf[l] + src),
             v->cols.n * vb);
      off += v->cols.n * vb;
    }
    off = (off + 3u) & ~(size_t)3u;
    const void *bias = fixed ? (const void *)in->bias32[l] : (const void *)in->biasf[l];
    if (bias) {
      memcpy(d + off, (const uint8_t *)bias + v->cols.lo * 4u, v->cols.n * 4u);
      off += v->cols.n * 4u;
    }
  }
  const spd_conv_tiling_t *pool = pool_of(in->g, v);
  if (!fixed)
    return;
  if (inv_count_bytes(pool)) {
    spd_fx_const_t k[1] = {{0, 0}};
    memcpy(d + off, k, sizeof k);
    for (uint32_t c = 1; c <= pool->k_h * pool->k_w; c++) {
      k[0] = spd_fx_const_from_double(1.0 / c);
      memcpy(d + off + c * sizeof k, k, sizeof k);
    }
    off += inv_count_bytes(pool);
  }
  if (!in->train || v->role != SPD_ROLE_CONV)
    return;
  const spd_conv_tiling_t *conv = spd_machine_graph_conv_tiling(in->g, l);
  for (size_t e = 0; e < (size_t)conv->k_h * conv->k_w * conv->in_c; e++) {
    memcpy(d + off, in->master[l] + e * conv->out_c + v->cols.lo, v->cols.n * 4u);
    off += v->cols.n * 4u;
  }
}

/* The block of a row-major in x out matrix, and the bias slice. */
static void fill_data(const spd__ds_inputs_t *in, uint32_t vi, uint8_t *d) {
  const spd_vertex_t *v = &in->g->vertices[vi];
  bool fixed = in->numeric == SPD_NUMERIC_FIXED;
  if (v->role == SPD_ROLE_CONV || v->role == SPD_ROLE_POOL) {
    fill_window(in, v, d);
    return;
  }
  if (v->role == SPD_ROLE_SOURCE) {
    if (in->bytes_per_value == 1)
      memcpy(d, in->input_table, 256u * 4u);
    return;
  }
  if (v->role != SPD_ROLE_TILE && v->role != SPD_ROLE_TILE_FULL && v->role != SPD_ROLE_REDUCER)
    return;
  int l = v->layer;
  uint32_t out = (uint32_t)in->model->layers[l].config.units;
  size_t off = 0;
  if (v->role != SPD_ROLE_REDUCER) {
    for (uint32_t r = 0; r < v->rows.n; r++) {
      size_t src = (size_t)(v->rows.lo + r) * out + v->cols.lo;
      size_t n = fixed ? v->cols.n * 2u : v->cols.n * 4u;
      memcpy(d + off, fixed ? (const void *)(in->w16[l] + src) : (const void *)(in->wf[l] + src), n);
      off += n;
    }
  }
  bool bias = v->role != SPD_ROLE_TILE;
  if (bias && fixed && in->bias32[l]) {
    memcpy(d + off, in->bias32[l] + v->cols.lo, v->cols.n * 4u);
    off += v->cols.n * 4u;
  } else if (bias && !fixed && in->biasf[l]) {
    memcpy(d + off, in->biasf[l] + v->cols.lo, v->cols.n * 4u);
  }
  if (!in->train || !fixed || v->role == SPD_ROLE_REDUCER)
    return;
  for (uint32_t r = 0; r < v->rows.n; r++) {
    memcpy(d + off, in->master[l] + (size_t)(v->rows.lo + r) * out + v->cols.lo,
           v->cols.n * 4u);
    off += v->cols.n * 4u;
  }
}

/* A feature-map partition's positions as the core's own values
 * (docs/dataspec.md): the core holds rows from r0 on, @p ow columns from
 * col0 on (a row is ow * Cl values), Cl channels from c0 on, its first
 * value at flat index @p off of that layout (a Dense tile after the
 * Flatten: minus its first row of W, every column). A partition covering
 * all of the core's columns and channels is a contiguous run. */
static void fm_map(const spd_partition_t *p, uint32_t r0, uint32_t col0, uint32_t ow, uint32_t Cl,
                   uint32_t c0, uint32_t off, uint32_t *lo, spd_ds_fm_t *fm) {
  spd_range_t pc = p->fm_cols.n ? p->fm_cols : (spd_range_t){0, p->fm_width};
  *fm = (spd_ds_fm_t){p->values.lo, pc.n, p->fm_chans.n, ow * Cl, Cl};
  *lo = off + (p->fm_rows.lo - r0) * ow * Cl + (pc.lo - col0) * Cl + (p->fm_chans.lo - c0);
  if (p->fm_chans.n == Cl && pc.n == ow) { /* linear: position q is lo + q */
    *lo += p->values.lo;
    *fm = (spd_ds_fm_t){0};
  }
}

/* A window tile's columns (every column when it is not cut by them). */
static spd_range_t cols_or_all(spd_range_t c, uint32_t width) {
  return c.n ? c : (spd_range_t){0, width};
}

/* How vertex @p v addresses the values of feature-map partition @p p it
 * sends or receives. */
static void fm_own(const spd_model_t *m, const spd_vertex_t *v, const spd_partition_t *p,
                   bool receiving, uint32_t *lo, spd_ds_fm_t *fm) {
  /* A window tile's input rows travel in (x, y) and out (dX sums); its
   * output rows the other way round. */
  bool dx = !strcmp(p->name, "dxpsum"), input = receiving != dx;
  uint32_t W = p->fm_width;
  spd_range_t ic = cols_or_all(v->in_cols, W), oc = cols_or_all(v->out_cols, W);
  switch (v->role) {
  case SPD_ROLE_SOURCE:
    fm_map(p, v->in_rows.lo, 0, W, p->fm_channels, 0, 0, lo, fm);
    return;
  case SPD_ROLE_CONV:
    if (input)
      fm_map(p, v->in_rows.lo, ic.lo, ic.n, p->fm_channels, 0, 0, lo, fm);
    else
      fm_map(p, v->rows.lo, oc.lo, oc.n, v->cols.n, v->cols.lo, 0, lo, fm);
    return;
  case SPD_ROLE_POOL: {
    /* an Add tile holds each input's block one after the other */
    uint32_t off = 0, block = v->in_rows.n * ic.n * v->cols.n;
    if (input && is_add(m, v->layer))
      off = (uint32_t)input_index(m, v->layer, p->layer) * block;
    if (input)
      fm_map(p, v->in_rows.lo, ic.lo, ic.n, v->cols.n, v->cols.lo, off, lo, fm);
    else
      fm_map(p, v->rows.lo, oc.lo, oc.n, v->cols.n, v->cols.lo, off, lo, fm);
    return;
  }
  default: /* the first Dense layer's tiles: flat index minus their first row */
    fm_map(p, 0, 0, W, p->fm_channels, 0, 0u - v->rows.lo, lo, fm);
    return;
  }
}

/* Receivers search their table by key (binary search on the bases): the
 * partitions of values first, then the credits and requests, each part
 * sorted by base, so a value's packet searches only the first part
 * (kernel_common.c, receive). */
static int by_base(const void *a, const void *b) {
  const spd_ds_in_t *p = a, *q = b;
  uint32_t x = spd_kc_data_kind(p->kind) ? 0u : 1u, y = spd_kc_data_kind(q->kind) ? 0u : 1u;
  if (x != y)
    return x < y ? -1 : 1;
  return (p->base > q->base) - (p->base < q->base);
}

static void fill_tables(const spd__ds_inputs_t *in, uint32_t vi, spd_ds_in_t *ins,
                        spd_ds_out_t *outs) {
  const spd_machine_graph_t *g = in->g;
  const spd_vertex_t *v = &g->vertices[vi];
  uint32_t ni = 0, no = 0;
  for (uint32_t p = 0; p < g->n_partitions; p++) {
    const spd_partition_t *part = &g->partitions[p];
    const spd_key_block_t *k = &in->keys[p];
    uint32_t kind = kind_of(part->name);
    if (part->source == vi) {
      uint32_t pace = in->pace[p];
      spd_ds_out_t *o = &outs[no++];
      *o = (spd_ds_out_t){k->base, part->value_bits, part->values.lo - own_lo(v, kind, false),
                          part->values.n, part->words, pace, kind, spd__ds_phase_of(in, p, pace),
                          {0}};
      if (part->fm_width)
        fm_own(in->model, v, part, false, &o->lo, &o->fm);
    }
    for (uint32_t t = 0; t < part->n_targets; t++)
      if (part->targets[t] == vi) {
        spd_ds_in_t *e = &ins[ni++];
        *e = (spd_ds_in_t){k->base, k->mask, part->value_bits,
                           part->values.lo - own_lo(v, kind, true), part->values.n, part->words,
                           kind, {0}};
        if (part->fm_width)
          fm_own(in->model, v, part, true, &e->lo, &e->fm);
      }
  }
  qsort(ins, ni, sizeof *ins, by_base);
}
/* The blob's code for a vertex role (kernels know only the dataspec). */
static spd_ds_role_t ds_role(spd_vertex_role_t role) {
  switch (role) {
  case SPD_ROLE_SOURCE:
    return SPD_DS_ROLE_SOURCE;
  case SPD_ROLE_TILE:
    return SPD_DS_ROLE_TILE;
  case SPD_ROLE_TILE_FULL:
    return SPD_DS_ROLE_TILE_FULL;
  case SPD_ROLE_REDUCER:
    return SPD_DS_ROLE_REDUCER;
  case SPD_ROLE_LOSS:
    return SPD_DS_ROLE_LOSS;
  case SPD_ROLE_SINK:
    return SPD_DS_ROLE_SINK;
  case SPD_ROLE_CONV:
    return SPD_DS_ROLE_CONV;
  case SPD_ROLE_POOL:
    return SPD_DS_ROLE_POOL;
  default:
    return (spd_ds_role_t)0; /* no kernel accepts it: spd_kc_init refuses */
  }
}


int spd__ds_build(spd_ctx_t *ctx, const spd__ds_inputs_t *in, uint32_t vi, uint8_t **bytes,
                  uint32_t *size) {
  const spd_vertex_t *v = &in->g->vertices[vi];
  uint32_t n_in, n_out;
  spd__graph_tables(in->g, vi, &n_in, &n_out);
  spd_ds_config_t cfg;
  uint32_t data = (configure(in, vi, &cfg) + 3u) & ~3u;
  spd_ds_header_t h = {.magic = SPD_DS_MAGIC, .version = SPD_DS_VERSION,
                       .role = (uint32_t)ds_role(v->role),
                       .numeric = in->numeric == SPD_NUMERIC_FIXED ? SPD_DS_FIXED : SPD_DS_FLOAT,
                       .n_samples = in->n_samples, .slots = in->slots, .n_in = n_in,
                       .n_out = n_out};
  h.in_offset = (uint32_t)sizeof h;
  h.out_offset = h.in_offset + n_in * (uint32_t)sizeof(spd_ds_in_t);
  h.config_offset = h.out_offset + n_out * (uint32_t)sizeof(spd_ds_out_t);
  h.data_offset = h.config_offset + (uint32_t)sizeof cfg;
  h.data_bytes = data;
  h.total_bytes = h.data_offset + data;
  uint8_t *b = spd_calloc(ctx, 1, h.total_bytes);
  if (!b)
    return spd_ctx_fail(ctx, SPD_ENOMEM, "data specification of vertex %u: %u bytes", vi,
                        h.total_bytes);
  memcpy(b, &h, sizeof h);
  fill_tables(in, vi, (spd_ds_in_t *)(void *)(b + h.in_offset),
              (spd_ds_out_t *)(void *)(b + h.out_offset));
  memcpy(b + h.config_offset, &cfg, sizeof cfg);
  fill_data(in, vi, b + h.data_offset);
  *bytes = b;
  *size = h.total_bytes;
  return 0;
}
