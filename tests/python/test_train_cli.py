"""`spindle train`, `evaluate` and `predict` on the reference backend: a short
Fashion-MNIST run learns, the report holds its fields, evaluate and predict
agree with it, runs are deterministic, and bad inputs fail with a message
naming the problem and leave no report behind."""
import json
import os
import subprocess

import numpy as np
import pytest

from spindle_cli import MLP, SPINDLE, run, run_on_terminal, write_quadrant_dataset

FASHION = "/usr/share/datasets/fashion-mnist"


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """A 28x28 dataset of 96 training and 40 test images whose class is the
    brightest image quadrant (learnable in a few epochs)."""
    return write_quadrant_dataset(tmp_path_factory.mktemp("tiny"), 0, 96, 40)


@pytest.fixture(scope="module")
def fashion_run(tmp_path_factory):
    if not os.path.isdir(FASHION):
        pytest.skip("dataset-fashion-mnist is not installed")
    out = tmp_path_factory.mktemp("fashion")
    report, weights = out / "r.json", out / "w.h5"
    r = run("train", MLP, "--backend", "reference", "--data", "fashion-mnist",
            "--limit", "2000", "--epochs", "1", "--batch-size", "32",
            "--optimizer", "sgd", "--lr", "0.01", "--momentum", "0.9",
            "--seed", "1", "--report", str(report), "--save", str(weights))
    return r, report, weights, out


def test_train_fashion_mnist_learns(fashion_run):
    r, report, weights, _ = fashion_run
    assert r.returncode == 0, r.stderr
    assert "Epoch 1/1" in r.stdout
    assert "63/63 [==============================]" in r.stdout
    assert "loss:" in r.stdout and "accuracy:" in r.stdout
    assert "test_accuracy:" in r.stdout
    rep = json.loads(report.read_text())
    for key in ("test_accuracy", "loss", "train_loss", "train_accuracy", "epochs",
                "samples", "batch_size", "optimizer", "learning_rate", "seed",
                "backend", "host_seconds"):
        assert key in rep, key
    assert rep["backend"] == "reference"
    assert rep["samples"] == 2000 and rep["test_samples"] == 10000
    assert rep["epochs"] == 1 and len(rep["train_loss"]) == 1
    assert rep["optimizer"] == "sgd" and rep["learning_rate"] == pytest.approx(0.01)
    assert rep["test_accuracy"] > 0.6  # chance is 0.1
    assert rep["loss"] < 1.2
    assert weights.exists()


def test_evaluate_and_predict_agree_with_training(fashion_run):
    r, report, weights, out = fashion_run
    assert r.returncode == 0, r.stderr
    rep = json.loads(report.read_text())
    ev_report = out / "ev.json"
    ev = run("evaluate", MLP, "--backend", "reference", "--weights", str(weights),
             "--data", "fashion-mnist",
             "--report", str(ev_report))
    assert ev.returncode == 0, ev.stderr
    ev_rep = json.loads(ev_report.read_text())
    assert ev_rep["test_accuracy"] == pytest.approx(rep["test_accuracy"], abs=1e-9)
    assert ev_rep["loss"] == pytest.approx(rep["loss"], rel=1e-6)
    pred_path = out / "p.npy"
    pr = run("predict", MLP, "--backend", "reference", "--weights", str(weights),
             "--data", "fashion-mnist",
             "--limit", "500", "--output", str(pred_path))
    assert pr.returncode == 0, pr.stderr
    pred = np.load(pred_path)
    assert pred.shape == (500, 10) and pred.dtype == np.float32
    assert np.allclose(pred.sum(axis=1), 1.0, atol=1e-4)
    with open(os.path.join(FASHION, "t10k-labels-idx1-ubyte.gz"), "rb") as f:
        import gzip
        labels = np.frombuffer(gzip.decompress(f.read())[8:], dtype=np.uint8)[:500]
    assert (pred.argmax(axis=1) == labels).mean() > 0.6


