/* The ONNX graph as a spindle model: the opset, the one graph input, the
 * initializers, the nodes in dependency order (a cycle or a value nobody
 * produces is an error naming the node), the one graph output, then the
 * model built and every weight the file holds copied into it. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "io/file.h"
#include "io/onnx_internal.h"
#include "nn/shape.h"

/* Opsets 9 to 17 are the promise; 6 to 8 are read too, since ONNX's own
 * backend test cases of PyTorch's layers (peer-tests/onnx) are opset 6:
 * their operators differ from opset 9 only in attributes spindle checks
 * (BatchNormalization's spatial, Add's and Gemm's broadcast). */
#define ONNX_OPSET_MIN 6
#define ONNX_OPSET_MAX 17
/* Dimensions past this are not an image or a feature vector: absurd. */
#define ONNX_MAX_DIM (1 << 24)

bool spd_onnx_path(const char *path) {
  size_t n = path ? strlen(path) : 0;
  return n > 5 && !strcmp(path + n - 5, ".onnx");
}

const char *spd__onnx_node_name(const Onnx__NodeProto *n) {
  if (n->name && n->name[0])
    return n->name;
  return n->n_output && n->output[0] && n->output[0][0] ? n->output[0] : "?";
}

int spd__onnx_fail(onnx_conv_t *cv, const Onnx__NodeProto *n, int err, const char *fmt, ...) {
  char why[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  if (!n) /* the graph's own inputs and initializers */
    return spd_ctx_fail(cv->ctx, err, "ONNX graph (opset %lld): %s", (long long)cv->opset, why);
  return spd_ctx_fail(cv->ctx, err, "ONNX node '%s' (%s, opset %lld): %s", spd__onnx_node_name(n),
                      n->op_type ? n->op_type : "?", (long long)cv->opset, why);
}

static uint64_t hash_name(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}

/* The slot of @p name: its entry, or the empty slot where it would go. */
static onnx_value_t *slot(onnx_conv_t *cv, const char *name) {
  size_t mask = cv->values_cap - 1;
  for (size_t i = hash_name(name) & mask;; i = (i + 1) & mask) {
    onnx_value_t *v = &cv->values[i];
    if (!v->name || !strcmp(v->name, name))
      return v;
  }
}

/* Count a use of @p name (before anything is defined). */
static void count_use(onnx_conv_t *cv, const char *name) {
  if (!name || !name[0])
    return;
  onnx_value_t *v = slot(cv, name);
  v->name = name;
  v->consumers++;
}

onnx_value_t *spd__onnx_find(onnx_conv_t *cv, const char *name) {
  if (!name || !name[0])
    return NULL;
  onnx_value_t *v = slot(cv, name);
  return v->name && v->kind ? v : NULL;
}

onnx_value_t *spd__onnx_define(onnx_conv_t *cv, const Onnx__NodeProto *n, const char *name) {
  if (!name || !name[0]) {
    spd__onnx_fail(cv, n, SPD_EFORMAT, "an output without a name");
    return NULL;
  }
  onnx_value_t *v = slot(cv, name);
  if (v->kind) {
    if (n)
      spd__onnx_fail(cv, n, SPD_EFORMAT, "value '%s' is produced twice", name);
    else
      spd_ctx_fail(cv->ctx, SPD_EFORMAT, "ONNX value '%s' is defined twice", name);
    return NULL;
  }
  int consumers = v->name ? v->consumers : 0;
  memset(v, 0, sizeof *v);
  v->name = name;
  v->consumers = consumers;
  return v;
}

int spd__onnx_input(onnx_conv_t *cv, const Onnx__NodeProto *n, size_t k, int need,
                    onnx_value_t **out) {
  const char *name = k < n->n_input ? n->input[k] : NULL;
  onnx_value_t *v = spd__onnx_find(cv, name);
  *out = v;
  if (!name || !name[0])
    return need ? spd__onnx_fail(cv, n, SPD_EFORMAT, "input %zu is missing", k) : 0;
  if (!v)
    return spd__onnx_fail(cv, n, SPD_EFORMAT, "input '%s' is not defined", name);
  if (need == ONNX_V_CONST && v->kind != ONNX_V_CONST)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED,
                          "input %zu ('%s') must be an initializer or a Constant: spindle "
                          "takes weights and shapes from the file, not computed at run time",
                          k, name);
  if (need == ONNX_V_LAYER && v->kind != ONNX_V_LAYER)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED,
                          "input %zu ('%s') is a constant: spindle runs operators on the "
                          "sample's values only", k, name);
  return 0;
}

