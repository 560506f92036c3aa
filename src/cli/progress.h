/* A Keras-style progress bar (tf.keras 2's Progbar, verbose=1):
 *   Epoch 1/5
 *   1875/1875 [==============================] - 3s 2ms/step - loss: 0.5012 - accuracy: 0.8234
 * redrawn in place with '\r' when the stream is a terminal, and written once
 * per epoch (the final line only) otherwise, so logs stay readable. */
#ifndef SPINDLE_CLI_PROGRESS_H
#define SPINDLE_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

#define SPD_PROGRESS_MAX_VALUES 6

typedef struct spd_progress_value {
  const char *name;
  double value;
} spd_progress_value_t;

typedef struct spd_progress {
  FILE *out;
  bool dynamic;          /* redraw in place (a terminal) */
  long target;           /* steps in this bar */
  double start;          /* monotonic seconds at the first step */
  double last_draw;      /* when the bar was last redrawn */
  int drawn_width;       /* characters of the last in-place line */
} spd_progress_t;

/** Monotonic seconds. */
double spd_progress_now(void);

/** Start a bar of @p target steps on @p out; dynamic when out is a TTY. */
void spd_progress_begin(spd_progress_t *p, FILE *out, long target);

/** Step @p current of target done, with the running means of the values.
 *  Draws at most every 50 ms in dynamic mode; the last step always draws
 *  the final line (with total time and time per step) and a newline. */
void spd_progress_update(spd_progress_t *p, long current,
                         const spd_progress_value_t *values, int n_values);

#endif
