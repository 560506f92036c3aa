"""spindle: deep learning on an emulated SpiNNaker machine.

``from spindle import keras`` gives a tf.keras-style API (Sequential and
functional models, fit / evaluate / predict, callbacks, saving) that runs on
libspindle.so's spd_fit, spd_evaluate and spd_predict: by default on an
emulated SpiNN-5 board (spindle.config chooses the backend, the numeric
mode and the machine); spindle.plot draws a fit's history.
"""
from . import config
from ._native import version as _version

__version__ = _version()

__all__ = ["config", "keras", "__version__"]
