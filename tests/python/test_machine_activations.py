"""Standalone activation layers (Keras's LeakyReLU, ELU, ReLU, Softmax and
Activation classes) on the machine: an activation layer after a linear
Dense is folded into the Dense's tiles (docs/layers.md, "Folded
activations"), so an MLP written the Keras way trains on the emulated
machine in fixed point to exactly the reference fixed backend's losses, and
the fold is the same network as the Dense's own activation argument."""
import json

import numpy as np
import pytest

from spindle_cli import run, write_idx


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_activations")
    rng = np.random.default_rng(11)
    for prefix, n in (("train", 12), ("t10k", 16)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, size=(n, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, size=n))
    return str(folder)


def dense(name, units, activation="linear"):
    return {"class_name": "Dense",
            "config": {"name": name, "trainable": True, "dtype": "float32", "units": units,
                       "activation": activation, "use_bias": True,
                       "kernel_initializer": {"class_name": "GlorotUniform",
                                              "config": {"seed": None}},
                       "bias_initializer": {"class_name": "Zeros", "config": {}}}}


def layer(cls, name, **config):
    return {"class_name": cls, "config": {"name": name, "trainable": True, "dtype": "float32",
                                          **config}}


def model(tmp_path, name, hidden):
    """Flatten -> hidden layers -> Dense(10) -> Activation('softmax')."""
    layers = [{"class_name": "InputLayer",
               "config": {"batch_input_shape": [None, 28, 28, 1], "dtype": "float32",
                          "name": "input"}},
              layer("Flatten", "flatten", data_format="channels_last"),
              *hidden, dense("logits", 10), layer("Activation", "probs", activation="softmax")]
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"class_name": "Sequential",
                                "config": {"name": name, "layers": layers},
                                "keras_version": "2.11.0", "backend": "tensorflow"}))
    return str(path)


def train(path, data, out, backend, *extra):
    report = out / f"{backend}.json"
    r = run("train", path, "--data", data, "--backend", backend, "--machine", "spinn5",
            "--numeric", "fixed", "--seed", "3", "--limit", "9", "--epochs", "2",
            "--batch-size", "3", "--optimizer", "adam", "--lr", "0.001",
            "--report", str(report), *extra)
    assert r.returncode == 0, r.stderr
    return json.loads(report.read_text())


MLPS = {
    "leaky_relu": [dense("d0", 24), layer("LeakyReLU", "lr0", negative_slope=0.3),
                   dense("d1", 16), layer("LeakyReLU", "lr1", alpha=0.05)],
    "elu": [dense("d0", 24), layer("ELU", "elu0", alpha=0.5),
            dense("d1", 16), layer("ELU", "elu1")],
    "mixed": [dense("d0", 20), layer("ReLU", "relu0"),
              layer("Dropout", "drop", rate=0.25),
              dense("d1", 12), layer("Activation", "tanh1", activation="tanh")],
}


@pytest.mark.parametrize("name", sorted(MLPS))
def test_machine_trains_to_reference_fixed_loss(name, tiny_data, tmp_path):
    path = model(tmp_path, name, MLPS[name])
    got = train(path, tiny_data, tmp_path, "machine")
    want = train(path, tiny_data, tmp_path, "reference")
    assert got["train_loss"] == pytest.approx(want["train_loss"], abs=1e-9)
    assert got["test_loss"] == want["test_loss"]
    assert got["test_accuracy"] == want["test_accuracy"]
    assert got["packets_dropped"] == 0


def test_fold_is_the_dense_activation(tiny_data, tmp_path):
    """Dense + LeakyReLU(0.2) is Dense(activation='leaky_relu') (Keras 3's
    slope 0.2) in fixed point: one rounding of z either way. (A Dropout of
    rate 0, which passes values and gradients unchanged, keeps the layer
    indices, and with them the initial weights' streams, equal.)"""
    folded = model(tmp_path, "folded", [dense("d0", 24), layer("LeakyReLU", "lr", alpha=0.2)])
    fused = model(tmp_path, "fused", [dense("d0", 24, "leaky_relu"),
                                      layer("Dropout", "keep", rate=0.0)])
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = train(folded, tiny_data, tmp_path / "a", "reference")
    b = train(fused, tiny_data, tmp_path / "b", "reference")
    assert a["train_loss"] == b["train_loss"]
    assert a["test_loss"] == b["test_loss"]


