/* `spindle convert IN OUT`: rewrite a Keras model between the layouts
 * spindle reads and writes (.json, legacy .h5, .weights.h5, .keras). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "spindle/keras.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: spindle convert IN OUT [--model MODEL.json] [--weights-only]\n\n"
          "Convert a Keras (or ONNX) model between file layouts; the layout of OUT\n"
          "follows its\n"
          "extension:\n"
          "  .keras        Keras 3 archive (config.json, metadata.json, model.weights.h5)\n"
          "  .weights.h5   Keras 3 weights (layers/<class>/vars/0, ...)\n"
          "  .h5, .hdf5    tf.keras 2 full model (model_config + model_weights); with\n"
          "                --weights-only, tf.keras 2 save_weights layout\n"
          "  .json         architecture only, as tf.keras 2 model.to_json() writes it\n\n"
          "  IN                 a .keras archive, full-model .h5 or ONNX .onnx model\n"
          "                     (docs/onnx.md), or weights when --model gives the\n"
          "                     architecture\n"
          "  --model MODEL      architecture JSON for an IN that holds weights only\n"
          "  --weights-only     write weights only: OUT .h5 in save_weights layout\n"
          "                     (.weights.h5 is weights only anyway; refused for\n"
          "                     .keras and .json, which hold the architecture)\n"
          "  -h, --help         this help\n");
}

typedef struct convert_args {
  const char *in, *out, *model;
  bool weights_only;
} convert_args_t;

static int parse(int argc, char **argv, convert_args_t *a) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[i], "--model") && i + 1 < argc) {
      a->model = argv[++i];
    } else if (!strcmp(argv[i], "--weights-only")) {
      a->weights_only = true;
    } else if (argv[i][0] != '-' && !a->in) {
      a->in = argv[i];
    } else if (argv[i][0] != '-' && !a->out) {
      a->out = argv[i];
    } else {
      fprintf(stderr, "spindle convert: unexpected argument '%s'\n\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (!a->in || !a->out) {
    fprintf(stderr, "spindle convert: IN and OUT are required\n\n");
    usage(stderr);
    return 2;
  }
  return -1;
}

int spd_cli_convert(int argc, char **argv) {
  convert_args_t a = {0};
  int rc = parse(argc, argv, &a);
  if (rc >= 0)
    return rc;
  spd_keras_file_t out = spd_keras_file_from_path(a.out);
  if (out == SPD_KERAS_FILE_UNKNOWN) {
    fprintf(stderr, "spindle convert: cannot tell the layout of '%s' (use .keras, "
                    ".weights.h5, .h5 or .json)\n", a.out);
    return 2;
  }
  /* --weights-only chooses between the two .h5 layouts; a .weights.h5 is
   * weights only anyway, while .keras and .json always hold the
   * architecture, so there it cannot do what it says. */
  if (a.weights_only && (out == SPD_KERAS_FILE_ARCHIVE || out == SPD_KERAS_FILE_JSON)) {
    fprintf(stderr, "spindle convert: --weights-only: '%s' is %s; write .h5 or .weights.h5 "
                    "for weights only\n", a.out,
            out == SPD_KERAS_FILE_JSON ? "architecture only (.json holds no weights)"
                                       : "a whole-model archive (.keras)");
    return 2;
  }
  if (out == SPD_KERAS_FILE_H5_WEIGHTS && !a.weights_only)
    out = SPD_KERAS_FILE_H5_MODEL;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = NULL;
  int err = a.model ? spd_keras_json_load(&ctx, a.model, 0, &m)
                    : spd_keras_model_load(&ctx, a.in, 0, &m);
  if (!err && a.model)
    err = spd_keras_weights_load(m, a.in);
  if (!err)
    err = spd_keras_save(m, a.out, out);
  if (err)
    fprintf(stderr, "spindle convert: %s\n", spd_ctx_message(&ctx));
  spd_model_free(m);
  return err ? 1 : 0;
}
