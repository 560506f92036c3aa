"""Ctrl-C while fit runs raises KeyboardInterrupt at the run's next poll (a
batch boundary on the host, a slice of simulated time on the machine), and
the model is usable afterwards; another Python thread runs while the
library works (the GIL is released)."""
import signal
import threading
import time

import numpy as np
import pytest

from spindle import config, keras
from spindle.keras import layers


def model_and_data():
    rng = np.random.default_rng(0)
    x = rng.random((256, 16), dtype=np.float32)
    y = rng.integers(0, 4, 256)
    model = keras.Sequential([keras.Input(shape=(16,)), layers.Dense(32, activation="relu"),
                              layers.Dense(4, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model, x, y


def interrupt_after(seconds):
    main = threading.get_ident()
    timer = threading.Timer(seconds, lambda: signal.pthread_kill(main, signal.SIGINT))
    timer.start()
    return timer


@pytest.mark.parametrize("backend, epochs", [("reference", 100000), ("machine", 400)])
def test_ctrl_c_stops_fit_and_leaves_the_model_usable(backend, epochs):
    config.set_backend(backend)
    try:
        model, x, y = model_and_data()
        before = model.predict(x[:8], verbose=0)
        epochs_seen = []

        class Count(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                epochs_seen.append(epoch)

        timer = interrupt_after(1.0)
        with pytest.raises(KeyboardInterrupt):
            model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, callbacks=[Count()])
        timer.join()
        assert len(epochs_seen) < epochs  # it stopped before the end
        after = model.predict(x[:8], verbose=0)
        assert after.shape == before.shape and np.isfinite(after).all()
        # and trains again
        h = model.fit(x, y, epochs=1, verbose=0)
        assert len(h.history["loss"]) == 1
    finally:
        config.set_backend("machine")


def test_other_threads_run_while_the_machine_works():
    model, x, y = model_and_data()
    ticks = []
    done = threading.Event()

    def tick():
        while not done.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.001)

    t = threading.Thread(target=tick)
    t.start()
    try:
        start = time.monotonic()
        model.predict(np.repeat(x, 4, axis=0), verbose=0)
        end = time.monotonic()
    finally:
        done.set()
        t.join()
    during = [s for s in ticks if start < s < end]
    # With the GIL held through the run, the thread would tick only inside
    # the progress callbacks; it ticks all along.
    assert len(during) >= 0.02 * (end - start) / 0.001
