/* spindle._native: the Python package's one door into libspindle.so. A
 * model handle (a capsule) holds its own context, the model and the trained
 * fixed-point run; fit, evaluate and predict call spd_fit, spd_evaluate and
 * spd_predict (spindle/api.h) on NumPy arrays through the buffer protocol,
 * without copies when they are float32 (int32 labels) and C-contiguous, with
 * the GIL released while the machine or the host executor runs. Callbacks
 * take the GIL back; should_stop_cb runs Python's pending signal handlers,
 * so Ctrl-C stops the run at its next poll and is raised as
 * KeyboardInterrupt, the model left as the engine left it (usable). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdbool.h>
#include <string.h>

#include "spindle/spindle.h"

typedef struct handle {
  spd_ctx_t ctx;
  spd_model_t *model;
  spd_fixed_run_t *fixed_run;
  int busy;                     /* a run is using the model */
} handle_t;

#define CAPSULE "spindle._native.model"

static PyObject *SpindleError; /* spindle._native.Error(RuntimeError) */

static void handle_free(PyObject *cap) {
  handle_t *h = PyCapsule_GetPointer(cap, CAPSULE);
  if (!h)
    return;
  spd_fixed_run_free(h->fixed_run);
  spd_model_free(h->model);
  PyMem_RawFree(h);
}

static handle_t *get(PyObject *cap) {
  return PyCapsule_GetPointer(cap, CAPSULE);
}

/* A failure of the library as a Python exception: bad arguments and shapes
 * as ValueError (Keras raises it for those), unsupported as
 * NotImplementedError, files as OSError, the rest as spindle's Error. */
static PyObject *raise(const spd_ctx_t *ctx, int rc) {
  const char *msg = spd_ctx_message(ctx);
  PyObject *type = SpindleError;
  switch (rc) {
  case SPD_EINVAL:
  case SPD_ESHAPE:
  case SPD_EFORMAT:
    type = PyExc_ValueError;
    break;
  case SPD_EUNSUPPORTED:
    type = PyExc_NotImplementedError;
    break;
  case SPD_EIO:
  case SPD_ENOTFOUND:
    type = PyExc_OSError;
    break;
  case SPD_ENOMEM:
    type = PyExc_MemoryError;
    break;
  default:
    break;
  }
  PyErr_SetString(type, msg);
  return NULL;
}

static PyObject *wrap(spd_ctx_t *ctx, spd_model_t *m, handle_t *h) {
  (void)ctx;
  h->model = m;
  m->ctx = &h->ctx;
  PyObject *cap = PyCapsule_New(h, CAPSULE, handle_free);
  if (!cap) {
    spd_model_free(m);
    PyMem_RawFree(h);
  }
  return cap;
}

static handle_t *new_handle(void) {
  handle_t *h = PyMem_RawCalloc(1, sizeof *h);
  if (!h) {
    PyErr_NoMemory();
    return NULL;
  }
  spd_ctx_init(&h->ctx);
  h->ctx.log_level = SPD_LOG_ERROR;
  return h;
}

/* model_from_json(text, seed) -> handle */
static PyObject *model_from_json(PyObject *self, PyObject *args) {
  (void)self;
  const char *text;
  Py_ssize_t len;
  unsigned long long seed;
  if (!PyArg_ParseTuple(args, "s#K", &text, &len, &seed))
    return NULL;
  handle_t *h = new_handle();
  if (!h)
    return NULL;
  spd_model_t *m = NULL;
  int rc = spd_keras_json_parse(&h->ctx, text, (size_t)len, seed, &m);
  if (rc) {
    raise(&h->ctx, rc);
    PyMem_RawFree(h);
    return NULL;
  }
  return wrap(&h->ctx, m, h);
}

/* model_load(path, seed) -> handle: .json, .h5, .keras or .onnx */
static PyObject *model_load(PyObject *self, PyObject *args) {
  (void)self;
  const char *path;
  unsigned long long seed;
  if (!PyArg_ParseTuple(args, "sK", &path, &seed))
    return NULL;
  handle_t *h = new_handle();
  if (!h)
    return NULL;
  spd_model_t *m = NULL;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = spd_keras_model_load(&h->ctx, path, seed, &m);
  Py_END_ALLOW_THREADS
  if (rc) {
    raise(&h->ctx, rc);
    PyMem_RawFree(h);
    return NULL;
  }
  return wrap(&h->ctx, m, h);
}

