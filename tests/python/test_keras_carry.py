"""A second fit goes on with the first one's optimizer, as Keras's does:
with shuffle=False, fit(epochs=1) twice trains exactly as fit(epochs=2)
once (loss history and weights), on the reference and on the machine, in
float and in fixed point, with Adam and with a learning-rate schedule whose
step count matters; compile() again starts a new optimizer."""
import numpy as np
import pytest

from spindle import config, keras
from spindle.keras import layers

COMBOS = [("reference", "float"), ("reference", "fixed"), ("machine", "float"),
          ("machine", "fixed")]


@pytest.fixture(autouse=True)
def default_config():
    yield
    config.set_backend("machine")
    config.set_numeric("float")
    config.set_machine("spinn5")
    config.set_seed(0)


def data(n=40, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 8), dtype=np.float32)
    y = (x[:, :4].sum(axis=1) > x[:, 4:].sum(axis=1)).astype(np.int32) + (x[:, 0] > 0.5)
    return x, y.astype(np.int32)


def adam():
    return keras.optimizers.Adam(0.02)


def sgd_decay():
    sched = keras.optimizers.schedules.ExponentialDecay(0.2, decay_steps=2, decay_rate=0.5)
    return keras.optimizers.SGD(sched, momentum=0.9)


def model(optimizer, weights=None, dropout=False):
    m = keras.Sequential([keras.Input(shape=(8,)), layers.Dense(12, activation="relu")] +
                         ([layers.Dropout(0.25)] if dropout else []) +
                         [layers.Dense(3, activation="softmax")])
    m.compile(optimizer=optimizer(), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    if weights is not None:
        m.set_weights(weights)
    return m


def use(backend, numeric):
    config.set_backend(backend)
    config.set_numeric(numeric)
    config.set_machine("spinn3")


def fit(m, epochs, x, y):
    return m.fit(x, y, batch_size=16, epochs=epochs, shuffle=False, verbose=0).history


def same_weights(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a.get_weights(), b.get_weights()))


@pytest.mark.parametrize("backend,numeric", COMBOS)
@pytest.mark.parametrize("optimizer", [adam, sgd_decay], ids=["adam", "sgd_decay"])
def test_two_fits_of_one_epoch_train_as_one_fit_of_two(backend, numeric, optimizer):
    use(backend, numeric)
    x, y = data()
    once = model(optimizer)
    w0 = once.get_weights()
    twice = model(optimizer, w0)
    h = fit(once, 2, x, y)
    first = fit(twice, 1, x, y)
    second = fit(twice, 1, x, y)
    assert first["loss"] + second["loss"] == h["loss"]
    assert first["accuracy"] + second["accuracy"] == h["accuracy"]
    assert same_weights(once, twice)
    # and a second fit that started its optimizer afresh trains otherwise
    fresh = model(optimizer, w0)
    fit(fresh, 1, x, y)
    fresh.compile(optimizer=optimizer(), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    config.set_seed(0)
    fresh._fits = 0  # the same seed as `twice` had, so only the optimizer differs
    assert fit(fresh, 1, x, y)["loss"] != second["loss"]


@pytest.mark.parametrize("backend,numeric", COMBOS)
def test_dropout_masks_go_on_from_the_carried_samples(backend, numeric):
    use(backend, numeric)
    x, y = data()
    once = model(adam, dropout=True)
    twice = model(adam, once.get_weights(), dropout=True)
    h = fit(once, 2, x, y)
    first = fit(twice, 1, x, y)
    second = fit(twice, 1, x, y)
    assert first["loss"] + second["loss"] == h["loss"]
    assert same_weights(once, twice)


def test_fixed_point_backends_carry_each_others_optimizer():
    """The machine trains bit for bit as the reference in fixed point, so a
    fit on one goes on with the optimizer a fit on the other left."""
    x, y = data()
    use("reference", "fixed")
    once = model(adam)
    twice = model(adam, once.get_weights())
    h = fit(once, 2, x, y)
    first = fit(twice, 1, x, y)
    use("machine", "fixed")
    second = fit(twice, 1, x, y)
    assert twice.optimizer.iterations == 6
    assert first["loss"] + second["loss"] == h["loss"]
    assert same_weights(once, twice)


@pytest.mark.parametrize("backend,numeric", [("reference", "float"), ("reference", "fixed"),
                                             ("machine", "fixed")])
def test_compile_again_starts_a_new_optimizer(backend, numeric):
    use(backend, numeric)
    x, y = data()
    a = model(adam)
    w0 = a.get_weights()
    fit(a, 1, x, y)
    w1 = a.get_weights()
    a.compile(optimizer=adam(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    after = fit(a, 1, x, y)  # the model's second fit: seed 0 + 1
    config.set_seed(1)       # a fresh model's first fit then has seed 1 as well
    b = model(adam, w1)
    fresh = fit(b, 1, x, y)
    assert after["loss"] == fresh["loss"]
    assert same_weights(a, b)
    # without the compile, the optimizer would have gone on instead
    config.set_seed(0)
    c = model(adam, w0)
    fit(c, 1, x, y)
    assert fit(c, 1, x, y)["loss"] != after["loss"]


def test_learning_rate_scheduler_counts_from_the_carried_step():
    use("reference", "float")
    x, y = data()
    sched = keras.callbacks.LearningRateScheduler(lambda e, lr: 0.05 if e % 2 == 0 else 0.01)
    once = model(adam)
    twice = model(adam, once.get_weights())
    h = once.fit(x, y, batch_size=16, epochs=4, shuffle=False, verbose=0,
                 callbacks=[sched]).history
    a = twice.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0,
                  callbacks=[sched]).history
    b = twice.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0,
                  callbacks=[sched]).history
    assert a["loss"] + b["loss"] == h["loss"]
    assert same_weights(once, twice)


@pytest.mark.parametrize("backend,numeric", [("reference", "fixed"), ("machine", "float")])
def test_shuffled_fits_go_on_with_the_shuffle_streams(backend, numeric):
    use(backend, numeric)
    x, y = data()
    once = model(adam)
    twice = model(adam, once.get_weights())
    h = once.fit(x, y, batch_size=16, epochs=2, verbose=0).history
    first = twice.fit(x, y, batch_size=16, epochs=1, verbose=0).history
    second = twice.fit(x, y, batch_size=16, epochs=1, verbose=0).history
    assert first["loss"] + second["loss"] == h["loss"]
    assert same_weights(once, twice)


def test_new_data_and_batch_size_carry_the_optimizer_on():
    use("reference", "float")
    x, y = data()
    m = model(adam)
    fit(m, 1, x, y)
    assert m.optimizer.iterations == 3  # 40 samples in batches of 16
    m.fit(x[:20], y[:20], batch_size=5, epochs=1, shuffle=False, verbose=0)
    assert m.optimizer.iterations == m._carry["step"] == 3 + 4
    m.compile(optimizer=m.optimizer, loss="sparse_categorical_crossentropy")
    assert m.optimizer.iterations == 0 and m._carry is None


def test_fixed_point_weights_set_between_fits_start_the_optimizer_afresh():
    use("reference", "fixed")
    x, y = data()
    m = model(adam)
    fit(m, 1, x, y)
    w = m.get_weights()
    m.set_weights([v * 0.5 for v in w])
    fit(m, 1, x, y)
    assert m._carry["step"] == 3  # started afresh: 3 steps, not 6
    config.set_backend("reference")
    config.set_numeric("float")
    fit(m, 1, x, y)  # another numeric: afresh as well
    assert m._carry["step"] == 3 and m._carry["numeric"] == "float"
