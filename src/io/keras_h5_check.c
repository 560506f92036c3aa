/* Checks of an HDF5 file's raw bytes before libhdf5 follows what they say.
 * libhdf5 1.10 trusts some recorded sizes and addresses:
 *
 * - the object sizes in a global heap collection: a corrupt size makes
 *   H5HG_read copy past the collection and crash (reached from H5Aread of a
 *   variable-length string attribute). spindle walks every collection first
 *   and refuses the file when an object reaches past its collection or a
 *   collection past the file.
 *   Layout (HDF5 file format spec, "Global Heap"): "GCOL", version 1, three
 *   reserved zero bytes, the collection size (8 bytes, little-endian, header
 *   included); then objects of a 2-byte index (0 = the free space, which
 *   ends the list), a 2-byte reference count, 4 reserved bytes, an 8-byte
 *   size and the data padded to 8 bytes.
 * - the root group's object header continuation blocks: a length past the
 *   end of the file makes H5Fopen fail and leak memory of its own, which
 *   no id reaches (and prints at exit). spindle checks the root header of a
 *   version 0/1 superblock, the layout h5py and tf.keras 2 write.
 *
 * - local heaps (a version 1 group's name table) past the superblock's
 *   end of file: libhdf5 reads them from "temporary file space" and a name
 *   lookup (H5Lexists) copies from a null pointer (first_bad_local_heap);
 *   a heap whose data segment does not end in a zero byte: a name
 *   running to its end has no terminator, and listing the group
 *   (H5Literate, H5G__ent_to_link) strdup()s past the segment; and a heap
 *   whose free list loops or leaves the segment (libhdf5 allocates a
 *   record a block, for ever).
 *
 * The 8-byte offsets and lengths are libhdf5's default and h5py's; a file
 * with other sizes does not match the patterns and is left to libhdf5. */
#include "io/keras_h5.h"

#include <fcntl.h>
#include <stdio.h>
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

static unsigned le16(const unsigned char *p) { return (unsigned)p[0] | (unsigned)p[1] << 8; }

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
    unsigned index = le16(c + p);
    uint64_t obj = le64(c + p + 8);
    /* libhdf5 goes on after the free space (index 0), by its size, which
     * counts its own header: a size of 0 never moves on (libhdf5 loops for
     * ever), and objects after it are read as any other. */
    if (index == 0) {
      if (obj < GOBJ_HEADER || obj > size - p)
        return false;
      p += obj;
      continue;
    }
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
                      "past its collection or the file, or free space of no size): "
                      "truncated or corrupt file",
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

/* Superblock version 0 or 1 at byte 0 with 8-byte offsets and lengths. */
#define SB_ROOT_HEADER(version) ((version) == 0 ? 64 : 68)
#define OH_CONTINUATION 0x0010
#define OH_SYMBOL_TABLE 0x0011
#define OH_ATTRIBUTE 0x000C
#define MAX_CHUNKS 64

/* The points of the dataspace message of @p len bytes at @p s: 1 with
 * *points set, 0 for an encoding this check does not know (it passes), -1
 * when the dims reach past the message. Version 1: rank 0 is a scalar;
 * version 2: type 0 scalar, 1 simple, 2 null. */
static int space_points(const unsigned char *s, uint64_t len, uint64_t *points) {
  if (len < 4 || (s[0] != 1 && s[0] != 2))
    return 0;
  unsigned rank = s[1], at = s[0] == 1 ? 8u : 4u;
  /* Maximum dims (flag 1), and in version 1 permutation indices (flag 2),
   * follow the dims: libhdf5 reads them as well. */
  unsigned arrays = 1u + (s[2] & 1u) + (s[0] == 1 ? (s[2] >> 1) & 1u : 0u);
  if (s[0] == 2 && s[3] > 1) {
    *points = 0; /* null */
    return s[3] == 2 ? 1 : 0;
  }
  if (at + 8ull * rank * arrays > len)
    return -1;
  uint64_t n = 1;
  for (unsigned i = 0; i < rank; i++) {
    uint64_t d = le64(s + at + 8u * i);
    n = d && n > UINT64_MAX / d ? UINT64_MAX : n * d;
  }
  *points = n;
  return 1;
}

