/* `spindle train`: fit a Keras model on a dataset as Keras's Model.fit does,
 * print Keras's progress bar and the test loss and accuracy, and optionally
 * save the weights and a report. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/interrupt.h"
#include "cli/report.h"
#include "cli/session.h"
#include "cli/train_config.h"
#include "spindle/keras.h"

static const char usage[] =
    "usage: spindle train MODEL --data fashion-mnist|FOLDER [OPTIONS]\n"
    "\n"
    "Train a Keras model (architecture JSON, .h5 or .keras) or an ONNX model\n"
    "(.onnx, docs/onnx.md) as Keras's fit does:\n"
    "a seeded shuffle per epoch, mini-batches (the last one smaller), the loss\n"
    "averaged over each batch, one optimizer step per batch. Then evaluate on\n"
    "the test split. By default the training runs on an emulated SpiNN-5 board\n"
    "(forward, loss, backward and updates inside its cores; the host only writes\n"
    "samples and reads results) and the hardware figures follow the results.\n"
    "Progress and results go to stdout, problems to stderr.\n"
    "The optimizer, learning-rate schedule and loss are those the model file\n"
    "states (Keras's compile_config or training_config); the flags below\n"
    "override them, and Keras's defaults apply where neither says.\n"
    "\n"
    "options:\n"
    "  --data D            fashion-mnist, mnist, or a folder with the four IDX files\n"
    "  --epochs N          epochs (default 1)\n"
    "  --batch-size B      samples per batch (default 32)\n"
    "  --optimizer O       sgd, adam or rmsprop (default: the file's, else sgd); the\n"
    "                      file's hyperparameters apply only to the optimizer it names\n"
    "  --lr X              learning rate, constant unless --lr-schedule is given\n"
    "                      (default: the file's, else sgd 0.01, adam/rmsprop 0.001)\n"
    "  --momentum M        momentum of sgd or rmsprop, in [0, 1) (default: the file's, else 0)\n"
    "  --nesterov          Nesterov momentum (sgd)\n"
    "  --lr-schedule S     constant, cosine, exponential or inverse-time, starting at\n"
    "                      --lr (or the rate the file or default gives)\n"
    "  --decay-steps N     the schedule's decay_steps (default: the whole run's steps)\n"
    "  --decay-rate R      exponential and inverse-time: the decay rate (> 0, required)\n"
    "  --alpha A           cosine: the final rate as a fraction of the first, in [0, 1]\n"
    "                      (default 0)\n"
    "  --loss L            default: the file's, else sparse_categorical_crossentropy for\n"
    "                      integer labels, from the logits when the output layer is\n"
    "                      linear (as PyTorch's CrossEntropyLoss)\n"
    "  --seed S            initial weights and shuffle order (default 0)\n"
    "  --limit N           train on the first N training samples\n"
    "  --test-limit N      evaluate on the first N test samples (default: all; the\n"
    "                      summary and the report's test_samples say how many)\n"
    "  --no-shuffle        keep the file order\n"
    "  --validation-split F  hold out the last fraction F of the training samples\n"
    "                      and report val_loss and val_accuracy after each epoch\n"
    "  --weights W         initial weights (.h5, .weights.h5 or .keras)\n"
    "  --save W            write the trained weights (.h5, .weights.h5 or .keras)\n"
    "  --report R.json     write a JSON report (test_accuracy, loss, history, ...)\n"
    "  --checkpoint DIR    write a checkpoint into folder DIR after every epoch and\n"
    "                      when interrupted (weights, optimizer state, position;\n"
    "                      docs/formats.md); the machine after every epoch only\n"
    "  --resume DIR        go on from the checkpoint in DIR up to --epochs, with the\n"
    "                      same model, data, numeric and training flags as the run\n"
    "                      that wrote it (a different one is refused); the result\n"
    "                      is bit-identical to a run that never stopped (the\n"
    "                      machine in float: to rounding); fixed-point checkpoints\n"
    "                      go on on either backend\n"
    "\n"
    "Ctrl-C or SIGTERM stops training at the next batch boundary, writes the\n"
    "checkpoint if --checkpoint was given (neither --save nor --report is written)\n"
    "and exits with 130 or 143.\n"
    SPD_CLI_MACHINE_HELP;

/* docs/numerics.md: saturation is reported, never silent; per layer as
 * [forward, backward] for the layers that saturated at all. */
