/* `spindle`: the command-line front end. Only the CLI talks to the user:
 * results on stdout, diagnostics on stderr, a non-zero exit on failure. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "spindle/api.h"
#include "spindle/keras.h"

static const spd_cli_command_t commands[] = {
    {"info", "describe a SpiNNaker machine (chips, cores, links, SDRAM)", spd_cli_info},
    {"summary", "Keras-style summary of a model file (layers, shapes, parameters)", spd_cli_summary},
    {"convert", "convert a model between .json, .h5, .weights.h5 and .keras (or from .onnx)", spd_cli_convert},
    {"map", "compile a model for a machine: tiles, placement and router use, without running", spd_cli_map},
    {"train", "train a Keras model on a dataset (Keras-style fit, progress bar, report)", spd_cli_train},
    {"evaluate", "test loss and accuracy of a Keras model on a dataset", spd_cli_evaluate},
    {"predict", "write a Keras model's outputs for a dataset to a .npy file", spd_cli_predict},
    {"board", "serve an emulated machine over UDP as a SpiNNaker board (SDP/SCP)", spd_cli_board},
};

static void usage(FILE *out) {
  fprintf(out, "usage: spindle COMMAND [OPTIONS]\n\n"
               "Deep learning on SpiNNaker (emulated SpiNNaker1 by default).\n\n"
               "commands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\n'spindle COMMAND --help' describes each command; 'spindle --version'\n"
               "prints the version.\n");
}

/* `spindle --version`, or --version anywhere after a command (as --help):
 * the version and nothing else. */
static bool asks_version(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--version"))
      return true;
  return false;
}

static int print_version(void) {
  printf("spindle %s\n", spd_version()); /* the library's: one version */
  return 0;
}

int main(int argc, char **argv) {
  spd_keras_h5_silence(); /* only spindle's one-line diagnostics reach stderr */
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--version"))
    return print_version();
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(argv[1], commands[i].name))
      return asks_version(argc, argv) ? print_version() : commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "spindle: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