static uint32_t le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#define DT_VLEN 9u
#define DT_COMPOUND 6u
#define DT_ENUM 8u
#define DT_ARRAY 10u
#define VLEN_REF 16u /* a sequence's length (4), collection address (8), index (4) */

/* The size of object @p index of the sound collection at @p c (its
 * @p size bytes), or UINT64_MAX when it holds no such object. */
static uint64_t heap_object_size(const unsigned char *c, uint64_t size, unsigned index) {
  for (uint64_t p = GCOL_HEADER; p + GOBJ_HEADER <= size;) {
    unsigned i = le16(c + p);
    uint64_t obj = le64(c + p + 8);
    if (i == index && index != 0)
      return obj;
    if (i == 0 && (obj < GOBJ_HEADER || obj > size - p))
      return UINT64_MAX; /* free space of no size: no end */
    p += i == 0 ? obj : GOBJ_HEADER + ((obj + 7) & ~(uint64_t)7);
  }
  return UINT64_MAX;
}

/* Does every variable-length reference of @p n at @p refs name an object
 * of a sound global heap collection in the file's @p eof bytes at @p d,
 * of exactly the sequence's bytes (@p base bytes an element)? libhdf5 1.10
 * indexes its object table with the index unchecked (a SEGV), allocates
 * the length whatever it is (gigabytes) and copies the object's size into
 * that allocation. A nil reference (address 0) is not read. */
static bool vlen_refs_ok(const unsigned char *d, uint64_t eof, const unsigned char *refs,
                         uint64_t n, uint32_t base) {
  for (uint64_t i = 0; i < n; i++, refs += VLEN_REF) {
    uint64_t len = le32(refs), addr = le64(refs + 4);
    unsigned index = (unsigned)le32(refs + 12);
    if (addr == 0)
      continue;
    if (addr > eof || eof - addr < GCOL_HEADER || memcmp(d + addr, "GCOL", 4) ||
        index > 0xffffu || d[addr + 4] != 1 || d[addr + 5] || d[addr + 6] || d[addr + 7] ||
        !collection_ok(d + addr, eof - addr))
      return false;
    uint64_t size = le64(d + addr + 8);
    if (size < GCOL_HEADER || heap_object_size(d + addr, size, index) != len * base)
      return false;
  }
  return true;
}

/* Do the name, datatype, dataspace and data an attribute message of
 * @p size bytes at @p m records fit in it, does the name end within its
 * size, and do variable-length values point at heap objects of their
 * length? libhdf5 1.10 copies them without checking (a dataspace of 8,456
 * bytes in a 72-byte message, a name without its NUL, data of more
 * elements than the message holds: reads past the buffer, a fuzzer's
 * finds; vlen_refs_ok). Version 1 pads each part to 8 bytes, version 3
 * adds an encoding byte; other versions, and a shared datatype or
 * dataspace (flags of versions 2 and 3), pass what they do not show. */
/* Are the member names of the datatype of @p len bytes at @p t inside it?
 * libhdf5 strdup()s each name of an enumeration (h5py's bool is one) as it
 * decodes the type, stepping by the name's length plus its NUL, padded to 8
 * bytes in versions 1 and 2; the names follow the 8-byte header and the
 * base type (an integer: 8 + 4 bytes). Compound and array types, which
 * Keras never writes in an attribute, are not followed: they fail. */
static bool datatype_names_ok(const unsigned char *t, uint64_t len) {
  unsigned cls = t[0] & 0x0fu, version = t[0] >> 4;
  if (cls == DT_COMPOUND || cls == DT_ARRAY)
    return false;
  if (cls != DT_ENUM)
    return true;
  uint64_t members = le16(t + 1), at = 8 + 12;
  if (len < at || (t[8] & 0x0fu) != 0) /* the base type must be an integer */
    return false;
  for (uint64_t i = 0; i < members; i++) {
    const unsigned char *nul = at < len ? memchr(t + at, '\0', (size_t)(len - at)) : NULL;
    if (!nul)
      return false;
    uint64_t n = (uint64_t)(nul - (t + at)) + 1;
    at += version >= 3 ? n : (n + 7) & ~(uint64_t)7;
  }
  return true;
}