static void report_saturations(cJSON *r, const spd_cli_session_t *s) {
  spd_cli_report_number(r, "saturations", (double)spd_fixed_run_saturations(s->fixed_run));
  cJSON *by_layer = cJSON_AddObjectToObject(r, "saturations_by_layer");
  for (int i = 0; by_layer && i < s->model->n_layers; i++) {
    uint64_t fwd, bwd;
    spd_fixed_run_layer_saturations(s->fixed_run, i, &fwd, &bwd);
    cJSON *pair = fwd || bwd ? cJSON_AddArrayToObject(by_layer, s->model->layers[i].config.name)
                             : NULL;
    if (pair) {
      cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)fwd));
      cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)bwd));
    }
  }
}

static cJSON *train_report(const spd_cli_session_t *s, const spd_fit_config_t *cfg,
                           const spd_history_t *h, double test_loss, double test_acc) {
  cJSON *r = spd_cli_report_new(s);
  if (!r)
    return NULL;
  spd_cli_report_number(r, "test_accuracy", test_acc);
  spd_cli_report_number(r, "loss", test_loss);
  spd_cli_report_number(r, "test_loss", test_loss);
  spd_cli_report_history(r, h);
  size_t steps = (s->train.n + cfg->batch_size - 1) / cfg->batch_size;
  spd_cli_report_optimizer(r, &cfg->optimizer, (int64_t)(steps * (size_t)h->n_epochs));
  cJSON_AddBoolToObject(r, "model_compile_config", s->model->compile != NULL);
  spd_cli_report_number(r, "steps_per_epoch", (double)steps);
  double train_seconds = 0;
  for (int e = 0; e < h->n_epochs; e++)
    train_seconds += h->epochs[e].seconds;
  spd_cli_report_number(r, "train_seconds", train_seconds);
  /* On the machine the hardware fields carry it (samples per wall second
   * of the emulator's whole run). */
  if (!s->has_hardware)
    spd_cli_report_number(r, "host_samples_per_second",
                          train_seconds > 0 ? (double)s->train.n * h->n_epochs / train_seconds
                                            : 0);
  spd_cli_report_number(r, "host_seconds", spd_cli_session_seconds(s));
  if (s->fixed_run)
    report_saturations(r, s);
  spd_cli_report_hardware(r, s);
  return r;
}

/* Keras's validation_split: the last floor(n * split) samples, taken before
 * any shuffling, become the validation data. */
static int split_validation(spd_cli_session_t *s, spd_fit_data_t *val) {
  double split = s->opt->validation_split;
  if (split <= 0)
    return 0;
  size_t keep = (size_t)floor((double)s->train.n * (1.0 - split));
  if (keep == 0 || keep == s->train.n) {
    fprintf(stderr, "spindle train: --validation-split %g leaves no %s samples of %zu\n",
            split, keep == 0 ? "training" : "validation", s->train.n);
    return 1;
  }
  size_t in = spd_shape_size(&s->train.sample_shape);
  *val = s->train;
  val->n = s->train.n - keep;
  val->x = s->train.x + keep * in;
  val->y = spd_targets_slice(&s->train.y, keep, val->n);
  s->train.n = keep;
  s->train.y.n = keep;
  return 0;
}

/* A saved model records the training configuration it was trained with,
 * as Keras saves a compiled model's compile_config; the file's metrics
 * stay, or "accuracy" (what spindle reports). */
static int record_compile(spd_cli_session_t *s, const spd_fit_config_t *cfg) {
  spd_compile_config_t c = {.has_optimizer = true, .optimizer = cfg->optimizer,
                            .has_loss = true, .loss = cfg->loss,
                            .from_logits = cfg->from_logits, .n_metrics = 1};
  snprintf(c.metrics[0], sizeof c.metrics[0], "accuracy");
  if (s->model->compile && s->model->compile->n_metrics > 0) {
    c.n_metrics = s->model->compile->n_metrics;
    memcpy(c.metrics, s->model->compile->metrics, sizeof c.metrics);
  }
  return spd_model_set_compile(s->model, &c);
}

/* --checkpoint and --resume: the folder to write, and the checkpoint to go
 * on from, read and verified before any training. */
