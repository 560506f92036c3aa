"""`spindle map`: tiles, placement and router use of a model on a machine,
without running it; dead hardware avoided; clear errors."""
import os
import re

import spindle_cli
from spindle_cli import MLP, SOURCE


def run(*args):
    return spindle_cli.run("map", *args, timeout=120)


def layer_lines(out):
    return [l for l in out.splitlines() if l.startswith("layer '")]


def test_help():
    r = run("--help")
    assert r.returncode == 0
    assert "usage: spindle map MODEL " in r.stdout
    assert "--machine" in r.stdout and "--numeric" in r.stdout and "--faults" in r.stdout


def test_mlp_on_spinn5_prints_tiles_placement_and_routes():
    r = run(MLP)
    assert r.returncode == 0, r.stderr
    layers = layer_lines(r.stdout)
    assert len(layers) == 3
    assert "Dense 784x256" in layers[0] and "Dense 10" not in layers[0]
    assert re.search(r"grid \d+ x \d+", layers[0])
    # every tile fits DTCM: 64 KB less stacks and runtime
    for dtcm in re.findall(r"DTCM +(\d+) B", r.stdout):
        assert int(dtcm) <= 65536 - 2048 - 4096
    placed = re.search(r"placement \(locality\): (\d+) cores on (\d+) chips", r.stdout)
    assert placed and int(placed.group(1)) <= 816
    routes = re.search(r"router entries per chip at most (\d+) after minimisation", r.stdout)
    assert routes and 0 < int(routes.group(1)) <= 1023


def test_spinn3_and_float_mode():
    # SGD: the file's Adam keeps 16 B of float state per weight in DTCM,
    # more than the 68 cores of a SpiNN-3 hold for this MLP (named below).
    r = run(MLP, "--machine", "spinn3", "--numeric", "float", "--optimizer", "sgd")
    assert r.returncode == 0, r.stderr
    assert "machine 'spinn3'" in r.stdout and "float" in r.stdout
    placed = re.search(r"(\d+) cores on (\d+) chips", r.stdout)
    assert int(placed.group(1)) <= 68 and int(placed.group(2)) <= 4
    r = run(MLP, "--machine", "spinn3", "--numeric", "float")
    assert r.returncode == 1
    assert "has 68" in r.stderr and "layer 'dense'" in r.stderr


def test_faults_are_avoided(tmp_path):
    faults = tmp_path / "faults.txt"
    faults.write_text("chip 1 1\ncore 0 0 3\n")
    r = run(MLP, "--faults", str(faults), "--tiles")
    assert r.returncode == 0, r.stderr
    cores = re.findall(r"^  \((\d+),(\d+), *(\d+)\) ", r.stdout, re.M)
    assert cores
    assert ("1", "1") not in {(x, y) for x, y, _ in cores}
    assert ("0", "0", "3") not in set(cores)
    assert all(c != "0" for _, _, c in cores)


def test_fuse_puts_small_layers_on_one_core(tmp_path):
    import json
    with open(MLP) as f:
        model = json.load(f)
    layers = model["config"]["layers"]
    # dense_1 one core whose cycles leave room for dense_2 within the
    # period at the calibrated costs (256 x 8 takes two cores there)
    layers[2]["config"]["units"] = 256
    layers[3]["config"]["units"] = 4
    path = tmp_path / "small.json"
    path.write_text(json.dumps(model))
    r = run(str(path), "--machine", "spinn3", "--optimizer", "adam", "--fuse")
    assert r.returncode == 0, r.stderr
    assert "shares the core of layer 'dense_1'" in r.stdout
    apart = run(str(path), "--machine", "spinn3", "--optimizer", "adam")
    cores = lambda out: int(re.search(r"(\d+) cores on", out).group(1))
    assert cores(r.stdout) == cores(apart.stdout) - 1


def test_too_few_cores_names_the_layer():
    r = run(MLP, "--machine", "spinn3", "--max-cores", "5")
    assert r.returncode == 1
    assert "spindle map:" in r.stderr
    assert "layer 'dense" in r.stderr and "needs" in r.stderr and "may use 5" in r.stderr


def test_bad_usage():
    assert run().returncode == 2
    r = run(MLP, "--numeric", "double")
    assert r.returncode == 2 and "--numeric" in r.stderr
    r = run(MLP, "--in-flight", "3")
    assert r.returncode == 2 and "power of two" in r.stderr
    r = run(MLP, "--machine", "spinn9")
    assert r.returncode == 1 and "spinn9" in r.stderr
    r = run(os.path.join(SOURCE, "no-such-model.json"))
    assert r.returncode == 1 and "no-such-model.json" in r.stderr
