/* Machines by name: the layout of boards and chips, and resource counts. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "machine/geometry.h"

/* The largest machine P2P routing can address: 256 x 256 chips
 * (SPINNAKER.md #12). */
#define MAX_SIDE 256
/* SPINNAKER.md #22: three boards tile a 12 x 12 cell of the torus. */
#define TRIAD_SIDE 12
#define BOARDS_PER_TRIAD 3
/* SPINNAKER.md #23: SpiNNaker1M. */
#define SPINN1M_BOARDS 1200

typedef enum layout_kind {
  LAYOUT_FULL,   /* every cell of the rectangle holds a chip */
  LAYOUT_BOARD,  /* one SpiNN-5 board, no wrap-around */
  LAYOUT_TRIADS, /* a torus of triads of SpiNN-5 boards */
} layout_kind_t;

typedef struct layout {
  layout_kind_t kind;
  int width, height;
  bool wrap;
  uint32_t n_boards;
  int triads_w, triads_h;
} layout_t;

/* SPINNAKER.md §5 [SM version_5]: the 48 chips of a SpiNN-5 board relative to
 * its Ethernet chip; for column x the valid y are first_y[x]..last_y[x]. */
static const int board_first_y[8] = {0, 0, 0, 0, 0, 1, 2, 3};
static const int board_last_y[8] = {3, 4, 5, 6, 7, 7, 7, 7};
/* SPINNAKER.md #22: Ethernet chips of a triad, relative to its corner. */
static const int triad_eth[BOARDS_PER_TRIAD][2] = {{0, 0}, {4, 8}, {8, 4}};

