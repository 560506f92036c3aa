/* Emulator speed: a packet storm over a full SpiNN-5 board. Every
 * application core (816) sends a packet every PERIOD_US to FANOUT cores on
 * other chips (multicast trees along shortest paths, one table entry per
 * tree node) and counts what it receives. Reports emulator events and
 * packets per second of host time as JSON, on stdout and in argv[1]. */
#include "bench_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spindle/emu.h"
#include "spindle/machine.h"

enum { PACKETS = 200, PERIOD_US = 64, FANOUT = 3, RECEIVE_CYCLES = 60 };

typedef struct storm {
  uint32_t key, sent, received;
} storm_t;

static void storm_tick(spd_core_t *core, uint32_t tick, uint32_t unused) {
  (void)unused;
  storm_t *s = spd_core_get_state(core);
  if (s->sent < PACKETS && !spd_core_send_mc(core, s->key, s->sent, true))
    s->sent++;
  if (tick > PACKETS + 20)
    spd_core_exit(core, 0);
}

static void storm_packet(spd_core_t *core, uint32_t key, uint32_t payload) {
  (void)key;
  (void)payload;
  storm_t *s = spd_core_get_state(core);
  s->received++;
  spd_core_charge(core, RECEIVE_CYCLES);
}

static int storm_main(spd_core_t *core, uint32_t key) {
  storm_t *s = spd_core_dtcm_alloc(core, sizeof *s);
  if (!s)
    return SPD_EDTCM;
  s->key = key;
  spd_core_set_state(core, s);
  spd_core_callback_on(core, SPD_EVENT_MCPL_PACKET, storm_packet, 1);
  spd_core_callback_on(core, SPD_EVENT_TIMER_TICK, storm_tick, 2);
  /* Spread the cores' timer phases over the period (as a mapper's pacing
   * would): main's work delays the first tick. */
  spd_core_charge(core, (key * 2654435761u >> 8) % (PERIOD_US * 200u));
  spd_core_set_timer_us(core, PERIOD_US);
  return 0;
}

static const spd_kernel_t storm_kernel = {"bench_storm", storm_main};

typedef struct tables {
  spd_route_entry_t *entries; /* n_chips x SPD_ROUTER_APP_ENTRIES */
  uint32_t *count;
} tables_t;

/* Breadth-first shortest-path tree from chip `src` (parent link per chip). */
static void bfs(const spd_machine_t *m, uint32_t src, int32_t *parent_chip, int8_t *parent_link,
                uint32_t *queue) {
  for (uint32_t i = 0; i < m->n_chips; i++)
    parent_chip[i] = -2;
  parent_chip[src] = -1;
  uint32_t head = 0, tail = 0;
  queue[tail++] = src;
  while (head < tail) {
    uint32_t c = queue[head++];
    for (int l = 0; l < SPD_LINKS; l++) {
      int nx, ny;
      if (!spd_machine_neighbour(m, m->chips[c].x, m->chips[c].y, (spd_link_t)l, &nx, &ny))
        continue;
      int32_t n = spd_machine_chip_index(m, nx, ny);
      if (n < 0 || parent_chip[n] != -2)
        continue;
      parent_chip[n] = (int32_t)c;
      parent_link[n] = (int8_t)l;
      queue[tail++] = (uint32_t)n;
    }
  }
}

/* Add route bits for key on chip c, creating the entry if needed. */
static int add_route(tables_t *t, uint32_t c, uint32_t key, uint32_t bits) {
  spd_route_entry_t *e = &t->entries[(size_t)c * SPD_ROUTER_APP_ENTRIES];
  for (uint32_t i = t->count[c]; i-- > 0;)
    if (e[i].key == key) {
      e[i].route |= bits;
      return 0;
    }
  if (t->count[c] == SPD_ROUTER_APP_ENTRIES)
    return -1;
  e[t->count[c]++] = spd_route_entry(key, 0xFFFFFFFFu, bits);
  return 0;
}

