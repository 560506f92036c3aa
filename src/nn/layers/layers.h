/* What the layer descriptors (nn/layer_op.h) are written with: the shape
 * checks (nn/shape.h), the float reference's state and helpers
 * (nn/ref_exec.h), the fixed-point reference's (nn/fx_net_internal.h), and
 * the Keras JSON reader's and writer's accessors (io/keras_json.h). */
#ifndef SPINDLE_NN_LAYERS_LAYERS_H
#define SPINDLE_NN_LAYERS_LAYERS_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "io/keras_json.h"
#include "nn/fx_net_internal.h"
#include "nn/layer_op.h"
#include "nn/ref_exec.h"
#include "nn/shape.h"

static inline int32_t spd__last_dim(const spd_shape_t *s) { return s->dims[s->rank - 1]; }

/* "valid" or "same", as Keras writes a window layer's padding. */
static inline const char *spd__padding_name(spd_padding_t p) {
  return p == SPD_PAD_SAME ? "same" : "valid";
}

/* What the global poolings (GlobalAveragePooling2D, GlobalMaxPooling2D)
 * share, in layers/gap.c: a rank-3 map to one value per channel, and
 * Keras's channels_last without keepdims. */
int spd__global_pool_infer(spd_ctx_t *ctx, const spd_layer_config_t *cfg,
                           const spd_shape_t *const *inputs, int n, spd_shape_t *out);
int spd__global_pool_keras_read(spd__kjr_t *r, const char *cls, const cJSON *c,
                                const char *name, spd_layer_config_t *o);
void spd__global_pool_keras_write(spd__kjw_t *w, const spd_layer_t *l);

#endif
