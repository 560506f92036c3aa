/* Models and machines the tests build again and again. Every helper fails
 * the running cmocka test (with the library's diagnostic) instead of
 * returning an error. */
#ifndef SPINDLE_TEST_MODELS_H
#define SPINDLE_TEST_MODELS_H

#include <stdint.h>

#include "spindle/machine.h"
#include "spindle/model.h"

/** A model @p name: InputLayer "input" of @p in features, then Dense layers
 *  "dense_0".."dense_<n-1>" of @p units[i] units, relu hidden and softmax
 *  output. Not built: the caller builds it or sets shapes by hand. Owned by
 *  the caller (spd_model_free). */
spd_model_t *spd_test_dense_chain_unbuilt(spd_ctx_t *ctx, const char *name, int32_t in,
                                          const int32_t *units, int n);

/** spd_test_dense_chain_unbuilt, built with weights drawn from @p seed. */
spd_model_t *spd_test_dense_chain(spd_ctx_t *ctx, const char *name, int32_t in,
                                  const int32_t *units, int n, uint64_t seed);

/** A sequential model @p name: InputLayer "in" of @p input_shape, then
 *  @p layers[0..n) in order, each fed by the one before, built from @p seed.
 *  Owned by the caller (spd_model_free). */
spd_model_t *spd_test_stack(spd_ctx_t *ctx, const char *name, spd_shape_t input_shape,
                            const spd_layer_config_t *layers, int n, uint64_t seed);

/** Machine @p name (spd_machine_new) with @p faults applied unless NULL.
 *  Owned by the caller (spd_machine_free). */
spd_machine_t *spd_test_machine(spd_ctx_t *ctx, const char *name, const char *faults);

#endif
