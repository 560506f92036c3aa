/* map/keys.c: aligned, disjoint, power-of-two key blocks; groups laid out
 * together; the 32-bit key space running out. */
#include "test_support.h"

#include <stdlib.h>
#include <string.h>

#include "spindle/map_route.h"
#include "spindle/rng.h"

static int cmp_block(const void *a, const void *b) {
  const spd_key_block_t *x = a, *y = b;
  return (x->base > y->base) - (x->base < y->base);
}

/* Every block aligned to its power-of-two size, large enough, its mask
 * covering exactly the block, and no two blocks overlapping. */
static void check_blocks(const spd_map_net_t *nets, const spd_key_block_t *blocks, uint32_t n) {
  spd_key_block_t *sorted = malloc(n * sizeof *sorted);
  assert_non_null(sorted);
  for (uint32_t i = 0; i < n; i++) {
    uint64_t size = spd_key_block_size(&blocks[i]);
    assert_true((size & (size - 1)) == 0);
    assert_true(size >= nets[i].n_keys);
    assert_int_equal(blocks[i].base % size, 0);
    assert_int_equal(blocks[i].n_keys, nets[i].n_keys);
    /* Every key of the block matches (key & mask) == base, none outside. */
    assert_int_equal(blocks[i].base & blocks[i].mask, blocks[i].base);
    assert_int_equal((uint32_t)(blocks[i].base + (nets[i].n_keys - 1)) & blocks[i].mask,
                     blocks[i].base);
    sorted[i] = blocks[i];
  }
  qsort(sorted, n, sizeof *sorted, cmp_block);
  for (uint32_t i = 1; i < n; i++)
    assert_true((uint64_t)sorted[i - 1].base + spd_key_block_size(&sorted[i - 1]) <=
                sorted[i].base);
  free(sorted);
}

static void random_nets_get_aligned_disjoint_blocks(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_rng_t rng;
  spd_rng_init(&rng, 7, 0);
  for (int round = 0; round < 50; round++) {
    uint32_t n = 1 + spd_rng_below(&rng, 200);
    spd_map_net_t *nets = calloc(n, sizeof *nets);
    spd_key_block_t *blocks = calloc(n, sizeof *blocks);
    for (uint32_t i = 0; i < n; i++) {
      nets[i].n_keys = 1 + spd_rng_below(&rng, 1u << spd_rng_below(&rng, 16));
      nets[i].group = spd_rng_below(&rng, 8);
    }
    assert_int_equal(spd_map_keys_allocate(&ctx, nets, n, blocks), 0);
    check_blocks(nets, blocks, n);
    free(nets);
    free(blocks);
  }
}

/* The nets of one group share a region and differ only in the index field,
 * so a chip routing all of them alike can merge them into one entry. */
static void group_is_one_region_indexed_by_net(void **state) {
  (void)state;
  spd_map_net_t nets[6] = {
      {.n_keys = 100, .group = 5}, {.n_keys = 3, .group = 9},  {.n_keys = 128, .group = 5},
      {.n_keys = 1, .group = 5},   {.n_keys = 70, .group = 5}, {.n_keys = 2, .group = 9},
  };
  spd_key_block_t b[6];
  assert_int_equal(spd_map_keys_allocate(NULL, nets, 6, b), 0);
  check_blocks(nets, b, 6);
  /* Group 5: four nets of up to 128 keys -> one 512-key region, 128 each,
   * in input order. */
  uint32_t region = b[0].base;
  assert_int_equal(region % 512, 0);
  assert_int_equal(b[0].mask, ~127u);
  assert_int_equal(b[2].base, region + 128);
  assert_int_equal(b[3].base, region + 256);
  assert_int_equal(b[4].base, region + 384);
  assert_int_equal(b[3].mask, ~127u);
  /* Group 9: two nets of up to 3 keys -> 4-key blocks side by side. */
  assert_int_equal(b[1].mask, ~3u);
  assert_int_equal(b[5].base, b[1].base + 4);
  assert_int_equal(b[1].base % 8, 0);
}

/* A group whose uniform layout overflows falls back to per-net blocks. */
static void uneven_group_falls_back_to_packed_blocks(void **state) {
  (void)state;
  spd_map_net_t nets[4] = {
      {.n_keys = 1u << 31, .group = 1}, {.n_keys = 1, .group = 1},
      {.n_keys = 5, .group = 1},        {.n_keys = 1u << 30, .group = 2},
  };
  spd_key_block_t b[4];
  assert_int_equal(spd_map_keys_allocate(NULL, nets, 4, b), 0);
  check_blocks(nets, b, 4);
  assert_int_equal(b[1].mask, 0xFFFFFFFFu);
  assert_int_equal(b[2].mask, ~7u);
}

static void key_space_exhaustion_is_an_error(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_map_net_t nets[3] = {{.n_keys = 1u << 31}, {.n_keys = 1u << 31}, {.n_keys = 1}};
  spd_key_block_t b[3];
  memset(b, 0xAB, sizeof b);
  assert_int_equal(spd_map_keys_allocate(&ctx, nets, 3, b), SPD_ERANGE);
  assert_non_null(strstr(spd_ctx_message(&ctx), "4294967297 keys"));
  assert_non_null(strstr(spd_ctx_message(&ctx), "32-bit"));
  assert_int_equal(b[0].base, 0xABABABABu); /* outputs untouched */
  /* Exactly the whole space fits. */
  assert_int_equal(spd_map_keys_allocate(&ctx, nets, 2, b), 0);
  check_blocks(nets, b, 2);
}

static void zero_keys_rejected(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_map_net_t nets[2] = {{.n_keys = 4}, {.source = {2, 3, 4}, .n_keys = 0}};
  spd_key_block_t b[2];
  assert_int_equal(spd_map_keys_allocate(&ctx, nets, 2, b), SPD_EINVAL);
  assert_non_null(strstr(spd_ctx_message(&ctx), "net 1"));
  assert_non_null(strstr(spd_ctx_message(&ctx), "(2,3)"));
}

static void allocation_failures_do_not_leak(void **state) {
  (void)state;
  spd_map_net_t nets[5] = {{.n_keys = 4}, {.n_keys = 9, .group = 1}, {.n_keys = 1}};
  for (int i = 3; i < 5; i++)
    nets[i].n_keys = 17;
  int failed_runs = 0;
  for (uint64_t fail = 1; fail < 10; fail++) {
    spd_ctx_t ctx;
    spd_ctx_init(&ctx);
    spd_test_alloc_t ta;
    spd_test_alloc_install(&ctx, &ta, fail);
    spd_key_block_t b[5];
    int rc = spd_map_keys_allocate(&ctx, nets, 5, b);
    assert_int_equal(rc, ta.failed ? SPD_ENOMEM : 0);
    if (rc == 0)
      check_blocks(nets, b, 5);
    assert_int_equal(ta.live, 0);
    failed_runs += ta.failed > 0;
  }
  /* The allocator does allocate, so the loop exercised some failures. */
  assert_true(failed_runs > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(random_nets_get_aligned_disjoint_blocks),
      cmocka_unit_test(group_is_one_region_indexed_by_net),
      cmocka_unit_test(uneven_group_falls_back_to_packed_blocks),
      cmocka_unit_test(key_space_exhaustion_is_an_error),
      cmocka_unit_test(zero_keys_rejected),
      cmocka_unit_test(allocation_failures_do_not_leak),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
