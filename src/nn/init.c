/* Keras's initializers (keras.initializers.VarianceScaling and friends),
 * drawn from Philox so every build with the same seed is identical. */
#include "nn/init.h"

#include <math.h>

#include "nn/layer_op.h"
#include "spindle/rng.h"

/* Standard deviation of a unit normal truncated to [-2, 2]: Keras divides by
 * it so the truncated draw has the intended variance. */
#define TRUNCATED_NORMAL_STDDEV 0.87962566103423978

static spd_shape_t shape_of(int rank, int32_t d0, int32_t d1, int32_t d2, int32_t d3) {
  spd_shape_t s = {.rank = rank, .dims = {d0, d1, d2, d3}};
  return s;
}

int spd__weight_layer_specs(const spd_layer_config_t *cfg, const spd_shape_t *in,
                              spd_param_spec_t *specs) {
  int32_t cin = in->dims[in->rank - 1];
  spd_shape_t kernel;
  int32_t out_channels;
  if (cfg->kind == SPD_LAYER_DENSE) {
    kernel = shape_of(2, cin, cfg->units, 0, 0);
    out_channels = cfg->units;
  } else if (cfg->kind == SPD_LAYER_CONV1D) {
    kernel = shape_of(3, cfg->kernel_size[0], cin, cfg->filters, 0);
    out_channels = cfg->filters;
  } else {
    int32_t groups = cfg->groups > 1 ? cfg->groups : 1;
    kernel = shape_of(4, cfg->kernel_size[0], cfg->kernel_size[1], cin / groups, cfg->filters);
    out_channels = cfg->filters;
  }
  specs[0] = (spd_param_spec_t){"kernel", kernel, true, cfg->kernel_initializer};
  if (!cfg->use_bias)
    return 1;
  specs[1] = (spd_param_spec_t){"bias", shape_of(1, out_channels, 0, 0, 0), true,
                                cfg->bias_initializer};
  return 2;
}

int spd__batchnorm_specs(const spd_layer_config_t *cfg, const spd_shape_t *in,
                           spd_param_spec_t *specs) {
  spd_shape_t ch = shape_of(1, in->dims[in->rank - 1], 0, 0, 0);
  int n = 0;
  if (cfg->scale)
    specs[n++] = (spd_param_spec_t){"gamma", ch, true, SPD_INIT_ONES};
  if (cfg->center)
    specs[n++] = (spd_param_spec_t){"beta", ch, true, SPD_INIT_ZEROS};
  specs[n++] = (spd_param_spec_t){"moving_mean", ch, false, SPD_INIT_ZEROS};
  specs[n++] = (spd_param_spec_t){"moving_variance", ch, false, SPD_INIT_ONES};
  return n;
}

int spd__layer_param_specs(const spd_layer_config_t *cfg, const spd_shape_t *input_shape,
                           spd_param_spec_t specs[SPD_MAX_PARAMS]) {
  const spd_layer_op_t *op = spd__layer_op(cfg->kind);
  return op && op->params ? op->params(cfg, input_shape, specs) : 0;
}

void spd__fans(const spd_shape_t *s, double *fan_in, double *fan_out) {
  if (s->rank < 1) {
    *fan_in = *fan_out = 1.0;
  } else if (s->rank == 1) {
    *fan_in = *fan_out = s->dims[0];
  } else if (s->rank == 2) {
    *fan_in = s->dims[0];
    *fan_out = s->dims[1];
  } else {
    /* Convolution kernels (..., in, out): the receptive field multiplies
     * both fans. */
    double receptive = 1.0;
    for (int i = 0; i < s->rank - 2; i++)
      receptive *= s->dims[i];
    *fan_in = s->dims[s->rank - 2] * receptive;
    *fan_out = s->dims[s->rank - 1] * receptive;
  }
}

static float truncated_normal(spd_rng_t *rng, double stddev) {
  /* TensorFlow's truncated_normal redraws values beyond two standard
   * deviations. */
  double z;
  do {
    z = spd_rng_normal(rng);
  } while (z < -2.0 || z > 2.0);
  return (float)(z * stddev);
}

static void fill_uniform(spd_tensor_t *t, size_t n, double limit, spd_rng_t *rng) {
  for (size_t i = 0; i < n; i++)
    t->data[i] = (float)((2.0 * spd_rng_uniform_double(rng) - 1.0) * limit);
}

static void fill_truncated(spd_tensor_t *t, size_t n, double stddev, spd_rng_t *rng) {
  for (size_t i = 0; i < n; i++)
    t->data[i] = truncated_normal(rng, stddev);
}

void spd__init_tensor(spd_tensor_t *t, spd_initializer_t init, spd_rng_t *rng) {
  size_t n = spd_shape_size(&t->shape);
  double fan_in, fan_out;
  spd__fans(&t->shape, &fan_in, &fan_out);
  double fan_avg = (fan_in + fan_out) / 2.0;
  switch (init) {
  case SPD_INIT_GLOROT_UNIFORM: /* VarianceScaling(1, fan_avg, uniform) */
    fill_uniform(t, n, sqrt(3.0 / fan_avg), rng);
    break;
  case SPD_INIT_GLOROT_NORMAL: /* VarianceScaling(1, fan_avg, truncated_normal) */
    fill_truncated(t, n, sqrt(1.0 / fan_avg) / TRUNCATED_NORMAL_STDDEV, rng);
    break;
  case SPD_INIT_HE_NORMAL: /* VarianceScaling(2, fan_in, truncated_normal) */
    fill_truncated(t, n, sqrt(2.0 / fan_in) / TRUNCATED_NORMAL_STDDEV, rng);
    break;
  case SPD_INIT_HE_UNIFORM: /* VarianceScaling(2, fan_in, uniform) */
    fill_uniform(t, n, sqrt(6.0 / fan_in), rng);
    break;
  case SPD_INIT_ONES:
    for (size_t i = 0; i < n; i++)
      t->data[i] = 1.0f;
    break;
  default:
    for (size_t i = 0; i < n; i++)
      t->data[i] = 0.0f;
    break;
  }
}