static bool attribute_ok(const unsigned char *d, uint64_t eof, const unsigned char *m,
                         unsigned size) {
  if (size < 8)
    return false; /* not even the sizes */
  if (m[0] < 1 || m[0] > 3)
    return true;
  uint64_t name = le16(m + 2), type = le16(m + 4), space = le16(m + 6), raw_name = name;
  uint64_t raw_type = type, raw_space = space;
  if (m[0] == 1) {
    name = (name + 7) & ~(uint64_t)7;
    type = (type + 7) & ~(uint64_t)7;
    space = (space + 7) & ~(uint64_t)7;
  }
  unsigned header = m[0] == 3 ? 9u : 8u;
  /* The name is NUL-terminated within its size: libhdf5 strdup()s it. */
  if (header + name + type + space > size || !memchr(m + header, '\0', (size_t)raw_name))
    return false;
  if (m[0] > 1 && (m[1] & 3u))
    return true; /* a shared datatype or dataspace: elsewhere */
  const unsigned char *t = m + header + name, *sp = t + type;
  uint64_t points = 0;
  int known = space_points(sp, raw_space, &points);
  if (known < 0 || raw_type < 8 || !datatype_names_ok(t, raw_type))
    return false; /* dims past the message, not even a datatype's header, or
                     names past the datatype */
  if (known == 0)
    return true;
  bool vlen = (t[0] & 0x0fu) == DT_VLEN;
  uint64_t elem = le32(t + 4), data = header + name + type + space;
  if (vlen && elem != VLEN_REF)
    return false; /* libhdf5 copies the recorded size a value, reads 16 */
  if (elem && points > (size - data) / elem)
    return false; /* more data than the message holds */
  if (!vlen || points == 0)
    return true;
  /* The base type follows (a string's too: libhdf5 sizes a value as its
   * length times the base type's size, whatever it is). */
  uint32_t base = raw_type >= 16 ? le32(t + 12) : 0u;
  return base && vlen_refs_ok(d, eof, m + data, points, base);
}

/* Walk the messages of one version 1 object header chunk [at, at + len),
 * queueing continuation chunks; a message, continuation or symbol-table
 * address past @p eof, or an attribute larger than its message, fails. */
static bool chunk_ok(const unsigned char *d, uint64_t eof, uint64_t at, uint64_t len,
                     uint64_t queue[][2], int *n_queue) {
  if (at > eof || len > eof - at)
    return false;
  for (uint64_t p = at; p + 8 <= at + len;) {
    unsigned type = le16(d + p), size = le16(d + p + 2);
    if (p + 8 + size > at + len)
      return false;
    const unsigned char *m = d + p + 8;
    if (type == OH_CONTINUATION && size >= 16) {
      uint64_t off = le64(m), n = le64(m + 8);
      if (off > eof || n > eof - off)
        return false;
      if (*n_queue < MAX_CHUNKS) {
        queue[*n_queue][0] = off;
        queue[*n_queue][1] = n;
        (*n_queue)++;
      }
    } else if (type == OH_SYMBOL_TABLE && size >= 16) {
      if (le64(m) >= eof || le64(m + 8) >= eof)
        return false;
    } else if (type == OH_ATTRIBUTE && !attribute_ok(d, eof, m, size)) {
      return false;
    }
    p += 8 + size;
  }
  return true;
}

/* Is @p len bytes at @p d a file with a version 0/1 superblock of 8-byte
 * offsets and lengths at byte 0? Then *eof is the end of its addresses.
 * libhdf5 counts addresses from the superblock's own place (byte 0), and
 * when the recorded base address differs it moves the recorded end of file
 * by the difference (H5F__super_read), as this does. A truncated file, or
 * one of another pattern, is libhdf5's to judge. */
