/* The ONNX operators that only move values: Flatten and Reshape (to
 * (batch, features), remembering the C, H, W order for the Dense that
 * follows), Transpose (of a constant, or of axes of length 1),
 * Unsqueeze/Squeeze, and Concat on the channels. */
#include <stdio.h>
#include <string.h>

#include "io/onnx_internal.h"

/* (batch, C, spatial...) -> (batch, C * prod(spatial)) */
static int flatten_value(onnx_conv_t *cv, const Onnx__NodeProto *n, onnx_value_t *x) {
  if (x->padded)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "follows a Pad");
  const spd_shape_t *s = spd__onnx_shape(cv, x->layer);
  if (x->layout != ONNX_CL || s->rank == 1) {
    onnx_value_t flat = *x;
    flat.layout = x->layout == ONNX_SQUEEZED || x->layout == ONNX_CL ? ONNX_FLAT : x->layout;
    return spd__onnx_define_alias(cv, n, &flat);
  }
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, SPD_LAYER_FLATTEN, NULL);
  int layer;
  int rc = spd__onnx_add_layer(cv, n, &cfg, &x->layer, 1, &layer);
  onnx_value_t *out;
  if (!rc)
    rc = spd__onnx_define_output(cv, n, layer, ONNX_FLAT_HWC, &out);
  if (rc)
    return rc;
  out->chw[0] = s->dims[s->rank - 1];
  out->chw[1] = s->dims[0];
  out->chw[2] = s->rank == 3 ? s->dims[1] : 1;
  if (spd_shape_size(s) == (size_t)out->chw[0])
    out->layout = ONNX_FLAT; /* 1x1 maps: both orders agree */
  return 0;
}

int spd__onnx_op_flatten(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  onnx_value_t *x;
  int64_t axis;
  int rc = spd__onnx_input(cv, n, 0, ONNX_V_LAYER, &x);
  if (!rc)
    rc = spd__onnx_attr_int(cv, n, "axis", 1, &axis);
  if (rc)
    return rc;
  if (axis != 1)
    return spd__onnx_fail_attr(cv, n, "axis", "spindle flattens everything but the batch (axis 1)");
  return flatten_value(cv, n, x);
}

int spd__onnx_op_reshape(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  onnx_value_t *x, *shape;
  int rc = spd__onnx_input(cv, n, 0, ONNX_V_LAYER, &x);
  if (!rc)
    rc = spd__onnx_input(cv, n, 1, ONNX_V_CONST, &shape);
  if (rc)
    return rc;
  if (!shape->i || shape->count > 8)
    return spd__onnx_fail(cv, n, SPD_EFORMAT, "the shape input is not a short list of ints");
  int64_t dims[8];
  int rank = spd__onnx_value_dims(cv, x, dims);
  int64_t total = 1;
  for (int i = 1; i < rank; i++)
    total *= dims[i];
  /* The only reshapes spindle folds: to (batch, features), with the batch
   * given as 0, -1, 1 or the features as -1; or to the shape it has. */
  bool flat = shape->count == 2 && (shape->i[1] == -1 || shape->i[1] == total) &&
              (shape->i[0] == 0 || shape->i[0] == 1 || shape->i[0] == -1) &&
              !(shape->i[0] == -1 && shape->i[1] == -1);
  bool same = (int)shape->count == rank;
  for (int i = 1; same && i < rank; i++)
    same = shape->i[i] == dims[i] || shape->i[i] == 0;
  if (same)
    return spd__onnx_define_alias(cv, n, x);
  if (!flat)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED,
                          "reshaping to a %zu-value shape: spindle folds only a flatten to "
                          "(batch, features)",
                          shape->count);
  return flatten_value(cv, n, x);
}

