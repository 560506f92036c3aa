"""keras.callbacks. spindle runs all of a fit's epochs in one call of
spd_fit (on the machine, one run of the machine), reporting every batch and
epoch as it goes: callbacks see the batches and epochs live and can stop
training at an epoch's end. Weights are the model's again once the run
ends (or stops); until then ModelCheckpoint writes its files from the
checkpoint the library leaves after every epoch."""
import math
import os
import sys
import tempfile
import time
import warnings


class Callback:
    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


class History(Callback):
    """history[key] per epoch; .spindle holds the machine's figures of the
    run (machine, chips and cores used, packets sent / dropped / reinjected,
    simulated seconds, energy), None on the reference backend."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []
        self.spindle = None

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


def _fmt(logs):
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


class ProgbarLogger(Callback):
    """Keras's progress bar: verbose 1 draws a bar per epoch (redrawn in
    place on a terminal), verbose 2 one line per epoch."""

    def __init__(self, verbose=1, stream=None):
        super().__init__()
        self.verbose = verbose
        self.stream = stream

    def _out(self):
        return self.stream or sys.stdout

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.monotonic()
        self.steps = self.params.get("steps") or 0
        if self.verbose:
            print(f"Epoch {epoch + 1}/{self.params.get('epochs', 1)}", file=self._out(),
                  flush=True)

    def _bar(self, step, logs, end):
        steps = max(self.steps, 1)
        elapsed = time.monotonic() - self.t0
        width = 20
        done = int(width * step / steps)
        bar = "━" * done + " " * (width - done)
        per = elapsed / max(step, 1)
        text = (f"{step}/{steps} {bar} {elapsed:.0f}s {per * 1000:.0f}ms/step"
                + (f" - {_fmt(logs)}" if logs else ""))
        out = self._out()
        if end:
            out.write(("\r" if out.isatty() else "") + text + "\n")
        elif out.isatty():
            out.write("\r" + text)
        out.flush()

    def on_train_batch_end(self, batch, logs=None):
        if self.verbose == 1 and batch + 1 < self.steps:
            self._bar(batch + 1, logs, False)

    def on_epoch_end(self, epoch, logs=None):
        if self.verbose == 1:
            self._bar(self.steps, logs, True)
        elif self.verbose == 2:
            elapsed = time.monotonic() - self.t0
            print(f"{self.steps}/{self.steps} - {elapsed:.0f}s - {_fmt(logs or {})}",
                  file=self._out(), flush=True)


def _monitor_mode(monitor, mode):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max'. Received: mode={mode!r}")
    if mode == "auto":
        mode = "max" if "acc" in monitor else "min"
    return mode


class EarlyStopping(Callback):
    """Stops training when @p monitor has not improved by @p min_delta for
    @p patience epochs. The run stops at the epoch's end and the model keeps
    the weights of the last epoch trained (on the machine, read from the
    checkpoint fit has it write after every epoch when a callback may stop
    it)."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        if restore_best_weights:
            raise NotImplementedError("EarlyStopping: restore_best_weights=True is not "
                                      "supported by spindle (the weights of earlier epochs "
                                      "are not kept)")
        self.monitor, self.patience, self.verbose = monitor, int(patience), verbose
        self.mode = _monitor_mode(monitor, mode)
        self.min_delta = abs(float(min_delta))
        self.baseline, self.start_from_epoch = baseline, int(start_from_epoch)
        self.stopped_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.best = self.baseline if self.baseline is not None else (
            math.inf if self.mode == "min" else -math.inf)
        self.stopped_epoch = 0

    def _better(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {', '.join(logs or {})}")
            return
        if epoch < self.start_from_epoch:
            return
        if self._better(value):
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.verbose:
                print(f"Epoch {epoch + 1}: early stopping")


def _atomic_write(path, text):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # as open() would create it, not mkstemp's 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class CSVLogger(Callback):
    """Each epoch's logs as a row of @p filename (rewritten atomically
    after every epoch)."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append

    def on_train_begin(self, logs=None):
        self.rows, self.keys = [], None
        if self.append and os.path.exists(self.filename):
            with open(self.filename) as f:
                self.rows = f.read().splitlines()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if not self.rows:
                self.rows.append(self.sep.join(["epoch"] + self.keys))
        self.rows.append(self.sep.join([str(epoch)] + [repr(float(logs.get(k, "nan")))
                                                        for k in self.keys]))
        _atomic_write(self.filename, "\n".join(self.rows) + "\n")


class LearningRateScheduler(Callback):
    """schedule(epoch, lr) -> the rate of each epoch. spindle asks it for
    every epoch before the run and trains with the piecewise-constant
    schedule it gives (changing at the epochs' first steps), at most 17
    epochs' rates."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: `schedule` must be callable. Received: "
                            f"{schedule!r}")
        self.schedule, self.verbose = schedule, verbose

    def rates(self, epochs, lr):
        out = []
        for e in range(epochs):
            lr = self.schedule(e, lr)
            if not isinstance(lr, (int, float)) or isinstance(lr, bool):
                raise ValueError(f'The output of the "schedule" function should be a float. '
                                 f"Got: {lr!r}")
            out.append(float(lr))
        return out

    def on_epoch_begin(self, epoch, logs=None):
        if self.verbose and hasattr(self, "_rates"):
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                  f"{self._rates[epoch]}.")


class ModelCheckpoint(Callback):
    """Saves the model (or its weights) to @p filepath (formatted with the
    epoch and logs) at the end of every epoch, or with save_best_only of
    every epoch that improves @p monitor. While spindle trains, the weights
    are the library's (on the machine, the cores'), so fit() asks it for a
    checkpoint after every epoch (docs/formats.md "Checkpoints") and this
    callback writes the file from that epoch's checkpoint."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        if save_freq != "epoch":
            raise NotImplementedError("ModelCheckpoint: spindle saves per epoch only "
                                      "(save_freq='epoch')")
        self.filepath, self.monitor, self.verbose = os.fspath(filepath), monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.mode = _monitor_mode(monitor, mode)
        self.best = initial_value_threshold
        if save_weights_only and not self.filepath.endswith(".weights.h5"):
            raise ValueError("When using `save_weights_only=True` in `ModelCheckpoint`, the "
                             "filepath provided must end in `.weights.h5`. Received: "
                             f"filepath={self.filepath}")
        if not save_weights_only and not self.filepath.endswith((".keras", ".h5")):
            raise ValueError("The filepath provided must end in `.keras` (Keras model format) "
                             "or `.h5`. Received: filepath=" + self.filepath)

    def _improved(self, value):
        return self.best is None or (value < self.best if self.mode == "min" else
                                     value > self.best)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None:
                warnings.warn(f"Can save best model only with {self.monitor} available, "
                              "skipping.")
                return
            if not self._improved(value):
                if self.verbose:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from "
                          f"{self.best:.5f}")
                return
            if self.verbose:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best} to "
                      f"{value:.5f}, saving model")
            self.best = value
        path = self.filepath.format(epoch=epoch + 1, **logs)
        self.model._save_epoch_checkpoint(path)
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")


class CallbackList:
    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for c in self.callbacks:
            c.set_model(model)
            c.set_params(params)

    def __getattr__(self, name):
        def call(*args, **kwargs):
            for c in self.callbacks:
                getattr(c, name)(*args, **kwargs)
        return call
