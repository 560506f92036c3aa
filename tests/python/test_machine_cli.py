"""`spindle evaluate` and `predict --backend machine`: the MLP runs forward on
an emulated SpiNN-3 board; fixed point gives exactly the reference fixed
mode's loss, accuracy and outputs, float outputs agree within 1e-4, and the
report carries the hardware fields with zero dropped packets."""
import json

import numpy as np
import pytest

from spindle_cli import MLP, run, run_on_terminal, write_idx

HARDWARE = ("machine", "numeric", "chips_used", "cores_used", "max_router_entries",
            "packets_sent", "packets_dropped", "simulated_seconds",
            "simulated_samples_per_second", "energy_joules", "host_seconds")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_machine")
    rng = np.random.default_rng(2)
    for prefix, n in (("train", 8), ("t10k", 24)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, size=(n, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, size=n))
    return str(folder)


def evaluate(data, out, backend, numeric):
    report = out / f"{backend}_{numeric}.json"
    r = run("evaluate", MLP, "--data", data, "--backend", backend, "--machine", "spinn3",
            "--numeric", numeric, "--seed", "5", "--report", str(report))
    assert r.returncode == 0, r.stderr
    return r.stdout, json.loads(report.read_text())


def test_evaluate_fixed_equals_reference(tiny_data, tmp_path):
    out, rep = evaluate(tiny_data, tmp_path, "machine", "fixed")
    _, ref = evaluate(tiny_data, tmp_path, "reference", "fixed")
    assert rep["test_loss"] == pytest.approx(ref["test_loss"], abs=1e-9)
    assert rep["test_accuracy"] == ref["test_accuracy"]
    for key in HARDWARE:
        assert key in rep, key
    assert rep["backend"] == "machine"
    assert rep["machine"] == "spinn3"
    assert rep["packets_dropped"] == 0
    assert rep["packets_sent"] > 0 and rep["cores_used"] > 5
    assert "packets_dropped: 0" in out


def predict(data, out, backend, numeric):
    path = out / f"{backend}_{numeric}.npy"
    r = run("predict", MLP, "--data", data, "--backend", backend, "--machine", "spinn3",
            "--numeric", numeric, "--seed", "5", "--output", str(path))
    assert r.returncode == 0, r.stderr
    return np.load(path)


def test_predict_fixed_bit_identical(tiny_data, tmp_path):
    got = predict(tiny_data, tmp_path, "machine", "fixed")
    want = predict(tiny_data, tmp_path, "reference", "fixed")
    assert got.shape == (24, 10)
    assert np.array_equal(got, want)


def test_predict_float_close(tiny_data, tmp_path):
    got = predict(tiny_data, tmp_path, "machine", "float")
    want = predict(tiny_data, tmp_path, "reference", "float")
    assert np.max(np.abs(got - want)) < 1e-4


def test_unknown_machine_fails(tiny_data):
    r = run("evaluate", MLP, "--data", tiny_data, "--backend", "machine", "--machine", "spinn7")
    assert r.returncode != 0
    assert "spinn7" in r.stderr


def test_machine_is_the_default(tiny_data, tmp_path):
    """Without --backend and --machine, train runs on the emulated SpiNN-5
    (float) and an unknown --machine alone is refused by name."""
    report = tmp_path / "default.json"
    r = run("train", MLP, "--data", tiny_data, "--limit", "4", "--batch-size", "2",
            "--report", str(report))
    assert r.returncode == 0, r.stderr
    rep = json.loads(report.read_text())
    assert rep["backend"] == "machine" and rep["machine"] == "spinn5"
    assert rep["numeric"] == "float" and rep["packets_dropped"] == 0
    assert "packets_dropped: 0" in r.stdout
    r = run("predict", MLP, "--data", tiny_data, "--machine", "spinn7", "--output",
            str(tmp_path / "p.npy"))
    assert r.returncode != 0 and "spinn7" in r.stderr
    assert not (tmp_path / "p.npy").exists()
    r = run("train", MLP, "--data", tiny_data, "--optimizer", "rmsprop")
    assert r.returncode != 0
    assert "RMSprop" in r.stderr and "--backend reference" in r.stderr


