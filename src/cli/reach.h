/* What `map` and `info` say when faults cut the host off from chips. */
#ifndef SPINDLE_CLI_REACH_H
#define SPINDLE_CLI_REACH_H

#include <stdbool.h>

#include "spindle/machine.h"

/** Warn on stderr ("spindle CMD: warning: ...") when a board's Ethernet
 *  chip is dead or some chips are reached from no Ethernet chip; with no
 *  live Ethernet chip at all, nothing can reach the machine: refused when
 *  @p refuse, else a warning.
 *  @return 0, or 1 after the message when refused or out of memory. */
int spd_cli_check_reach(const char *command, const spd_machine_t *m, bool refuse);

#endif
