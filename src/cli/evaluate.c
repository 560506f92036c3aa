/* `spindle evaluate`: the loss and accuracy of a trained Keras model on the
 * test split, as Keras's Model.evaluate reports them. */
#include <stdio.h>

#include "cli/commands.h"
#include "cli/report.h"
#include "cli/session.h"

static const char usage[] =
    "usage: spindle evaluate MODEL --weights W.h5 --data fashion-mnist|FOLDER [OPTIONS]\n"
    "\n"
    "Evaluate a Keras model (.json, .h5, .keras) or an ONNX model (.onnx) on the test split of a dataset: Keras's progress bar,\n"
    "then the mean loss and accuracy over the test samples on stdout. By default\n"
    "the samples run through the model on an emulated SpiNN-5 board.\n"
    "\n"
    "options:\n"
    "  --data D            fashion-mnist, mnist, or a folder with the four IDX files\n"
    "  --weights W         the weights (.h5, .weights.h5 or .keras); without them the\n"
    "                      model's freshly initialised weights are evaluated\n"
    "  --batch-size B      samples per batch (default 32)\n"
    "  --limit N           evaluate the first N test samples (default: all)\n"
    "  --test-limit N      the same as --limit here\n"
    "  --loss L            default: the model file's (compile_config), else\n"
    "                      sparse_categorical_crossentropy for integer labels,\n"
    "                      from the logits when the output layer is linear\n"
    "  --seed S            seed of freshly initialised weights (default 0)\n"
    "  --report R.json     write a JSON report (test_accuracy, loss, ...)\n"
    SPD_CLI_FOLD_BN_HELP
    SPD_CLI_MACHINE_HELP
    "\n"
    "Ctrl-C or SIGTERM stops at the next batch, writes no --report and exits\n"
    "with 130 or 143.\n";

static int run(spd_cli_session_t *s) {
  double loss, acc;
  int rc = spd_cli_session_evaluate(s, &loss, &acc);
  if (rc)
    return rc;
  printf("test_loss: %.4f - test_accuracy: %.4f - test_samples: %zu\n", loss, acc, s->test.n);
  fflush(stdout);
  spd_cli_print_hardware(s);
  cJSON *r = spd_cli_report_new(s);
  spd_cli_report_hardware(r, s);
  if (r) {
    spd_cli_report_number(r, "test_accuracy", acc);
    spd_cli_report_number(r, "loss", loss);
    spd_cli_report_number(r, "test_loss", loss);
    spd_cli_report_number(r, "epochs", 0);
    spd_cli_report_number(r, "host_seconds", spd_cli_session_seconds(s));
  }
  return spd_cli_report_write(s, r);
}

int spd_cli_evaluate(int argc, char **argv) {
  spd_cli_options_t o;
  int rc = spd_cli_parse(argc, argv, SPD_OPT_GROUP_COMMON | SPD_OPT_GROUP_WEIGHTS | SPD_OPT_GROUP_INFER, usage, &o);
  if (rc)
    return rc < 0 ? 0 : rc;
  spd_cli_session_t s;
  if ((rc = spd_cli_session_open(&s, "evaluate", &o)))
    return rc;
  rc = run(&s);
  spd_cli_session_close(&s);
  return rc;
}
