/* Shared helpers for the cmocka tests. */
#ifndef SPINDLE_TEST_SUPPORT_H
#define SPINDLE_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/** Absolute path of a file under the source tree (SPINDLE_SOURCE_DIR, set by
 *  ctest), in a static buffer valid until the next call. */
const char *spd_test_source_path(const char *relative);

/** The whole of file @p path, NUL-terminated, in a new malloc'd buffer the
 *  caller frees; its length (without the NUL) goes to @p len_out unless
 *  NULL. Fails the running test if the file cannot be read or is empty. */
char *spd_test_read_file(const char *path, size_t *len_out);

/** A fresh temporary directory (mkdtemp under $TMPDIR or /tmp), in a static
 *  buffer; removed with spd_test_rmtree. */
const char *spd_test_tmpdir(void);
void spd_test_rmtree(const char *path);

#endif
