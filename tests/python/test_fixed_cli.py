"""`spindle train --numeric fixed` on the reference backend: the fixed-point
mode learns a small dataset as well as float does, reports its numeric mode
and saturation count, is deterministic, and `evaluate` / `predict --numeric
fixed` run the fixed-point forward on saved weights."""
import json

import numpy as np
import pytest

from spindle_cli import MLP, run, write_quadrant_dataset


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """28x28 images whose class is the brightest quadrant."""
    return write_quadrant_dataset(tmp_path_factory.mktemp("tiny_fixed"), 1, 192, 64)


def train(data, out, numeric, *extra):
    report = out / f"{numeric}.json"
    r = run("train", MLP, "--backend", "reference", "--data", data, "--epochs", "3",
            "--batch-size", "16", "--lr", "0.01", "--optimizer", "sgd", "--momentum", "0.9", "--seed", "3",
            "--numeric", numeric, "--report", str(report), *extra)
    assert r.returncode == 0, r.stderr
    return json.loads(report.read_text())


def test_fixed_trains_like_float(tiny_data, tmp_path):
    fixed = train(tiny_data, tmp_path, "fixed")
    flt = train(tiny_data, tmp_path, "float")
    assert fixed["numeric"] == "fixed" and flt["numeric"] == "float"
    assert fixed["saturations"] == 0
    assert fixed["saturations_by_layer"] == {}
    assert "saturations" not in flt
    assert fixed["test_accuracy"] >= 0.9
    assert abs(fixed["test_accuracy"] - flt["test_accuracy"]) <= 0.05
    assert abs(fixed["train_loss"][-1] - flt["train_loss"][-1]) < 0.1


def test_fixed_is_deterministic(tiny_data, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = train(tiny_data, tmp_path / "a", "fixed")
    b = train(tiny_data, tmp_path / "b", "fixed")
    assert a["train_loss"] == b["train_loss"]
    assert a["test_accuracy"] == b["test_accuracy"]


def test_evaluate_fixed_on_saved_weights(tiny_data, tmp_path):
    weights = tmp_path / "w.h5"
    trained = train(tiny_data, tmp_path, "fixed", "--save", str(weights))
    r = run("evaluate", MLP, "--backend", "reference", "--weights", str(weights),
            "--data", tiny_data,
            "--numeric", "fixed", "--report", str(tmp_path / "e.json"))
    assert r.returncode == 0, r.stderr
    evaluated = json.loads((tmp_path / "e.json").read_text())
    assert evaluated["numeric"] == "fixed"
    assert abs(evaluated["test_accuracy"] - trained["test_accuracy"]) <= 0.05


def test_predict_fixed_agrees_with_float(tiny_data, tmp_path):
    weights = tmp_path / "w.h5"
    train(tiny_data, tmp_path, "float", "--save", str(weights))
    outs = {}
    for numeric in ("float", "fixed"):
        out = tmp_path / f"{numeric}.npy"
        r = run("predict", MLP, "--backend", "reference", "--weights", str(weights),
                "--data", tiny_data,
                "--numeric", numeric, "--output", str(out))
        assert r.returncode == 0, r.stderr
        outs[numeric] = np.load(out)
    assert outs["fixed"].shape == outs["float"].shape == (64, 10)
    # Softmax outputs at s1.14 after s4.11 hidden layers: a few 1e-3 apart.
    assert np.abs(outs["fixed"] - outs["float"]).max() < 0.02
    assert (outs["fixed"].argmax(1) == outs["float"].argmax(1)).mean() >= 0.95
