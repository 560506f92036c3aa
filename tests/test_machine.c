/* machine/: named machines, links, hop distances, faults. */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spindle/machine.h"

static spd_machine_t *make(spd_ctx_t *ctx, const char *name) {
  spd_ctx_init(ctx);
  spd_machine_t *m = NULL;
  int err = spd_machine_new(ctx, name, &m);
  if (err)
    fail_msg("spd_machine_new(%s): %s", name, spd_ctx_message(ctx));
  return m;
}

/* Every working link A -l-> B has B -opposite(l)-> A. */
static void assert_links_symmetric(const spd_machine_t *m) {
  for (uint32_t i = 0; i < m->n_chips; i++) {
    const spd_chip_t *a = &m->chips[i];
    for (int l = 0; l < SPD_LINKS; l++) {
      int bx, by, ax, ay;
      if (!spd_machine_neighbour(m, a->x, a->y, (spd_link_t)l, &bx, &by))
        continue;
      assert_true(spd_machine_neighbour(m, bx, by, spd_link_opposite((spd_link_t)l), &ax, &ay));
      assert_int_equal(ax, a->x);
      assert_int_equal(ay, a->y);
    }
  }
}

/* Hop distances by breadth-first search over the working links, from one chip. */
static void bfs(const spd_machine_t *m, int x0, int y0, int *dist) {
  int cells = m->width * m->height, *queue = test_malloc(sizeof(int) * (size_t)cells);
  for (int i = 0; i < cells; i++)
    dist[i] = -1;
  int head = 0, tail = 0;
  dist[y0 * m->width + x0] = 0;
  queue[tail++] = y0 * m->width + x0;
  while (head < tail) {
    int c = queue[head++], x = c % m->width, y = c / m->width;
    for (int l = 0; l < SPD_LINKS; l++) {
      int nx, ny;
      if (!spd_machine_neighbour(m, x, y, (spd_link_t)l, &nx, &ny))
        continue;
      int n = ny * m->width + nx;
      if (dist[n] < 0) {
        dist[n] = dist[c] + 1;
        queue[tail++] = n;
      }
    }
  }
  test_free(queue);
}

/* spd_machine_hops equals the BFS distance for every pair of chips, and the
 * offset vector is minimal and leads to the destination. */
static void assert_hops_match_bfs(const spd_machine_t *m) {
  int *dist = test_malloc(sizeof(int) * (size_t)(m->width * m->height));
  for (uint32_t i = 0; i < m->n_chips; i++) {
    const spd_chip_t *a = &m->chips[i];
    bfs(m, a->x, a->y, dist);
    for (uint32_t j = 0; j < m->n_chips; j++) {
      const spd_chip_t *b = &m->chips[j];
      int hops = spd_machine_hops(m, a->x, a->y, b->x, b->y);
      if (hops != dist[b->y * m->width + b->x])
        fail_msg("%s: hops (%d,%d)->(%d,%d) = %d, BFS says %d", m->name, a->x, a->y,
                 b->x, b->y, hops, dist[b->y * m->width + b->x]);
      int dx, dy, dz;
      spd_machine_offset(m, a->x, a->y, b->x, b->y, &dx, &dy, &dz);
      assert_int_equal(abs(dx) + abs(dy) + abs(dz), hops);
      assert_true(dx == 0 || dy == 0 || dz == 0);
      int ex = a->x + dx - dz - b->x, ey = a->y + dy - dz - b->y;
      assert_int_equal(ex % m->width, 0);
      assert_int_equal(ey % m->height, 0);
    }
  }
  test_free(dist);
}

