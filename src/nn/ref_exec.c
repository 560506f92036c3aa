/* The reference executor's memory: one slab of activations and one of
 * gradients, carved into named per-layer views (llm.c's parameter tensors). */
#include <string.h>

#include "nn/conv_gemm.h"
#include "nn/layer_op.h"
#include "nn/ref_exec.h"

void spd_ref_options_default(spd_ref_options_t *o) {
  memset(o, 0, sizeof *o);
}

static bool has_fused_activation(const spd_layer_t *layer) {
  return spd__op_has(layer, SPD_OP_WEIGHTS) && layer->config.activation != SPD_ACT_LINEAR;
}

/* Floats of activation memory layer @p layer needs; assigns views from
 * @p slab when it is non-NULL. */
static size_t carve_activations(const spd_layer_t *layer, size_t capacity,
                                ref_layer_state_t *st, float *slab) {
  size_t per = spd_shape_size(&layer->output_shape) * capacity, used = 0;
  float *base = slab;
#define CARVE_(field, n)                                                      \
  do {                                                                        \
    if (slab)                                                                 \
      st->field = base + used;                                                \
    used += (n);                                                              \
  } while (0)
  CARVE_(out, per);
  CARVE_(dout, per);
  if (has_fused_activation(layer))
    CARVE_(pre, per);
  const spd_layer_op_t *op = spd__op_of(layer);
  if (op->ref_state) {
    CARVE_(mask, op->ref_state(layer, capacity));
    st->stats = st->mask;
  }
#undef CARVE_
  return used;
}

static size_t carve_grads(const spd_layer_t *layer, ref_layer_state_t *st, float *slab) {
  size_t used = 0;
  for (int p = 0; p < layer->n_params; p++) {
    if (!layer->params[p].trainable)
      continue;
    if (slab)
      st->grads[p] = slab + used;
    used += spd_shape_size(&layer->params[p].value.shape);
  }
  return used;
}

static void carve_all(spd_ref_t *ref, size_t *act_floats, size_t *grad_floats, size_t *largest) {
  const spd_model_t *m = ref->model;
  size_t a = 0, g = 0, big = 1;
  for (int i = 0; i < m->n_layers; i++) {
    ref_layer_state_t *st = &ref->layers[i];
    st->out_size = spd_shape_size(&m->layers[i].output_shape);
    big = st->out_size > big ? st->out_size : big;
    a += carve_activations(&m->layers[i], (size_t)ref->capacity, st,
                           ref->act_slab ? ref->act_slab + a : NULL);
    g += carve_grads(&m->layers[i], st, ref->grad_slab ? ref->grad_slab + g : NULL);
  }
  *act_floats = a;
  *grad_floats = g;
  *largest = big * (size_t)ref->capacity;
}

void spd_ref_free(spd_ref_t *ref) {
  if (!ref)
    return;
  spd_free(ref->ctx, ref->act_slab);
  spd_free(ref->ctx, ref->grad_slab);
  spd_free(ref->ctx, ref->layers);
  spd_free(ref->ctx, ref);
}

static size_t conv_scratch_floats(const spd_model_t *m) {
  size_t most = 0;
  for (int i = 0; i < m->n_layers; i++) {
    if (!spd__op_has(&m->layers[i], SPD_OP_WEIGHTS) || !spd__op_has(&m->layers[i], SPD_OP_WINDOW))
      continue;
    spd_window_params_t p = spd__ref_window_params(&m->layers[i], 1);
    size_t n = spd__conv_gemm_scratch(&p);
    most = n > most ? n : most;
  }
  return most;
}

static int alloc_slabs(spd_ref_t *ref) {
  size_t act, grad, scratch, conv = conv_scratch_floats(ref->model);
  carve_all(ref, &act, &grad, &scratch);
  /* The scratch areas ride at the end of the activation slab. */
  ref->act_slab = spd_calloc(ref->ctx, act + scratch + conv, sizeof(float));
  ref->grad_slab = spd_calloc(ref->ctx, grad ? grad : 1, sizeof(float));
  if (!ref->act_slab || !ref->grad_slab)
    return spd_ctx_fail(ref->ctx, SPD_ENOMEM,
                        "reference executor for model '%s': out of memory for %zu bytes of "
                        "activations and %zu bytes of gradients (batch capacity %d)",
                        ref->model->name, (act + scratch + conv) * sizeof(float),
                        grad * sizeof(float),
                        ref->capacity);
  carve_all(ref, &act, &grad, &scratch);
  ref->scratch = ref->act_slab + act;
  ref->conv_scratch = ref->scratch + scratch;
  ref->grad_floats = grad;
  return 0;
}