static handle_t *arg_handle(PyObject *cap) {
  handle_t *h = get(cap);
  if (h && h->busy) {
    PyErr_SetString(PyExc_RuntimeError, "the model is running (fit, evaluate or predict) in "
                                        "another thread");
    return NULL;
  }
  return h;
}

/* model_to_json(handle) -> str (Keras 3 form, with compile_config when set) */
static PyObject *model_to_json(PyObject *self, PyObject *cap) {
  (void)self;
  handle_t *h = arg_handle(cap);
  if (!h)
    return NULL;
  char *text = NULL;
  int rc = spd_keras_json_format(h->model, SPD_KERAS_JSON_KERAS3, &text);
  if (rc)
    return raise(&h->ctx, rc);
  PyObject *s = PyUnicode_FromString(text);
  spd_free(h->model->ctx, text);
  return s;
}

static PyObject *model_summary(PyObject *self, PyObject *cap) {
  (void)self;
  handle_t *h = arg_handle(cap);
  if (!h)
    return NULL;
  char *text = NULL;
  int rc = spd_model_summary(h->model, &text);
  if (rc)
    return raise(&h->ctx, rc);
  PyObject *s = PyUnicode_FromString(text);
  spd_free(h->model->ctx, text);
  return s;
}

/* model_save(handle, path): the layout from the extension (.keras, .h5,
 * .weights.h5). */
static PyObject *model_save(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *cap;
  const char *path;
  if (!PyArg_ParseTuple(args, "Os", &cap, &path))
    return NULL;
  handle_t *h = arg_handle(cap);
  if (!h)
    return NULL;
  spd_keras_file_t kind = spd_keras_file_from_path(path);
  /* Keras's model.save('m.h5') writes the whole model (legacy HDF5). */
  size_t n = strlen(path);
  bool weights_only = n > 11 && !strcmp(path + n - 11, ".weights.h5");
  if (kind == SPD_KERAS_FILE_H5_WEIGHTS && !weights_only)
    kind = SPD_KERAS_FILE_H5_MODEL;
  if (kind == SPD_KERAS_FILE_UNKNOWN || kind == SPD_KERAS_FILE_JSON) {
    PyErr_Format(PyExc_ValueError, "Invalid filepath extension for saving: '%s'. Please "
                 "use .keras, .h5 or .weights.h5", path);
    return NULL;
  }
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = spd_keras_save(h->model, path, kind);
  Py_END_ALLOW_THREADS
  if (rc)
    return raise(&h->ctx, rc);
  Py_RETURN_NONE;
}

static PyObject *model_load_weights(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *cap;
  const char *path;
  if (!PyArg_ParseTuple(args, "Os", &cap, &path))
    return NULL;
  handle_t *h = arg_handle(cap);
  if (!h)
    return NULL;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = spd_keras_weights_load(h->model, path);
  Py_END_ALLOW_THREADS
  if (rc)
    return raise(&h->ctx, rc);
  Py_RETURN_NONE;
}

static PyObject *shape_tuple(const spd_shape_t *s) {
  PyObject *t = PyTuple_New(s->rank);
  for (int i = 0; t && i < s->rank; i++)
    PyTuple_SET_ITEM(t, i, PyLong_FromLong(s->dims[i]));
  return t;
}

/* model_info(handle) -> (input_shape, output_shape,
 *   [(layer_name, class_name, output_shape, [(param_name, shape, trainable)])]) */
static PyObject *model_info(PyObject *self, PyObject *cap) {
  (void)self;
  handle_t *h = arg_handle(cap);
  if (!h)
    return NULL;
  const spd_model_t *m = h->model;
  PyObject *layers = PyList_New(0);
  for (int i = 0; layers && i < m->n_layers; i++) {
    const spd_layer_t *l = &m->layers[i];
    PyObject *params = PyList_New(0);
    for (int p = 0; params && p < l->n_params; p++) {
      PyObject *t = Py_BuildValue("(sNO)", l->params[p].name,
                                  shape_tuple(&l->params[p].value.shape),
                                  l->params[p].trainable ? Py_True : Py_False);
      if (!t || PyList_Append(params, t)) {
        Py_XDECREF(t);
        Py_CLEAR(params);
      }
      Py_XDECREF(t);
    }
    PyObject *row = params ? Py_BuildValue("(ssNN)", l->config.name,
                                           spd_layer_kind_name(l->config.kind),
                                           shape_tuple(&l->output_shape), params)
                           : NULL;
    if (!row || PyList_Append(layers, row))
      Py_CLEAR(layers);
    Py_XDECREF(row);
  }
  if (!layers)
    return NULL;
  return Py_BuildValue("(NNN)", shape_tuple(&m->layers[0].output_shape),
                       shape_tuple(&m->layers[m->output].output_shape), layers);
}

