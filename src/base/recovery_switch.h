/* The recovery machinery of a clean run (docs/recovery.md): every receiver's
 * duplicate check, the "nack" partitions and the resend watch, the batch
 * snapshots and, in training, the sink's credit to the sources. Always
 * built; only the bench that measures what it costs a clean run
 * (bench/recovery_overhead.py) builds spindle without it, with
 * -DSPINDLE_BENCH_NO_RECOVERY=ON in a build tree of its own. Such a
 * spindle cannot recover from anything: it is not for use. */
#ifndef SPINDLE_BASE_RECOVERY_SWITCH_H
#define SPINDLE_BASE_RECOVERY_SWITCH_H

#ifdef SPD_BENCH_NO_RECOVERY
#define SPD_RECOVERY 0
#else
#define SPD_RECOVERY 1
#endif

#endif
