/* The host model: a Keras-style graph of layers with Keras's names, arguments
 * and defaults, its shapes and its parameters. io/ fills it from Keras files;
 * nn/ initialises, runs (reference executor) and trains it; map/ compiles it
 * onto a SpiNNaker machine. */
#ifndef SPINDLE_MODEL_H
#define SPINDLE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spindle/context.h"

#define SPD_MAX_RANK 5
#define SPD_NAME_MAX 64
#define SPD_MAX_INBOUND 8

/** A shape without the batch dimension (Keras's input_shape convention):
 *  Dense output (units), Conv2D output (rows, cols, channels). */
typedef struct spd_shape {
  int rank;
  int32_t dims[SPD_MAX_RANK];
} spd_shape_t;

/** Number of elements of @p s (1 for rank 0). */
size_t spd_shape_size(const spd_shape_t *s);
bool spd_shape_equal(const spd_shape_t *a, const spd_shape_t *b);
/** "(None, 28, 28, 1)" as Keras prints it, into @p buf. */
void spd_shape_format(const spd_shape_t *s, char *buf, size_t size);

/** A float32 tensor, row-major (C order), in Keras's layout. */
typedef struct spd_tensor {
  spd_shape_t shape;
  float *data;                 /* owned by whoever made the tensor */
} spd_tensor_t;

#define SPD_LAYER_KINDS(X)                                                    \
  X(INPUT, "InputLayer")                                                      \
  X(DENSE, "Dense")                                                           \
  X(CONV1D, "Conv1D")                                                         \
  X(CONV2D, "Conv2D")                                                         \
  X(MAXPOOL1D, "MaxPooling1D")                                                \
  X(MAXPOOL2D, "MaxPooling2D")                                                \
  X(AVGPOOL1D, "AveragePooling1D")                                            \
  X(AVGPOOL2D, "AveragePooling2D")                                            \
  X(GLOBALAVGPOOL2D, "GlobalAveragePooling2D")                                \
  X(FLATTEN, "Flatten")                                                       \
  X(RESHAPE, "Reshape")                                                       \
  X(ACTIVATION, "Activation")                                                 \
  X(DROPOUT, "Dropout")                                                       \
  X(BATCHNORM, "BatchNormalization")                                          \
  X(ADD, "Add")                                                               \
  X(CONCATENATE, "Concatenate")                                               \
  X(LRN, "LRN")                                                               \
  X(GLOBALMAXPOOL2D, "GlobalMaxPooling2D")                                    \
  X(ZEROPAD2D, "ZeroPadding2D")

typedef enum spd_layer_kind {
#define SPD_LAYER_KIND_ENUM_(id, keras) SPD_LAYER_##id,
  SPD_LAYER_KINDS(SPD_LAYER_KIND_ENUM_)
#undef SPD_LAYER_KIND_ENUM_
  SPD_LAYER_KIND_COUNT
} spd_layer_kind_t;

/** Keras class name of a kind ("Dense"); parse returns -1 if unknown. */
const char *spd_layer_kind_name(spd_layer_kind_t kind);
int spd_layer_kind_parse(const char *keras_class_name);

#define SPD_ACTIVATIONS(X)                                                    \
  X(LINEAR, "linear")                                                         \
  X(RELU, "relu")                                                             \
  X(SIGMOID, "sigmoid")                                                       \
  X(TANH, "tanh")                                                             \
  X(SOFTMAX, "softmax")                                                       \
  X(LEAKY_RELU, "leaky_relu")                                                 \
  X(ELU, "elu")                                                               \
  X(RELU6, "relu6")                                                           \
  X(SELU, "selu")                                                             \
  X(SWISH, "swish")                                                           \
  X(GELU, "gelu")                                                             \
  X(RELU_ARGS, "relu")

typedef enum spd_activation {
#define SPD_ACTIVATION_ENUM_(id, keras) SPD_ACT_##id,
  SPD_ACTIVATIONS(SPD_ACTIVATION_ENUM_)
#undef SPD_ACTIVATION_ENUM_
  SPD_ACT_COUNT
} spd_activation_t;

/* SWISH is also read as Keras 3's "silu"; GELU is the exact form (erf,
 * Keras's approximate=False). RELU_ARGS is Keras's ReLU layer with a
 * max_value, negative_slope or threshold (spd_layer_config_t): "relu" by
 * name, and spd_activation_parse("relu") gives RELU. */
