/* Datasets: n-dimensional arrays from IDX (MNIST's format, optionally
 * gzip-compressed) and NumPy .npy files, and classification datasets made of
 * them (train and test images with labels). */
#ifndef SPINDLE_DATASET_H
#define SPINDLE_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "spindle/context.h"

#define SPD_ARRAY_MAX_RANK 8

/** Element types of arrays read from or written to files. */
typedef enum spd_dtype {
  SPD_DTYPE_U8 = 0,
  SPD_DTYPE_I8,
  SPD_DTYPE_U16,
  SPD_DTYPE_I16,
  SPD_DTYPE_I32,
  SPD_DTYPE_I64,
  SPD_DTYPE_F32,
  SPD_DTYPE_F64,
  SPD_DTYPE_COUNT
} spd_dtype_t;

/** Bytes per element (0 for an invalid type). */
size_t spd_dtype_size(spd_dtype_t t);
/** "uint8", "float32", ... ("?" for an invalid type). */
const char *spd_dtype_name(spd_dtype_t t);

/** An n-dimensional array in C order, elements in host byte order. */
typedef struct spd_array {
  spd_dtype_t dtype;
  int rank;                          /* 0..SPD_ARRAY_MAX_RANK */
  uint64_t dims[SPD_ARRAY_MAX_RANK];
  void *data;                        /* owned; release with spd_array_free */
  spd_ctx_t *ctx;                    /* the allocator of data */
} spd_array_t;

/** Number of elements (1 for rank 0). */
uint64_t spd_array_count(const spd_array_t *a);
/** Releases the data and zeroes @p a; accepts a zeroed array. */
void spd_array_free(spd_array_t *a);

/** Read an IDX file, plain or gzip-compressed (recognised by its magic bytes,
 *  not its name). Types: ubyte, byte, short, int, float, double; any rank up
 *  to SPD_ARRAY_MAX_RANK. @p limit > 0 keeps only the first @p limit entries
 *  of the first dimension (the rest of the file is not read); 0 reads all and
 *  checks that no data follows.
 *  @return 0, SPD_EIO (cannot open/read), SPD_EFORMAT (bad magic, truncated,
 *  size mismatch; the diagnostic names the file), SPD_ENOMEM. On failure
 *  @p out is untouched. */
int spd_idx_read(spd_ctx_t *ctx, const char *path, uint64_t limit, spd_array_t *out);

/** Read a NumPy .npy file (format 1.0, 2.0 or 3.0 header; C order; dtypes
 *  u1 i1 u2 i2 i4 i8 f4 f8 little-endian). Fortran-ordered arrays are refused.
 *  @return 0, SPD_EIO, SPD_EFORMAT, SPD_EUNSUPPORTED (dtype or order), SPD_ENOMEM. */
int spd_npy_read(spd_ctx_t *ctx, const char *path, spd_array_t *out);

/** Write @p a as a .npy file (format 1.0, little-endian, C order),
 *  atomically: a temporary file in the same folder, fsync, rename.
 *  @return 0, SPD_EIO, SPD_EINVAL, SPD_ENOMEM. */
int spd_npy_write(spd_ctx_t *ctx, const char *path, const spd_array_t *a);

/** One split of a classification dataset. */
typedef struct spd_dataset_split {
  uint32_t count;   /* samples */
  float *images;    /* count x rows x cols x channels, C order; uint8 pixels
                       scaled to [0, 1] (divided by 255) */
  int32_t *labels;  /* count class indices */
} spd_dataset_split_t;

/** A classification dataset (Keras's layout: (N, rows, cols, channels)).
 *  Owned by its creator; free with spd_dataset_free. */
typedef struct spd_dataset {
  spd_ctx_t *ctx;
  char name[64];               /* "fashion-mnist", "mnist" or the folder's name */
  uint32_t rows, cols, channels;
  uint32_t classes;            /* largest label + 1 over both splits */
  spd_dataset_split_t train, test;
} spd_dataset_t;

typedef struct spd_dataset_options {
  uint32_t limit;       /* keep the first @c limit training samples; 0 = all */
  uint32_t test_limit;  /* keep the first @c test_limit test samples; 0 = all */
} spd_dataset_options_t;

/** Where "fashion-mnist" is looked for (Debian's dataset-fashion-mnist). */
#define SPD_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
/** Where "mnist" is looked for (Debian does not package MNIST today). */
#define SPD_MNIST_DIR "/usr/share/datasets/mnist"

/** Open a dataset. @p spec is "fashion-mnist", "mnist" or the path of a
 *  folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte,
 *  t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each optionally with
 *  ".gz". Images are (N, rows, cols) or (N, rows, cols, channels) uint8 (or
 *  float32/float64, taken as they are), labels (N) of an integer type.
 *  @p options may be NULL.
 *  @return 0, SPD_ENOTFOUND (folder or file missing; the diagnostic names the
 *  path), SPD_EFORMAT / SPD_ESHAPE (bad or inconsistent files), SPD_EIO,
 *  SPD_ENOMEM. *out is owned by the caller (spd_dataset_free). */
int spd_dataset_open(spd_ctx_t *ctx, const char *spec, const spd_dataset_options_t *options,
                     spd_dataset_t **out);
void spd_dataset_free(spd_dataset_t *ds);

#endif
