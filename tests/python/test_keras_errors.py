"""Bad arguments raise Keras's exception types (ValueError, TypeError) with
messages that name the argument and what was wrong; what spindle cannot run
says so (NotImplementedError) instead of running something else."""
import numpy as np
import pytest

from spindle import config, keras
from spindle.keras import layers


def small():
    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("make, error, words", [
    (lambda: layers.Dense(0), ValueError, "units"),
    (lambda: layers.Dense(-3), ValueError, "units=-3"),
    (lambda: layers.Dense("ten"), TypeError, "units"),
    (lambda: layers.Dense(4, activation="swishy"), ValueError, "swishy"),
    (lambda: layers.Dense(4, kernel_initializer="lecun_magic"), ValueError, "lecun_magic"),
    (lambda: layers.Dense(4, unitz=3), TypeError, "unitz"),
    (lambda: layers.Conv2D(4, (3, 3, 3)), ValueError, "kernel_size"),
    (lambda: layers.Conv2D(4, 3, padding="full"), ValueError, "padding"),
    (lambda: layers.Conv2D(4, 3, data_format="channels_first"), ValueError, "channels_last"),
    (lambda: layers.Dropout(1.5), ValueError, "rate"),
    (lambda: layers.MaxPooling2D(pool_size=0), ValueError, "pool_size"),
    (lambda: keras.Input(shape=None), ValueError, "shape"),
    (lambda: keras.optimizers.SGD(learning_rate="fast"), TypeError, "learning_rate"),
    (lambda: keras.optimizers.SGD(momentum=1.5), ValueError, "momentum"),
    (lambda: keras.optimizers.Adam(amsgrad=True), NotImplementedError, "amsgrad"),
    (lambda: keras.Sequential([np.zeros(3)]), TypeError, "Layer"),
    (lambda: keras.callbacks.ModelCheckpoint("m.txt"), ValueError, ".keras"),
    (lambda: config.set_backend("gpu"), ValueError, "gpu"),
    (lambda: config.set_numeric("double"), ValueError, "double"),
])
def test_bad_construction(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_bad_compile():
    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(3)])
    with pytest.raises(ValueError, match="optimizer identifier: 'adamw'"):
        model.compile(optimizer="adamw", loss="mse")
    with pytest.raises(ValueError, match="loss identifier: 'hinge'"):
        model.compile(loss="hinge")
    with pytest.raises(ValueError, match="metric identifier: 'auc'"):
        model.compile(loss="mse", metrics=["auc"])
    with pytest.raises(TypeError, match="metrics"):
        model.compile(loss="mse", metrics="accuracy")
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.zeros((2, 4)), np.zeros(2))


def test_bad_fit_evaluate_predict():
    config.set_backend("reference")
    try:
        model = small()
        x, y = np.zeros((8, 4), np.float32), np.zeros(8, np.int64)
        with pytest.raises(ValueError, match=r"expected shape=\(None, 4\), found shape=\(8, 5\)"):
            model.fit(np.zeros((8, 5)), y, verbose=0)
        with pytest.raises(ValueError, match="cardinality"):
            model.fit(x, y[:5], verbose=0)
        with pytest.raises(ValueError, match="batch_size"):
            model.fit(x, y, batch_size=0, verbose=0)
        with pytest.raises(TypeError, match="epochs"):
            model.fit(x, y, epochs=1.5, verbose=0)
        with pytest.raises(ValueError, match="validation_split"):
            model.fit(x, y, validation_split=1.5, verbose=0)
        with pytest.raises(ValueError, match="validation_data"):
            model.fit(x, y, validation_data=(x,), verbose=0)
        with pytest.raises(ValueError, match="integer class labels"):
            model.fit(x, np.full(8, 0.5), verbose=0)
        with pytest.raises(TypeError, match="bogus"):
            model.fit(x, y, bogus=1)
        with pytest.raises(ValueError, match="verbose"):
            model.predict(x, verbose=7)
        # labels out of range: the library's diagnostic, as a ValueError
        with pytest.raises(ValueError, match="label"):
            model.evaluate(x, np.full(8, 9), verbose=0)
        with pytest.raises(ValueError, match="weight list of length 1"):
            model.set_weights([np.zeros((4, 3))])
        with pytest.raises(ValueError, match=r"\(4, 3\)"):
            model.set_weights([np.zeros((3, 3)), np.zeros(3)])
        with pytest.raises(ValueError, match="extension"):
            model.save("model.pb")
        # the model is still fine after all of that
        assert model.predict(x, verbose=0).shape == (8, 3)
    finally:
        config.set_backend("machine")


def test_what_the_machine_cannot_do_is_named():
    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(3)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(NotImplementedError, match="mean_squared_error.*set_backend"):
        model.evaluate(np.zeros((4, 4)), np.zeros((4, 3)), verbose=0)
    with pytest.raises(NotImplementedError, match="subclassed"):
        keras.Model()
    config.set_machine("spinn7")
    try:
        with pytest.raises(ValueError, match="spinn7"):
            model.predict(np.zeros((4, 4)), verbose=0)
    finally:
        config.set_machine("spinn5")


def test_load_model_errors(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        keras.models.load_model(tmp_path / "missing.keras")
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises((ValueError, OSError)):
        keras.models.load_model(bad)