static void spinn5_is_the_48_chip_board(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_machine_t *m = make(&ctx, "spinn5");
  static const int first_y[8] = {0, 0, 0, 0, 0, 1, 2, 3}, last_y[8] = {3, 4, 5, 6, 7, 7, 7, 7};
  assert_int_equal(m->n_chips, 48);
  assert_int_equal(spd_machine_app_cores(m), 816);
  assert_int_equal(m->width, 8);
  assert_int_equal(m->height, 8);
  assert_false(m->wrap_x || m->wrap_y);
  assert_int_equal(m->n_boards, 1);
  for (int x = 0; x < 8; x++)
    for (int y = 0; y < 8; y++) {
      const spd_chip_t *c = spd_machine_chip(m, x, y);
      bool expect = y >= first_y[x] && y <= last_y[x];
      assert_int_equal(c != NULL, expect);
      if (!c)
        continue;
      assert_int_equal(c->eth_x, 0);
      assert_int_equal(c->eth_y, 0);
      assert_int_equal(c->ethernet, x == 0 && y == 0);
      assert_int_equal(spd_chip_app_cores(c), 17);
      assert_int_equal(c->sdram_bytes, SPD_SDRAM_BYTES);
    }
  assert_null(spd_machine_chip(m, -1, 0));
  assert_null(spd_machine_chip(m, 8, 8));
  /* (0,0) sits in the corner: only E, NE and N lead anywhere. */
  assert_int_equal(spd_machine_chip(m, 0, 0)->link_mask, 0x07);
  /* (7,7) only W, SW and S. */
  assert_int_equal(spd_machine_chip(m, 7, 7)->link_mask, 0x38);
  assert_int_equal(spd_machine_sdram(m), 48ull * SPD_SDRAM_BYTES);
  assert_links_symmetric(m);
  spd_machine_free(m);
}

static void spinn3_is_a_wrapped_2x2(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_machine_t *m = make(&ctx, "spinn3");
  assert_int_equal(m->n_chips, 4);
  assert_int_equal(spd_machine_app_cores(m), 68);
  assert_true(m->wrap_x && m->wrap_y);
  int nx, ny;
  assert_true(spd_machine_neighbour(m, 0, 0, SPD_LINK_W, &nx, &ny));
  assert_int_equal(nx, 1);
  assert_int_equal(ny, 0);
  assert_true(spd_machine_neighbour(m, 0, 0, SPD_LINK_SW, &nx, &ny));
  assert_int_equal(nx, 1);
  assert_int_equal(ny, 1);
  assert_true(spd_machine_chip(m, 0, 0)->ethernet);
  assert_int_equal(spd_machine_links(m), 24);
  assert_links_symmetric(m);
  spd_machine_free(m);
}

/* Chips of the board of each Ethernet chip of one triad, checked against
 * rig's SPINN5_ETH_OFFSET table at a few positions. */
static void triad_boards_tile_the_torus(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_machine_t *m = make(&ctx, "3boards");
  assert_int_equal(m->n_chips, 144);
  assert_int_equal(m->n_boards, 3);
  assert_int_equal(m->width, 12);
  assert_int_equal(m->height, 12);
  static const int eth[3][2] = {{0, 0}, {4, 8}, {8, 4}};
  for (int b = 0; b < 3; b++) {
    int count = 0;
    for (uint32_t i = 0; i < m->n_chips; i++)
      count += m->chips[i].eth_x == eth[b][0] && m->chips[i].eth_y == eth[b][1];
    assert_int_equal(count, 48);
    assert_true(spd_machine_chip(m, eth[b][0], eth[b][1])->ethernet);
  }
  static const int probe[][4] = {{5, 0, 4, 8},  {0, 4, 8, 4},  {11, 11, 4, 8}, {4, 7, 0, 0},
                                 {0, 11, 8, 4}, {11, 0, 4, 8}, {8, 3, 4, 8},   {8, 4, 8, 4},
                                 {3, 11, 8, 4}, {4, 11, 4, 8}, {7, 3, 0, 0}};
  for (size_t i = 0; i < sizeof probe / sizeof probe[0]; i++) {
    const spd_chip_t *c = spd_machine_chip(m, probe[i][0], probe[i][1]);
    assert_int_equal(c->eth_x, probe[i][2]);
    assert_int_equal(c->eth_y, probe[i][3]);
  }
  int nx, ny;
  /* Wrap-around: the E neighbour of the right edge is column 0, the N
   * neighbour of the top row is row 0, NE of the top-right corner is (0,0). */
  assert_true(spd_machine_neighbour(m, 11, 5, SPD_LINK_E, &nx, &ny));
  assert_int_equal(nx, 0);
  assert_int_equal(ny, 5);
  assert_true(spd_machine_neighbour(m, 3, 11, SPD_LINK_N, &nx, &ny));
  assert_int_equal(nx, 3);
  assert_int_equal(ny, 0);
  assert_true(spd_machine_neighbour(m, 11, 11, SPD_LINK_NE, &nx, &ny));
  assert_int_equal(nx, 0);
  assert_int_equal(ny, 0);
  assert_true(spd_machine_neighbour(m, 0, 0, SPD_LINK_SW, &nx, &ny));
  assert_int_equal(nx, 11);
  assert_int_equal(ny, 11);
  for (uint32_t i = 0; i < m->n_chips; i++)
    assert_int_equal(m->chips[i].link_mask, 0x3f);
  assert_links_symmetric(m);
  spd_machine_free(m);
}

