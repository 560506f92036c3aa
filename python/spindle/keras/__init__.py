"""spindle.keras: tf.keras's model API on spindle. A script written for
tf.keras runs with `from spindle import keras` in place of its import."""
from . import callbacks, datasets, layers, losses, metrics, models, optimizers
from .layers import Input
from .models import Model, Sequential
from .schedules import LearningRateSchedule  # noqa: F401

__all__ = ["Input", "Model", "Sequential", "callbacks", "layers", "losses", "metrics",
           "models", "optimizers", "utils"]


class utils:  # keras.utils's helpers Keras's examples use
    @staticmethod
    def to_categorical(y, num_classes=None):
        import numpy as np
        y = np.asarray(y, dtype=np.int64).reshape(-1)
        n = int(num_classes if num_classes is not None else y.max() + 1)
        out = np.zeros((len(y), n), dtype=np.float32)
        out[np.arange(len(y)), y] = 1
        return out

    @staticmethod
    def set_random_seed(seed):
        from .. import config
        config.set_seed(seed)