const spd_shape_t *spd__onnx_shape(const onnx_conv_t *cv, int layer) {
  return &cv->shapes[layer];
}

int spd__onnx_value_dims(const onnx_conv_t *cv, const onnx_value_t *v, int64_t *dims) {
  const spd_shape_t *s = spd__onnx_shape(cv, v->layer);
  dims[0] = 1;
  switch (v->layout) {
  case ONNX_FLAT:
  case ONNX_FLAT_HWC:
    dims[1] = (int64_t)spd_shape_size(s);
    return 2;
  case ONNX_SQUEEZED:
    dims[1] = s->dims[s->rank - 1];
    dims[2] = dims[3] = 1;
    return 4;
  default:
    dims[1] = s->dims[s->rank - 1];
    for (int i = 0; i < s->rank - 1; i++)
      dims[2 + i] = s->dims[i];
    return s->rank + 1;
  }
}

/* A Keras-friendly layer name from the node's: letters, digits, '_', '.',
 * '-' kept, the rest '_', numbered when taken. */
static void layer_name(const spd_model_t *m, const Onnx__NodeProto *n, char *out) {
  const char *src = n ? spd__onnx_node_name(n) : "input";
  char base[SPD_NAME_MAX - 8];
  size_t len = 0;
  for (const char *p = src; *p && len < sizeof base - 1; p++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok && (len == 0 || base[len - 1] == '_'))
      continue;
    base[len++] = ok ? c : '_';
  }
  while (len && base[len - 1] == '_')
    len--;
  base[len] = '\0';
  if (!len)
    snprintf(base, sizeof base, "layer");
  snprintf(out, SPD_NAME_MAX, "%s", base);
  for (int k = 1; spd_model_find(m, out) >= 0 && k < 1000000; k++)
    snprintf(out, SPD_NAME_MAX, "%.48s_%d", base, k);
}

int spd__onnx_add_layer(onnx_conv_t *cv, const Onnx__NodeProto *n, spd_layer_config_t *cfg,
                        const int *inbound, int n_inbound, int *index) {
  layer_name(cv->m, n, cfg->name);
  if (cv->m->n_layers >= cv->shapes_cap) {
    int cap = cv->shapes_cap ? cv->shapes_cap * 2 : 64;
    spd_shape_t *s = spd_realloc(cv->ctx, cv->shapes, (size_t)cap * sizeof *s);
    if (!s)
      return spd_ctx_fail(cv->ctx, SPD_ENOMEM, "ONNX: %d layers", cap);
    cv->shapes = s;
    cv->shapes_cap = cap;
  }
  const spd_shape_t *ins[SPD_MAX_INBOUND];
  for (int k = 0; k < n_inbound; k++)
    ins[k] = &cv->shapes[inbound[k]];
  spd_shape_t shape;
  int rc = spd__layer_infer_shape(cv->ctx, cfg, ins, n_inbound, &shape);
  if (!rc)
    rc = spd_model_add(cv->m, cfg, inbound, n_inbound, index);
  if (rc) {
    if (n) {
      char why[400];
      snprintf(why, sizeof why, "%s", spd_ctx_message(cv->ctx));
      return spd__onnx_fail(cv, n, rc, "%s", why);
    }
    return rc;
  }
  cv->shapes[*index] = shape;
  return 0;
}

