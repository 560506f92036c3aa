"""`spindle train` with the training configuration a Keras model file states:
a JSON carrying Keras 3's compile_config trains exactly as the same
optimizer, schedule and loss given as flags; flags override the file; a
legacy .h5's training_config is read; --save records what was used; bad
configurations and flags fail with a message naming the problem."""
import json
import zipfile

import h5py
import pytest

from spindle_cli import LENET, MLP, run, write_quadrant_dataset

COSINE_ADAM = {
    "optimizer": {
        "module": "keras.optimizers", "class_name": "Adam",
        "config": {
            "name": "adam",
            "learning_rate": {
                "module": "keras.optimizers.schedules", "class_name": "CosineDecay",
                "config": {"initial_learning_rate": 0.002, "decay_steps": 5, "alpha": 0.1,
                           "name": "CosineDecay", "warmup_target": None, "warmup_steps": 0},
                "registered_name": None},
            "weight_decay": None, "clipnorm": None, "global_clipnorm": None,
            "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
            "ema_overwrite_frequency": None, "loss_scale_factor": None,
            "gradient_accumulation_steps": None, "beta_1": 0.9, "beta_2": 0.999,
            "epsilon": 1e-07, "amsgrad": False},
        "registered_name": None},
    "loss": "sparse_categorical_crossentropy", "loss_weights": None,
    "metrics": ["accuracy"], "weighted_metrics": None, "run_eagerly": False,
    "steps_per_execution": 1, "jit_compile": False,
}
COSINE_ADAM_FLAGS = ["--optimizer", "adam", "--lr", "0.002", "--lr-schedule", "cosine",
                     "--decay-steps", "5", "--alpha", "0.1"]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return write_quadrant_dataset(tmp_path_factory.mktemp("tiny"), 0, 64, 24)


def model_with(tmp_path, compile_config, name="model.json"):
    with open(MLP) as f:
        model = json.load(f)
    if compile_config is None:
        model.pop("compile_config", None)
    else:
        model["compile_config"] = compile_config
    path = tmp_path / name
    path.write_text(json.dumps(model))
    return str(path)


def bare(tmp_path):
    """examples/mlp.json without the training configuration it carries."""
    return model_with(tmp_path, None, "bare.json")


def train(model, data, report, *flags):
    r = run("train", model, "--data", data, "--backend", "reference", "--epochs", "2",
            "--seed", "3", "--report", str(report), *flags)
    assert r.returncode == 0, r.stderr
    return json.loads(report.read_text())


def test_file_config_trains_as_the_same_flags(tiny_data, tmp_path):
    from_file = train(model_with(tmp_path, COSINE_ADAM), tiny_data, tmp_path / "f.json")
    from_flags = train(bare(tmp_path), tiny_data, tmp_path / "g.json", *COSINE_ADAM_FLAGS)
    assert from_file["model_compile_config"] and not from_flags["model_compile_config"]
    assert from_file["optimizer"] == "adam" and from_file["lr_schedule"] == "cosine"
    assert from_file["learning_rate"] == pytest.approx(0.002)
    # 64 samples in batches of 32, 2 epochs: the last of 4 steps is step 3.
    assert from_file["final_learning_rate"] == pytest.approx(
        0.002 * (0.9 * 0.5 * (1 + __import__("math").cos(__import__("math").pi * 3 / 5)) + 0.1))
    assert from_file["optimizer_config"] == from_flags["optimizer_config"]
    assert from_file["optimizer_config"]["decay_steps"] == 5
    assert from_file["train_loss"] == from_flags["train_loss"]
    assert from_file["test_loss"] == from_flags["test_loss"]
    plain = train(bare(tmp_path), tiny_data, tmp_path / "p.json")
    assert plain["optimizer"] == "sgd" and plain["lr_schedule"] == "constant"
    assert plain["train_loss"] != from_file["train_loss"]


