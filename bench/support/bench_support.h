/* Helpers every benchmark uses: clocks and writing its JSON result. */
#ifndef SPINDLE_BENCH_SUPPORT_H
#define SPINDLE_BENCH_SUPPORT_H

/** CPU time of this process, in seconds. The machine running benchmarks is
 *  shared, so wall time would measure the neighbours too. */
double spd_bench_cpu_seconds(void);

/** Monotonic wall-clock time, in seconds. */
double spd_bench_wall_seconds(void);

/** Write @p json to @p path through a temporary file renamed into place, so
 *  a reader never sees half a result. @return 0, or -1 on any failure. */
int spd_bench_write_json(const char *path, const char *json);

#endif