int spd__onnx_weight(onnx_conv_t *cv, int layer, const char *param, float *data, size_t count) {
  if (cv->n_weights == cv->weights_cap) {
    int cap = cv->weights_cap ? cv->weights_cap * 2 : 64;
    onnx_weight_t *w = spd_realloc(cv->ctx, cv->weights, (size_t)cap * sizeof *w);
    if (!w) {
      spd_free(cv->ctx, data);
      return spd_ctx_fail(cv->ctx, SPD_ENOMEM, "ONNX: %d weights", cap);
    }
    cv->weights = w;
    cv->weights_cap = cap;
  }
  cv->weights[cv->n_weights++] = (onnx_weight_t){layer, param, data, count};
  return 0;
}

static int find_opset(onnx_conv_t *cv) {
  const Onnx__ModelProto *p = cv->proto;
  cv->opset = -1;
  for (size_t i = 0; i < p->n_opset_import; i++) {
    const char *d = p->opset_import[i]->domain;
    if (!d || !d[0] || !strcmp(d, "ai.onnx"))
      cv->opset = p->opset_import[i]->version;
  }
  if (cv->opset < 0)
    return spd_ctx_fail(cv->ctx, SPD_EFORMAT, "ONNX model imports no opset of the default domain");
  if (cv->opset < ONNX_OPSET_MIN || cv->opset > ONNX_OPSET_MAX)
    return spd_ctx_fail(cv->ctx, SPD_EUNSUPPORTED,
                        "ONNX opset %lld: spindle reads opsets %d to %d", (long long)cv->opset,
                        ONNX_OPSET_MIN, ONNX_OPSET_MAX);
  return 0;
}

/* Every operator spindle does not read, named at once. */
static int check_ops(onnx_conv_t *cv) {
  const Onnx__GraphProto *g = cv->proto->graph;
  char list[1024];
  size_t used = 0;
  int bad = 0;
  for (size_t i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *n = g->node[i];
    const char *d = n->domain;
    bool default_domain = !d || !d[0] || !strcmp(d, "ai.onnx");
    if (n->op_type && default_domain && spd__onnx_op_known(n->op_type))
      continue;
    if (bad++ < 40 && used < sizeof list)
      used += (size_t)snprintf(list + used, sizeof list - used, "%s%s%s%s (node '%s')",
                               bad > 1 ? ", " : "", default_domain ? "" : d,
                               default_domain ? "" : ".", n->op_type ? n->op_type : "?",
                               spd__onnx_node_name(n));
  }
  if (!bad)
    return 0;
  return spd_ctx_fail(cv->ctx, SPD_EUNSUPPORTED,
                      "ONNX opset %lld: %d node%s with operators spindle does not read: %s%s",
                      (long long)cv->opset, bad, bad == 1 ? "" : "s", list,
                      bad > 40 ? ", ..." : "");
}

static int define_initializers(onnx_conv_t *cv) {
  const Onnx__GraphProto *g = cv->proto->graph;
  for (size_t i = 0; i < g->n_initializer; i++) {
    const Onnx__TensorProto *t = g->initializer[i];
    if (!t->name || !t->name[0])
      return spd_ctx_fail(cv->ctx, SPD_EFORMAT, "ONNX initializer %zu has no name", i);
    onnx_value_t *v = spd__onnx_define(cv, NULL, t->name);
    if (!v)
      return SPD_EFORMAT;
    int rc = spd__onnx_tensor(cv, t, t->name, v);
    if (rc) {
      v->kind = ONNX_V_CONST; /* what it allocated is freed with the table */
      return rc;
    }
  }
  return 0;
}