static void multi_board_tori_are_near_square(void **state) {
  (void)state;
  static const struct {
    const char *name;
    int w, h;
    uint32_t boards;
  } cases[] = {{"6boards", 24, 12, 6},   {"12boards", 24, 24, 12}, {"24boards", 48, 24, 24},
               {"1boards", 8, 8, 1},     {"21boards", 84, 12, 21}, {"48boards", 48, 48, 48}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    spd_ctx_t ctx;
    spd_machine_t *m = make(&ctx, cases[i].name);
    assert_int_equal(m->width, cases[i].w);
    assert_int_equal(m->height, cases[i].h);
    assert_int_equal(m->n_boards, cases[i].boards);
    assert_int_equal(m->n_chips, 48 * cases[i].boards);
    uint32_t eth = 0;
    for (uint32_t c = 0; c < m->n_chips; c++)
      eth += m->chips[c].ethernet;
    assert_int_equal(eth, cases[i].boards);
    assert_links_symmetric(m);
    spd_machine_free(m);
  }
}

static void spinn1m_builds_quickly(void **state) {
  (void)state;
  spd_ctx_t ctx;
  clock_t start = clock();
  spd_machine_t *m = make(&ctx, "spinn1m");
  double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
  print_message("spinn1m built in %.3f s\n", seconds);
  assert_int_equal(m->n_chips, 57600);
  assert_int_equal(m->n_boards, 1200);
  assert_int_equal(m->width, 240);
  assert_int_equal(m->height, 240);
  assert_int_equal(spd_machine_app_cores(m), 57600u * 17u);
  assert_int_equal(spd_machine_links(m), 57600u * 6u);
  uint32_t eth = 0;
  for (uint32_t c = 0; c < m->n_chips; c++)
    eth += m->chips[c].ethernet;
  assert_int_equal(eth, 1200);
  assert_links_symmetric(m);
  /* Half-way round the torus in both dimensions: 120 hops. */
  assert_int_equal(spd_machine_hops(m, 0, 0, 120, 120), 120);
  assert_int_equal(spd_machine_hops(m, 0, 0, 239, 239), 1);
  assert_int_equal(spd_machine_hops(m, 0, 0, 120, 0), 120);
  spd_machine_free(m);
}

static void torus_by_size(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_machine_t *m = make(&ctx, "5x3");
  assert_int_equal(m->n_chips, 15);
  assert_int_equal(m->width, 5);
  assert_int_equal(m->height, 3);
  assert_links_symmetric(m);
  spd_machine_free(m);
}

