/* Where a machine run's simulated time went: a diagnostic written when
 * spd_machine_run_opts_t.pace_report names a stream (the CLI passes stderr
 * when SPINDLE_PACE_REPORT is set; docs/conv-on-machine.md). */
#ifndef SPINDLE_RUN_MACHINE_PACE_REPORT_H
#define SPINDLE_RUN_MACHINE_PACE_REPORT_H

#include <stdio.h>

#include "map/dataspec.h"
#include "map/pacing.h"
#include "spindle/place.h"
#include "spindle/transceiver.h"

/** One line per vertex of @p g to @p f: busy cycles per sample (paced
 *  sends included: a sender waits out its pace), the cycles its paced
 *  sends of one sample take, its longest partition and what set that
 *  partition's pace (@p why, from spd__ds_paces); first the run's
 *  simulated cycles per sample (@p sim_ps over @p samples).
 *  @return 0 or the transceiver's error. */
int spd__pace_report(FILE *f, const spd_machine_graph_t *g, const spd_placement_t *place,
                     spd_transceiver_t *tx, const uint32_t *pace, const spd__ds_pace_why_t *why,
                     uint32_t samples, uint64_t sim_ps);

#endif