static int use_checkpoints(spd_cli_session_t *s, spd_fit_config_t *cfg,
                           spd_checkpoint_t **resume) {
  const spd_cli_options_t *o = s->opt;
  if (!o->checkpoint && !o->resume)
    return 0;
  cfg->checkpoint_dir = o->checkpoint;
  if (!o->resume)
    return 0;
  if (spd_checkpoint_open(&s->ctx, o->resume, resume))
    return spd_cli_session_fail(s);
  spd_checkpoint_info_t info;
  spd_checkpoint_info(*resume, &info);
  printf("Resuming from '%s': %d epoch%s and %zu batch%s done (step %lld)\n", o->resume,
         info.epochs_done, info.epochs_done == 1 ? "" : "s", info.batches_done,
         info.batches_done == 1 ? "" : "es", (long long)info.step);
  fflush(stdout);
  cfg->resume = *resume;
  return 0;
}

/* On the machine: one run through every epoch, drawing the bar as the sink
 * records the samples, with the validation split evaluated on the machine
 * after each epoch; the hardware summary follows it. In fixed point the
 * trained net is kept (s->fixed_run), so the test split is evaluated on
 * the trained integers with the training's plan, on either backend. */
static int fit(spd_cli_session_t *s, spd_fit_config_t *cfg, spd_history_t *h) {
  spd_machine_run_opts_t mo = spd_cli_session_machine_opts(s);
  spd_run_options_t o = spd_cli_session_run_options(s, &mo, &cfg->callbacks);
  int rc = spd_fit(&s->ctx, s->model, &s->train, cfg, &o, h);
  if (!s->machine)
    return rc ? spd_cli_session_fail(s) : 0;
  s->kill_spent = true;
  if (rc)
    return spd_cli_report_failed_run(s);
  s->has_hardware = true;
  spd_cli_print_hardware(s);
  return 0;
}

static int run(spd_cli_session_t *s) {
  spd_fit_config_t cfg;
  spd_fit_data_t val;
  spd_checkpoint_t *resume = NULL;
  int rc = split_validation(s, &val);
  if (!rc)
    rc = spd_cli_train_config(s, &cfg);
  if (rc)
    return rc;
  if (s->opt->validation_split > 0)
    cfg.validation = &val;
  cfg.callbacks = spd_cli_session_progress(s);
  spd_history_t h;
  rc = use_checkpoints(s, &cfg, &resume);
  if (!rc)
    rc = fit(s, &cfg, &h);
  spd_checkpoint_free(resume);
  if (rc)
    return rc;
  spd_machine_stats_t trained = s->hardware;
  spd_cli_provenance_t trained_prov = s->prov; /* the test split's run keeps its own */
  s->prov = (spd_cli_provenance_t){0};
  double test_loss, test_acc;
  rc = spd_cli_session_evaluate(s, &test_loss, &test_acc);
  if (!rc) {
    printf("test_loss: %.4f - test_accuracy: %.4f - test_samples: %zu\n", test_loss, test_acc,
           s->test.n);
    fflush(stdout);
  }
  spd_cli_provenance_free(&s->prov);
  s->prov = trained_prov;
  if (s->machine) /* the report's hardware figures are the training run's */
    s->hardware = trained;
  if (!rc && spd_cli_interrupt_signal()) /* no outputs of a run cut short */
    rc = spd_cli_session_interrupted(s);
  if (!rc && s->opt->save &&
      (record_compile(s, &cfg) ||
       spd_keras_save(s->model, s->opt->save, spd_keras_file_from_path(s->opt->save))))
    rc = spd_cli_session_fail(s);
  if (!rc)
    rc = spd_cli_report_write(s, train_report(s, &cfg, &h, test_loss, test_acc));
  spd_history_free(&h);
  return rc;
}

int spd_cli_train(int argc, char **argv) {
  spd_cli_options_t o;
  int rc = spd_cli_parse(argc, argv, SPD_OPT_GROUP_COMMON | SPD_OPT_GROUP_TRAIN |
                                     SPD_OPT_GROUP_WEIGHTS, usage, &o);
  if (rc)
    return rc < 0 ? 0 : rc;
  spd_cli_session_t s;
  if ((rc = spd_cli_session_open(&s, "train", &o)))
    return rc;
  rc = run(&s);
  spd_cli_session_close(&s);
  return rc;
}
