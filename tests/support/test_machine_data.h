/* Samples and reference outputs the machine-run tests compare against. */
#ifndef SPINDLE_TEST_MACHINE_DATA_H
#define SPINDLE_TEST_MACHINE_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spindle/fit.h"
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

#endif
