"""keras.losses: the four losses libspindle computes, as names, classes or
functions."""


class Loss:
    fn_name = None

    def __init__(self, from_logits=False, reduction="sum_over_batch_size", name=None, **kwargs):
        cls = type(self).__name__
        if kwargs.pop("label_smoothing", 0):
            raise NotImplementedError(f"{cls}: label_smoothing is not supported by spindle")
        if kwargs.pop("ignore_class", None) is not None:
            raise NotImplementedError(f"{cls}: ignore_class is not supported by spindle")
        kwargs.pop("axis", None)
        if kwargs:
            raise TypeError(f"{cls}: unexpected keyword arguments: {sorted(kwargs)}")
        if reduction not in ("sum_over_batch_size", "auto"):
            raise NotImplementedError(f"{cls}: reduction={reduction!r} is not supported by "
                                      f"spindle (sum_over_batch_size)")
        self.from_logits = bool(from_logits)
        self.name = name or self.fn_name

    def _serialize(self):
        return {"module": "keras.losses", "class_name": type(self).__name__,
                "config": {"name": self.name, "reduction": "sum_over_batch_size",
                           "from_logits": self.from_logits},
                "registered_name": None}


class SparseCategoricalCrossentropy(Loss):
    fn_name = "sparse_categorical_crossentropy"


class CategoricalCrossentropy(Loss):
    fn_name = "categorical_crossentropy"


class BinaryCrossentropy(Loss):
    fn_name = "binary_crossentropy"


class MeanSquaredError(Loss):
    fn_name = "mean_squared_error"

    def __init__(self, reduction="sum_over_batch_size", name=None):
        super().__init__(False, reduction, name)


def _function(name):
    def fn(y_true, y_pred):
        raise NotImplementedError(f"spindle computes {name} inside fit and evaluate only")
    fn.__name__ = name
    return fn


sparse_categorical_crossentropy = _function("sparse_categorical_crossentropy")
categorical_crossentropy = _function("categorical_crossentropy")
binary_crossentropy = _function("binary_crossentropy")
mean_squared_error = mse = MSE = _function("mean_squared_error")

_ALIASES = {"mse": "mean_squared_error", "MSE": "mean_squared_error",
            "mean_squared_error": "mean_squared_error",
            "sparse_categorical_crossentropy": "sparse_categorical_crossentropy",
            "categorical_crossentropy": "categorical_crossentropy",
            "binary_crossentropy": "binary_crossentropy"}
_CLASSES = {c.__name__: c for c in (SparseCategoricalCrossentropy, CategoricalCrossentropy,
                                    BinaryCrossentropy, MeanSquaredError)}


def get(identifier):
    """(name, from_logits, serialized) of a loss name, class name, function
    or instance."""
    if isinstance(identifier, Loss):
        return identifier.fn_name, identifier.from_logits, identifier._serialize()
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return get(identifier())
    if callable(identifier) and getattr(identifier, "__name__", None) in _ALIASES:
        return get(identifier.__name__)
    if isinstance(identifier, str):
        if identifier in _ALIASES:
            return _ALIASES[identifier], False, _ALIASES[identifier]
        if identifier in _CLASSES:
            return get(_CLASSES[identifier]())
    raise ValueError(f"Could not interpret loss identifier: {identifier!r} (spindle computes "
                     f"{', '.join(sorted(set(_ALIASES.values())))})")
