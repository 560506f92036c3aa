/* The reference executor over the whole graph: forward in topological order,
 * the loss at the output layer, backward in reverse order so that every
 * layer's output gradient is complete (all its consumers come later) before
 * it is used. */
#include <math.h>
#include <string.h>

#include "nn/layer_op.h"
#include "nn/ref_exec.h"

int spd_ref_forward(spd_ref_t *ref, const float *x, int batch, bool training) {
  int rc = spd_ref_set_batch(ref, batch);
  if (rc)
    return rc;
  memcpy(ref->layers[0].out, x, ref->layers[0].out_size * (size_t)batch * sizeof(float));
  for (int i = 1; i <= ref->model->output; i++)
    spd__ref_layer_forward(ref, i, training);
  ref->training = training;
  ref->forward_done = true;
  return 0;
}

int spd_ref_layer_forward(spd_ref_t *ref, int layer, bool training) {
  if (layer < 0 || layer >= ref->model->n_layers || ref->batch < 1)
    return spd_ctx_fail(ref->ctx, SPD_EINVAL, "reference executor: layer %d (batch %d)", layer,
                        ref->batch);
  spd__ref_layer_forward(ref, layer, training);
  ref->training = training;
  return 0;
}

int spd_ref_layer_backward(spd_ref_t *ref, int layer) {
  if (layer < 0 || layer >= ref->model->n_layers || ref->batch < 1)
    return spd_ctx_fail(ref->ctx, SPD_EINVAL, "reference executor: layer %d (batch %d)", layer,
                        ref->batch);
  spd__ref_layer_backward(ref, layer, NULL);
  return 0;
}

/* The activation applied last by the output layer, if any. */
static spd_activation_t output_activation(const spd_layer_t *layer) {
  return spd__op_activation(layer);
}

/* How the loss is taken: on the output, or on the logits before a softmax
 * (categorical) or sigmoid (binary) output, as tf.keras 2 does in compiled
 * training (backend.categorical_crossentropy looks through a Softmax op). */
typedef struct loss_plan {
  spd_loss_params_t params;
  const float *pred;
  bool fused;
} loss_plan_t;

static int plan_loss(spd_ref_t *ref, spd_loss_kind_t kind, bool from_logits, const float *labels,
                     loss_plan_t *plan) {
  const spd_model_t *m = ref->model;
  const spd_layer_t *out = &m->layers[m->output];
  const ref_layer_state_t *st = &ref->layers[m->output];
  if ((int)kind < 0 || kind >= SPD_LOSS_COUNT)
    return spd_ctx_fail(ref->ctx, SPD_EINVAL, "reference executor: unknown loss %d", (int)kind);
  spd_activation_t act = output_activation(out);
  bool categorical = kind == SPD_LOSS_CATEGORICAL_CROSSENTROPY ||
                     kind == SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
  plan->fused = !from_logits && ((categorical && act == SPD_ACT_SOFTMAX) ||
                                 (kind == SPD_LOSS_BINARY_CROSSENTROPY && act == SPD_ACT_SIGMOID));
  plan->pred = st->out;
  if (plan->fused)
    plan->pred = spd__op_has(out, SPD_OP_WEIGHTS) ? st->pre : ref->layers[out->inbound[0]].out;
  plan->params.kind = kind;
  plan->params.from_logits = from_logits || plan->fused;
  plan->params.cols = (size_t)out->output_shape.dims[out->output_shape.rank - 1];
  plan->params.rows = st->out_size / plan->params.cols * (size_t)ref->batch;
  if (kind != SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY)
    return 0;
  for (size_t r = 0; r < plan->params.rows; r++) {
    float y = labels[r];
    if (!(y >= 0.0f && y < (float)plan->params.cols && y == floorf(y)))
      return spd_ctx_fail(ref->ctx, SPD_EINVAL,
                          "sparse_categorical_crossentropy: label %g of row %zu is not a class "
                          "index in 0..%zu (output layer '%s')",
                          (double)y, r, plan->params.cols - 1, out->config.name);
  }
  return 0;
}

int spd_ref_loss(spd_ref_t *ref, spd_loss_kind_t kind, bool from_logits, const float *labels,
                 double *loss_out) {
  if (!ref->forward_done)
    return spd_ctx_fail(ref->ctx, SPD_ESTATE, "reference executor: loss before any forward");
  loss_plan_t plan;
  int rc = plan_loss(ref, kind, from_logits, labels, &plan);
  if (rc)
    return rc;
  *loss_out = spd_loss_forward(plan.pred, labels, &plan.params);
  return 0;
}

int spd_ref_backward(spd_ref_t *ref, spd_loss_kind_t kind, bool from_logits,
                     const float *labels, double *loss_out) {
  if (!ref->forward_done)
    return spd_ctx_fail(ref->ctx, SPD_ESTATE, "reference executor: backward before any forward");
  loss_plan_t plan;
  int rc = plan_loss(ref, kind, from_logits, labels, &plan);
  if (rc)
    return rc;
  if (loss_out)
    *loss_out = spd_loss_forward(plan.pred, labels, &plan.params);
  spd_ref_zero_grads(ref);
  int o = ref->model->output;
  float *dy = plan.fused ? ref->scratch : ref->layers[o].dout;
  spd_loss_backward(dy, plan.pred, labels, &plan.params);
  spd__ref_layer_backward(ref, o, plan.fused ? dy : NULL);
  for (int i = o - 1; i >= 1; i--)
    spd__ref_layer_backward(ref, i, NULL);
  return 0;
}
