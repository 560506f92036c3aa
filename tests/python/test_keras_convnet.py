"""Issue 16's acceptance script: Keras's MNIST convnet example as a tf.keras
user writes it (Sequential Conv2D / MaxPooling2D / Flatten / Dense,
compile with Adam(1e-3), sparse categorical cross-entropy and accuracy,
fit with a validation split, predict, evaluate), shrunk to a few hundred
Fashion-MNIST images and a small network so it runs in seconds, with only
the import changed. It runs on spindle's default backend: the emulated
SpiNN-5 board."""
import numpy as np

from spindle import keras
from spindle.keras import layers


def test_mnist_convnet_example_runs_on_the_emulated_machine():
    num_classes = 10
    input_shape = (28, 28, 1)

    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    x_train, y_train = x_train[:320], y_train[:320]
    x_test, y_test = x_test[:64], y_test[:64]
    x_train = x_train.astype("float32") / 255
    x_test = x_test.astype("float32") / 255
    x_train = np.expand_dims(x_train, -1)
    x_test = np.expand_dims(x_test, -1)

    model = keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(4, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dense(num_classes, activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=32, epochs=2, validation_split=0.1,
                        verbose=0)

    assert isinstance(history, keras.callbacks.History)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(v) == 2 for v in history.history.values())
    assert history.epoch == [0, 1]
    # It learns: the second epoch's loss is below the first's, and below
    # chance (ln 10 = 2.30).
    assert history.history["loss"][1] < history.history["loss"][0] < 2.4
    # The run was the emulated board's, every packet delivered.
    hw = history.spindle
    assert hw["machine"] == "spinn5" and hw["completed"]
    assert hw["samples"] == 2 * 288 and hw["packets_sent"] > 0 and hw["packets_dropped"] == 0
    assert hw["simulated_seconds"] > 0 and hw["energy_joules"] > 0

    predictions = model.predict(x_test, verbose=0)
    assert predictions.shape == (64, num_classes) and predictions.dtype == np.float32
    np.testing.assert_allclose(predictions.sum(axis=1), 1.0, atol=1e-4)

    score = model.evaluate(x_test, y_test, verbose=0)
    assert len(score) == 2
    loss, accuracy = score
    # evaluate's accuracy is that of predict's argmax over the same samples
    assert accuracy == np.mean(np.argmax(predictions, axis=1) == y_test)
    assert 0 < loss < 2.4
    logs = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    assert logs == {"loss": loss, "accuracy": accuracy}
