"""Convolutions cut by output columns (issue 12 part 5; docs/conv-on-machine.md,
"Tiles"), as `spindle map` shows them, and the message when a layer still
cannot map: it names the layer, what its smallest tile needs, what a core
has and what would help, never "too few cores" when more cores cannot help."""
import json
import os
import re

from spindle_cli import SOURCE, run
from test_machine_global_pool import layer

VGG = os.path.join(SOURCE, "examples", "vgg_small.json")


def conv(name, filters, k):
    return layer("Conv2D", name, filters=filters, kernel_size=[k, k], strides=[1, 1],
                 padding="same", data_format="channels_last", dilation_rate=[1, 1], groups=1,
                 activation="relu", use_bias=True,
                 kernel_initializer={"class_name": "GlorotUniform", "config": {"seed": None}},
                 bias_initializer={"class_name": "Zeros", "config": {}})


def wide_model(tmp_path):
    """A 1x1 convolution to 16 channels of a 6x64 map, then a same 3x3 with a
    fused 2x2 max pooling: one pooled row of it reads 4 x 64 x 16 values."""
    first = {"class_name": "InputLayer",
             "config": {"batch_input_shape": [None, 6, 64, 8], "dtype": "float32",
                        "name": "input"}}
    layers = [first, conv("c1", 16, 1), conv("c2", 4, 3),
              layer("MaxPooling2D", "p", pool_size=[2, 2], strides=[2, 2], padding="valid",
                    data_format="channels_last"),
              layer("Flatten", "f", data_format="channels_last"),
              layer("Dense", "out", units=5, activation="softmax", use_bias=True,
                    kernel_initializer={"class_name": "GlorotUniform", "config": {"seed": None}},
                    bias_initializer={"class_name": "Zeros", "config": {}})]
    path = tmp_path / "wide.json"
    path.write_text(json.dumps({"class_name": "Sequential",
                                "config": {"name": "wide", "layers": layers},
                                "keras_version": "2.11.0", "backend": "tensorflow"}))
    return str(path)


def test_map_cuts_a_wide_convolution_by_columns(tmp_path):
    r = run("map", wide_model(tmp_path), "--machine", "spinn5", "--in-flight", "2",
            "--optimizer", "sgd")
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if x.startswith("layer 'c2'"))
    m = re.search(r"grid (\d+) rows x (\d+) columns x (\d+) channels", line)
    assert m and int(m.group(2)) > 1, line
    tile = re.search(r"DTCM +(\d+) B", r.stdout.split("layer 'c2'")[1])
    assert int(tile.group(1)) <= 59392


def test_vgg_small_training_refusal_names_the_layer_and_what_helps():
    r = run("map", VGG, "--machine", "spinn5")
    assert r.returncode != 0
    err = r.stderr
    assert "layer 'conv2d_3' (Conv2D 14x14x64 -> 14x14x64)" in err
    need = re.search(r"fits only in (\d+) cores of (\d+) bytes of DTCM \(a core has (\d+)\)", err)
    assert need, err
    assert int(need.group(1)) > 816 and int(need.group(2)) <= int(need.group(3))
    assert "input channels are not split" in err and "what would help" in err


def test_float_refusal_says_fixed_point_and_fewer_in_flight_help():
    r = run("map", VGG, "--machine", "spinn5", "--numeric", "float", "--in-flight", "8")
    assert r.returncode != 0
    err = r.stderr
    assert "layer 'conv2d_3'" in err and "does not fit a core" in err
    need = re.search(r"needs (\d+) bytes of DTCM and a core has (\d+)", err)
    assert need and int(need.group(1)) > int(need.group(2)), err
    assert "--numeric fixed" in err and "--in-flight 4" in err
    assert "more cores do not help" in err and "too few" not in err


def test_vgg_small_maps_for_inference():
    r = run("map", VGG, "--machine", "spinn5", "--inference")
    assert r.returncode == 0, r.stderr
    assert "layer 'conv2d_3' Conv2D 14x14x64 -> 14x14x64" in r.stdout


def test_table_overflow_is_named_as_such(tmp_path):
    """Conv2D 16 then 24 channels on 28x28 and a global average: the fastest
    cut overflows a core with partition tables; the message says that, and
    not that the layer needs more cores."""
    first = {"class_name": "InputLayer",
             "config": {"batch_input_shape": [None, 28, 28, 1], "dtype": "float32",
                        "name": "input"}}
    layers = [first, conv("c1", 16, 3), conv("c2", 24, 3),
              layer("GlobalAveragePooling2D", "gap", data_format="channels_last",
                    keepdims=False),
              layer("Dense", "out", units=10, activation="softmax", use_bias=True,
                    kernel_initializer={"class_name": "GlorotUniform", "config": {"seed": None}},
                    bias_initializer={"class_name": "Zeros", "config": {}})]
    path = tmp_path / "gap.json"
    path.write_text(json.dumps({"class_name": "Sequential",
                                "config": {"name": "gap", "layers": layers},
                                "keras_version": "2.11.0", "backend": "tensorflow"}))
    r = run("map", str(path), "--machine", "spinn5")
    assert r.returncode != 0
    assert "partition tables" in r.stderr and "too few" not in r.stderr, r.stderr
    assert re.search(r"layer '\w+' \(\w+ [0-9x]+ -> [0-9x]+\) no longer fits: its smallest "
                     r"tile needs \d+ bytes of DTCM, \d+ are left", r.stderr), r.stderr
