/* Keras's layer defaults and generated layer names. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "nn/config.h"

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
  cfg->use_bias = true;
  for (int i = 0; i < 2; i++) {
    cfg->kernel_size[i] = 1;
    cfg->strides[i] = 1;
    cfg->dilation_rate[i] = 1;
    cfg->pool_size[i] = 2;
  }
  if (kind == SPD_LAYER_MAXPOOL1D || kind == SPD_LAYER_MAXPOOL2D ||
      kind == SPD_LAYER_AVGPOOL1D || kind == SPD_LAYER_AVGPOOL2D) {
    /* Keras: strides=None means strides = pool_size. */
    cfg->strides[0] = cfg->strides[1] = 2;
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
}

/* Keras's to_snake_case of each class name: the prefix of generated names. */
static const char *const snake_names[SPD_LAYER_KIND_COUNT] = {
    [SPD_LAYER_INPUT] = "input",
    [SPD_LAYER_DENSE] = "dense",
    [SPD_LAYER_CONV1D] = "conv1d",
    [SPD_LAYER_CONV2D] = "conv2d",
    [SPD_LAYER_MAXPOOL1D] = "max_pooling1d",
    [SPD_LAYER_MAXPOOL2D] = "max_pooling2d",
    [SPD_LAYER_AVGPOOL1D] = "average_pooling1d",
    [SPD_LAYER_AVGPOOL2D] = "average_pooling2d",
    [SPD_LAYER_GLOBALAVGPOOL2D] = "global_average_pooling2d",
    [SPD_LAYER_FLATTEN] = "flatten",
    [SPD_LAYER_RESHAPE] = "reshape",
    [SPD_LAYER_ACTIVATION] = "activation",
    [SPD_LAYER_DROPOUT] = "dropout",
    [SPD_LAYER_BATCHNORM] = "batch_normalization",
    [SPD_LAYER_ADD] = "add",
    [SPD_LAYER_CONCATENATE] = "concatenate",
    [SPD_LAYER_LRN] = "lrn",
};

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
      snprintf(name, SPD_NAME_MAX, "%s", snake_names[kind]);
    else
      snprintf(name, SPD_NAME_MAX, "%s_%d", snake_names[kind], n);
    if (!name_taken(m, name))
      return;
  }
}
