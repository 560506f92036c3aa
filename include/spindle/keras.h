/* Keras's own files as spindle's native ones: the architecture JSON of
 * `model.to_json()` (tf.keras 2 and Keras 3 forms), weights in HDF5 (the
 * legacy tf.keras 2 `.h5` layout and Keras 3 `.weights.h5`) and `.keras`
 * archives. The exact layouts are in docs/formats.md. Every file written here
 * is written atomically (temporary file in the same folder, fsync, rename). */
#ifndef SPINDLE_KERAS_H
#define SPINDLE_KERAS_H

#include <stddef.h>
#include <stdint.h>

#include "spindle/context.h"
#include "spindle/model.h"

/** The two shapes of `to_json()` output. */
typedef enum spd_keras_json_form {
  SPD_KERAS_JSON_TF2 = 2,    /* tf.keras 2: batch_input_shape, [[["in", 0, 0, {}]]] */
  SPD_KERAS_JSON_KERAS3 = 3, /* Keras 3: module/registered_name, __keras_tensor__ */
} spd_keras_json_form_t;

/** Keras file layouts spindle reads and writes. */
typedef enum spd_keras_file {
  SPD_KERAS_FILE_UNKNOWN = 0,
  SPD_KERAS_FILE_JSON,          /* architecture only (`to_json()`) */
  SPD_KERAS_FILE_H5_WEIGHTS,    /* tf.keras 2 `save_weights('w.h5')` */
  SPD_KERAS_FILE_H5_MODEL,      /* tf.keras 2 `save('m.h5')`: model_config + model_weights */
  SPD_KERAS_FILE_WEIGHTS_H5,    /* Keras 3 `save_weights('w.weights.h5')` */
  SPD_KERAS_FILE_ARCHIVE,       /* Keras 3 `save('m.keras')` zip archive */
} spd_keras_file_t;

/** The layout a file name asks for, from its extension: .json, .keras,
 *  .weights.h5, and .h5/.hdf5 (legacy weights). UNKNOWN otherwise. */
spd_keras_file_t spd_keras_file_from_path(const char *path);

/** The layout of an existing file, from its contents (zip magic, HDF5 groups
 *  and attributes, JSON). @return 0 and *out, SPD_EIO, SPD_EFORMAT. */
int spd_keras_file_detect(spd_ctx_t *ctx, const char *path, spd_keras_file_t *out);

/* ---- Architecture JSON ---- */

/** Parse `to_json()` text of either form (Sequential, Functional or Model),
 *  add every layer with Keras's defaults for what the text leaves out, and
 *  build the model (shapes checked, parameters initialised from @p seed).
 *  A top-level "compile_config" becomes the model's training configuration
 *  (m->compile, spindle/compile.h); a bad one fails the parse, naming the key.
 *  @param text  borrowed, @p len bytes (need not be NUL-terminated)
 *  @param out   a new model owned by the caller (spd_model_free)
 *  @return 0; SPD_EFORMAT (invalid JSON: diagnostic gives line and column;
 *          missing or mistyped field: names the layer and field),
 *          SPD_EUNSUPPORTED (unknown layer class, data_format channels_first,
 *          a shared layer...: names the layer), SPD_ESHAPE, SPD_ENOMEM. */
int spd_keras_json_parse(spd_ctx_t *ctx, const char *text, size_t len,
                         uint64_t seed, spd_model_t **out);

/** spd_keras_json_parse on the contents of @p path (SPD_EIO if unreadable). */
int spd_keras_json_load(spd_ctx_t *ctx, const char *path, uint64_t seed,
                        spd_model_t **out);

/** The architecture of @p m as `to_json()` writes it in @p form: Sequential
 *  when the layers form a chain from the input, Functional otherwise.
 *  @param text_out newly allocated NUL-terminated text (spd_free with m->ctx). */
int spd_keras_json_format(const spd_model_t *m, spd_keras_json_form_t form,
                          char **text_out);

/** Write the tf.keras 2 form of @p m to @p path atomically. */
int spd_keras_json_save(const spd_model_t *m, const char *path);

/* ---- Weights ---- */

/** Load every layer's parameters of the built model @p m from @p path, any
 *  HDF5 layout or a .keras archive (detected from the contents). Legacy files
 *  are matched by layer name, or by order of the layers that have weights when
 *  the names differ (as Keras's load_weights does); Keras 3 files by the
 *  class-name paths Keras uses (layers/dense_1/vars/0). Every parameter must
 *  exist with exactly the shape the model expects; on failure the model's
 *  parameters are unchanged.
 *  @return 0; SPD_EIO, SPD_EFORMAT (not a Keras weights file, truncated or
 *          corrupt HDF5), SPD_ENOTFOUND (missing layer or weight: names it),
 *          SPD_ESHAPE (names the layer, weight, expected and found shapes). */
int spd_keras_weights_load(spd_model_t *m, const char *path);

/** Write the parameters of @p m to @p path in layout @p file
 *  (H5_WEIGHTS, H5_MODEL, WEIGHTS_H5 or ARCHIVE), atomically. Layouts that
 *  hold an architecture (JSON, ARCHIVE, H5_MODEL) also hold the model's
 *  training configuration when it has one (compile_config, or the
 *  training_config attribute of H5_MODEL).
 *  @return 0, SPD_EINVAL (another layout), SPD_EIO, SPD_ENOMEM. */
int spd_keras_save(const spd_model_t *m, const char *path, spd_keras_file_t file);

/** Load a whole model from a file holding an architecture: .json (fresh
 *  weights from @p seed), a legacy full-model .h5 or a .keras archive
 *  (architecture and weights), or an .onnx model (spindle/onnx.h: graph and
 *  weights), with the training configuration the file
 *  states (compile_config, or a .h5's training_config attribute). *out is
 *  a new model owned by the caller (spd_model_free). */
int spd_keras_model_load(spd_ctx_t *ctx, const char *path, uint64_t seed,
                         spd_model_t **out);

/** Switch libhdf5's own error printing off for the rest of the process.
 *  Every spindle call already silences it while it runs and restores the
 *  host's setting afterwards; a program that reports errors only through
 *  spindle's diagnostics (the CLI) calls this once at start, because
 *  libhdf5 also prints when it shuts down at exit after it failed to open a
 *  corrupt file ("infinite loop closing library": its own allocations from
 *  the failed open, which no id reaches). */
void spd_keras_h5_silence(void);

#endif
