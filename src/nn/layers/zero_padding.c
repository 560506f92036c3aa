/* ZeroPadding2D: rows and columns of zeros around the map (config.pads:
 * before rows, before columns, after rows, after columns). Values pass
 * unchanged, so the fixed-point formats are its input's; the gradient is
 * the inner part of the output's, exactly. */
#include "nn/layers/layers.h"

static int infer(spd_ctx_t *ctx, const spd_layer_config_t *cfg, const spd_shape_t *const *inputs,
                 int n, spd_shape_t *out) {
  (void)n;
  const spd_shape_t *in = inputs[0];
  if (in->rank != 3)
    return spd__shape_fail(ctx, cfg, in, "expected rank 3 (rows, cols, channels)");
  for (int k = 0; k < 4; k++)
    if (cfg->pads[k] < 0)
      return spd__field_fail(ctx, cfg, "padding", cfg->pads[k], "must be >= 0");
  int64_t rows = (int64_t)in->dims[0] + cfg->pads[0] + cfg->pads[2];
  int64_t cols = (int64_t)in->dims[1] + cfg->pads[1] + cfg->pads[3];
  if (rows > INT32_MAX || cols > INT32_MAX)
    return spd__config_fail(ctx, cfg, "the padded map is longer than 2^31-1");
  *out = *in;
  out->dims[0] = (int32_t)rows;
  out->dims[1] = (int32_t)cols;
  return 0;
}

/* padding: an integer (all four), [rows, cols] (symmetric), or
 * [[top, bottom], [left, right]]. */
static int keras_read(spd__kjr_t *r, const char *cls, const cJSON *c, const char *n,
                      spd_layer_config_t *o) {
  (void)cls;
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "padding");
  const char *want = "an integer, [rows, cols] or [[top, bottom], [left, right]] of integers >= 0";
  int32_t v[4] = {1, 1, 1, 1}; /* Keras's default padding=(1, 1) */
  if (spd__kjr_present(p)) {
    if (spd__kjr_is_int(p)) {
      v[0] = v[1] = v[2] = v[3] = (int32_t)p->valuedouble;
    } else if (cJSON_IsArray(p) && cJSON_GetArraySize(p) == 2) {
      for (int axis = 0; axis < 2; axis++) {
        const cJSON *e = cJSON_GetArrayItem(p, axis);
        if (spd__kjr_is_int(e)) {
          v[axis] = v[axis + 2] = (int32_t)e->valuedouble;
        } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 &&
                   spd__kjr_is_int(cJSON_GetArrayItem(e, 0)) &&
                   spd__kjr_is_int(cJSON_GetArrayItem(e, 1))) {
          v[axis] = (int32_t)cJSON_GetArrayItem(e, 0)->valuedouble;
          v[axis + 2] = (int32_t)cJSON_GetArrayItem(e, 1)->valuedouble;
        } else {
          return spd__kjr_bad_field(r, n, "padding", want);
        }
      }
    } else {
      return spd__kjr_bad_field(r, n, "padding", want);
    }
  }
  for (int k = 0; k < 4; k++)
    if (v[k] < 0)
      return spd__kjr_bad_field(r, n, "padding", want);
  memcpy(o->pads, v, sizeof v);
  return 0;
}

static void keras_write(spd__kjw_t *w, const spd_layer_t *l) {
  const int32_t *p = l->config.pads;
  char text[96];
  snprintf(text, sizeof text, "[[%d, %d], [%d, %d]]", (int)p[0], (int)p[2], (int)p[1],
           (int)p[3]);
  spd__kjw_raw(w, "padding", text);
  spd__kjw_str(w, "data_format", "channels_last");
}

/* Geometry shared by the passes: input rows, cols, channels and the
 * output's row length. */
typedef struct pad_geom {
  int32_t in_h, in_w, c, out_w, top, left;
  size_t in_size, out_size;
} pad_geom_t;

