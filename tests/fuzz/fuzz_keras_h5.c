/* The HDF5 readers (keras_h5.c, keras_h5_legacy.c, keras_weights_h5.c,
 * keras_file.c) on an HDF5 file image in memory: a legacy full-model .h5 is
 * loaded whole (model_config, training_config, model_weights), and any
 * layout's weights are loaded into the tiny model; nothing may crash, and
 * every HDF5 object a reader opened is closed again (a leaked id keeps the
 * file, and libhdf5's memory, alive). */
#include <string.h>

#include "fuzz.h"
#include "io/keras_h5.h"
#include "spindle/keras.h"

static spd_ctx_t tiny_ctx;
static spd_model_t *tiny;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  /* libhdf5 keeps the blocks it frees for reuse instead of giving the
   * large ones (a file's metadata cache) back to ASan's allocator, which
   * maps and clears them again for every input. */
  H5set_free_list_limits(-1, -1, -1, -1, -1, -1);
  fuzz_ctx_init(&tiny_ctx);
  if (spd_keras_json_parse(&tiny_ctx, FUZZ_TINY_MODEL, strlen(FUZZ_TINY_MODEL), 0, &tiny))
    abort();
  return 0;
}

static void load_weights(spd_ctx_t *ctx, hid_t file) {
  tiny->ctx = ctx;
  spd__stage_t st;
  if (spd__stage_init(&st, tiny) == 0) {
    if (spd__keras_h5_weights(&st, file, "fuzz.h5") == 0)
      spd__stage_commit(&st);
    spd__stage_deinit(&st);
  }
  tiny->ctx = &tiny_ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  spd_ctx_t ctx;
  fuzz_ctx_init(&ctx);
  hid_t file;
  if (spd__h5_open_image(&ctx, data, size, &file))
    return 0;
  /* A full model reads its weights with the reader load_weights calls:
   * only a file that is not one (weights alone, any layout) needs it. */
  spd_model_t *m = NULL;
  if (spd__keras_h5_model(&ctx, file, "fuzz.h5", 0, &m) == 0)
    spd_model_free(m);
  else
    load_weights(&ctx, file);
  H5Fclose(file);
  FUZZ_CHECK(H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL) == 0);
  return 0;
}
