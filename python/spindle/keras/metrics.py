"""keras.metrics: the accuracy metrics spindle reports ("accuracy" is
Keras's choice of the three for the loss and targets)."""

NAMES = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy",
         "binary_accuracy")


class Accuracy:
    def __init__(self, name="accuracy"):
        self.name = name


class SparseCategoricalAccuracy(Accuracy):
    def __init__(self, name="sparse_categorical_accuracy"):
        super().__init__(name)


class CategoricalAccuracy(Accuracy):
    def __init__(self, name="categorical_accuracy"):
        super().__init__(name)


class BinaryAccuracy(Accuracy):
    def __init__(self, name="binary_accuracy"):
        super().__init__(name)


def get(identifier):
    """The name a metric is logged under."""
    if isinstance(identifier, Accuracy):
        return identifier.name
    if isinstance(identifier, type) and issubclass(identifier, Accuracy):
        return identifier().name
    if isinstance(identifier, str) and identifier in NAMES:
        return identifier
    raise ValueError(f"Could not interpret metric identifier: {identifier!r} (spindle reports "
                     f"{', '.join(NAMES)})")
