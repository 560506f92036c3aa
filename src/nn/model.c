/* The model graph: creation, layers, build (shapes + parameters), look-up and
 * parameter counts. */
#include <stdio.h>
#include <string.h>

#include "nn/config.h"
#include "nn/init.h"
#include "nn/shape.h"
#include "spindle/compile.h"
#include "spindle/rng.h"

int spd_model_new(spd_ctx_t *ctx, const char *name, spd_model_t **out) {
  spd_model_t *m = spd_calloc(ctx, 1, sizeof *m);
  if (!m)
    return spd_ctx_fail(ctx, SPD_ENOMEM, "model '%s': out of memory", name ? name : "");
  m->ctx = ctx;
  snprintf(m->name, sizeof m->name, "%s", name && name[0] ? name : "model");
  m->output = -1;
  *out = m;
  return 0;
}

static void free_layer_params(spd_ctx_t *ctx, spd_layer_t *layer) {
  for (int p = 0; p < layer->n_params; p++) {
    spd_free(ctx, layer->params[p].value.data);
    layer->params[p].value.data = NULL;
  }
  layer->n_params = 0;
}

void spd_model_free(spd_model_t *m) {
  if (!m)
    return;
  for (int i = 0; i < m->n_layers; i++)
    free_layer_params(m->ctx, &m->layers[i]);
  spd_free(m->ctx, m->layers);
  spd_free(m->ctx, m->compile);
  spd_free(m->ctx, m);
}

int spd_model_set_compile(spd_model_t *m, const spd_compile_config_t *cfg) {
  spd_compile_config_t *copy = NULL;
  if (cfg) {
    copy = spd_malloc(m->ctx, sizeof *copy);
    if (!copy)
      return spd_ctx_fail(m->ctx, SPD_ENOMEM, "model '%s': out of memory", m->name);
    *copy = *cfg;
  }
  spd_free(m->ctx, m->compile);
  m->compile = copy;
  return 0;
}

static int check_inbound(spd_model_t *m, const spd_layer_config_t *cfg, const int *inbound,
                         int n_inbound) {
  if (cfg->kind == SPD_LAYER_INPUT) {
    if (m->n_layers != 0 || n_inbound != 0)
      return spd_ctx_fail(m->ctx, SPD_EINVAL,
                          "layer '%s' (InputLayer): the input must be the first layer and have "
                          "no inbound layers",
                          cfg->name);
    return 0;
  }
  if (m->n_layers == 0)
    return spd_ctx_fail(m->ctx, SPD_EINVAL, "layer '%s' (%s): the first layer must be an InputLayer",
                        cfg->name, spd_layer_kind_name(cfg->kind));
  if (n_inbound < 1 || n_inbound > SPD_MAX_INBOUND || !inbound)
    return spd_ctx_fail(m->ctx, SPD_EINVAL, "layer '%s' (%s): %d inbound layers (1 to %d allowed)",
                        cfg->name, spd_layer_kind_name(cfg->kind), n_inbound, SPD_MAX_INBOUND);
  for (int i = 0; i < n_inbound; i++)
    if (inbound[i] < 0 || inbound[i] >= m->n_layers)
      return spd_ctx_fail(m->ctx, SPD_EINVAL,
                          "layer '%s' (%s): inbound index %d is not an earlier layer (0..%d)",
                          cfg->name, spd_layer_kind_name(cfg->kind), inbound[i], m->n_layers - 1);
  return 0;
}

static int grow_layers(spd_model_t *m, const char *name) {
  if (m->n_layers < m->capacity)
    return 0;
  int capacity = m->capacity ? m->capacity * 2 : 8;
  spd_layer_t *layers = spd_realloc(m->ctx, m->layers, (size_t)capacity * sizeof *layers);
  if (!layers)
    return spd_ctx_fail(m->ctx, SPD_ENOMEM, "layer '%s': out of memory growing the model to %d layers",
                        name, capacity);
  m->layers = layers;
  m->capacity = capacity;
  return 0;
}

int spd_model_add(spd_model_t *m, const spd_layer_config_t *cfg, const int *inbound,
                  int n_inbound, int *index_out) {
  if ((int)cfg->kind < 0 || cfg->kind >= SPD_LAYER_KIND_COUNT)
    return spd_ctx_fail(m->ctx, SPD_EINVAL, "layer '%s': unknown layer kind %d", cfg->name,
                        (int)cfg->kind);
  if (m->built)
    return spd_ctx_fail(m->ctx, SPD_ESTATE, "layer '%s': model '%s' is already built", cfg->name,
                        m->name);
  spd_layer_config_t config = *cfg;
  config.name[SPD_NAME_MAX - 1] = '\0';
  if (!config.name[0])
    spd__layer_default_name(m, config.kind, config.name);
  if (spd_model_find(m, config.name) >= 0)
    return spd_ctx_fail(m->ctx, SPD_EINVAL, "layer '%s': a layer of that name already exists",
                        config.name);
  int rc = check_inbound(m, &config, inbound, n_inbound);
  if (rc == 0)
    rc = grow_layers(m, config.name);
  if (rc)
    return rc;
  spd_layer_t *layer = &m->layers[m->n_layers];
  memset(layer, 0, sizeof *layer);
  layer->config = config;
  layer->n_inbound = n_inbound;
  for (int i = 0; i < n_inbound; i++)
    layer->inbound[i] = inbound[i];
  m->output = m->n_layers;
  if (index_out)
    *index_out = m->n_layers;
  m->n_layers++;
  return 0;
}

