/* The paces the host loads (spd__ds_paces, docs/dataspec.md "Pacing as
 * loaded") for LeNet-5 trained on a SpiNN-5 as the session maps it: the
 * senders of a link never outrun it, and no vertex's sends of a sample
 * take longer than the resources that set its paces need for a sample
 * (a tile's many small partitions each took their resource's whole time:
 * 20.8 M cycles a sample for one Dense tile). */
#include <stdlib.h>
#include <string.h>

#include "map/dataspec.h"
#include "map/pacing.h"
#include "machine/cost_table.h"
#include "spindle/keras.h"
#include "spindle/partition.h"
#include "spindle/place.h"
#include "support/test_models.h"
#include "support/test_support.h"

#define LINK_CYCLES 67u
#define PERCENT 125u

typedef struct mapped {
  spd_ctx_t ctx;
  spd_model_t *m;
  spd_machine_t *mc;
  spd_machine_graph_t *g;
  spd_placement_t place;
  spd_map_routing_t routing;
  uint32_t *pace;
  spd__ds_pace_why_t *why;
} mapped_t;

static void map_lenet5(mapped_t *t, spd_numeric_t numeric) {
  memset(t, 0, sizeof *t);
  spd_ctx_init(&t->ctx);
  if (spd_keras_json_load(&t->ctx, spd_test_source_path("examples/lenet5.json"), 7, &t->m))
    fail_msg("%s", spd_ctx_message(&t->ctx));
  t->mc = spd_test_machine(&t->ctx, "spinn5", NULL);
  spd_partition_opts_t po;
  spd_partition_opts_default(&po);
  po.numeric = numeric;
  po.training = true;
  po.optimizer = SPD_OPT_ADAM;
  po.batch_size = 32;
  po.slots = 2;
  po.dataset_samples = 256;
  po.input_bytes = 1;
  po.slack_percent = 100;
  assert_int_equal(spd_partition_model(&t->ctx, t->m, t->mc, &po, &t->g), 0);
  assert_int_equal(spd_place(&t->ctx, t->g, t->mc, &t->place), 0);
  spd_map_net_t *nets = NULL;
  spd_map_core_t *sinks = NULL;
  assert_int_equal(spd_placement_nets(&t->ctx, t->g, &t->place, &nets, &sinks), 0);
  assert_int_equal(spd_map_routing_build(&t->ctx, t->mc, nets, t->g->n_partitions, NULL,
                                         &t->routing),
                   0);
  spd_free(&t->ctx, nets);
  spd_free(&t->ctx, sinks);
  t->pace = calloc(t->g->n_partitions, sizeof *t->pace);
  t->why = calloc(t->g->n_partitions, sizeof *t->why);
  assert_non_null(t->pace);
  assert_non_null(t->why);
  spd__ds_inputs_t in = {.g = t->g, .numeric = numeric};
  assert_int_equal(spd__ds_paces(&t->ctx, &in, t->mc, t->routing.trees, PERCENT, t->pace,
                                 t->why),
                   0);
}

static void mapped_free(mapped_t *t) {
  free(t->pace);
  free(t->why);
  spd_map_routing_free(&t->ctx, &t->routing);
  spd_placement_free(&t->place);
  spd_machine_graph_free(t->g);
  spd_machine_free(t->mc);
  spd_model_free(t->m);
}

static uint64_t packets(const spd_partition_t *p) { return (uint64_t)p->values.n * p->words; }

/* Link l (chip * 7 + link) of partition p's tree, or -1 per node. */
static int64_t link_of(const mapped_t *t, uint32_t p, uint32_t node) {
  const spd_map_node_t *n = &t->routing.trees[p].nodes[node];
  int32_t c = spd_machine_chip_index(t->mc, n->x, n->y);
  return c < 0 || n->in_link < 0 ? -1 : (int64_t)c * 7 + n->in_link;
}

/* Every vertex sends its packets through a link over at least the link's
 * per-sample time (at 125 %): together its senders keep to its rate.
 * Credits (one packet a sample) are not spread. */