static void bad_machine_names_are_refused(void **state) {
  (void)state;
  static const char *const bad[] = {"foo",  "2boards", "0boards", "x3",       "3x",
                                    "0x4",  "300x2",   "boards",  "-3boards", "spinn5x",
                                    "3x-2", "1e3boards", "9999999boards", "1200x", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    spd_ctx_t ctx;
    spd_ctx_init(&ctx);
    spd_machine_t *m = (spd_machine_t *)&ctx;
    assert_int_equal(spd_machine_new(&ctx, bad[i], &m), SPD_EINVAL);
    assert_ptr_equal(m, (spd_machine_t *)&ctx); /* output untouched */
    if (bad[i][0])
      assert_non_null(strstr(spd_ctx_message(&ctx), bad[i]));
  }
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m;
  assert_int_equal(spd_machine_new(&ctx, "2boards", &m), SPD_EINVAL);
  assert_non_null(strstr(spd_ctx_message(&ctx), "multiple of 3"));
  assert_int_equal(spd_machine_new(&ctx, "69boards", &m), SPD_EINVAL); /* 23 triads: 276 wide */
  assert_non_null(strstr(spd_ctx_message(&ctx), "256"));
}

static void hop_distances_by_hand(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_machine_t *board = make(&ctx, "spinn5");
  assert_int_equal(spd_machine_hops(board, 0, 0, 0, 0), 0);
  assert_int_equal(spd_machine_hops(board, 0, 0, 1, 1), 1); /* NE */
  assert_int_equal(spd_machine_hops(board, 0, 0, 2, 1), 2); /* NE, E */
  assert_int_equal(spd_machine_hops(board, 1, 0, 0, 1), 2); /* N, W */
  assert_int_equal(spd_machine_hops(board, 0, 0, 7, 7), 7);
  assert_int_equal(spd_machine_hops(board, 0, 3, 4, 0), 7); /* E x4, S x3 */
  assert_int_equal(spd_machine_hops(board, 7, 7, 0, 0), 7);
  int dx, dy, dz;
  spd_machine_offset(board, 0, 0, 1, 1, &dx, &dy, &dz);
  assert_int_equal(dx, 0); /* (1,1) is one step along -z: NE */
  assert_int_equal(dy, 0);
  assert_int_equal(dz, -1);
  spd_machine_offset(board, 0, 0, 3, 1, &dx, &dy, &dz);
  assert_int_equal(dx, 2);
  assert_int_equal(dy, 0);
  assert_int_equal(dz, -1);
  spd_machine_offset(board, 1, 1, 0, 0, &dx, &dy, &dz);
  assert_int_equal(dz, 1); /* SW */
  spd_machine_free(board);

  spd_machine_t *t = make(&ctx, "12x12");
  assert_int_equal(spd_machine_hops(t, 0, 0, 11, 11), 1); /* SW over both wraps */
  assert_int_equal(spd_machine_hops(t, 0, 0, 11, 0), 1);  /* W */
  assert_int_equal(spd_machine_hops(t, 0, 0, 0, 11), 1);  /* S */
  assert_int_equal(spd_machine_hops(t, 0, 0, 6, 6), 6);
  assert_int_equal(spd_machine_hops(t, 0, 0, 6, 0), 6);
  assert_int_equal(spd_machine_hops(t, 0, 0, 1, 11), 2);  /* E, S */
  assert_int_equal(spd_machine_hops(t, 0, 0, 11, 1), 2);  /* W, N */
  assert_int_equal(spd_machine_hops(t, 2, 3, 10, 9), 6);  /* (-4,-6): SW x4, S x2 */
  assert_int_equal(spd_machine_hops(t, 0, 0, 8, 4), 8);   /* (8,4) or (-4,4): both 8 */
  spd_machine_offset(t, 0, 0, 11, 11, &dx, &dy, &dz);
  assert_int_equal(dx, 0);
  assert_int_equal(dy, 0);
  assert_int_equal(dz, 1);
  spd_machine_free(t);
}