def test_flags_override_the_file(tiny_data, tmp_path):
    model = model_with(tmp_path, COSINE_ADAM)
    flags = ["--optimizer", "sgd", "--lr", "0.05", "--momentum", "0.5"]
    over = train(model, tiny_data, tmp_path / "o.json", *flags)
    same = train(bare(tmp_path), tiny_data, tmp_path / "s.json", *flags)
    assert over["optimizer"] == "sgd" and over["lr_schedule"] == "constant"
    assert over["learning_rate"] == pytest.approx(0.05) and over["momentum"] == 0.5
    assert over["train_loss"] == same["train_loss"]
    # --lr alone keeps the file's optimizer but makes the rate constant.
    lr_only = train(model, tiny_data, tmp_path / "l.json", "--lr", "0.003")
    assert lr_only["optimizer"] == "adam" and lr_only["lr_schedule"] == "constant"
    assert lr_only["final_learning_rate"] == pytest.approx(0.003)


def test_default_decay_steps_cover_the_run(tiny_data, tmp_path):
    rep = train(bare(tmp_path), tiny_data, tmp_path / "c.json", "--lr-schedule", "cosine")
    assert rep["optimizer_config"]["decay_steps"] == rep["steps_per_epoch"] * rep["epochs"]
    assert rep["learning_rate"] == pytest.approx(0.01)
    rep = train(bare(tmp_path), tiny_data, tmp_path / "e.json", "--lr-schedule", "exponential",
                "--decay-rate", "0.5", "--lr", "0.1")
    assert rep["final_learning_rate"] == pytest.approx(0.1 * 0.5 ** (3 / 4))


def test_save_records_what_was_used(tiny_data, tmp_path):
    saved = tmp_path / "out.keras"
    r = run("train", model_with(tmp_path, COSINE_ADAM), "--data", tiny_data, "--backend",
            "reference", "--limit", "32", "--momentum", "0", "--optimizer", "rmsprop",
            "--save", str(saved))
    assert r.returncode == 0, r.stderr
    with zipfile.ZipFile(saved) as z:
        cc = json.loads(z.read("config.json"))["compile_config"]
    assert cc["optimizer"]["class_name"] == "RMSprop"
    assert cc["optimizer"]["config"]["learning_rate"] == 0.001
    assert cc["loss"] == "sparse_categorical_crossentropy" and cc["metrics"] == ["accuracy"]
    # The saved model trains with what it records.
    rep = train(str(saved), tiny_data, tmp_path / "again.json", "--limit", "32")
    assert rep["optimizer"] == "rmsprop"


def test_legacy_h5_training_config(tiny_data, tmp_path):
    h5 = tmp_path / "m.h5"
    r = run("convert", MLP, str(h5))
    assert r.returncode == 0, r.stderr
    legacy = {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"],
              "weighted_metrics": None, "loss_weights": None,
              "optimizer_config": {"class_name": "SGD", "config": {
                  "name": "SGD", "learning_rate": 0.05, "decay": 0.01, "momentum": 0.9,
                  "nesterov": True}}}
    with h5py.File(h5, "a") as f:
        f.attrs["training_config"] = json.dumps(legacy)
    rep = train(str(h5), tiny_data, tmp_path / "h.json")
    assert rep["optimizer"] == "sgd" and rep["lr_schedule"] == "inverse-time"
    assert rep["optimizer_config"]["nesterov"] is True
    assert rep["final_learning_rate"] == pytest.approx(0.05 / (1 + 0.01 * 3))


