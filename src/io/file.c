#include "io/file.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int spd__read_file(spd_ctx_t *ctx, const char *path, char **data_out, size_t *len_out) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return spd_ctx_fail(ctx, SPD_EIO, "cannot open '%s': %s", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    fclose(f);
    return spd_ctx_fail(ctx, SPD_EIO, "cannot read '%s': not a regular file", path);
  }
  size_t len = (size_t)st.st_size;
  char *data = spd_malloc(ctx, len + 1);
  if (!data) {
    fclose(f);
    return spd_ctx_fail(ctx, SPD_ENOMEM, "out of memory reading '%s' (%zu bytes)", path, len);
  }
  size_t got = fread(data, 1, len, f);
  int failed = ferror(f);
  fclose(f);
  if (failed || got != len) {
    spd_free(ctx, data);
    return spd_ctx_fail(ctx, SPD_EIO, "cannot read '%s': short read (%zu of %zu bytes)", path,
                        got, len);
  }
  data[len] = '\0';
  *data_out = data;
  *len_out = len;
  return 0;
}

/* Not mkstemp: its files are mode 0600, and the file renamed into place must
 * get the usual 0666 less the umask, like any file the user creates. */
int spd__atomic_begin(spd_ctx_t *ctx, const char *path, char *tmp, size_t tmp_size) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  unsigned long salt = (unsigned long)now.tv_nsec ^ ((unsigned long)getpid() << 20);
  for (int attempt = 0; attempt < 100; attempt++) {
    if ((size_t)snprintf(tmp, tmp_size, "%s.tmp-%lx", path, salt + (unsigned long)attempt) >=
        tmp_size)
      return spd_ctx_fail(ctx, SPD_EINVAL, "path too long: '%s'", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
    if (fd >= 0) {
      close(fd);
      return 0;
    }
    if (errno != EEXIST)
      break;
  }
  return spd_ctx_fail(ctx, SPD_EIO, "cannot create a file beside '%s': %s", path,
                      strerror(errno));
}

static int sync_path(const char *path, int flags) {
  int fd = open(path, flags);
  if (fd < 0)
    return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

int spd__atomic_commit(spd_ctx_t *ctx, const char *tmp, const char *path) {
  if (sync_path(tmp, O_RDONLY) != 0 || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return spd_ctx_fail(ctx, SPD_EIO, "cannot write '%s': %s", path, strerror(e));
  }
  /* The rename itself is durable only once the folder is synced. */
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash)
    *(slash == dir ? slash + 1 : slash) = '\0';
  else
    snprintf(dir, sizeof dir, ".");
  sync_path(dir, O_RDONLY | O_DIRECTORY);
  return 0;
}

void spd__atomic_abort(const char *tmp) { unlink(tmp); }

int spd__write_file_with(spd_ctx_t *ctx, const char *path, spd__file_writer_cb write, void *arg) {
  char tmp[4096];
  int err = spd__atomic_begin(ctx, path, tmp, sizeof tmp);
  if (err)
    return err;
  FILE *f = fopen(tmp, "wb");
  bool ok = f && write(f, arg);
  if (f && fclose(f) != 0)
    ok = false;
  if (!ok) {
    int e = errno;
    spd__atomic_abort(tmp);
    return spd_ctx_fail(ctx, SPD_EIO, "cannot write '%s': %s", path, strerror(e));
  }
  return spd__atomic_commit(ctx, tmp, path);
}

typedef struct bytes {
  const void *data;
  size_t len;
} bytes_t;

static bool write_bytes(FILE *f, void *arg) {
  const bytes_t *b = arg;
  return fwrite(b->data, 1, b->len, f) == b->len;
}

int spd__write_file(spd_ctx_t *ctx, const char *path, const void *data, size_t len) {
  bytes_t b = {data, len};
  return spd__write_file_with(ctx, path, write_bytes, &b);
}
