/* Routing speed and table sizes: every application core of a machine is the
 * source of one net (KEYS keys) to FANOUT random cores within RADIUS hops
 * (the locality a placer gives) or anywhere on the machine, optionally
 * several nets per core (forward, backward, ... partitions); keys are grouped
 * per source chip (a layer's tiles). Reports, per machine, the host time of
 * key allocation + routing + table building + minimisation to fit the
 * router, the largest table before and after, and the total entries after a
 * full minimisation (every chip through the whole chain). JSON on stdout
 * and in argv[1]. */
#include "bench_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spindle/map_route.h"
#include "spindle/rng.h"

enum { KEYS = 64, FANOUT = 8, RADIUS = 3 };

/* A random working application core within `radius` hops of (x, y), or
 * anywhere when radius is 0. */
static spd_map_core_t pick_sink(const spd_machine_t *m, spd_rng_t *rng, int x, int y,
                                int radius) {
  for (;;) {
    const spd_chip_t *c = &m->chips[spd_rng_below(rng, m->n_chips)];
    unsigned core = 1 + spd_rng_below(rng, SPD_CORES_PER_CHIP - 1);
    if (!(c->core_mask & (1u << core)))
      continue;
    if (radius > 0 && spd_machine_hops(m, x, y, c->x, c->y) > radius)
      continue;
    return (spd_map_core_t){c->x, c->y, (uint8_t)core};
  }
}

typedef struct result {
  double route_s, full_minimise_s;
  uint32_t nets, max_before, max_after, total_built, total_min;
} result_t;

static int run(const char *machine, int radius, uint32_t per_core, result_t *res) {
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_machine_t *m;
  if (spd_machine_new(&ctx, machine, &m) < 0)
    return fprintf(stderr, "%s\n", spd_ctx_message(&ctx)), -1;
  uint32_t n = spd_machine_app_cores(m) * per_core;
  spd_map_net_t *nets = calloc(n, sizeof *nets);
  spd_map_core_t *sinks = calloc((size_t)n * FANOUT, sizeof *sinks);
  spd_rng_t rng;
  spd_rng_init(&rng, 42, 0);
  uint32_t k = 0;
  for (uint32_t c = 0; c < m->n_chips; c++)
    for (unsigned core = 1; core < SPD_CORES_PER_CHIP * per_core; core++) {
      if (core % SPD_CORES_PER_CHIP == 0 ||
          !(m->chips[c].core_mask & (1u << (core % SPD_CORES_PER_CHIP))))
        continue;
      for (int s = 0; s < FANOUT; s++)
        sinks[(size_t)k * FANOUT + s] = pick_sink(m, &rng, m->chips[c].x, m->chips[c].y, radius);
      nets[k] = (spd_map_net_t){{m->chips[c].x, m->chips[c].y,
                                 (uint8_t)(core % SPD_CORES_PER_CHIP)}, KEYS, c,
                                &sinks[(size_t)k * FANOUT], FANOUT};
      k++;
    }
  double t0 = spd_bench_wall_seconds();
  spd_map_routing_t r;
  int rc = spd_map_routing_build(&ctx, m, nets, n, NULL, &r);
  double t1 = spd_bench_wall_seconds();
  if (rc == 0) {
    uint32_t built = 0, after = 0;
    for (uint32_t c = 0; c < r.tables.n_chips; c++)
      built += r.tables.chips[c].n;
    double t2 = spd_bench_wall_seconds();
    for (uint32_t c = 0; c < r.tables.n_chips && rc == 0; c++) {
      rc = spd_map_table_minimise(&ctx, &r.tables.chips[c], 0);
      after += r.tables.chips[c].n;
    }
    double t3 = spd_bench_wall_seconds();
    *res = (result_t){t1 - t0, t3 - t2, n, r.entries_before, r.entries_after, built, after};
    spd_map_routing_free(&ctx, &r);
  }
  if (rc < 0)
    fprintf(stderr, "%s: %s\n", machine, spd_ctx_message(&ctx));
  free(nets);
  free(sinks);
  spd_machine_free(m);
  return rc;
}

int main(int argc, char **argv) {
  static const struct {
    const char *machine;
    int radius;
    uint32_t per_core; /* nets (outgoing partitions) per core */
  } cases[] = {{"spinn5", RADIUS, 1}, {"spinn5", 0, 1}, {"spinn5", 0, 4}, {"12boards", RADIUS, 1}};
  char json[4096];
  size_t len = (size_t)snprintf(json, sizeof json,
                                "{\"benchmark\": \"map_route\", \"keys_per_net\": %d, "
                                "\"fanout\": %d, \"cases\": [",
                                KEYS, FANOUT);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    result_t r = {0};
    if (run(cases[i].machine, cases[i].radius, cases[i].per_core, &r) < 0)
      return 1;
    len += (size_t)snprintf(
        json + len, sizeof json - len,
        "%s\n  {\"machine\": \"%s\", \"sink_radius\": %d, \"nets_per_core\": %u, \"nets\": %u, "
        "\"route_and_fit_seconds\": %.4f, \"max_entries_built\": %u, "
        "\"max_entries_loaded\": %u, \"total_entries_built\": %u, "
        "\"total_entries_fully_minimised\": %u, \"full_minimise_seconds\": %.4f}",
        i ? "," : "", cases[i].machine, cases[i].radius, cases[i].per_core, r.nets, r.route_s, r.max_before,
        r.max_after, r.total_built, r.total_min, r.full_minimise_s);
  }
  snprintf(json + len, sizeof json - len, "\n]}\n");
  fputs(json, stdout);
  if (argc > 1 && spd_bench_write_json(argv[1], json)) {
    fprintf(stderr, "bench_map_route: cannot write %s\n", argv[1]);
    return 1;
  }
  return 0;
}
