/* The layer op table (the kann / tflite-micro way): one descriptor per
 * layer kind holding everything spindle does with a layer of that kind —
 * its Keras names, defaults, config reading and writing, shape inference,
 * parameters, the float reference's forward and backward, the fixed-point
 * reference's set-up, forward and backward, its traits for the numeric
 * plan and its role on the machine. Code that used to switch over the kind
 * asks the table instead (spd__layer_op), so adding a layer kind is one
 * descriptor file under src/nn/layers/ plus its kernel (docs/layers.md). */
#ifndef SPINDLE_NN_LAYER_OP_H
#define SPINDLE_NN_LAYER_OP_H

#include <stdbool.h>

#include "nn/init.h"
#include "spindle/model.h"
#include "spindle/reference.h"

struct cJSON;
struct spd_fx_net;
typedef struct spd__kjr spd__kjr_t; /* a Keras JSON reader (io/keras_json.h) */
typedef struct spd__kjw spd__kjw_t; /* a Keras JSON writer (io/keras_json.h) */

/* Traits: what the generic code needs to know about a kind. */
enum {
  SPD_OP_WEIGHTS = 1u << 0,    /* a kernel (and bias) feeding a weighted sum: Dense, Conv */
  SPD_OP_ACTIVATION = 1u << 1, /* applies config.activation to its output */
  SPD_OP_WINDOW = 1u << 2,     /* a sliding window (convolutions, pooling) */
  SPD_OP_MAXPOOL = 1u << 3,    /* a window's maximum */
  SPD_OP_AVGPOOL = 1u << 4,    /* a window's (or the whole map's) average */
  SPD_OP_MOVER = 1u << 5,      /* values unchanged, same order (Flatten, Reshape) */
  SPD_OP_COMPUTES = 1u << 6,   /* computes new values: owns its fixed-point formats */
  SPD_OP_NOT_KERAS = 1u << 7,  /* no Keras layer: a model holding one has no Keras form */
  SPD_OP_KERAS_BUILD = 1u << 8, /* Keras 3 writes its build_config even without weights */
};

/* The role of a kind on the machine (src/map, src/run). */
typedef enum spd_op_machine {
  SPD_OPM_NONE = 0,   /* not mapped: the reference runs it */
  SPD_OPM_INPUT,      /* the sources */
  SPD_OPM_PASS,       /* routes only (Flatten, Reshape) */
  SPD_OPM_MASK,       /* folded into its producer's tile as a mask (Dropout) */
  SPD_OPM_DENSE,      /* dense tiles and reducers */
  SPD_OPM_CONV,       /* conv tiles */
  SPD_OPM_POOL,       /* pool tiles, or fused into the conv before */
  SPD_OPM_FOLD_ACT,   /* folded into its producer's tile as a second activation */
  SPD_OPM_PAD,        /* folded into the convolution reading it as extra padding */
  SPD_OPM_ADD,        /* add tiles: rows x channels of the sum (pool kernel) */
} spd_op_machine_t;

typedef struct spd_layer_op {
  const char *keras;            /* the Keras class it is written as */
  const char *snake;            /* Keras's to_snake_case: generated names */
  const char *const *also;      /* other Keras classes read as this kind (NULL-ended) */
  int spatial;                  /* window layers: 1 or 2 axes; else 0 */
  unsigned traits;              /* SPD_OP_* */
  int min_inputs;               /* 0 for the input, 1, or 2 for joins */
  spd_op_machine_t machine;
  /* Keras's defaults beyond spd_layer_config_defaults's common ones. */
  void (*defaults)(spd_layer_config_t *cfg);
  /* Output shape from the inputs' shapes (n = min_inputs or more), and the
   * config's checks. */
  int (*infer)(spd_ctx_t *ctx, const spd_layer_config_t *cfg, const spd_shape_t *const *in,
               int n, spd_shape_t *out);
  /* Parameters in Keras's order; NULL: none. */
  int (*params)(const spd_layer_config_t *cfg, const spd_shape_t *in,
                spd_param_spec_t specs[SPD_MAX_PARAMS]);
  /* The config's kind-specific fields from Keras JSON, class @p cls (the
   * kind's or one of also); NULL: no fields. */
  int (*keras_read)(spd__kjr_t *r, const char *cls, const struct cJSON *c, const char *name,
                    spd_layer_config_t *o);
  /* The class a layer is written as when not op->keras; NULL: op->keras. */
  const char *(*keras_class)(const spd_layer_config_t *c);
  /* The config's kind-specific fields as Keras writes them. */
  void (*keras_write)(spd__kjw_t *w, const spd_layer_t *l);
  /* The float reference (nn/ref_exec.h): floats of extra state for a
   * batch of @p capacity (the Dropout mask, BatchNormalization's statistics;
   * NULL: none), forward of layer i, backward of layer i. */
  size_t (*ref_state)(const spd_layer_t *l, size_t capacity);
  void (*ref_forward)(spd_ref_t *ref, int i, bool training);
  void (*ref_backward)(spd_ref_t *ref, int i, const float *dz_ready);
  /* The fixed-point reference (nn/fx_net_internal.h): set-up after the
   * common buffers (NULL: none), forward and backward of the selected
   * sample (backward after its dY and dZ are formed), or of the whole
   * batch for a layer that needs batch statistics (the _batch pair). A kind
   * with neither forward is refused by the fixed-point reference. */
  int (*fx_setup)(struct spd_fx_net *net, int i);
  void (*fx_forward)(struct spd_fx_net *net, int i);
  void (*fx_backward)(struct spd_fx_net *net, int i);
  void (*fx_forward_batch)(struct spd_fx_net *net, int i, int batch);
  void (*fx_backward_batch)(struct spd_fx_net *net, int i, int batch);
} spd_layer_op_t;