static int check_initializers(spd_model_t *m, const spd_layer_config_t *cfg) {
  if ((int)cfg->kernel_initializer < 0 || cfg->kernel_initializer >= SPD_INIT_COUNT ||
      (int)cfg->bias_initializer < 0 || cfg->bias_initializer >= SPD_INIT_COUNT)
    return spd_ctx_fail(m->ctx, SPD_EINVAL, "layer '%s' (%s): unknown initializer", cfg->name,
                        spd_layer_kind_name(cfg->kind));
  return 0;
}

/* Output shapes of every layer, in @p shapes (n_layers entries). */
static int infer_all(spd_model_t *m, spd_shape_t *shapes) {
  for (int i = 0; i < m->n_layers; i++) {
    const spd_layer_t *layer = &m->layers[i];
    const spd_shape_t *inputs[SPD_MAX_INBOUND];
    for (int j = 0; j < layer->n_inbound; j++)
      inputs[j] = &shapes[layer->inbound[j]];
    int rc = check_initializers(m, &layer->config);
    if (rc == 0)
      rc = spd__layer_infer_shape(m->ctx, &layer->config, inputs, layer->n_inbound, &shapes[i]);
    if (rc)
      return rc;
  }
  return 0;
}

/* New parameters for every layer, allocated and initialised into @p staged
 * (n_layers * SPD_MAX_PARAMS entries); freed again on failure. */
static int make_params(spd_model_t *m, const spd_shape_t *shapes, uint64_t seed,
                       spd_param_t *staged, int *counts) {
  for (int i = 0; i < m->n_layers; i++) {
    const spd_layer_t *layer = &m->layers[i];
    const spd_shape_t *in = layer->n_inbound ? &shapes[layer->inbound[0]] : &shapes[i];
    spd_param_spec_t specs[SPD_MAX_PARAMS];
    int n = spd__layer_param_specs(&layer->config, in, specs);
    /* One stream per layer index: adding or reordering other layers' draws
     * never changes this layer's initial values. */
    spd_rng_t rng;
    spd_rng_init(&rng, seed, (uint32_t)i);
    for (int p = 0; p < n; p++) {
      spd_param_t *param = &staged[i * SPD_MAX_PARAMS + p];
      snprintf(param->name, sizeof param->name, "%s", specs[p].name);
      param->trainable = specs[p].trainable;
      param->value.shape = specs[p].shape;
      size_t count = spd_shape_size(&specs[p].shape);
      param->value.data = spd_malloc(m->ctx, count * sizeof(float));
      if (!param->value.data)
        return spd_ctx_fail(m->ctx, SPD_ENOMEM, "layer '%s': out of memory for %s (%zu floats)",
                            layer->config.name, specs[p].name, count);
      counts[i] = p + 1;
      spd__init_tensor(&param->value, specs[p].init, &rng);
    }
  }
  return 0;
}

static void commit(spd_model_t *m, const spd_shape_t *shapes, const spd_param_t *staged,
                   const int *counts) {
  for (int i = 0; i < m->n_layers; i++) {
    spd_layer_t *layer = &m->layers[i];
    free_layer_params(m->ctx, layer);
    layer->output_shape = shapes[i];
    layer->input_shape = layer->n_inbound ? shapes[layer->inbound[0]] : shapes[i];
    layer->n_params = counts[i];
    for (int p = 0; p < counts[i]; p++)
      layer->params[p] = staged[i * SPD_MAX_PARAMS + p];
  }
  m->built = true;
}

int spd_model_build(spd_model_t *m, uint64_t seed) {
  if (m->n_layers == 0)
    return spd_ctx_fail(m->ctx, SPD_EINVAL, "model '%s' has no layers", m->name);
  if (m->output < 0 || m->output >= m->n_layers)
    return spd_ctx_fail(m->ctx, SPD_EINVAL, "model '%s': output layer %d does not exist", m->name,
                        m->output);
  size_t n = (size_t)m->n_layers;
  spd_shape_t *shapes = spd_calloc(m->ctx, n, sizeof *shapes);
  spd_param_t *staged = spd_calloc(m->ctx, n * SPD_MAX_PARAMS, sizeof *staged);
  int *counts = spd_calloc(m->ctx, n, sizeof *counts);
  int rc = 0;
  if (!shapes || !staged || !counts)
    rc = spd_ctx_fail(m->ctx, SPD_ENOMEM, "model '%s': out of memory building %d layers", m->name,
                      m->n_layers);
  if (rc == 0)
    rc = infer_all(m, shapes);
  if (rc == 0)
    rc = make_params(m, shapes, seed, staged, counts);
  if (rc == 0) {
    commit(m, shapes, staged, counts);
  } else if (staged && counts) {
    for (size_t i = 0; i < n; i++)
      for (int p = 0; p < counts[i]; p++)
        spd_free(m->ctx, staged[i * SPD_MAX_PARAMS + p].value.data);
  }
  spd_free(m->ctx, shapes);
  spd_free(m->ctx, staged);
  spd_free(m->ctx, counts);
  return rc;
}

int spd_model_find(const spd_model_t *m, const char *name) {
  for (int i = 0; i < m->n_layers; i++)
    if (!strcmp(m->layers[i].config.name, name))
      return i;
  return -1;
}

void spd_model_count_params(const spd_model_t *m, uint64_t *total, uint64_t *trainable,
                            uint64_t *non_trainable) {
  uint64_t t = 0, nt = 0;
  for (int i = 0; i < m->n_layers; i++) {
    const spd_layer_t *layer = &m->layers[i];
    for (int p = 0; p < layer->n_params; p++) {
      uint64_t size = spd_shape_size(&layer->params[p].value.shape);
      if (layer->params[p].trainable)
        t += size;
      else
        nt += size;
    }
  }
  if (total)
    *total = t + nt;
  if (trainable)
    *trainable = t;
  if (non_trainable)
    *non_trainable = nt;
}
