/* `spindle summary MODEL [--weights W]`: the Keras-style summary of a model
 * file (architecture JSON, legacy full-model .h5 or .keras archive). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "spindle/keras.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: spindle summary MODEL [--weights WEIGHTS]\n\n"
          "Print the Keras-style summary of a model: each layer, its output shape and\n"
          "parameters, and the totals.\n\n"
          "  MODEL              architecture JSON (model.to_json(), tf.keras 2 or Keras 3),\n"
          "                     a full-model .h5 (model.save('m.h5')), a .keras archive\n"
          "                     or an ONNX .onnx model (docs/onnx.md)\n"
          "  --weights WEIGHTS  also load weights (.h5, .weights.h5 or .keras) and check\n"
          "                     that every layer's weights are there with the right shapes\n"
          "  -h, --help         this help\n");
}

int spd_cli_summary(int argc, char **argv) {
  const char *model_path = NULL, *weights_path = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[i], "--weights") && i + 1 < argc) {
      weights_path = argv[++i];
    } else if (argv[i][0] != '-' && !model_path) {
      model_path = argv[i];
    } else {
      fprintf(stderr, "spindle summary: unexpected argument '%s'\n\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (!model_path) {
    fprintf(stderr, "spindle summary: a MODEL file is required\n\n");
    usage(stderr);
    return 2;
  }
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_model_t *m = NULL;
  char *text = NULL;
  int err = spd_keras_model_load(&ctx, model_path, 0, &m);
  if (!err && weights_path)
    err = spd_keras_weights_load(m, weights_path);
  if (!err)
    err = spd_model_summary(m, &text);
  if (err) {
    fprintf(stderr, "spindle summary: %s\n", spd_ctx_message(&ctx));
    spd_model_free(m);
    return 1;
  }
  fputs(text, stdout);
  spd_free(&ctx, text);
  spd_model_free(m);
  return 0;
}
