"""`spindle evaluate` and `predict --backend machine` with LeNet-5
(examples/lenet5.json): the convolutions, fused max pooling and the Dense
layers run forward on an emulated SpiNN-5; fixed point gives exactly the
reference fixed mode's loss, accuracy and outputs, float outputs agree
within 1e-4, and no packet is dropped."""
import json

import numpy as np
import pytest

from spindle_cli import LENET, run, write_idx


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_lenet")
    rng = np.random.default_rng(4)
    for prefix, n in (("train", 8), ("t10k", 12)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, size=(n, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, size=n))
    return str(folder)


def evaluate(data, out, backend, numeric):
    report = out / f"{backend}_{numeric}.json"
    r = run("evaluate", LENET, "--data", data, "--backend", backend, "--numeric", numeric,
            "--seed", "3", "--report", str(report))
    assert r.returncode == 0, r.stderr
    return json.loads(report.read_text())


def predict(data, out, backend, numeric):
    path = out / f"{backend}_{numeric}.npy"
    r = run("predict", LENET, "--data", data, "--backend", backend, "--numeric", numeric,
            "--seed", "3", "--output", str(path))
    assert r.returncode == 0, r.stderr
    return np.load(path)


def test_lenet_evaluate_fixed_equals_reference(tiny_data, tmp_path):
    rep = evaluate(tiny_data, tmp_path, "machine", "fixed")
    ref = evaluate(tiny_data, tmp_path, "reference", "fixed")
    assert rep["test_loss"] == pytest.approx(ref["test_loss"], abs=1e-9)
    assert rep["test_accuracy"] == ref["test_accuracy"]
    assert rep["packets_dropped"] == 0
    assert rep["packets_sent"] > 0


def test_lenet_predict_fixed_bit_identical(tiny_data, tmp_path):
    got = predict(tiny_data, tmp_path, "machine", "fixed")
    want = predict(tiny_data, tmp_path, "reference", "fixed")
    assert got.shape == (12, 10)
    assert np.array_equal(got, want)


def test_lenet_predict_float_close(tiny_data, tmp_path):
    got = predict(tiny_data, tmp_path, "machine", "float")
    want = predict(tiny_data, tmp_path, "reference", "float")
    assert np.abs(got - want).max() < 1e-4


def train(data, out, backend):
    report = out / f"train_{backend}.json"
    r = run("train", LENET, "--data", data, "--backend", backend, "--numeric", "fixed",
            "--epochs", "2", "--batch-size", "4", "--seed", "3", "--report", str(report))
    assert r.returncode == 0, r.stderr
    return json.loads(report.read_text())


def test_lenet_train_fixed_equals_reference(tiny_data, tmp_path):
    """Two epochs of fixed-point LeNet-5 training on the machine (halo dX
    sums, fused max pooling backward, the weight-sharing reduction): the
    same training and test figures as spd_fit_fixed on the host."""
    rep = train(tiny_data, tmp_path, "machine")
    ref = train(tiny_data, tmp_path, "reference")
    assert rep["packets_dropped"] == 0
    assert rep["test_loss"] == pytest.approx(ref["test_loss"], abs=1e-9)
    assert rep["test_accuracy"] == ref["test_accuracy"]
    assert rep["loss"] == pytest.approx(ref["loss"], abs=1e-9)


def pool_first_model(tmp_path):
    """An AveragePooling2D reading 3 channels straight from the sources, then
    Flatten and an identity Dense with a linear output (an ONNX graph read
    natively): the pool tiles each read their own channel of the sources'
    blocks."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(11)
    x = rng.normal(size=(3, 3, 6, 4)).astype(np.float32)  # NCHW
    eye = numpy_helper.from_array(np.eye(18, dtype=np.float32), "eye")
    g = helper.make_graph(
        [helper.make_node("AveragePool", ["x"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
         helper.make_node("Flatten", ["p"], ["f"]),
         helper.make_node("MatMul", ["f", "eye"], ["y"])], "pool_first",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 6, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 18])], [eye])
    model = str(tmp_path / "pool_first.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), model)
    data = str(tmp_path / "x.npy")
    np.save(data, x)
    want = x.astype(np.float64).reshape(3, 3, 3, 2, 2, 2).mean(axis=(3, 5)).reshape(3, -1)
    return model, data, want


def predict_model(model, data, out, *options):
    r = run("predict", model, "--input", data, "--output", str(out), *options)
    assert r.returncode == 0, r.stderr
    return np.load(out)


def test_pooling_on_the_input_reads_its_channels(tmp_path):
    """Regression: the sources sent a channel block's partition the first
    values of their rows, not that block's channels."""
    model, data, want = pool_first_model(tmp_path)
    got = predict_model(model, data, tmp_path / "m.npy", "--numeric", "float")
    assert np.abs(got - want).max() < 1e-6


def test_fixed_predict_of_a_linear_output(tmp_path):
    """Regression: machine predict in fixed point refused a linear Dense
    output ("the fixed-point cross-entropy needs a softmax output") that the
    reference's fixed predict runs; now bit-identical to it."""
    model, data, want = pool_first_model(tmp_path)
    got = predict_model(model, data, tmp_path / "m.npy", "--numeric", "fixed")
    ref = predict_model(model, data, tmp_path / "r.npy", "--backend", "reference",
                        "--numeric", "fixed")
    assert np.array_equal(got, ref)
    assert np.abs(got - want).max() < 2e-3
