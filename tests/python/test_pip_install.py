"""`pip install .` works offline (no package index, no build isolation):
pyproject.toml's own backend (python/spindle_build.py) builds the package
with CMake and the installed copy, on its own, imports and trains. The
build reuses the suite's build directory (SPINDLE_BUILD_DIR), so only the
Python target is brought up to date."""
import os
import subprocess
import sys

import pytest

SOURCE = os.environ.get("SPINDLE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("SPINDLE_BUILD_DIR", os.path.join(SOURCE, "build"))

PROBE = """
import numpy as np, spindle
from spindle import config, keras
from spindle.keras import layers
assert spindle.__file__.startswith(TARGET), spindle.__file__
config.set_backend("reference")
x = np.random.default_rng(0).random((32, 6), dtype=np.float32)
y = (x[:, 0] > 0.5).astype(np.int64)
m = keras.Sequential([keras.Input(shape=(6,)), layers.Dense(2, activation="softmax")])
m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
h = m.fit(x, y, epochs=2, verbose=0)
print(spindle.__version__, len(h.history["loss"]))
"""


def test_pip_install_offline_into_a_target_folder(tmp_path):
    target = tmp_path / "site"
    env = dict(os.environ, SPINDLE_BUILD_DIR=BUILD, PIP_NO_INPUT="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1")
    env.pop("PYTHONPATH", None)
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index",
                        "--no-build-isolation", "--no-deps", "--target", str(target), SOURCE],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    installed = sorted(os.listdir(target / "spindle"))
    assert "_native.so" in installed and "libspindle.so.1" in installed and "keras" in installed
    env["PYTHONPATH"] = str(target)
    r = subprocess.run([sys.executable, "-c", f"TARGET = {str(target)!r}\n" + PROBE],
                       env=env, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    version, epochs = r.stdout.split()
    assert epochs == "2"
    from spindle import __version__
    assert version == __version__