static void senders_keep_to_links(const mapped_t *t) {
  size_t L = (size_t)t->mc->n_chips * 7u;
  uint64_t *load = calloc(L, sizeof *load), *mine = calloc(L, sizeof *mine);
  uint64_t *n = calloc(L, sizeof *n);
  assert_non_null(load);
  assert_non_null(mine);
  assert_non_null(n);
  /* Requests to send again (kernels/resend.c) carry nothing in a run that
   * loses nothing: the pacing leaves them out. */
  for (uint32_t p = 0; p < t->g->n_partitions; p++)
    for (uint32_t k = 0; strcmp(t->g->partitions[p].name, "nack") &&
                         k < t->routing.trees[p].n_nodes; k++)
      if (link_of(t, p, k) >= 0)
        load[link_of(t, p, k)] += packets(&t->g->partitions[p]) * LINK_CYCLES;
  uint32_t checked = 0;
  for (uint32_t v = 0; v < t->g->n_vertices; v++) {
    memset(mine, 0, L * sizeof *mine);
    memset(n, 0, L * sizeof *n);
    for (uint32_t p = 0; p < t->g->n_partitions; p++) {
      const spd_partition_t *part = &t->g->partitions[p];
      if (part->source != v || part->per_batch || !strcmp(part->name, "credit") ||
          !strcmp(part->name, "nack"))
        continue;
      for (uint32_t k = 0; k < t->routing.trees[p].n_nodes; k++)
        if (link_of(t, p, k) >= 0) {
          mine[link_of(t, p, k)] += packets(part) * t->pace[p];
          n[link_of(t, p, k)] += packets(part);
        }
    }
    for (size_t l = 0; l < L; l++)
      if (mine[l]) {
        if (mine[l] + 2u * n[l] < load[l] * PERCENT / 100u) /* rounding down, twice */
          fail_msg("vertex %u on link %zu: %llu < %llu", v, l, (unsigned long long)mine[l],
                   (unsigned long long)load[l] * PERCENT / 100u);
        checked++;
      }
  }
  assert_true(checked > 0);
  free(load);
  free(mine);
  free(n);
}

/* A vertex's paced sends of a sample take at most the time of the
 * resources that set its paces (each shares its time among the vertex's
 * partitions through it) plus those paced by the partitioner alone. */
static void sends_fit_their_resources(const mapped_t *t) {
  for (uint32_t v = 0; v < t->g->n_vertices; v++) {
    uint64_t paced = 0, bound = 0;
    for (uint32_t p = 0; p < t->g->n_partitions; p++) {
      const spd_partition_t *part = &t->g->partitions[p];
      if (part->source != v || part->per_batch)
        continue;
      paced += packets(part) * t->pace[p];
      bound += packets(part) * 2u; /* rounding up, twice */
      if (t->why[p].by == SPD__PACE_OWN) {
        bound += packets(part) * t->pace[p];
        continue;
      }
      bool first = true; /* count each resource once */
      for (uint32_t q = 0; q < p && first; q++)
        first = !(t->g->partitions[q].source == v && !t->g->partitions[q].per_batch &&
                  t->why[q].by == t->why[p].by && t->why[q].at == t->why[p].at);
      if (first)
        bound += t->why[p].load * PERCENT / 100u;
    }
    if (paced > bound) {
      char who[96];
      spd_vertex_describe(t->g, v, who, sizeof who);
      fail_msg("%s: paced sends %llu cycles a sample, its resources %llu", who,
               (unsigned long long)paced, (unsigned long long)bound);
    }
  }
}

static uint32_t steps_of(uint32_t n) {
  uint32_t s = 0;
  while ((1u << s) < n)
    s++;
  return s;
}

/* A packet of values is charged the binary search of the values'
 * partitions alone (the kernels' table lists them first, credits and
 * requests after them: kernel_common.c, receive); a credit or request
 * one step more and the search of the rest. A receiver with many
 * requests' partitions (every sender of it has one) pays for them only
 * when it is asked again. */
static void values_search_only_values(const mapped_t *t, spd_numeric_t numeric) {
  spd__ds_inputs_t in = {.g = t->g, .numeric = numeric};
  uint32_t checked = 0;
  for (uint32_t v = 0; v < t->g->n_vertices; v++) {
    uint32_t n_data = 0, n_other = 0;
    for (uint32_t p = 0; p < t->g->n_partitions; p++)
      for (uint32_t k = 0; k < t->g->partitions[p].n_targets; k++)
        if (t->g->partitions[p].targets[k] == v) {
          bool data = strcmp(t->g->partitions[p].name, "credit") &&
                      strcmp(t->g->partitions[p].name, "nack");
          n_data += data;
          n_other += !data;
        }
    if (!n_data || !n_other)
      continue;
    uint32_t data = spd__ds_recv_cost(&in, v, "psum"), credit = spd__ds_recv_cost(&in, v, "credit");
    assert_int_equal(spd__ds_recv_cost(&in, v, "nack"), credit);
    assert_int_equal(credit - data, SPD_COST_RECV_STEP * (1u + steps_of(n_other)));
    /* The handler, dispatch and check cost the same for either: what a
     * value's packet saves is the search of the whole table. */
    assert_true(data >= SPD_COST_RECV_STEP * steps_of(n_data) + SPD_COST_RECV_HANDLER);
    checked += steps_of(n_data) < steps_of(n_data + n_other);
  }
  assert_true(checked > 0); /* some receiver searches fewer steps than its table's */
}

static void test_lenet5_paces(void **state) {
  (void)state;
  for (int nu = 0; nu < 2; nu++) {
    mapped_t t;
    spd_numeric_t numeric = nu ? SPD_NUMERIC_FLOAT : SPD_NUMERIC_FIXED;
    map_lenet5(&t, numeric);
    senders_keep_to_links(&t);
    sends_fit_their_resources(&t);
    values_search_only_values(&t, numeric);
    mapped_free(&t);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lenet5_paces),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