const char *spd_activation_name(spd_activation_t a);
int spd_activation_parse(const char *keras_name);

/** VALID and SAME as Keras; EXPLICIT takes spd_layer_config_t.pads (ONNX's
 *  pads, which neither Keras mode expresses: ResNet's 7x7 stride-2 pad 3). */
typedef enum spd_padding {
  SPD_PAD_VALID = 0,
  SPD_PAD_SAME = 1,
  SPD_PAD_EXPLICIT = 2
} spd_padding_t;

#define SPD_INITIALIZERS(X)                                                   \
  X(GLOROT_UNIFORM, "GlorotUniform", "glorot_uniform")                        \
  X(GLOROT_NORMAL, "GlorotNormal", "glorot_normal")                           \
  X(HE_NORMAL, "HeNormal", "he_normal")                                       \
  X(HE_UNIFORM, "HeUniform", "he_uniform")                                    \
  X(ZEROS, "Zeros", "zeros")                                                  \
  X(ONES, "Ones", "ones")

typedef enum spd_initializer {
#define SPD_INIT_ENUM_(id, cls, fn) SPD_INIT_##id,
  SPD_INITIALIZERS(SPD_INIT_ENUM_)
#undef SPD_INIT_ENUM_
  SPD_INIT_COUNT
} spd_initializer_t;

const char *spd_initializer_name(spd_initializer_t init);
/** Accepts the class name ("GlorotUniform") or the function name
 *  ("glorot_uniform"); -1 if unknown. */
int spd_initializer_parse(const char *name);

/** Everything Keras's layer config says, with Keras's defaults from
 *  spd_layer_config_defaults(). Fields not used by a kind are ignored. 1-D
 *  layers use index 0 of the 2-element arrays. */
typedef struct spd_layer_config {
  spd_layer_kind_t kind;
  char name[SPD_NAME_MAX];
  spd_activation_t activation;   /* activation= argument; Activation layer */
  float negative_slope;          /* leaky_relu alpha (Keras 3 default 0.2); relu_args slope */
  float elu_alpha;               /* elu alpha (1.0) */
  float relu_max_value;          /* relu_args: the cap (INFINITY: none) */
  float relu_threshold;          /* relu_args: x below it takes the negative slope */
  /* Dense */
  int32_t units;
  bool use_bias;
  /* Conv1D/Conv2D */
  int32_t filters;
  int32_t kernel_size[2];
  int32_t strides[2];            /* also pooling strides (default = pool_size) */
  int32_t dilation_rate[2];
  spd_padding_t padding;         /* convolutions and pooling */
  /* SPD_PAD_EXPLICIT (and ZeroPadding2D): zero positions before rows, before
   * columns, after rows, after columns (1-D layers: index 0 and 2). Pooling never lets a padded
   * position win a max or count in an average (ONNX's count_include_pad=0). */
  int32_t pads[4];
  bool ceil_mode;                /* pooling: output size rounded up (ONNX, PyTorch) */
  int32_t groups;                /* Conv2D: channel groups (1; depthwise = channels) */
  /* Pooling */
  int32_t pool_size[2];
  /* Reshape target (without batch); one dim may be -1 */
  spd_shape_t target_shape;
  /* LRN (ONNX's LocalResponseNormalization, across channels): size
   * channels, y = x / (bias + alpha / size * sum x^2)^beta; no Keras layer */
  int32_t lrn_size;
  float lrn_alpha, lrn_beta, lrn_bias;
  /* Dropout */
  float rate;
  uint64_t dropout_seed;
  /* BatchNormalization */
  float momentum;                /* 0.99 */
  float epsilon;                 /* 0.001 */
  bool center, scale;
  /* Initializers */
  spd_initializer_t kernel_initializer; /* glorot_uniform */
  spd_initializer_t bias_initializer;   /* zeros */
  /* InputLayer */
  spd_shape_t input_shape;       /* batch_input_shape without batch */
} spd_layer_config_t;

/** Keras's defaults for a layer of @p kind named @p name. */
void spd_layer_config_defaults(spd_layer_config_t *cfg, spd_layer_kind_t kind,
                               const char *name);

/** A named parameter tensor of a layer, in Keras's layout and order:
 *  Dense kernel (in, units), bias (units); Conv2D kernel (kh, kw, cin, filters),
 *  bias (filters), cin divided by groups; Conv1D kernel (k, cin, filters); BatchNormalization gamma,
 *  beta, moving_mean, moving_variance (channels). */
