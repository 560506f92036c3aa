#include "cli/session.h"
#include "cli/report.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/interrupt.h"
#include "spindle/keras.h"

static int fail(const char *command, const char *fmt, const char *a, const char *b) {
  fprintf(stderr, "spindle %s: ", command);
  fprintf(stderr, fmt, a, b);
  fputc('\n', stderr);
  return 1;
}

/* The machine is the default backend, so what it cannot run yet points to
 * the host executor, which runs every layer and loss. */
int spd_cli_session_fail(spd_cli_session_t *s) {
  const char *message = spd_ctx_message(&s->ctx);
  if (spd_cli_interrupt_signal())
    return spd_cli_session_interrupted(s);
  bool unsupported = s->machine && s->ctx.last_error == SPD_EUNSUPPORTED &&
                     !strstr(message, "--backend reference");
  fprintf(stderr, "spindle %s: %s%s\n", s->command, message,
          unsupported ? " (--backend reference runs it on the host)" : "");
  return 1;
}

/* An output goes to a folder that exists and is writable, checked before the
 * work starts; the file itself is written atomically at the end. */
static int check_output(const char *command, const char *option, const char *path) {
  if (!path)
    return 0;
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", path);
  const char *dir = dirname(copy);
  if (access(dir, W_OK) != 0)
    return fail(command, "%s: cannot write into the folder '%s'", option, dir);
  return 0;
}

static int check_outputs(const char *command, const spd_cli_options_t *o) {
  if (o->save && spd_keras_file_from_path(o->save) == SPD_KERAS_FILE_UNKNOWN) {
    fprintf(stderr, "spindle %s: --save '%s': unknown weights format (use .h5, "
                    ".weights.h5 or .keras)\n", command, o->save);
    return 2;
  }
  if (o->save && spd_keras_file_from_path(o->save) == SPD_KERAS_FILE_JSON) {
    fprintf(stderr, "spindle %s: --save '%s': a .json file holds no weights\n", command,
            o->save);
    return 2;
  }
  int rc = check_output(command, "--save", o->save);
  if (!rc)
    rc = check_output(command, "--report", o->report);
  if (!rc)
    rc = check_output(command, "--output", o->output);
  if (!rc)
    rc = check_output(command, "--checkpoint", o->checkpoint);
  struct stat st;
  if (!rc && o->checkpoint && stat(o->checkpoint, &st) == 0 && !S_ISDIR(st.st_mode))
    rc = fail(command, "--checkpoint '%s'%s is a file, not a folder", o->checkpoint, "");
  return rc;
}

static int load_model(spd_cli_session_t *s) {
  const spd_cli_options_t *o = s->opt;
  if (access(o->model, R_OK) != 0)
    return fail(s->command, "cannot read the model file '%s': %s", o->model, strerror(errno));
  if (spd_keras_model_load(&s->ctx, o->model, o->seed, &s->model))
    return spd_cli_session_fail(s);
  if (o->weights && spd_keras_weights_load(s->model, o->weights))
    return spd_cli_session_fail(s);
  if (o->fold_bn) {
    spd_model_t *folded;
    int n;
    if (spd_model_fold_bn(s->model, &folded, &n))
      return spd_cli_session_fail(s);
    spd_model_free(s->model);
    s->model = folded;
    fprintf(stderr, "spindle %s: --fold-bn: %d BatchNormalization layer%s folded\n",
            s->command, n, n == 1 ? "" : "s");
  }
  return 0;
}

/* Shapes equal, or equal once dimensions of 1 are dropped (28x28 images for
 * a (28, 28, 1) input): the data are then read in the model's shape. */