static spd_param_t *param_at(handle_t *h, int layer, int index) {
  if (layer < 0 || layer >= h->model->n_layers || index < 0 ||
      index >= h->model->layers[layer].n_params) {
    PyErr_Format(PyExc_IndexError, "no weight %d of layer %d", index, layer);
    return NULL;
  }
  return &h->model->layers[layer].params[index];
}

/* get_param(handle, layer, index, out): copy a weight into the writable
 * float32 C-contiguous buffer @p out of its size. */
static PyObject *param_io(PyObject *args, bool write_model) {
  PyObject *cap, *buf;
  int layer, index;
  if (!PyArg_ParseTuple(args, "OiiO", &cap, &layer, &index, &buf))
    return NULL;
  handle_t *h = arg_handle(cap);
  spd_param_t *p = h ? param_at(h, layer, index) : NULL;
  if (!p)
    return NULL;
  Py_buffer view;
  int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (write_model ? 0 : PyBUF_WRITABLE);
  if (PyObject_GetBuffer(buf, &view, flags))
    return NULL;
  size_t n = spd_shape_size(&p->value.shape);
  int ok = view.itemsize == 4 && view.format && !strcmp(view.format, "f") &&
           (size_t)view.len == n * sizeof(float);
  if (ok && write_model)
    memcpy(p->value.data, view.buf, n * sizeof(float));
  else if (ok)
    memcpy(view.buf, p->value.data, n * sizeof(float));
  PyBuffer_Release(&view);
  if (!ok) {
    PyErr_Format(PyExc_ValueError, "weight '%s' of layer '%s' holds %zu float32 values",
                 p->name, h->model->layers[layer].config.name, n);
    return NULL;
  }
  if (write_model) { /* new weights: a kept fixed-point run is stale */
    spd_fixed_run_free(h->fixed_run);
    h->fixed_run = NULL;
  }
  Py_RETURN_NONE;
}

static PyObject *get_param(PyObject *self, PyObject *args) {
  (void)self;
  return param_io(args, false);
}

static PyObject *set_param(PyObject *self, PyObject *args) {
  (void)self;
  return param_io(args, true);
}

/* copy_weights(src, dst): every parameter of src into dst, whose layers
 * must have the same parameter shapes (a recompiled model). */
static PyObject *copy_weights(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *a, *b;
  if (!PyArg_ParseTuple(args, "OO", &a, &b))
    return NULL;
  handle_t *src = arg_handle(a), *dst = src ? arg_handle(b) : NULL;
  if (!dst)
    return NULL;
  if (src->model->n_layers != dst->model->n_layers) {
    PyErr_SetString(PyExc_ValueError, "the models have different layers");
    return NULL;
  }
  for (int i = 0; i < src->model->n_layers; i++) {
    const spd_layer_t *s = &src->model->layers[i];
    spd_layer_t *d = &dst->model->layers[i];
    if (s->n_params != d->n_params) {
      PyErr_Format(PyExc_ValueError, "layer '%s' has other weights", s->config.name);
      return NULL;
    }
    for (int p = 0; p < s->n_params; p++)
      if (!spd_shape_equal(&s->params[p].value.shape, &d->params[p].value.shape)) {
        PyErr_Format(PyExc_ValueError, "weight '%s' of layer '%s' has another shape",
                     s->params[p].name, s->config.name);
        return NULL;
      }
  }
  for (int i = 0; i < src->model->n_layers; i++)
    for (int p = 0; p < src->model->layers[i].n_params; p++)
      memcpy(dst->model->layers[i].params[p].value.data,
             src->model->layers[i].params[p].value.data,
             spd_shape_size(&src->model->layers[i].params[p].value.shape) * sizeof(float));
  Py_RETURN_NONE;
}

/* ---- runs ---- */

/* The Python side of a run: its callbacks object and the first exception
 * a callback raised (or KeyboardInterrupt from a signal). */
