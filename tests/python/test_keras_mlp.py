"""Keras's getting-started MLP (Sequential Dense / Dropout / Dense, the model
built with .add, SGD with Nesterov momentum, categorical labels from
to_categorical), as a tf.keras user writes it, on both backends; the
functional API builds the same network; the backend, numeric and machine of
spindle.config apply."""
import numpy as np
import pytest

import spindle
from spindle import config, keras
from spindle.keras import layers


@pytest.fixture(autouse=True)
def default_config():
    yield
    config.set_backend("machine")
    config.set_numeric("float")
    config.set_machine("spinn5")


def data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 20), dtype=np.float32)
    y = (x[:, :10].sum(axis=1) > x[:, 10:].sum(axis=1)).astype(np.int64) + \
        2 * (x[:, 0] > 0.5)
    return x, y


def mlp():
    model = keras.Sequential()
    model.add(keras.Input(shape=(20,)))
    model.add(layers.Dense(32, activation="relu"))
    model.add(layers.Dropout(0.2))
    model.add(layers.Dense(4, activation="softmax"))
    return model


def test_getting_started_mlp_learns_on_the_reference_backend():
    config.set_backend("reference")
    x, y = data()
    y_onehot = keras.utils.to_categorical(y, 4)
    model = mlp()
    sgd = keras.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True)
    model.compile(loss="categorical_crossentropy", optimizer=sgd, metrics=["accuracy"])
    history = model.fit(x, y_onehot, epochs=8, batch_size=16, verbose=0)
    assert history.spindle is None  # no machine ran
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.6
    loss, acc = model.evaluate(x, y_onehot, batch_size=16, verbose=0)
    assert acc > 0.6
    assert [w.shape for w in model.get_weights()] == [(20, 32), (32,), (32, 4), (4,)]
    assert model.count_params() == 20 * 32 + 32 + 32 * 4 + 4


def test_functional_equals_sequential_and_machine_equals_reference_in_fixed_point():
    x, y = data(64)
    inputs = keras.Input(shape=(20,))
    h = layers.Dense(32, activation="relu")(inputs)
    outputs = layers.Dense(4, activation="softmax")(h)
    functional = keras.Model(inputs=inputs, outputs=outputs)
    seq = keras.Sequential([keras.Input(shape=(20,)), layers.Dense(32, activation="relu"),
                            layers.Dense(4, activation="softmax")])
    seq.set_weights(functional.get_weights())
    config.set_backend("reference")
    np.testing.assert_array_equal(functional.predict(x, verbose=0), seq.predict(x, verbose=0))
    # In fixed point the machine's outputs are the reference's, bit for bit.
    config.set_numeric("fixed")
    on_host = seq.predict(x, verbose=0)
    config.set_backend("machine")
    config.set_machine("spinn3")
    on_machine = seq.predict(x, verbose=0)
    np.testing.assert_array_equal(on_machine, on_host)
    assert seq.spindle["machine"] == "spinn3" and seq.spindle["numeric"] == "fixed"


def test_callbacks_see_every_epoch_and_early_stopping_stops(tmp_path):
    config.set_backend("reference")
    x, y = data(128)
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    seen = []

    class Recorder(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, sorted(logs)))

    # min_delta so large that no epoch after the first improves: training
    # stops after patience + 1 more epochs, as Keras's does.
    stop = keras.callbacks.EarlyStopping(monitor="loss", min_delta=10.0, patience=1)
    csv = tmp_path / "log.csv"
    h = model.fit(x, y, epochs=10, verbose=0, callbacks=[
        Recorder(), stop, keras.callbacks.CSVLogger(str(csv))])
    assert [e for e, _ in seen] == [0, 1, 2]
    assert seen[0][1] == ["accuracy", "loss"]
    assert h.epoch == [0, 1, 2] and len(h.history["loss"]) == 3
    assert stop.stopped_epoch == 2
    rows = csv.read_text().splitlines()
    assert rows[0] == "epoch,accuracy,loss" and len(rows) == 4
    # The model is usable after the early stop.
    assert model.predict(x[:4], verbose=0).shape == (4, 4)