static void hops_equal_breadth_first_search(void **state) {
  (void)state;
  static const char *const names[] = {"spinn5", "spinn3", "3boards", "6boards", "5x3",
                                      "7x4",    "1x1",    "2x9"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    spd_ctx_t ctx;
    spd_machine_t *m = make(&ctx, names[i]);
    assert_hops_match_bfs(m);
    spd_machine_free(m);
  }
}

static void link_names_parse(void **state) {
  (void)state;
  for (int l = 0; l < SPD_LINKS; l++) {
    assert_int_equal(spd_link_parse(spd_link_name((spd_link_t)l)), l);
    char digit[2] = {(char)('0' + l), 0};
    assert_int_equal(spd_link_parse(digit), l);
  }
  assert_int_equal(spd_link_parse("ne"), SPD_LINK_NE);
  assert_int_equal(spd_link_parse("6"), -1);
  assert_int_equal(spd_link_parse("NNE"), -1);
  assert_int_equal(spd_link_parse(""), -1);
  assert_int_equal(spd_link_opposite(SPD_LINK_E), SPD_LINK_W);
  assert_int_equal(spd_link_opposite(SPD_LINK_SW), SPD_LINK_NE);
  /* The steps of SPINNAKER.md §4; opposite links step back. */
  assert_int_equal(spd_link_dx(SPD_LINK_NE), 1);
  assert_int_equal(spd_link_dy(SPD_LINK_NE), 1);
  assert_int_equal(spd_link_dx(SPD_LINK_N), 0);
  assert_int_equal(spd_link_dy(SPD_LINK_N), 1);
  assert_int_equal(spd_link_dx(SPD_LINK_W), -1);
  assert_int_equal(spd_link_dy(SPD_LINK_W), 0);
  for (int l = 0; l < SPD_LINKS; l++) {
    spd_link_t o = spd_link_opposite((spd_link_t)l);
    assert_int_equal(spd_link_dx((spd_link_t)l) + spd_link_dx(o), 0);
    assert_int_equal(spd_link_dy((spd_link_t)l) + spd_link_dy(o), 0);
  }
}

/* The faults used by several tests, in both forms. */
static const char text_faults[] =
    "# a chip, a core, a link and a dead monitor\n"
    "chip 1 1\n"
    "core 2 2 5   # application core 5\n"
    "\n"
    "link 3 3 E\n"
    "core 4 4 0\n";
static const char json_faults[] =
    "{\"dead_chips\": [[1, 1]], \"dead_cores\": [[2, 2, 5], [4, 4, 0]],\n"
    " \"dead_links\": [[3, 3, \"E\"]]}";

static void assert_fault_effects(const spd_machine_t *m) {
  assert_int_equal(m->n_chips, 46);
  assert_null(spd_machine_chip(m, 1, 1));
  assert_null(spd_machine_chip(m, 4, 4)); /* dead monitor: chip unusable */
  assert_int_equal(spd_machine_chip_index(m, 1, 1), -1);
  assert_int_equal(spd_machine_app_cores(m), 816 - 17 - 17 - 1);
  assert_int_equal(spd_chip_app_cores(spd_machine_chip(m, 2, 2)), 16);
  assert_false(spd_machine_chip(m, 2, 2)->core_mask & (1u << 5));
  int nx, ny;
  /* Neighbours of the dead chip lost their links to it. */
  assert_false(spd_machine_neighbour(m, 0, 0, SPD_LINK_NE, &nx, &ny));
  assert_false(spd_machine_neighbour(m, 2, 1, SPD_LINK_W, &nx, &ny));
  assert_false(spd_machine_neighbour(m, 1, 2, SPD_LINK_S, &nx, &ny));
  assert_true(spd_machine_neighbour(m, 0, 0, SPD_LINK_E, &nx, &ny));
  /* The dead link is gone both ways; other links of (3,3) work. */
  assert_false(spd_machine_neighbour(m, 3, 3, SPD_LINK_E, &nx, &ny));
  assert_false(spd_machine_neighbour(m, 4, 3, SPD_LINK_W, &nx, &ny));
  assert_true(spd_machine_neighbour(m, 3, 3, SPD_LINK_N, &nx, &ny));
  /* A chip with a dead core keeps its links, except towards dead chips. */
  assert_false(spd_machine_neighbour(m, 2, 2, SPD_LINK_SW, &nx, &ny));
  assert_true(spd_machine_neighbour(m, 2, 2, SPD_LINK_NE, &nx, &ny));
  /* 240 directed links minus 12 for each of the two dead (interior) chips
   * and 2 for the dead link. */
  assert_int_equal(spd_machine_links(m), 240 - 12 - 12 - 2);
  assert_int_equal(spd_machine_sdram(m), 46ull * SPD_SDRAM_BYTES);
  /* The dense array stays in x-major order and chip_at agrees with it. */
  for (uint32_t i = 0; i < m->n_chips; i++) {
    assert_int_equal(spd_machine_chip_index(m, m->chips[i].x, m->chips[i].y), (int32_t)i);
    if (i)
      assert_true(m->chips[i - 1].x < m->chips[i].x ||
                  (m->chips[i - 1].x == m->chips[i].x && m->chips[i - 1].y < m->chips[i].y));
  }
  assert_links_symmetric(m);
}

