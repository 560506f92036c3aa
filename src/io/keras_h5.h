/* Internal to io/: HDF5 helpers shared by the Keras weight layouts (legacy
 * tf.keras 2 `.h5`, Keras 3 `.weights.h5`, the member of `.keras` archives),
 * and the layouts' readers and writers on an open HDF5 file. */
#ifndef SPINDLE_IO_KERAS_H5_H
#define SPINDLE_IO_KERAS_H5_H

#include <hdf5.h>

#include "spindle/keras.h"

/* libhdf5 prints its own error stack to stderr by default; spindle reports
 * errors through the context instead, so the printing is switched off for the
 * duration of each public call and restored afterwards. */
typedef struct spd__h5_quiet {
  H5E_auto2_t func;
  void *data;
} spd__h5_quiet_t;

void spd__h5_quiet_begin(spd__h5_quiet_t *q);
void spd__h5_quiet_end(const spd__h5_quiet_t *q);

/** Refuse the file holding @p obj when one of its global heap collections
 *  is corrupt (an object reaching past its collection, or the collection
 *  past the file), which libhdf5 would follow out of bounds when it reads a
 *  variable-length string. @p where starts the diagnostic.
 *  @return 0, SPD_EFORMAT or SPD_ENOMEM. */
int spd__h5_check_heaps(spd_ctx_t *ctx, hid_t obj, const char *where);

/** Refuse @p len bytes of an HDF5 file whose root group header (version
 *  0/1 superblock) reaches past the end of the file, before H5Fopen: libhdf5
 *  leaks memory of its own when that open fails. @p where starts the
 *  diagnostic. @return 0 or SPD_EFORMAT. */
int spd__h5_check_bytes(spd_ctx_t *ctx, const void *data, size_t len, const char *where);
/** spd__h5_check_bytes on the file at @p path (0 when it cannot be read:
 *  the open that follows reports that). */
int spd__h5_check_path(spd_ctx_t *ctx, const char *path);

/** Refuse the file when the object header of @p obj (a group or dataset
 *  whose attributes are about to be read), or an attribute in it, is
 *  corrupt in a way libhdf5 1.10 would follow out of bounds before it
 *  notices: a chunk past the file, an attribute's name, datatype,
 *  dataspace or data larger than its message, a variable-length value
 *  pointing at no heap object of its length (docs/formats.md, "Reading
 *  untrusted HDF5"). Call it before the first H5Aexists/H5Aopen on
 *  @p obj. @return 0, SPD_EFORMAT or SPD_ENOMEM. */
int spd__h5_check_object(spd_ctx_t *ctx, hid_t obj, const char *where);

/** Refuse the file when an object header below group @p group (every
 *  group and dataset it holds, at any depth) reaches past the end of the
 *  file, before anything opens one: libhdf5 allocates a header's recorded
 *  size first (gigabytes in a corrupt file) and reads it after. Call it
 *  before opening what @p group holds. @return 0, SPD_EFORMAT or
 *  SPD_ENOMEM. */
int spd__h5_check_tree(spd_ctx_t *ctx, hid_t group, const char *where);

/** Does @p loc have a link (group or dataset) at relative path @p path? */
bool spd__h5_exists(hid_t loc, const char *path);
bool spd__h5_has_attr(hid_t obj, const char *name);

/** A list-of-strings attribute (layer_names, weight_names) in either string
 *  type, or split by Keras over name0, name1, ... when it outgrew the 64 KB
 *  object header. An empty attribute (h5py writes [] as float64 (0,)) is an
 *  empty list. @param strs_out array of @p n_out strings (spd__h5_strings_free).
 *  @return 0, SPD_ENOTFOUND (no such attribute), SPD_EFORMAT, SPD_ENOMEM. */
int spd__h5_read_strings(spd_ctx_t *ctx, hid_t obj, const char *name, const char *where,
                         char ***strs_out, int *n_out);
void spd__h5_strings_free(spd_ctx_t *ctx, char **strs, int n);

