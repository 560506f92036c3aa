#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *spd_test_source_path(const char *relative) {
  static char path[4096];
  const char *root = getenv("SPINDLE_SOURCE_DIR");
  snprintf(path, sizeof path, "%s/%s", root ? root : "..", relative);
  return path;
}

const char *spd_test_tmpdir(void) {
  static char path[4096];
  const char *base = getenv("TMPDIR");
  snprintf(path, sizeof path, "%s/spindle-test-XXXXXX", base ? base : "/tmp");
  if (!mkdtemp(path))
    return NULL;
  return path;
}

void spd_test_rmtree(const char *path) {
  char command[4200];
  snprintf(command, sizeof command, "rm -rf '%s'", path);
  if (system(command) != 0)
    fprintf(stderr, "could not remove %s\n", path);
}
