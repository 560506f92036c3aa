"""Where spindle.keras runs: the backend ("machine", the default, or
"reference", the host executor), the numeric mode ("float" or "fixed", the
kernels' fixed point), the machine ("spinn5", an emulated SpiNN-5 board, by
default; "spinn3", ...), the samples in flight on the machine, and the seed
of freshly initialised weights."""

_BACKENDS = ("machine", "reference")
_NUMERICS = ("float", "fixed")

_state = {"backend": "machine", "numeric": "float", "machine": "spinn5", "in_flight": 0,
          "seed": 0, "builds": 0}


def set_backend(name):
    """"machine" (an emulated SpiNNaker machine) or "reference" (the host)."""
    if name not in _BACKENDS:
        raise ValueError(f"Unknown backend {name!r}: expected one of {_BACKENDS}")
    _state["backend"] = name


def backend():
    return _state["backend"]


def set_numeric(name):
    """"float" or "fixed" (the SpiNNaker kernels' fixed point)."""
    if name not in _NUMERICS:
        raise ValueError(f"Unknown numeric mode {name!r}: expected one of {_NUMERICS}")
    _state["numeric"] = name


def numeric():
    return _state["numeric"]


def set_machine(name):
    """A machine name of spindle ("spinn3", "spinn5", ...), checked at the
    next run."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"set_machine expects a machine name, got {name!r}")
    _state["machine"] = name


def machine():
    return _state["machine"]


def set_in_flight(n):
    """Samples in flight on the machine: a power of two (0: the default)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 0 or (n & (n - 1)):
        raise ValueError(f"in_flight must be 0 or a power of two, got {n!r}")
    _state["in_flight"] = n


def in_flight():
    return _state["in_flight"]


def set_seed(seed):
    """Seed of the weights of models built from now on."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    _state["seed"] = seed
    _state["builds"] = 0


def next_seed():
    """The seed of the next model built: the seed, then one more per model."""
    _state["builds"] += 1
    return _state["seed"] + _state["builds"] - 1


def run_options():
    """The keyword options of spindle._native's fit / evaluate / predict."""
    return {"backend": _state["backend"], "numeric": _state["numeric"],
            "machine": _state["machine"], "in_flight": _state["in_flight"]}
