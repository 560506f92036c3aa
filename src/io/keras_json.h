/* Internal to io/: the parts of the Keras JSON writer the other Keras files
 * use. */
#ifndef SPINDLE_IO_KERAS_JSON_H
#define SPINDLE_IO_KERAS_JSON_H

#include <stdbool.h>

#include "spindle/compile.h"
#include "spindle/keras.h"

struct cJSON;

/** spd_keras_json_format, with or without the top-level keras_version and
 *  backend members (the model_config attribute of a legacy full-model .h5
 *  holds only class_name and config). */
int spd__keras_json_format(const spd_model_t *m, spd_keras_json_form_t form, bool with_version,
                           char **text_out);

/** Is @p m a chain from its input to its output (a Sequential model)? */
bool spd__model_is_chain(const spd_model_t *m);

/** Read a training configuration: Keras 3's compile_config object or
 *  tf.keras 2's training_config (@p where names which in diagnostics).
 *  @return 0 and *out; SPD_EFORMAT (missing or mistyped key), SPD_EINVAL
 *  (a value out of range), SPD_EUNSUPPORTED (an optimizer, schedule, loss
 *  or argument spindle does not implement); every message names the key. */
int spd__keras_compile_read(spd_ctx_t *ctx, const struct cJSON *cc, const char *where,
                            spd_compile_config_t *out);

/** @p cfg as Keras 3's compile_config object (@p legacy false) or as
 *  tf.keras 2's training_config (@p legacy true), in json.dumps's style.
 *  @param text_out newly allocated NUL-terminated text (spd_free with @p ctx). */
int spd__keras_compile_format(spd_ctx_t *ctx, const spd_compile_config_t *cfg, bool legacy,
                              char **text_out);

#endif
