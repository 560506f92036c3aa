"""GlobalAveragePooling2D, GlobalMaxPooling2D and ZeroPadding2D on the
machine (issue 12 part 4; docs/conv-on-machine.md, "Global pooling and
zero padding"). A global pooling is a pool tile whose one window is the
whole map, cut by channels, and its channels are the Dense tail's input; a
ZeroPadding2D is the Conv2D reading it padding virtually by as much more.
Each small network trains on the emulated machine in fixed point to exactly
the reference fixed backend's losses, with a stride-2 same and a 1x1
convolution among them."""
import json

import numpy as np
import pytest

from spindle_cli import run, write_idx


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_global_pool")
    rng = np.random.default_rng(5)
    for prefix, n in (("train", 12), ("t10k", 8)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, size=(n, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, size=n))
    return str(folder)


def layer(cls, name, **config):
    return {"class_name": cls, "config": {"name": name, "trainable": True, "dtype": "float32",
                                          **config}}


def conv(name, filters, k, stride=1, padding="same", activation="linear"):
    return layer("Conv2D", name, filters=filters, kernel_size=[k, k], strides=[stride, stride],
                 padding=padding, data_format="channels_last", dilation_rate=[1, 1], groups=1,
                 activation=activation, use_bias=True,
                 kernel_initializer={"class_name": "GlorotUniform", "config": {"seed": None}},
                 bias_initializer={"class_name": "Zeros", "config": {}})


def head():
    return layer("Dense", "out", units=10, activation="softmax", use_bias=True,
                 kernel_initializer={"class_name": "GlorotUniform", "config": {"seed": None}},
                 bias_initializer={"class_name": "Zeros", "config": {}})


GAP = layer("GlobalAveragePooling2D", "gap", data_format="channels_last", keepdims=False)
NETS = {
    # stride-2 same convolution, a 1x1 convolution, a standalone ReLU
    # folded into it, the average over the map
    "gap": [conv("c1", 3, 3, activation="relu"), conv("c2", 6, 3, stride=2, activation="relu"),
            conv("c3", 6, 1), layer("ReLU", "r3"), GAP],
    "gmp": [conv("c1", 3, 3, activation="relu"),
            layer("MaxPooling2D", "mp", pool_size=[2, 2], strides=[2, 2], padding="valid",
                  data_format="channels_last"),
            conv("c2", 6, 3, activation="relu"),
            layer("GlobalMaxPooling2D", "gmp", data_format="channels_last", keepdims=False)],
    # a global average of an average pooling's tiles, a Dropout reading it
    "pooled_dropout": [conv("c1", 3, 3, activation="relu"),
                       layer("AveragePooling2D", "ap", pool_size=[2, 2], strides=[2, 2],
                             padding="valid", data_format="channels_last"),
                       GAP, layer("Dropout", "drop", rate=0.3)],
    # asymmetric padding before a valid 3x3 and before a stride-2 valid 3x3
    "zero_padding": [layer("ZeroPadding2D", "zp0", padding=[[1, 0], [2, 1]],
                           data_format="channels_last"),
                     conv("c1", 3, 3, padding="valid", activation="relu"),
                     layer("ZeroPadding2D", "zp1", padding=[[0, 1], [0, 1]],
                           data_format="channels_last"),
                     conv("c2", 6, 3, stride=2, padding="valid", activation="relu"), GAP],
}


def model(tmp_path, name, layers):
    first = {"class_name": "InputLayer",
             "config": {"batch_input_shape": [None, 28, 28, 1], "dtype": "float32",
                        "name": "input"}}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"class_name": "Sequential",
                                "config": {"name": name, "layers": [first, *layers, head()]},
                                "keras_version": "2.11.0", "backend": "tensorflow"}))
    return str(path)


def train(path, data, out, backend, numeric="fixed"):
    report = out / f"{backend}-{numeric}.json"
    r = run("train", path, "--data", data, "--backend", backend, "--machine", "spinn5",
            "--numeric", numeric, "--seed", "3", "--epochs", "2", "--batch-size", "4",
            "--optimizer", "adam", "--lr", "0.01", "--report", str(report))
    assert r.returncode == 0, r.stderr
    return json.loads(report.read_text())


@pytest.mark.parametrize("name", sorted(NETS))
def test_machine_trains_to_reference_fixed_loss(name, tiny_data, tmp_path):
    path = model(tmp_path, name, NETS[name])
    got = train(path, tiny_data, tmp_path, "machine")
    want = train(path, tiny_data, tmp_path, "reference")
    assert got["packets_dropped"] == 0
    assert got["train_loss"] == want["train_loss"]
    assert got["test_loss"] == want["test_loss"]


def test_machine_float_global_average_close(tiny_data, tmp_path):
    path = model(tmp_path, "gap", NETS["gap"])
    got = train(path, tiny_data, tmp_path, "machine", "float")
    want = train(path, tiny_data, tmp_path, "reference", "float")
    assert got["test_loss"] == pytest.approx(want["test_loss"], abs=1e-4)


def test_map_names_the_global_pooling_tiles(tmp_path):
    r = run("map", model(tmp_path, "gap", NETS["gap"]), "--machine", "spinn5")
    assert r.returncode == 0, r.stderr
    assert "layer 'gap' GlobalAveragePooling2D 14x14x6 -> 1x1x6 (k 14x14" in r.stdout
    assert "layer 'c1' Conv2D 28x28x1" in r.stdout


def test_zero_padding_before_a_pooling_is_refused_naming_it(tmp_path, tiny_data):
    layers = [conv("c1", 3, 3, activation="relu"),
              layer("ZeroPadding2D", "zp", padding=1, data_format="channels_last"),
              layer("MaxPooling2D", "mp", pool_size=[2, 2], strides=[2, 2], padding="valid",
                    data_format="channels_last"), GAP]
    r = run("train", model(tmp_path, "zp_pool", layers), "--data", tiny_data,
            "--backend", "machine", "--numeric", "fixed", "--epochs", "1")
    assert r.returncode != 0
    assert "layer 'zp' (ZeroPadding2D)" in r.stderr
    assert "'mp' (MaxPooling2D) reads this one" in r.stderr

