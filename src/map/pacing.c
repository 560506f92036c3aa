/* The paces the kernels keep (map-time work, docs/calibration.md): every
 * partition's cycles between sends, from what each resource a partition's
 * packets use takes per packet (machine/cost_table.h), and the phase a
 * sender starts a sample's packets at. */
#include "map/pacing.h"

#include <string.h>

#include "base/recovery_switch.h"
#include "machine/cost_table.h"
#include "map/machine_graph.h"
#include "spindle/route.h"

static bool is_nack(const spd_partition_t *p) { return !strcmp(p->name, "nack"); }

/* Steps of the kernels' binary search over @p n table entries, at most. */
static uint32_t search_steps(uint32_t n) {
  uint32_t steps = 0;
  while ((1u << steps) < n)
    steps++;
  return steps;
}

/* CPU cycles the kernel of vertex @p vi spends per received packet of a
 * partition named @p kind, as the kernels charge it (machine/cost_table.h):
 * the event's dispatch, the handler, its binary search of the incoming
 * table (the partitions of values; a credit's or request's, a step more
 * and the rest of the table: kernel_common.c, receive), the duplicate
 * check and a reducer's add or a window tile's feature-map decoding. */
uint32_t spd__ds_recv_cost(const spd__ds_inputs_t *in, uint32_t vi, const char *kind) {
  const spd_machine_graph_t *g = in->g;
  uint32_t n_data = 0, n_other = 0;
  for (uint32_t p = 0; p < g->n_partitions; p++) {
    const spd_partition_t *part = &g->partitions[p];
    for (uint32_t t = 0; t < part->n_targets; t++)
      if (part->targets[t] == vi) {
        bool data = strcmp(part->name, "credit") && !is_nack(part);
        n_data += data;
        n_other += !data;
      }
  }
  uint32_t steps = search_steps(n_data);
  if (!strcmp(kind, "credit") || !strcmp(kind, "nack"))
    steps += 1u + search_steps(n_other);
  spd_vertex_role_t role = g->vertices[vi].role;
  uint32_t add = role != SPD_ROLE_REDUCER                ? 0u
                 : in->numeric == SPD_NUMERIC_FIXED ? SPD_COST_ADD_FIXED
                                                    : SPD_COST_ADD_FLOAT;
  if (role == SPD_ROLE_CONV || role == SPD_ROLE_POOL)
    add = SPD_COST_FM_DECODE;
  return SPD_COST_EVENT_DISPATCH + SPD_COST_RX_QUEUE + SPD_COST_RECV_HANDLER +
         SPD_COST_DEDUP * SPD_RECOVERY + SPD_COST_RECV_STEP * steps + add;
}

static uint64_t packets_of(const spd_partition_t *p) {
  return (uint64_t)p->values.n * p->words;
}

static uint64_t max64(uint64_t a, uint64_t b) { return a > b ? a : b; }



#define LINK_CYCLES SPD_COST_LINK_CYCLES /* a 72-bit packet on a link */

/* CPU cycles a chip's router is held per packet: a packet for local cores
 * waits until every one of them has taken the previous one (head-of-line,
 * docs/emulator.md); one passing through takes a few router cycles. */
static uint64_t router_cycles(uint32_t route) {
  return spd_route_cores(route) ? SPD_COST_ROUTER_LOCAL : SPD_COST_ROUTER_PASS;
}

/* A resource a partition's packets occupy: a target core (index < number
 * of vertices) or a chip's link or router (n_vertices + chip * 7 + link,
 * 6: the router), with the cycles each packet holds it. */
typedef struct {
  uint32_t r, cost;
} use_t;

/* The resources partition @p p uses into @p u (room for n_targets + 2
 * per tree node). @return how many. */
