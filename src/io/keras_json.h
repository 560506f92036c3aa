/* Internal to io/: the parts of the Keras JSON writer the other Keras files
 * use. */
#ifndef SPINDLE_IO_KERAS_JSON_H
#define SPINDLE_IO_KERAS_JSON_H

#include <stdbool.h>

#include "spindle/keras.h"

/** spd_keras_json_format, with or without the top-level keras_version and
 *  backend members (the model_config attribute of a legacy full-model .h5
 *  holds only class_name and config). */
int spd__keras_json_format(const spd_model_t *m, spd_keras_json_form_t form, bool with_version,
                           char **text_out);

/** Is @p m a chain from its input to its output (a Sequential model)? */
bool spd__model_is_chain(const spd_model_t *m);

#endif