static int input_shape(onnx_conv_t *cv, const Onnx__ValueInfoProto *in, spd_shape_t *s,
                       onnx_layout_t *layout) {
  const Onnx__TypeProto *t = in->type;
  if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type ||
      !t->tensor_type->shape)
    return spd_ctx_fail(cv->ctx, SPD_EFORMAT,
                        "ONNX graph input '%s' is not a tensor of known shape", in->name);
  const Onnx__TypeProto__Tensor *tt = t->tensor_type;
  if (tt->has_elem_type && tt->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
    return spd_ctx_fail(cv->ctx, SPD_EUNSUPPORTED,
                        "ONNX graph input '%s' has element type %d: spindle takes float inputs",
                        in->name, (int)tt->elem_type);
  size_t rank = tt->shape->n_dim;
  if (rank < 2 || rank > 4)
    return spd_ctx_fail(cv->ctx, SPD_EUNSUPPORTED,
                        "ONNX graph input '%s' has rank %zu: spindle takes (batch, features), "
                        "(batch, channels, length) or (batch, channels, rows, cols)",
                        in->name, rank);
  int32_t d[4];
  for (size_t i = 1; i < rank; i++) {
    const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[i];
    if (dim->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ||
        dim->dim_value < 1 || dim->dim_value > ONNX_MAX_DIM)
      return spd_ctx_fail(cv->ctx, SPD_EFORMAT,
                          "ONNX graph input '%s': dimension %zu must be a number from 1 to %d "
                          "(only the batch may be symbolic)", in->name, i, ONNX_MAX_DIM);
    d[i] = (int32_t)dim->dim_value;
  }
  s->rank = (int)rank - 1;
  if (rank == 2) {
    s->dims[0] = d[1];
    *layout = ONNX_FLAT;
  } else {
    for (size_t i = 2; i < rank; i++)
      s->dims[i - 2] = d[i];
    s->dims[rank - 2] = d[1];
    *layout = ONNX_CL;
  }
  return 0;
}

static int define_input(onnx_conv_t *cv) {
  const Onnx__GraphProto *g = cv->proto->graph;
  const Onnx__ValueInfoProto *input = NULL;
  int n = 0;
  char names[256] = "";
  size_t used = 0;
  for (size_t i = 0; i < g->n_input; i++) {
    if (!g->input[i]->name || spd__onnx_find(cv, g->input[i]->name))
      continue; /* IR < 4 lists the initializers among the inputs */
    input = g->input[i];
    if (used < sizeof names)
      used += (size_t)snprintf(names + used, sizeof names - used, "%s'%s'", n ? ", " : "",
                               input->name);
    n++;
  }
  if (n != 1)
    return spd_ctx_fail(cv->ctx, SPD_EUNSUPPORTED,
                        "ONNX graph has %d inputs%s%s: a spindle model takes one", n,
                        n ? " " : "", names);
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, SPD_LAYER_INPUT, NULL);
  onnx_layout_t layout = ONNX_FLAT;
  int rc = input_shape(cv, input, &cfg.input_shape, &layout);
  int index;
  if (!rc)
    rc = spd__onnx_add_layer(cv, NULL, &cfg, NULL, 0, &index);
  if (rc)
    return rc;
  snprintf(cv->m->layers[index].config.name, SPD_NAME_MAX, "%s", "input");
  onnx_value_t *v = spd__onnx_define(cv, NULL, input->name);
  if (!v)
    return SPD_EFORMAT;
  *v = (onnx_value_t){.name = v->name, .consumers = v->consumers, .kind = ONNX_V_LAYER,
                      .layer = index, .layer_output = true, .layout = layout};
  cv->m->channels_first = layout == ONNX_CL;
  return 0;
}

static bool ready(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  for (size_t k = 0; k < n->n_input; k++)
    if (n->input[k] && n->input[k][0] && !spd__onnx_find(cv, n->input[k]))
      return false;
  return true;
}

