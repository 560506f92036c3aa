"""keras.optimizers: SGD (momentum, Nesterov), Adam, RMSprop, serialized as
Keras 3's compile_config states them, which libspindle reads."""
import numbers

from . import schedules
from .schedules import LearningRateSchedule


class Optimizer:
    _defaults = {}

    def __init__(self, learning_rate, name=None, **kwargs):
        cls = type(self).__name__
        for key in ("clipnorm", "clipvalue", "global_clipnorm", "weight_decay", "loss_scale_factor",
                    "gradient_accumulation_steps"):
            if kwargs.pop(key, None) is not None:
                raise NotImplementedError(f"{cls}: `{key}` is not supported by spindle")
        if kwargs.pop("use_ema", False):
            raise NotImplementedError(f"{cls}: `use_ema` is not supported by spindle")
        kwargs.pop("ema_momentum", None)
        kwargs.pop("ema_overwrite_frequency", None)
        kwargs.pop("jit_compile", None)
        if kwargs:
            raise TypeError(f"{cls}: unexpected keyword arguments: {sorted(kwargs)}")
        if isinstance(learning_rate, LearningRateSchedule):
            self.learning_rate = learning_rate
        elif isinstance(learning_rate, numbers.Real) and not isinstance(learning_rate, bool):
            if learning_rate < 0:
                raise ValueError(f"{cls}: `learning_rate` must be >= 0. Received: "
                                 f"learning_rate={learning_rate}")
            self.learning_rate = float(learning_rate)
        else:
            raise TypeError(f"{cls}: `learning_rate` must be a float or a "
                            f"keras.optimizers.schedules.LearningRateSchedule. Received: "
                            f"learning_rate={learning_rate!r}")
        self.name = name or cls.lower()
        # Keras's step count: the optimizer steps the model's fits since its
        # compile() have taken (the next fit goes on from them)
        self.iterations = 0

    def _hyper(self):
        return {}

    def get_config(self):
        lr = self.learning_rate
        config = {"name": self.name,
                  "learning_rate": lr._serialize() if isinstance(lr, LearningRateSchedule)
                  else lr,
                  "weight_decay": None, "clipnorm": None, "global_clipnorm": None,
                  "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
                  "ema_overwrite_frequency": None, "loss_scale_factor": None,
                  "gradient_accumulation_steps": None}
        config.update(self._hyper())
        return config

    def _serialize(self):
        return {"module": "keras.optimizers", "class_name": type(self).__name__,
                "config": self.get_config(), "registered_name": None}


def _fraction(value, what, cls):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{cls}: `{what}` must be a float in [0, 1). Received: "
                         f"{what}={value!r}")
    return float(value)


class SGD(Optimizer):
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD", **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        self.momentum = _fraction(momentum, "momentum", "SGD")
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0:
            raise ValueError("SGD: nesterov=True needs a momentum > 0")

    def _hyper(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, name="adam", **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        self.beta_1 = _fraction(beta_1, "beta_1", "Adam")
        self.beta_2 = _fraction(beta_2, "beta_2", "Adam")
        self.epsilon = float(epsilon)
        if amsgrad:
            raise NotImplementedError("Adam: amsgrad=True is not supported by spindle")

    def _hyper(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": False}


class RMSprop(Optimizer):
    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 name="rmsprop", **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        self.rho = _fraction(rho, "rho", "RMSprop")
        self.momentum = _fraction(momentum, "momentum", "RMSprop")
        self.epsilon = float(epsilon)
        self.centered = bool(centered)

    def _hyper(self):
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


_BY_NAME = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


def get(identifier):
    """An optimizer from a name ("adam") or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r} (spindle has "
                     f"'sgd', 'adam' and 'rmsprop')")


__all__ = ["Optimizer", "SGD", "Adam", "RMSprop", "schedules", "get"]
