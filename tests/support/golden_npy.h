/* Reading the committed golden tensors (tests/golden/data/NAME.npy, NPY
 * version 1, little-endian float32, C order) in a test: a minimal reader so
 * the tests do not depend on the library's own NPY code under test. */
#ifndef SPINDLE_TEST_GOLDEN_NPY_H
#define SPINDLE_TEST_GOLDEN_NPY_H

#include <stdio.h>
#include <string.h>

#include "test_support.h"

/** Load golden @p name ("sgd.w0") into @p out (at most @p max floats);
 *  fails the test if the file is missing or not '<f4'. @return the count. */
static inline size_t golden_load(const char *name, float *out, size_t max) {
  char rel[256];
  snprintf(rel, sizeof rel, "tests/golden/data/%s.npy", name);
  FILE *f = fopen(spd_test_source_path(rel), "rb");
  if (!f)
    fail_msg("golden %s: cannot open %s", name, spd_test_source_path(rel));
  unsigned char head[10];
  assert_int_equal(fread(head, 1, 10, f), 10);
  assert_memory_equal(head, "\x93NUMPY\x01", 7);
  size_t hlen = (size_t)head[8] | ((size_t)head[9] << 8);
  char header[512];
  assert_true(hlen < sizeof header);
  assert_int_equal(fread(header, 1, hlen, f), hlen);
  header[hlen] = '\0';
  if (!strstr(header, "'<f4'"))
    fail_msg("golden %s: not float32: %s", name, header);
  size_t n = fread(out, sizeof(float), max, f);
  fclose(f);
  return n;
}

#endif
