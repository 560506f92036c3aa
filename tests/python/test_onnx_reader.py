"""The native ONNX reader (src/io/onnx_*.c) on files built here with
onnx.helper: what it reads (external data, Pad folded into Conv, MatMul +
Add, summary/map/evaluate-style loading through every command) and what it
refuses, each with one line naming the problem, exit status 1 and nothing
written: truncated bytes, wrong types, a cyclic graph, absurd dimensions,
unsupported operators (all of them at once, with node and opset)."""
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from spindle_cli import run

RNG = np.random.default_rng(15)


def floats(name, *shape):
    return numpy_helper.from_array(RNG.standard_normal(shape).astype(np.float32), name)


def model(nodes, inits, in_shape=(1, 3, 6, 6), out="y", opset=13, inputs=None):
    g = helper.make_graph(nodes, "g", inputs or [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, list(in_shape))],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def conv_model(**conv_attrs):
    return model([helper.make_node("Conv", ["x", "w", "b"], ["y"], **conv_attrs)],
                 [floats("w", 4, 3, 3, 3), floats("b", 4)])


def refused(tmp_path, data, words):
    path = tmp_path / "m.onnx"
    path.write_bytes(data if isinstance(data, bytes) else data.SerializeToString())
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((1, 3, 6, 6), np.float32))
    r = run("predict", str(path), "--input", str(x), "--output", str(tmp_path / "y.npy"),
            "--backend", "reference")
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    assert not (tmp_path / "y.npy").exists()
    return lines[0]


def conv_reference(x, w, b, pads):
    """NCHW convolution, stride 1, in numpy: the oracle for the small cases."""
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    n, c, h, wd = x.shape
    m, _, kh, kw = w.shape
    out = np.zeros((n, m, h - kh + 1, wd - kw + 1), np.float64)
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("nchw,mc->nmhw", x[:, :, i:i + out.shape[2], j:j + out.shape[3]],
                             w[:, :, i, j])
    return out + b[None, :, None, None]


def predict(tmp_path, m, x):
    path = tmp_path / "m.onnx"
    onnx.save(m, str(path))
    np.save(tmp_path / "x.npy", x)
    r = run("predict", str(path), "--input", str(tmp_path / "x.npy"), "--output",
            str(tmp_path / "y.npy"), "--backend", "reference")
    assert r.returncode == 0, r.stderr
    return np.load(tmp_path / "y.npy")


def test_pad_folds_into_the_conv_and_the_output_stays_nchw(tmp_path):
    m = model([helper.make_node("Pad", ["x", "pads"], ["p"]),
               helper.make_node("Conv", ["p", "w", "b"], ["y"], pads=[0, 1, 0, 0])],
              [numpy_helper.from_array(np.array([0, 0, 2, 0, 0, 0, 0, 1], np.int64), "pads"),
               floats("w", 4, 3, 3, 3), floats("b", 4)])
    x = RNG.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w = numpy_helper.to_array(m.graph.initializer[1])
    b = numpy_helper.to_array(m.graph.initializer[2])
    want = conv_reference(x, w, b, (2, 1, 0, 1))
    got = predict(tmp_path, m, x)
    assert got.shape == want.shape == (2, 4, 6, 6)
    assert np.allclose(got, want, rtol=1e-4, atol=1e-5)