static bool compatible(const spd_shape_t *model, const spd_shape_t *data) {
  if (spd_shape_equal(model, data))
    return true;
  if (spd_shape_size(model) != spd_shape_size(data))
    return false;
  int i = 0, j = 0;
  for (;;) {
    while (i < model->rank && model->dims[i] == 1)
      i++;
    while (j < data->rank && data->dims[j] == 1)
      j++;
    if (i == model->rank || j == data->rank)
      return i == model->rank && j == data->rank;
    if (model->dims[i++] != data->dims[j++])
      return false;
  }
}

static void split_data(const spd_dataset_split_t *split, const spd_shape_t *shape,
                       spd_fit_data_t *d) {
  *d = (spd_fit_data_t){.n = split->count, .sample_shape = *shape, .x = split->images,
                        .y = {.n = split->count, .labels = split->labels}};
}

/* The shape a sample of @p m has in its file: channels first for ONNX. */
static spd_shape_t declared_input(const spd_model_t *m) {
  spd_shape_t in = m->layers[0].output_shape, d = in;
  if (m->channels_first && in.rank >= 2) {
    d.dims[0] = in.dims[in.rank - 1];
    for (int i = 0; i + 1 < in.rank; i++)
      d.dims[i + 1] = in.dims[i];
  }
  return d;
}

/* --input X.npy: float32 or float64 samples along axis 0, each shaped as
 * the model's file declares its input (NCHW for ONNX); the layers get them
 * channels last. */
static int load_input(spd_cli_session_t *s) {
  const spd_cli_options_t *o = s->opt;
  spd_array_t a;
  if (spd_npy_read(&s->ctx, o->input, &a))
    return spd_cli_session_fail(s);
  spd_shape_t want = declared_input(s->model), got = {.rank = a.rank - 1};
  for (int i = 1; i < a.rank && i <= SPD_MAX_RANK; i++)
    got.dims[i - 1] = a.dims[i] > INT32_MAX ? -1 : (int32_t)a.dims[i];
  int rc = 0;
  if (a.dtype != SPD_DTYPE_F32 && a.dtype != SPD_DTYPE_F64) {
    rc = fail(s->command, "--input '%s' holds %s values: give float32 or float64", o->input,
              spd_dtype_name(a.dtype));
  } else if (a.rank < 2 || a.rank > SPD_MAX_RANK + 1 || !compatible(&want, &got)) {
    char w[64], g[96];
    spd_shape_format(&want, w, sizeof w);
    if (a.rank >= 2 && a.rank <= SPD_MAX_RANK + 1)
      spd_shape_format(&got, g, sizeof g);
    else
      snprintf(g, sizeof g, "an array of rank %d", a.rank);
    fprintf(stderr, "spindle %s: --input '%s': the model takes samples %s but the array's are "
                    "%s\n", s->command, o->input, w, g);
    rc = 1;
  }
  size_t n = a.rank >= 1 ? (size_t)a.dims[0] : 0, size = spd_shape_size(&want);
  if (!rc && o->limit && (size_t)o->limit < n)
    n = (size_t)o->limit;
  float *sample = rc ? NULL : spd_malloc(&s->ctx, size * sizeof *sample);
  s->input_x = rc ? NULL : spd_malloc(&s->ctx, (n ? n : 1) * size * sizeof *s->input_x);
  s->input_y = rc ? NULL : spd_calloc(&s->ctx, n ? n : 1, sizeof *s->input_y);
  if (!rc && (!sample || !s->input_x || !s->input_y))
    rc = fail(s->command, "--input '%s': out of memory for the samples%s", o->input, "");
  for (size_t k = 0; !rc && k < n; k++) {
    for (size_t i = 0; i < size; i++)
      sample[i] = a.dtype == SPD_DTYPE_F32 ? ((const float *)a.data)[k * size + i]
                                           : (float)((const double *)a.data)[k * size + i];
    spd_model_input_channels_last(s->model, sample, s->input_x + k * size);
  }
  spd_free(&s->ctx, sample);
  spd_array_free(&a);
  if (rc)
    return rc;
  const spd_shape_t *in = &s->model->layers[0].output_shape;
  s->test = (spd_fit_data_t){.n = n, .sample_shape = *in, .x = s->input_x,
                               .y = {.n = n, .labels = s->input_y}};
  s->train = s->test;
  return 0;
}

