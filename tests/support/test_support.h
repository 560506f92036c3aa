/* Shared helpers for the cmocka tests. */
#ifndef SPINDLE_TEST_SUPPORT_H
#define SPINDLE_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "spindle/context.h"

/** Absolute path of a file under the source tree (SPINDLE_SOURCE_DIR, set by
 *  ctest), in a static buffer valid until the next call. */
const char *spd_test_source_path(const char *relative);

/** The whole of file @p path, NUL-terminated, in a new malloc'd buffer the
 *  caller frees; its length (without the NUL) goes to @p len_out unless
 *  NULL. Fails the running test if the file cannot be read or is empty. */
char *spd_test_read_file(const char *path, size_t *len_out);

/** A call under test for spd_test_alloc_each: run it on @p ctx and free
 *  whatever it made on success; on failure check its outputs are untouched. */
typedef int (*spd_test_alloc_call_cb)(spd_ctx_t *ctx, void *arg);

/** The allocation-failure loop (after lua's ltests): run @p call with a fresh
 *  context whose allocator fails allocation 1, then 2, ... until a run
 *  needs no failing allocation. A run in which an allocation failed must
 *  return SPD_ENOMEM, the clean run 0, and every run must leave nothing
 *  allocated. @return how many runs there were. */
uint64_t spd_test_alloc_each(spd_test_alloc_call_cb call, void *arg);

/** A fresh temporary directory (mkdtemp under $TMPDIR or /tmp), in a static
 *  buffer; removed with spd_test_rmtree. */
const char *spd_test_tmpdir(void);
void spd_test_rmtree(const char *path);

#endif
