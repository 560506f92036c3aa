/* The protobuf side of the ONNX reader: decoding a ModelProto through the
 * context's allocator, tensors (typed fields, raw little-endian bytes or an
 * external file beside the model) and node attributes, each checked
 * against what it claims to be. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/onnx_internal.h"

/* protobuf-c's allocator: the context's, remembering a refusal so that
 * running out of memory is not reported as a malformed file. */
typedef struct pb_heap {
  spd_ctx_t *ctx;
  bool refused;
} pb_heap_t;

static void *pb_alloc(void *ud, size_t size) {
  pb_heap_t *h = ud;
  void *p = spd_malloc(h->ctx, size ? size : 1);
  h->refused = h->refused || !p;
  return p;
}

static void pb_free(void *ud, void *ptr) { spd_free(((pb_heap_t *)ud)->ctx, ptr); }

Onnx__ModelProto *spd__onnx_unpack(spd_ctx_t *ctx, const uint8_t *data, size_t len) {
  pb_heap_t heap = {.ctx = ctx};
  ProtobufCAllocator a = {.alloc = pb_alloc, .free = pb_free, .allocator_data = &heap};
  Onnx__ModelProto *p = onnx__model_proto__unpack(&a, len, data);
  if (!p && heap.refused)
    spd_ctx_fail(ctx, SPD_ENOMEM, "out of memory decoding an ONNX model of %zu bytes", len);
  else if (!p)
    spd_ctx_fail(ctx, SPD_EFORMAT,
                 "not an ONNX model: the %zu bytes do not decode as a ModelProto (truncated, "
                 "or a field of the wrong type)", len);
  return p;
}

void spd__onnx_free(spd_ctx_t *ctx, Onnx__ModelProto *proto) {
  pb_heap_t heap = {.ctx = ctx};
  ProtobufCAllocator a = {.alloc = pb_alloc, .free = pb_free, .allocator_data = &heap};
  if (proto)
    onnx__model_proto__free_unpacked(proto, &a);
}

static size_t type_size(int32_t type) {
  switch (type) {
  case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
  case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
    return 4;
  case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
  case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
    return 8;
  default:
    return 0;
  }
}

static int tensor_fail(onnx_conv_t *cv, const char *what, const char *why, int err) {
  return spd_ctx_fail(cv->ctx, err, "ONNX tensor '%s': %s", what, why);
}

/* Element @p k of raw little-endian bytes of @p type, as double. */
static double raw_at(const uint8_t *raw, int32_t type, size_t k) {
  switch (type) {
  case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: {
    float v;
    memcpy(&v, raw + 4 * k, 4);
    return v;
  }
  case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: {
    int32_t v;
    memcpy(&v, raw + 4 * k, 4);
    return v;
  }
  case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: {
    int64_t v;
    memcpy(&v, raw + 8 * k, 8);
    return (double)v;
  }
  default: {
    double v;
    memcpy(&v, raw + 8 * k, 8);
    return v;
  }
  }
}

static int64_t raw_int_at(const uint8_t *raw, int32_t type, size_t k) {
  if (type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) {
    int64_t v;
    memcpy(&v, raw + 8 * k, 8);
    return v;
  }
  double d = raw_at(raw, type, k);
  return d >= -9.2e18 && d <= 9.2e18 ? (int64_t)d : 0;
}

/* The external-data entry @p key of @p t, or NULL. */
static const char *external_entry(const Onnx__TensorProto *t, const char *key) {
  for (size_t i = 0; i < t->n_external_data; i++)
    if (t->external_data[i]->key && !strcmp(t->external_data[i]->key, key))
      return t->external_data[i]->value;
  return NULL;
}