static bool has_trainable(const spd_layer_t *layer) {
  for (int p = 0; p < layer->n_params; p++)
    if (layer->params[p].trainable)
      return true;
  return false;
}

/* A layer's output gradient is only worth computing when the layer or one
 * upstream of it has trainable parameters (or the input gradient is asked
 * for): a Flatten right after the input needs none, which saves the first
 * Dense layer's input-gradient product. */
static void mark_needs_grad(spd_ref_t *ref) {
  const spd_model_t *m = ref->model;
  ref->layers[0].needs_grad = ref->opts.input_gradient;
  for (int i = 1; i < m->n_layers; i++) {
    bool needs = has_trainable(&m->layers[i]);
    for (int k = 0; k < m->layers[i].n_inbound; k++)
      needs |= ref->layers[m->layers[i].inbound[k]].needs_grad;
    ref->layers[i].needs_grad = needs;
  }
}

int spd_ref_new(const spd_model_t *model, int batch_capacity, const spd_ref_options_t *opts,
                spd_ref_t **out) {
  spd_ctx_t *ctx = model->ctx;
  if (!model->built)
    return spd_ctx_fail(ctx, SPD_ESTATE, "reference executor: model '%s' is not built",
                        model->name);
  if (batch_capacity < 1)
    return spd_ctx_fail(ctx, SPD_EINVAL, "reference executor: batch capacity %d must be >= 1",
                        batch_capacity);
  spd_ref_t *ref = spd_calloc(ctx, 1, sizeof *ref);
  if (!ref)
    return spd_ctx_fail(ctx, SPD_ENOMEM, "reference executor for model '%s': out of memory",
                        model->name);
  ref->ctx = ctx;
  ref->model = model;
  ref->capacity = batch_capacity;
  if (opts)
    ref->opts = *opts;
  else
    spd_ref_options_default(&ref->opts);
  ref->layers = spd_calloc(ctx, (size_t)model->n_layers, sizeof *ref->layers);
  int rc = ref->layers ? alloc_slabs(ref)
                       : spd_ctx_fail(ctx, SPD_ENOMEM,
                                      "reference executor for model '%s': out of memory",
                                      model->name);
  if (rc) {
    spd_ref_free(ref);
    return rc;
  }
  mark_needs_grad(ref);
  *out = ref;
  return 0;
}

spd_tensor_t spd_ref_grad(spd_ref_t *ref, int layer, int param_index) {
  spd_tensor_t t = {0};
  if (layer < 0 || layer >= ref->model->n_layers || param_index < 0 ||
      param_index >= ref->model->layers[layer].n_params)
    return t;
  t.shape = ref->model->layers[layer].params[param_index].value.shape;
  t.data = ref->layers[layer].grads[param_index];
  return t;
}

float *spd_ref_output(spd_ref_t *ref, int layer) {
  if (layer < 0 || layer >= ref->model->n_layers)
    return NULL;
  return ref->layers[layer].out;
}

float *spd_ref_output_grad(spd_ref_t *ref, int layer) {
  if (layer < 0 || layer >= ref->model->n_layers)
    return NULL;
  return ref->layers[layer].dout;
}

int spd_ref_batch(const spd_ref_t *ref) { return ref->batch; }

int spd_ref_set_batch(spd_ref_t *ref, int batch) {
  if (batch < 1 || batch > ref->capacity)
    return spd_ctx_fail(ref->ctx, SPD_ERANGE, "reference executor: batch %d outside 1..%d", batch,
                        ref->capacity);
  ref->batch = batch;
  return 0;
}

void spd_ref_zero_grads(spd_ref_t *ref) {
  memset(ref->grad_slab, 0, ref->grad_floats * sizeof(float));
  for (int i = 0; i < ref->model->n_layers; i++)
    memset(ref->layers[i].dout, 0,
           ref->layers[i].out_size * (size_t)ref->capacity * sizeof(float));
}
