"""--fold-bn (docs/bn-on-machine.md): evaluate and predict fold each
BatchNormalization after a linear Dense or convolution into that layer with
its moving statistics. The folded model gives the unfolded float
reference's outputs within float rounding, on the host and on the emulated
machine (which maps the folded chain); without --fold-bn the machine
refuses the BatchNormalization naming it; train has no --fold-bn."""
import json

import h5py
import numpy as np
import pytest

from spindle_cli import SOURCE, run, write_idx

CONV_BN = f"{SOURCE}/examples/conv_bn.json"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Tiny data and conv_bn trained on it on the host (momentum 0.5 so the
    moving statistics move far from 0 and 1 in a few steps)."""
    folder = tmp_path_factory.mktemp("fold_bn")
    rng = np.random.default_rng(5)
    for prefix, n in (("train", 64), ("t10k", 24)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, size=(n, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, size=n))
    model = json.loads(open(CONV_BN).read())
    for layer in model["config"]["layers"]:
        if layer["class_name"] == "BatchNormalization":
            layer["config"]["momentum"] = 0.5
    path = folder / "conv_bn.json"
    path.write_text(json.dumps(model))
    weights = folder / "w.h5"
    r = run("train", str(path), "--data", str(folder), "--backend", "reference", "--seed", "2",
            "--epochs", "2", "--batch-size", "8", "--optimizer", "adam", "--lr", "0.01",
            "--save", str(weights))
    assert r.returncode == 0, r.stderr
    return str(path), str(weights), str(folder)


def predict(trained, out, *options):
    path, weights, data = trained
    r = run("predict", path, "--weights", weights, "--data", data, "--output", str(out),
            *options)
    assert r.returncode == 0, r.stderr
    return np.load(out), r.stderr


def test_folded_reference_equals_unfolded(trained, tmp_path):
    want, _ = predict(trained, tmp_path / "ref.npy", "--backend", "reference")
    got, err = predict(trained, tmp_path / "fold.npy", "--backend", "reference", "--fold-bn")
    assert "2 BatchNormalization layers folded" in err
    assert got.shape == want.shape == (24, 10)
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-5)
    # The moving statistics did move from their initial 0 and 1, so the fold
    # above used trained ones.
    stats = {}
    with h5py.File(trained[1], "r") as f:
        f.visititems(lambda name, obj: stats.setdefault(name.rsplit("/", 1)[-1].split(":")[0], []).append(
            np.array(obj)) if isinstance(obj, h5py.Dataset) else None)
    assert stats["moving_mean"] and all(np.abs(a).max() > 0 for a in stats["moving_mean"])
    assert all(np.abs(a - 1).max() > 0 for a in stats["moving_variance"])


def test_folded_model_runs_on_the_machine(trained, tmp_path):
    want, _ = predict(trained, tmp_path / "ref.npy", "--backend", "reference")
    got, _ = predict(trained, tmp_path / "m.npy", "--backend", "machine", "--numeric", "float",
                     "--machine", "spinn3", "--fold-bn")
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
    fx_ref, _ = predict(trained, tmp_path / "fr.npy", "--backend", "reference", "--numeric",
                        "fixed", "--fold-bn")
    fx_m, _ = predict(trained, tmp_path / "fm.npy", "--numeric", "fixed", "--fold-bn")
    np.testing.assert_array_equal(fx_m, fx_ref)


def test_dense_bn_mlp_folds_onto_the_machine(trained, tmp_path):
    """Flatten -> Dense(24) -> BN -> ReLU -> Dense(10, softmax), BN without
    center (no beta): fixed point on the machine equals the reference fixed
    backend of the folded model, float the unfolded float reference."""
    _, _, data = trained
    model = json.loads(open(CONV_BN).read())
    layers = model["config"]["layers"]
    by_name = {l["config"]["name"]: l for l in layers}
    hidden = json.loads(json.dumps(by_name["hidden"]))
    hidden["config"]["units"] = 24
    bn = json.loads(json.dumps(by_name["hidden_bn"]))
    bn["config"].update(momentum=0.5, center=False)
    model["config"]["layers"] = [layers[0], by_name["flatten"], hidden, bn,
                                 by_name["hidden_relu"], by_name["logits"]]
    path = tmp_path / "mlp_bn.json"
    path.write_text(json.dumps(model))
    weights = tmp_path / "w.h5"
    r = run("train", str(path), "--data", data, "--backend", "reference", "--seed", "4",
            "--epochs", "2", "--batch-size", "8", "--save", str(weights))
    assert r.returncode == 0, r.stderr
    mlp = (str(path), str(weights), data)
    want, _ = predict(mlp, tmp_path / "ref.npy", "--backend", "reference")
    got, err = predict(mlp, tmp_path / "m.npy", "--numeric", "float", "--fold-bn")
    assert "1 BatchNormalization layer folded" in err
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
    fx_ref, _ = predict(mlp, tmp_path / "fr.npy", "--backend", "reference", "--numeric", "fixed",
                        "--fold-bn")
    fx_m, _ = predict(mlp, tmp_path / "fm.npy", "--numeric", "fixed", "--fold-bn")
    np.testing.assert_array_equal(fx_m, fx_ref)


def test_evaluate_folded_loss_matches(trained, tmp_path):
    path, weights, data = trained
    losses = []
    for extra in ([], ["--fold-bn"]):
        report = tmp_path / f"r{len(extra)}.json"
        r = run("evaluate", path, "--weights", weights, "--data", data, "--backend",
                "reference", "--report", str(report), *extra)
        assert r.returncode == 0, r.stderr
        losses.append(json.loads(report.read_text())["test_loss"])
    assert losses[1] == pytest.approx(losses[0], abs=1e-5)


def test_machine_names_the_batchnorm_without_fold(trained, tmp_path):
    path, weights, data = trained
    r = run("evaluate", path, "--weights", weights, "--data", data)
    assert r.returncode != 0
    assert "'conv_bn' (BatchNormalization)" in r.stderr
    assert "--fold-bn" in r.stderr
    r = run("train", path, "--data", data, "--numeric", "fixed", "--limit", "8")
    assert r.returncode != 0
    assert "'conv_bn' (BatchNormalization)" in r.stderr
    assert "--backend reference" in r.stderr


def test_train_has_no_fold_bn(trained):
    path, _, data = trained
    r = run("train", path, "--data", data, "--fold-bn")
    assert r.returncode == 2
    assert "--fold-bn" in r.stderr and "unknown option" in r.stderr


def test_help_documents_fold_bn():
    for cmd in ("evaluate", "predict"):
        r = run(cmd, "--help")
        assert r.returncode == 0 and "--fold-bn" in r.stdout


def test_map_folds_for_inference_only():
    r = run("map", CONV_BN, "--inference", "--fold-bn")
    assert r.returncode == 0, r.stderr
    assert "layer 'conv' Conv2D" in r.stdout and "conv_bn" not in r.stdout.split("\n", 1)[1]
    r = run("map", CONV_BN, "--inference")
    assert r.returncode == 1 and "'conv_bn' (BatchNormalization)" in r.stderr
    r = run("map", CONV_BN, "--fold-bn")
    assert r.returncode == 2 and "--inference" in r.stderr
