"""Learning-rate schedules (keras.optimizers.schedules) spindle's optimizers
follow step by step, on the host and inside the machine's cores."""
import numbers


def _number(value, what, cls, positive=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{cls}: `{what}` must be a number. Received: {what}={value!r}")
    if positive and value <= 0:
        raise ValueError(f"{cls}: `{what}` must be > 0. Received: {what}={value}")
    return float(value)


class LearningRateSchedule:
    def get_config(self):
        raise NotImplementedError

    def _serialize(self):
        return {"module": "keras.optimizers.schedules", "class_name": type(self).__name__,
                "config": self.get_config(), "registered_name": None}


class ExponentialDecay(LearningRateSchedule):
    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        c = type(self).__name__
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate", c)
        self.decay_steps = _number(decay_steps, "decay_steps", c, positive=True)
        self.decay_rate = _number(decay_rate, "decay_rate", c)
        self.staircase, self.name = bool(staircase), name

    def __call__(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = int(p)
        return self.initial_learning_rate * self.decay_rate ** p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class InverseTimeDecay(ExponentialDecay):
    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = int(p)
        return self.initial_learning_rate / (1 + self.decay_rate * p)


class CosineDecay(LearningRateSchedule):
    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        c = type(self).__name__
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate", c)
        self.decay_steps = _number(decay_steps, "decay_steps", c, positive=True)
        self.alpha = _number(alpha, "alpha", c)
        if warmup_target is not None or warmup_steps:
            raise NotImplementedError("CosineDecay: warmup is not supported by spindle")
        self.name = name

    def __call__(self, step):
        import math
        p = min(step, self.decay_steps) / self.decay_steps
        return self.initial_learning_rate * ((1 - self.alpha) * 0.5 * (1 + math.cos(math.pi * p))
                                             + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": None, "warmup_steps": 0}


class PiecewiseConstantDecay(LearningRateSchedule):
    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(values) != len(boundaries) + 1:
            raise ValueError("PiecewiseConstantDecay: the length of `values` must be the length "
                             f"of `boundaries` + 1 (got {len(values)} and {len(boundaries)})")
        self.boundaries = [int(b) for b in boundaries]
        self.values = [float(v) for v in values]
        self.name = name

    def __call__(self, step):
        for b, v in zip(self.boundaries, self.values):
            if step <= b:
                return v
        return self.values[-1]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}
