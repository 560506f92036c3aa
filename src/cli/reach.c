#include "cli/reach.h"

#include <inttypes.h>
#include <stdio.h>

int spd_cli_check_reach(const char *command, const spd_machine_t *m, bool refuse) {
  spd_machine_reach_t r;
  if (spd_machine_reach(m, &r)) {
    fprintf(stderr, "spindle %s: %s\n", command, spd_ctx_message(m->ctx));
    return 1;
  }
  if (m->n_chips && !r.ethernet_alive) {
    char which[64] = "every Ethernet chip";
    if (r.boards_without_ethernet == 1)
      snprintf(which, sizeof which, "the Ethernet chip (%u,%u)", r.dead_ethernet_x,
               r.dead_ethernet_y);
    fprintf(stderr, "spindle %s: %sthe faults kill %s of machine '%s', the host's only way "
                    "in: nothing can reach its %" PRIu32 " live chips\n",
            command, refuse ? "" : "warning: ", which, m->name, m->n_chips);
    return refuse ? 1 : 0;
  }
  if (r.boards_without_ethernet)
    fprintf(stderr, "spindle %s: warning: the faults kill the Ethernet chip (%u,%u)%s; the "
                    "host reaches %s chips only through another board's Ethernet chip\n",
            command, r.dead_ethernet_x, r.dead_ethernet_y,
            r.boards_without_ethernet > 1 ? " and others" : "",
            r.boards_without_ethernet > 1 ? "those boards'" : "its board's");
  if (r.chips_unreachable)
    fprintf(stderr, "spindle %s: warning: %" PRIu32 " live chips are cut off from every "
                    "Ethernet chip by dead chips and links; the host cannot load or read them\n",
            command, r.chips_unreachable);
  return 0;
}
