"""Keras files written here with h5py exactly as tf.keras 2 and Keras 3 lay
them out are read by the spindle CLI; malformed ones are rejected with a
message naming the problem."""
import json
import zipfile

import h5py
import numpy as np
import pytest

import spindle_cli
from keras_h5_writer import save_attributes
from spindle_cli import LENET, MLP

# The MLP's layers as tf.keras 2 lists them (Sequential hides its InputLayer)
# and the shapes of their weights.
MLP_LAYERS = [("flatten", []),
              ("dense", [("kernel", (784, 256)), ("bias", (256,))]),
              ("dense_1", [("kernel", (256, 128)), ("bias", (128,))]),
              ("dense_2", [("kernel", (128, 10)), ("bias", (10,))])]


def run(*args):
    return spindle_cli.run(*args, timeout=120)


def mlp_weights(seed=0):
    rng = np.random.default_rng(seed)
    return {(layer, w): rng.standard_normal(shape).astype(np.float32)
            for layer, ws in MLP_LAYERS for w, shape in ws}


def write_legacy_weights(group, weights, drop=None, reshape=None, split_names=False,
                         cast=None):
    """tf.keras 2 save_weights_to_hdf5_group for the MLP."""
    names = [layer.encode("utf8") for layer, _ in MLP_LAYERS]
    if split_names:
        group.attrs["layer_names0"] = np.asarray(names[:2])
        group.attrs["layer_names1"] = np.asarray(names[2:])
    else:
        save_attributes(group, "layer_names", names)
    group.attrs["backend"] = b"tensorflow"
    group.attrs["keras_version"] = b"2.11.0"
    for layer, ws in sorted(MLP_LAYERS):
        g = group.create_group(layer)
        save_attributes(g, "weight_names", [("%s/%s:0" % (layer, w)).encode("utf8") for w, _ in ws])
        for w, _ in ws:
            if (layer, w) == drop:
                continue
            value = weights[(layer, w)]
            if (layer, w) == reshape:
                value = value[..., :-1]
            if cast and (layer, w) == cast[0]:
                value = value.astype(cast[1])
            g.create_dataset("%s/%s:0" % (layer, w), data=value)


@pytest.fixture
def tmp(tmp_path):
    return tmp_path


def test_summary_of_the_examples():
    out = run("summary", MLP)
    assert out.returncode == 0, out.stderr
    assert "Total params: 235,146" in out.stdout
    assert "dense_2 (Dense)" in out.stdout
    out = run("summary", LENET)
    assert out.returncode == 0, out.stderr
    assert "Total params: 61,706" in out.stdout
    assert "(None, 5, 5, 16)" in out.stdout


def test_summary_help_and_bad_usage():
    out = run("summary", "--help")
    assert out.returncode == 0 and "usage: spindle summary" in out.stdout
    out = run("summary")
    assert out.returncode == 2 and "MODEL" in out.stderr


def read_keras3_mlp(path):
    with h5py.File(path, "r") as f:
        return {(layer, w): f["layers/%s/vars/%d" % (layer, i)][()]
                for layer, ws in MLP_LAYERS for i, (w, _) in enumerate(ws)}


def assert_same(got, want):
    assert got.keys() == want.keys()
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=str(key))


@pytest.mark.parametrize("split_names", [False, True])
def test_legacy_weights_load_exactly(tmp, split_names):
    weights = mlp_weights(1)
    path = tmp / "w.h5"
    with h5py.File(path, "w") as f:
        write_legacy_weights(f, weights, split_names=split_names)
    out = run("summary", MLP, "--weights", str(path))
    assert out.returncode == 0, out.stderr
    assert "Total params: 235,146" in out.stdout
    # Every value arrives where Keras would put it: convert to Keras 3 and read back.
    out = run("convert", str(path), str(tmp / "w.weights.h5"), "--model", MLP)
    assert out.returncode == 0, out.stderr
    assert_same(read_keras3_mlp(tmp / "w.weights.h5"), weights)