def test_activation_without_a_linear_producer_is_refused(tiny_data, tmp_path):
    """An activation after a Dense that has its own activation cannot fold:
    the machine says which layer and why, and the reference trains it."""
    path = model(tmp_path, "stacked", [dense("d0", 16, "relu"), layer("ELU", "elu0")])
    report = tmp_path / "m.json"
    r = run("train", path, "--data", tiny_data, "--backend", "machine", "--machine", "spinn5",
            "--numeric", "fixed", "--limit", "6", "--epochs", "1", "--batch-size", "3",
            "--report", str(report))
    assert r.returncode != 0
    assert "elu0" in r.stderr and "linear activation" in r.stderr
    train(path, tiny_data, tmp_path, "reference")


def test_conv_activation_layers(tiny_data, tmp_path):
    """LeNet's shape written the Keras way: Conv2D then LeakyReLU, Conv2D
    then ELU, pooling after each, a Softmax layer last; the activations fold
    into the convolutions' tiles (and the softmax into the loss core), and
    the machine trains it to the reference fixed backend's losses."""
    layers = [{"class_name": "InputLayer",
               "config": {"batch_input_shape": [None, 28, 28, 1], "name": "input"}},
              layer("Conv2D", "c0", filters=4, kernel_size=5, activation="linear"),
              layer("LeakyReLU", "lr0", negative_slope=0.1),
              layer("MaxPooling2D", "p0", pool_size=2),
              layer("Conv2D", "c1", filters=6, kernel_size=5),
              layer("ELU", "elu1", alpha=0.7),
              layer("AveragePooling2D", "p1", pool_size=2),
              layer("Flatten", "flatten"), dense("logits", 10), layer("Softmax", "probs")]
    path = tmp_path / "conv.json"
    path.write_text(json.dumps({"class_name": "Sequential",
                                "config": {"name": "conv", "layers": layers}}))
    got = train(str(path), tiny_data, tmp_path, "machine")
    want = train(str(path), tiny_data, tmp_path, "reference")
    assert got["train_loss"] == pytest.approx(want["train_loss"], abs=1e-9)
    assert got["test_loss"] == want["test_loss"]
    assert got["test_accuracy"] == want["test_accuracy"]
    assert got["packets_dropped"] == 0


@pytest.mark.parametrize("act", ["selu", "swish", "gelu"])
def test_float_only_activations(act, tiny_data, tmp_path):
    """selu, swish and gelu train in the float reference; fixed point and
    the machine refuse them, naming the layer."""
    path = model(tmp_path, act, [dense("d0", 16), layer("Activation", "act0", activation=act)])
    report = tmp_path / "float.json"
    r = run("train", path, "--data", tiny_data, "--backend", "reference", "--numeric", "float",
            "--seed", "3", "--limit", "6", "--epochs", "1", "--batch-size", "3",
            "--report", str(report))
    assert r.returncode == 0, r.stderr
    assert json.loads(report.read_text())["test_loss"] > 0
    for backend in ("reference", "machine"):
        r = run("train", path, "--data", tiny_data, "--backend", backend, "--numeric", "fixed",
                "--seed", "3", "--limit", "6", "--epochs", "1", "--batch-size", "3")
        assert r.returncode != 0
        assert "act0" in r.stderr and act in r.stderr, r.stderr


def test_slopes_beyond_the_fixed_multiplier_are_refused(tiny_data, tmp_path):
    """A LeakyReLU slope of 2 or more does not fit the Q1.30 multiplier of
    the fixed-point activations: fixed point and the machine refuse it
    (instead of clamping it), the float reference trains it."""
    path = model(tmp_path, "steep", [dense("d0", 16), layer("LeakyReLU", "steep0",
                                                            negative_slope=2.5)])
    r = run("train", path, "--data", tiny_data, "--backend", "reference", "--numeric", "float",
            "--seed", "3", "--limit", "6", "--epochs", "1", "--batch-size", "3")
    assert r.returncode == 0, r.stderr
    for backend, numeric in (("reference", "fixed"), ("machine", "fixed"), ("machine", "float")):
        r = run("train", path, "--data", tiny_data, "--backend", backend, "--numeric", numeric,
                "--seed", "3", "--limit", "6", "--epochs", "1", "--batch-size", "3")
        assert r.returncode != 0, (backend, numeric)
        assert "steep0" in r.stderr and "below 2" in r.stderr, r.stderr
