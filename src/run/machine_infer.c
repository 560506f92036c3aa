/* Evaluate and predict on the machine (spindle/machine_run.h): a forward
 * run of spd_machine_forward, its per-sample records read as a loss and
 * an accuracy, or as the outputs. */
#include "run/machine_session.h"
#include "spindle/machine_run.h"

bool spd__mrun_loss_output_ok(const spd_model_t *m, bool from_logits) {
  return m->layers[m->n_layers - 1].config.activation ==
         (from_logits ? SPD_ACT_LINEAR : SPD_ACT_SOFTMAX);
}

int spd_machine_evaluate(spd_ctx_t *ctx, const spd_model_t *m, const spd_machine_t *machine,
                         const spd_machine_run_opts_t *opts, const spd_fit_data_t *data,
                         double *loss, double *accuracy, spd_machine_stats_t *stats) {
  if (!data || !data->y.labels || !m || !m->built)
    return spd_ctx_fail(ctx, SPD_EINVAL, "machine evaluate: integer labels are required");
  spd_activation_t a = m->layers[m->n_layers - 1].config.activation;
  bool logits = opts && opts->from_logits;
  if (!spd__mrun_loss_output_ok(m, logits))
    return spd_ctx_fail(ctx, SPD_EUNSUPPORTED,
                        "machine evaluate: the loss core computes sparse categorical "
                        "cross-entropy after a softmax output layer, or from the logits of "
                        "a linear one (from_logits); layer '%s' has %s %s from_logits",
                        m->layers[m->n_layers - 1].config.name, spd_activation_name(a),
                        logits ? "with" : "without");
  spd_machine_results_t res = {.loss = spd_malloc(ctx, data->n * sizeof(double)),
                               .predicted = spd_malloc(ctx, data->n * sizeof(int32_t))};
  int err = res.loss && res.predicted ? 0 : spd_ctx_fail(ctx, SPD_ENOMEM, "evaluate results");
  if (!err)
    err = spd_machine_forward(ctx, m, machine, opts, data, &res, stats);
  if (!err) {
    double sum = 0;
    size_t correct = 0;
    for (size_t s = 0; s < data->n; s++) {
      sum += res.loss[s];
      correct += res.predicted[s] == data->y.labels[s];
    }
    *loss = sum / (double)data->n;
    *accuracy = (double)correct / (double)data->n;
  }
  spd_free(ctx, res.loss);
  spd_free(ctx, res.predicted);
  return err;
}

int spd_machine_predict(spd_ctx_t *ctx, const spd_model_t *m, const spd_machine_t *machine,
                        const spd_machine_run_opts_t *opts, const spd_fit_data_t *data,
                        float *out, spd_machine_stats_t *stats) {
  spd_machine_results_t res = {.outputs = out};
  return spd_machine_forward(ctx, m, machine, opts, data, &res, stats);
}