/* Transpose of a constant (a weight stored transposed): computed now. */
static int transpose_const(onnx_conv_t *cv, const Onnx__NodeProto *n, const onnx_value_t *x,
                           const int64_t *perm, int count) {
  int64_t p[8];
  for (int i = 0; i < x->rank; i++) /* a permutation: checked by the caller */
    p[i] = count ? perm[i] : x->rank - 1 - i;
  onnx_value_t t = {.kind = ONNX_V_CONST, .rank = x->rank, .count = x->count};
  int64_t in_stride[8], idx[8] = {0}, s = 1;
  for (int i = x->rank - 1; i >= 0; s *= x->dims[i], i--)
    in_stride[i] = s;
  for (int i = 0; i < x->rank; i++)
    t.dims[i] = x->dims[p[i]];
  t.f = spd_malloc(cv->ctx, (x->count ? x->count : 1) * sizeof *t.f);
  if (!t.f)
    return spd__onnx_fail(cv, n, SPD_ENOMEM, "a constant of %zu values", x->count);
  for (size_t k = 0; k < x->count; k++) { /* idx walks the output in order */
    int64_t src = 0;
    for (int i = 0; i < x->rank; i++)
      src += idx[i] * in_stride[p[i]];
    t.f[k] = x->f[src];
    for (int i = x->rank - 1; i >= 0 && ++idx[i] == t.dims[i]; i--)
      idx[i] = 0;
  }
  int rc = spd__onnx_define_alias(cv, n, &t);
  spd_free(cv->ctx, t.f);
  return rc;
}

int spd__onnx_op_transpose(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  onnx_value_t *x;
  int rc = spd__onnx_input(cv, n, 0, -1, &x);
  if (rc)
    return rc;
  int64_t perm[8];
  int count;
  if ((rc = spd__onnx_attr_ints(cv, n, "perm", perm, 8, &count)))
    return rc;
  int64_t dims[8];
  int rank = x->kind == ONNX_V_CONST ? x->rank : spd__onnx_value_dims(cv, x, dims);
  bool seen[8] = {false};
  if (count && count != rank)
    return spd__onnx_fail_attr(cv, n, "perm", "one axis per dimension expected");
  for (int i = 0; i < count; i++) {
    if (perm[i] < 0 || perm[i] >= rank || seen[perm[i]])
      return spd__onnx_fail_attr(cv, n, "perm", "not a permutation of the axes");
    seen[perm[i]] = true;
  }
  if (x->kind == ONNX_V_CONST)
    return transpose_const(cv, n, x, perm, count);
  /* Axes of length 1 may move freely: what stays is a layout change only
   * when the other axes keep their order. */
  int64_t last = -1;
  bool order_kept = count == rank || count == 0;
  for (int i = 0; i < count && order_kept; i++) {
    if (dims[perm[i]] != 1) {
      order_kept = perm[i] > last;
      last = perm[i];
    }
  }
  if (count == 0 && rank > 1)
    order_kept = false;
  if (!order_kept)
    return spd__onnx_fail_attr(cv, n, "perm",
                               "moves data: spindle folds only transposes that keep the "
                               "values in place");
  return spd__onnx_define_alias(cv, n, x);
}

/* Unsqueeze/Squeeze of axes of length 1 after the batch and channels: the
 * same values in a new shape (a Reshape layer when the held shape
 * changes). */