static uint32_t uses_of(const spd__ds_inputs_t *in, const spd_machine_t *m,
                        const spd_map_tree_t *trees, uint32_t p, use_t *u) {
  const spd_partition_t *part = &in->g->partitions[p];
  uint32_t k = 0, V = in->g->n_vertices;
  for (uint32_t t = 0; t < part->n_targets; t++)
    u[k++] = (use_t){part->targets[t], spd__ds_recv_cost(in, part->targets[t], part->name)};
  for (uint32_t n = 0; n < trees[p].n_nodes; n++) {
    const spd_map_node_t *node = &trees[p].nodes[n];
    int32_t c = spd_machine_chip_index(m, node->x, node->y);
    if (c < 0)
      continue;
    if (node->in_link >= 0)
      u[k++] = (use_t){V + (uint32_t)c * 7u + (uint32_t)node->in_link, LINK_CYCLES};
    u[k++] = (use_t){V + (uint32_t)c * 7u + 6u, (uint32_t)router_cycles(node->route)};
  }
  return k;
}

static spd__ds_pace_why_t why_of(uint32_t V, uint32_t r, uint64_t load) {
  if (r < V)
    return (spd__ds_pace_why_t){load, SPD__PACE_CORE, r};
  r -= V;
  return (spd__ds_pace_why_t){load, r % 7u == 6u ? SPD__PACE_ROUTER : SPD__PACE_LINK,
                              r % 7u == 6u ? r / 7u : r};
}

typedef struct {
  uint64_t *load;  /* per resource: cycles per sample, every sender */
  uint64_t *mine;  /* per resource: cycles per sample of one vertex's sends */
  use_t *u;
  uint32_t *first, *list; /* partitions by source (CSR) */
} pace_work_t;

/* The paces of vertex @p v's partitions sent once per sample (@p
 * per_batch false) or once per batch: each resource's time is shared by
 * its senders in proportion to their load on it, so a vertex spreads all
 * it sends through a resource over that resource's time for a sample, and
 * a partition gets the share of that time its packets take. */
static void vertex_paces(const spd__ds_inputs_t *in, const spd_machine_t *m,
                         const spd_map_tree_t *trees, pace_work_t *w, uint32_t v, bool per_batch,
                         uint32_t percent, uint32_t *pace, spd__ds_pace_why_t *why) {
  const spd_machine_graph_t *g = in->g;
  for (int pass = 0; pass < 3; pass++)
    for (uint32_t i = w->first[v]; i < w->first[v + 1]; i++) {
      uint32_t p = w->list[i];
      const spd_partition_t *part = &g->partitions[p];
      if (part->per_batch != per_batch)
        continue;
      if (is_nack(part)) { /* no traffic in a run that loses nothing */
        pace[p] = part->pace_cycles;
        continue;
      }
      uint64_t n = packets_of(part);
      uint32_t k = uses_of(in, m, trees, p, w->u);
      if (pass != 1) { /* add, then clear what the vertex used */
        for (uint32_t j = 0; j < k; j++)
          w->mine[w->u[j].r] = pass ? 0 : w->mine[w->u[j].r] + n * w->u[j].cost;
        continue;
      }
      uint64_t spread = 0;
      spd__ds_pace_why_t by = {0, SPD__PACE_OWN, 0};
      /* A credit (one packet a sample to a source) is not spread: that
       * would only keep its sender busy for a whole sample's time. */
      for (uint32_t j = 0; j < k && strcmp(part->name, "credit"); j++) {
        uint64_t r = w->u[j].r, mine = w->mine[r] ? w->mine[r] : 1;
        uint64_t s = (w->load[r] * w->u[j].cost + mine - 1) / mine;
        if (s > spread) {
          spread = s;
          by = why_of(g->n_vertices, (uint32_t)r, w->load[r]);
        }
      }
      uint64_t t = max64(part->pace_cycles, spread) * percent / 100u;
      pace[p] = t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
      if (why)
        why[p] = part->pace_cycles >= spread ? (spd__ds_pace_why_t){0, SPD__PACE_OWN, 0} : by;
    }
}

/* The paces the kernels keep. The partitioner paces each partition for its
 * own receivers and the link's rate alone; here every resource a partition
 * uses — each target core (all packets it receives, at its real cost per
 * packet), each link of its multicast tree (all packets crossing it, 67
 * cycles each, SPINNAKER.md #18) and each router of the tree
 * (router_cycles) — is shared out: a sender spreads its packets through
 * the resource over the resource's per-sample time (vertex_paces), times
 * @p percent / 100. */