static int load_data(spd_cli_session_t *s) {
  const spd_cli_options_t *o = s->opt;
  if (o->input)
    return load_input(s);
  /* evaluate and predict read one training sample only (the split is not
   * used); --limit applies to the split the command works on, --test-limit
   * to the test split. */
  bool train = !strcmp(s->command, "train");
  long test_limit = o->test_limit ? o->test_limit : train ? 0 : o->limit;
  spd_dataset_options_t dopt = {.limit = train ? (uint32_t)o->limit : 1,
                                .test_limit = (uint32_t)test_limit};
  if (spd_dataset_open(&s->ctx, o->data, &dopt, &s->dataset))
    return spd_cli_session_fail(s);
  const spd_dataset_t *ds = s->dataset;
  spd_shape_t data_shape = {.rank = 3, .dims = {(int32_t)ds->rows, (int32_t)ds->cols,
                                                (int32_t)ds->channels}};
  const spd_shape_t *in = &s->model->layers[0].output_shape;
  if (!compatible(in, &data_shape)) {
    char want[64], got[64];
    spd_shape_format(in, want, sizeof want);
    spd_shape_format(&data_shape, got, sizeof got);
    return fail(s->command, "the model's input is %s but the data's samples are %s", want,
                got);
  }
  split_data(&ds->train, in, &s->train);
  split_data(&ds->test, in, &s->test);
  return 0;
}

/* --loss, else the loss the model file states, else the one a Keras user
 * pairs with the model and labels. */
static int choose_loss(spd_cli_session_t *s) {
  const spd_cli_options_t *o = s->opt;
  const spd_compile_config_t *file = s->model->compile;
  if (o->loss) {
    int k = spd_loss_parse(o->loss);
    if (k < 0)
      return fail(s->command, "--loss '%s': unknown loss (mean_squared_error, "
                  "binary_crossentropy, categorical_crossentropy, "
                  "sparse_categorical_crossentropy)%s", o->loss, "");
    s->loss = (spd_loss_kind_t)k;
  } else if (file && file->has_loss) {
    s->loss = file->loss;
  } else {
    s->loss = spd_loss_default(s->model, &s->test.y);
  }
  /* predict computes no loss (and --input has no labels). */
  if (!strcmp(s->command, "predict") && o->input)
    return 0;
  /* from_logits says what the model outputs, so it stays with --loss. A
   * model that states no loss (an ONNX export, a bare architecture) and
   * ends in a linear layer gives logits, as PyTorch's classifiers do: a
   * cross-entropy of such outputs taken as probabilities means nothing. */
  bool stated = file && file->has_loss;
  spd_activation_t out = s->model->layers[s->model->n_layers - 1].config.activation;
  s->from_logits = s->loss != SPD_LOSS_MSE &&
                   (stated ? file->from_logits : out == SPD_ACT_LINEAR);
  /* predict computes no loss: any output shape goes, labels or not. */
  if (!strcmp(s->command, "predict"))
    return 0;
  if (!spd_loss_check(&s->ctx, s->loss, s->model, &s->test.y) &&
      !spd_loss_check(&s->ctx, s->loss, s->model, &s->train.y))
    return 0;
  if (!o->loss && file && file->has_loss)
    return fail(s->command, "%s (the loss the model file states%s)", spd_ctx_message(&s->ctx),
                "; --loss overrides it");
  return spd_cli_session_fail(s);
}

/* --machine is checked whatever the backend, so a misspelt machine never
 * passes silently; the reference backend then lets it go. */
