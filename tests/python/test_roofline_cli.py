"""Issue 13 A1: a machine run's report carries the board's roofline for its
mapping, the resource that binds it, the host's samples per wall second and
the energy per sample, and they agree with each other and with the run: the
roofline is at least the simulated rate, it is the least of the per-kind
bounds, and the binding resource names a real core, router or link of the
machine the run used."""
import json
import re

import numpy as np
import pytest

from spindle_cli import MLP, run, write_idx

# SpiNN-3: chips (0,0), (1,0), (0,1), (1,1), no wrap-around (SPINNAKER.md).
SPINN3 = {(0, 0), (1, 0), (0, 1), (1, 1)}
STEP = {"E": (1, 0), "NE": (1, 1), "N": (0, 1), "W": (-1, 0), "SW": (-1, -1), "S": (0, -1)}


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_roofline")
    rng = np.random.default_rng(4)
    for prefix, n in (("train", 16), ("t10k", 8)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, size=(n, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, size=n))
    return str(folder)


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    report = tmp_path_factory.mktemp("roofline") / "train.json"
    r = run("train", MLP, "--data", tiny_data, "--machine", "spinn3", "--numeric", "fixed",
            "--epochs", "2", "--batch-size", "8", "--seed", "3", "--report", str(report))
    assert r.returncode == 0, r.stderr
    return r.stdout, json.loads(report.read_text())


def test_roofline_bounds_the_simulated_rate(trained):
    _, rep = trained
    roof = rep["roofline_samples_per_second"]
    assert rep["simulated_samples_per_second"] > 0
    assert roof >= rep["simulated_samples_per_second"]
    kinds = rep["roofline_by_resource"]
    assert set(kinds) == {"core", "router", "link"}
    assert all(v > 0 for v in kinds.values()), kinds
    assert roof == pytest.approx(min(kinds.values()), rel=1e-12)


def test_binding_resource_is_a_real_part_of_the_board(trained):
    _, rep = trained
    where = rep["binding_resource"]
    kinds = rep["roofline_by_resource"]
    kind = min(kinds, key=kinds.get)
    assert where.startswith(kind + " "), (where, kinds)
    if kind == "link":
        m = re.fullmatch(r"link \((\d+),(\d+)\)->\((\d+),(\d+)\) (E|NE|N|W|SW|S)", where)
        assert m, where
        x, y, nx, ny = map(int, m.group(1, 2, 3, 4))
        dx, dy = STEP[m.group(5)]
        assert (x, y) in SPINN3 and (nx, ny) in SPINN3
        assert (x + dx, y + dy) == (nx, ny)
    elif kind == "router":
        m = re.fullmatch(r"router \((\d+),(\d+)\)", where)
        assert m and tuple(map(int, m.group(1, 2))) in SPINN3, where
    else:
        m = re.match(r"core \((\d+),(\d+),(\d+)\) ", where)
        assert m, where
        assert tuple(map(int, m.group(1, 2))) in SPINN3 and 1 <= int(m.group(3)) <= 17


def test_host_rate_and_energy_per_sample(trained):
    out, rep = trained
    samples = rep["samples"] * rep["epochs"]
    assert rep["energy_per_sample_joules"] == pytest.approx(rep["energy_joules"] / samples)
    host = rep["host_samples_per_second"]
    # The emulator's run lies within the whole command's wall time, so its
    # rate is at least the command's.
    assert host >= samples / rep["host_seconds"] * (1 - 1e-9)
    assert re.search(r"roofline_samples_per_second: [0-9.]+ - binding_resource: \S", out)
    assert "energy_per_sample_joules: " in out