static pad_geom_t geom_of(const spd_layer_t *l) {
  const spd_shape_t *in = &l->input_shape, *out = &l->output_shape;
  pad_geom_t g = {in->dims[0], in->dims[1], in->dims[2], out->dims[1], l->config.pads[0],
                  l->config.pads[1], spd_shape_size(in), spd_shape_size(out)};
  return g;
}

/* Offset in a padded sample of input row r, column 0. */
static size_t padded_row(const pad_geom_t *g, int32_t r) {
  return (((size_t)(r + g->top)) * (size_t)g->out_w + (size_t)g->left) * (size_t)g->c;
}

static void forward(spd_ref_t *ref, int i, bool training) {
  (void)training;
  const spd_layer_t *layer = &ref->model->layers[i];
  pad_geom_t g = geom_of(layer);
  const float *x = spd__ref_input_of(ref, layer, 0);
  float *y = ref->layers[i].out;
  size_t row = (size_t)g.in_w * (size_t)g.c;
  for (int b = 0; b < ref->batch; b++) {
    float *ys = y + (size_t)b * g.out_size;
    memset(ys, 0, g.out_size * sizeof *ys);
    for (int32_t r = 0; r < g.in_h; r++)
      memcpy(ys + padded_row(&g, r), x + (size_t)b * g.in_size + (size_t)r * row,
             row * sizeof *ys);
  }
}

static void backward(spd_ref_t *ref, int i, const float *dz_ready) {
  (void)dz_ready;
  const spd_layer_t *layer = &ref->model->layers[i];
  float *din = spd__ref_input_grad_of(ref, layer, 0);
  if (!din)
    return;
  pad_geom_t g = geom_of(layer);
  const float *dy = ref->layers[i].dout;
  size_t row = (size_t)g.in_w * (size_t)g.c;
  for (int b = 0; b < ref->batch; b++)
    for (int32_t r = 0; r < g.in_h; r++) {
      float *d = din + (size_t)b * g.in_size + (size_t)r * row;
      const float *s = dy + (size_t)b * g.out_size + padded_row(&g, r);
      for (size_t k = 0; k < row; k++)
        d[k] += s[k];
    }
}

static void fx_forward(spd_fx_net_t *net, int i) {
  fx_layer_t *fl = &net->layers[i];
  pad_geom_t g = geom_of(&net->model->layers[i]);
  const int16_t *x = spd__fx_input_y(net, i, 0);
  size_t row = (size_t)g.in_w * (size_t)g.c;
  memset(fl->y, 0, fl->out_size * sizeof *fl->y);
  for (int32_t r = 0; r < g.in_h; r++)
    memcpy(fl->y + padded_row(&g, r), x + (size_t)r * row, row * sizeof *fl->y);
}

/* dX: the inner part of dZ, handed on exactly at the layer's gradient frac. */
static void fx_backward(spd_fx_net_t *net, int i) {
  fx_layer_t *fl = &net->layers[i];
  pad_geom_t g = geom_of(&net->model->layers[i]);
  size_t row = (size_t)g.in_w * (size_t)g.c;
  for (int32_t r = 0; r < g.in_h; r++)
    for (size_t k = 0; k < row; k++)
      fl->acc[(size_t)r * row + k] = fl->dz[padded_row(&g, r) + k];
  spd__fx_emit_dx(net, i, 0, fl->acc, net->plan->layers[i].grad_frac);
}

const spd_layer_op_t spd__op_ZEROPAD2D = {
    .keras = "ZeroPadding2D",
    .snake = "zero_padding2d",
    .min_inputs = 1,
    /* On the machine the convolution reading it pads virtually by as much
     * more (its taps there are skipped: x = 0 adds nothing, and the
     * padding's dX is dropped), docs/conv-on-machine.md. */
    .machine = SPD_OPM_PAD,
    .infer = infer,
    .keras_read = keras_read,
    .keras_write = keras_write,
    .ref_forward = forward,
    .ref_backward = backward,
    .fx_forward = fx_forward,
    .fx_backward = fx_backward,
};
