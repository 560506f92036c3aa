/* BatchNormalization over the last axis. Statistics are accumulated in
 * double: they sum many rows and feed every output. */
#include <math.h>

#include "spindle/reference.h"

static void batch_moments(double *mean, double *var, const float *x, const spd_batchnorm_params_t *p,
                          int c) {
  double sum = 0.0;
  for (size_t r = 0; r < p->rows; r++)
    sum += x[r * p->channels + c];
  double m = sum / (double)p->rows, sq = 0.0;
  for (size_t r = 0; r < p->rows; r++) {
    double d = x[r * p->channels + c] - m;
    sq += d * d;
  }
  *mean = m;
  *var = sq / (double)p->rows;
}

/* moving = moving * momentum + batch * (1 - momentum), Keras's update. */
static void update_moving(float *moving_mean, float *moving_var, double mean, double var,
                          const spd_batchnorm_params_t *p, int c) {
  if (p->unbiased_moving_variance && p->rows > 1)
    var *= (double)p->rows / (double)(p->rows - 1);
  double m = p->momentum;
  if (moving_mean)
    moving_mean[c] = (float)(moving_mean[c] * m + mean * (1.0 - m));
  if (moving_var)
    moving_var[c] = (float)(moving_var[c] * m + var * (1.0 - m));
}

void spd_batchnorm_forward(float *y, float *save_mean, float *save_inv_std, const float *x,
                           const float *gamma, const float *beta, float *moving_mean,
                           float *moving_var, const spd_batchnorm_params_t *p) {
  for (int c = 0; c < p->channels; c++) {
    double mean, var;
    if (p->training) {
      batch_moments(&mean, &var, x, p, c);
      update_moving(moving_mean, moving_var, mean, var, p, c);
    } else {
      mean = moving_mean[c];
      var = moving_var[c];
    }
    float inv_std = (float)(1.0 / sqrt(var + p->epsilon));
    save_mean[c] = (float)mean;
    save_inv_std[c] = inv_std;
    float g = gamma ? gamma[c] : 1.0f, b = beta ? beta[c] : 0.0f;
    for (size_t r = 0; r < p->rows; r++) {
      size_t i = r * p->channels + c;
      y[i] = g * ((x[i] - (float)mean) * inv_std) + b;
    }
  }
}

void spd_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                            const float *x, const float *gamma, const float *save_mean,
                            const float *save_inv_std, const spd_batchnorm_params_t *p) {
  double n = (double)p->rows;
  for (int c = 0; c < p->channels; c++) {
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    float mean = save_mean[c], inv_std = save_inv_std[c];
    for (size_t r = 0; r < p->rows; r++) {
      size_t i = r * p->channels + c;
      sum_dy += dy[i];
      sum_dy_xhat += dy[i] * (double)((x[i] - mean) * inv_std);
    }
    if (dgamma)
      dgamma[c] += (float)sum_dy_xhat;
    if (dbeta)
      dbeta[c] += (float)sum_dy;
    if (!dx)
      continue;
    float g = gamma ? gamma[c] : 1.0f;
    /* Training: the mean and variance depend on every x of the channel,
     * dx = g*inv_std/n * (n*dy - sum(dy) - xhat*sum(dy*xhat)). Inference:
     * the statistics are constants, dx = g*inv_std*dy. */
    for (size_t r = 0; r < p->rows; r++) {
      size_t i = r * p->channels + c;
      if (p->training) {
        double xhat = (x[i] - mean) * inv_std;
        dx[i] += (float)(g * inv_std / n * (n * dy[i] - sum_dy - xhat * sum_dy_xhat));
      } else {
        dx[i] += g * inv_std * dy[i];
      }
    }
  }
}
