/* The routing half of the compiler against the emulator: nets routed on a
 * SpiNN-5 board with dead links and a dead chip, tables minimised as far as
 * they go (merged entries, default routing) and loaded through the
 * transceiver; source cores send every key of their net and each sink core
 * must receive exactly the keys of the nets it belongs to, nothing else,
 * with zero drops. */
#include "test_support.h"

#include <stdlib.h>
#include <string.h>

#include "emu_kernels.h"
#include "spindle/map_route.h"
#include "spindle/rng.h"
#include "spindle/transceiver.h"

#define SINK_MAX_KEYS 128

typedef struct sink_params {
  uint32_t deadline_us;
  uint32_t result_addr;
} sink_params_t;

typedef struct sink_result {
  uint32_t count;
  uint32_t keys[SINK_MAX_KEYS];
} sink_result_t;

typedef struct sink_state {
  sink_params_t p;
  sink_result_t r;
} sink_state_t;

/* route_sink: log every key received; report at the deadline. */
static void sink_packet(spd_core_t *core, uint32_t key, uint32_t payload) {
  (void)payload;
  sink_state_t *s = spd_core_get_state(core);
  if (s->r.count < SINK_MAX_KEYS)
    s->r.keys[s->r.count] = key;
  s->r.count++;
}

static void sink_tick(spd_core_t *core, uint32_t tick, uint32_t unused) {
  (void)tick;
  (void)unused;
  sink_state_t *s = spd_core_get_state(core);
  if (spd_core_time_us(core) < s->p.deadline_us)
    return;
  spd_core_sdram_write(core, s->p.result_addr, &s->r, sizeof s->r);
  spd_core_exit(core, 0);
}

static int sink_main(spd_core_t *core, uint32_t params_addr) {
  sink_state_t *s = spd_core_dtcm_alloc(core, sizeof *s);
  if (!s || spd_core_sdram_read(core, params_addr, &s->p, sizeof s->p))
    return SPD_EINVAL;
  spd_core_set_state(core, s);
  spd_core_callback_on(core, SPD_EVENT_MC_PACKET, sink_packet, 1);
  spd_core_callback_on(core, SPD_EVENT_MCPL_PACKET, sink_packet, 1);
  spd_core_callback_on(core, SPD_EVENT_TIMER_TICK, sink_tick, 2);
  spd_core_set_timer_us(core, 20);
  return 0;
}

static const spd_kernel_t SINK_KERNEL = {"route_sink", sink_main};

enum { N_NETS = 12, MAX_SINKS = 6 };

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

/* Sources on cores 1..3 of distinct chips, sinks on cores 4..17, so every
 * core runs one kernel. */
static void make_nets(const spd_machine_t *m, spd_map_net_t *nets, spd_map_core_t *sinks) {
  spd_rng_t rng;
  spd_rng_init(&rng, 11, 0);
  uint32_t order[64];
  for (uint32_t i = 0; i < m->n_chips; i++)
    order[i] = i;
  spd_rng_shuffle_u32(&rng, order, m->n_chips);
  for (uint32_t i = 0; i < N_NETS; i++) {
    const spd_chip_t *src = &m->chips[order[i]];
    spd_map_core_t *s = &sinks[i * MAX_SINKS];
    uint32_t n = 0;
    while (n < 1 + i % MAX_SINKS) {
      const spd_chip_t *chip = &m->chips[spd_rng_below(&rng, m->n_chips)];
      uint8_t core = (uint8_t)(4 + spd_rng_below(&rng, 14));
      bool dup = !(chip->core_mask & (1u << core));
      for (uint32_t j = 0; j < n; j++)
        dup |= s[j].x == chip->x && s[j].y == chip->y && s[j].core == core;
      if (!dup)
        s[n++] = (spd_map_core_t){chip->x, chip->y, core};
    }
    nets[i] = (spd_map_net_t){{src->x, src->y, (uint8_t)(1 + i % 3)}, 1 + spd_rng_below(&rng, 12),
                              i % 3, s, n};
  }
}