static int squeeze(onnx_conv_t *cv, const Onnx__NodeProto *n, bool insert) {
  onnx_value_t *x, *axes_in = NULL;
  int rc = spd__onnx_input(cv, n, 0, ONNX_V_LAYER, &x);
  int64_t axes[8];
  int count = 0;
  if (!rc && cv->opset < 13)
    rc = spd__onnx_attr_ints(cv, n, "axes", axes, 8, &count);
  else if (!rc)
    rc = spd__onnx_input(cv, n, 1, insert ? ONNX_V_CONST : 0, &axes_in);
  if (rc)
    return rc;
  if (axes_in) {
    if (axes_in->kind != ONNX_V_CONST || !axes_in->i || axes_in->count > 8)
      return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "axes must be a short constant list");
    count = (int)axes_in->count;
    memcpy(axes, axes_in->i, (size_t)count * sizeof *axes);
  }
  if (x->layout == ONNX_FLAT_HWC || x->padded)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "input flattened from a map, or padded");
  int64_t dims[8], out[8];
  int rank = spd__onnx_value_dims(cv, x, dims), out_rank = insert ? rank + count : 0;
  bool marked[8] = {false};
  for (int i = 0; i < count; i++) {
    int64_t a = axes[i] < 0 ? axes[i] + (insert ? out_rank : rank) : axes[i];
    if (a < 2 || a >= (insert ? out_rank : rank) || marked[a] || (!insert && dims[a] != 1))
      return spd__onnx_fail_attr(cv, n, "axes",
                                 "spindle moves only axes of length 1 after the batch "
                                 "and the channels");
    marked[a] = true;
  }
  if (insert) {
    for (int i = 0, j = 0; i < out_rank; i++)
      out[i] = marked[i] ? 1 : dims[j++];
  } else {
    for (int i = 0; i < rank; i++)
      if (!(count ? marked[i] : i >= 2 && dims[i] == 1))
        out[out_rank++] = dims[i];
  }
  if (out_rank < 2 || out_rank > 4)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "a result of rank %d", out_rank);
  spd_shape_t target = {.rank = out_rank - 1};
  for (int i = 2; i < out_rank; i++)
    target.dims[i - 2] = (int32_t)out[i];
  target.dims[out_rank - 2] = (int32_t)out[1];
  onnx_value_t moved = *x;
  moved.layout = out_rank == 2 ? ONNX_FLAT : ONNX_CL;
  if (spd_shape_equal(&target, spd__onnx_shape(cv, x->layer)))
    return spd__onnx_define_alias(cv, n, &moved);
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, SPD_LAYER_RESHAPE, NULL);
  cfg.target_shape = target;
  int layer;
  rc = spd__onnx_add_layer(cv, n, &cfg, &x->layer, 1, &layer);
  return rc ? rc : spd__onnx_define_output(cv, n, layer, moved.layout, NULL);
}

int spd__onnx_op_unsqueeze(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  return squeeze(cv, n, true);
}

int spd__onnx_op_squeeze(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  return squeeze(cv, n, false);
}

int spd__onnx_op_concat(onnx_conv_t *cv, const Onnx__NodeProto *n) {
  if (n->n_input < 1 || n->n_input > SPD_MAX_INBOUND)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "%zu inputs (1 to %d)", n->n_input,
                          SPD_MAX_INBOUND);
  int64_t axis;
  int rc = spd__onnx_attr_int(cv, n, "axis", 1, &axis);
  if (rc)
    return rc;
  onnx_value_t *in[SPD_MAX_INBOUND];
  int inbound[SPD_MAX_INBOUND];
  for (size_t k = 0; k < n->n_input; k++) {
    if ((rc = spd__onnx_input(cv, n, k, ONNX_V_LAYER, &in[k])))
      return rc;
    int64_t dims[8];
    int rank = spd__onnx_value_dims(cv, in[k], dims);
    if (axis != 1 && axis != 1 - rank)
      return spd__onnx_fail_attr(cv, n, "axis", "spindle joins on the channel axis (1) only");
    if (in[k]->layout != in[0]->layout || in[k]->layout == ONNX_FLAT_HWC || in[k]->padded)
      return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED,
                            "input '%s' is laid out unlike input 0 (or was flattened from a map)",
                            in[k]->name);
    inbound[k] = in[k]->layer;
  }
  if (n->n_input == 1)
    return spd__onnx_define_alias(cv, n, in[0]);
  spd_layer_config_t cfg;
  spd_layer_config_defaults(&cfg, SPD_LAYER_CONCATENATE, NULL);
  int layer;
  rc = spd__onnx_add_layer(cv, n, &cfg, inbound, (int)n->n_input, &layer);
  return rc ? rc : spd__onnx_define_output(cv, n, layer, in[0]->layout, NULL);
}
