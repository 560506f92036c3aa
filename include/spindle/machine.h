/* SpiNNaker1 geometry and resources: boards, chips, cores, links and faults.
 * Numbers from ../shared/SPINNAKER.md (cited by row: "SPINNAKER.md #n"). */
#ifndef SPINDLE_MACHINE_H
#define SPINDLE_MACHINE_H

#include <stdbool.h>
#include <stdint.h>

#include "spindle/context.h"

/* SPINNAKER.md #1: 18 cores per chip, core 0 the monitor. */
#define SPD_CORES_PER_CHIP 18
#define SPD_MONITOR_CORE 0
/* SPINNAKER.md #3: ITCM 32 KB, DTCM 64 KB per core. */
#define SPD_ITCM_BYTES (32u * 1024u)
#define SPD_DTCM_BYTES (64u * 1024u)
/* SPINNAKER.md #4: 128 MB SDRAM per chip. */
#define SPD_SDRAM_BYTES (128u * 1024u * 1024u)
/* SPINNAKER.md #10: 1024 router entries, one reserved by the system. */
#define SPD_ROUTER_ENTRIES 1024
#define SPD_ROUTER_APP_ENTRIES 1023
/* SPINNAKER.md #19: six links per chip. */
#define SPD_LINKS 6

/** Link directions, numbered as the router's route bits 0..5
 *  (SPINNAKER.md #19, §4): E(+1,0) NE(+1,+1) N(0,+1) W(-1,0) SW(-1,-1) S(0,-1).
 *  The opposite of link l is (l + 3) mod 6. */
typedef enum spd_link {
  SPD_LINK_E = 0,
  SPD_LINK_NE = 1,
  SPD_LINK_N = 2,
  SPD_LINK_W = 3,
  SPD_LINK_SW = 4,
  SPD_LINK_S = 5,
} spd_link_t;

static inline spd_link_t spd_link_opposite(spd_link_t l) {
  return (spd_link_t)((l + 3) % SPD_LINKS);
}

/** The x and y steps of link @p l (0..5), as in the table above. */
static inline int spd_link_dx(spd_link_t l) {
  static const int8_t dx[SPD_LINKS] = {+1, +1, 0, -1, -1, 0};
  return dx[l];
}
static inline int spd_link_dy(spd_link_t l) {
  static const int8_t dy[SPD_LINKS] = {0, +1, +1, 0, -1, -1};
  return dy[l];
}

/** "E", "NE", ... */
const char *spd_link_name(spd_link_t l);
/** Parse a link name (case-insensitive) or digit 0..5; -1 if invalid. */
int spd_link_parse(const char *s);

typedef struct spd_chip {
  uint16_t x, y;
  bool ethernet;              /* has an Ethernet connection to the host */
  uint32_t core_mask;         /* bit c set: core c exists and works */
  uint8_t link_mask;          /* bit l set: link l leads to a working chip */
  uint32_t sdram_bytes;       /* usable SDRAM */
  uint16_t eth_x, eth_y;      /* the Ethernet chip of this chip's board */
} spd_chip_t;

/** A machine: the chips of a (possibly wrapped) rectangle of width x height
 *  chip coordinates, of which some are present. Owned by its creator;
 *  free with spd_machine_free. */
typedef struct spd_machine {
  spd_ctx_t *ctx;
  char name[64];
  uint16_t width, height;
  bool wrap_x, wrap_y;        /* links wrap around the torus */
  uint32_t n_boards;
  uint32_t n_chips;           /* chips present and alive */
  spd_chip_t *chips;          /* dense array of the n_chips alive chips */
  int32_t *chip_at;           /* width*height, row-major (y * width + x):
                                 index into chips, or -1 */
} spd_machine_t;

