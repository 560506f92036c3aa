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

/* The Keras JSON reader and writer as the layer descriptors (nn/layer_op.h)
 * see them: a descriptor reads its kind's fields with the spd__kjr_ accessors
 * (each failure names the layer and the field) and writes them with the
 * spd__kjw_ members, in the order Keras writes them. */
typedef struct spd__kjr spd__kjr_t;
typedef struct spd__kjw spd__kjw_t;

spd_ctx_t *spd__kjr_ctx(spd__kjr_t *r);
bool spd__kjr_present(const struct cJSON *item);
bool spd__kjr_is_int(const struct cJSON *item);
int spd__kjr_bad_field(spd__kjr_t *r, const char *layer, const char *field, const char *want);
int spd__kjr_int(spd__kjr_t *r, const struct cJSON *cfg, const char *layer, const char *key,
                 bool required, int32_t *out);
/** An integer or a list of @p n integers (kernel_size, strides, ...). */
int spd__kjr_ints(spd__kjr_t *r, const struct cJSON *cfg, const char *layer, const char *key,
                  int n, bool required, int32_t out[2]);
int spd__kjr_bool(spd__kjr_t *r, const struct cJSON *cfg, const char *layer, const char *key,
                  bool *out);
int spd__kjr_float(spd__kjr_t *r, const struct cJSON *cfg, const char *layer, const char *key,
                   bool required, float *out);
int spd__kjr_activation(spd__kjr_t *r, const struct cJSON *cfg, const char *layer,
                        bool required, spd_layer_config_t *out);
int spd__kjr_padding(spd__kjr_t *r, const struct cJSON *cfg, const char *layer,
                     spd_padding_t *out);
/** activation, use_bias and the initializers of Dense and convolutions. */
int spd__kjr_weighted_tail(spd__kjr_t *r, const struct cJSON *c, const char *layer,
                           spd_layer_config_t *o);
/** The axis a normalisation of the layer being read acts on; it must be the
 *  last, which is checked once the model is built. */
int spd__kjr_last_axis(spd__kjr_t *r, int axis);

bool spd__kjw_keras3(const spd__kjw_t *w);
void spd__kjw_str(spd__kjw_t *w, const char *k, const char *v);
void spd__kjw_raw(spd__kjw_t *w, const char *k, const char *raw);
void spd__kjw_int(spd__kjw_t *w, const char *k, long v);
void spd__kjw_bool(spd__kjw_t *w, const char *k, bool v);
void spd__kjw_float(spd__kjw_t *w, const char *k, float v);
void spd__kjw_ints(spd__kjw_t *w, const char *k, const int32_t *v, int n);
void spd__kjw_initializer(spd__kjw_t *w, const char *k, spd_initializer_t init);
void spd__kjw_nulls(spd__kjw_t *w, const char *const *keys, size_t n);
/** activation, use_bias, initializers, regularizers (activity_regularizer
 *  when @p activity) and constraints of Dense and convolutions. */
void spd__kjw_weighted_tail(spd__kjw_t *w, const spd_layer_config_t *c, bool activity);

#endif
