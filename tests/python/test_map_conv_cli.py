"""`spindle map` on a convolutional network (LeNet-5): the conv tiles with
their halos and fused pooling, the Dense tail after the Flatten, and a
clear error naming the layer on a machine too small."""
import re

import spindle_cli
from spindle_cli import LENET


def run(*args):
    return spindle_cli.run("map", *args, timeout=120)


def test_lenet5_on_spinn5_prints_conv_tiles():
    # Two in flight: at the calibrated costs (docs/calibration.md) the
    # fixed-point Adam plan with four in flight keeps back so much DTCM for
    # the fan-in tables of its first round that conv2d_1 no longer fits
    # (the partitioner's reserve applies to every core; noted there).
    r = run(LENET, "--machine", "spinn5", "--tiles", "--in-flight", "2")
    assert r.returncode == 0, r.stderr
    conv = [l for l in r.stdout.splitlines() if l.startswith("layer 'conv2d")]
    assert len(conv) == 2
    for line in conv:
        grid = re.search(r"grid (\d+) rows x (\d+) channels, weights \w+, (\d+) cores", line)
        assert grid and int(grid.group(1)) * int(grid.group(2)) == int(grid.group(3))
    assert "Conv2D 28x28x1 -> 28x28x6 (k 5x5, stride 1x1, dilation 1x1, pad 2,2)" in conv[0]
    pools = [l for l in r.stdout.splitlines() if l.startswith("layer 'max_pooling2d")]
    assert len(pools) == 2 and all("fused into the tiles of layer 'conv2d" in l for l in pools)
    # a conv tile reads its output rows plus the 4-row halo of a 5x5 kernel
    halo = re.search(r"conv +x\d+ +rows +(\d+) \(reads +(\d+) input rows\)", r.stdout)
    assert halo and int(halo.group(2)) == int(halo.group(1)) + 4
    for dtcm in re.findall(r"DTCM +(\d+) B", r.stdout):
        assert int(dtcm) <= 65536 - 2048 - 4096
    assert "Dense 400x120" in r.stdout
    assert re.search(r"vertex \d+ \(conv \(\d+,\d+\) of layer 'conv2d_1'\)", r.stdout)
    placed = re.search(r"placement \(locality\): (\d+) cores on (\d+) chips", r.stdout)
    assert placed and int(placed.group(2)) > 1
    routes = re.search(r"router entries per chip at most (\d+) after minimisation", r.stdout)
    assert routes and 0 < int(routes.group(1)) <= 1023


def test_lenet5_too_few_cores_names_the_layer():
    r = run(LENET, "--machine", "spinn5", "--max-cores", "7")
    assert r.returncode != 0
    assert "layer 'conv2d" in r.stderr and "offers 7" in r.stderr
    assert r.stdout == ""


def test_map_takes_the_optimizer_the_file_states():
    """examples/lenet5.json states Adam: `spindle map` plans its two state
    slots per weight, as `spindle train` would train, unless told otherwise."""
    header = lambda *flags: run(LENET, "--machine", "spinn3", *flags).stdout.splitlines()[0]
    assert "fixed, adam, batch 32" in header()
    assert "fixed, sgd, batch 32" in header("--optimizer", "sgd")
    assert "fixed, sgd, batch 32" in header("--momentum")
