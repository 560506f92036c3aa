/* The ONNX reader's shared state: the decoded protobuf (onnx_read.c), the
 * values of the graph and the model being built (onnx_graph.c), and the
 * per-operator conversions (onnx_ops.c). */
#ifndef SPINDLE_IO_ONNX_INTERNAL_H
#define SPINDLE_IO_ONNX_INTERNAL_H

#include "onnx.pb-c.h"
#include "spindle/model.h"
#include "spindle/onnx.h"

/* Largest element count of one ONNX tensor or value spindle accepts: the
 * executors index per-sample tensors with int. */
#define ONNX_MAX_ELEMENTS INT32_MAX

/* How a layer output's values lie against the ONNX shape they stand for. */
typedef enum onnx_layout {
  ONNX_CL,        /* ONNX (N, C, spatial...) held as (spatial..., C) */
  ONNX_FLAT,      /* ONNX (N, F) held as (F), same order */
  ONNX_FLAT_HWC,  /* ONNX (N, C*H*W) flattened from NCHW, held in H, W, C order */
  ONNX_SQUEEZED,  /* ONNX (N, C, 1, 1) held as (C) (global pooling) */
} onnx_layout_t;

typedef enum onnx_value_kind { ONNX_V_LAYER = 1, ONNX_V_CONST } onnx_value_kind_t;

typedef struct onnx_value {
  const char *name;               /* borrowed from the ModelProto */
  onnx_value_kind_t kind;
  int consumers;                  /* node inputs and graph outputs naming it */
  /* ONNX_V_LAYER */
  int layer;                      /* the spindle layer holding the values */
  bool layer_output;              /* the layer's own output, not an alias */
  onnx_layout_t layout;
  int32_t chw[3];                 /* ONNX_FLAT_HWC: the C, H, W flattened */
  bool padded;                    /* a Pad waiting for the Conv that follows */
  int32_t pads[4];                /* its zeros: before rows, cols, after rows, cols */
  /* ONNX_V_CONST: every element as float and as int64 (shapes, axes) */
  int rank;
  int64_t dims[8];
  size_t count;
  float *f;                       /* owned by the converter */
  int64_t *i;                     /* owned; NULL for a large float tensor */
} onnx_value_t;

/* A weight read from the file, copied into the built model's parameter. */
typedef struct onnx_weight {
  int layer;
  const char *param;              /* "kernel", "bias", "gamma", ... */
  float *data;                    /* owned by the converter */
  size_t count;
} onnx_weight_t;

typedef struct onnx_conv {
  spd_ctx_t *ctx;
  const Onnx__ModelProto *proto;
  const char *base_dir;
  int64_t opset;
  spd_model_t *m;
  spd_shape_t *shapes;            /* output shape of every layer so far */
  int shapes_cap;
  onnx_value_t *values;           /* hash table by name, open addressing */
  size_t values_cap;
  onnx_weight_t *weights;
  int n_weights, weights_cap;
} onnx_conv_t;

/* ---- onnx_read.c ---- */
/** Decode a ModelProto with @p ctx's allocator; NULL and a diagnostic when
 *  the bytes are not one. */
Onnx__ModelProto *spd__onnx_unpack(spd_ctx_t *ctx, const uint8_t *data, size_t len);
void spd__onnx_free(spd_ctx_t *ctx, Onnx__ModelProto *proto);
/** Tensor @p t's elements as floats and int64s (newly allocated with the
 *  converter's ctx; either output may be NULL), from its typed fields, raw
 *  data or external file; checks dims, type and length. @p what names it
 *  in diagnostics. */
int spd__onnx_tensor(onnx_conv_t *cv, const Onnx__TensorProto *t, const char *what,
                     onnx_value_t *out);
const Onnx__AttributeProto *spd__onnx_attr(const Onnx__NodeProto *n, const char *name);
int spd__onnx_attr_int(onnx_conv_t *cv, const Onnx__NodeProto *n, const char *name,
                       int64_t fallback, int64_t *out);
int spd__onnx_attr_float(onnx_conv_t *cv, const Onnx__NodeProto *n, const char *name,
                         float fallback, float *out);
/** Up to @p max ints; *count is 0 when the attribute is absent. */
int spd__onnx_attr_ints(onnx_conv_t *cv, const Onnx__NodeProto *n, const char *name,
                        int64_t *out, int max, int *count);
/** The string attribute, or @p fallback when absent. */
int spd__onnx_attr_string(onnx_conv_t *cv, const Onnx__NodeProto *n, const char *name,
                          const char *fallback, char *out, size_t size);

