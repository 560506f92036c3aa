"""A model built in Python, saved, and read by the command-line tool gives
the same predictions; a model the tool trained and saved, loaded back into
Python, gives the tool's predictions too; .keras, .h5 and .weights.h5 go
both ways with the compile configuration."""
import json
import zipfile

import numpy as np
import pytest

from spindle import config, keras
from spindle.keras import layers
from spindle_cli import run, write_quadrant_dataset


@pytest.fixture(autouse=True)
def reference():
    config.set_backend("reference")
    yield
    config.set_backend("machine")


def convnet():
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(4, 3, activation="relu", padding="same"),
        layers.AveragePooling2D(2),
        layers.BatchNormalization(),
        layers.Conv2D(6, (3, 3), strides=2),
        layers.LeakyReLU(negative_slope=0.1),
        layers.Flatten(),
        layers.Dense(16),
        layers.ReLU(),
        layers.Dense(4, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.RMSprop(0.002), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def samples(n=24, seed=1):
    return np.random.default_rng(seed).random((n, 28, 28, 1), dtype=np.float32)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_python_model_saved_predicts_the_same_in_the_cli(tmp_path, suffix):
    model = convnet()
    x = samples()
    want = model.predict(x, verbose=0)
    path = tmp_path / f"model{suffix}"
    model.save(path)
    np.save(tmp_path / "x.npy", x)
    r = run("predict", str(path), "--input", str(tmp_path / "x.npy"), "--output",
            str(tmp_path / "p.npy"), "--backend", "reference")
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), want)
    # and back: load_model gives the same model, compiled as it was
    again = keras.models.load_model(path)
    np.testing.assert_array_equal(again.predict(x, verbose=0), want)
    assert [w.shape for w in again.get_weights()] == [w.shape for w in model.get_weights()]
    assert [lay.name for lay in again.layers] == [lay.name for lay in model.layers]
    assert again.evaluate(x, np.zeros(len(x), np.int64), verbose=0, return_dict=True).keys() \
        == {"loss", "accuracy"}


def test_keras_archive_holds_keras_json_and_compile_config(tmp_path):
    model = convnet()
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        cfg = json.loads(z.read("config.json"))
    assert cfg["class_name"] == "Sequential"
    assert cfg["compile_config"]["optimizer"]["class_name"] == "RMSprop"
    assert cfg["compile_config"]["optimizer"]["config"]["learning_rate"] == pytest.approx(0.002)
    assert cfg["compile_config"]["loss"] == "sparse_categorical_crossentropy"


def test_cli_trained_model_loads_in_python(tmp_path):
    data = write_quadrant_dataset(tmp_path, 0, 64, 16)
    model = convnet()
    model.save(tmp_path / "start.keras")
    r = run("train", str(tmp_path / "start.keras"), "--data", data, "--backend", "reference",
            "--epochs", "1", "--save", str(tmp_path / "trained.keras"))
    assert r.returncode == 0, r.stderr
    r = run("predict", str(tmp_path / "trained.keras"), "--data", data, "--backend",
            "reference", "--output", str(tmp_path / "p.npy"))
    assert r.returncode == 0, r.stderr
    trained = keras.models.load_model(tmp_path / "trained.keras")
    x_test, _ = _test_split(data)
    np.testing.assert_allclose(trained.predict(x_test, verbose=0), np.load(tmp_path / "p.npy"),
                               rtol=0, atol=0)
    # the trained weights differ from the ones it started from
    assert not np.array_equal(trained.get_weights()[0], model.get_weights()[0])


def _test_split(folder):
    from spindle.keras.datasets import _read_idx
    x = _read_idx(f"{folder}/t10k-images-idx3-ubyte").astype(np.float32) / 255
    y = _read_idx(f"{folder}/t10k-labels-idx1-ubyte")
    return x[..., None], y


def test_weights_round_trip(tmp_path):
    model = convnet()
    other = convnet()
    assert not np.array_equal(model.get_weights()[0], other.get_weights()[0])
    model.save_weights(tmp_path / "w.weights.h5")
    other.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    layer = other.get_layer(other.layers[-1].name)
    w, b = layer.get_weights()
    layer.set_weights([w * 0, b])
    assert not other.layers[-1].get_weights()[0].any()


def test_functional_residual_block_saves_and_loads(tmp_path):
    inp = keras.Input(shape=(8, 8, 3))
    a = layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    b = layers.Conv2D(4, 1, padding="same")(inp)
    c = layers.Add()([a, b])
    c = layers.GlobalAveragePooling2D()(c)
    out = layers.Dense(2, activation="softmax")(c)
    model = keras.Model(inputs=inp, outputs=out)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(2).random((16, 8, 8, 3), dtype=np.float32)
    y = np.arange(16) % 2
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "res.keras")
    again = keras.models.load_model(tmp_path / "res.keras")
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [lay.class_name for lay in again.layers] == ["Conv2D", "Conv2D", "Add",
                                                       "GlobalAveragePooling2D", "Dense"]
    # a loaded model recompiles and trains on
    again.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    assert len(again.fit(x, y, epochs=2, verbose=0).history["loss"]) == 2


def test_zero_padding_and_global_max_pooling_compute_what_keras_does(tmp_path):
    """ZeroPadding2D's three padding forms and GlobalMaxPooling2D, read out
    through identity Dense layers and compared with NumPy, and kept by a
    save and load."""
    x = np.random.default_rng(3).random((5, 3, 4, 2), dtype=np.float32)
    inp = keras.Input(shape=(3, 4, 2))
    pad = layers.ZeroPadding2D(((1, 0), (0, 2)))(inp)
    flat = layers.Dense(6 * 4 * 2, use_bias=False)(layers.Flatten()(pad))
    top = layers.Dense(2, use_bias=False)(layers.GlobalMaxPooling2D()(inp))
    model = keras.Model(inputs=inp, outputs=flat)
    model.layers[-1].set_weights([np.eye(48, dtype=np.float32)])
    want = np.pad(x, ((0, 0), (1, 0), (0, 2), (0, 0))).reshape(5, -1)
    np.testing.assert_array_equal(model.predict(x, verbose=0), want)
    pooled = keras.Model(inputs=inp, outputs=top)
    pooled.layers[-1].set_weights([np.eye(2, dtype=np.float32)])
    np.testing.assert_array_equal(pooled.predict(x, verbose=0), x.max(axis=(1, 2)))
    assert layers.ZeroPadding2D(2).padding == ((2, 2), (2, 2))
    assert layers.ZeroPadding2D((1, 3)).padding == ((1, 1), (3, 3))
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "pad.keras")
    again = keras.models.load_model(tmp_path / "pad.keras")
    np.testing.assert_array_equal(again.predict(x, verbose=0), want)
    for bad in (-1, (1, 2, 3), ((1, 2), 3), 1.5):
        with pytest.raises(ValueError, match="padding"):
            layers.ZeroPadding2D(bad)