/** Write a list-of-strings attribute as Keras does: fixed-length strings,
 *  split over name0, name1, ... when one attribute would exceed 64,512 bytes. */
int spd__h5_write_strings(spd_ctx_t *ctx, hid_t obj, const char *name, const char *const *strs,
                          int n);

/** Scalar string attributes (model_config, keras_version, backend). */
int spd__h5_read_string(spd_ctx_t *ctx, hid_t obj, const char *name, char **out);
int spd__h5_write_string(spd_ctx_t *ctx, hid_t obj, const char *name, const char *value);

/** Read the dataset at @p path under @p loc into @p dst after checking that
 *  it is a float dataset of exactly @p expect's shape. Diagnostics name
 *  @p layer, the weight @p weight and both shapes. */
int spd__h5_read_tensor(spd_ctx_t *ctx, hid_t loc, const char *path, const char *layer,
                        const char *weight, const spd_shape_t *expect, float *dst);
/** Create a float32 dataset at @p path (intermediate groups created). */
int spd__h5_write_tensor(spd_ctx_t *ctx, hid_t loc, const char *path, const spd_tensor_t *t);

/* All-or-nothing loads: values are read into a stage and copied into the
 * model only when every parameter has been read. */
typedef struct spd__stage {
  spd_model_t *m;
  float *values;
  size_t *offsets; /* n_layers * SPD_MAX_PARAMS */
} spd__stage_t;

int spd__stage_init(spd__stage_t *st, spd_model_t *m);
float *spd__stage_slot(const spd__stage_t *st, int layer, int param);
void spd__stage_commit(const spd__stage_t *st);
void spd__stage_deinit(spd__stage_t *st);

/* HDF5 files held in memory (the .weights.h5 member of a .keras archive). */
int spd__h5_open_image(spd_ctx_t *ctx, const void *data, size_t len, hid_t *file_out);
int spd__h5_create_image(spd_ctx_t *ctx, hid_t *file_out);
/** The bytes of an in-memory file (spd_free) */
int spd__h5_image_bytes(spd_ctx_t *ctx, hid_t file, void **data_out, size_t *len_out);

/* The layouts. Readers fill @p st; @p file names the file in diagnostics. */
int spd__keras_legacy_read(spd__stage_t *st, hid_t root, const char *file);
int spd__keras_legacy_write(const spd_model_t *m, hid_t root);
int spd__keras3_read(spd__stage_t *st, hid_t file_id, const char *file);
int spd__keras3_write(const spd_model_t *m, hid_t file_id);

/* Whole files already open (keras_file.c): the weights of any HDF5 layout
 * (detected from the groups and attributes), and a legacy full-model .h5's
 * model (model_config, training_config and model_weights). @p name names the
 * file in diagnostics. */
int spd__keras_h5_weights(spd__stage_t *st, hid_t file_id, const char *name);
int spd__keras_h5_model(spd_ctx_t *ctx, hid_t file_id, const char *name, uint64_t seed,
                        spd_model_t **out);

/* The .keras archive (keras_archive.c): by path, or open (a libzip zip_t),
 * e.g. from memory. */
struct zip;
int spd__keras_archive_read_weights(spd__stage_t *st, const char *path);
int spd__keras_archive_load(spd_ctx_t *ctx, const char *path, uint64_t seed, spd_model_t **out);
int spd__keras_archive_write(const spd_model_t *m, const char *path);
/** An archive of @p len bytes at @p data (borrowed until zip_discard). */
int spd__keras_archive_open_memory(spd_ctx_t *ctx, const void *data, size_t len,
                                   struct zip **out);
int spd__keras_archive_weights(spd__stage_t *st, struct zip *za, const char *name);
/** The model of config.json with the weights of model.weights.h5. */
int spd__keras_archive_model(spd_ctx_t *ctx, struct zip *za, const char *name, uint64_t seed,
                             spd_model_t **out);

#endif
