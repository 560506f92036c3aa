#include "bench_support.h"

#include <stdio.h>
#include <time.h>

static double seconds_of(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double spd_bench_cpu_seconds(void) { return seconds_of(CLOCK_PROCESS_CPUTIME_ID); }

double spd_bench_wall_seconds(void) { return seconds_of(CLOCK_MONOTONIC); }

int spd_bench_write_json(const char *path, const char *json) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f)
    return -1;
  int ok = fputs(json, f) >= 0 && fflush(f) == 0;
  ok = fclose(f) == 0 && ok;
  return ok && rename(tmp, path) == 0 ? 0 : -1;
}
