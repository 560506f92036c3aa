"""Residual networks on the machine (issue 12 part 2, docs/dag-on-machine.md):
functional Keras graphs of convolutions joined by Add — one output read by
several layers (their dX summed on the producer's tiles at one frac), Add
with two and three inputs, a standalone ReLU after the Add applied on its
tiles, paths of different depth, a 1x1 stride-2 projection shortcut — train
on the emulated machine in fixed point to exactly the reference fixed
backend's losses, and in float within 1e-4."""
import json

import numpy as np
import pytest

from spindle_cli import run, write_idx
from test_machine_global_pool import GAP, conv, head, layer, train


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_residual")
    rng = np.random.default_rng(9)
    for prefix, n in (("train", 12), ("t10k", 8)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, size=(n, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, size=n))
    return str(folder)


def at(spec, *inputs):
    """Layer @spec called on the outputs of @inputs (Keras 3 inbound_nodes)."""
    tensors = [{"class_name": "__keras_tensor__", "config": {"keras_history": [n, 0, 0]}}
               for n in inputs]
    return {**spec, "name": spec["config"]["name"],
            "inbound_nodes": [{"args": [tensors if len(tensors) > 1 else tensors[0]],
                               "kwargs": {}}]}


def functional(tmp_path, name, body):
    layers = [{"class_name": "InputLayer", "name": "input", "inbound_nodes": [],
               "config": {"batch_input_shape": [None, 28, 28, 1], "dtype": "float32",
                          "name": "input"}}, *body]
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"class_name": "Functional", "keras_version": "3.3.3",
                                "config": {"name": name, "layers": layers,
                                           "input_layers": [["input", 0, 0]],
                                           "output_layers": [["out", 0, 0]]}}))
    return str(path)


NETS = {
    # Conv-ReLU-Conv + identity shortcut, Add, ReLU, GAP, Dense softmax
    "identity": [at(conv("stem", 4, 3, activation="relu"), "input"),
                 at(conv("c1", 4, 3, activation="relu"), "stem"), at(conv("c2", 4, 3), "c1"),
                 at(layer("Add", "add"), "stem", "c2"), at(layer("ReLU", "relu"), "add"),
                 at(GAP, "relu"), at(head(), "gap")],
    # stride-2 same convolutions and a 1x1 stride-2 projection shortcut
    "projection": [at(conv("stem", 4, 3, activation="relu"), "input"),
                   at(conv("c1", 6, 3, stride=2, activation="relu"), "stem"),
                   at(conv("c2", 6, 3), "c1"), at(conv("sc", 6, 1, stride=2), "stem"),
                   at(layer("Add", "add"), "c2", "sc"), at(layer("ReLU", "relu"), "add"),
                   at(GAP, "relu"), at(head(), "gap")],
    # a max pooling fused into the stem, read by the block and the Add; a
    # LeakyReLU on the Add's tiles; an average pooling of the Add's output,
    # Flatten, a Dropout and Dense
    "pooled": [at(conv("stem", 4, 3, activation="relu"), "input"),
               at(layer("MaxPooling2D", "mp", pool_size=[2, 2], strides=[2, 2],
                        padding="valid", data_format="channels_last"), "stem"),
               at(conv("c1", 4, 3, activation="relu"), "mp"), at(conv("c2", 4, 3), "c1"),
               at(layer("Add", "add"), "mp", "c2"),
               at(layer("LeakyReLU", "lrelu", negative_slope=0.1), "add"),
               at(layer("AveragePooling2D", "ap", pool_size=[2, 2], strides=[2, 2],
                        padding="valid", data_format="channels_last"), "lrelu"),
               at(layer("Flatten", "flat", data_format="channels_last"), "ap"),
               at(layer("Dropout", "drop", rate=0.2), "flat"), at(head(), "drop")],
    # two blocks; the second Add has three inputs, one of them the stem's
    # output four layers back (paths of depth 1, 2 and 4 meet)
    "two_blocks": [at(conv("stem", 3, 3, stride=2, activation="relu"), "input"),
                   at(conv("a1", 3, 3, activation="relu"), "stem"), at(conv("a2", 3, 3), "a1"),
                   at(layer("Add", "add1"), "stem", "a2"), at(layer("ReLU", "r1"), "add1"),
                   at(conv("b1", 3, 3, activation="relu"), "r1"), at(conv("b2", 3, 3), "b1"),
                   at(layer("Add", "add2"), "r1", "b2", "stem"), at(GAP, "add2"),
                   at(head(), "gap")],
}


@pytest.mark.parametrize("name", sorted(NETS))
def test_residual_trains_to_reference_fixed_loss(name, tiny_data, tmp_path):
    path = functional(tmp_path, name, NETS[name])
    got = train(path, tiny_data, tmp_path, "machine")
    want = train(path, tiny_data, tmp_path, "reference")
    assert got["packets_dropped"] == 0
    assert got["train_loss"] == want["train_loss"]
    assert got["test_loss"] == want["test_loss"]


def test_residual_float_close(tiny_data, tmp_path):
    path = functional(tmp_path, "identity", NETS["identity"])
    got = train(path, tiny_data, tmp_path, "machine", "float")
    want = train(path, tiny_data, tmp_path, "reference", "float")
    assert got["test_loss"] == pytest.approx(want["test_loss"], abs=1e-4)


def test_map_shows_the_add_tiles(tmp_path):
    r = run("map", functional(tmp_path, "identity", NETS["identity"]), "--machine", "spinn5",
            "--in-flight", "2", "--slack", "100")
    assert r.returncode == 0, r.stderr
    assert "layer 'add' Add 28x28x4 -> 28x28x4" in r.stdout


def test_concatenate_is_refused_naming_it(tmp_path, tiny_data):
    body = [at(conv("stem", 4, 3, activation="relu"), "input"),
            at(conv("c1", 4, 3), "stem"),
            at(layer("Concatenate", "cat", axis=-1), "stem", "c1"), at(GAP, "cat"),
            at(head(), "gap")]
    path = functional(tmp_path, "concat", body)
    for command in ("map", "train"):
        extra = ["--data", tiny_data, "--epochs", "1"] if command == "train" else []
        r = run(command, path, "--machine", "spinn5", *extra)
        assert r.returncode != 0
        assert ("layer 'cat' (Concatenate) joins 2 inputs ('stem', 'c1'): the machine joins "
                "window layers with Add only") in r.stderr


def test_shortcut_from_the_input_is_refused_naming_it(tmp_path, tiny_data):
    body = [at(conv("c1", 1, 3), "input"), at(layer("Add", "add"), "input", "c1"),
            at(GAP, "add"), at(head(), "gap")]
    r = run("train", functional(tmp_path, "input_add", body), "--data", tiny_data,
            "--epochs", "1")
    assert r.returncode != 0
    assert "layer 'add' (Add): only the first window layer may read the model input" in r.stderr


def test_dropout_on_a_shared_output_is_refused_naming_it(tmp_path, tiny_data):
    """The producer's tiles would mask what they send to the Add as well."""
    body = [at(conv("stem", 4, 3, activation="relu"), "input"),
            at(layer("Dropout", "drop", rate=0.5), "stem"), at(conv("c1", 4, 3), "drop"),
            at(layer("Add", "add"), "stem", "c1"), at(GAP, "add"), at(head(), "gap")]
    r = run("train", functional(tmp_path, "shared_dropout", body), "--data", tiny_data,
            "--epochs", "1")
    assert r.returncode != 0
    assert ("layer 'drop' (Dropout): the machine masks a Dropout's values in the tiles that "
            "send them, and other layers read the same values unmasked") in r.stderr
