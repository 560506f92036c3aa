/* The architecture JSON reader (keras_json_read.c, with a top-level
 * compile_config through keras_compile_read.c): any bytes are parsed without
 * a crash, and a model that parses is written in both forms and parsed back. */
#include <string.h>

#include "fuzz.h"
#include "spindle/keras.h"

static void reparse(spd_model_t *m, spd_keras_json_form_t form) {
  char *text = NULL;
  if (spd_keras_json_format(m, form, &text))
    return; /* e.g. out of memory: not a property of the input */
  spd_model_t *back = NULL;
  int err = spd_keras_json_parse(m->ctx, text, strlen(text), 0, &back);
  FUZZ_CHECK(err == 0);
  FUZZ_CHECK(back->n_layers == m->n_layers);
  spd_model_free(back);
  spd_free(m->ctx, text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  spd_ctx_t ctx;
  fuzz_ctx_init(&ctx);
  spd_model_t *m = NULL;
  if (spd_keras_json_parse(&ctx, (const char *)data, size, 0, &m))
    return 0;
  reparse(m, SPD_KERAS_JSON_TF2);
  reparse(m, SPD_KERAS_JSON_KERAS3);
  spd_model_free(m);
  return 0;
}