def test_bad_file_configs_are_named(tiny_data, tmp_path):
    cases = [
        ({"optimizer": {"class_name": "Adagrad", "config": {}}}, "optimizer 'Adagrad'"),
        ({"optimizer": {"class_name": "Adam", "config": {"beta_1": 2.0}}},
         "optimizer.config.beta_1"),
        ({"optimizer": {"class_name": "SGD", "config": {"learning_rate": {
            "class_name": "PolynomialDecay", "config": {}}}}}, "PolynomialDecay"),
        ({"loss": "hinge"}, "loss 'hinge'"),
    ]
    for i, (cc, named) in enumerate(cases):
        report = tmp_path / f"bad{i}.json"
        r = run("train", model_with(tmp_path, cc, f"bad{i}.model.json"), "--data", tiny_data,
                "--backend", "reference", "--report", str(report))
        assert r.returncode == 1, (cc, r.stderr)
        assert named in r.stderr and "compile_config" in r.stderr, r.stderr
        assert not report.exists()
    # A loss that does not fit the labels says it came from the file.
    r = run("train", model_with(tmp_path, {"loss": "mean_squared_error"}, "mse.json"), "--data",
            tiny_data, "--backend", "reference")
    assert r.returncode == 1
    assert "the loss the model file states; --loss overrides it" in r.stderr, r.stderr


def test_bad_schedule_flags_are_named(tiny_data):
    cases = [
        (["--lr-schedule", "linear"], "--lr-schedule 'linear'"),
        (["--lr-schedule", "piecewise"], "--lr-schedule 'piecewise'"),
        (["--decay-steps", "0", "--lr-schedule", "cosine"], "--decay-steps '0'"),
        (["--decay-rate", "-1"], "--decay-rate '-1'"),
        (["--alpha", "1.5"], "--alpha '1.5'"),
        (["--alpha", "0.1"], "need --lr-schedule"),
        (["--lr-schedule", "cosine", "--decay-rate", "0.5"], "--decay-rate applies"),
        (["--lr-schedule", "exponential"], "needs --decay-rate"),
        (["--lr-schedule", "inverse-time", "--decay-rate", "1", "--alpha", "0.2"],
         "--alpha applies"),
        (["--lr-schedule", "constant", "--decay-steps", "9"], "constant takes no"),
        (["--optimizer", "adam", "--momentum", "0.9"], "--momentum does not apply"),
    ]
    for flags, named in cases:
        r = run("train", MLP, "--data", tiny_data, "--backend", "reference", *flags)
        assert r.returncode == 2, (flags, r.stderr)
        assert named in r.stderr, (flags, r.stderr)


def test_machine_backend_trains_with_the_file_config(tiny_data, tmp_path):
    """The default backend: the emulated board runs the file's Adam and cosine
    decay exactly as it runs the same flags."""
    def machine(model, report, *flags):
        r = run("train", model, "--data", tiny_data, "--epochs", "2", "--limit", "64",
                "--report", str(report), *flags)
        assert r.returncode == 0, r.stderr
        return json.loads(report.read_text())
    from_file = machine(model_with(tmp_path, COSINE_ADAM), tmp_path / "mf.json")
    from_flags = machine(bare(tmp_path), tmp_path / "mg.json", *COSINE_ADAM_FLAGS)
    assert from_file["backend"] == "machine" and from_file["optimizer"] == "adam"
    assert from_file["packets_dropped"] == 0
    assert from_file["train_loss"] == from_flags["train_loss"]


def test_example_mlp_carries_its_recipe(tiny_data, tmp_path):
    """examples/mlp.json states the 5-epoch Fashion-MNIST recipe (Adam, cosine
    decay from 1e-3 over 5 x 1,875 steps; docs/training.md), so `spindle
    train examples/mlp.json --epochs 5` needs no flags."""
    rep = train(MLP, tiny_data, tmp_path / "x.json")
    assert rep["optimizer"] == "adam" and rep["lr_schedule"] == "cosine"
    assert rep["learning_rate"] == pytest.approx(0.001)
    assert rep["optimizer_config"]["decay_steps"] == 9375
    assert rep["optimizer_config"]["alpha"] == 0


def test_example_lenet5_carries_its_recipe(tiny_data, tmp_path):
    """examples/lenet5.json states the recipe that takes it past 0.90 in 5
    epochs in fixed point (docs/conv-on-machine.md): Adam, cosine decay
    from 2e-3 over 5 x 1,875 steps."""
    rep = train(LENET, tiny_data, tmp_path / "l.json", "--limit", "32")
    assert rep["optimizer"] == "adam" and rep["lr_schedule"] == "cosine"
    assert rep["learning_rate"] == pytest.approx(0.002)
    assert rep["optimizer_config"]["decay_steps"] == 9375


