/* Keras's layer defaults and generated layer names. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "nn/config.h"
#include "nn/layer_op.h"

void spd_layer_config_defaults(spd_layer_config_t *cfg, spd_layer_kind_t kind,
                               const char *name) {
  memset(cfg, 0, sizeof *cfg);
  cfg->kind = kind;
  if (name)
    snprintf(cfg->name, sizeof cfg->name, "%s", name);
  cfg->activation = SPD_ACT_LINEAR;
  /* activation='leaky_relu' follows Keras 3 (keras.activations.leaky_relu,
   * negative_slope 0.2, as tf.nn.leaky_relu). tf.keras 2's LeakyReLU *layer*
   * defaults to alpha 0.3: a loader mapping that layer sets this field. */
  cfg->negative_slope = 0.2f;
  cfg->elu_alpha = 1.0f;
  cfg->relu_max_value = INFINITY;
  cfg->use_bias = true;
  for (int i = 0; i < 2; i++) {
    cfg->kernel_size[i] = 1;
    cfg->strides[i] = 1;
    cfg->dilation_rate[i] = 1;
    cfg->pool_size[i] = 2;
  }
  cfg->padding = SPD_PAD_VALID;
  cfg->groups = 1;
  cfg->lrn_size = 1;
  cfg->lrn_alpha = 1e-4f;
  cfg->lrn_beta = 0.75f;
  cfg->lrn_bias = 1.0f;
  cfg->rate = 0.0f;
  cfg->momentum = 0.99f;
  cfg->epsilon = 0.001f;
  cfg->center = true;
  cfg->scale = true;
  cfg->kernel_initializer = SPD_INIT_GLOROT_UNIFORM;
  cfg->bias_initializer = SPD_INIT_ZEROS;
  const spd_layer_op_t *op = spd__layer_op(kind);
  if (op && op->defaults)
    op->defaults(cfg);
}

static bool name_taken(const spd_model_t *m, const char *name) {
  for (int i = 0; i < m->n_layers; i++)
    if (!strcmp(m->layers[i].config.name, name))
      return true;
  return false;
}

void spd__layer_default_name(const spd_model_t *m, spd_layer_kind_t kind,
                             char name[SPD_NAME_MAX]) {
  int n = 0;
  for (int i = 0; i < m->n_layers; i++)
    n += m->layers[i].config.kind == kind;
  /* tf.keras 2 numbers inputs from 1 ("input_1") and other layers from the
   * bare name ("dense", "dense_1", ...); a name the user already took moves
   * the number on. */
  for (;; n++) {
    if (kind == SPD_LAYER_INPUT)
      snprintf(name, SPD_NAME_MAX, "input_%d", n + 1);
    else if (n == 0)
      snprintf(name, SPD_NAME_MAX, "%s", spd__layer_op(kind)->snake);
    else
      snprintf(name, SPD_NAME_MAX, "%s_%d", spd__layer_op(kind)->snake, n);
    if (!name_taken(m, name))
      return;
  }
}