/* ---- onnx_graph.c ---- */
const char *spd__onnx_node_name(const Onnx__NodeProto *n);
int spd__onnx_fail(onnx_conv_t *cv, const Onnx__NodeProto *n, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
onnx_value_t *spd__onnx_find(onnx_conv_t *cv, const char *name);
/** A new value named @p name (NULL and a diagnostic if it already exists). */
onnx_value_t *spd__onnx_define(onnx_conv_t *cv, const Onnx__NodeProto *n, const char *name);
/** Input @p k of node @p n (NULL when optional and absent: an empty name or
 *  past the end); @p need: fail when absent, or not of that kind (0: any). */
int spd__onnx_input(onnx_conv_t *cv, const Onnx__NodeProto *n, size_t k, int need,
                    onnx_value_t **out);
/** Append a layer (@p cfg's name made unique from the node's) fed by
 *  @p inbound; records its output shape. */
int spd__onnx_add_layer(onnx_conv_t *cv, const Onnx__NodeProto *n, spd_layer_config_t *cfg,
                        const int *inbound, int n_inbound, int *index);
/** A layer's output shape (channels last, no batch). */
const spd_shape_t *spd__onnx_shape(const onnx_conv_t *cv, int layer);
/** The ONNX shape (batch first, N = 1) of layer value @p v. */
int spd__onnx_value_dims(const onnx_conv_t *cv, const onnx_value_t *v, int64_t *dims);
/** Keep @p data (owned from now on) for parameter @p param of @p layer. */
int spd__onnx_weight(onnx_conv_t *cv, int layer, const char *param, float *data, size_t count);

/* ---- onnx_ops.c: helpers the operator files share ---- */
int spd__onnx_fail_attr(onnx_conv_t *cv, const Onnx__NodeProto *n, const char *attr,
                        const char *why);
/** Output 0 of @p n as the output of @p layer (*out may be NULL). */
int spd__onnx_define_output(onnx_conv_t *cv, const Onnx__NodeProto *n, int layer,
                            onnx_layout_t layout, onnx_value_t **out);
/** Output 0 of @p n as the same values as @p from. */
int spd__onnx_define_alias(onnx_conv_t *cv, const Onnx__NodeProto *n, const onnx_value_t *from);
/** Fail when an output past the first is used. */
int spd__onnx_only_first_output(onnx_conv_t *cv, const Onnx__NodeProto *n);
float *spd__onnx_copy_floats(onnx_conv_t *cv, const float *src, size_t count, float scale);
/** Free constant @p v's values once its only reader took them. */
void spd__onnx_release(onnx_conv_t *cv, onnx_value_t *v);
/** spd__onnx_weight, failing with SPD_ENOMEM when @p data is NULL. */
int spd__onnx_keep_weight(onnx_conv_t *cv, const Onnx__NodeProto *n, int layer,
                          const char *param, float *data, size_t count);

/* ---- onnx_ops_window.c, onnx_ops_shape.c: operators of the table ---- */
int spd__onnx_op_conv(onnx_conv_t *cv, const Onnx__NodeProto *n);
int spd__onnx_op_maxpool(onnx_conv_t *cv, const Onnx__NodeProto *n);
int spd__onnx_op_avgpool(onnx_conv_t *cv, const Onnx__NodeProto *n);
int spd__onnx_op_global_avgpool(onnx_conv_t *cv, const Onnx__NodeProto *n);
int spd__onnx_op_pad(onnx_conv_t *cv, const Onnx__NodeProto *n);
int spd__onnx_op_flatten(onnx_conv_t *cv, const Onnx__NodeProto *n);
int spd__onnx_op_reshape(onnx_conv_t *cv, const Onnx__NodeProto *n);
int spd__onnx_op_transpose(onnx_conv_t *cv, const Onnx__NodeProto *n);
int spd__onnx_op_unsqueeze(onnx_conv_t *cv, const Onnx__NodeProto *n);
int spd__onnx_op_squeeze(onnx_conv_t *cv, const Onnx__NodeProto *n);
int spd__onnx_op_concat(onnx_conv_t *cv, const Onnx__NodeProto *n);

/* ---- onnx_ops.c ---- */
/** Whether spindle reads operator @p op_type of the default domain. */
bool spd__onnx_op_known(const char *op_type);
/** Convert node @p n (its inputs already defined). */
int spd__onnx_convert_node(onnx_conv_t *cv, const Onnx__NodeProto *n);

#endif