typedef struct pyrun {
  PyObject *callbacks;          /* borrowed; may be None */
  PyObject *exc_type, *exc_value, *exc_tb;
  bool stop;
} pyrun_t;

static void keep_exception(pyrun_t *r) {
  if (r->exc_type) {
    PyErr_Clear();
    return;
  }
  PyErr_Fetch(&r->exc_type, &r->exc_value, &r->exc_tb);
  r->stop = true;
}

static void call_method(pyrun_t *r, const char *name, PyObject *args) {
  if (!args) {
    keep_exception(r);
    return;
  }
  if (r->callbacks && r->callbacks != Py_None && PyObject_HasAttrString(r->callbacks, name)) {
    PyObject *res = PyObject_CallMethod(r->callbacks, name, "(O)", args);
    if (!res)
      keep_exception(r);
    else if (PyObject_IsTrue(res))
      r->stop = true;
    Py_XDECREF(res);
  }
  Py_DECREF(args);
}

static void cb_epoch_begin(void *ud, int epoch, int epochs, size_t steps) {
  PyGILState_STATE g = PyGILState_Ensure();
  call_method(ud, "epoch_begin", Py_BuildValue("(iin)", epoch, epochs, (Py_ssize_t)steps));
  PyGILState_Release(g);
}

static int cb_batch(void *ud, size_t step, size_t steps, double loss, double accuracy) {
  pyrun_t *r = ud;
  PyGILState_STATE g = PyGILState_Ensure();
  call_method(r, "batch", Py_BuildValue("(nndd)", (Py_ssize_t)step, (Py_ssize_t)steps, loss,
                                        accuracy));
  PyGILState_Release(g);
  return 0; /* stops go through should_stop_cb, which every engine polls */
}

static void cb_epoch_end(void *ud, const spd_epoch_logs_t *l) {
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *logs = l->has_validation
                       ? Py_BuildValue("(i{sdsdsdsdsd})", l->epoch, "loss", l->loss, "accuracy",
                                       l->accuracy, "val_loss", l->val_loss, "val_accuracy",
                                       l->val_accuracy, "seconds", l->seconds)
                       : Py_BuildValue("(i{sdsdsd})", l->epoch, "loss", l->loss, "accuracy",
                                       l->accuracy, "seconds", l->seconds);
  call_method(ud, "epoch_end", logs);
  PyGILState_Release(g);
}

static bool cb_should_stop(void *ud) {
  pyrun_t *r = ud;
  PyGILState_STATE g = PyGILState_Ensure();
  if (PyErr_CheckSignals() < 0)
    keep_exception(r);
  bool stop = r->stop;
  PyGILState_Release(g);
  return stop;
}

/* A float32 (or int32 labels) array as borrowed C data: a view when the
 * layout allows, which the caller releases. */
static int get_view(PyObject *obj, Py_buffer *v, const char *what, const char *fmt) {
  if (PyObject_GetBuffer(obj, v, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT))
    return -1;
  bool ok = v->format && (!strcmp(v->format, fmt) ||
                          (fmt[0] == 'i' && v->itemsize == 4 &&
                           (!strcmp(v->format, "l") || !strcmp(v->format, "=i") ||
                            !strcmp(v->format, "<i"))));
  if (!ok) {
    PyErr_Format(PyExc_TypeError, "%s must be %s, C-contiguous", what,
                 fmt[0] == 'f' ? "float32" : "int32");
    PyBuffer_Release(v);
    return -1;
  }
  return 0;
}

/* Data from (x, y): y None (predict), int32 labels (n,) or float32 rows
 * (n, width). */
typedef struct data_views {
  Py_buffer x, y;
  bool has_x, has_y;
  spd_fit_data_t d;
} data_views_t;

static void release_views(data_views_t *v) {
  if (v->has_x)
    PyBuffer_Release(&v->x);
  if (v->has_y)
    PyBuffer_Release(&v->y);
  v->has_x = v->has_y = false;
}

