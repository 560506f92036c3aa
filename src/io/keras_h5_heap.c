/* A check of an HDF5 file's global heap collections before libhdf5 reads a
 * variable-length string from them. libhdf5 1.10 trusts the object sizes
 * recorded in a collection: a corrupt size makes H5HG_read copy past the
 * collection and crash (reached from H5Aread of a vlen string attribute).
 * spindle walks every collection itself first and refuses the file when an
 * object reaches past its collection or a collection past the file.
 *
 * Layout (HDF5 file format spec, "Global Heap"): "GCOL", version 1, three
 * reserved zero bytes, the collection size (8 bytes, little-endian, header
 * included); then objects of a 2-byte index (0 = the free space, which ends
 * the list), a 2-byte reference count, 4 reserved bytes, an 8-byte size and
 * the data padded to 8 bytes. The 8-byte lengths are libhdf5's default and
 * h5py's; a file with other sizes of lengths does not match the pattern and
 * is left to libhdf5. */
#include "io/keras_h5.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spindle/keras.h"

#define GCOL_HEADER 16
#define GOBJ_HEADER 16

static uint64_t le64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

/* Is the collection at @p c, with @p avail bytes of file from it, sound?
 * Bytes that only look like a collection header (wrong version or reserved
 * bytes) are not one and pass. */
static bool collection_ok(const unsigned char *c, uint64_t avail) {
  if (avail < GCOL_HEADER || c[4] != 1 || c[5] || c[6] || c[7])
    return true;
  uint64_t size = le64(c + 8);
  if (size < GCOL_HEADER || size > avail)
    return false;
  for (uint64_t p = GCOL_HEADER; p + GOBJ_HEADER <= size;) {
    unsigned index = (unsigned)c[p] | (unsigned)c[p + 1] << 8;
    uint64_t obj = le64(c + p + 8);
    if (index == 0)
      return obj <= size - p;
    if (obj > size - p - GOBJ_HEADER)
      return false;
    p += GOBJ_HEADER + ((obj + 7) & ~(uint64_t)7);
  }
  return true;
}

/* Offset of the first unsound collection in @p len bytes, or -1. */
static int64_t first_bad_collection(const unsigned char *data, size_t len) {
  for (size_t at = 0; at + 4 <= len;) {
    const unsigned char *hit = memchr(data + at, 'G', len - at - 3);
    if (!hit)
      return -1;
    if (memcmp(hit, "GCOL", 4)) {
      at = (size_t)(hit - data) + 1;
      continue;
    }
    size_t off = (size_t)(hit - data);
    if (!collection_ok(hit, len - off))
      return (int64_t)off;
    at = off + 4;
  }
  return -1;
}

/* @p path is the file's name, or "" for an image in memory. */
static int heap_fail(spd_ctx_t *ctx, const char *where, const char *path, int64_t off) {
  return spd_ctx_fail(ctx, SPD_EFORMAT,
                      "%s: %s%s%scorrupt HDF5 global heap at byte %lld (an object reaches "
                      "past its collection or the file): truncated or corrupt file",
                      where, *path ? "'" : "", path, *path ? "' has a " : "", (long long)off);
}

/* The file behind @p file when it is on disk, mapped read-only. */
static int check_on_disk(spd_ctx_t *ctx, hid_t file, const char *where, bool *done) {
  char path[4096];
  ssize_t n = H5Fget_name(file, path, sizeof path);
  *done = false;
  if (n <= 0 || (size_t)n >= sizeof path)
    return 0;
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    return 0; /* an in-memory image: its name is not a path */
  struct stat st;
  int err = 0;
  if (fstat(fd, &st) == 0 && st.st_size > 0) {
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map != MAP_FAILED) {
      int64_t bad = first_bad_collection(map, (size_t)st.st_size);
      if (bad >= 0)
        err = heap_fail(ctx, where, path, bad);
      munmap(map, (size_t)st.st_size);
      *done = true;
    }
  }
  close(fd);
  return err;
}

static int check_image(spd_ctx_t *ctx, hid_t file, const char *where) {
  ssize_t len = H5Fget_file_image(file, NULL, 0);
  if (len <= 0)
    return spd_ctx_fail(ctx, SPD_EFORMAT, "%s: the HDF5 file cannot be read back for a check",
                        where);
  unsigned char *image = spd_malloc(ctx, (size_t)len);
  if (!image)
    return spd_ctx_fail(ctx, SPD_ENOMEM, "%s: out of memory checking the HDF5 file", where);
  int err = 0;
  if (H5Fget_file_image(file, image, (size_t)len) != len) {
    err = spd_ctx_fail(ctx, SPD_EFORMAT, "%s: the HDF5 file cannot be read back for a check",
                       where);
  } else {
    int64_t bad = first_bad_collection(image, (size_t)len);
    if (bad >= 0)
      err = heap_fail(ctx, where, "", bad);
  }
  spd_free(ctx, image);
  return err;
}

int spd__h5_check_heaps(spd_ctx_t *ctx, hid_t obj, const char *where) {
  hid_t file = H5Iget_file_id(obj);
  if (file < 0)
    return spd_ctx_fail(ctx, SPD_EFORMAT, "%s: unreadable HDF5 object", where);
  bool done;
  int err = check_on_disk(ctx, file, where, &done);
  if (!err && !done)
    err = check_image(ctx, file, where);
  H5Fclose(file);
  return err;
}