/** The descriptor of @p kind (NULL outside 0..SPD_LAYER_KIND_COUNT-1). */
const spd_layer_op_t *spd__layer_op(spd_layer_kind_t kind);

/** The descriptor of a layer's kind. */
static inline const spd_layer_op_t *spd__op_of(const spd_layer_t *l) {
  return spd__layer_op(l->config.kind);
}

static inline bool spd__op_has(const spd_layer_t *l, unsigned traits) {
  const spd_layer_op_t *op = spd__op_of(l);
  return op && (op->traits & traits) != 0;
}

/** The activation layer @p l applies last (linear for kinds without one). */
static inline spd_activation_t spd__op_activation(const spd_layer_t *l) {
  return spd__op_has(l, SPD_OP_ACTIVATION) ? l->config.activation : SPD_ACT_LINEAR;
}

/** Folding (docs/layers.md, "Folded activations"): an activation layer
 *  (role SPD_OPM_FOLD_ACT) that is the only reader of a weighted layer with
 *  a linear activation is applied by that layer, as if it were the layer's
 *  own activation: one rounding of z into the activation's output, in the
 *  fixed-point reference and on the machine alike. fold_target gives the
 *  weighted layer layer @p i folds into, folded_into the activation layer
 *  folded into weighted layer @p j; -1 when there is none. */
int spd__layer_fold_target(const spd_model_t *m, int i);
int spd__layer_folded_into(const spd_model_t *m, int j);
/** The activation layer an Add layer @p add applies on its tiles: the
 *  Add's only reader, of role SPD_OPM_FOLD_ACT (docs/dag-on-machine.md);
 *  -1 when there is none or @p add is no Add. */
int spd__layer_add_folded_act(const spd_model_t *m, int add);

/** Does activation @p a have a fixed-point form (fixed_math.h) and a
 *  kernel form? relu6, selu, swish, gelu and ReLU with arguments run in the
 *  float reference only. */
static inline bool spd__act_has_fixed_form(spd_activation_t a) {
  return a == SPD_ACT_LINEAR || a == SPD_ACT_RELU || a == SPD_ACT_SIGMOID ||
         a == SPD_ACT_TANH || a == SPD_ACT_SOFTMAX || a == SPD_ACT_LEAKY_RELU ||
         a == SPD_ACT_ELU;
}

/** Does the slope of a leaky_relu or the alpha of an elu of config @p c fit
 *  the fixed-point multiplier (Q1.30: 0 <= alpha < 2) that the fixed-point
 *  reference and the kernels (float ones too) apply? Other activations: true. */
static inline bool spd__act_alpha_fits(const spd_layer_config_t *c) {
  float a = c->activation == SPD_ACT_ELU          ? c->elu_alpha
            : c->activation == SPD_ACT_LEAKY_RELU ? c->negative_slope
                                                  : 0.0f;
  return a >= 0.0f && a < 2.0f;
}

/** The name of activation @p a in a diagnostic ("ReLU with arguments" for
 *  relu_args). */
static inline const char *spd__act_display_name(spd_activation_t a) {
  return a == SPD_ACT_RELU_ARGS ? "ReLU with max_value or threshold" : spd_activation_name(a);
}

/** The kind whose Keras class (or one of its also names) is @p cls; -1. */
int spd__layer_op_find(const char *cls);

/* Every kind's descriptor, defined in src/nn/layers/. */
#define SPD_OP_DECLARE_(id, keras) extern const spd_layer_op_t spd__op_##id;
SPD_LAYER_KINDS(SPD_OP_DECLARE_)
#undef SPD_OP_DECLARE_

#endif