def test_learning_rate_scheduler_changes_the_training():
    config.set_backend("reference")
    x, y = data(128)
    runs = []
    for schedule in (None, lambda epoch, lr: lr if epoch < 1 else 0.0):
        keras.utils.set_random_seed(3)
        model = mlp()
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
        cbs = [keras.callbacks.LearningRateScheduler(schedule)] if schedule else []
        before = model.get_weights()
        model.fit(x, y, epochs=3, verbose=0, callbacks=cbs, shuffle=False)
        runs.append((before, model.get_weights()))
    (b0, a0), (b1, a1) = runs
    assert all(np.array_equal(p, q) for p, q in zip(b0, b1))  # same start
    assert not all(np.array_equal(p, q) for p, q in zip(a0, a1))
    # with rate 0 after the first epoch, epochs 2 and 3 change nothing:
    keras.utils.set_random_seed(3)
    one = mlp()
    one.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    one.fit(x, y, epochs=1, verbose=0, shuffle=False)
    for p, q in zip(one.get_weights(), a1):
        np.testing.assert_array_equal(p, q)


def test_progress_bar_prints_keras_lines(capsys):
    config.set_backend("reference")
    x, y = data(64)
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=32, validation_split=0.25)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2" and out[2] == "Epoch 2/2"
    assert out[1].startswith("2/2 ") and " - loss: " in out[1] and "val_accuracy: " in out[1]
    model.summary()
    text = capsys.readouterr().out
    assert "dense" in text and "Total params: 804" in text
    assert spindle.__version__ == "1.1.0"