def test_matmul_and_add_become_one_dense_with_external_weights(tmp_path):
    w = floats("w", 12, 5)
    m = model([helper.make_node("MatMul", ["x", "w"], ["h"]),
               helper.make_node("Add", ["h", "b"], ["y"])], [w, floats("b", 5)],
              in_shape=(1, 12))
    onnx.save(m, str(tmp_path / "m.onnx"), save_as_external_data=True,
              all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    assert (tmp_path / "weights.bin").exists()
    x = RNG.standard_normal((3, 12)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    r = run("predict", str(tmp_path / "m.onnx"), "--input", str(tmp_path / "x.npy"),
            "--output", str(tmp_path / "y.npy"), "--backend", "reference")
    assert r.returncode == 0, r.stderr
    got = np.load(tmp_path / "y.npy")
    mm = onnx.load(str(tmp_path / "m.onnx"))
    wb = {t.name: numpy_helper.to_array(t) for t in mm.graph.initializer}
    want = x @ wb["w"] + wb["b"]
    assert np.allclose(got, want, rtol=1e-5, atol=1e-6)
    summary = run("summary", str(tmp_path / "m.onnx"))
    assert summary.returncode == 0 and "Dense" in summary.stdout and "65" in summary.stdout


def test_lrn_against_its_formula(tmp_path):
    m = model([helper.make_node("LRN", ["x"], ["y"], size=4, alpha=0.3, beta=0.6, bias=2.0)],
              [], in_shape=(1, 6, 3, 2))
    x = RNG.standard_normal((2, 6, 3, 2)).astype(np.float32)
    sq = np.pad(x.astype(np.float64) ** 2, ((0, 0), (1, 2), (0, 0), (0, 0)))
    window = sum(sq[:, i:i + 6] for i in range(4))  # channels c-1 .. c+2, ONNX's window
    want = x / (2.0 + 0.3 / 4 * window) ** 0.6
    got = predict(tmp_path, m, x)
    assert np.allclose(got, want, rtol=1e-5, atol=1e-6)


def test_external_data_outside_the_folder_is_refused(tmp_path):
    m = conv_model()
    onnx.save(m, str(tmp_path / "m.onnx"), save_as_external_data=True,
              all_tensors_to_one_file=True, location="w.bin", size_threshold=0)
    mm = onnx.load(str(tmp_path / "m.onnx"), load_external_data=False)
    for t in mm.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "../w.bin"
    refused(tmp_path, mm, ["leaves the model's folder"])


def test_truncated_file(tmp_path):
    data = conv_model().SerializeToString()
    refused(tmp_path, data[:len(data) // 2], ["not an ONNX model", "ModelProto"])


def test_attribute_of_the_wrong_type(tmp_path):
    m = conv_model()
    m.graph.node[0].attribute.append(helper.make_attribute("group", 1.5))
    refused(tmp_path, m, ["attribute 'group' must be an int", "(Conv, opset 13)"])


def test_tensor_whose_data_does_not_match_its_dims(tmp_path):
    m = conv_model()
    m.graph.initializer[0].dims[0] = 5
    refused(tmp_path, m, ["ONNX tensor 'w'", "raw data of 432 bytes for 135 elements"])


def test_absurd_dimensions(tmp_path):
    m = conv_model()
    del m.graph.initializer[0].dims[:]
    m.graph.initializer[0].dims.extend([1 << 40, 1 << 40, 3, 3])
    refused(tmp_path, m, ["dimension 0", "2^31-1 elements"])
    m = conv_model()
    m.graph.input[0].type.tensor_type.shape.dim[2].dim_value = 1 << 40
    refused(tmp_path, m, ["graph input 'x'", "dimension 2 must be a number from 1"])


def test_cyclic_graph(tmp_path):
    m = model([helper.make_node("Relu", ["x2"], ["a"], name="first"),
               helper.make_node("Add", ["a", "x"], ["x2"], name="second"),
               helper.make_node("Relu", ["a"], ["y"])], [])
    refused(tmp_path, m, ["cyclic graph", "'first'", "'second'"])


def test_value_nobody_produces(tmp_path):
    m = model([helper.make_node("Relu", ["ghost"], ["y"], name="lonely")], [])
    refused(tmp_path, m, ["node 'lonely'", "'ghost' is produced by no node"])


def test_every_unsupported_operator_named_at_once(tmp_path):
    m = model([helper.make_node("LpNormalization", ["x"], ["a"], name="norm"),
               helper.make_node("Relu", ["a"], ["b"]),
               helper.make_node("HardSwish", ["b"], ["y"], name="swish")], [], opset=14)
    line = refused(tmp_path, m, ["opset 14", "2 nodes", "LpNormalization (node 'norm')",
                                 "HardSwish (node 'swish')"])
    assert "Relu" not in line


def test_opset_outside_the_range(tmp_path):
    refused(tmp_path, model([helper.make_node("Relu", ["x"], ["y"])], [], opset=18),
            ["opset 18", "6 to 17"])


def test_every_command_takes_onnx(tmp_path):
    m = model([helper.make_node("Flatten", ["x"], ["f"]),
               helper.make_node("Gemm", ["f", "w", "b"], ["g"], transB=1),
               helper.make_node("Softmax", ["g"], ["y"], axis=1)],
              [floats("w", 10, 784), floats("b", 10)], in_shape=(1, 1, 28, 28))
    path = tmp_path / "m.onnx"
    onnx.save(m, str(path))
    assert run("summary", str(path)).returncode == 0
    r = run("map", str(path), "--machine", "spinn3")
    assert r.returncode == 0, r.stderr
    r = run("convert", str(path), str(tmp_path / "m.keras"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "m.keras").exists()