static int open_machine(spd_cli_session_t *s) {
  const spd_cli_options_t *o = s->opt;
  int err = spd_machine_new(&s->ctx, o->machine, &s->machine);
  if (err == SPD_EINVAL) {
    fprintf(stderr, "spindle %s: --machine: %s\n", s->command, spd_ctx_message(&s->ctx));
    return 2;
  }
  if (err)
    return spd_cli_session_fail(s);
  if (o->backend == SPD_CLI_BACKEND_REFERENCE) {
    spd_machine_free(s->machine);
    s->machine = NULL;
  }
  return 0;
}

int spd_cli_session_open(spd_cli_session_t *s, const char *command,
                         const spd_cli_options_t *opt) {
  memset(s, 0, sizeof *s);
  spd_ctx_init(&s->ctx);
  s->command = command;
  s->opt = opt;
  s->start = spd_progress_now();
  s->board = (spd_udp_opts_t){.host = opt->board_host, .port = opt->board_port,
                              .loss = opt->udp_loss, .loss_seed = opt->seed};
  spd_cli_interrupt_install();
  int rc = check_outputs(command, opt);
  if (!rc)
    rc = open_machine(s);
  if (!rc)
    rc = load_model(s);
  if (!rc)
    rc = load_data(s);
  if (!rc)
    rc = choose_loss(s);
  if (!rc && spd_cli_interrupt_signal())
    rc = spd_cli_session_interrupted(s);
  if (rc)
    spd_cli_session_close(s);
  return rc;
}

int spd_cli_stop_inference(const spd_cli_session_t *s) {
  return !s->machine && spd_cli_interrupt_signal() != 0;
}

int spd_cli_session_interrupted(spd_cli_session_t *s) {
  if (s->bar.dynamic && s->bar.drawn_width > 0) { /* end the bar's line */
    putchar('\n');
    fflush(stdout);
  }
  bool where = s->ctx.last_error == SPD_EINTERRUPTED;
  return spd_cli_interrupted(s->command, where ? spd_ctx_message(&s->ctx) : NULL);
}

void spd_cli_session_close(spd_cli_session_t *s) {
  spd_cli_provenance_free(&s->prov);
  spd_fixed_run_free(s->fixed_run);
  s->fixed_run = NULL;
  spd_machine_free(s->machine);
  s->machine = NULL;
  spd_model_free(s->model);
  spd_dataset_free(s->dataset);
  spd_free(&s->ctx, s->input_x);
  spd_free(&s->ctx, s->input_y);
  s->input_x = NULL;
  s->input_y = NULL;
  s->model = NULL;
  s->dataset = NULL;
}

double spd_cli_session_seconds(const spd_cli_session_t *s) {
  return spd_progress_now() - s->start;
}

static void on_epoch_begin(void *ud, int epoch, int epochs, size_t steps) {
  spd_cli_session_t *s = ud;
  printf("Epoch %d/%d\n", epoch + 1, epochs);
  fflush(stdout);
  spd_progress_begin(&s->bar, stdout, (long)steps);
}

/* The last step's line waits for the epoch's end, which adds validation. */
static int on_batch(void *ud, size_t step, size_t steps, double loss, double accuracy) {
  spd_cli_session_t *s = ud;
  if (step < steps) {
    spd_progress_value_t v[2] = {{"loss", loss}, {"accuracy", accuracy}};
    spd_progress_update(&s->bar, (long)step, v, 2);
  }
  /* The host trainers poll should_stop_cb at batch boundaries and the
   * machine after every slice, so a signal never stops a run here. */
  return 0;
}

static void on_epoch_end(void *ud, const spd_epoch_logs_t *logs) {
  spd_cli_session_t *s = ud;
  spd_progress_value_t v[4] = {{"loss", logs->loss}, {"accuracy", logs->accuracy},
                               {"val_loss", logs->val_loss},
                               {"val_accuracy", logs->val_accuracy}};
  spd_progress_update(&s->bar, s->bar.target, v, logs->has_validation ? 4 : 2);
}