static int data_from(const spd_model_t *m, PyObject *x, PyObject *y, data_views_t *v,
                     const char *what) {
  memset(v, 0, sizeof *v);
  if (get_view(x, &v->x, what, "f"))
    return -1;
  v->has_x = true;
  const spd_shape_t *in = &m->layers[0].output_shape;
  size_t per = spd_shape_size(in);
  size_t n = v->x.ndim >= 1 ? (size_t)v->x.shape[0] : 0;
  if (v->x.ndim < 1 || (size_t)v->x.len != n * per * sizeof(float)) {
    char want[64];
    spd_shape_format(in, want, sizeof want);
    PyErr_Format(PyExc_ValueError, "%s: the model's input is %s but the array holds %zd "
                 "values per sample", what, want,
                 n ? (Py_ssize_t)(v->x.len / (Py_ssize_t)sizeof(float) / (Py_ssize_t)n) : 0);
    release_views(v);
    return -1;
  }
  v->d = (spd_fit_data_t){.n = n, .sample_shape = *in, .x = v->x.buf};
  if (y && y != Py_None) {
    if (PyObject_GetBuffer(y, &v->y, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)) {
      release_views(v);
      return -1;
    }
    v->has_y = true;
    bool labels = v->y.itemsize == 4 && v->y.format && strchr("il", v->y.format[strlen(v->y.format) - 1]);
    bool rows = v->y.itemsize == 4 && v->y.format && v->y.format[strlen(v->y.format) - 1] == 'f';
    size_t yn = v->y.ndim >= 1 ? (size_t)v->y.shape[0] : 0;
    if ((!labels && !rows) || yn != n) {
      PyErr_Format(PyExc_ValueError, "%s: %zu samples but %zu targets (int32 labels or "
                   "float32 rows)", what, n, yn);
      release_views(v);
      return -1;
    }
    size_t width = rows ? (size_t)(v->y.len / 4) / (n ? n : 1) : 0;
    v->d.y = labels ? (spd_targets_t){.n = n, .labels = v->y.buf}
                    : (spd_targets_t){.n = n, .width = width, .values = v->y.buf};
  }
  return 0;
}

/* Keyword options shared by the three runs. */
typedef struct run_kw {
  const char *backend, *numeric, *machine;
  unsigned in_flight;
  Py_ssize_t batch_size;
  PyObject *callbacks;
} run_kw_t;

static int options_from(handle_t *h, const run_kw_t *k, pyrun_t *r, spd_run_options_t *o) {
  spd_run_options_defaults(o);
  int b = spd_backend_parse(k->backend);
  int n = spd_numeric_parse(k->numeric);
  if (b < 0 || n < 0) {
    PyErr_Format(PyExc_ValueError, b < 0 ? "unknown backend '%s' (machine or reference)"
                                         : "unknown numeric '%s' (float or fixed)",
                 b < 0 ? k->backend : k->numeric);
    return -1;
  }
  o->backend = (spd_backend_t)b;
  o->numeric = (spd_numeric_t)n;
  o->machine_name = k->machine;
  o->in_flight = k->in_flight;
  o->batch_size = (size_t)k->batch_size;
  o->fixed_run = &h->fixed_run;
  r->callbacks = k->callbacks;
  o->callbacks = (spd_fit_callbacks_t){.ud = r, .on_epoch_begin_cb = cb_epoch_begin,
                                       .on_batch_cb = cb_batch, .on_epoch_end_cb = cb_epoch_end,
                                       .should_stop_cb = cb_should_stop};
  return 0;
}

static PyObject *stats_dict(const spd_machine_stats_t *s) {
  return Py_BuildValue(
      "{sssssIsIsIsIsKsKsKsKsKsKsIsIsssOsdsdsdsd}", "machine", s->machine, "numeric",
      spd_numeric_name(s->numeric), "chips_used", s->chips_used, "cores_used", s->cores_used,
      "max_router_entries", s->max_router_entries, "samples_in_flight", s->samples_in_flight,
      "samples", (unsigned long long)s->samples, "packets_sent",
      (unsigned long long)s->packets_sent, "packets_dropped",
      (unsigned long long)s->packets_dropped, "packets_reinjected",
      (unsigned long long)s->packets_reinjected, "packets_lost",
      (unsigned long long)s->packets_lost, "packets_resent",
      (unsigned long long)s->packets_resent, "cores_failed", s->cores_failed, "recoveries",
      s->recoveries, "failure", s->failure, "completed", s->completed ? Py_True : Py_False,
      "simulated_seconds", s->simulated_seconds, "simulated_samples_per_second",
      s->simulated_samples_per_second, "energy_joules", s->energy_joules, "host_seconds",
      s->host_seconds);
}

/* The machine's figures of a run (a new reference): its stats, or None
 * when the reference backend ran. */