static bool pattern(const unsigned char *d, size_t len, uint64_t *eof) {
  static const unsigned char signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  if (len < 96 || memcmp(d, signature, 8) || d[8] > 1 || d[13] != 8 || d[14] != 8)
    return false;
  size_t base_at = d[8] == 0 ? 24 : 28;
  uint64_t base = le64(d + base_at);
  *eof = le64(d + base_at + 16) - base; /* libhdf5's arithmetic, modulo 2^64 */
  return *eof <= len;
}

/* Is the object header at @p header within the file's @p eof bytes, its
 * continuation chunks too, and every attribute message in it sound
 * (attribute_ok)? Version 2 headers ("OHDR") pass: libhdf5 checks their
 * checksums. */
static bool header_ok(const unsigned char *d, uint64_t eof, uint64_t header) {
  if (header > eof || eof - header < 16)
    return false;
  const unsigned char *h = d + header;
  if (h[0] != 1)
    return true;
  uint64_t queue[MAX_CHUNKS][2] = {{header + 16, le64(h + 8) & 0xffffffffu}};
  int n_queue = 1;
  for (int i = 0; i < n_queue; i++)
    if (!chunk_ok(d, eof, queue[i][0], queue[i][1], queue, &n_queue))
      return false;
  return true;
}

/* Is the root group's object header sound? Files that are not of the
 * pattern pass (libhdf5 judges them). */
static bool root_header_ok(const unsigned char *d, size_t len) {
  uint64_t eof;
  return !pattern(d, len, &eof) || header_ok(d, eof, le64(d + SB_ROOT_HEADER(d[8])));
}

/* Offset of the first local heap ("HEAP", the name table of a version 1
 * group's symbol table) that reaches past the file's @p eof bytes, or -1.
 * libhdf5 reads a heap's prefix and data block wherever they are recorded;
 * past the superblock's end-of-file address it reads "temporary file
 * space" and, looking a name up (H5Lexists), copies from nowhere. Layout
 * (HDF5 file format spec, "Local Heap"): "HEAP", version 0, three reserved
 * zero bytes, the data segment size, the offset of the free list's head,
 * the data segment address (8 bytes each). The segment holds the names,
 * each ended by a zero byte and padded with zeros to 8 bytes, then the
 * free list (an 8-byte offset and an 8-byte size a block, the size's last
 * byte zero in any file under 2^56 bytes): a sound segment's last byte is
 * zero. One whose last byte is not (or of no bytes) is refused too, as a
 * name reaching its end runs past it. Bytes that only look like a heap
 * (another version, reserved bytes set) pass. */
static int64_t first_bad_local_heap(const unsigned char *d, size_t len, uint64_t eof) {
  for (size_t at = 0; at + 4 <= len;) {
    const unsigned char *hit = memchr(d + at, 'H', len - at - 3);
    if (!hit)
      return -1;
    size_t off = (size_t)(hit - d);
    at = off + 1;
    if (memcmp(hit, "HEAP", 4) || len - off < 32 || hit[4] || hit[5] || hit[6] || hit[7])
      continue;
    uint64_t size = le64(hit + 8), data = le64(hit + 24);
    if (off + 32 > eof || data > eof || size > eof - data || !size || d[data + size - 1])
      return (int64_t)off;
    /* The free list, from the head's offset to H5HL_FREE_NULL (1): each
     * block's 16 bytes inside the segment, and no more blocks than fit
     * (libhdf5 follows a list that loops for ever, allocating a record a
     * block until memory runs out). */
    uint64_t free_at = le64(hit + 16), blocks = 0;
    while (free_at != 1) {
      if (free_at > size || size - free_at < 16 || ++blocks > size / 16)
        return (int64_t)off;
      free_at = le64(d + data + free_at);
    }
  }
  return -1;
}