static void text_faults_remove_parts(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_machine_t *m = make(&ctx, "spinn5");
  assert_int_equal(spd_machine_apply_faults(m, text_faults), 0);
  assert_fault_effects(m);
  spd_machine_free(m);
}

static void json_faults_remove_parts(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_machine_t *m = make(&ctx, "spinn5");
  if (spd_machine_apply_faults(m, json_faults))
    fail_msg("%s", spd_ctx_message(&ctx));
  assert_fault_effects(m);
  spd_machine_free(m);
}

static void a_dead_link_on_a_torus_edge(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_machine_t *m = make(&ctx, "3boards");
  assert_int_equal(spd_machine_apply_faults(m, "link 11 4 E\nlink 0 0 4\n"), 0);
  int nx, ny;
  assert_false(spd_machine_neighbour(m, 11, 4, SPD_LINK_E, &nx, &ny));
  assert_false(spd_machine_neighbour(m, 0, 4, SPD_LINK_W, &nx, &ny));
  assert_false(spd_machine_neighbour(m, 11, 11, SPD_LINK_NE, &nx, &ny));
  assert_int_equal(spd_machine_links(m), 864 - 4);
  assert_int_equal(m->n_chips, 144);
  assert_links_symmetric(m);
  spd_machine_free(m);
}

/* Each malformed description fails with the code and a diagnostic that
 * contains the expected words, and leaves the machine as it was. */