static PyObject *run_figures(const spd_run_options_t *o, const spd_machine_stats_t *s) {
  if (o->backend == SPD_BACKEND_MACHINE)
    return stats_dict(s);
  Py_RETURN_NONE;
}

/* The model's compile configuration, or NULL with Keras's RuntimeError. */
static const spd_compile_config_t *compiled(const handle_t *h) {
  const spd_compile_config_t *cc = h->model->compile;
  if (cc && cc->has_loss)
    return cc;
  PyErr_SetString(PyExc_RuntimeError, "You must call `compile()` before using the model.");
  return NULL;
}

/* After a run: the callbacks' exception (a signal's KeyboardInterrupt
 * included) first, then the library's failure. */
static PyObject *finish(handle_t *h, pyrun_t *r, int rc) {
  if (r->exc_type) {
    PyErr_Restore(r->exc_type, r->exc_value, r->exc_tb);
    return NULL;
  }
  if (rc == SPD_EINTERRUPTED) {
    PyErr_SetString(PyExc_KeyboardInterrupt, spd_ctx_message(&h->ctx));
    return NULL;
  }
  return rc ? raise(&h->ctx, rc) : Py_None;
}

static int begin_run(handle_t *h) {
  if (h->busy) {
    PyErr_SetString(PyExc_RuntimeError, "the model is already running in another thread");
    return -1;
  }
  h->busy = 1;
  spd_ctx_clear(&h->ctx);
  return 0;
}

/* fit(handle, x, y, val_x, val_y, epochs, batch_size, shuffle, seed,
 *     backend=, numeric=, machine=, in_flight=, callbacks=, checkpoint_dir=,
 *     carry=)
 *   -> ([logs per epoch], stats or None)
 * The optimizer and loss are the model's compile_config; carry names a
 * checkpoint folder whose optimizer state the fit carries on
 * (spd_checkpoint_set_carry). */
static PyObject *fit(PyObject *self, PyObject *args, PyObject *kw) {
  (void)self;
  static char *names[] = {"model", "x", "y", "val_x", "val_y", "epochs", "batch_size",
                          "shuffle", "seed", "backend", "numeric", "machine", "in_flight",
                          "callbacks", "checkpoint_dir", "carry", NULL};
  PyObject *cap, *x, *y, *vx, *vy;
  int epochs, shuffle;
  unsigned long long seed;
  const char *checkpoint_dir = NULL, *carry = NULL;
  run_kw_t k = {.backend = "machine", .numeric = "float", .machine = "spinn5", .batch_size = 32,
                .callbacks = Py_None};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOOinpK|sssIOzz", names, &cap, &x, &y, &vx, &vy,
                                   &epochs, &k.batch_size, &shuffle, &seed, &k.backend,
                                   &k.numeric, &k.machine, &k.in_flight, &k.callbacks,
                                   &checkpoint_dir, &carry))
    return NULL;
  handle_t *h = arg_handle(cap);
  if (!h)
    return NULL;
  const spd_compile_config_t *cc = compiled(h);
  if (!cc)
    return NULL;
  data_views_t train, val;
  if (data_from(h->model, x, y, &train, "x"))
    return NULL;
  bool has_val = vx != Py_None;
  if (has_val && data_from(h->model, vx, vy, &val, "validation_data")) {
    release_views(&train);
    return NULL;
  }
  spd_fit_config_t cfg;
  spd_fit_config_defaults(&cfg);
  cfg.epochs = epochs;
  cfg.batch_size = (size_t)k.batch_size;
  cfg.shuffle = shuffle;
  cfg.seed = seed;
  cfg.loss = cc->loss;
  cfg.from_logits = cc->from_logits;
  if (cc->has_optimizer)
    cfg.optimizer = cc->optimizer;
  cfg.validation = has_val ? &val.d : NULL;
  cfg.checkpoint_dir = checkpoint_dir;
  spd_checkpoint_t *carried = NULL;
  if (carry) {
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = spd_checkpoint_open(&h->ctx, carry, &carried);
    Py_END_ALLOW_THREADS
    if (rc) {
      release_views(&train);
      if (has_val)
        release_views(&val);
      return raise(&h->ctx, rc);
    }
    spd_checkpoint_set_carry(carried);
    cfg.resume = carried;
  }
  pyrun_t r = {0};
  spd_run_options_t o;
  spd_machine_stats_t stats;
  memset(&stats, 0, sizeof stats);
  PyObject *result = NULL;
  if (!options_from(h, &k, &r, &o) && !begin_run(h)) {
    o.stats = &stats;
    spd_history_t hist = {0};
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = spd_fit(&h->ctx, h->model, &train.d, &cfg, &o, &hist);
    Py_END_ALLOW_THREADS
    h->busy = 0;
    if (finish(h, &r, rc)) {
      PyObject *logs = PyList_New(0);
      for (int e = 0; logs && e < hist.n_epochs; e++) {
        const spd_epoch_logs_t *l = &hist.epochs[e];
        PyObject *d = l->has_validation
                          ? Py_BuildValue("{sdsdsdsd}", "loss", l->loss, "accuracy", l->accuracy,
                                          "val_loss", l->val_loss, "val_accuracy", l->val_accuracy)
                          : Py_BuildValue("{sdsd}", "loss", l->loss, "accuracy", l->accuracy);
        if (!d || PyList_Append(logs, d))
          Py_CLEAR(logs);
        Py_XDECREF(d);
      }
      spd_history_free(&hist);
      if (logs)
        result = Py_BuildValue("(NN)", logs, run_figures(&o, &stats));
    }
  }
  spd_checkpoint_free(carried);
  release_views(&train);
  if (has_val)
    release_views(&val);
  return result;
}

