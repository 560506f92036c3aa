/* RMSprop as keras/src/optimizers/rmsprop.py, slots velocity (0),
 * momentum (1) and average gradient (2):
 *   vel = rho*vel + (1-rho)*g*g
 *   centered: avg = rho*avg + (1-rho)*g;  den = vel - avg*avg + eps
 *   otherwise den = vel + eps
 *   inc = lr * g / sqrt(den)
 *   momentum > 0: mom = momentum*mom + inc;  w -= mom
 *   otherwise w -= inc
 * Keras (2.x training op and 3.x alike) adds epsilon inside the square root;
 * PyTorch adds it outside, a difference of O(eps) in the denominator. */
#include "nn/optim_rules.h"

#include <math.h>

static float denominator(const spd_optimizer_config_t *cfg, float vel,
                         float *avg, float g) {
  if (!cfg->centered)
    return vel + cfg->epsilon;
  *avg = cfg->rho * *avg + (1.0f - cfg->rho) * g;
  return vel - *avg * *avg + cfg->epsilon;
}

void spd__rmsprop_update(const spd_optimizer_config_t *cfg, float lr,
                         spd_optim_slots_t *s, float *restrict w,
                         const float *restrict g) {
  float rho = cfg->rho, momentum = cfg->momentum;
  float *restrict vel = s->slot[0];
  float *restrict mom = s->slot[1];
  float *restrict avg = s->slot[2];
  float unused = 0.0f;
  for (size_t i = 0; i < s->size; i++) {
    vel[i] = rho * vel[i] + (1.0f - rho) * (g[i] * g[i]);
    float den = denominator(cfg, vel[i], avg ? &avg[i] : &unused, g[i]);
    float inc = lr * g[i] / sqrtf(den);
    if (momentum > 0.0f) {
      mom[i] = momentum * mom[i] + inc;
      w[i] -= mom[i];
    } else {
      w[i] -= inc;
    }
  }
}