static void malformed_faults_are_rejected(void **state) {
  (void)state;
  static const struct {
    const char *text;
    int err;
    const char *diag;
  } cases[] = {
      {"chip 1\n", SPD_EFORMAT, "line 1 'chip 1'"},
      {"chip 2 2\nchip a b\n", SPD_EFORMAT, "line 2 'chip a b'"},
      {"chip 1 1 1\n", SPD_EFORMAT, "line 1"},
      {"core 1 1\n", SPD_EFORMAT, "line 1"},
      {"core 1 1 18\n", SPD_EINVAL, "core 18 out of range"},
      {"core 1 1 -1\n", SPD_EINVAL, "core -1"},
      {"link 0 0 X\n", SPD_EFORMAT, "line 1 'link 0 0 X'"},
      {"link 0 0 6\n", SPD_EFORMAT, "line 1"},
      {"wire 1 2\n", SPD_EFORMAT, "expected 'chip X Y'"},
      {"chip 2 2\n\n# fine so far\nchip 9 9\n", SPD_EINVAL, "line 4 'chip 9 9': chip (9,9)"},
      {"chip 7 0\n", SPD_EINVAL, "chip (7,0) is not a working chip of machine 'spinn5'"},
      {"core 0 4 3\n", SPD_EINVAL, "chip (0,4)"},
      {"chip 1.5 2\n", SPD_EFORMAT, "line 1"},
      {"{\"dead_chips\": [[1, 1]\n", SPD_EFORMAT, "syntax"},
      {"{\"dead_chip\": [[1, 1]]}", SPD_EFORMAT, "unknown key \"dead_chip\""},
      {"{\"dead_chips\": [[1, 1, 2]]}", SPD_EFORMAT, "dead_chips[0]"},
      {"{\"dead_cores\": [[1, 1, 2], [1, 1]]}", SPD_EFORMAT, "dead_cores[1]"},
      {"{\"dead_links\": [[1, 1, \"UP\"]]}", SPD_EFORMAT, "dead_links[0]"},
      {"{\"dead_links\": [[1, 1, 7]]}", SPD_EFORMAT, "dead_links[0]"},
      {"{\"dead_chips\": {\"x\": 1}}", SPD_EFORMAT, "must be an array"},
      {"{\"dead_chips\": [[1.5, 1]]}", SPD_EFORMAT, "dead_chips[0]"},
      {"{\"dead_chips\": [[1, 1], [20, 1]]}", SPD_EINVAL, "dead_chips[1]: chip (20,1)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    spd_ctx_t ctx;
    spd_machine_t *m = make(&ctx, "spinn5");
    int err = spd_machine_apply_faults(m, cases[i].text);
    if (err != cases[i].err || !strstr(spd_ctx_message(&ctx), cases[i].diag))
      fail_msg("case %zu: got %s \"%s\", expected %s containing \"%s\"", i, spd_err_name(err),
               spd_ctx_message(&ctx), spd_err_name(cases[i].err), cases[i].diag);
    assert_int_equal(m->n_chips, 48);
    assert_int_equal(spd_machine_app_cores(m), 816);
    assert_int_equal(spd_machine_links(m), 240);
    spd_machine_free(m);
  }
}

static const char *write_file(const char *dir, const char *name, const char *text) {
  static char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return path;
}

static void fault_files_are_read(void **state) {
  (void)state;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", spd_test_tmpdir());
  spd_ctx_t ctx;
  spd_machine_t *m = make(&ctx, "spinn5");
  assert_int_equal(spd_machine_apply_fault_file(m, write_file(dir, "faults.txt", text_faults)), 0);
  assert_fault_effects(m);
  spd_machine_free(m);
  m = make(&ctx, "spinn5");
  assert_int_equal(spd_machine_apply_fault_file(m, write_file(dir, "faults.json", json_faults)), 0);
  assert_fault_effects(m);
  char missing[4200];
  snprintf(missing, sizeof missing, "%s/absent.txt", dir);
  assert_int_equal(spd_machine_apply_fault_file(m, missing), SPD_EIO);
  assert_non_null(strstr(spd_ctx_message(&ctx), "absent.txt"));
  spd_machine_free(m);
  spd_test_rmtree(dir);
}

/* Failing allocation N of building a machine and applying a fault file, for
 * every N until the whole scenario succeeds: no crash, no leak, and a
 * failure is reported as SPD_ENOMEM. */
static void allocation_failures_are_clean(void **state) {
  (void)state;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", spd_test_tmpdir());
  const char *path = write_file(dir, "faults.txt", text_faults);
  bool succeeded = false;
  for (uint64_t n = 1; !succeeded && n < 100; n++) {
    spd_ctx_t ctx;
    spd_ctx_init(&ctx);
    spd_test_alloc_t ta;
    spd_test_alloc_install(&ctx, &ta, n);
    spd_machine_t *m = NULL;
    int err = spd_machine_new(&ctx, "spinn5", &m);
    if (!err)
      err = spd_machine_apply_fault_file(m, path);
    if (err) {
      assert_int_equal(err, SPD_ENOMEM);
      assert_int_equal(ta.failed, 1);
    } else {
      succeeded = ta.failed == 0;
      assert_fault_effects(m);
    }
    spd_machine_free(m);
    assert_int_equal(ta.live, 0);
  }
  assert_true(succeeded);
  spd_test_rmtree(dir);
}

static void expect_reach(const char *name, const char *faults, uint32_t ethernet_alive,
                         uint32_t boards_without, int dead_x, int dead_y, uint32_t unreachable) {
  spd_ctx_t ctx;
  spd_machine_t *m = make(&ctx, name);
  if (faults)
    assert_int_equal(spd_machine_apply_faults(m, faults), 0);
  spd_machine_reach_t r;
  assert_int_equal(spd_machine_reach(m, &r), 0);
  assert_int_equal(r.ethernet_alive, ethernet_alive);
  assert_int_equal(r.boards_without_ethernet, boards_without);
  if (boards_without) {
    assert_int_equal(r.dead_ethernet_x, dead_x);
    assert_int_equal(r.dead_ethernet_y, dead_y);
  }
  assert_int_equal(r.chips_unreachable, unreachable);
  spd_machine_free(m);
}

/* The host's way in: a board without its Ethernet chip is still reached
 * through another board's; one without any, or a chip walled off by dead
 * links, is not. */
static void reach_from_the_host(void **state) {
  (void)state;
  expect_reach("spinn5", NULL, 1, 0, 0, 0, 0);
  expect_reach("3boards", NULL, 3, 0, 0, 0, 0);
  expect_reach("spinn5", "chip 0 0\n", 0, 1, 0, 0, 47);
  expect_reach("3boards", "chip 4 8\n", 2, 1, 4, 8, 0);
  expect_reach("spinn5", "link 0 0 E\nlink 0 0 N\nlink 0 0 NE\n", 1, 0, 0, 0, 47);
  expect_reach("spinn5", "chip 1 0\nchip 1 1\nchip 0 1\n", 1, 0, 0, 0, 44);
  expect_reach("2x2", "chip 0 0\n", 0, 1, 0, 0, 3);
}

/* Building a faulted SpiNN-5 and counting its reach under failing
 * allocations: SPD_ENOMEM and the output untouched, or the whole answer. */
static int reach_call(spd_ctx_t *ctx, void *arg) {
  (void)arg;
  spd_machine_t *m = NULL;
  int err = spd_machine_new(ctx, "spinn5", &m);
  if (!err)
    err = spd_machine_apply_faults(m, "chip 0 0\n");
  spd_machine_reach_t r = {.ethernet_alive = 99};
  if (!err)
    err = spd_machine_reach(m, &r);
  if (err)
    assert_int_equal(r.ethernet_alive, 99);
  else
    assert_int_equal(r.chips_unreachable, 47);
  spd_machine_free(m);
  return err;
}

static void reach_survives_allocation_failures(void **state) {
  (void)state;
  assert_true(spd_test_alloc_each(reach_call, NULL) > 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(spinn5_is_the_48_chip_board),
      cmocka_unit_test(spinn3_is_a_wrapped_2x2),
      cmocka_unit_test(triad_boards_tile_the_torus),
      cmocka_unit_test(multi_board_tori_are_near_square),
      cmocka_unit_test(spinn1m_builds_quickly),
      cmocka_unit_test(torus_by_size),
      cmocka_unit_test(bad_machine_names_are_refused),
      cmocka_unit_test(hop_distances_by_hand),
      cmocka_unit_test(hops_equal_breadth_first_search),
      cmocka_unit_test(link_names_parse),
      cmocka_unit_test(text_faults_remove_parts),
      cmocka_unit_test(json_faults_remove_parts),
      cmocka_unit_test(a_dead_link_on_a_torus_edge),
      cmocka_unit_test(malformed_faults_are_rejected),
      cmocka_unit_test(fault_files_are_read),
      cmocka_unit_test(allocation_failures_are_clean),
      cmocka_unit_test(reach_from_the_host),
      cmocka_unit_test(reach_survives_allocation_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