def test_in_flight_changes_the_pace_not_the_result(tiny_data, tmp_path):
    """--in-flight sets the samples in the pipeline: the board's time
    changes, the trained result does not (fixed point is exact in any
    order); a count that is not a power of two is refused by name."""
    reports = {}
    for k in ("1", "8"):
        path = tmp_path / f"k{k}.json"
        r = run("train", MLP, "--data", tiny_data, "--numeric", "fixed", "--epochs", "1",
                "--batch-size", "4", "--in-flight", k, "--report", str(path))
        assert r.returncode == 0, r.stderr
        reports[k] = json.loads(path.read_text())
    assert reports["1"]["samples_in_flight"] == 1 and reports["8"]["samples_in_flight"] == 8
    assert reports["1"]["train_loss"] == reports["8"]["train_loss"]
    assert reports["1"]["test_loss"] == reports["8"]["test_loss"]
    assert reports["8"]["packets_dropped"] == 0
    assert reports["8"]["simulated_seconds"] < reports["1"]["simulated_seconds"]
    r = run("train", MLP, "--data", tiny_data, "--in-flight", "3")
    assert r.returncode != 0 and "--in-flight" in r.stderr and "power of two" in r.stderr


def test_progress_bar_is_live_on_the_machine(tiny_data):
    """The bar follows the sink's records while the machine runs: on a
    terminal the first steps are drawn before the epoch's final line, in
    training and in evaluation."""
    text = run_on_terminal("train", MLP, "--data", tiny_data, "--machine", "spinn5",
                           "--numeric", "fixed", "--epochs", "2", "--batch-size", "1")
    assert "\r1/8 [==>" in text and "\r8/8 [==============================]" in text
    assert "Epoch 2/2" in text and "test_accuracy:" in text
    assert "\r 1/24 [>" in text  # the test split, on the machine


def train(data, out, backend):  # fixed point
    report = out / f"train_{backend}.json"
    r = run("train", MLP, "--data", data, "--backend", backend, "--machine", "spinn5",
            "--numeric", "fixed", "--epochs", "2", "--batch-size", "3", "--lr", "0.05",
            "--optimizer", "sgd", "--momentum", "0.9", "--seed", "4", "--report", str(report))
    assert r.returncode == 0, r.stderr
    return r.stdout, json.loads(report.read_text())


def test_train_fixed_matches_reference(tiny_data, tmp_path):
    out, rep = train(tiny_data, tmp_path, "machine")
    _, ref = train(tiny_data, tmp_path, "reference")
    assert rep["train_loss"] == pytest.approx(ref["train_loss"], abs=1e-9)
    assert rep["train_accuracy"] == ref["train_accuracy"]
    for key in HARDWARE:
        assert key in rep, key
    assert rep["packets_dropped"] == 0
    assert "Epoch 2/2" in out


def test_train_validation_split_on_the_machine(tiny_data, tmp_path):
    """--validation-split during machine training: after each epoch the held
    out samples run forward on the machine with that epoch's weights (split
    tiles on a SpiNN-3), val_loss and val_accuracy exactly the reference's."""
    reports = {}
    for backend in ("machine", "reference"):
        path = tmp_path / f"val_{backend}.json"
        r = run("train", MLP, "--data", tiny_data, "--backend", backend, "--machine", "spinn3",
                "--numeric", "fixed", "--epochs", "2", "--batch-size", "2", "--lr", "0.05",
                "--optimizer", "sgd", "--momentum", "0.9", "--seed", "4", "--validation-split", "0.25",
                "--report", str(path))
        assert r.returncode == 0, r.stderr
        assert r.stdout.count("val_loss:") == 2
        reports[backend] = json.loads(path.read_text())
    got, want = reports["machine"], reports["reference"]
    assert got["samples"] == 6 and len(got["val_loss"]) == 2
    for key in ("train_loss", "val_loss", "val_accuracy", "test_loss"):
        assert got[key] == want[key], key
    assert got["packets_dropped"] == 0


@pytest.mark.parametrize("batch", ["3", "1"])
def test_train_spinn3_split_tiles_match_reference(tiny_data, tmp_path, batch):
    """On a SpiNN-3 the MLP's tiles keep their master weights, optimizer
    state and gradients in SDRAM (`split` memory): still the reference's
    training, bit for bit; at batch size 1 every sample's update reads and
    writes that state (about 110 ms simulated each), within the run's time
    limit."""
    reports = {}
    for backend in ("machine", "reference"):
        path = tmp_path / f"s3_{backend}.json"
        r = run("train", MLP, "--data", tiny_data, "--backend", backend, "--machine", "spinn3",
                "--numeric", "fixed", "--epochs", "2", "--batch-size", batch, "--lr", "0.05",
                "--optimizer", "sgd", "--momentum", "0.9", "--seed", "4", "--report", str(path))
        assert r.returncode == 0, r.stderr
        reports[backend] = json.loads(path.read_text())
    assert reports["machine"]["train_loss"] == reports["reference"]["train_loss"]
    assert reports["machine"]["test_accuracy"] == reports["reference"]["test_accuracy"]
    assert reports["machine"]["machine"] == "spinn3"
    assert reports["machine"]["packets_dropped"] == 0


