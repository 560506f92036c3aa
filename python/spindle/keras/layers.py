"""Keras layers as spindle's C model reads them: each layer holds Keras's
arguments with Keras's names and defaults, and writes the layer config of
Keras's `to_json()`; models hand that JSON to libspindle (one reader for
files and Python alike)."""
import numbers
import re

_counters = {}


def _unique(prefix):
    n = _counters.get(prefix, 0)
    _counters[prefix] = n + 1
    return prefix if n == 0 else f"{prefix}_{n}"


def _snake(name):
    """Keras's to_snake_case: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "softmax", "leaky_relu", "elu", "relu6")

_INITIALIZERS = {"glorot_uniform": "GlorotUniform", "glorot_normal": "GlorotNormal",
                 "he_normal": "HeNormal", "he_uniform": "HeUniform", "zeros": "Zeros",
                 "ones": "Ones"}


def _activation(value):
    if value is None:
        return "linear"
    if callable(value) and getattr(value, "__name__", None) in ACTIVATIONS:
        return value.__name__
    if isinstance(value, str):
        if value in ACTIVATIONS:
            return value
        raise ValueError(f"Unknown activation function: '{value}'. Expected one of "
                         f"{', '.join(ACTIVATIONS)}")
    raise TypeError(f"Could not interpret activation function identifier: {value!r}")


def _initializer(value, what):
    if isinstance(value, str):
        key = value if value in _INITIALIZERS else _snake(value)
        if key in _INITIALIZERS:
            return {"class_name": _INITIALIZERS[key], "config": {"seed": None}}
    if hasattr(value, "get_config") and type(value).__name__ in _INITIALIZERS.values():
        return {"class_name": type(value).__name__, "config": value.get_config()}
    raise ValueError(f"Could not interpret initializer identifier for `{what}`: {value!r}. "
                     f"Expected one of {', '.join(_INITIALIZERS)}")


def _positive_int(value, what, layer):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{layer}: `{what}` must be a positive integer. Received: "
                        f"{what}={value!r}")
    if value <= 0:
        raise ValueError(f"Received an invalid value for `{what}`, expected a positive "
                         f"integer. Received: {what}={value}")
    return int(value)


def _tuple(value, n, what, layer):
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,) * n
    try:
        value = tuple(value)
    except TypeError:
        raise TypeError(f"{layer}: `{what}` must be an integer or a tuple of {n} integers. "
                        f"Received: {what}={value!r}") from None
    if len(value) != n:
        raise ValueError(f"{layer}: `{what}` must be an integer or a tuple of {n} integers. "
                         f"Received: {what}={value!r}")
    return tuple(_positive_int(v, what, layer) for v in value)


def _padding(value, layer):
    if not isinstance(value, str) or value.lower() not in ("valid", "same"):
        raise ValueError(f"{layer}: The `padding` argument must be a string, one of "
                         f"'valid' or 'same'. Received: padding={value!r}")
    return value.lower()


def _data_format(value, layer):
    if value not in (None, "channels_last"):
        raise ValueError(f"{layer}: spindle runs data_format='channels_last' only. "
                         f"Received: data_format={value!r}")
    return "channels_last"


def _unsupported(layer, **given):
    for key, value in given.items():
        if value is not None:
            raise NotImplementedError(f"{layer}: `{key}` is not supported by spindle "
                                      f"(received {key}={value!r})")


def _shape(value, what):
    if value is None:
        return None
    try:
        dims = tuple(value)
    except TypeError:
        raise TypeError(f"`{what}` must be a tuple of integers. Received: {what}={value!r}") \
            from None
    for d in dims:
        _positive_int(d, what, "Input")
    return tuple(int(d) for d in dims)


class KerasTensor:
    """A symbolic tensor of the functional API: the layer that makes it and
    the tensors that layer takes."""

    def __init__(self, layer, inbound, shape=None):
        self._layer = layer
        self._inbound = inbound
        self.shape = shape

    def __repr__(self):
        return f"<KerasTensor from {self._layer.name}>"


class Layer:
    """Base of the layers: a name (Keras's automatic names: dense, dense_1,
    ...) and the arguments every layer takes."""
    class_name = None

    def __init__(self, name=None, trainable=True, dtype=None, input_shape=None,
                 batch_input_shape=None, input_dim=None, **kwargs):
        cls = type(self).__name__
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to {cls}: {kwargs}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{cls}: `name` must be a string. Received: name={name!r}")
        if dtype not in (None, "float32"):
            raise ValueError(f"{cls}: spindle computes in float32. Received: dtype={dtype!r}")
        if not trainable:
            raise NotImplementedError(f"{cls}: trainable=False is not supported by spindle")
        self.name = name or _unique(_snake(self.class_name or cls))
        if input_dim is not None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        self._input_shape = _shape(input_shape, "input_shape")
        self._inbound = None
        self._model = None

    def _config(self):
        return {}

    def get_config(self):
        config = {"name": self.name, "trainable": True, "dtype": "float32"}
        config.update(self._config())
        return config

    def __call__(self, inputs, **kwargs):
        if kwargs:
            raise TypeError(f"{self.name}: spindle layers take their inputs only, not "
                            f"{sorted(kwargs)}")
        inbound = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        for t in inbound:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"Layer '{self.name}' was called on {type(t).__name__}: call "
                                f"layers on keras.Input(...) or on another layer's output")
        if self._inbound is not None:
            raise ValueError(f"Layer '{self.name}' is already used in the model: spindle does "
                             f"not share a layer between two places")
        self._inbound = inbound
        return KerasTensor(self, inbound)

    # Weights, through the model the layer belongs to.
    def _index(self):
        if self._model is None:
            raise ValueError(f"Layer '{self.name}' has no weights yet: it is not part of a "
                             f"model")
        self._model._require_built("get_weights")
        return self._model._layer_index(self.name)

    def get_weights(self):
        if self._model is None:
            return []
        return self._model._layer_weights(self._index())

    def set_weights(self, weights):
        self._model._set_layer_weights(self._index(), weights, self.name)

    @property
    def weights(self):
        return self.get_weights()

    def count_params(self):
        return sum(int(w.size) for w in self.get_weights())

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class InputLayer(Layer):
    class_name = "InputLayer"

    def __init__(self, shape=None, batch_size=None, name=None, input_shape=None, **kwargs):
        if shape is None:
            shape = input_shape
        if shape is None:
            raise ValueError("You must pass a `shape` argument to InputLayer / Input.")
        super().__init__(name=name, **kwargs)
        self._input_shape = _shape(shape, "shape")

    def get_config(self):
        return {"batch_input_shape": [None, *self._input_shape], "dtype": "float32",
                "sparse": False, "ragged": False, "name": self.name}


def Input(shape=None, batch_size=None, name=None, dtype=None, **kwargs):
    """A symbolic input of @p shape (without the batch dimension)."""
    layer = InputLayer(shape=shape, batch_size=batch_size, name=name, dtype=dtype, **kwargs)
    layer._inbound = []
    return KerasTensor(layer, [], shape=(None, *layer._input_shape))


class Dense(Layer):
    class_name = "Dense"

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.units = _positive_int(units, "units", "Dense")
        self.activation = _activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _initializer(kernel_initializer, "kernel_initializer")
        self.bias_initializer = _initializer(bias_initializer, "bias_initializer")
        _unsupported("Dense", kernel_regularizer=kernel_regularizer,
                     bias_regularizer=bias_regularizer,
                     activity_regularizer=activity_regularizer,
                     kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)

    def _config(self):
        return {"units": self.units, "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer}


class _Conv(Layer):
    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        cls = self.class_name
        self.filters = _positive_int(filters, "filters", cls)
        self.kernel_size = _tuple(kernel_size, self.rank, "kernel_size", cls)
        self.strides = _tuple(strides, self.rank, "strides", cls)
        self.padding = _padding(padding, cls)
        self.data_format = _data_format(data_format, cls)
        self.dilation_rate = _tuple(dilation_rate, self.rank, "dilation_rate", cls)
        self.groups = _positive_int(groups, "groups", cls)
        self.activation = _activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _initializer(kernel_initializer, "kernel_initializer")
        self.bias_initializer = _initializer(bias_initializer, "bias_initializer")
        _unsupported(cls, kernel_regularizer=kernel_regularizer,
                     bias_regularizer=bias_regularizer,
                     activity_regularizer=activity_regularizer,
                     kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)

    def _config(self):
        return {"filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding,
                "data_format": self.data_format, "dilation_rate": list(self.dilation_rate),
                "groups": self.groups, "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer}


class Conv2D(_Conv):
    class_name = "Conv2D"
    rank = 2


class Conv1D(_Conv):
    class_name = "Conv1D"
    rank = 1


class _Pool(Layer):
    rank = 2

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        cls = self.class_name
        self.pool_size = _tuple(pool_size, self.rank, "pool_size", cls)
        self.strides = self.pool_size if strides is None else _tuple(strides, self.rank,
                                                                        "strides", cls)
        self.padding = _padding(padding, cls)
        self.data_format = _data_format(data_format, cls)

    def _config(self):
        return {"pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": self.data_format}


class MaxPooling2D(_Pool):
    class_name = "MaxPooling2D"


class AveragePooling2D(_Pool):
    class_name = "AveragePooling2D"


class MaxPooling1D(_Pool):
    class_name = "MaxPooling1D"
    rank = 1


class AveragePooling1D(_Pool):
    class_name = "AveragePooling1D"
    rank = 1


MaxPool2D, AvgPool2D, MaxPool1D, AvgPool1D = MaxPooling2D, AveragePooling2D, MaxPooling1D, \
    AveragePooling1D


class GlobalAveragePooling2D(Layer):
    class_name = "GlobalAveragePooling2D"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format, self.class_name)
        if keepdims:
            raise NotImplementedError(f"{self.class_name}: keepdims=True is not supported "
                                      "by spindle")

    def _config(self):
        return {"data_format": self.data_format, "keepdims": False}


class GlobalMaxPooling2D(GlobalAveragePooling2D):
    class_name = "GlobalMaxPooling2D"


GlobalAvgPool2D, GlobalMaxPool2D = GlobalAveragePooling2D, GlobalMaxPooling2D


def _zero_padding(value, layer):
    """Keras's ZeroPadding2D padding: an int (all four sides), a pair
    (symmetric rows, columns) or a pair of pairs ((top, bottom), (left,
    right)); returned as the pair of pairs."""
    def count(v):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
            raise ValueError(f"{layer}: `padding` must be non-negative integers. Received: "
                             f"padding={value!r}")
        return int(v)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        n = count(value)
        return ((n, n), (n, n))
    if isinstance(value, (tuple, list)) and len(value) == 2:
        if all(isinstance(v, (tuple, list)) for v in value):
            if all(len(v) == 2 for v in value):
                return tuple((count(v[0]), count(v[1])) for v in value)
        elif not any(isinstance(v, (tuple, list)) for v in value):
            r, c = count(value[0]), count(value[1])
            return ((r, r), (c, c))
    raise ValueError(f"{layer}: `padding` should have two elements, or be an integer. "
                     f"Received: padding={value!r}")


class ZeroPadding2D(Layer):
    class_name = "ZeroPadding2D"

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _zero_padding(padding, self.class_name)
        self.data_format = _data_format(data_format, self.class_name)

    def _config(self):
        return {"padding": [list(p) for p in self.padding], "data_format": self.data_format}


class Flatten(Layer):
    class_name = "Flatten"

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format, "Flatten")

    def _config(self):
        return {"data_format": self.data_format}


class Reshape(Layer):
    class_name = "Reshape"

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            self.target_shape = tuple(int(d) for d in target_shape)
        except TypeError:
            raise TypeError(f"Reshape: `target_shape` must be a tuple of integers. Received: "
                            f"{target_shape!r}") from None

    def _config(self):
        return {"target_shape": list(self.target_shape)}


class Dropout(Layer):
    class_name = "Dropout"

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
            raise TypeError(f"Dropout: `rate` must be a float. Received: rate={rate!r}")
        if not 0 <= rate < 1:
            raise ValueError(f"Invalid value received for argument `rate`. Expected a float "
                             f"value between 0 and 1. Received: rate={rate}")
        _unsupported("Dropout", noise_shape=noise_shape)
        self.rate = float(rate)
        self.seed = seed

    def _config(self):
        config = {"rate": self.rate}
        if self.seed is not None:
            config["seed"] = int(self.seed)
        return config


class BatchNormalization(Layer):
    class_name = "BatchNormalization"

    def __init__(self, axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True,
                 **kwargs):
        super().__init__(**kwargs)
        self.axis, self.momentum, self.epsilon = int(axis), float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)

    def _config(self):
        return {"axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale}


class Add(Layer):
    class_name = "Add"


class Concatenate(Layer):
    class_name = "Concatenate"

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def _config(self):
        return {"axis": self.axis}


class Activation(Layer):
    class_name = "Activation"

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = _activation(activation)

    def _config(self):
        return {"activation": self.activation}


class ReLU(Layer):
    class_name = "ReLU"

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None or negative_slope or threshold:
            raise NotImplementedError("ReLU: max_value, negative_slope and threshold are not "
                                      "supported by spindle")

    def _config(self):
        return {"max_value": None, "negative_slope": 0.0, "threshold": 0.0}


class LeakyReLU(Layer):
    class_name = "LeakyReLU"

    def __init__(self, negative_slope=0.3, alpha=None, **kwargs):
        super().__init__(**kwargs)
        self.negative_slope = float(negative_slope if alpha is None else alpha)

    def _config(self):
        return {"negative_slope": self.negative_slope}


class ELU(Layer):
    class_name = "ELU"

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def _config(self):
        return {"alpha": self.alpha}


class Softmax(Layer):
    class_name = "Softmax"

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if axis != -1:
            raise NotImplementedError("Softmax: spindle normalises over the last axis only")

    def _config(self):
        return {"axis": -1}


class _Loaded(Layer):
    """A layer of a model read from a file: its name and class."""

    def __init__(self, name, class_name):
        self.name, self.class_name = name, class_name
        self._inbound, self._model, self._input_shape = None, None, None

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"<{self.class_name} name={self.name}>"
