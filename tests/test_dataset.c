/* io/: IDX and IDX.gz, NPY read and write, classification datasets. */
#include "test_support.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "spindle/dataset.h"

static char dir[4096];

static int make_dir(void **state) {
  (void)state;
  const char *d = spd_test_tmpdir();
  if (!d)
    return -1;
  snprintf(dir, sizeof dir, "%s", d);
  return 0;
}

static int remove_dir(void **state) {
  (void)state;
  spd_test_rmtree(dir);
  return 0;
}

static const char *path_of(const char *name) {
  static char paths[4][4200];
  static int next;
  char *p = paths[next++ % 4];
  snprintf(p, sizeof paths[0], "%s/%s", dir, name);
  return p;
}

static void write_bytes(const char *name, const void *bytes, size_t n, bool gzip) {
  if (gzip) {
    gzFile g = gzopen(path_of(name), "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, bytes, (unsigned)n), (int)n);
    assert_int_equal(gzclose(g), Z_OK);
    return;
  }
  FILE *f = fopen(path_of(name), "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(bytes, 1, n, f), n);
  fclose(f);
}

static size_t file_size(const char *name) {
  struct stat st;
  assert_int_equal(stat(path_of(name), &st), 0);
  return (size_t)st.st_size;
}

/* An IDX file: header for @p type and @p dims, then @p elem-byte elements
 * given in host order, written big-endian. */
static void write_idx(const char *name, unsigned type, int rank, const uint32_t *dims,
                      const void *data, size_t elem, bool gzip) {
  size_t count = 1;
  for (int i = 0; i < rank; i++)
    count *= dims[i];
  size_t n = 4 + 4 * (size_t)rank + count * elem;
  unsigned char *buf = test_malloc(n);
  unsigned char *p = buf;
  *p++ = 0;
  *p++ = 0;
  *p++ = (unsigned char)type;
  *p++ = (unsigned char)rank;
  for (int i = 0; i < rank; i++) {
    *p++ = (unsigned char)(dims[i] >> 24);
    *p++ = (unsigned char)(dims[i] >> 16);
    *p++ = (unsigned char)(dims[i] >> 8);
    *p++ = (unsigned char)dims[i];
  }
  const unsigned char *in = data;
  for (size_t i = 0; i < count; i++)
    for (size_t b = 0; b < elem; b++) /* little-endian host assumed by the test */
      *p++ = in[i * elem + elem - 1 - b];
  write_bytes(name, buf, n, gzip);
  test_free(buf);
}

static void expect_fail(int err, int expected, spd_ctx_t *ctx, const char *needle) {
  if (err != expected || !strstr(spd_ctx_message(ctx), needle))
    fail_msg("got %s \"%s\", expected %s containing \"%s\"", spd_err_name(err),
             spd_ctx_message(ctx), spd_err_name(expected), needle);
}

static void idx_ubyte_plain_and_gzip(void **state) {
  (void)state;
  uint8_t pixels[12] = {0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255};
  uint32_t dims[3] = {3, 2, 2};
  write_idx("u8.idx", 0x08, 3, dims, pixels, 1, false);
  write_idx("u8.idx.gz", 0x08, 3, dims, pixels, 1, true);
  /* Compression is found by the magic bytes, not the name. */
  write_idx("gz-without-extension", 0x08, 3, dims, pixels, 1, true);
  static const char *const names[] = {"u8.idx", "u8.idx.gz", "gz-without-extension"};
  for (int i = 0; i < 3; i++) {
    spd_ctx_t ctx;
    spd_ctx_init(&ctx);
    spd_array_t a;
    if (spd_idx_read(&ctx, path_of(names[i]), 0, &a))
      fail_msg("%s", spd_ctx_message(&ctx));
    assert_int_equal(a.dtype, SPD_DTYPE_U8);
    assert_int_equal(a.rank, 3);
    assert_int_equal(a.dims[0], 3);
    assert_int_equal(a.dims[2], 2);
    assert_int_equal(spd_array_count(&a), 12);
    assert_memory_equal(a.data, pixels, 12);
    spd_array_free(&a);
    assert_null(a.data);
  }
  assert_true(file_size("u8.idx.gz") != file_size("u8.idx"));
}

static void idx_all_types(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_array_t a;
  int8_t i8[4] = {-128, -1, 0, 127};
  int16_t i16[4] = {-32768, -2, 300, 32767};
  int32_t i32[4] = {INT32_MIN, -3, 70000, INT32_MAX};
  float f32[4] = {-1.5f, 0.0f, 3.25f, 1e-20f};
  double f64[4] = {-1e300, 0.1, 2.5, 1e-300};
  uint32_t dims[2] = {2, 2};
  write_idx("i8", 0x09, 2, dims, i8, 1, false);
  write_idx("i16", 0x0B, 2, dims, i16, 2, true);
  write_idx("i32", 0x0C, 2, dims, i32, 4, false);
  write_idx("f32", 0x0D, 2, dims, f32, 4, true);
  write_idx("f64", 0x0E, 2, dims, f64, 8, false);
  static const struct {
    const char *name;
    spd_dtype_t dtype;
    size_t size;
  } cases[] = {{"i8", SPD_DTYPE_I8, 1}, {"i16", SPD_DTYPE_I16, 2}, {"i32", SPD_DTYPE_I32, 4},
               {"f32", SPD_DTYPE_F32, 4}, {"f64", SPD_DTYPE_F64, 8}};
  const void *expect[] = {i8, i16, i32, f32, f64};
  for (int i = 0; i < 5; i++) {
    assert_int_equal(spd_idx_read(&ctx, path_of(cases[i].name), 0, &a), 0);
    assert_int_equal(a.dtype, cases[i].dtype);
    assert_int_equal(spd_dtype_size(a.dtype), cases[i].size);
    assert_memory_equal(a.data, expect[i], 4 * cases[i].size);
    spd_array_free(&a);
  }
  /* Rank 0 (one element) and rank 6. */
  uint8_t one = 42;
  write_idx("rank0", 0x08, 0, dims, &one, 1, false);
  assert_int_equal(spd_idx_read(&ctx, path_of("rank0"), 0, &a), 0);
  assert_int_equal(a.rank, 0);
  assert_int_equal(spd_array_count(&a), 1);
  assert_int_equal(*(uint8_t *)a.data, 42);
  spd_array_free(&a);
  uint32_t dims6[6] = {1, 2, 1, 2, 1, 2};
  uint8_t eight[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  write_idx("rank6", 0x08, 6, dims6, eight, 1, true);
  assert_int_equal(spd_idx_read(&ctx, path_of("rank6"), 0, &a), 0);
  assert_int_equal(a.rank, 6);
  assert_memory_equal(a.data, eight, 8);
  spd_array_free(&a);
}

static void idx_limit_keeps_the_first_entries(void **state) {
  (void)state;
  uint16_t rows[20];
  for (int i = 0; i < 20; i++)
    rows[i] = (uint16_t)(i * 1000);
  uint32_t dims[2] = {10, 2};
  write_idx("limit.gz", 0x0B, 2, dims, rows, 2, true);
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_array_t a;
  assert_int_equal(spd_idx_read(&ctx, path_of("limit.gz"), 4, &a), 0);
  assert_int_equal(a.dims[0], 4);
  assert_int_equal(a.dims[1], 2);
  assert_memory_equal(a.data, rows, 8 * 2);
  spd_array_free(&a);
  assert_int_equal(spd_idx_read(&ctx, path_of("limit.gz"), 50, &a), 0);
  assert_int_equal(a.dims[0], 10);
  spd_array_free(&a);
}

/* Writes @p n bytes of @p src's file, possibly modified, as @p name. */
static void copy_prefix(const char *src, const char *name, size_t n, int flip_at) {
  FILE *f = fopen(path_of(src), "rb");
  assert_non_null(f);
  unsigned char *buf = test_malloc(n);
  assert_int_equal(fread(buf, 1, n, f), n);
  fclose(f);
  if (flip_at >= 0)
    buf[flip_at] ^= 0x5a;
  write_bytes(name, buf, n, false);
  test_free(buf);
}

static void idx_malformed_files_are_rejected(void **state) {
  (void)state;
  uint8_t data[64];
  for (int i = 0; i < 64; i++)
    data[i] = (uint8_t)(i * 37);
  uint32_t dims[2] = {8, 8};
  write_idx("good", 0x08, 2, dims, data, 1, false);
  write_idx("good.gz", 0x08, 2, dims, data, 1, true);
  unsigned char bad_magic[] = {0x12, 0x34, 0x08, 0x01, 0, 0, 0, 1, 7};
  write_bytes("bad_magic", bad_magic, sizeof bad_magic, false);
  unsigned char bad_type[] = {0, 0, 0x0A, 0x01, 0, 0, 0, 1, 7};
  write_bytes("bad_type", bad_type, sizeof bad_type, false);
  unsigned char bad_rank[] = {0, 0, 0x08, 0x09, 0, 0, 0, 1};
  write_bytes("bad_rank", bad_rank, sizeof bad_rank, false);
  unsigned char short_dims[] = {0, 0, 0x08, 0x02, 0, 0, 0, 8, 0, 0};
  write_bytes("short_dims", short_dims, sizeof short_dims, true);
  write_bytes("empty", "", 0, false);
  /* A header for 7 x 8, then 60 bytes: 4 more than it announces. */
  unsigned char t[72];
  memcpy(t, (unsigned char[]){0, 0, 8, 2, 0, 0, 0, 7, 0, 0, 0, 8}, 12);
  memcpy(t + 12, data, 60);
  write_bytes("trailing", t, 72, false);
  write_bytes("trailing.gz", t, 72, true);
  copy_prefix("good", "truncated", 4 + 8 + 50, -1);
  copy_prefix("good.gz", "truncated.gz", file_size("good.gz") - 6, -1);
  copy_prefix("good.gz", "corrupt.gz", file_size("good.gz"), 20);
  /* 2000 x 2000 x 2000 bytes announced in a few bytes of gzip: refused before
   * allocating 8 GB (a fuzzer's find, tests/fuzz/regressions/idx). */
  unsigned char huge[] = {0, 0, 0x08, 0x03, 0, 0, 0x07, 0xd0, 0, 0, 0x07, 0xd0, 0, 0, 0x07, 0xd0};
  write_bytes("huge.gz", huge, sizeof huge, true);
  static const struct {
    const char *name;
    int err;
    const char *diag;
  } cases[] = {
      {"bad_magic", SPD_EFORMAT, "bad magic 12 34 08 01"},
      {"bad_type", SPD_EFORMAT, "not an IDX file"},
      {"bad_rank", SPD_EFORMAT, "not an IDX file"},
      {"short_dims", SPD_EFORMAT, "truncated"},
      {"empty", SPD_EFORMAT, "truncated"},
      {"trailing", SPD_EFORMAT, "size mismatch"},
      {"trailing.gz", SPD_EFORMAT, "size mismatch"},
      {"truncated", SPD_EFORMAT, "truncated: the header announces 64 bytes"},
      {"truncated.gz", SPD_EFORMAT, "truncated"},
      {"corrupt.gz", SPD_EFORMAT, "corrupt.gz"},
      {"huge.gz", SPD_EFORMAT, "announces 8000000000 bytes of data, more than"},
      {"absent", SPD_ENOTFOUND, "absent"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    spd_ctx_t ctx;
    spd_ctx_init(&ctx);
    spd_array_t a;
    memset(&a, 0x77, sizeof a);
    int err = spd_idx_read(&ctx, path_of(cases[i].name), 0, &a);
    expect_fail(err, cases[i].err, &ctx, cases[i].diag);
    assert_non_null(strstr(spd_ctx_message(&ctx), cases[i].name));
    assert_int_equal(a.rank, 0x77777777); /* output untouched */
  }
}

static void npy_round_trip(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  static const size_t sizes[SPD_DTYPE_COUNT] = {1, 1, 2, 2, 4, 8, 4, 8};
  unsigned char bytes[6 * 8];
  for (size_t i = 0; i < sizeof bytes; i++)
    bytes[i] = (unsigned char)(i * 29 + 3);
  for (int t = 0; t < SPD_DTYPE_COUNT; t++)
    for (int rank = 0; rank <= 3; rank++) {
      spd_array_t a = {.dtype = (spd_dtype_t)t, .rank = rank, .data = bytes};
      uint64_t shapes[4][3] = {{0}, {6}, {2, 3}, {1, 3, 2}};
      memcpy(a.dims, shapes[rank], sizeof shapes[rank]);
      char name[32];
      snprintf(name, sizeof name, "a%d_%d.npy", t, rank);
      if (spd_npy_write(&ctx, path_of(name), &a))
        fail_msg("%s", spd_ctx_message(&ctx));
      assert_int_equal((file_size(name) - spd_array_count(&a) * sizes[t]) % 64, 0);
      spd_array_t b;
      if (spd_npy_read(&ctx, path_of(name), &b))
        fail_msg("%s", spd_ctx_message(&ctx));
      assert_int_equal(b.dtype, t);
      assert_int_equal(b.rank, rank);
      assert_memory_equal(b.dims, a.dims, sizeof a.dims);
      assert_memory_equal(b.data, bytes, spd_array_count(&a) * sizes[t]);
      spd_array_free(&b);
    }
  /* The header is the one numpy writes. */
  FILE *f = fopen(path_of("a6_2.npy"), "rb");
  char head[80] = {0};
  assert_int_equal(fread(head, 1, 70, f), 70);
  fclose(f);
  assert_memory_equal(head, "\x93NUMPY\x01\x00\x76\x00", 10);
  assert_memory_equal(head + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                      59);
  /* No temporary files are left next to the results. */
  DIR *d = opendir(dir);
  for (struct dirent *e = readdir(d); e; e = readdir(d))
    assert_null(strstr(e->d_name, ".tmp-"));
  closedir(d);
}

static void write_npy_raw(const char *name, int major, const char *dict, const void *data,
                          size_t n) {
  size_t dl = strlen(dict), pre = major == 1 ? 10 : 12;
  unsigned char *buf = test_malloc(pre + dl + n);
  memcpy(buf, "\x93NUMPY", 6);
  buf[6] = (unsigned char)major;
  buf[7] = 0;
  buf[8] = (unsigned char)dl;
  buf[9] = (unsigned char)(dl >> 8);
  if (major > 1)
    buf[10] = buf[11] = 0;
  memcpy(buf + pre, dict, dl);
  memcpy(buf + pre + dl, data, n);
  write_bytes(name, buf, pre + dl + n, false);
  test_free(buf);
}

static void npy_headers_numpy_writes(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_array_t a;
  unsigned char be[8] = {0, 0, 1, 2, 0xff, 0xff, 0xff, 0xfe};
  write_npy_raw("v2_be.npy", 2, "{\"descr\": \">i4\", \"fortran_order\": False, \"shape\": (2L,)}\n",
                be, 8);
  assert_int_equal(spd_npy_read(&ctx, path_of("v2_be.npy"), &a), 0);
  assert_int_equal(a.dtype, SPD_DTYPE_I32);
  assert_int_equal(((int32_t *)a.data)[0], 258);
  assert_int_equal(((int32_t *)a.data)[1], -2);
  spd_array_free(&a);
  double d[2] = {1.5, -2.0};
  write_npy_raw("v1.npy", 1, "{'descr':'<f8','fortran_order':False,'shape':(1, 2)}    \n", d, 16);
  assert_int_equal(spd_npy_read(&ctx, path_of("v1.npy"), &a), 0);
  assert_int_equal(a.rank, 2);
  assert_memory_equal(a.data, d, 16);
  spd_array_free(&a);

  static const struct {
    const char *name, *dict;
    size_t n;
    int err;
    const char *diag;
  } bad[] = {
      {"fortran.npy", "{'descr': '<f8', 'fortran_order': True, 'shape': (1, 2), }\n", 16,
       SPD_EUNSUPPORTED, "fortran_order True"},
      {"complex.npy", "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }\n", 16,
       SPD_EUNSUPPORTED, "dtype '<c8'"},
      {"short.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }\n", 16,
       SPD_EFORMAT, "truncated"},
      {"long.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n", 16,
       SPD_EFORMAT, "size mismatch"},
      {"noshape.npy", "{'descr': '<f8', 'fortran_order': False}\n", 16, SPD_EFORMAT,
       "no 'shape'"},
      {"nodescr.npy", "{'fortran_order': False, 'shape': (2,)}\n", 16, SPD_EFORMAT,
       "no 'descr'"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    write_npy_raw(bad[i].name, 1, bad[i].dict, d, bad[i].n);
    expect_fail(spd_npy_read(&ctx, path_of(bad[i].name), &a), bad[i].err, &ctx, bad[i].diag);
    assert_non_null(strstr(spd_ctx_message(&ctx), bad[i].name));
  }
  static const char zip[] = "PK\x03\x04 not numpy at all";
  write_bytes("notnpy.npy", zip, sizeof zip - 1, false);
  expect_fail(spd_npy_read(&ctx, path_of("notnpy.npy"), &a), SPD_EFORMAT, &ctx, "not a .npy");
  spd_array_t w = {.dtype = SPD_DTYPE_F64, .rank = 1, .dims = {2}, .data = d};
  expect_fail(spd_npy_write(&ctx, path_of("no/such/dir/x.npy"), &w), SPD_EIO, &ctx,
              "no/such/dir/x.npy");
}

/* A tiny dataset folder: 5 training and 3 test images of 2 x 3 pixels. */
static void write_small_dataset(const char *sub, bool gzip_images) {
  char folder[4200];
  snprintf(folder, sizeof folder, "%s/%s", dir, sub);
  mkdir(folder, 0755);
  uint8_t train[30], test[18], train_labels[5] = {0, 1, 2, 3, 9}, test_labels[3] = {4, 0, 1};
  for (int i = 0; i < 30; i++)
    train[i] = (uint8_t)(i * 8);
  for (int i = 0; i < 18; i++)
    test[i] = (uint8_t)(255 - i);
  char name[4300];
  uint32_t train_dims[3] = {5, 2, 3}, test_dims[3] = {3, 2, 3}, n5 = 5, n3 = 3;
  snprintf(name, sizeof name, "%s/train-images-idx3-ubyte%s", sub, gzip_images ? ".gz" : "");
  write_idx(name, 0x08, 3, train_dims, train, 1, gzip_images);
  snprintf(name, sizeof name, "%s/train-labels-idx1-ubyte", sub);
  write_idx(name, 0x08, 1, &n5, train_labels, 1, false);
  snprintf(name, sizeof name, "%s/t10k-images-idx3-ubyte%s", sub, gzip_images ? ".gz" : "");
  write_idx(name, 0x08, 3, test_dims, test, 1, gzip_images);
  snprintf(name, sizeof name, "%s/t10k-labels-idx1-ubyte.gz", sub);
  write_idx(name, 0x08, 1, &n3, test_labels, 1, true);
}

static void dataset_from_a_folder(void **state) {
  (void)state;
  write_small_dataset("small", true);
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_dataset_t *ds;
  if (spd_dataset_open(&ctx, path_of("small"), NULL, &ds))
    fail_msg("%s", spd_ctx_message(&ctx));
  assert_string_equal(ds->name, "small");
  assert_int_equal(ds->train.count, 5);
  assert_int_equal(ds->test.count, 3);
  assert_int_equal(ds->rows, 2);
  assert_int_equal(ds->cols, 3);
  assert_int_equal(ds->channels, 1);
  assert_int_equal(ds->classes, 10);
  assert_int_equal(ds->train.labels[4], 9);
  assert_int_equal(ds->test.labels[0], 4);
  assert_true(ds->train.images[0] == 0.0f);
  assert_true(ds->train.images[1] == (float)(8.0 / 255.0));
  assert_true(ds->test.images[0] == 1.0f);
  for (int i = 0; i < 30; i++)
    assert_true(ds->train.images[i] >= 0.0f && ds->train.images[i] <= 1.0f);
  spd_dataset_free(ds);

  spd_dataset_options_t opt = {.limit = 2, .test_limit = 1};
  assert_int_equal(spd_dataset_open(&ctx, path_of("small"), &opt, &ds), 0);
  assert_int_equal(ds->train.count, 2);
  assert_int_equal(ds->test.count, 1);
  assert_int_equal(ds->classes, 5); /* labels 0, 1 and 4 */
  assert_true(ds->train.images[6] == (float)(48.0 / 255.0));
  spd_dataset_free(ds);
}

static void dataset_errors_name_the_path(void **state) {
  (void)state;
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_dataset_t *ds = NULL;
  expect_fail(spd_dataset_open(&ctx, path_of("nowhere"), NULL, &ds), SPD_ENOTFOUND, &ctx,
              "nowhere");
  write_small_dataset("partial", false);
  char p[4300];
  snprintf(p, sizeof p, "%s/partial/t10k-labels-idx1-ubyte.gz", dir);
  remove(p);
  expect_fail(spd_dataset_open(&ctx, path_of("partial"), NULL, &ds), SPD_ENOTFOUND, &ctx,
              "t10k-labels-idx1-ubyte");
  /* 4 labels for 3 test images. */
  uint8_t four[4] = {1, 2, 3, 4};
  uint32_t n4 = 4;
  write_idx("partial/t10k-labels-idx1-ubyte", 0x08, 1, &n4, four, 1, false);
  expect_fail(spd_dataset_open(&ctx, path_of("partial"), NULL, &ds), SPD_ESHAPE, &ctx,
              "3 images");
  /* Test images of another size than the training images. */
  uint8_t px[12] = {0};
  uint32_t other[3] = {4, 3, 1}, n3 = 3;
  write_idx("partial/t10k-labels-idx1-ubyte", 0x08, 1, &n3, four, 1, false);
  write_idx("partial/t10k-images-idx3-ubyte", 0x08, 3, other, px, 1, false);
  expect_fail(spd_dataset_open(&ctx, path_of("partial"), NULL, &ds), SPD_ESHAPE, &ctx,
              "labels"); /* 4 images, 3 labels */
  write_idx("partial/t10k-labels-idx1-ubyte", 0x08, 1, &n4, four, 1, false);
  expect_fail(spd_dataset_open(&ctx, path_of("partial"), NULL, &ds), SPD_ESHAPE, &ctx,
              "test images are 3x1x1");
  assert_null(ds);
  struct stat st;
  if (stat(SPD_MNIST_DIR, &st) != 0)
    expect_fail(spd_dataset_open(&ctx, "mnist", NULL, &ds), SPD_ENOTFOUND, &ctx, SPD_MNIST_DIR);
}

static void fashion_mnist_from_debian(void **state) {
  (void)state;
  struct stat st;
  if (stat(SPD_FASHION_MNIST_DIR, &st) != 0) {
    print_message("skipped: %s absent (Debian package dataset-fashion-mnist)\n",
                  SPD_FASHION_MNIST_DIR);
    skip();
  }
  spd_ctx_t ctx;
  spd_ctx_init(&ctx);
  spd_dataset_t *ds;
  if (spd_dataset_open(&ctx, "fashion-mnist", NULL, &ds))
    fail_msg("%s", spd_ctx_message(&ctx));
  assert_int_equal(ds->train.count, 60000);
  assert_int_equal(ds->test.count, 10000);
  assert_int_equal(ds->rows, 28);
  assert_int_equal(ds->cols, 28);
  assert_int_equal(ds->channels, 1);
  assert_int_equal(ds->classes, 10);
  int per_class[10] = {0};
  for (uint32_t i = 0; i < ds->train.count; i++) {
    assert_true(ds->train.labels[i] >= 0 && ds->train.labels[i] < 10);
    per_class[ds->train.labels[i]]++;
  }
  for (int c = 0; c < 10; c++)
    assert_int_equal(per_class[c], 6000); /* Fashion-MNIST is balanced */
  float lo = 1, hi = 0;
  for (size_t i = 0; i < (size_t)10000 * 784; i++) {
    float v = ds->test.images[i];
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  assert_true(lo == 0.0f && hi == 1.0f);
  spd_dataset_free(ds);
}

/* Fails allocation N, for every N until the call succeeds: a clean ENOMEM
 * each time, nothing leaked. */
typedef int (*alloc_scenario_fn)(spd_ctx_t *ctx);

static void assert_allocation_failures_clean(alloc_scenario_fn scenario) {
  bool succeeded = false;
  for (uint64_t n = 1; !succeeded && n < 200; n++) {
    spd_ctx_t ctx;
    spd_ctx_init(&ctx);
    spd_test_alloc_t ta;
    spd_test_alloc_install(&ctx, &ta, n);
    int err = scenario(&ctx);
    if (err)
      assert_int_equal(err, SPD_ENOMEM);
    else
      succeeded = ta.failed == 0;
    assert_int_equal(ta.live, 0);
  }
  assert_true(succeeded);
}

static int read_gz_idx(spd_ctx_t *ctx) {
  spd_array_t a = {0};
  int err = spd_idx_read(ctx, path_of("alloc.gz"), 0, &a);
  spd_array_free(&a);
  return err;
}

static int read_plain_idx(spd_ctx_t *ctx) {
  spd_array_t a = {0};
  int err = spd_idx_read(ctx, path_of("alloc"), 0, &a);
  spd_array_free(&a);
  return err;
}

static int npy_write_read(spd_ctx_t *ctx) {
  float v[3] = {1, 2, 3};
  spd_array_t w = {.dtype = SPD_DTYPE_F32, .rank = 1, .dims = {3}, .data = v}, r;
  int err = spd_npy_write(ctx, path_of("alloc.npy"), &w);
  if (!err)
    err = spd_npy_read(ctx, path_of("alloc.npy"), &r);
  if (!err)
    spd_array_free(&r);
  return err;
}

static int open_small_dataset(spd_ctx_t *ctx) {
  spd_dataset_t *ds;
  int err = spd_dataset_open(ctx, path_of("small"), NULL, &ds);
  if (!err)
    spd_dataset_free(ds);
  return err;
}

static void allocation_failures_are_clean(void **state) {
  (void)state;
  uint8_t data[600];
  for (int i = 0; i < 600; i++)
    data[i] = (uint8_t)i;
  uint32_t dims[2] = {20, 30};
  write_idx("alloc.gz", 0x08, 2, dims, data, 1, true);
  write_idx("alloc", 0x08, 2, dims, data, 1, false);
  write_small_dataset("small", true);
  assert_allocation_failures_clean(read_gz_idx);
  assert_allocation_failures_clean(read_plain_idx);
  assert_allocation_failures_clean(npy_write_read);
  assert_allocation_failures_clean(open_small_dataset);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(idx_ubyte_plain_and_gzip),
      cmocka_unit_test(idx_all_types),
      cmocka_unit_test(idx_limit_keeps_the_first_entries),
      cmocka_unit_test(idx_malformed_files_are_rejected),
      cmocka_unit_test(npy_round_trip),
      cmocka_unit_test(npy_headers_numpy_writes),
      cmocka_unit_test(dataset_from_a_folder),
      cmocka_unit_test(dataset_errors_name_the_path),
      cmocka_unit_test(fashion_mnist_from_debian),
      cmocka_unit_test(allocation_failures_are_clean),
  };
  return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