/* Read @p len bytes of tensor @p t's external file into a new buffer. */
static int read_external(onnx_conv_t *cv, const Onnx__TensorProto *t, const char *what,
                         size_t len, uint8_t **out) {
  const char *loc = external_entry(t, "location");
  const char *off_s = external_entry(t, "offset"), *len_s = external_entry(t, "length");
  if (!loc || !loc[0])
    return tensor_fail(cv, what, "external data without a location", SPD_EFORMAT);
  if (!cv->base_dir)
    return tensor_fail(cv, what, "external data needs the model's folder (read it from a file)",
                       SPD_EUNSUPPORTED);
  if (loc[0] == '/' || strstr(loc, ".."))
    return spd_ctx_fail(cv->ctx, SPD_EFORMAT,
                        "ONNX tensor '%s': external location '%s' leaves the model's folder",
                        what, loc);
  char *end;
  unsigned long long offset = off_s ? strtoull(off_s, &end, 10) : 0;
  if (off_s && (*end || !off_s[0]))
    return tensor_fail(cv, what, "external data offset is not a number", SPD_EFORMAT);
  if (len_s) {
    unsigned long long l = strtoull(len_s, &end, 10);
    if (*end || !len_s[0] || l != len)
      return spd_ctx_fail(cv->ctx, SPD_EFORMAT,
                          "ONNX tensor '%s': external length %s is not the %zu bytes its dims "
                          "and type need", what, len_s, len);
  }
  char path[4096];
  if ((size_t)snprintf(path, sizeof path, "%s/%s", cv->base_dir, loc) >= sizeof path)
    return tensor_fail(cv, what, "external data path too long", SPD_EFORMAT);
  FILE *f = fopen(path, "rb");
  if (!f)
    return spd_ctx_fail(cv->ctx, SPD_EIO, "ONNX tensor '%s': cannot open external data '%s': %s",
                        what, path, strerror(errno));
  uint8_t *buf = spd_malloc(cv->ctx, len ? len : 1);
  int rc = 0;
  if (!buf)
    rc = spd_ctx_fail(cv->ctx, SPD_ENOMEM, "ONNX tensor '%s': %zu bytes", what, len);
  else if (fseeko(f, (off_t)offset, SEEK_SET) || fread(buf, 1, len, f) != len)
    rc = spd_ctx_fail(cv->ctx, SPD_EFORMAT,
                      "ONNX tensor '%s': external data '%s' holds fewer than %llu + %zu bytes",
                      what, path, offset, len);
  fclose(f);
  if (rc)
    spd_free(cv->ctx, buf);
  else
    *out = buf;
  return rc;
}

static int tensor_count(onnx_conv_t *cv, const Onnx__TensorProto *t, const char *what,
                        onnx_value_t *out) {
  if (t->n_dims > 8)
    return tensor_fail(cv, what, "more than 8 dimensions", SPD_EUNSUPPORTED);
  size_t count = 1;
  for (size_t d = 0; d < t->n_dims; d++) {
    if (t->dims[d] < 0 || (t->dims[d] > 0 && count > ONNX_MAX_ELEMENTS / (uint64_t)t->dims[d]))
      return spd_ctx_fail(cv->ctx, SPD_EFORMAT,
                          "ONNX tensor '%s': dimension %zu is %" PRId64
                          " (negative, or the tensor passes 2^31-1 elements)",
                          what, d, t->dims[d]);
    count *= (size_t)t->dims[d];
    out->dims[d] = t->dims[d];
  }
  out->rank = (int)t->n_dims;
  out->count = count;
  return 0;
}

int spd__onnx_tensor(onnx_conv_t *cv, const Onnx__TensorProto *t, const char *what,
                     onnx_value_t *out) {
  int rc = tensor_count(cv, t, what, out);
  if (rc)
    return rc;
  int32_t type = t->has_data_type ? t->data_type : 0;
  size_t size = type_size(type), n = out->count;
  if (!size)
    return spd_ctx_fail(cv->ctx, SPD_EUNSUPPORTED,
                        "ONNX tensor '%s': data type %d (spindle reads float, double, int32 and "
                        "int64 tensors)", what, (int)type);
  uint8_t *external = NULL;
  const uint8_t *raw = NULL;
  if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
    if ((rc = read_external(cv, t, what, n * size, &external)))
      return rc;
    raw = external;
  } else if (t->has_raw_data) {
    if (t->raw_data.len != n * size) {
      char why[160];
      snprintf(why, sizeof why, "raw data of %zu bytes for %zu elements of %zu bytes",
               t->raw_data.len, n, size);
      return tensor_fail(cv, what, why, SPD_EFORMAT);
    }
    raw = t->raw_data.data;
  } else {
    size_t have = type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT   ? t->n_float_data
                  : type == ONNX__TENSOR_PROTO__DATA_TYPE__INT32 ? t->n_int32_data
                  : type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 ? t->n_int64_data
                                                                 : t->n_double_data;
    if (have != n) {
      char why[128];
      snprintf(why, sizeof why, "%zu values for dims holding %zu", have, n);
      return tensor_fail(cv, what, why, SPD_EFORMAT);
    }
  }
  /* Integers matter for shapes and axes only: a float tensor keeps its
   * int64 view when small (a Constant's bound), not a layer's weights. */
  bool ints = type == ONNX__TENSOR_PROTO__DATA_TYPE__INT32 ||
              type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 || n <= 64;
  out->f = spd_malloc(cv->ctx, (n ? n : 1) * sizeof *out->f);
  out->i = ints ? spd_malloc(cv->ctx, (n ? n : 1) * sizeof *out->i) : NULL;
  if (!out->f || (ints && !out->i)) {
    spd_free(cv->ctx, external);
    return tensor_fail(cv, what, "out of memory", SPD_ENOMEM);
  }
  if (raw && type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT && !ints) {
    memcpy(out->f, raw, n * sizeof *out->f); /* little-endian, as the host */
    n = 0;
  }
  for (size_t k = 0; k < n; k++) {
    double d;
    int64_t i;
    if (raw) {
      d = raw_at(raw, type, k);
      i = raw_int_at(raw, type, k);
    } else if (type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
      d = t->float_data[k];
      i = isfinite(d) && fabs(d) < 9e18 ? (int64_t)d : 0;
    } else if (type == ONNX__TENSOR_PROTO__DATA_TYPE__INT32) {
      d = i = t->int32_data[k];
    } else if (type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) {
      i = t->int64_data[k];
      d = (double)i;
    } else {
      d = t->double_data[k];
      i = isfinite(d) && fabs(d) < 9e18 ? (int64_t)d : 0;
    }
    out->f[k] = (float)d;
    if (ints)
      out->i[k] = i;
  }
  spd_free(cv->ctx, external);
  out->kind = ONNX_V_CONST;
  return 0;
}