LOGITS_LOSS = {
    "module": "keras.losses", "class_name": "SparseCategoricalCrossentropy",
    "config": {"from_logits": True, "name": "scce", "reduction": "sum_over_batch_size",
               "ignore_class": None}, "registered_name": None}


def logits_model(tmp_path, activation="linear", compile_config=None):
    """examples/mlp.json with its output layer's activation replaced and a
    SparseCategoricalCrossentropy(from_logits=True) loss (as TensorFlow's
    beginner tutorial writes it)."""
    with open(MLP) as f:
        model = json.load(f)
    model["config"]["layers"][-1]["config"]["activation"] = activation
    model["compile_config"] = compile_config or dict(COSINE_ADAM, loss=LOGITS_LOSS)
    path = tmp_path / f"logits_{activation}.json"
    path.write_text(json.dumps(model))
    return str(path)


def test_machine_evaluate_refuses_logits_of_a_softmax(tiny_data, tmp_path):
    """from_logits on a softmax output (Keras takes the softmax twice) is
    refused on the machine, whose loss core takes one, by name; the host
    evaluates it."""
    model = logits_model(tmp_path, "softmax")
    r = run("evaluate", model, "--data", tiny_data, "--limit", "8")
    assert r.returncode == 1
    assert "with from_logits" in r.stderr and "--backend reference" in r.stderr
    assert "packets_sent" not in r.stdout  # refused before anything ran
    r = run("evaluate", model, "--data", tiny_data, "--limit", "8", "--backend", "reference")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("numeric", ["fixed", "float"])
def test_machine_trains_from_logits(tiny_data, tmp_path, numeric):
    """A linear output with SparseCategoricalCrossentropy(from_logits=True):
    the loss core takes the softmax itself, for the loss and its gradient,
    and records the logits. Fixed point trains to exactly the reference's
    test loss; float to rounding."""
    model = logits_model(tmp_path)
    reports = {}
    for backend in ("reference", "machine"):
        report = tmp_path / f"{backend}.json"
        r = run("train", model, "--data", tiny_data, "--numeric", numeric, "--epochs", "2",
                "--limit", "64", "--seed", "5", "--backend", backend, "--report", str(report))
        assert r.returncode == 0, r.stderr
        reports[backend] = json.loads(report.read_text())
    ref, mach = reports["reference"], reports["machine"]
    assert mach["from_logits"] is True and mach["packets_dropped"] == 0
    assert ref["test_loss"] < 1.3  # learnt: four classes start at log(4) = 1.39
    if numeric == "fixed":
        assert mach["test_loss"] == ref["test_loss"]
        assert mach["train_loss"] == ref["train_loss"]
    else:
        assert mach["test_loss"] == pytest.approx(ref["test_loss"], rel=1e-4)
    assert mach["test_accuracy"] == ref["test_accuracy"]


def test_model_without_a_loss_and_a_linear_output_gives_logits(tiny_data, tmp_path):
    """A model that states no loss and ends in a linear layer (an ONNX
    export, a bare architecture) is taken to output logits, as PyTorch's
    classifiers do, on both backends."""
    with open(MLP) as f:
        model = json.load(f)
    model.pop("compile_config")
    model["config"]["layers"][-1]["config"]["activation"] = "linear"
    path = tmp_path / "bare_linear.json"
    path.write_text(json.dumps(model))
    losses = []
    for backend in ("reference", "machine"):
        report = tmp_path / f"e_{backend}.json"
        r = run("evaluate", str(path), "--data", tiny_data, "--numeric", "fixed", "--limit",
                "16", "--backend", backend, "--report", str(report))
        assert r.returncode == 0, r.stderr
        rep = json.loads(report.read_text())
        assert rep["from_logits"] is True
        losses.append(rep["test_loss"])
    assert losses[0] == losses[1]
