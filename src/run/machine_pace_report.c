/* A diagnostic of where a machine run's simulated time went
 * (spd_machine_run_opts_t.pace_report, docs/conv-on-machine.md "Where the time goes"):
 * per vertex its busy cycles, the cycles its paced sends take, and the
 * partition whose sends take longest with what set its pace. */
#include "run/machine_pace_report.h"

#include <inttypes.h>

static const char *by_name(spd__pace_by_t by) {
  static const char *const names[] = {"own", "core", "router", "link"};
  return names[by];
}

int spd__pace_report(FILE *f, const spd_machine_graph_t *g, const spd_placement_t *place,
                     spd_transceiver_t *tx, const uint32_t *pace, const spd__ds_pace_why_t *why,
                     uint32_t samples, uint64_t sim_ps) {
  uint64_t per_sample = samples ? sim_ps / 5000u / samples : 0; /* 200 MHz */
  fprintf(f, "pace report: %u samples, %" PRIu64 " cycles per sample\n", samples, per_sample);
  fprintf(f, "vertex\tbusy/sample\tpaced sends/sample\tlongest partition\tpackets\tpace\t"
             "set by\tload/sample\tdescription\n");
  for (uint32_t v = 0; v < g->n_vertices; v++) {
    const spd_place_loc_t *at = &place->loc[v];
    spd_core_counters_t cc = {0};
    int err = spd_tx_core_counters(tx, at->x, at->y, at->core, &cc);
    if (err)
      return err;
    uint64_t paced = 0, longest = 0;
    uint32_t lp = UINT32_MAX;
    for (uint32_t p = 0; p < g->n_partitions; p++) {
      const spd_partition_t *part = &g->partitions[p];
      if (part->source != v || part->per_batch)
        continue;
      uint64_t t = (uint64_t)part->values.n * part->words * pace[p];
      paced += t;
      if (t > longest || lp == UINT32_MAX) {
        longest = t;
        lp = p;
      }
    }
    char who[96];
    spd_vertex_describe(g, v, who, sizeof who);
    fprintf(f, "%u\t%" PRIu64 "\t%" PRIu64 "\t", v, samples ? cc.busy_cycles / samples : 0,
            paced);
    if (lp == UINT32_MAX)
      fprintf(f, "-\t0\t0\t-\t0\t%s\n", who);
    else
      fprintf(f, "%s\t%" PRIu64 "\t%u\t%s %u\t%" PRIu64 "\t%s\n", g->partitions[lp].name,
              (uint64_t)g->partitions[lp].values.n * g->partitions[lp].words, pace[lp],
              by_name(why[lp].by), why[lp].at, why[lp].load, who);
  }
  return 0;
}
