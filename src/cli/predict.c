/* `spindle predict`: the model's outputs for the test split of a dataset,
 * written as a float32 .npy array (samples, outputs...) atomically. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/interrupt.h"
#include "cli/report.h"
#include "cli/session.h"

static const char usage[] =
    "usage: spindle predict MODEL --weights W.h5 --data fashion-mnist|FOLDER "
    "--output P.npy [OPTIONS]\n"
    "       spindle predict MODEL --input X.npy --output P.npy [OPTIONS]\n"
    "\n"
    "Run a model (Keras .json, .h5, .keras, or ONNX .onnx) over the test split of\n"
    "a dataset, or over the samples of a NumPy array, and write its outputs (one\n"
    "row per sample, float32) to a NumPy .npy file, atomically. By default the\n"
    "samples run through the model on an emulated SpiNN-5 board.\n"
    "\n"
    "options:\n"
    "  --data D            fashion-mnist, mnist, or a folder with the four IDX files\n"
    "  --input X.npy       the samples instead: float32 or float64, axis 0 the\n"
    "                      samples, each shaped as the model declares its input\n"
    "                      (channels first, NCHW, for an ONNX model); the outputs\n"
    "                      keep the model's declared layout too\n"
    "  --weights W         the weights (.h5, .weights.h5 or .keras)\n"
    "  --output P.npy      where the predictions go (required)\n"
    "  --batch-size B      samples per batch (default 32)\n"
    "  --limit N           predict the first N test samples (default: all)\n"
    "  --test-limit N      the same as --limit here\n"
    "  --seed S            seed of freshly initialised weights (default 0)\n"
    "  --report R.json     write a JSON report\n"
    SPD_CLI_FOLD_BN_HELP
    SPD_CLI_MACHINE_HELP
    "\n"
    "Ctrl-C or SIGTERM stops at the next batch, writes neither --output nor\n"
    "--report and exits with 130 or 143.\n";

/* The output array (n, output shape...) of float32, owned by @p s's ctx;
 * channels first when the model's file declares its output so (ONNX). */
static int alloc_output(spd_cli_session_t *s, spd_array_t *a) {
  const spd_shape_t *shape = &s->model->layers[s->model->output].output_shape;
  *a = (spd_array_t){.dtype = SPD_DTYPE_F32, .rank = shape->rank + 1, .ctx = &s->ctx};
  a->dims[0] = s->test.n;
  bool first = s->model->output_channels_last.rank >= 2 && shape->rank >= 2;
  for (int i = 0; i < shape->rank; i++)
    a->dims[i + 1] = (uint64_t)shape->dims[first ? (i + shape->rank - 1) % shape->rank : i];
  a->data = spd_calloc(&s->ctx, s->test.n * spd_shape_size(shape), sizeof(float));
  if (!a->data) {
    spd_ctx_fail(&s->ctx, SPD_ENOMEM, "predictions of %zu samples", s->test.n);
    return spd_cli_session_fail(s);
  }
  return 0;
}

/* Each row from the layers' channels-last order into the one the model's
 * file declares (a copy when they agree). */
static int to_declared_layout(spd_cli_session_t *s, spd_array_t *a) {
  if (s->model->output_channels_last.rank < 2 || !a->dims[0])
    return 0;
  size_t row = (size_t)(spd_array_count(a) / a->dims[0]);
  float *tmp = spd_malloc(&s->ctx, row * sizeof *tmp);
  if (!tmp)
    return spd_ctx_fail(&s->ctx, SPD_ENOMEM, "an output row of %zu values", row);
  float *data = a->data;
  for (uint64_t k = 0; k < a->dims[0]; k++) {
    spd_model_output_channels_first(s->model, data + k * row, tmp);
    memcpy(data + k * row, tmp, row * sizeof *tmp);
  }
  spd_free(&s->ctx, tmp);
  return 0;
}

static int on_batch(void *ud, size_t step, size_t steps, double loss, double accuracy) {
  (void)loss;
  (void)accuracy;
  spd_cli_session_t *s = ud;
  if (step == 1)
    spd_progress_begin(&s->bar, stdout, (long)steps);
  spd_progress_update(&s->bar, (long)step, NULL, 0);
  return spd_cli_stop_inference(s);
}

static int run(spd_cli_session_t *s) {
  spd_array_t a;
  int rc = alloc_output(s, &a);
  if (rc)
    return rc;
  spd_fit_callbacks_t cb = {.ud = s, .on_batch_cb = on_batch,
                            .should_stop_cb = spd_cli_interrupt_requested};
  if ((rc = spd_cli_session_predict(s, &cb, a.data))) {
    spd_array_free(&a);
    return rc;
  }
  if (to_declared_layout(s, &a) || spd_npy_write(&s->ctx, s->opt->output, &a)) {
    spd_array_free(&a);
    return spd_cli_session_fail(s);
  }
  printf("predictions: %llu x %llu written to %s\n", (unsigned long long)a.dims[0],
         (unsigned long long)(spd_array_count(&a) / a.dims[0]), s->opt->output);
  spd_array_free(&a);
  spd_cli_print_hardware(s);
  cJSON *r = spd_cli_report_new(s);
  spd_cli_report_hardware(r, s);
  if (r) {
    spd_cli_report_string(r, "output", s->opt->output);
    spd_cli_report_number(r, "host_seconds", spd_cli_session_seconds(s));
  }
  return spd_cli_report_write(s, r);
}

int spd_cli_predict(int argc, char **argv) {
  spd_cli_options_t o;
  int rc = spd_cli_parse(argc, argv, SPD_OPT_GROUP_COMMON | SPD_OPT_GROUP_WEIGHTS | SPD_OPT_GROUP_INFER |
                                     SPD_OPT_GROUP_OUTPUT, usage, &o);
  if (rc)
    return rc < 0 ? 0 : rc;
  if (!o.output) {
    fprintf(stderr, "spindle predict: missing --output P.npy\n");
    return 2;
  }
  spd_cli_session_t s;
  if ((rc = spd_cli_session_open(&s, "predict", &o)))
    return rc;
  rc = run(&s);
  spd_cli_session_close(&s);
  return rc;
}