def test_train_float_close_to_reference(tiny_data, tmp_path):
    reports = {}
    for backend in ("machine", "reference"):
        path = tmp_path / f"float_{backend}.json"
        r = run("train", MLP, "--data", tiny_data, "--backend", backend, "--numeric", "float",
                "--epochs", "2", "--batch-size", "3", "--optimizer", "sgd", "--lr", "0.05", "--seed", "4",
                "--report", str(path))
        assert r.returncode == 0, r.stderr
        reports[backend] = json.loads(path.read_text())
    got, want = reports["machine"], reports["reference"]
    assert got["train_loss"] == pytest.approx(want["train_loss"], abs=1e-4)
    assert got["packets_dropped"] == 0


@pytest.fixture(scope="module")
def shifted_data(tmp_path_factory):
    """Dim training images and bright test images: a plan calibrated on the
    test split differs from the training's, so only evaluating with the
    training's plan reproduces the reference's test metrics."""
    folder = tmp_path_factory.mktemp("shifted_machine")
    rng = np.random.default_rng(7)
    for prefix, n, top in (("train", 12, 40), ("t10k", 16, 256)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, top, size=(n, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, size=n))
    return str(folder)


def test_train_fixed_test_metrics_equal_reference(shifted_data, tmp_path):
    """After fixed-point training the machine evaluates the test split on the
    trained integers with the training's plan, as the reference does: the
    reported test loss and accuracy are the reference's exactly."""
    reports = {}
    for backend in ("machine", "reference"):
        path = tmp_path / f"metrics_{backend}.json"
        r = run("train", MLP, "--data", shifted_data, "--backend", backend, "--machine",
                "spinn5", "--numeric", "fixed", "--limit", "9", "--epochs", "3",
                "--batch-size", "3", "--lr", "2", "--optimizer", "sgd", "--momentum", "0.9", "--seed", "4",
                "--save", str(tmp_path / f"{backend}.weights.h5"), "--report", str(path))
        assert r.returncode == 0, r.stderr
        reports[backend] = json.loads(path.read_text())
    got, want = reports["machine"], reports["reference"]
    assert got["test_loss"] == want["test_loss"]
    assert got["test_accuracy"] == want["test_accuracy"]
    assert got["packets_dropped"] == 0
    # A plan re-calibrated on the test split (evaluating the saved weights)
    # gives another loss: the equality above is the training plan's.
    path = tmp_path / "recalibrated.json"
    r = run("evaluate", MLP, "--data", shifted_data, "--backend", "reference", "--numeric",
            "fixed", "--weights", str(tmp_path / "machine.weights.h5"), "--report", str(path))
    assert r.returncode == 0, r.stderr
    assert json.loads(path.read_text())["test_loss"] != want["test_loss"]


def test_train_with_dropout_matches_reference(tiny_data, tmp_path):
    """A Dropout(0.3) after the MLP's first Dense layer: in training the
    machine applies the reference's masks (docs/dense-on-machine.md,
    "Dropout"), so fixed-point training and the test metrics after it are
    the reference's exactly; the masks change the result."""
    model = json.loads(open(MLP).read())
    model.pop("compile_config", None)
    layers = model["config"]["layers"]
    at = next(i for i, l in enumerate(layers) if l["class_name"] == "Dense") + 1
    layers.insert(at, {"class_name": "Dropout",
                       "config": {"name": "dropout", "rate": 0.3, "trainable": True,
                                  "dtype": "float32"}})
    with_dropout = tmp_path / "mlp_dropout.json"
    with_dropout.write_text(json.dumps(model))
    reports = {}
    for name, backend, path in (("machine", "machine", with_dropout),
                                ("reference", "reference", with_dropout),
                                ("no_dropout", "reference", MLP)):
        report = tmp_path / f"dropout_{name}.json"
        r = run("train", str(path), "--data", tiny_data, "--backend", backend, "--machine",
                "spinn5", "--numeric", "fixed", "--epochs", "2", "--batch-size", "3",
                "--lr", "0.05", "--optimizer", "sgd", "--momentum", "0.9", "--seed", "4",
                "--report", str(report))
        assert r.returncode == 0, r.stderr
        reports[name] = json.loads(report.read_text())
    got, want = reports["machine"], reports["reference"]
    assert got["train_loss"] == pytest.approx(want["train_loss"], abs=1e-9)
    assert got["train_accuracy"] == want["train_accuracy"]
    assert got["test_loss"] == want["test_loss"]
    assert got["test_accuracy"] == want["test_accuracy"]
    assert got["packets_dropped"] == 0
    assert want["test_loss"] != reports["no_dropout"]["test_loss"]
