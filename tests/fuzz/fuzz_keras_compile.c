/* The training-configuration reader (keras_compile_read.c) on its own, as
 * for a legacy .h5's training_config attribute: any JSON is read without a
 * crash, and a configuration that reads is written in both forms (Keras 3's
 * compile_config, tf.keras 2's training_config) and read back. */
#include <cjson/cJSON.h>
#include <stdbool.h>

#include "fuzz.h"
#include "io/keras_json.h"

static void reread(spd_ctx_t *ctx, const spd_compile_config_t *c, bool legacy) {
  char *text = NULL;
  if (spd__keras_compile_format(ctx, c, legacy, &text))
    return;
  cJSON *root = cJSON_Parse(text);
  FUZZ_CHECK(root != NULL);
  spd_compile_config_t back;
  FUZZ_CHECK(spd__keras_compile_read(ctx, root, "compile_config", &back) == 0);
  /* The writer states Keras's default optimizer when the file gave none. */
  FUZZ_CHECK(back.has_optimizer || !c->has_optimizer);
  cJSON_Delete(root);
  spd_free(ctx, text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cJSON *root = cJSON_ParseWithLength((const char *)data, size);
  if (!root)
    return 0;
  spd_ctx_t ctx;
  fuzz_ctx_init(&ctx);
  spd_compile_config_t c;
  if (!spd__keras_compile_read(&ctx, root, "training_config", &c)) {
    reread(&ctx, &c, false);
    reread(&ctx, &c, true);
  }
  cJSON_Delete(root);
  return 0;
}