typedef struct spd_param {
  char name[SPD_NAME_MAX];       /* "kernel", "bias", "gamma", ... */
  spd_tensor_t value;            /* owned by the model */
  bool trainable;                /* false for moving statistics */
} spd_param_t;

#define SPD_MAX_PARAMS 4

typedef struct spd_layer {
  spd_layer_config_t config;
  int n_inbound;
  int inbound[SPD_MAX_INBOUND];  /* indices of the layers feeding this one */
  spd_shape_t input_shape;       /* of inbound[0] (all equal for Add) */
  spd_shape_t output_shape;
  int n_params;
  spd_param_t params[SPD_MAX_PARAMS];
} spd_layer_t;

/** A model: layers in topological order (every inbound index is smaller than
 *  the layer's own); layer 0 is the input. Owned by its creator. */
typedef struct spd_model {
  spd_ctx_t *ctx;
  char name[SPD_NAME_MAX];
  int n_layers;
  int capacity;
  spd_layer_t *layers;
  int output;                    /* index of the output layer (last by default) */
  bool built;                    /* shapes inferred and parameters allocated */
  /* A file that declares its tensors channels first (ONNX's NCHW,
   * spindle/onnx.h): its samples come as (channels, spatial...) and go to
   * the layers as (spatial..., channels). When output_channels_last has a
   * rank, the output layer's values are in that channels-last order and the
   * file declares them channels first (flattened when the output layer is
   * rank 1): spd_model_output_channels_first turns them back. */
  bool channels_first;
  spd_shape_t output_channels_last;
  /* The training configuration its file states (spindle/compile.h), owned;
   * NULL when the file has none. Set with spd_model_set_compile. */
  struct spd_compile_config *compile;
} spd_model_t;

/** An empty model named @p name. *out is owned by the caller (spd_model_free,
 *  which frees its layers and parameters too); it keeps @p ctx, which must
 *  outlive it. A NULL or empty name becomes "model"; a long one is cut to
 *  SPD_NAME_MAX - 1 bytes. @return 0, SPD_ENOMEM. */
int spd_model_new(spd_ctx_t *ctx, const char *name, spd_model_t **out);
void spd_model_free(spd_model_t *m);

/** Append a layer fed by @p inbound (n_inbound >= 1 except for the input
 *  layer, which must come first). Sequential models pass the previous index.
 *  @return 0, SPD_EINVAL (diagnostic names the layer), SPD_ENOMEM. */
int spd_model_add(spd_model_t *m, const spd_layer_config_t *cfg,
                  const int *inbound, int n_inbound, int *index_out);

/** Infer every shape, check them (diagnostic names the layer and both shapes)
 *  and allocate parameters, initialised from @p seed with the layers'
 *  initializers (deterministic: base/rng, one stream per layer). */
int spd_model_build(spd_model_t *m, uint64_t seed);

/** One sample of @p m's input as its file declares it (@p in) into the
 *  layers' channels-last order (@p out, same size); a copy unless
 *  m->channels_first. */
void spd_model_input_channels_last(const spd_model_t *m, const float *in, float *out);
/** One sample of @p m's output (@p in, channels last) into the order its
 *  file declares (@p out, same size); a copy unless output_channels_last
 *  has a rank. */
void spd_model_output_channels_first(const spd_model_t *m, const float *in, float *out);

/** A copy of built model @p m for inference with every BatchNormalization
 *  that follows a Dense, Conv1D or Conv2D (linear activation, read by the
 *  BatchNormalization alone) folded into that layer's kernel and bias with
 *  the moving statistics (the layer gains a bias). Other BatchNormalization
 *  layers stay. The copy shares @p m's ctx; *out is the caller's
 *  (spd_model_free); @p n_folded (may be NULL) gets the number folded.
 *  @return 0, SPD_ESTATE (not built), SPD_ENOMEM. */
int spd_model_fold_bn(const spd_model_t *m, spd_model_t **out, int *n_folded);

/** Find a layer by name; -1 if none. */
int spd_model_find(const spd_model_t *m, const char *name);
/** Total, trainable and non-trainable parameter counts (as Keras's summary). */
void spd_model_count_params(const spd_model_t *m, uint64_t *total,
                            uint64_t *trainable, uint64_t *non_trainable);
/** Keras-style summary text into a newly allocated string (spd_free). */
int spd_model_summary(const spd_model_t *m, char **text_out);

#endif