static int build_tables(const spd_machine_t *m, tables_t *t, uint32_t *n_sources) {
  uint32_t n = m->n_chips;
  int32_t *parent = malloc(n * sizeof *parent);
  int8_t *plink = malloc(n);
  uint32_t *queue = malloc(n * sizeof *queue);
  uint64_t x = 0x9E3779B97F4A7C15ull;
  int rc = parent && plink && queue ? 0 : -1;
  *n_sources = 0;
  for (uint32_t c = 0; c < n && !rc; c++) {
    bfs(m, c, parent, plink, queue);
    for (int p = 1; p < SPD_CORES_PER_CHIP && !rc; p++) {
      uint32_t key = (c << 8) | (uint32_t)p;
      (*n_sources)++;
      for (int f = 0; f < FANOUT && !rc; f++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint32_t d = (uint32_t)(x % n);
        if (d == c)
          d = (d + 1) % n;
        int core = 1 + (int)((x >> 32) % (SPD_CORES_PER_CHIP - 1));
        rc = add_route(t, d, key, spd_route_core((unsigned)core));
        for (uint32_t v = d; !rc && parent[v] >= 0; v = (uint32_t)parent[v])
          rc = add_route(t, (uint32_t)parent[v], key, spd_route_link((unsigned)plink[v]));
      }
    }
  }
  free(parent);
  free(plink);
  free(queue);
  return rc;
}

int main(int argc, char **argv) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m;
  spd_emu_t *emu;
  if (spd_machine_new(&ctx, "spinn5", &m) || spd_emu_new(&ctx, m, &emu) ||
      spd_emu_register_kernel(emu, &storm_kernel)) {
    fprintf(stderr, "bench_emu_storm: %s\n", spd_ctx_message(&ctx));
    return 1;
  }
  tables_t t = {calloc((size_t)m->n_chips * SPD_ROUTER_APP_ENTRIES, sizeof *t.entries),
                calloc(m->n_chips, sizeof *t.count)};
  uint32_t sources, max_entries = 0;
  if (!t.entries || !t.count || build_tables(m, &t, &sources)) {
    fprintf(stderr, "bench_emu_storm: could not build the routing tables\n");
    return 1;
  }
  for (uint32_t c = 0; c < m->n_chips; c++) {
    const spd_chip_t *chip = &m->chips[c];
    if (t.count[c] > max_entries)
      max_entries = t.count[c];
    if (spd_emu_load_routes(emu, chip->x, chip->y, &t.entries[(size_t)c * SPD_ROUTER_APP_ENTRIES],
                            t.count[c]))
      goto fail;
    for (int p = 1; p < SPD_CORES_PER_CHIP; p++)
      if (spd_emu_load_kernel(emu, chip->x, chip->y, p, "bench_storm", (c << 8) | (uint32_t)p))
        goto fail;
  }
  double t0 = spd_bench_cpu_seconds();
  if (spd_emu_start(emu) || spd_emu_run(emu, 1000000000000ull))
    goto fail;
  double host = spd_bench_cpu_seconds() - t0;
  spd_run_counters_t rc;
  spd_emu_run_counters(emu, &rc);
  char json[2048];
  snprintf(json, sizeof json,
           "{\"bench\": \"emu_storm\", \"machine\": \"spinn5\", \"cores\": %u, "
           "\"fanout\": %d, \"period_us\": %d, \"max_router_entries\": %u, "
           "\"packets_sent\": %llu, \"packets_delivered\": %llu, \"packets_dropped\": %llu, "
           "\"events\": %llu, \"host_cpu_seconds\": %.4f, \"events_per_second\": %.0f, "
           "\"host_ns_per_packet_sent\": %.1f, \"host_ns_per_delivery\": %.1f, "
           "\"simulated_seconds\": %.6f, \"energy_joules\": %.6f}\n",
           sources, FANOUT, PERIOD_US, max_entries, (unsigned long long)rc.packets_sent,
           (unsigned long long)rc.packets_delivered, (unsigned long long)rc.packets_dropped,
           (unsigned long long)rc.events, host, (double)rc.events / host,
           host * 1e9 / (double)rc.packets_sent, host * 1e9 / (double)rc.packets_delivered,
           (double)rc.sim_time_ps * 1e-12, rc.energy_joules);
  fputs(json, stdout);
  if (argc > 1 && spd_bench_write_json(argv[1], json)) {
    fprintf(stderr, "bench_emu_storm: cannot write %s\n", argv[1]);
    return 1;
  }
  free(t.entries);
  free(t.count);
  spd_emu_free(emu);
  spd_machine_free(m);
  return 0;
fail:
  fprintf(stderr, "bench_emu_storm: %s\n", spd_ctx_message(&ctx));
  return 1;
}
