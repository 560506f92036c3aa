/* SGD as keras/src/optimizers/sgd.py: with momentum m (slot 0, v),
 *   v = m*v - lr*g;  w += v               (nesterov: w += m*v - lr*g)
 * and without it w -= lr*g. */
#include "nn/optim_rules.h"

void spd__sgd_update(const spd_optimizer_config_t *cfg, float lr,
                     spd_optim_slots_t *s, float *restrict w,
                     const float *restrict g) {
  size_t n = s->size;
  if (cfg->momentum == 0.0f) {
    for (size_t i = 0; i < n; i++)
      w[i] -= lr * g[i];
    return;
  }
  float m = cfg->momentum;
  float *restrict v = s->slot[0];
  if (cfg->nesterov) {
    for (size_t i = 0; i < n; i++) {
      v[i] = m * v[i] - lr * g[i];
      w[i] += m * v[i] - lr * g[i];
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      v[i] = m * v[i] - lr * g[i];
      w[i] += v[i];
    }
  }
}
