/* Which loss a training run uses and whether it fits the model and the
 * targets; the losses themselves are the reference executor's. */
#include "spindle/fit.h"

static const spd_layer_t *output_layer(const spd_model_t *m) {
  return &m->layers[m->output];
}

static size_t output_units(const spd_model_t *m) {
  return spd_shape_size(&output_layer(m)->output_shape);
}

spd_loss_kind_t spd_loss_default(const spd_model_t *m, const spd_targets_t *y) {
  spd_activation_t act = output_layer(m)->config.activation;
  if (output_units(m) == 1)
    return act == SPD_ACT_SIGMOID || y->width == 0 ? SPD_LOSS_BINARY_CROSSENTROPY
                                                   : SPD_LOSS_MSE;
  if (y->width == 0)
    return SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
  if (act == SPD_ACT_SOFTMAX)
    return SPD_LOSS_CATEGORICAL_CROSSENTROPY;
  return act == SPD_ACT_SIGMOID ? SPD_LOSS_BINARY_CROSSENTROPY : SPD_LOSS_MSE;
}

static int check_labels(spd_ctx_t *ctx, const spd_targets_t *y, size_t units) {
  size_t classes = units == 1 ? 2 : units;
  for (size_t i = 0; i < y->n; i++)
    if (y->labels[i] < 0 || (size_t)y->labels[i] >= classes)
      return spd_ctx_fail(ctx, SPD_ESHAPE,
                          "label %ld of sample %zu is outside the %zu classes of "
                          "the model's output", (long)y->labels[i], i, classes);
  return 0;
}

static int check_sparse(spd_ctx_t *ctx, spd_loss_kind_t loss, size_t units,
                        const spd_targets_t *y) {
  if (loss != SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY &&
      !(loss == SPD_LOSS_BINARY_CROSSENTROPY && units == 1))
    return spd_ctx_fail(ctx, SPD_EINVAL,
                        "loss %s needs target rows of %zu values, but the data has "
                        "integer labels (use sparse_categorical_crossentropy)",
                        spd_loss_name(loss), units);
  if (loss == SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY && units == 1)
    return spd_ctx_fail(ctx, SPD_ESHAPE,
                        "sparse_categorical_crossentropy needs an output of one "
                        "unit per class, but the model has a single output unit");
  return check_labels(ctx, y, units);
}

/* One integer label per sample fits an output of one vector per sample.
 * Keras's Dense acts on the last axis, so a model without a Flatten can end
 * in an output like (None, 28, 28, 10): a class vector per position, which
 * Keras too refuses to pair with one label per sample. */
static int check_one_vector(spd_ctx_t *ctx, const spd_model_t *m) {
  const spd_shape_t *s = &output_layer(m)->output_shape;
  if (s->rank <= 1)
    return 0;
  char shape[96];
  spd_shape_format(s, shape, sizeof shape);
  return spd_ctx_fail(ctx, SPD_ESHAPE,
                      "the model's output %s (layer '%s') holds %zu vectors per sample but "
                      "the data has one integer label per sample (Dense acts on the last "
                      "axis: add a Flatten before it)",
                      shape, output_layer(m)->config.name,
                      output_units(m) / (size_t)s->dims[s->rank - 1]);
}

int spd_loss_check(spd_ctx_t *ctx, spd_loss_kind_t loss, const spd_model_t *m,
                   const spd_targets_t *y) {
  size_t units = output_units(m);
  if ((unsigned)loss >= SPD_LOSS_COUNT)
    return spd_ctx_fail(ctx, SPD_EINVAL, "unknown loss %d", (int)loss);
  if (y->width == 0) {
    int rc = check_one_vector(ctx, m);
    return rc ? rc : check_sparse(ctx, loss, units, y);
  }
  if (loss == SPD_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY)
    return spd_ctx_fail(ctx, SPD_EINVAL,
                        "loss sparse_categorical_crossentropy needs integer labels, "
                        "but the targets are rows of %zu values", y->width);
  if (y->width != units) {
    char shape[64];
    spd_shape_format(&output_layer(m)->output_shape, shape, sizeof shape);
    return spd_ctx_fail(ctx, SPD_ESHAPE,
                        "the model's output %s has %zu values per sample but the "
                        "targets have %zu", shape, units, y->width);
  }
  return 0;
}