/* Every table minimised as far as the chain goes, then loaded. */
static void load_tables(spd_transceiver_t *tx, spd_map_tables_t *tables, uint32_t *before,
                        uint32_t *entries) {
  *before = *entries = 0;
  for (uint32_t c = 0; c < tables->n_chips; c++) {
    *before += tables->chips[c].n;
    assert_int_equal(spd_map_table_minimise(tx->ctx, &tables->chips[c], 0), 0);
    *entries += tables->chips[c].n;
  }
  assert_int_equal(spd_map_tables_load(tx, tables), 0);
  spd_run_counters_t rc;
  assert_int_equal(spd_tx_run_counters(tx, &rc), 0);
  assert_int_equal(rc.max_router_entries, spd_map_tables_max_entries(tables));
}

static uint32_t place(spd_transceiver_t *tx, const spd_map_core_t *c, const char *kernel,
                      const void *params, size_t params_len, size_t result_len) {
  uint32_t addr;
  assert_int_equal(spd_tx_sdram_alloc(tx, c->x, c->y, (uint32_t)(params_len + result_len), &addr),
                   0);
  assert_int_equal(spd_tx_write_sdram(tx, c->x, c->y, addr, params, params_len), 0);
  assert_int_equal(spd_tx_load_kernel(tx, c->x, c->y, c->core, kernel, addr), 0);
  return addr + (uint32_t)params_len;
}

/* The keys a sink core must receive: every key of every net it sinks. */
static uint32_t expected_keys(const spd_map_net_t *nets, const spd_key_block_t *keys,
                              const spd_map_core_t *c, uint32_t *out) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < N_NETS; i++)
    for (uint32_t s = 0; s < nets[i].n_sinks; s++)
      if (nets[i].sinks[s].x == c->x && nets[i].sinks[s].y == c->y &&
          nets[i].sinks[s].core == c->core)
        for (uint32_t k = 0; k < nets[i].n_keys; k++)
          out[n++] = keys[i].base + k;
  qsort(out, n, sizeof *out, cmp_u32);
  return n;
}

