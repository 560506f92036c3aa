"""Issue #10's bad inputs through the CLI (tests/data/repro/, copied from
the probe that found them): each ends in one line on stderr naming the
problem and a non-zero exit, never a crash, libhdf5's own printing or a
silently wrong run. The C side (tests/test_repro.c) checks the same inputs
under ASan+UBSan."""
import os

import pytest

from spindle_cli import MLP, SOURCE, run, write_quadrant_dataset

REPRO = os.path.join(SOURCE, "tests", "data", "repro")


def repro(name):
    return os.path.join(REPRO, name)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_quadrant_dataset(tmp_path_factory.mktemp("repro"), 2, 32, 16)


def one_line_error(r, code, *words):
    assert r.returncode == code, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def train_fixed(data, *args):
    return run("train", MLP, "--data", data, "--backend", "reference", "--numeric", "fixed",
               "--epochs", "1", "--batch-size", "8", *args)


@pytest.mark.parametrize("args, words", [
    (("--optimizer", "sgd", "--lr", "500"), ("learning rate 500", "[2^-31, 2^7]")),
    (("--optimizer", "adam", "--lr", "500"), ("learning rate 500",)),
    (("--lr", "1e-20"), ("learning rate 1e-20",)),
    (("--optimizer", "sgd", "--lr", "1e-18"), ("learning rate 1e-18", "representable")),
    (("--lr-schedule", "exponential", "--decay-rate", "900", "--lr", "1"),
     ("exponential", "representable")),
])
def test_fixed_point_refuses_unrepresentable_rates(data, args, words):
    one_line_error(train_fixed(data, *args), 2, "spindle train: fixed point:", *words)


@pytest.mark.parametrize("args, words", [
    (("--optimizer", "sgd", "--lr", "1e30"), ("--lr '1e30'", "(0, 1000]")),
    (("--lr-schedule", "exponential", "--decay-rate", "1e30", "--lr", "1"),
     ("--decay-rate '1e30'", "(0, 1000]")),
])
def test_the_probe_rates_are_out_of_the_flags_range(data, args, words):
    one_line_error(train_fixed(data, *args), 2, *words)


def test_float_still_accepts_a_tiny_rate(data):
    r = run("train", MLP, "--data", data, "--backend", "reference", "--epochs", "1",
            "--lr", "1e-18")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("model, words", [
    ("stride_max.json", ("max_pooling2d", "longer than axis 1 of length 1")),
    ("flatten_wrap.json", ("flatten_input", "batch_input_shape", "2^31-1")),
    ("corrupt_model.h5", ("corrupt_model.h5", "global heap")),
])
def test_summary_refuses_bad_models(model, words):
    one_line_error(run("summary", repro(model)), 1, *words)


def test_corrupt_weights_print_one_line():
    r = run("summary", repro("mlp_for_weights.json"), "--weights",
            repro("corrupt_weights.h5"))
    one_line_error(r, 1, "corrupt_weights.h5", "root group", "corrupt")
    assert "HDF5-DIAG" not in r.stderr and "infinite loop" not in r.stderr


@pytest.mark.parametrize("numeric", ["float", "fixed"])
def test_dense_rank3_without_flatten_is_refused(data, numeric):
    r = run("train", repro("min_dense_rank3_noflatten.json"), "--data", data,
            "--backend", "reference", "--numeric", numeric, "--epochs", "1")
    one_line_error(r, 1, "(None, 28, 28, 10)", "Flatten")


def test_dense_rank3_then_flatten(data):
    """Valid Keras (Dense on the last axis, then Flatten): both references
    train it; the machine refuses it by name."""
    model = repro("dense_rank3_then_flatten.json")
    for numeric in ("float", "fixed"):
        r = run("train", model, "--data", data, "--backend", "reference", "--epochs", "1",
                "--numeric", numeric)
        assert r.returncode == 0, r.stderr
    r = run("train", model, "--data", data, "--epochs", "1", "--backend", "machine")
    one_line_error(r, 1, "'dense'", "Flatten")
    one_line_error(run("map", model), 1, "'dense'", "Flatten")