/** Build a machine by name:
 *   "spinn3"        SpiNN-3, 2x2 chips with wrap-around (SPINNAKER.md #20)
 *   "spinn5"        one SpiNN-5 board, 48 chips in an 8x8 box (#21)
 *   "<N>boards"     N SpiNN-5 boards (N a multiple of 3) as a torus of
 *                   triads, 12x12 chips each (#22), arranged near-square
 *   "spinn1m"       SpiNNaker1M, 1,200 boards, 240x240 chips (#23)
 *   "<W>x<H>"       a full W x H chip torus, for tests
 *  *out is a new machine owned by the caller (spd_machine_free); it keeps
 *  @p ctx, which must outlive it.
 *  @return 0, SPD_EINVAL (diagnostic names the problem), SPD_ENOMEM. */
int spd_machine_new(spd_ctx_t *ctx, const char *name, spd_machine_t **out);
void spd_machine_free(spd_machine_t *m);

/** Mark parts dead from a fault description; text form, one fault per line
 *  ('#' comments), or the same as a JSON object
 *  {"dead_chips":[[x,y],...],"dead_cores":[[x,y,c],...],"dead_links":[[x,y,"E"],...]}:
 *     chip X Y
 *     core X Y C
 *     link X Y DIR        (DIR: E NE N W SW S; kills both directions)
 *  Dead chips vanish with their links; a dead link vanishes from both ends.
 *  A dead monitor (core 0) makes its chip dead. The description is checked
 *  whole before anything is applied: on failure the machine is unchanged.
 *  @return 0 or SPD_EINVAL / SPD_EFORMAT with a diagnostic naming the line. */
int spd_machine_apply_faults(spd_machine_t *m, const char *description);
/** Read a fault file and apply it. */
int spd_machine_apply_fault_file(spd_machine_t *m, const char *path);

/** How the host reaches a machine (after faults): through Ethernet chips,
 *  then over working links. */
typedef struct spd_machine_reach {
  uint32_t ethernet_alive;            /* live Ethernet chips */
  uint32_t boards_without_ethernet;   /* boards with live chips but a dead Ethernet chip */
  uint16_t dead_ethernet_x, dead_ethernet_y; /* the first such Ethernet chip */
  uint32_t chips_unreachable;         /* live chips no live Ethernet chip reaches */
} spd_machine_reach_t;

/** Count what faults cost the host's access to @p m: a board whose
 *  Ethernet chip is dead is reached only through another board's, and
 *  with no live Ethernet chip nothing is reached at all.
 *  @return 0, or SPD_ENOMEM (out untouched). */
int spd_machine_reach(const spd_machine_t *m, spd_machine_reach_t *out);

/** The chip at (x, y), or NULL if absent or dead. */
const spd_chip_t *spd_machine_chip(const spd_machine_t *m, int x, int y);
/** Dense index of the chip at (x, y), or -1. */
int32_t spd_machine_chip_index(const spd_machine_t *m, int x, int y);

/** The chip across link @p l from (x, y): true and the neighbour's
 *  coordinates when that link works; false otherwise. */
bool spd_machine_neighbour(const spd_machine_t *m, int x, int y, spd_link_t l,
                           int *nx, int *ny);

/** Shortest hop count from (x0,y0) to (x1,y1) on the triangular mesh/torus,
 *  ignoring faults (SPINNAKER.md §5: minimise the (x,y,z) offset; hops =
 *  max - min of its components, over the torus images). */
int spd_machine_hops(const spd_machine_t *m, int x0, int y0, int x1, int y1);

/** Minimal (dx, dy, dz) offset vector (z the diagonal) from a to b, over the
 *  torus images; used by longest-dimension-first routing. As in rig, +z is
 *  one hop SW and -z one hop NE, so the offset moves a chip by
 *  (dx - dz, dy - dz); at most two components are non-zero. */
void spd_machine_offset(const spd_machine_t *m, int x0, int y0, int x1, int y1,
                        int *dx, int *dy, int *dz);

/** Number of working application cores (all but the monitor) over all chips. */
uint32_t spd_machine_app_cores(const spd_machine_t *m);
/** Number of working application cores on one chip. */
uint32_t spd_chip_app_cores(const spd_chip_t *chip);
/** Number of working directed links over the machine (each direction once). */
uint32_t spd_machine_links(const spd_machine_t *m);
/** Total usable SDRAM bytes. */
uint64_t spd_machine_sdram(const spd_machine_t *m);

#endif
