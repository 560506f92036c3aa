/* Parameters of a layer (names, shapes and initializers in Keras's order)
 * and Keras's initializers on the deterministic RNG. */
#ifndef SPINDLE_NN_INIT_H
#define SPINDLE_NN_INIT_H

#include "spindle/model.h"
#include "spindle/rng.h"

/** One parameter a layer will own once built. */
typedef struct spd_param_spec {
  const char *name;
  spd_shape_t shape;
  bool trainable;
  spd_initializer_t init;
} spd_param_spec_t;

/** The parameters of a layer of config @p cfg fed with @p input_shape, in
 *  Keras's weight order; returns how many (0..SPD_MAX_PARAMS). */
int spd__layer_param_specs(const spd_layer_config_t *cfg, const spd_shape_t *input_shape,
                           spd_param_spec_t specs[SPD_MAX_PARAMS]);

/** The parameters of Dense and the convolutions (kernel, bias) and of
 *  BatchNormalization (gamma, beta, moving statistics). */
int spd__weight_layer_specs(const spd_layer_config_t *cfg, const spd_shape_t *in,
                            spd_param_spec_t *specs);
int spd__batchnorm_specs(const spd_layer_config_t *cfg, const spd_shape_t *in,
                         spd_param_spec_t *specs);

/** Keras's fans of a weight of shape @p s (keras.initializers _compute_fans). */
void spd__fans(const spd_shape_t *s, double *fan_in, double *fan_out);

/** Fill @p t with initializer @p init, drawing from @p rng in element order. */
void spd__init_tensor(spd_tensor_t *t, spd_initializer_t init, spd_rng_t *rng);

#endif