/* evaluate(handle, x, y, batch_size, loss, from_logits, backend=, ...)
 *   -> (loss, accuracy, stats or None) */
static PyObject *evaluate(PyObject *self, PyObject *args, PyObject *kw) {
  (void)self;
  static char *names[] = {"model", "x", "y", "batch_size", "backend", "numeric", "machine",
                          "in_flight", "callbacks", NULL};
  PyObject *cap, *x, *y;
  run_kw_t k = {.backend = "machine", .numeric = "float", .machine = "spinn5",
                .callbacks = Py_None};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOn|sssIO", names, &cap, &x, &y, &k.batch_size,
                                   &k.backend, &k.numeric, &k.machine, &k.in_flight,
                                   &k.callbacks))
    return NULL;
  handle_t *h = arg_handle(cap);
  if (!h)
    return NULL;
  const spd_compile_config_t *cc = compiled(h);
  if (!cc)
    return NULL;
  data_views_t d;
  if (data_from(h->model, x, y, &d, "x"))
    return NULL;
  pyrun_t r = {0};
  spd_run_options_t o;
  spd_machine_stats_t stats;
  memset(&stats, 0, sizeof stats);
  PyObject *result = NULL;
  if (!options_from(h, &k, &r, &o)) {
    o.loss = cc->loss;
    o.from_logits = cc->from_logits;
    o.stats = &stats;
    int rc = spd_evaluate_check(&h->ctx, &o);
    if (rc) {
      raise(&h->ctx, rc);
    } else if (!begin_run(h)) {
      double loss = 0, acc = 0;
      Py_BEGIN_ALLOW_THREADS
      rc = spd_evaluate(&h->ctx, h->model, &d.d, &o, &loss, &acc);
      Py_END_ALLOW_THREADS
      h->busy = 0;
      if (finish(h, &r, rc))
        result = Py_BuildValue("(ddN)", loss, acc, run_figures(&o, &stats));
    }
  }
  release_views(&d);
  return result;
}

/* predict(handle, x, out, batch_size, backend=, ...) -> stats or None;
 * out: a writable float32 C-contiguous array of n x output size. */
static PyObject *predict(PyObject *self, PyObject *args, PyObject *kw) {
  (void)self;
  static char *names[] = {"model", "x", "out", "batch_size", "backend", "numeric", "machine",
                          "in_flight", "callbacks", NULL};
  PyObject *cap, *x, *out;
  run_kw_t k = {.backend = "machine", .numeric = "float", .machine = "spinn5",
                .callbacks = Py_None};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOn|sssIO", names, &cap, &x, &out, &k.batch_size,
                                   &k.backend, &k.numeric, &k.machine, &k.in_flight,
                                   &k.callbacks))
    return NULL;
  handle_t *h = arg_handle(cap);
  if (!h)
    return NULL;
  data_views_t d;
  if (data_from(h->model, x, NULL, &d, "x"))
    return NULL;
  Py_buffer ov;
  if (PyObject_GetBuffer(out, &ov, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE)) {
    release_views(&d);
    return NULL;
  }
  size_t want = d.d.n * spd_shape_size(&h->model->layers[h->model->output].output_shape);
  PyObject *result = NULL;
  pyrun_t r = {0};
  spd_run_options_t o;
  spd_machine_stats_t stats;
  memset(&stats, 0, sizeof stats);
  if ((size_t)ov.len != want * sizeof(float) || !ov.format || strcmp(ov.format, "f")) {
    PyErr_Format(PyExc_ValueError, "out must be float32 with %zu values", want);
  } else if (!options_from(h, &k, &r, &o) && !begin_run(h)) {
    o.stats = &stats;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = spd_predict(&h->ctx, h->model, &d.d, &o, ov.buf);
    Py_END_ALLOW_THREADS
    h->busy = 0;
    if (finish(h, &r, rc))
      result = run_figures(&o, &stats);
  }
  PyBuffer_Release(&ov);
  release_views(&d);
  return result;
}