/* Why nothing of @p done can run: a value nobody produces, or a cycle. */
static int stuck(onnx_conv_t *cv, const bool *done) {
  const Onnx__GraphProto *g = cv->proto->graph;
  for (size_t i = 0; i < g->n_node; i++) {
    if (done[i])
      continue;
    const Onnx__NodeProto *n = g->node[i];
    for (size_t k = 0; k < n->n_input; k++) {
      const char *name = n->input[k];
      if (!name || !name[0] || spd__onnx_find(cv, name))
        continue;
      for (size_t j = 0; j < g->n_node; j++)
        for (size_t o = 0; !done[j] && o < g->node[j]->n_output; o++)
          if (g->node[j]->output[o] && !strcmp(g->node[j]->output[o], name))
            return spd__onnx_fail(cv, n, SPD_EFORMAT,
                                  "cyclic graph: input '%s' comes from node '%s', which "
                                  "depends on this node's output", name,
                                  spd__onnx_node_name(g->node[j]));
      return spd__onnx_fail(cv, n, SPD_EFORMAT,
                            "input '%s' is produced by no node, initializer or graph input",
                            name);
    }
  }
  return spd_ctx_fail(cv->ctx, SPD_EFORMAT, "ONNX graph: nodes that never become ready");
}

/* Convert the nodes in dependency order (the file's order when sorted, as
 * ONNX requires; later passes pick up an unsorted rest). */
static int convert_nodes(onnx_conv_t *cv) {
  const Onnx__GraphProto *g = cv->proto->graph;
  bool *done = spd_calloc(cv->ctx, g->n_node + 1, sizeof *done);
  if (!done)
    return spd_ctx_fail(cv->ctx, SPD_ENOMEM, "ONNX: %zu nodes", g->n_node);
  size_t left = g->n_node;
  int rc = 0;
  while (left && !rc) {
    size_t before = left;
    for (size_t i = 0; i < g->n_node && !rc; i++) {
      if (done[i] || !ready(cv, g->node[i]))
        continue;
      rc = spd__onnx_convert_node(cv, g->node[i]);
      done[i] = true;
      left--;
    }
    if (!rc && left == before)
      rc = stuck(cv, done);
  }
  spd_free(cv->ctx, done);
  return rc;
}

static int set_output(onnx_conv_t *cv) {
  const Onnx__GraphProto *g = cv->proto->graph;
  if (g->n_output != 1)
    return spd_ctx_fail(cv->ctx, SPD_EUNSUPPORTED,
                        "ONNX graph has %zu outputs: a spindle model gives one", g->n_output);
  const char *name = g->output[0]->name;
  onnx_value_t *v = spd__onnx_find(cv, name);
  if (!v)
    return spd_ctx_fail(cv->ctx, SPD_EFORMAT, "ONNX graph output '%s' is produced by no node",
                        name ? name : "");
  if (v->kind != ONNX_V_LAYER)
    return spd_ctx_fail(cv->ctx, SPD_EUNSUPPORTED,
                        "ONNX graph output '%s' is a constant, not computed from the input", name);
  if (v->padded)
    return spd_ctx_fail(cv->ctx, SPD_EUNSUPPORTED,
                        "ONNX graph output '%s' is a Pad: spindle folds zero padding only into "
                        "the Conv that follows it", name);
  cv->m->output = v->layer;
  spd_shape_t *cl = &cv->m->output_channels_last;
  const spd_shape_t *s = spd__onnx_shape(cv, v->layer);
  cl->rank = 0;
  if (v->layout == ONNX_CL && s->rank >= 2) {
    *cl = *s;
  } else if (v->layout == ONNX_FLAT_HWC) {
    *cl = (spd_shape_t){.rank = 3, .dims = {v->chw[1], v->chw[2], v->chw[0]}};
  }
  return 0;
}

static int copy_weights(onnx_conv_t *cv) {
  for (int w = 0; w < cv->n_weights; w++) {
    const onnx_weight_t *wt = &cv->weights[w];
    spd_layer_t *l = &cv->m->layers[wt->layer];
    spd_param_t *p = NULL;
    for (int k = 0; k < l->n_params; k++)
      if (!strcmp(l->params[k].name, wt->param))
        p = &l->params[k];
    if (!p || spd_shape_size(&p->value.shape) != wt->count)
      return spd_ctx_fail(cv->ctx, SPD_ESHAPE,
                          "ONNX: layer '%s': weight '%s' of %zu values does not match the "
                          "layer's", l->config.name, wt->param, wt->count);
    memcpy(p->value.data, wt->data, wt->count * sizeof(float));
  }
  return 0;
}