def test_legacy_full_model_file(tmp):
    weights = mlp_weights(2)
    path = tmp / "m.h5"
    config = json.load(open(MLP))
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.11.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(
            {"class_name": config["class_name"], "config": config["config"]}).encode("utf8")
        write_legacy_weights(f.create_group("model_weights"), weights)
    out = run("summary", str(path))
    assert out.returncode == 0, out.stderr
    assert "Total params: 235,146" in out.stdout
    out = run("convert", str(path), str(tmp / "m.keras"))
    assert out.returncode == 0, out.stderr
    with zipfile.ZipFile(tmp / "m.keras") as z:
        assert sorted(z.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        keras3 = json.loads(z.read("config.json"))
        (tmp / "inner.weights.h5").write_bytes(z.read("model.weights.h5"))
    assert keras3["module"] == "keras" and keras3["class_name"] == "Sequential"
    assert [l["class_name"] for l in keras3["config"]["layers"]] == \
        ["InputLayer", "Flatten", "Dense", "Dense", "Dense"]
    assert keras3["config"]["layers"][0]["config"]["batch_shape"] == [None, 28, 28, 1]
    assert_same(read_keras3_mlp(tmp / "inner.weights.h5"), weights)
    # ... and back to a tf.keras 2 full model, which h5py reads as Keras would.
    out = run("convert", str(tmp / "m.keras"), str(tmp / "back.h5"))
    assert out.returncode == 0, out.stderr
    with h5py.File(tmp / "back.h5", "r") as f:
        mc = json.loads(f.attrs["model_config"])
        assert mc["class_name"] == "Sequential" and "keras_version" not in mc
        g = f["model_weights"]
        assert [n.decode() for n in g.attrs["layer_names"]] == [l for l, _ in MLP_LAYERS]
        assert [n.decode() for n in g["dense_1"].attrs["weight_names"]] == \
            ["dense_1/kernel:0", "dense_1/bias:0"]
        assert len(g["flatten"].attrs["weight_names"]) == 0
        np.testing.assert_array_equal(g["dense_1/dense_1/kernel:0"][()], weights[("dense_1", "kernel")])


def test_keras3_weights_written_by_h5py(tmp):
    weights = mlp_weights(3)
    path = tmp / "k.weights.h5"
    with h5py.File(path, "w") as f:
        f.create_group("vars")
        for layer, ws in MLP_LAYERS:
            g = f.create_group("layers/%s/vars" % layer)
            for i, (w, _) in enumerate(ws):
                g["%d" % i] = weights[(layer, w)]
    out = run("convert", str(path), str(tmp / "legacy.h5"), "--model", MLP, "--weights-only")
    assert out.returncode == 0, out.stderr
    with h5py.File(tmp / "legacy.h5", "r") as f:
        for layer, ws in MLP_LAYERS:
            for w, _ in ws:
                np.testing.assert_array_equal(f["%s/%s/%s:0" % (layer, layer, w)][()],
                                              weights[(layer, w)])


def rejected(tmp, name, **kwargs):
    path = tmp / name
    with h5py.File(path, "w") as f:
        write_legacy_weights(f, mlp_weights(4), **kwargs)
    out = run("summary", MLP, "--weights", str(path))
    assert out.returncode == 1
    assert out.stdout == ""
    return out.stderr


def test_missing_weight_is_named(tmp):
    err = rejected(tmp, "missing.h5", drop=("dense_1", "bias"))
    assert "dense_1" in err and "missing" in err


def test_wrong_shape_is_named(tmp):
    err = rejected(tmp, "shape.h5", reshape=("dense", "kernel"))
    assert "layer 'dense'" in err and "(784, 255)" in err and "(784, 256)" in err


def test_weight_float_sizes(tmp):
    """float64 weights are converted; a float of another size is refused
    before libhdf5 allocates a conversion buffer for it (a fuzzed file's
    type claimed 4 GB per element: tests/fuzz/regressions/keras_archive)."""
    path = tmp / "f64.h5"
    with h5py.File(path, "w") as f:
        write_legacy_weights(f, mlp_weights(6), cast=(("dense", "kernel"), np.float64))
    out = run("summary", MLP, "--weights", str(path))
    assert out.returncode == 0, out.stderr
    err = rejected(tmp, "f128.h5", cast=(("dense", "kernel"), np.longdouble))
    assert "layer 'dense'" in err and "not a float16, float32 or float64 dataset" in err


def test_archive_member_size_is_not_trusted(tmp):
    """A .keras whose directory records 4 GB for config.json is refused as
    corrupt without allocating 4 GB (a fuzzer's find,
    tests/fuzz/regressions/keras_archive): run with 1 GB of address space."""
    import resource
    import struct
    import subprocess
    assert run("convert", MLP, str(tmp / "m.keras")).returncode == 0
    data = bytearray((tmp / "m.keras").read_bytes())
    claimed = 0xFFFFFFF0
    for sig, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(sig)
        while at >= 0:
            name_at = at + (30 if sig == b"PK\x03\x04" else 46)
            if data[name_at:name_at + 11] == b"config.json":
                struct.pack_into("<I", data, at + size_at, claimed)
            at = data.find(sig, at + 4)
    (tmp / "huge.keras").write_bytes(bytes(data))

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    out = subprocess.run([spindle_cli.SPINDLE, "summary", str(tmp / "huge.keras")],
                         capture_output=True, text=True, timeout=120, preexec_fn=limit)
    assert out.returncode == 1, out.stderr
    assert "member 'config.json' cannot be read" in out.stderr
    assert "not the %d bytes its directory records" % claimed in out.stderr


def test_truncated_file(tmp):
    path = tmp / "w.h5"
    with h5py.File(path, "w") as f:
        write_legacy_weights(f, mlp_weights(5))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    out = run("summary", MLP, "--weights", str(path))
    assert out.returncode == 1
    assert "truncated" in out.stderr


def test_malformed_architectures(tmp):
    bad = tmp / "bad.json"
    bad.write_text('{"class_name": "Sequential", "config": {"layers": [}}')
    out = run("summary", str(bad))
    assert out.returncode == 1 and "invalid JSON" in out.stderr and "column" in out.stderr
    config = json.load(open(MLP))
    config["config"]["layers"][3]["class_name"] = "GRU"
    bad.write_text(json.dumps(config))
    out = run("summary", str(bad))
    assert out.returncode == 1 and "'GRU'" in out.stderr and "'dense_1'" in out.stderr


def test_convert_usage_errors(tmp):
    out = run("convert", "--help")
    assert out.returncode == 0 and "usage: spindle convert" in out.stdout
    out = run("convert", MLP, str(tmp / "model.onnx"))
    assert out.returncode == 2 and "model.onnx" in out.stderr
    out = run("convert", MLP)
    assert out.returncode == 2
    out = run("convert", str(tmp / "absent.keras"), str(tmp / "x.keras"))
    assert out.returncode == 1 and "absent.keras" in out.stderr
    assert not (tmp / "x.keras").exists()


def test_convert_round_trips_the_examples(tmp):
    for example in (MLP, LENET):
        out = run("convert", example, str(tmp / "m.keras"))
        assert out.returncode == 0, out.stderr
        out = run("convert", str(tmp / "m.keras"), str(tmp / "m.json"))
        assert out.returncode == 0, out.stderr
        assert (tmp / "m.json").read_bytes() == open(example, "rb").read()