spd_fit_callbacks_t spd_cli_session_progress(spd_cli_session_t *s) {
  return (spd_fit_callbacks_t){.ud = s, .on_epoch_begin_cb = on_epoch_begin,
                               .on_batch_cb = on_batch, .on_epoch_end_cb = on_epoch_end,
                               .should_stop_cb = spd_cli_interrupt_requested};
}

/* Evaluation's bar draws every step, the last one included. */
static int on_eval_batch(void *ud, size_t step, size_t steps, double loss, double accuracy) {
  spd_cli_session_t *s = ud;
  if (step == 1)
    spd_progress_begin(&s->bar, stdout, (long)steps);
  spd_progress_value_t v[2] = {{"loss", loss}, {"accuracy", accuracy}};
  spd_progress_update(&s->bar, (long)step, v, 2);
  return spd_cli_stop_inference(s);
}

spd_machine_run_opts_t spd_cli_session_machine_opts(const spd_cli_session_t *s) {
  return (spd_machine_run_opts_t){
      .inject_drops = s->opt->inject_drops,
      .kill = s->kill_spent ? (spd_core_kill_t){0} : s->opt->kill,
      .fault_seed = s->opt->seed,
      /* --board: the runs talk to the board over UDP; else in-process */
      .open_transceiver = s->opt->board_host[0] ? spd_transceiver_open_udp : NULL,
      .open_ud = s->opt->board_host[0] ? (void *)&s->board : NULL,
      .on_provenance = spd_cli_keep_provenance,
      .on_provenance_ud = (void *)s,
      /* a debugging aid the library leaves to its caller */
      .pace_report = getenv("SPINDLE_PACE_REPORT") ? stderr : NULL};
}

spd_run_options_t spd_cli_session_run_options(spd_cli_session_t *s,
                                              const spd_machine_run_opts_t *mo,
                                              const spd_fit_callbacks_t *cb) {
  spd_run_options_t o;
  spd_run_options_defaults(&o);
  o.backend = s->machine ? SPD_BACKEND_MACHINE : SPD_BACKEND_REFERENCE;
  o.numeric = strcmp(s->opt->numeric, "fixed") == 0 ? SPD_NUMERIC_FIXED : SPD_NUMERIC_FLOAT;
  o.machine = s->machine;
  o.in_flight = s->opt->in_flight;
  o.batch_size = (size_t)s->opt->batch_size;
  o.loss = s->loss;
  o.from_logits = s->from_logits;
  if (cb)
    o.callbacks = *cb;
  o.fixed_run = &s->fixed_run;
  o.machine_opts = mo;
  o.stats = &s->hardware;
  return o;
}

int spd_cli_session_predict(spd_cli_session_t *s, const spd_fit_callbacks_t *cb, float *out) {
  spd_machine_run_opts_t mo = spd_cli_session_machine_opts(s);
  spd_run_options_t o = spd_cli_session_run_options(s, &mo, cb);
  if (spd_predict(&s->ctx, s->model, &s->test, &o, out))
    return s->machine ? spd_cli_report_failed_run(s) : spd_cli_session_fail(s);
  s->has_hardware = s->machine != NULL;
  return 0;
}

int spd_cli_session_evaluate(spd_cli_session_t *s, double *loss, double *accuracy) {
  spd_fit_callbacks_t cb = {.ud = s, .on_batch_cb = on_eval_batch,
                            .should_stop_cb = spd_cli_interrupt_requested};
  spd_machine_run_opts_t mo = spd_cli_session_machine_opts(s);
  spd_run_options_t o = spd_cli_session_run_options(s, &mo, &cb);
  if (spd_evaluate_check(&s->ctx, &o))
    return spd_cli_session_fail(s);
  if (spd_evaluate(&s->ctx, s->model, &s->test, &o, loss, accuracy))
    return s->machine ? spd_cli_report_failed_run(s) : spd_cli_session_fail(s);
  s->has_hardware = s->machine != NULL;
  return 0;
}