def test_tiny_training_is_deterministic(tiny_data, tmp_path):
    reports = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.json"
        r = run("train", MLP, "--backend", "reference", "--data", tiny_data,
                "--epochs", "3", "--batch-size", "10",
                "--optimizer", "adam", "--seed", "5", "--report", str(path))
        assert r.returncode == 0, r.stderr
        assert "10/10 [==============================]" in r.stdout
        reports.append(json.loads(path.read_text()))
    a, b = reports
    assert a["train_loss"] == b["train_loss"]
    assert a["test_accuracy"] == b["test_accuracy"]
    assert a["train_loss"][-1] < a["train_loss"][0]
    assert a["optimizer"] == "adam" and a["learning_rate"] == pytest.approx(0.001)


def test_validation_split(tiny_data, tmp_path):
    path = tmp_path / "v.json"
    r = run("train", MLP, "--backend", "reference", "--data", tiny_data, "--epochs", "2",
            "--batch-size", "16",
            "--validation-split", "0.25", "--report", str(path))
    assert r.returncode == 0, r.stderr
    assert "val_loss:" in r.stdout and "val_accuracy:" in r.stdout
    rep = json.loads(path.read_text())
    assert rep["samples"] == 72  # 96 minus the last 24
    assert len(rep["val_loss"]) == 2 and len(rep["val_accuracy"]) == 2


def test_progress_bar_in_place_only_on_a_terminal(tiny_data):
    args = [SPINDLE, "train", MLP, "--backend", "reference", "--data", tiny_data,
            "--epochs", "2",
            "--batch-size", "1"]
    piped = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0, piped.stderr
    assert "\r" not in piped.stdout
    bars = [l for l in piped.stdout.splitlines() if l.startswith("96/96 [")]
    assert len(bars) == 2  # one final line per epoch
    text = run_on_terminal(*args[1:])
    assert "\r96/96 [==============================]" in text
    assert "Epoch 2/2" in text


def test_help_for_each_command():
    for cmd in ("train", "evaluate", "predict"):
        r = run(cmd, "--help")
        assert r.returncode == 0 and "usage: spindle " + cmd in r.stdout


def bad(tmp_path, *args):
    report = tmp_path / "report.json"
    r = run(*args, "--report", str(report))
    assert r.returncode != 0
    assert not report.exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith("report")]
    return r.stderr


def test_bad_inputs_are_named(tiny_data, tmp_path):
    err = bad(tmp_path, "train", MLP, "--data", tiny_data, "--optimizer", "adagrad")
    assert "adagrad" in err and "optimizer" in err
    err = bad(tmp_path, "train", MLP, "--data", tiny_data, "--epochs", "-3")
    assert "--epochs" in err and "-3" in err
    err = bad(tmp_path, "train", MLP, "--data", tiny_data, "--lr", "fast")
    assert "--lr" in err
    err = bad(tmp_path, "train", str(tmp_path / "missing.json"), "--data", tiny_data)
    assert "missing.json" in err
    err = bad(tmp_path, "train", MLP, "--data", str(tmp_path / "nowhere"))
    assert "nowhere" in err
    err = bad(tmp_path, "train", MLP, "--data", tiny_data, "--loss", "hinge")
    assert "hinge" in err
    err = bad(tmp_path, "train", MLP, "--data", tiny_data, "--bogus")
    assert "--bogus" in err
    err = bad(tmp_path, "train", MLP, "--data", tiny_data, "--backend", "gpu")
    assert "gpu" in err
    err = bad(tmp_path, "evaluate", MLP, "--data", tiny_data, "--weights",
              str(tmp_path / "nope.h5"))
    assert "nope.h5" in err
    err = bad(tmp_path, "predict", MLP, "--data", tiny_data)
    assert "--output" in err


def test_model_and_data_shapes_must_agree(tiny_data, tmp_path):
    text = open(MLP).read().replace("[null, 28, 28, 1]", "[null, 32, 32, 1]")
    model = tmp_path / "mlp32.json"
    model.write_text(text)
    err = bad(tmp_path, "train", str(model), "--data", tiny_data)
    assert "(None, 32, 32, 1)" in err and "(None, 28, 28, 1)" in err
