/* Inverted dropout with a counter-addressed mask (reference.h says how the
 * draw of each element is found, so a SpiNNaker kernel can rebuild it). */
#include "spindle/reference.h"
#include "spindle/rng.h"

void spd_dropout_forward(float *y, float *mask, const float *x, const spd_dropout_params_t *p) {
  size_t blocks_per_sample = (p->n + 3) / 4;
  float keep_scale = 1.0f / (1.0f - p->rate);
  for (int s = 0; s < p->batch; s++) {
    size_t base = (size_t)s * p->n;
    if (!p->training || p->rate <= 0.0f) {
      for (size_t i = 0; i < p->n; i++) {
        mask[base + i] = 1.0f;
        y[base + i] = x[base + i];
      }
      continue;
    }
    spd_rng_t rng;
    spd_rng_init(&rng, p->seed, p->stream);
    rng.counter = (p->first_sample + (uint64_t)s) * blocks_per_sample;
    for (size_t i = 0; i < p->n; i++) {
      float keep = spd_rng_uniform(&rng) >= p->rate ? keep_scale : 0.0f;
      mask[base + i] = keep;
      y[base + i] = x[base + i] * keep;
    }
  }
}

void spd_dropout_backward(float *dx, const float *dy, const float *mask,
                          const spd_dropout_params_t *p) {
  size_t n = (size_t)p->batch * p->n;
  for (size_t i = 0; i < n; i++)
    dx[i] += dy[i] * mask[i];
}
