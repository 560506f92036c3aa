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

char *spd_test_read_file(const char *path, size_t *len_out) {
  FILE *f = fopen(path, "rb");
  if (!f)
    fail_msg("cannot open %s", path);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  long size = ftell(f);
  assert_true(size > 0);
  rewind(f);
  char *text = malloc((size_t)size + 1);
  assert_non_null(text);
  assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
  text[size] = '\0';
  fclose(f);
  if (len_out)
    *len_out = (size_t)size;
  return text;
}

uint64_t spd_test_alloc_each(spd_test_alloc_call_cb call, void *arg) {
  for (uint64_t n = 1;; n++) {
    spd_ctx_t ctx;
    spd_ctx_init(&ctx);
    spd_test_alloc_t ta;
    spd_test_alloc_install(&ctx, &ta, n);
    int err = call(&ctx, arg);
    assert_int_equal(ta.live, 0);
    if (!ta.failed) {
      assert_int_equal(err, 0);
      return n;
    }
    assert_int_equal(err, SPD_ENOMEM);
  }
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