/* map_svg(handle, path, machine, numeric, training): the model mapped onto
 * the machine as `spindle map` maps it, drawn to path (spd_map_svg). */
static PyObject *map_svg(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *cap;
  const char *path, *machine, *numeric;
  int training;
  if (!PyArg_ParseTuple(args, "Osssp", &cap, &path, &machine, &numeric, &training))
    return NULL;
  handle_t *h = arg_handle(cap);
  if (!h)
    return NULL;
  int n = spd_numeric_parse(numeric);
  if (n < 0) {
    PyErr_Format(PyExc_ValueError, "unknown numeric '%s' (float or fixed)", numeric);
    return NULL;
  }
  spd_partition_opts_t po;
  spd_partition_opts_default(&po);
  po.numeric = (spd_numeric_t)n;
  po.training = training;
  const spd_compile_config_t *cc = h->model->compile;
  if (cc && cc->has_optimizer) { /* the optimizer state the training keeps */
    po.optimizer = cc->optimizer.kind;
    po.momentum = cc->optimizer.momentum != 0.0f;
    po.centered = cc->optimizer.centered;
  }
  spd_machine_t *mc = NULL;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = spd_machine_new(&h->ctx, machine, &mc);
  if (!rc)
    rc = spd_map_svg(&h->ctx, h->model, mc, &po, path);
  spd_machine_free(mc);
  Py_END_ALLOW_THREADS
  if (rc)
    return raise(&h->ctx, rc);
  Py_RETURN_NONE;
}

static PyObject *version(PyObject *self, PyObject *unused) {
  (void)self;
  (void)unused;
  return PyUnicode_FromString(spd_version());
}

static PyMethodDef methods[] = {
    {"model_from_json", model_from_json, METH_VARARGS, "Keras JSON text, seed -> model"},
    {"model_load", model_load, METH_VARARGS, "path, seed -> model"},
    {"model_to_json", model_to_json, METH_O, "model -> Keras JSON text"},
    {"model_summary", model_summary, METH_O, "model -> summary text"},
    {"model_save", model_save, METH_VARARGS, "model, path"},
    {"model_load_weights", model_load_weights, METH_VARARGS, "model, path"},
    {"model_info", model_info, METH_O, "model -> shapes and weights"},
    {"get_param", get_param, METH_VARARGS, "model, layer, index, out"},
    {"set_param", set_param, METH_VARARGS, "model, layer, index, values"},
    {"copy_weights", copy_weights, METH_VARARGS, "src, dst"},
    {"fit", (PyCFunction)(void (*)(void))fit, METH_VARARGS | METH_KEYWORDS, "spd_fit"},
    {"evaluate", (PyCFunction)(void (*)(void))evaluate, METH_VARARGS | METH_KEYWORDS,
     "spd_evaluate"},
    {"predict", (PyCFunction)(void (*)(void))predict, METH_VARARGS | METH_KEYWORDS,
     "spd_predict"},
    {"map_svg", map_svg, METH_VARARGS, "model, path, machine, numeric, training"},
    {"version", version, METH_NOARGS, "libspindle's version"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "spindle._native",
                                    "libspindle.so for Python", -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__native(void) {
  spd_keras_h5_silence();
  PyObject *m = PyModule_Create(&module);
  if (!m)
    return NULL;
  SpindleError = PyErr_NewException("spindle._native.Error", PyExc_RuntimeError, NULL);
  if (!SpindleError || PyModule_AddObjectRef(m, "Error", SpindleError) < 0) {
    Py_DECREF(m);
    return NULL;
  }
  return m;
}