const Onnx__AttributeProto *spd__onnx_attr(const Onnx__NodeProto *n, const char *name) {
  for (size_t i = 0; i < n->n_attribute; i++)
    if (n->attribute[i]->name && !strcmp(n->attribute[i]->name, name))
      return n->attribute[i];
  return NULL;
}

static int attr_type_fail(onnx_conv_t *cv, const Onnx__NodeProto *n, const char *name,
                          const char *want) {
  return spd__onnx_fail(cv, n, SPD_EFORMAT, "attribute '%s' must be %s", name, want);
}

int spd__onnx_attr_int(onnx_conv_t *cv, const Onnx__NodeProto *n, const char *name,
                       int64_t fallback, int64_t *out) {
  const Onnx__AttributeProto *a = spd__onnx_attr(n, name);
  if (!a) {
    *out = fallback;
    return 0;
  }
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT && (a->has_type || !a->has_i))
    return attr_type_fail(cv, n, name, "an int");
  *out = a->i;
  return 0;
}

int spd__onnx_attr_float(onnx_conv_t *cv, const Onnx__NodeProto *n, const char *name,
                         float fallback, float *out) {
  const Onnx__AttributeProto *a = spd__onnx_attr(n, name);
  if (!a) {
    *out = fallback;
    return 0;
  }
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT && (a->has_type || !a->has_f))
    return attr_type_fail(cv, n, name, "a float");
  *out = a->f;
  return 0;
}

int spd__onnx_attr_ints(onnx_conv_t *cv, const Onnx__NodeProto *n, const char *name,
                        int64_t *out, int max, int *count) {
  const Onnx__AttributeProto *a = spd__onnx_attr(n, name);
  *count = 0;
  if (!a)
    return 0;
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS && (a->has_type || !a->n_ints))
    return attr_type_fail(cv, n, name, "a list of ints");
  if (a->n_ints > (size_t)max)
    return spd__onnx_fail(cv, n, SPD_EUNSUPPORTED, "attribute '%s' has %zu values (at most %d)",
                          name, a->n_ints, max);
  for (size_t i = 0; i < a->n_ints; i++)
    out[i] = a->ints[i];
  *count = (int)a->n_ints;
  return 0;
}

int spd__onnx_attr_string(onnx_conv_t *cv, const Onnx__NodeProto *n, const char *name,
                          const char *fallback, char *out, size_t size) {
  const Onnx__AttributeProto *a = spd__onnx_attr(n, name);
  if (!a) {
    snprintf(out, size, "%s", fallback);
    return 0;
  }
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING && (a->has_type || !a->has_s))
    return attr_type_fail(cv, n, name, "a string");
  size_t len = a->s.len < size - 1 ? a->s.len : size - 1;
  if (len) /* an absent string has no data pointer */
    memcpy(out, a->s.data, len);
  out[len] = '\0';
  return 0;
}
