/* Adam as keras/src/optimizers/adam.py (amsgrad off), with t the 1-based
 * step:
 *   alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)
 *   m += (g - m) * (1 - b1);  v += (g*g - v) * (1 - b2)
 *   w -= alpha * m / (sqrt(v) + eps)
 * Keras puts epsilon outside the square root and folds the bias correction
 * into alpha, which differs from the paper's form by O(eps). */
#include "nn/optim_rules.h"

#include <math.h>

void spd__adam_update(const spd_optimizer_config_t *cfg, float lr,
                      int64_t iterations, spd_optim_slots_t *s,
                      float *restrict w, const float *restrict g) {
  double t = (double)(iterations + 1);
  double b1_power = pow(cfg->beta_1, t), b2_power = pow(cfg->beta_2, t);
  float alpha = (float)(lr * sqrt(1.0 - b2_power) / (1.0 - b1_power));
  float one_minus_b1 = 1.0f - cfg->beta_1, one_minus_b2 = 1.0f - cfg->beta_2;
  float eps = cfg->epsilon;
  float *restrict m = s->slot[0];
  float *restrict v = s->slot[1];
  for (size_t i = 0; i < s->size; i++) {
    m[i] += (g[i] - m[i]) * one_minus_b1;
    v[i] += (g[i] * g[i] - v[i]) * one_minus_b2;
    w[i] -= alpha * m[i] / (sqrtf(v[i]) + eps);
  }
}
