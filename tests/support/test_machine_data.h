/* Samples and reference outputs the machine-run tests compare against. */
#ifndef SPINDLE_TEST_MACHINE_DATA_H
#define SPINDLE_TEST_MACHINE_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spindle/fit.h"
#include "spindle/machine_run.h"
#include "spindle/model.h"

/** Deterministic samples in [0, 1) (bytes / 255) and labels i*7 mod classes. */
typedef struct spd_test_samples {
  float *x;
  uint8_t *x_u8;
  int32_t *labels;
  spd_fit_data_t d;   /* floats, or the bytes when made with bytes */
} spd_test_samples_t;

/** @p n samples of shape @p shape. */
void spd_test_samples_make(spd_test_samples_t *s, size_t n, spd_shape_t shape, int classes,
                           bool bytes);
void spd_test_samples_free(spd_test_samples_t *s);

/** The reference's fixed outputs of @p s into @p out: the same net, plan
 *  calibrated on the first batch of min(32, n) samples, as
 *  spd_evaluate_fixed and the machine session build it. */
void spd_test_reference_fixed(spd_ctx_t *ctx, spd_model_t *m, const spd_test_samples_t *s,
                              float *out);

/** Evaluate @p m on the machine @p mc with @p o (fixed point) over @p s and
 *  check its loss and accuracy against spd_evaluate_fixed's (the plan
 *  calibrated on the first 32 samples, as the session does). The
 *  machine's figures go to @p st when not NULL. */
void spd_test_expect_evaluates_as_reference(spd_ctx_t *ctx, spd_model_t *m,
                                            const spd_machine_t *mc,
                                            const spd_machine_run_opts_t *o,
                                            const spd_test_samples_t *s, spd_machine_stats_t *st);

/** The training set-up the machine-against-reference tests share: 2 epochs
 *  of batches of 8, seed 3, learning rate 0.01 (Adam) or 0.1 (else). */
void spd_test_fit_config(spd_fit_config_t *cfg, spd_optimizer_kind_t kind, float momentum);

/** Train @p on_host on the host (fixed point: spd_fit_fixed, float: spd_fit_float)
 *  and @p on_machine (the same model, freshly built) on @p mc with @p o,
 *  both with @p cfg over @p s, and check the machine: no packet dropped,
 *  every sample of every epoch trained; fixed point: every weight bit for
 *  bit and each epoch's loss and accuracy equal; float: weights and losses
 *  within 1e-4. The machine's figures go to @p st when not NULL. */
void spd_test_expect_trains_as_reference(spd_ctx_t *ctx, spd_model_t *on_host,
                                         spd_model_t *on_machine, const spd_machine_t *mc,
                                         const spd_machine_run_opts_t *o,
                                         const spd_fit_config_t *cfg, const spd_test_samples_t *s,
                                         spd_machine_stats_t *st);

#endif
