/* Models and machines the tests build again and again. Every helper fails
 * the running cmocka test (with the library's diagnostic) instead of
 * returning an error. */
#ifndef SPINDLE_TEST_MODELS_H
#define SPINDLE_TEST_MODELS_H

#include <stdbool.h>
#include <stdint.h>

#include "spindle/machine.h"
#include "spindle/model.h"
#include "spindle/optim.h"

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

/** A Conv2D layer @p name: @p filters of @p k x @p k, stride and dilation
 *  the same in both directions. */
spd_layer_config_t spd_test_conv2d(const char *name, int32_t filters, int32_t k, int32_t stride,
                                   int32_t dil, spd_padding_t pad, spd_activation_t act,
                                   bool bias);

/** A 2-D pooling layer @p name of @p kind (MaxPooling2D or
 *  AveragePooling2D), @p k x @p k windows. */
spd_layer_config_t spd_test_pool2d(const char *name, spd_layer_kind_t kind, int32_t k,
                                   int32_t stride, spd_padding_t pad);

/** Conv1D "c" (5 filters of 3, stride 2, same, relu) and MaxPooling1D "p"
 *  (2, stride 2) fused into it, into @p l[0..2). */
void spd_test_conv1d_maxpool(spd_layer_config_t *l);

/** A Dense layer @p name of @p units with activation @p act. */
spd_layer_config_t spd_test_dense(const char *name, int32_t units, spd_activation_t act);

/** A Dropout layer @p name dropping @p rate, its masks drawn from @p seed. */
spd_layer_config_t spd_test_dropout(const char *name, double rate, uint64_t seed);

/** Assert that @p m's first Dense layer is cut into several row blocks on
 *  a SpiNN-5 (batch 8, 2 samples in flight, 37 samples, @p optimizer), so
 *  a test training it goes through reducers. */
void spd_test_expect_dense_row_blocks(spd_ctx_t *ctx, const spd_model_t *m,
                                      spd_optimizer_kind_t optimizer);

/** Machine @p name (spd_machine_new) with @p faults applied unless NULL.
 *  Owned by the caller (spd_machine_free). */
spd_machine_t *spd_test_machine(spd_ctx_t *ctx, const char *name, const char *faults);

#endif
