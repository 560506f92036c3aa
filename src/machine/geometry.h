/* Internal geometry helpers shared by machine construction and faults. */
#ifndef SPINDLE_MACHINE_GEOMETRY_H
#define SPINDLE_MACHINE_GEOMETRY_H

#include <stdbool.h>

#include "spindle/machine.h"

/** The coordinates across link @p l from (x, y) in the machine's rectangle,
 *  wrapping where the machine wraps; false when the step leaves a
 *  non-wrapping edge. Says nothing about whether a chip is there. */
bool spd__machine_step(const spd_machine_t *m, int x, int y, spd_link_t l,
                       int *nx, int *ny);

/** Row-major cell index of (x, y), or -1 outside the rectangle. */
static inline int32_t spd__machine_cell(const spd_machine_t *m, int x, int y) {
  if (x < 0 || y < 0 || x >= m->width || y >= m->height)
    return -1;
  return (int32_t)y * m->width + x;
}

#endif