static void every_sink_gets_exactly_its_keys_on_spinn5_with_faults(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m;
  assert_int_equal(spd_machine_new(&ctx, "spinn5", &m), 0);
  assert_int_equal(spd_machine_apply_faults(m, "link 2 2 E\nlink 3 5 N\nlink 1 0 NE\nchip 5 3\n"),
                   0);
  spd_transceiver_t *tx;
  assert_int_equal(spd_transceiver_new_emulated(&ctx, m, &tx), 0);
  spd_emu_t *emu = spd_transceiver_emulator(tx);
  assert_int_equal(spd_test_register_kernels(emu), 0);
  assert_int_equal(spd_emu_register_kernel(emu, &SINK_KERNEL), 0);

  spd_map_net_t nets[N_NETS];
  spd_map_core_t sinks[N_NETS * MAX_SINKS];
  make_nets(m, nets, sinks);
  spd_map_routing_t r;
  if (spd_map_routing_build(&ctx, m, nets, N_NETS, NULL, &r) < 0)
    fail_msg("routing: %s", spd_ctx_message(&ctx));
  uint32_t built, loaded;
  load_tables(tx, &r.tables, &built, &loaded);

  uint32_t total_keys = 0, deliveries = 0;
  for (uint32_t i = 0; i < N_NETS; i++) {
    spd_test_kparams_t p = {.n_packets = nets[i].n_keys, .key = r.keys[i].base,
                            .key_span = nets[i].n_keys, .period_us = 5, .per_tick = 1};
    place(tx, &nets[i].source, "test_sender", &p, sizeof p, sizeof(spd_test_kresult_t));
    total_keys += nets[i].n_keys;
    deliveries += nets[i].n_keys * nets[i].n_sinks;
  }
  uint32_t result_addr[N_NETS * MAX_SINKS];
  const spd_map_core_t *sink_core[N_NETS * MAX_SINKS];
  uint32_t n_sink_cores = 0;
  for (uint32_t i = 0; i < N_NETS; i++)
    for (uint32_t s = 0; s < nets[i].n_sinks; s++) {
      const spd_map_core_t *c = &nets[i].sinks[s];
      spd_core_status_t st;
      assert_int_equal(spd_tx_core_status(tx, c->x, c->y, c->core, &st), 0);
      if (st.state != SPD_CORE_IDLE)
        continue; /* already placed as a sink of an earlier net */
      sink_params_t p = {.deadline_us = 1000};
      result_addr[n_sink_cores] = place(tx, c, "route_sink", &p, sizeof p, sizeof(sink_result_t));
      /* The result address is only known after allocation: write it now. */
      p.result_addr = result_addr[n_sink_cores];
      assert_int_equal(spd_tx_write_sdram(tx, c->x, c->y, p.result_addr - sizeof p, &p, sizeof p),
                       0);
      sink_core[n_sink_cores++] = c;
    }

  assert_int_equal(spd_tx_start(tx), 0);
  if (spd_tx_wait(tx, 10000000000ull) < 0)
    fail_msg("run: %s", spd_ctx_message(&ctx));

  spd_run_counters_t rc;
  assert_int_equal(spd_tx_run_counters(tx, &rc), 0);
  assert_int_equal(rc.packets_dropped, 0);
  assert_int_equal(rc.packets_sent, total_keys);
  assert_int_equal(rc.packets_delivered, deliveries);
  uint64_t defaulted = 0;
  for (uint32_t c = 0; c < m->n_chips; c++) {
    spd_chip_counters_t cc;
    assert_int_equal(spd_tx_chip_counters(tx, m->chips[c].x, m->chips[c].y, &cc), 0);
    defaulted += cc.default_routed;
  }
  assert_true(defaulted > 0); /* default routing really carried packets */
  assert_true(loaded < built);

  for (uint32_t i = 0; i < n_sink_cores; i++) {
    const spd_map_core_t *c = sink_core[i];
    uint32_t want[N_NETS * 16];
    uint32_t n_want = expected_keys(nets, r.keys, c, want);
    sink_result_t got;
    assert_int_equal(spd_tx_read_sdram(tx, c->x, c->y, result_addr[i], &got, sizeof got), 0);
    if (got.count != n_want)
      fail_msg("core (%u,%u,%u) received %u keys, expected %u", c->x, c->y, c->core, got.count,
               n_want);
    qsort(got.keys, got.count, sizeof got.keys[0], cmp_u32);
    assert_memory_equal(got.keys, want, n_want * sizeof want[0]);
  }
  spd_map_routing_free(&ctx, &r);
  spd_transceiver_free(tx);
  spd_machine_free(m);
}

/* A table the chain could not fit never reaches the machine quietly: the
 * router refuses it, naming the chip and the count. */
static void loading_an_overfull_table_fails_naming_the_chip(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m;
  assert_int_equal(spd_machine_new(&ctx, "spinn5", &m), 0);
  spd_transceiver_t *tx;
  assert_int_equal(spd_transceiver_new_emulated(&ctx, m, &tx), 0);
  spd_map_entry_t *entries = calloc(SPD_ROUTER_ENTRIES, sizeof *entries);
  for (uint32_t i = 0; i < SPD_ROUTER_ENTRIES; i++)
    entries[i] = (spd_map_entry_t){i, ~0u, spd_route_core(1 + i % 17), SPD_MAP_SOURCE_LOCAL};
  spd_map_table_t chips[2] = {{0, 0, 1, 1, entries}, {2, 3, SPD_ROUTER_ENTRIES, 0, entries}};
  spd_map_tables_t tables = {2, chips};
  assert_int_equal(spd_map_tables_load(tx, &tables), SPD_EROUTER);
  assert_non_null(strstr(spd_ctx_message(&ctx), "chip (2,3)"));
  assert_non_null(strstr(spd_ctx_message(&ctx), "1024"));
  chips[1].n = SPD_ROUTER_APP_ENTRIES;
  assert_int_equal(spd_map_tables_load(tx, &tables), 0);
  spd_chip_counters_t cc;
  assert_int_equal(spd_tx_chip_counters(tx, 2, 3, &cc), 0);
  assert_int_equal(cc.router_entries, SPD_ROUTER_APP_ENTRIES);
  free(entries);
  spd_transceiver_free(tx);
  spd_machine_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_sink_gets_exactly_its_keys_on_spinn5_with_faults),
      cmocka_unit_test(loading_an_overfull_table_fails_naming_the_chip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
