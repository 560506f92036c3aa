/* Links, neighbours and shortest paths on the triangular mesh/torus.
 *
 * Offsets use rig's (x, y, z) form (SPINNAKER.md §5, [RIG geometry]): a step
 * along +z is one hop SW, so a vector (x, y, z) moves the chip by
 * (x - z, y - z). Adding (1, 1, 1) leaves the displacement unchanged;
 * subtracting the median component gives the minimal form, which has at most
 * two non-zero components of opposite sign, and its hop count is
 * max - min of the components. */
#include "machine/geometry.h"

#include <stdlib.h>
#include <strings.h>

static const char *const link_names[SPD_LINKS] = {"E", "NE", "N", "W", "SW", "S"};

const char *spd_link_name(spd_link_t l) {
  return ((unsigned)l < SPD_LINKS) ? link_names[l] : "?";
}

int spd_link_parse(const char *s) {
  if (!s)
    return -1;
  if (s[0] >= '0' && s[0] <= '5' && s[1] == '\0')
    return s[0] - '0';
  for (int l = 0; l < SPD_LINKS; l++)
    if (!strcasecmp(s, link_names[l]))
      return l;
  return -1;
}

static int wrap_coord(int v, int size) {
  v %= size;
  return v < 0 ? v + size : v;
}

bool spd__machine_step(const spd_machine_t *m, int x, int y, spd_link_t l,
                       int *nx, int *ny) {
  int tx = x + spd_link_dx(l), ty = y + spd_link_dy(l);
  if (m->wrap_x)
    tx = wrap_coord(tx, m->width);
  if (m->wrap_y)
    ty = wrap_coord(ty, m->height);
  if (tx < 0 || ty < 0 || tx >= m->width || ty >= m->height)
    return false;
  *nx = tx;
  *ny = ty;
  return true;
}

bool spd_machine_neighbour(const spd_machine_t *m, int x, int y, spd_link_t l,
                           int *nx, int *ny) {
  if ((unsigned)l >= SPD_LINKS)
    return false;
  const spd_chip_t *chip = spd_machine_chip(m, x, y);
  if (!chip || !(chip->link_mask & (1u << l)))
    return false;
  return spd__machine_step(m, x, y, l, nx, ny);
}

static int median3(int a, int b, int c) {
  int lo = a < b ? a : b, hi = a < b ? b : a;
  return c < lo ? lo : (c > hi ? hi : c);
}

static int max3(int a, int b, int c) {
  int m = a > b ? a : b;
  return m > c ? m : c;
}

static int min3(int a, int b, int c) {
  int m = a < b ? a : b;
  return m < c ? m : c;
}

/* The displacements along one axis worth trying: the direct one and, on a
 * wrapping axis, the two images nearest zero. Further images only lengthen
 * the path, because for a fixed other component the hop count grows with
 * distance from zero. Returns how many were written (1 or 2). */
static int axis_images(int d, int size, bool wrap, int out[2]) {
  if (!wrap) {
    out[0] = d;
    return 1;
  }
  int r = wrap_coord(d, size);
  out[0] = r;
  out[1] = r - size;
  return r == 0 ? 1 : 2;
}

void spd_machine_offset(const spd_machine_t *m, int x0, int y0, int x1, int y1,
                        int *dx, int *dy, int *dz) {
  int xs[2], ys[2];
  int nxs = axis_images(x1 - x0, m->width, m->wrap_x, xs);
  int nys = axis_images(y1 - y0, m->height, m->wrap_y, ys);
  int best = -1;
  /* Ties go to the first image tried (direct before wrapped): deterministic. */
  for (int i = 0; i < nxs; i++)
    for (int j = 0; j < nys; j++) {
      int med = median3(xs[i], ys[j], 0);
      int vx = xs[i] - med, vy = ys[j] - med, vz = -med;
      int hops = max3(vx, vy, vz) - min3(vx, vy, vz);
      if (best < 0 || hops < best) {
        best = hops;
        *dx = vx;
        *dy = vy;
        *dz = vz;
      }
    }
}

int spd_machine_hops(const spd_machine_t *m, int x0, int y0, int x1, int y1) {
  int dx, dy, dz;
  spd_machine_offset(m, x0, y0, x1, y1, &dx, &dy, &dz);
  return max3(dx, dy, dz) - min3(dx, dy, dz);
}