def test_plot_history_draws_every_epoch(tmp_path):
    pytest.importorskip("matplotlib")
    from spindle import plot
    x, y = data(64)
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    h = model.fit(x, y, epochs=3, validation_split=0.25, verbose=0)
    fig = plot.history(h, tmp_path / "history.png", title="MLP on the emulated SpiNN-5")
    loss_ax, acc_ax = fig.axes
    assert [len(line.get_xdata()) for line in loss_ax.lines] == [3, 3]
    assert list(loss_ax.lines[1].get_ydata()) == h.history["val_loss"]
    assert acc_ax.get_ylabel() == "accuracy"
    assert "spinn5" in fig.texts[0].get_text() and "dropped" in fig.texts[0].get_text()
    assert (tmp_path / "history.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(TypeError, match="History"):
        plot.history([1, 2])


def test_early_stopping_on_the_machine_keeps_the_last_epoch_weights():
    x, y = data(128)
    stopped, full = mlp(), mlp()
    full.set_weights(stopped.get_weights())
    for m in (stopped, full):
        m.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    # no epoch after the first improves by 10: the run stops after epoch 2
    stop = keras.callbacks.EarlyStopping(monitor="loss", min_delta=10.0, patience=0)
    h = stopped.fit(x, y, epochs=50, batch_size=16, verbose=0, callbacks=[stop])
    assert h.epoch == [0, 1] and stop.stopped_epoch == 1
    g = full.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert g.history["loss"] == h.history["loss"]
    for a, b in zip(stopped.get_weights(), full.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_plot_board_draws_the_mapping(tmp_path):
    import xml.etree.ElementTree as ET
    from spindle import plot
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    picture = plot.board(model, tmp_path / "board.svg", machine="spinn3")
    root = ET.parse(picture.path).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    names = [e.find(ns + "title").text for e in root.iter(ns + "rect")
             if e.find(ns + "title") is not None]
    assert len([t for t in names if t.startswith("chip ")]) == 4
    first = model.layers[0].name
    assert any(t.endswith(f") {first}") for t in names)
    assert picture._repr_svg_().startswith("<?xml")
    with pytest.raises(ValueError, match="spinn9"):
        plot.board(model, tmp_path / "b.svg", machine="spinn9")


def test_beginner_tutorial_logits_train_on_the_machine():
    """TensorFlow's beginner tutorial ends its model in a linear Dense and
    compiles SparseCategoricalCrossentropy(from_logits=True): the machine's
    loss core takes the softmax itself, predict gives the logits, and in
    fixed point the machine trains to the reference's losses exactly."""
    x, y = data(64)
    histories, weights = {}, None
    config.set_numeric("fixed")
    for backend in ("reference", "machine"):
        config.set_backend(backend)
        keras.utils.set_random_seed(7)
        model = keras.Sequential([keras.Input(shape=(20,)), layers.Dense(32, activation="relu"),
                                  layers.Dense(4)])
        if weights is None:
            weights = model.get_weights()
        model.set_weights(weights)
        model.compile(optimizer="adam",
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        histories[backend] = model.fit(x, y, epochs=2, batch_size=16, verbose=0,
                                       shuffle=False).history
        logits = model.predict(x[:8], verbose=0)
        assert logits.shape == (8, 4) and (logits < 0).any()  # not probabilities
    assert histories["machine"]["loss"] == histories["reference"]["loss"]
    assert histories["machine"]["loss"][-1] < histories["machine"]["loss"][0]


@pytest.mark.parametrize("backend", ["machine", "reference"])
def test_model_checkpoint_writes_every_epoch_with_that_epochs_weights(tmp_path, backend):
    """ModelCheckpoint's file of epoch e holds the weights after epoch e: a
    fit of e epochs from the same start gives the same weights."""
    config.set_backend(backend)
    config.set_numeric("fixed")
    x, y = data(64)
    start = mlp()
    start.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    weights0 = start.get_weights()
    ck = keras.callbacks.ModelCheckpoint(str(tmp_path / "m-{epoch:02d}.keras"), monitor="loss")
    best = keras.callbacks.ModelCheckpoint(str(tmp_path / "best.weights.h5"), monitor="loss",
                                           save_best_only=True, save_weights_only=True)
    h = start.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0, callbacks=[ck, best])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best.weights.h5", "m-01.keras", "m-02.keras", "m-03.keras"]
    for epochs in (1, 2):
        ref = mlp()
        ref.compile(optimizer=keras.optimizers.SGD(0.05),
                    loss="sparse_categorical_crossentropy")
        ref.set_weights(weights0)
        ref.fit(x, y, epochs=epochs, batch_size=16, shuffle=False, verbose=0)
        saved = keras.models.load_model(str(tmp_path / f"m-{epochs:02d}.keras"))
        for a, b in zip(saved.get_weights(), ref.get_weights()):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(keras.models.load_model(str(tmp_path / "m-03.keras")).get_weights(),
                    start.get_weights()):
        np.testing.assert_array_equal(a, b)
    # save_best_only: the weights of the epoch with the least loss
    best_epoch = int(np.argmin(h.history["loss"])) + 1
    probe = mlp()
    probe.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    probe.load_weights(str(tmp_path / "best.weights.h5"))
    expect = keras.models.load_model(str(tmp_path / f"m-{best_epoch:02d}.keras"))
    for a, b in zip(probe.get_weights(), expect.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_plot_board_of_a_fit_draws_the_machine_it_ran_on(tmp_path):
    import xml.etree.ElementTree as ET
    from spindle import plot
    config.set_machine("spinn3")
    x, y = data(32)
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    h = model.fit(x, y, epochs=1, verbose=0)
    config.set_machine("spinn5")  # the History knows where it ran
    picture = plot.board(h, tmp_path / "ran.svg")
    root = ET.parse(picture.path).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    chips = [e for e in root.iter(ns + "rect") if e.find(ns + "title") is not None
             and e.find(ns + "title").text.startswith("chip ")]
    assert len(chips) == 4
    config.set_backend("reference")
    r = model.fit(x, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="reference backend"):
        plot.board(r, tmp_path / "no.svg")
    with pytest.raises(TypeError, match="History"):
        plot.board([1], tmp_path / "no.svg")
