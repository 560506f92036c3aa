/* InputLayer: the model's one input; its shape is the config's. */
#include "nn/layers/layers.h"

static int infer(spd_ctx_t *ctx, const spd_layer_config_t *cfg, const spd_shape_t *const *in,
                 int n, spd_shape_t *out) {
  (void)in;
  (void)n;
  const spd_shape_t *s = &cfg->input_shape;
  if (s->rank < 1 || s->rank > SPD_MAX_RANK)
    return spd__config_fail(ctx, cfg, "input shape must have 1 to 5 dimensions");
  for (int i = 0; i < s->rank; i++)
    if (s->dims[i] <= 0)
      return spd__config_fail(ctx, cfg, "input shape dimensions must be positive");
  if (spd__checked_product(s->dims, s->rank) < 0)
    return spd__too_many(ctx, cfg, "batch_input_shape", "an input", s->dims, s->rank);
  *out = *s;
  return 0;
}

/* The input is read and written by the Keras files themselves (its shape
 * is the model's); spd_ref_forward and the fixed net write its output. */
const spd_layer_op_t spd__op_INPUT = {
    .keras = "InputLayer",
    .snake = "input",
    .traits = SPD_OP_COMPUTES,
    .min_inputs = 0,
    .machine = SPD_OPM_INPUT,
    .infer = infer,
};
