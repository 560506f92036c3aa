"""keras.Model, keras.Sequential and keras.models.load_model over
libspindle. A model is built by writing the Keras JSON of its layers (and
the compile_config of compile()) and handing it to the C reader, the same
one that reads Keras files; fit, evaluate and predict are spd_fit,
spd_evaluate and spd_predict on the backend of spindle.config."""
import json
import numbers
import os
import tempfile

import numpy as np

from .. import _native
from .. import config as _config
from . import callbacks as callbacks_module
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from .layers import InputLayer, KerasTensor, Layer, _Loaded, _unique


def _next_seed():
    return _config.next_seed()


def _positive(value, what, default):
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{what}` must be an integer. Received: {what}={value!r}")
    if value <= 0:
        raise ValueError(f"`{what}` must be a positive integer. Received: {what}={value}")
    return int(value)


def _machine_hint(error):
    """What the machine cannot run points to the host executor, as the CLI
    says it."""
    if _config.backend() == "machine" and "reference" not in str(error):
        return NotImplementedError(f"{error} (spindle.config.set_backend('reference') runs it "
                                   f"on the host)")
    return error


def _verbose(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"`verbose` must be 'auto', 0, 1 or 2. Received: verbose={verbose!r}")
    return verbose


class _Bridge:
    """What spindle._native calls while the library runs: the batch and
    epoch reports, turned into Keras's callbacks and logs; a true return
    asks the run to stop."""

    def __init__(self, model, cbs, metric, val):
        self.model, self.cbs, self.metric, self.val = model, cbs, metric, val

    def _logs(self, loss, acc, extra=None):
        logs = {"loss": loss}
        if self.metric:
            logs[self.metric] = acc
        if extra:
            logs["val_loss"] = extra["val_loss"]
            if self.metric:
                logs["val_" + self.metric] = extra["val_accuracy"]
        return logs

    def epoch_begin(self, args):
        epoch, _, _ = args
        self.cbs.on_epoch_begin(epoch)
        return self.model.stop_training

    def batch(self, args):
        step, _, loss, acc = args
        self.cbs.on_train_batch_end(step - 1, self._logs(loss, acc))

    def epoch_end(self, args):
        epoch, logs = args
        self.cbs.on_epoch_end(epoch, self._logs(logs["loss"], logs["accuracy"],
                                                 logs if "val_loss" in logs else None))
        return self.model.stop_training


class _EvalBridge:
    def __init__(self, cbs, metric, predict=False):
        self.cbs, self.metric, self.predict = cbs, metric, predict

    def batch(self, args):
        step, _, loss, acc = args
        if self.predict:
            self.cbs.on_predict_batch_end(step - 1, {})
        else:
            logs = {"loss": loss}
            if self.metric:
                logs[self.metric] = acc
            self.cbs.on_test_batch_end(step - 1, logs)


class Model:
    """A functional model, Model(inputs, outputs), one input and one output;
    also the base of Sequential and of models loaded from files."""

    def __init__(self, inputs=None, outputs=None, name=None, **kwargs):
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to Model: {kwargs}")
        self.name = name or _unique("functional" if inputs is not None else "model")
        self._handle = None
        self._compile = None        # (compile_config dict, metric name or None)
        self._info = None
        self.stop_training = False
        self.history = None
        self._fits = 0
        self._carry = None          # what the next fit's optimizer goes on from
        self._graph = None
        if inputs is not None or outputs is not None:
            self._graph = self._trace(inputs, outputs)
            self._build()
        elif type(self) is Model or not isinstance(self, (Sequential, _LoadedModel)):
            raise NotImplementedError("spindle builds models from layers: keras.Sequential or "
                                      "keras.Model(inputs, outputs); subclassed models (a "
                                      "call() of their own) are not supported")

    # ---- architecture ----
    @staticmethod
    def _one(value, what):
        if isinstance(value, (list, tuple)):
            if len(value) != 1:
                raise ValueError(f"spindle models have one {what}; got {len(value)}")
            value = value[0]
        if isinstance(value, dict):
            raise TypeError(f"spindle models take a tensor as {what}, not a dict")
        if not isinstance(value, KerasTensor):
            raise TypeError(f"Model {what} must be a KerasTensor made by keras.Input and "
                            f"layers. Received: {value!r}")
        return value

    def _trace(self, inputs, outputs):
        inp, out = self._one(inputs, "inputs"), self._one(outputs, "outputs")
        if not isinstance(inp._layer, InputLayer):
            raise ValueError("Model inputs must come from keras.Input(...)")
        order, seen = [], set()

        def visit(t):
            layer = t._layer
            if id(layer) in seen:
                return
            for src in t._inbound:
                visit(src)
            seen.add(id(layer))
            order.append(layer)

        visit(out)
        if order[0] is not inp._layer or sum(isinstance(lay, InputLayer) for lay in order) != 1:
            raise ValueError("The model's output is not computed from its input alone: every "
                             "path must start at the model's keras.Input")
        return order

    def _layer_list(self):
        return self._graph

    def _architecture(self):
        layers = []
        for lay in self._graph:
            entry = {"class_name": lay.class_name, "config": lay.get_config(),
                     "name": lay.name,
                     "inbound_nodes": [[[src._layer.name, 0, 0, {}] for src in lay._inbound]]
                     if lay._inbound else []}
            layers.append(entry)
        return {"class_name": "Functional",
                "config": {"name": self.name, "layers": layers,
                           "input_layers": [[self._graph[0].name, 0, 0]],
                           "output_layers": [[self._graph[-1].name, 0, 0]]},
                "keras_version": "2.15.0", "backend": "tensorflow"}

    def to_json(self, **kwargs):
        self._require_built("to_json")
        return json.dumps(self._architecture(), **kwargs)

    def get_config(self):
        return self._architecture()["config"]

    def _json(self):
        doc = self._architecture()
        if self._compile:
            doc["compile_config"] = self._compile[0]
        return json.dumps(doc)

    def _build(self, input_shape=None):
        handle = _native.model_from_json(self._json(), _next_seed())
        if self._handle is not None:
            _native.copy_weights(self._handle, handle)
        self._set_handle(handle)

    def _set_handle(self, handle):
        self._handle = handle
        self._info = _native.model_info(handle)
        for lay in self.layers:
            lay._model = self

    @property
    def built(self):
        return self._handle is not None

    def _require_built(self, what):
        if self._handle is None:
            raise ValueError(f"This model has not yet been built. Build the model first by "
                             f"calling `build()` or by calling the model on a batch of data "
                             f"before `{what}()`.")

    @property
    def layers(self):
        lst = self._layer_list()
        return [lay for lay in lst if not isinstance(lay, InputLayer)]

    def get_layer(self, name=None, index=None):
        if index is not None:
            return self.layers[index]
        for lay in self.layers:
            if lay.name == name:
                return lay
        raise ValueError(f"No such layer: {name}. Existing layers are: "
                         f"{[lay.name for lay in self.layers]}.")

    @property
    def input_shape(self):
        self._require_built("input_shape")
        return (None, *self._info[0])

    @property
    def output_shape(self):
        self._require_built("output_shape")
        return (None, *self._info[1])

    # ---- weights ----
    def _layer_index(self, name):
        for i, row in enumerate(self._info[2]):
            if row[0] == name:
                return i
        raise ValueError(f"No layer named '{name}' in the built model")

    def _layer_weights(self, index):
        out = []
        for p, (_, shape, _) in enumerate(self._info[2][index][3]):
            a = np.empty(shape, dtype=np.float32)
            _native.get_param(self._handle, index, p, a)
            out.append(a)
        return out

    def _drop_carry(self):
        """The next fit starts its optimizer afresh."""
        carry, self._carry = getattr(self, "_carry", None), None
        if carry:
            carry["folder"].cleanup()
        if isinstance(getattr(self, "optimizer", None), optimizers_module.Optimizer):
            self.optimizer.iterations = 0

    def _weights_changed(self):
        """Weights set by hand between fits: a float fit's optimizer goes on
        from them; a fixed-point one goes on from its own int32 masters, so
        it starts afresh instead (docs/api.md)."""
        if getattr(self, "_carry", None):
            self._carry["weights_set"] = True

    def _carry_for(self, run_options):
        """The carried optimizer state this fit goes on from, or None:
        kept by the last fit of this compile, on a backend and numeric whose
        state this one takes."""
        c = self._carry
        if not c:
            return None
        same = c["numeric"] == run_options["numeric"] and (
            c["numeric"] == "fixed" or c["backend"] == run_options["backend"])
        if not same or (c["numeric"] == "fixed" and c["weights_set"]):
            self._drop_carry()
            return None
        return c

    def _set_layer_weights(self, index, weights, name):
        params = self._info[2][index][3]
        weights = list(weights)
        if len(weights) != len(params):
            raise ValueError(f"You called `set_weights(weights)` on layer '{name}' with a "
                             f"weight list of length {len(weights)}, but the layer was "
                             f"expecting {len(params)} weights.")
        arrays = []
        for (pname, shape, _), w in zip(params, weights):
            a = np.ascontiguousarray(w, dtype=np.float32)
            if a.shape != tuple(shape):
                raise ValueError(f"Layer '{name}' weight shape {tuple(shape)} is not "
                                 f"compatible with provided weight shape {a.shape}.")
            arrays.append(a)
        for p, a in enumerate(arrays):
            _native.set_param(self._handle, index, p, a)
        self._weights_changed()

    def get_weights(self):
        self._require_built("get_weights")
        return [w for i in range(len(self._info[2])) for w in self._layer_weights(i)]

    def set_weights(self, weights):
        self._require_built("set_weights")
        weights = list(weights)
        want = sum(len(row[3]) for row in self._info[2])
        if len(weights) != want:
            raise ValueError(f"You called `set_weights(weights)` on model '{self.name}' with a "
                             f"weight list of length {len(weights)}, but the model was "
                             f"expecting {want} weights.")
        at = 0
        for i, row in enumerate(self._info[2]):
            n = len(row[3])
            if n:
                self._set_layer_weights(i, weights[at:at + n], row[0])
            at += n

    @property
    def weights(self):
        return self.get_weights()

    def count_params(self):
        self._require_built("count_params")
        return sum(int(np.prod(s)) for row in self._info[2] for _, s, _ in row[3])

    # ---- compile ----
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", **kwargs):
        if kwargs:
            raise TypeError(f"Invalid keyword argument(s) in `compile()`: {sorted(kwargs)}")
        if loss is None:
            raise ValueError("spindle needs a loss: compile(loss=...) with "
                             "'sparse_categorical_crossentropy', 'categorical_crossentropy', "
                             "'binary_crossentropy' or 'mean_squared_error'")
        if loss_weights is not None or weighted_metrics:
            raise NotImplementedError("loss_weights and weighted_metrics are not supported by "
                                      "spindle")
        opt = optimizers_module.get(optimizer)
        loss_name, _, loss_ser = losses_module.get(loss)
        if isinstance(metrics, (str, metrics_module.Accuracy)) or isinstance(metrics, type):
            raise TypeError("Expected `metrics` argument to be a list, tuple, or dict. "
                            f"Received instead: metrics={metrics!r} of type {type(metrics)}")
        names = [metrics_module.get(m) for m in (metrics or [])]
        if len(names) > 1:
            raise NotImplementedError("spindle reports one accuracy metric; got "
                                      f"{names}")
        self.optimizer = opt
        opt.iterations = 0
        self.loss = loss
        cc = {"optimizer": opt._serialize(), "loss": loss_ser, "loss_weights": None,
              "metrics": names or None, "weighted_metrics": None, "run_eagerly": False,
              "steps_per_execution": 1, "jit_compile": False}
        self._compile = (cc, names[0] if names else None, loss_name)
        self._drop_carry()  # a new optimizer, as Keras's compile() makes
        if self._handle is not None:
            self._build()
        self.compiled = True

    def _require_compiled(self, what):
        if not self._compile:
            raise RuntimeError(f"You must call `compile()` before using the model "
                               f"(`{what}()`).")

    # ---- data ----
    def _ensure_built(self, x):
        if self._handle is None:
            self._build(x.shape[1:])

    def _x(self, x, what="x"):
        if x is None:
            raise ValueError(f"`{what}` is required")
        if isinstance(x, (dict, list)) and not isinstance(x, np.ndarray) and \
                x and not isinstance(x[0] if isinstance(x, list) else None, numbers.Number):
            raise TypeError(f"spindle models take one NumPy array as `{what}`, got "
                            f"{type(x).__name__}")
        try:
            a = np.ascontiguousarray(x, dtype=np.float32)
        except (TypeError, ValueError) as e:
            raise TypeError(f"`{what}` must be a NumPy array of numbers: {e}") from None
        if a.ndim < 2:
            raise ValueError(f"`{what}` must have a batch dimension: got shape {a.shape}")
        self._ensure_built(a)
        want = tuple(self._info[0])
        if a.shape[1:] != want:
            raise ValueError(f"Input 0 of layer \"{self.name}\" is incompatible with the "
                             f"layer: expected shape={(None, *want)}, found shape={a.shape}")
        return a

    def _y(self, y, n, what="y"):
        if y is None:
            raise ValueError(f"`{what}` is required to train or evaluate a model")
        a = np.asarray(y)
        if len(a) != n:
            raise ValueError(f"Data cardinality is ambiguous: x sizes: {n}, y sizes: {len(a)}. "
                             f"Make sure all arrays contain the same number of samples.")
        if self._compile[2] == "sparse_categorical_crossentropy":
            if a.ndim == 2 and a.shape[1] == 1:
                a = a.reshape(-1)
            if not np.issubdtype(a.dtype, np.integer):
                if np.issubdtype(a.dtype, np.floating) and np.all(np.mod(a, 1) == 0):
                    a = a.astype(np.int32)
                else:
                    raise ValueError("sparse_categorical_crossentropy needs integer class "
                                     f"labels; `{what}` holds {a.dtype}")
            if a.ndim != 1:
                raise ValueError(f"sparse_categorical_crossentropy needs one label per sample; "
                                 f"`{what}` has shape {a.shape}")
            return np.ascontiguousarray(a, dtype=np.int32)
        a = np.ascontiguousarray(a, dtype=np.float32)
        return a.reshape(n, -1)

    def _metric(self):
        return self._compile[1] if self._compile else None

    # ---- fit / evaluate / predict ----
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1, **kwargs):
        if kwargs:
            raise TypeError(f"Invalid keyword argument(s) in `fit()`: {sorted(kwargs)}")
        for key, value in (("class_weight", class_weight), ("sample_weight", sample_weight),
                           ("steps_per_epoch", steps_per_epoch),
                           ("validation_steps", validation_steps)):
            if value is not None:
                raise NotImplementedError(f"fit(): `{key}` is not supported by spindle")
        if initial_epoch or validation_freq != 1:
            raise NotImplementedError("fit(): initial_epoch and validation_freq are not "
                                      "supported by spindle")
        self._require_compiled("fit")
        verbose = _verbose(verbose)
        batch_size = _positive(batch_size, "batch_size", 32)
        epochs = _positive(epochs, "epochs", 1)
        if not isinstance(shuffle, bool):
            raise NotImplementedError("fit(): shuffle must be True or False")
        x = self._x(x)
        y = self._y(y, len(x))
        vx = vy = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("When passing a `validation_data` argument, it must contain "
                                 "either 2 items (x_val, y_val), or 3 items (x_val, y_val, "
                                 f"val_sample_weights). Received: {type(validation_data)}")
            if len(validation_data) == 3 and validation_data[2] is not None:
                raise NotImplementedError("validation sample weights are not supported by "
                                          "spindle")
            vx = self._x(validation_data[0], "validation_data[0]")
            vy = self._y(validation_data[1], len(vx), "validation_data[1]")
        elif validation_split:
            if not isinstance(validation_split, numbers.Real) or not 0 < validation_split < 1:
                raise ValueError("`validation_split` must be a float in [0, 1). Received: "
                                 f"validation_split={validation_split!r}")
            keep = int(len(x) * (1.0 - validation_split))
            if keep == 0 or keep == len(x):
                raise ValueError(f"validation_split={validation_split} leaves no "
                                 f"{'training' if keep == 0 else 'validation'} samples of "
                                 f"{len(x)}")
            x, vx, y, vy = x[:keep], x[keep:], y[:keep], y[keep:]
        history = callbacks_module.History()
        cbs = list(callbacks or [])
        for c in cbs:
            if not isinstance(c, callbacks_module.Callback):
                raise TypeError(f"callbacks must be keras.callbacks.Callback instances; got "
                                f"{type(c).__name__}")
        steps = (len(x) + batch_size - 1) // batch_size
        params = {"verbose": verbose, "epochs": epochs, "steps": steps}
        chain = [history] + cbs + ([callbacks_module.ProgbarLogger(verbose)] if verbose else [])
        cl = callbacks_module.CallbackList(chain, self, params)
        opts = _config.run_options()
        carry = self._carry_for(opts)
        handle = self._schedule_rates(cbs, epochs, steps, carry["step"] if carry else 0)
        self.stop_training = False
        self.history = history
        cl.on_train_begin()
        # A fit after another of the same compile goes on with its optimizer
        # (Keras's): from the state the last one ended with (its last
        # checkpoint, kept in a folder the model owns), with its seed, so
        # that fit(epochs=1) twice trains as fit(epochs=2) does.
        seed = carry["seed"] if carry else _config._state["seed"] + self._fits
        self._fits += 1
        # Every epoch's checkpoint is written into a folder: the last one is
        # what the next fit carries on; a callback may stop the run early,
        # and the machine then hands back no weights, so they come from it;
        # a ModelCheckpoint writes its files from these checkpoints on
        # either backend: while the library trains, the weights are its own.
        folder = tempfile.TemporaryDirectory(prefix="spindle-fit-")
        # (the model is busy while the library trains: its JSON is read now)
        self._fit_run = (_native.model_to_json(handle), folder.name)
        done = False
        try:
            _, stats = _native.fit(handle, x, y, vx, vy, epochs, batch_size, shuffle, seed,
                                   callbacks=_Bridge(self, cl, self._metric(), vx is not None),
                                   checkpoint_dir=folder.name,
                                   carry=carry["folder"].name if carry else None, **opts)
            done = True
        except NotImplementedError as e:
            raise _machine_hint(e) from None
        except KeyboardInterrupt:
            if not self.stop_training:
                raise
            stats = None  # stopped by a callback (EarlyStopping)
            done = self._load_checkpoint(handle, folder.name, opts["backend"] == "machine")
        finally:
            self._fit_run = None
            if handle is not self._handle:
                self._set_handle(handle)
            self._drop_carry()
            manifest = self._checkpoint_manifest(folder.name) if done else None
            if manifest:
                step = int(manifest["position"]["step"])
                self._carry = {"folder": folder, "seed": seed, "step": step,
                               "backend": opts["backend"], "numeric": opts["numeric"],
                               "weights_set": False}
                if isinstance(getattr(self, "optimizer", None), optimizers_module.Optimizer):
                    self.optimizer.iterations = step
            else:  # failed or interrupted: the next fit starts its optimizer afresh
                folder.cleanup()
        history.spindle = stats
        cl.on_train_end()
        return history

    @staticmethod
    def _checkpoint_manifest(folder):
        """The manifest of the checkpoint the library wrote last into
        @p folder (docs/formats.md, "Checkpoints"), None before the first."""
        manifest = os.path.join(folder, "manifest.json")
        if not os.path.exists(manifest):
            return None
        with open(manifest) as f:
            return json.load(f)

    @classmethod
    def _checkpoint_weights(cls, folder):
        """That checkpoint's weights file, None before the first."""
        manifest = cls._checkpoint_manifest(folder)
        if manifest is None:
            return None
        return os.path.join(folder, os.path.basename(manifest["files"]["weights"]["path"]))

    @classmethod
    def _load_checkpoint(cls, handle, folder, machine):
        """A callback stopped the run: the weights of the last epoch it
        finished, from the checkpoint written after it (the machine hands
        back none). Whether there is one (the model's state then)."""
        weights = cls._checkpoint_weights(folder)
        if weights is None:
            if machine:
                import warnings
                warnings.warn("Training stopped before the machine finished an epoch: the "
                              "model keeps the weights it had before fit()")
            return False
        _native.model_load_weights(handle, weights)
        return True

    def _save_epoch_checkpoint(self, path):
        """ModelCheckpoint's file, in fit(): the model with the weights of the
        epoch that just ended (its checkpoint, written before the epoch's
        end is reported); outside fit(), the model as it is."""
        run = getattr(self, "_fit_run", None)
        if not run:
            self._require_built("save")
            _native.model_save(self._handle, os.fspath(path))
            return
        text, folder = run
        weights = self._checkpoint_weights(folder)
        if weights is None:
            raise RuntimeError("ModelCheckpoint: the library left no checkpoint of the epoch")
        copy = _native.model_from_json(text, 0)
        _native.model_load_weights(copy, weights)
        _native.model_save(copy, os.fspath(path))

    def _schedule_rates(self, cbs, epochs, steps, first_step=0):
        """A LearningRateScheduler's rates as a piecewise-constant schedule
        of the compiled optimizer (of the optimizer's steps from
        @p first_step, where a carried optimizer stands): a model built with
        it (weights copied)."""
        scheds = [c for c in cbs if isinstance(c, callbacks_module.LearningRateScheduler)]
        if not scheds:
            return self._handle
        if epochs > 17:
            raise NotImplementedError("LearningRateScheduler: spindle takes at most 17 "
                                      "epochs' rates")
        cc = json.loads(json.dumps(self._compile[0]))
        lr = cc["optimizer"]["config"]["learning_rate"]
        if not isinstance(lr, float):
            raise ValueError("LearningRateScheduler needs an optimizer with a constant "
                             "learning rate")
        rates = scheds[-1].rates(epochs, lr)
        scheds[-1]._rates = rates
        sched = optimizers_module.schedules.PiecewiseConstantDecay(
            [first_step + steps * e - 1 for e in range(1, epochs)], rates)
        cc["optimizer"]["config"]["learning_rate"] = sched._serialize()
        saved = self._compile
        self._compile = (cc,) + saved[1:]
        try:
            handle = _native.model_from_json(self._json(), 0)
        finally:
            self._compile = saved
        _native.copy_weights(self._handle, handle)
        return handle

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        if kwargs:
            raise TypeError(f"Invalid keyword argument(s) in `evaluate()`: {sorted(kwargs)}")
        if sample_weight is not None or steps is not None:
            raise NotImplementedError("evaluate(): sample_weight and steps are not supported "
                                      "by spindle")
        self._require_compiled("evaluate")
        verbose = _verbose(verbose)
        batch_size = _positive(batch_size, "batch_size", 32)
        x = self._x(x)
        y = self._y(y, len(x))
        cl = callbacks_module.CallbackList(list(callbacks or []), self, {"verbose": verbose})
        cl.on_test_begin()
        try:
            loss, acc, stats = _native.evaluate(self._handle, x, y, batch_size,
                                                callbacks=_EvalBridge(cl, self._metric()),
                                                **_config.run_options())
        except NotImplementedError as e:
            raise _machine_hint(e) from None
        self.spindle = stats
        logs = {"loss": loss}
        if self._metric():
            logs[self._metric()] = acc
        cl.on_test_end(logs)
        if verbose:
            steps = (len(x) + batch_size - 1) // batch_size
            print(f"{steps}/{steps} - " + callbacks_module._fmt(logs), flush=True)
        if return_dict:
            return logs
        return [loss, acc] if self._metric() else loss

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None, **kwargs):
        if kwargs:
            raise TypeError(f"Invalid keyword argument(s) in `predict()`: {sorted(kwargs)}")
        if steps is not None:
            raise NotImplementedError("predict(): steps is not supported by spindle")
        verbose = _verbose(verbose)
        batch_size = _positive(batch_size, "batch_size", 32)
        x = self._x(x)
        out = np.empty((len(x), *self._info[1]), dtype=np.float32)
        cl = callbacks_module.CallbackList(list(callbacks or []), self, {"verbose": verbose})
        cl.on_predict_begin()
        if len(x):
            try:
                self.spindle = _native.predict(self._handle, x, out, batch_size,
                                               callbacks=_EvalBridge(cl, None, True),
                                               **_config.run_options())
            except NotImplementedError as e:
                raise _machine_hint(e) from None
        cl.on_predict_end()
        return out

    def __call__(self, x):
        if isinstance(x, KerasTensor):
            raise NotImplementedError("spindle does not nest models in the functional API")
        return self.predict(x, verbose=0)

    # ---- text and files ----
    def summary(self, line_length=None, positions=None, print_fn=None, **kwargs):
        self._require_built("summary")
        text = _native.model_summary(self._handle)
        (print_fn or print)(text.rstrip("\n"))

    def save(self, filepath, overwrite=True, **kwargs):
        import os
        self._require_built("save")
        path = os.fspath(filepath)
        if not overwrite and os.path.exists(path):
            raise FileExistsError(f"{path} exists and overwrite=False")
        if not path.endswith((".keras", ".h5")) or path.endswith(".weights.h5"):
            raise ValueError("Invalid filepath extension for saving. Please add either a "
                             "`.keras` extension for the native Keras format (recommended) or "
                             f"a `.h5` extension. Received: filepath={path}")
        _native.model_save(self._handle, path)

    def save_weights(self, filepath, overwrite=True):
        import os
        self._require_built("save_weights")
        path = os.fspath(filepath)
        if not path.endswith(".weights.h5"):
            raise ValueError("The filename must end in `.weights.h5`. Received: filepath="
                             + path)
        _native.model_save(self._handle, path)

    def load_weights(self, filepath):
        import os
        self._require_built("load_weights")
        _native.model_load_weights(self._handle, os.fspath(filepath))
        self._weights_changed()


class Sequential(Model):
    """A stack of layers: Sequential([...]) or .add(layer). The input shape
    comes from a keras.Input / InputLayer first, a first layer's
    input_shape, or the first data the model sees."""

    def __init__(self, layers=None, name=None, **kwargs):
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to Sequential: {kwargs}")
        super().__init__(name=name or _unique("sequential"))
        self._stack = []
        self._input = None
        for lay in layers or []:
            self.add(lay)

    def add(self, layer):
        if isinstance(layer, KerasTensor) and isinstance(layer._layer, InputLayer):
            layer = layer._layer
        if not isinstance(layer, Layer):
            raise TypeError("The added layer must be an instance of class Layer. Received: "
                            f"layer={layer!r} of type {type(layer)}.")
        if isinstance(layer, InputLayer):
            if self._stack or self._input is not None:
                raise ValueError("An InputLayer must be the first layer of a Sequential model")
            self._input = layer
            return
        if any(lay.name == layer.name for lay in self._stack):
            raise ValueError(f"All layers added to a Sequential model should have unique "
                             f"names. Name '{layer.name}' is already the name of a layer in "
                             f"this model.")
        if layer._inbound is not None or layer._model is not None:
            raise ValueError(f"Layer '{layer.name}' already belongs to a model")
        if not self._stack and self._input is None and layer._input_shape is not None:
            self._input = InputLayer(shape=layer._input_shape)
        self._stack.append(layer)
        layer._model = self
        self._drop_carry()
        if self._handle is not None:  # rebuilt at its next use, weights kept where they fit
            self._handle = None

    def pop(self):
        if not self._stack:
            raise TypeError("There are no layers in the model.")
        layer = self._stack.pop()
        layer._model = None
        self._drop_carry()
        self._handle = None
        return layer

    def _layer_list(self):
        return ([self._input] if self._input else []) + self._stack

    def _architecture(self):
        if self._input is None:
            raise ValueError("This model has not yet been built: its input shape is unknown")
        layers = [{"class_name": lay.class_name, "config": lay.get_config()}
                  for lay in self._layer_list()]
        return {"class_name": "Sequential", "config": {"name": self.name, "layers": layers},
                "keras_version": "2.15.0", "backend": "tensorflow"}

    def _build(self, input_shape=None):
        if self._input is None:
            if input_shape is None:
                raise ValueError("This model has not yet been built: give it an input shape "
                                 "(keras.Input or input_shape=) or call it on data")
            self._input = InputLayer(shape=tuple(input_shape))
        if not self._stack:
            return
        super()._build()

    def build(self, input_shape=None):
        if input_shape is not None and self._input is None:
            self._input = InputLayer(shape=tuple(input_shape)[1:])
        self._build()

    def _ensure_built(self, x):
        if self._handle is None:
            self._build(x.shape[1:])

    def _require_built(self, what):
        if self._handle is None and self._input is not None and self._stack:
            self._build()
        super()._require_built(what)


class _LoadedModel(Model):
    """A model read from a file: its architecture, weights and training
    configuration are libspindle's; its layers are named proxies."""

    def __init__(self, handle, path):
        super().__init__(name=None)
        self._path = path
        self._set_handle(handle)
        doc = json.loads(_native.model_to_json(handle))
        self.name = doc.get("config", {}).get("name", self.name)
        cc = doc.get("compile_config")
        if cc:
            metrics = cc.get("metrics") or []
            metric = metrics[0] if metrics and isinstance(metrics[0], str) else None
            loss = cc.get("loss")
            loss_name = losses_module.get(loss)[0] if loss is not None else None
            self._compile = (cc, metric, loss_name)
            self.compiled = True

    def _layer_list(self):
        if not hasattr(self, "_proxies"):
            self._proxies = [_Loaded(row[0], row[1]) for row in self._info[2]]
            for p in self._proxies:
                p._model = self
        return self._proxies

    @property
    def layers(self):
        return [lay for lay in self._layer_list() if lay.class_name != "InputLayer"]

    def _architecture(self):
        doc = json.loads(_native.model_to_json(self._handle))
        doc.pop("compile_config", None)
        return doc


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A model from a .keras archive, a full-model .h5, a .json architecture
    or an .onnx file."""
    import os
    if custom_objects:
        raise NotImplementedError("spindle has no custom objects")
    path = os.fspath(filepath)
    if not os.path.exists(path):
        raise ValueError(f"File not found: filepath={path}. Please ensure the file is an "
                         f"accessible `.keras` zip file.")
    model = _LoadedModel(_native.model_load(path, _next_seed()), path)
    if not compile:
        model._compile = None
    return model


def model_from_json(json_string, custom_objects=None):
    return _LoadedModel(_native.model_from_json(json_string, _next_seed()), None)


def clone_model(model):
    return model_from_json(model.to_json())