int spd__h5_check_bytes(spd_ctx_t *ctx, const void *data, size_t len, const char *where) {
  int64_t bad = first_bad_collection(data, len);
  if (bad >= 0)
    return heap_fail(ctx, where, "", bad);
  uint64_t eof;
  if (pattern(data, len, &eof) && (bad = first_bad_local_heap(data, len, eof)) >= 0)
    return spd_ctx_fail(ctx, SPD_EFORMAT,
                        "%s: an HDF5 local heap (at byte %lld) reaches past the end of the "
                        "file the superblock records, its names are not terminated or its "
                        "free list is corrupt (truncated or corrupt file)",
                        where, (long long)bad);
  if (!root_header_ok(data, len))
    return spd_ctx_fail(ctx, SPD_EFORMAT,
                        "%s: the HDF5 root group's header reaches past the end of the file, "
                        "or an attribute past its message or into no heap object (truncated "
                        "or corrupt file)", where);
  return 0;
}

int spd__h5_check_path(spd_ctx_t *ctx, const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    return 0; /* the caller's open reports it */
  struct stat st;
  int err = 0;
  if (fstat(fd, &st) == 0 && st.st_size > 0) {
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map != MAP_FAILED) {
      char where[4200];
      snprintf(where, sizeof where, "'%s'", path);
      err = spd__h5_check_bytes(ctx, map, (size_t)st.st_size, where);
      munmap(map, (size_t)st.st_size);
    }
  }
  close(fd);
  return err;
}

/* The bytes of the file holding @p obj: mapped when it is on disk, else a
 * copy of its image (spd_free when *copied). */
static int file_bytes(spd_ctx_t *ctx, hid_t obj, const char *where, const unsigned char **d,
                      size_t *len, bool *copied) {
  hid_t file = H5Iget_file_id(obj);
  if (file < 0)
    return spd_ctx_fail(ctx, SPD_EFORMAT, "%s: unreadable HDF5 object", where);
  char path[4096];
  ssize_t n = H5Fget_name(file, path, sizeof path);
  int fd = n > 0 && (size_t)n < sizeof path ? open(path, O_RDONLY) : -1;
  struct stat st;
  *copied = false;
  *d = NULL;
  if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0) {
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map != MAP_FAILED) {
      *d = map;
      *len = (size_t)st.st_size;
    }
  }
  if (fd >= 0)
    close(fd);
  int err = 0;
  if (!*d) { /* an image in memory: its name is not a path */
    ssize_t size = H5Fget_file_image(file, NULL, 0);
    unsigned char *image = size > 0 ? spd_malloc(ctx, (size_t)size) : NULL;
    if (size > 0 && !image)
      err = spd_ctx_fail(ctx, SPD_ENOMEM, "%s: out of memory checking the HDF5 file", where);
    else if (!image || H5Fget_file_image(file, image, (size_t)size) != size)
      err = spd_ctx_fail(ctx, SPD_EFORMAT, "%s: the HDF5 file cannot be read back for a check",
                         where);
    if (err) {
      spd_free(ctx, image);
    } else {
      *d = image;
      *len = (size_t)size;
      *copied = true;
    }
  }
  H5Fclose(file);
  return err;
}

/* Gives back what file_bytes took. */
static void file_bytes_release(spd_ctx_t *ctx, const unsigned char *d, size_t len, bool copied) {
  if (copied)
    spd_free(ctx, (void *)d);
  else
    munmap((void *)d, len);
}

int spd__h5_check_object(spd_ctx_t *ctx, hid_t obj, const char *where) {
  H5O_info_t info;
  if (H5Oget_info2(obj, &info, H5O_INFO_BASIC) < 0)
    return spd_ctx_fail(ctx, SPD_EFORMAT, "%s: unreadable HDF5 object", where);
  const unsigned char *d;
  size_t len;
  bool copied;
  int err = file_bytes(ctx, obj, where, &d, &len, &copied);
  if (err)
    return err;
  uint64_t eof;
  if (pattern(d, len, &eof) && !header_ok(d, eof, info.addr))
    err = spd_ctx_fail(ctx, SPD_EFORMAT,
                       "%s: an HDF5 object header (at byte %llu) reaches past the end of the "
                       "file, or one of its attributes past its message or into no heap "
                       "object (truncated or corrupt file)",
                       where, (unsigned long long)info.addr);
  file_bytes_release(ctx, d, len, copied);
  return err;
}

