#include "cli/progress.h"

#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 30

double spd_progress_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void spd_progress_begin(spd_progress_t *p, FILE *out, long target) {
  *p = (spd_progress_t){.out = out, .dynamic = isatty(fileno(out)) == 1,
                        .target = target > 0 ? target : 1,
                        .start = spd_progress_now(), .last_draw = -1.0};
}

/* "1875/1875 [=====>....]" with Keras's digit padding and arrow. */
static int format_bar(char *buf, size_t size, long current, long target) {
  int digits = (int)floor(log10((double)target)) + 1;
  int n = snprintf(buf, size, "%*ld/%ld [", digits, current, target);
  int width = (int)(BAR_WIDTH * ((double)current / (double)target));
  for (int i = 0; i < BAR_WIDTH && n < (int)size - 2; i++) {
    char c = '.';
    if (i < width - 1)
      c = '=';
    else if (i == width - 1)
      c = current < target ? '>' : '=';
    buf[n++] = c;
  }
  buf[n++] = ']';
  buf[n] = '\0';
  return n;
}

/* Keras's time-per-step unit: s, ms or us. */
static int format_per_step(char *buf, size_t size, double seconds) {
  if (seconds >= 1.0)
    return snprintf(buf, size, " %.0fs/step", seconds);
  if (seconds >= 1e-3)
    return snprintf(buf, size, " %.0fms/step", seconds * 1e3);
  return snprintf(buf, size, " %.0fus/step", seconds * 1e6);
}

static int format_eta(char *buf, size_t size, double eta) {
  if (eta > 3600)
    return snprintf(buf, size, " - ETA: %d:%02d:%02d", (int)(eta / 3600),
                    (int)fmod(eta, 3600) / 60, (int)fmod(eta, 60));
  if (eta > 60)
    return snprintf(buf, size, " - ETA: %d:%02d", (int)(eta / 60), (int)fmod(eta, 60));
  return snprintf(buf, size, " - ETA: %.0fs", eta);
}

static int format_values(char *buf, size_t size, const spd_progress_value_t *v, int n) {
  int len = 0;
  for (int i = 0; i < n && len < (int)size; i++) {
    const char *fmt = fabs(v[i].value) > 1e-3 ? " - %s: %.4f" : " - %s: %.4e";
    len += snprintf(buf + len, size - (size_t)len, fmt, v[i].name, v[i].value);
  }
  return len;
}

void spd_progress_update(spd_progress_t *p, long current,
                         const spd_progress_value_t *values, int n_values) {
  double now = spd_progress_now();
  bool final = current >= p->target;
  if (!final && (!p->dynamic || now - p->last_draw < 0.05))
    return;
  p->last_draw = now;
  char line[512];
  int len = format_bar(line, sizeof line, current, p->target);
  double elapsed = now - p->start, per_step = current > 0 ? elapsed / (double)current : 0;
  if (final) {
    len += snprintf(line + len, sizeof line - (size_t)len, " - %.0fs", elapsed);
    len += format_per_step(line + len, sizeof line - (size_t)len, per_step);
  } else {
    len += format_eta(line + len, sizeof line - (size_t)len,
                      per_step * (double)(p->target - current));
  }
  format_values(line + len, sizeof line - (size_t)len, values,
                n_values < SPD_PROGRESS_MAX_VALUES ? n_values : SPD_PROGRESS_MAX_VALUES);
  int width = (int)strlen(line);
  if (p->dynamic)
    fprintf(p->out, "\r%s%*s", line, p->drawn_width > width ? p->drawn_width - width : 0, "");
  else
    fputs(line, p->out);
  p->drawn_width = width;
  if (final)
    fputc('\n', p->out);
  fflush(p->out);
}
