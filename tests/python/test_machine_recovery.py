"""A dead core does not end a run (issue 10, part 3): `--kill-core X,Y,P@N`
kills a core once it has finished N samples; the host finds it dead when
the records stop, moves its work to a spare core, reloads the machine from
the last batch boundary every core's snapshot holds and goes on. In fixed
point, and in float, the run's results are bit for bit the clean run's, on
the MLP and on LeNet-5, with drops injected as well, and in inference."""
import json
import re

import numpy as np
import pytest

from spindle_cli import LENET, MLP, run
from test_machine_faults import weights_of


def core_of(model, kind, limit, *flags):
    """The first core `spindle map --tiles` places a vertex of @kind on
    ("tile", "conv", "reducer", ...), mapped as train maps the run: two
    samples in flight, the training slack, @limit samples."""
    r = run("map", model, "--tiles", "--in-flight", "2", "--slack", "100", "--samples",
            str(limit), *flags)
    assert r.returncode == 0, r.stderr
    for line in r.stdout.splitlines():
        m = re.match(r"\s*\((\d+),(\d+),\s*(\d+)\) vertex (\d+) \((\S+)", line)
        if m and m.group(5) == kind:
            return f"{m.group(1)},{m.group(2)},{m.group(3)}", int(m.group(4))
    raise AssertionError(f"no {kind} vertex in:\n{r.stdout}")


def train(tmp_path, name, model, *flags, timeout=900):
    report = tmp_path / f"{name}.json"
    weights = tmp_path / f"{name}.weights.h5"
    r = run("train", model, "--data", "fashion-mnist", "--test-limit", "32", "--report",
            str(report), "--save", str(weights), *flags, timeout=timeout)
    assert r.returncode == 0, r.stderr
    return json.loads(report.read_text()), weights, r


_clean = {}


def clean_run(tmp_path_factory, model, *flags):
    """The fault-free run of @model with @flags, trained once per module."""
    key = (model, flags)
    if key not in _clean:
        _clean[key] = train(tmp_path_factory.mktemp("clean"), "clean", model, *flags)
    return _clean[key]


def assert_same_training(clean, faulty, clean_weights, weights):
    for key in ("test_loss", "test_accuracy", "train_loss", "train_accuracy"):
        assert faulty[key] == clean[key], key
    for (name, a), (name_b, b) in zip(weights_of(clean_weights), weights_of(weights)):
        assert name == name_b
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("model,kind,limit,after", [
    (MLP, "tile", 320, 400),     # in epoch 2
    (MLP, "reducer", 320, 100),  # in epoch 1
    (LENET, "conv", 96, 130),    # a convolution tile in epoch 2
])
def test_a_dead_core_changes_no_fixed_point_result(tmp_path, tmp_path_factory, model, kind,
                                                   limit, after):
    flags = ("--epochs", "2", "--limit", str(limit), "--seed", "1", "--numeric", "fixed")
    core, vertex = core_of(model, kind, limit)
    clean, clean_weights, _ = clean_run(tmp_path_factory, model, *flags)
    faulty, weights, r = train(tmp_path, "dead", model, *flags, "--kill-core",
                               f"{core}@{after}")
    assert clean["cores_failed"] == 0 and clean["recoveries"] == 0
    assert "last_failure" not in clean
    assert faulty["cores_failed"] == 1 and faulty["recoveries"] == 1
    assert faulty["completed"] is True
    failure = faulty["last_failure"]
    assert f"vertex {vertex} ({kind}" in failure and f"core ({core})" in failure
    assert "moved to core" in failure
    # from the last batch boundary every core's snapshot holds
    m = re.search(r"went on from batch (\d+) of epoch (\d+)", failure)
    assert m, failure
    assert int(m.group(2)) == after // limit + 1
    assert 1 <= (int(m.group(1)) - 1) * 32 <= after % limit
    assert "last_failure: " in r.stdout
    assert_same_training(clean, faulty, clean_weights, weights)
    # The samples since the snapshot run again: more packets. (Not always
    # more time: the spare core can sit on a quieter chip.)
    assert faulty["packets_sent"] > clean["packets_sent"]


def test_a_dead_core_and_dropped_packets_together(tmp_path, tmp_path_factory):
    flags = ("--epochs", "2", "--limit", "320", "--seed", "1", "--numeric", "fixed")
    core, _ = core_of(MLP, "tile", 320)
    clean, clean_weights, _ = clean_run(tmp_path_factory, MLP, *flags)
    faulty, weights, _ = train(tmp_path, "both", MLP, *flags, "--kill-core", f"{core}@500",
                               "--inject-drops", "1e-3")
    assert faulty["packets_dropped"] >= 100 and faulty["recoveries"] == 1
    assert_same_training(clean, faulty, clean_weights, weights)


def test_float_training_goes_on_bit_for_bit_too(tmp_path, tmp_path_factory):
    # Float cores add their senders' partial sums in a fixed order, so a
    # recovered float run is the clean one to the bit as well.
    flags = ("--epochs", "2", "--limit", "320", "--seed", "1", "--numeric", "float")
    core, _ = core_of(MLP, "tile", 320, "--numeric", "float")
    clean, clean_weights, _ = clean_run(tmp_path_factory, MLP, *flags)
    faulty, weights, _ = train(tmp_path, "dead", MLP, *flags, "--kill-core", f"{core}@400")
    assert faulty["recoveries"] == 1 and faulty["completed"] is True
    assert_same_training(clean, faulty, clean_weights, weights)


def test_inference_starts_again_without_the_dead_core(tmp_path):
    core, _ = core_of(MLP, "tile", 64, "--inference", "--slack", "400")
    out = {}
    for name, extra in (("clean", ()), ("dead", ("--kill-core", f"{core}@20"))):
        report = tmp_path / f"{name}.json"
        r = run("evaluate", MLP, "--data", "fashion-mnist", "--limit", "64", "--numeric",
                "fixed", "--report", str(report), *extra)
        assert r.returncode == 0, r.stderr
        out[name] = json.loads(report.read_text())
    assert out["dead"]["recoveries"] == 1
    assert "started again" in out["dead"]["last_failure"]
    for key in ("test_loss", "test_accuracy"):
        assert out["dead"][key] == out["clean"][key], key


@pytest.mark.parametrize("value,why", [
    ("1,0,5", "expected X,Y,P@N"),
    ("1,0@5", "expected X,Y,P@N"),
    ("a,0,5@3", "whole numbers"),
    ("1,0,0@3", "application core"),
    ("1,0,18@3", "application core"),
    ("1,0,5@0", "counts samples"),
    ("300,0,5@3", "chip coordinates"),
])
def test_bad_kill_core_values_are_refused(value, why):
    r = run("train", MLP, "--data", "fashion-mnist", "--kill-core", value)
    assert r.returncode == 2
    assert "--kill-core" in r.stderr and why in r.stderr


def test_kill_core_needs_the_machine_and_a_core_the_run_uses(tmp_path):
    r = run("train", MLP, "--data", "fashion-mnist", "--backend", "reference",
            "--kill-core", "1,0,5@3")
    assert r.returncode == 2 and "--backend machine only" in r.stderr
    report = tmp_path / "r.json"
    r = run("train", MLP, "--data", "fashion-mnist", "--limit", "64", "--kill-core",
            "7,7,17@3", "--report", str(report))
    assert r.returncode == 1
    assert "core (7,7,17) runs nothing of this model" in r.stderr
    assert json.loads(report.read_text())["completed"] is False