#define TREE_DEPTH 32        /* groups within groups; Keras nests 4 */
#define TREE_OBJECTS 65536u  /* groups and datasets in all */

typedef struct {
  const unsigned char *d;
  uint64_t eof;
  haddr_t *seen; /* the objects checked, so a cycle of links ends */
  uint32_t n_seen;
  int depth;
  haddr_t bad;
  bool too_many;
} tree_check_t;

static herr_t check_link(hid_t group, const char *name, const H5L_info_t *info, void *ud);

/* Check every object group @p g holds, and the groups among them in turn. */
static herr_t check_group(hid_t g, tree_check_t *t) {
  if (t->depth >= TREE_DEPTH) {
    t->too_many = true;
    return 1;
  }
  t->depth++;
  herr_t r = H5Literate(g, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, check_link, t);
  t->depth--;
  return r;
}

/* Called for a link before anything opens what it names: its object's
 * header is checked (header_ok) once, and a group is walked in turn. A
 * corrupt file can link a group into itself with a reference count of 1,
 * which libhdf5's own H5Lvisit follows for ever, so this walk keeps its
 * own list of the objects it has seen. */
static herr_t check_link(hid_t group, const char *name, const H5L_info_t *info, void *ud) {
  tree_check_t *t = ud;
  if (info->type != H5L_TYPE_HARD)
    return 0;
  haddr_t at = info->u.address;
  for (uint32_t i = 0; i < t->n_seen; i++)
    if (t->seen[i] == at)
      return 0;
  if (!header_ok(t->d, t->eof, at)) {
    t->bad = at;
    return 1;
  }
  if (t->n_seen == TREE_OBJECTS) {
    t->too_many = true;
    return 1;
  }
  t->seen[t->n_seen++] = at;
  H5O_info_t oi;
  if (H5Oget_info_by_name2(group, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
    return -1;
  if (oi.type != H5O_TYPE_GROUP)
    return 0;
  hid_t sub = H5Gopen2(group, name, H5P_DEFAULT);
  if (sub < 0)
    return -1;
  herr_t r = check_group(sub, t);
  H5Gclose(sub);
  return r;
}

int spd__h5_check_tree(spd_ctx_t *ctx, hid_t group, const char *where) {
  const unsigned char *d;
  size_t len;
  bool copied;
  int err = file_bytes(ctx, group, where, &d, &len, &copied);
  if (err)
    return err;
  tree_check_t t = {d, 0, NULL, 0, 0, HADDR_UNDEF, false};
  herr_t visit = 0;
  if (pattern(d, len, &t.eof)) {
    t.seen = spd_malloc(ctx, TREE_OBJECTS * sizeof *t.seen);
    if (t.seen)
      visit = check_group(group, &t);
    else
      err = spd_ctx_fail(ctx, SPD_ENOMEM, "%s: out of memory checking the HDF5 file", where);
    spd_free(ctx, t.seen);
  }
  if (!err && t.too_many)
    err = spd_ctx_fail(ctx, SPD_EFORMAT,
                       "%s: the HDF5 groups nest deeper than %d or hold more than %u objects "
                       "(a corrupt file, or not a Keras one)", where, TREE_DEPTH, TREE_OBJECTS);
  else if (!err && visit > 0)
    err = spd_ctx_fail(ctx, SPD_EFORMAT,
                       "%s: an HDF5 object header (at byte %llu) reaches past the end of the "
                       "file, or one of its attributes past its message or into no heap "
                       "object (truncated or corrupt file)",
                       where, (unsigned long long)t.bad);
  else if (!err && visit < 0) /* a group the walk cannot read: what follows it is unchecked */
    err = spd_ctx_fail(ctx, SPD_EFORMAT,
                       "%s: an HDF5 group cannot be listed (truncated or corrupt file)", where);
  file_bytes_release(ctx, d, len, copied);
  return err;
}