static int convert(onnx_conv_t *cv, uint64_t seed) {
  const Onnx__GraphProto *g = cv->proto->graph;
  if (!g)
    return spd_ctx_fail(cv->ctx, SPD_EFORMAT, "ONNX model has no graph");
  int rc = find_opset(cv);
  if (!rc)
    rc = check_ops(cv);
  if (rc)
    return rc;
  size_t names = g->n_initializer + g->n_input + 16;
  for (size_t i = 0; i < g->n_node; i++)
    names += g->node[i]->n_output + g->node[i]->n_input;
  for (cv->values_cap = 64; cv->values_cap < 2 * names; cv->values_cap *= 2)
    ;
  cv->values = spd_calloc(cv->ctx, cv->values_cap, sizeof *cv->values);
  if (!cv->values)
    return spd_ctx_fail(cv->ctx, SPD_ENOMEM, "ONNX: a table of %zu values", cv->values_cap);
  for (size_t i = 0; i < g->n_node; i++)
    for (size_t k = 0; k < g->node[i]->n_input; k++)
      count_use(cv, g->node[i]->input[k]);
  for (size_t i = 0; i < g->n_output; i++)
    count_use(cv, g->output[i]->name);
  rc = define_initializers(cv);
  if (!rc)
    rc = define_input(cv);
  if (!rc)
    rc = convert_nodes(cv);
  if (!rc)
    rc = set_output(cv);
  if (!rc)
    rc = spd_model_build(cv->m, seed);
  if (!rc)
    rc = copy_weights(cv);
  return rc;
}

static void conv_free(onnx_conv_t *cv) {
  for (size_t i = 0; cv->values && i < cv->values_cap; i++) {
    spd_free(cv->ctx, cv->values[i].f);
    spd_free(cv->ctx, cv->values[i].i);
  }
  for (int w = 0; w < cv->n_weights; w++)
    spd_free(cv->ctx, cv->weights[w].data);
  spd_free(cv->ctx, cv->values);
  spd_free(cv->ctx, cv->weights);
  spd_free(cv->ctx, cv->shapes);
}

int spd_onnx_parse(spd_ctx_t *ctx, const uint8_t *data, size_t len, const char *base_dir,
                   uint64_t seed, spd_model_t **out) {
  onnx_conv_t cv = {.ctx = ctx, .base_dir = base_dir};
  cv.proto = spd__onnx_unpack(ctx, data, len);
  if (!cv.proto)
    return ctx->last_error;
  const char *gname = cv.proto->graph && cv.proto->graph->name ? cv.proto->graph->name : NULL;
  int rc = spd_model_new(ctx, gname && gname[0] ? gname : "onnx_model", &cv.m);
  if (!rc)
    rc = convert(&cv, seed);
  conv_free(&cv);
  spd__onnx_free(ctx, (Onnx__ModelProto *)cv.proto);
  if (rc) {
    spd_model_free(cv.m);
    return rc;
  }
  *out = cv.m;
  return 0;
}

int spd_onnx_load(spd_ctx_t *ctx, const char *path, uint64_t seed, spd_model_t **out) {
  char *data;
  size_t len;
  int rc = spd__read_file(ctx, path, &data, &len);
  if (rc)
    return rc;
  char dir[4096];
  const char *slash = strrchr(path, '/');
  if (slash)
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  else
    snprintf(dir, sizeof dir, ".");
  if (slash == path)
    snprintf(dir, sizeof dir, "/");
  rc = spd_onnx_parse(ctx, (const uint8_t *)data, len, dir, seed, out);
  spd_free(ctx, data);
  if (rc) {
    char why[700];
    snprintf(why, sizeof why, "%s", spd_ctx_message(ctx));
    spd_ctx_fail(ctx, rc, "%s: %s", path, why);
  }
  return rc;
}