int spd__ds_paces(spd_ctx_t *ctx, const spd__ds_inputs_t *in, const spd_machine_t *m,
                  const spd_map_tree_t *trees, uint32_t percent, uint32_t *pace,
                  spd__ds_pace_why_t *why) {
  const spd_machine_graph_t *g = in->g;
  size_t R = g->n_vertices + (size_t)m->n_chips * 7u, most = 1;
  for (uint32_t p = 0; p < g->n_partitions; p++)
    if (g->partitions[p].n_targets + 2u * (size_t)trees[p].n_nodes > most)
      most = g->partitions[p].n_targets + 2u * (size_t)trees[p].n_nodes;
  pace_work_t w = {spd_calloc(ctx, R, sizeof *w.load), spd_calloc(ctx, R, sizeof *w.mine),
                   spd_calloc(ctx, most, sizeof *w.u),
                   spd_calloc(ctx, g->n_vertices + 2u, sizeof *w.first),
                   spd_calloc(ctx, g->n_partitions + 1u, sizeof *w.list)};
  int err = 0;
  if (!w.load || !w.mine || !w.u || !w.first || !w.list)
    err = spd_ctx_fail(ctx, SPD_ENOMEM, "pacing: %u chips", m->n_chips);
  /* Those sent once per batch (the conv weight-sharing reduction) count
   * in full: spread over the batch, the reduction's burst at a batch's
   * end dropped packets. */
  for (uint32_t p = 0; !err && p < g->n_partitions; p++) {
    uint32_t k = is_nack(&g->partitions[p]) ? 0 : uses_of(in, m, trees, p, w.u);
    for (uint32_t j = 0; j < k; j++)
      w.load[w.u[j].r] += packets_of(&g->partitions[p]) * w.u[j].cost;
    w.first[g->partitions[p].source + 2u]++;
  }
  for (uint32_t v = 0; !err && v < g->n_vertices; v++)
    w.first[v + 2u] += w.first[v + 1u];
  for (uint32_t p = 0; !err && p < g->n_partitions; p++)
    w.list[w.first[g->partitions[p].source + 1u]++] = p;
  for (uint32_t v = 0; !err && v < g->n_vertices; v++) {
    vertex_paces(in, m, trees, &w, v, false, percent, pace, why);
    vertex_paces(in, m, trees, &w, v, true, percent, pace, why);
  }
  spd_free(ctx, w.load);
  spd_free(ctx, w.mine);
  spd_free(ctx, w.u);
  spd_free(ctx, w.first);
  spd_free(ctx, w.list);
  return err;
}

/* Senders of one kind into the same receiver start a sample's packets at
 * phases spread over the pace: k * pace / K for the k-th of K. Credits,
 * sent once a sample by senders that finish together, are staggered by
 * what the receiver takes per packet instead (or a link's time, if
 * longer): K of them arrive no faster than it can take them, however the
 * senders' finishing times line up, where a burst of them filled the
 * router's inputs and dropped packets. */
uint32_t spd__ds_phase_of(const spd__ds_inputs_t *in, uint32_t p, uint32_t pace) {
  const spd_machine_graph_t *g = in->g;
  const spd_partition_t *part = &g->partitions[p];
  if (!part->n_targets || is_nack(part))
    return 0;
  if (!strcmp(part->name, "credit")) {
    uint32_t step = spd__ds_recv_cost(in, part->targets[0], part->name);
    pace = step > LINK_CYCLES ? step : LINK_CYCLES;
  }
  uint32_t k = 0, K = 0;
  for (uint32_t q = 0; q < g->n_partitions; q++) {
    const spd_partition_t *o = &g->partitions[q];
    if (o->n_targets && o->targets[0] == part->targets[0] && !strcmp(o->name, part->name)) {
      k += q < p;
      K++;
    }
  }
  if (!strcmp(part->name, "credit"))
    return (uint32_t)((uint64_t)k * pace);
  return (uint32_t)((uint64_t)k * pace / K);
}
