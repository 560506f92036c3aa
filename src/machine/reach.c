/* How the host reaches a machine after faults: SpiNNaker's host talks to a
 * board through the Ethernet chip, and a chip whose own Ethernet chip is
 * dead is reached only over links from another board's Ethernet chip
 * (SPINNAKER.md §5). A breadth-first search over the working links from
 * every live Ethernet chip finds the chips nothing reaches. */
#include "spindle/machine.h"

/* Distinct dead Ethernet chips that live chips name as their board's, the
 * first one's coordinates kept for the caller's message. */
static void count_dead_ethernet(const spd_machine_t *m, uint8_t *seen, spd_machine_reach_t *r) {
  for (uint32_t i = 0; i < m->n_chips; i++) {
    const spd_chip_t *c = &m->chips[i];
    size_t cell = (size_t)c->eth_y * m->width + c->eth_x;
    if (spd_machine_chip(m, c->eth_x, c->eth_y) || seen[cell])
      continue;
    seen[cell] = 1;
    if (!r->boards_without_ethernet++) {
      r->dead_ethernet_x = c->eth_x;
      r->dead_ethernet_y = c->eth_y;
    }
  }
}

/* The search over chip indices; @p queue holds n_chips entries. */
static uint32_t reach_from_ethernet(const spd_machine_t *m, uint8_t *reached, uint32_t *queue) {
  uint32_t head = 0, tail = 0;
  for (uint32_t i = 0; i < m->n_chips; i++)
    if (m->chips[i].ethernet) {
      reached[i] = 1;
      queue[tail++] = i;
    }
  while (head < tail) {
    const spd_chip_t *c = &m->chips[queue[head++]];
    for (int l = 0; l < SPD_LINKS; l++) {
      int nx, ny;
      if (!spd_machine_neighbour(m, c->x, c->y, (spd_link_t)l, &nx, &ny))
        continue;
      int32_t n = spd_machine_chip_index(m, nx, ny);
      if (n >= 0 && !reached[n]) {
        reached[n] = 1;
        queue[tail++] = (uint32_t)n;
      }
    }
  }
  return tail;
}

int spd_machine_reach(const spd_machine_t *m, spd_machine_reach_t *out) {
  size_t cells = (size_t)m->width * m->height;
  uint8_t *seen = spd_calloc(m->ctx, cells ? cells : 1, 1);
  uint8_t *reached = spd_calloc(m->ctx, m->n_chips ? m->n_chips : 1, 1);
  uint32_t *queue = spd_calloc(m->ctx, m->n_chips ? m->n_chips : 1, sizeof *queue);
  int err = 0;
  if (!seen || !reached || !queue) {
    err = spd_ctx_fail(m->ctx, SPD_ENOMEM, "machine '%s': reachability of %u chips", m->name,
                       m->n_chips);
  } else {
    spd_machine_reach_t r = {0};
    for (uint32_t i = 0; i < m->n_chips; i++)
      r.ethernet_alive += m->chips[i].ethernet;
    count_dead_ethernet(m, seen, &r);
    r.chips_unreachable = m->n_chips - reach_from_ethernet(m, reached, queue);
    *out = r;
  }
  spd_free(m->ctx, seen);
  spd_free(m->ctx, reached);
  spd_free(m->ctx, queue);
  return err;
}