/* A whole decimal number made only of digits, at most 6 of them. */
static bool parse_count(const char *s, size_t len, int *out) {
  if (len == 0 || len > 6)
    return false;
  int v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

static void layout_full(layout_t *lo, int width, int height) {
  *lo = (layout_t){.kind = LAYOUT_FULL, .width = width, .height = height,
                   .wrap = true, .n_boards = 1};
}

static void layout_board(layout_t *lo) {
  *lo = (layout_t){.kind = LAYOUT_BOARD, .width = 8, .height = 8, .wrap = false,
                   .n_boards = 1};
}

/* Rig's standard_system_dimensions (SPINNAKER.md §5): T = N/3 triads as
 * w x h with h the largest factor of T not above sqrt(T), so w >= h. */
static int layout_triads(spd_ctx_t *ctx, layout_t *lo, int boards) {
  if (boards == 1) {
    layout_board(lo);
    return 0;
  }
  if (boards <= 0 || boards % BOARDS_PER_TRIAD != 0)
    return spd_ctx_fail(ctx, SPD_EINVAL,
                        "machine '%dboards': the number of boards must be 1 or a "
                        "positive multiple of 3 (boards form triads)", boards);
  int triads = boards / BOARDS_PER_TRIAD, h = 1;
  for (int f = 1; f * f <= triads; f++)
    if (triads % f == 0)
      h = f;
  int w = triads / h;
  if (w * TRIAD_SIDE > MAX_SIDE)
    return spd_ctx_fail(ctx, SPD_EINVAL,
                        "machine '%dboards': %d x %d chips exceeds the %d x %d "
                        "chips SpiNNaker can address", boards, w * TRIAD_SIDE,
                        h * TRIAD_SIDE, MAX_SIDE, MAX_SIDE);
  *lo = (layout_t){.kind = LAYOUT_TRIADS, .width = w * TRIAD_SIDE,
                   .height = h * TRIAD_SIDE, .wrap = true, .n_boards = (uint32_t)boards,
                   .triads_w = w, .triads_h = h};
  return 0;
}

static int parse_torus(spd_ctx_t *ctx, const char *name, layout_t *lo) {
  const char *x = strchr(name, 'x');
  int w, h;
  if (!parse_count(name, (size_t)(x - name), &w) || !parse_count(x + 1, strlen(x + 1), &h))
    return spd_ctx_fail(ctx, SPD_EINVAL, "unknown machine '%s'", name);
  if (w < 1 || h < 1 || w > MAX_SIDE || h > MAX_SIDE)
    return spd_ctx_fail(ctx, SPD_EINVAL,
                        "machine '%s': width and height must be 1..%d chips", name,
                        MAX_SIDE);
  layout_full(lo, w, h);
  return 0;
}

static int parse_layout(spd_ctx_t *ctx, const char *name, layout_t *lo) {
  static const char suffix[] = "boards";
  size_t len = strlen(name), slen = sizeof suffix - 1;
  if (!strcasecmp(name, "spinn3")) {
    layout_full(lo, 2, 2); /* SPINNAKER.md #20 */
    return 0;
  }
  if (!strcasecmp(name, "spinn5")) {
    layout_board(lo);
    return 0;
  }
  if (!strcasecmp(name, "spinn1m"))
    return layout_triads(ctx, lo, SPINN1M_BOARDS);
  if (len > slen && !strcasecmp(name + len - slen, suffix)) {
    int boards;
    if (!parse_count(name, len - slen, &boards))
      return spd_ctx_fail(ctx, SPD_EINVAL, "unknown machine '%s'", name);
    return layout_triads(ctx, lo, boards);
  }
  if (strchr(name, 'x'))
    return parse_torus(ctx, name, lo);
  return spd_ctx_fail(ctx, SPD_EINVAL,
                      "unknown machine '%s' (known: spinn3, spinn5, <N>boards, "
                      "spinn1m, <W>x<H>)", name);
}

/* Marks each board's chips in @p cells with the cell index of its Ethernet
 * chip; a board's chips are the SpiNN-5 hexagon around that chip, taken
 * modulo the torus (SPINNAKER.md #22). */
static void place_board(const layout_t *lo, int ex, int ey, int32_t *cells) {
  int32_t eth_cell = (int32_t)ey * lo->width + ex;
  for (int dx = 0; dx < 8; dx++)
    for (int dy = board_first_y[dx]; dy <= board_last_y[dx]; dy++) {
      int x = (ex + dx) % lo->width, y = (ey + dy) % lo->height;
      cells[y * lo->width + x] = eth_cell;
    }
}

static void place_chips(const layout_t *lo, int32_t *cells) {
  int n = lo->width * lo->height;
  for (int i = 0; i < n; i++)
    cells[i] = lo->kind == LAYOUT_FULL ? 0 : -1;
  if (lo->kind == LAYOUT_BOARD)
    place_board(lo, 0, 0, cells);
  if (lo->kind != LAYOUT_TRIADS)
    return;
  for (int tx = 0; tx < lo->triads_w; tx++)
    for (int ty = 0; ty < lo->triads_h; ty++)
      for (int b = 0; b < BOARDS_PER_TRIAD; b++)
        place_board(lo, tx * TRIAD_SIDE + triad_eth[b][0],
                    ty * TRIAD_SIDE + triad_eth[b][1], cells);
}

/* Turns chip_at from "Ethernet cell of this chip's board" into dense chip
 * indices, filling the chips in x-major, then y order. */
static void fill_chips(spd_machine_t *m) {
  uint32_t n = 0;
  for (int x = 0; x < m->width; x++)
    for (int y = 0; y < m->height; y++) {
      int32_t cell = y * m->width + x, eth = m->chip_at[cell];
      if (eth < 0)
        continue;
      spd_chip_t *c = &m->chips[n];
      *c = (spd_chip_t){.x = (uint16_t)x, .y = (uint16_t)y, .ethernet = eth == cell,
                        .core_mask = (1u << SPD_CORES_PER_CHIP) - 1u,
                        .sdram_bytes = SPD_SDRAM_BYTES, /* SPINNAKER.md #4 */
                        .eth_x = (uint16_t)(eth % m->width),
                        .eth_y = (uint16_t)(eth / m->width)};
      m->chip_at[cell] = (int32_t)n++;
    }
  m->n_chips = n;
}

static void connect_links(spd_machine_t *m) {
  for (uint32_t i = 0; i < m->n_chips; i++) {
    spd_chip_t *c = &m->chips[i];
    for (int l = 0; l < SPD_LINKS; l++) {
      int nx, ny;
      if (spd__machine_step(m, c->x, c->y, (spd_link_t)l, &nx, &ny) &&
          spd_machine_chip_index(m, nx, ny) >= 0)
        c->link_mask |= (uint8_t)(1u << l);
    }
  }
}

static uint32_t count_chips(const int32_t *cells, int n) {
  uint32_t count = 0;
  for (int i = 0; i < n; i++)
    count += cells[i] >= 0;
  return count;
}

int spd_machine_new(spd_ctx_t *ctx, const char *name, spd_machine_t **out) {
  layout_t lo = {0};
  if (!name || strlen(name) >= sizeof ((spd_machine_t *)0)->name)
    return spd_ctx_fail(ctx, SPD_EINVAL, "machine name missing or too long");
  int err = parse_layout(ctx, name, &lo);
  if (err)
    return err;
  spd_machine_t *m = spd_calloc(ctx, 1, sizeof *m);
  int cells = lo.width * lo.height;
  if (m)
    m->chip_at = spd_calloc(ctx, (size_t)cells, sizeof *m->chip_at);
  if (m && m->chip_at) {
    place_chips(&lo, m->chip_at);
    m->chips = spd_calloc(ctx, count_chips(m->chip_at, cells), sizeof *m->chips);
  }
  if (!m || !m->chips) {
    if (m)
      spd_free(ctx, m->chip_at);
    spd_free(ctx, m);
    return spd_ctx_fail(ctx, SPD_ENOMEM, "machine '%s': out of memory for %d chips",
                        name, cells);
  }
  m->ctx = ctx;
  snprintf(m->name, sizeof m->name, "%s", name);
  m->width = (uint16_t)lo.width;
  m->height = (uint16_t)lo.height;
  m->wrap_x = m->wrap_y = lo.wrap;
  m->n_boards = lo.n_boards;
  fill_chips(m);
  connect_links(m);
  *out = m;
  return 0;
}

void spd_machine_free(spd_machine_t *m) {
  if (!m)
    return;
  spd_ctx_t *ctx = m->ctx;
  spd_free(ctx, m->chips);
  spd_free(ctx, m->chip_at);
  spd_free(ctx, m);
}

int32_t spd_machine_chip_index(const spd_machine_t *m, int x, int y) {
  int32_t cell = spd__machine_cell(m, x, y);
  return cell < 0 ? -1 : m->chip_at[cell];
}

const spd_chip_t *spd_machine_chip(const spd_machine_t *m, int x, int y) {
  int32_t i = spd_machine_chip_index(m, x, y);
  return i < 0 ? NULL : &m->chips[i];
}

uint32_t spd_chip_app_cores(const spd_chip_t *chip) {
  return (uint32_t)__builtin_popcount(chip->core_mask & ~(1u << SPD_MONITOR_CORE));
}

uint32_t spd_machine_app_cores(const spd_machine_t *m) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < m->n_chips; i++)
    n += spd_chip_app_cores(&m->chips[i]);
  return n;
}

uint32_t spd_machine_links(const spd_machine_t *m) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < m->n_chips; i++)
    n += (uint32_t)__builtin_popcount(m->chips[i].link_mask);
  return n;
}

uint64_t spd_machine_sdram(const spd_machine_t *m) {
  uint64_t n = 0;
  for (uint32_t i = 0; i < m->n_chips; i++)
    n += m->chips[i].sdram_bytes;
  return n;
}
