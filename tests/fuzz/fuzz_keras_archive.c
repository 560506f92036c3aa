/* The .keras archive reader (keras_archive.c) on a zip in memory: the whole
 * model (config.json, then model.weights.h5 as an HDF5 image) and the
 * weights alone into the tiny model; nothing may crash, and no HDF5 object
 * stays open. */
#include <string.h>
#include <zip.h>

#include "fuzz.h"
#include "io/keras_h5.h"
#include "spindle/keras.h"

static spd_ctx_t tiny_ctx;
static spd_model_t *tiny;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  fuzz_ctx_init(&tiny_ctx);
  if (spd_keras_json_parse(&tiny_ctx, FUZZ_TINY_MODEL, strlen(FUZZ_TINY_MODEL), 0, &tiny))
    abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  spd_ctx_t ctx;
  fuzz_ctx_init(&ctx);
  zip_t *za = NULL;
  if (spd__keras_archive_open_memory(&ctx, data, size, &za))
    return 0;
  spd_model_t *m = NULL;
  if (spd__keras_archive_model(&ctx, za, "fuzz.keras", 0, &m) == 0)
    spd_model_free(m);
  tiny->ctx = &ctx;
  spd__stage_t st;
  if (spd__stage_init(&st, tiny) == 0) {
    if (spd__keras_archive_weights(&st, za, "fuzz.keras") == 0)
      spd__stage_commit(&st);
    spd__stage_deinit(&st);
  }
  tiny->ctx = &tiny_ctx;
  zip_discard(za);
  FUZZ_CHECK(H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL) == 0);
  return 0;
}
