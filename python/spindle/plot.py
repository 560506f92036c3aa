"""Pictures of a run. history(h) draws the loss and accuracy of every
epoch, training and validation, with the machine's figures of the run
beneath when it ran on one (matplotlib, Debian's python3-matplotlib).
board(history) draws where the model of a machine run ran (or
board(model), where it would run): chips, cores coloured by layer, links by
load (SVG, the picture `spindle map MODEL --svg FILE` draws)."""
import os
import tempfile


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("spindle.plot needs matplotlib: apt-get install python3-matplotlib "
                          "(make deps)") from None
    if not os.environ.get("DISPLAY"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _history_dict(history):
    h = getattr(history, "history", history)
    if not isinstance(h, dict) or "loss" not in h:
        raise TypeError("plot.history takes the History fit() returns (or its .history "
                        f"dict with a 'loss' key); got {type(history).__name__}")
    return h


def _save(fig, path):
    """Write the figure atomically: a temporary file beside @p path, then a
    rename; the format from the extension (.png, .svg, .pdf)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    ext = os.path.splitext(path)[1] or ".png"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=ext)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # as open() would create it, not mkstemp's 0600
    try:
        fig.savefig(tmp, format=ext[1:], bbox_inches="tight")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def history(history, path=None, title=None):
    """Loss and the accuracy metric per epoch (training solid, validation
    dashed); the machine's figures (simulated time, packets, drops, energy)
    as the caption when history.spindle has them. Saved to @p path when
    given; returns the matplotlib Figure."""
    h = _history_dict(history)
    plt = _pyplot()
    metrics = [k for k in h if not k.startswith("val_") and k != "loss"]
    panels = ["loss"] + metrics[:1]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, key in zip(axes[0], panels):
        epochs = range(1, len(h[key]) + 1)
        ax.plot(epochs, h[key], "o-", label=f"training {key}")
        if "val_" + key in h:
            ax.plot(epochs, h["val_" + key], "s--", label=f"validation {key}")
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    hw = getattr(history, "spindle", None)
    if hw:
        fig.text(0.01, -0.04,
                 f"{hw['machine']} ({hw['numeric']}): {hw['cores_used']} cores on "
                 f"{hw['chips_used']} chips, {hw['simulated_seconds']:.3f} s simulated, "
                 f"{hw['packets_sent']:,} packets, {hw['packets_dropped']} dropped, "
                 f"{hw['energy_joules']:.2f} J", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        _save(fig, path)
    return fig


class BoardPicture:
    """An SVG file of a mapping; shown inline by Jupyter."""

    def __init__(self, path):
        self.path = path

    def _repr_svg_(self):
        with open(self.path) as f:
            return f.read()

    def __repr__(self):
        return f"<spindle board picture {self.path}>"


def board(run, path="board.svg", machine=None, numeric=None, training=True):
    """Draw where a model runs on the machine into the SVG file @p path,
    atomically: chips, cores coloured by layer, links by load, as `spindle
    map MODEL --svg FILE` does. @p run is the History a machine fit()
    returned (its model, on the machine and in the numeric it ran with) or
    a model (on spindle.config's machine and numeric, unless named).
    Returns a BoardPicture of it."""
    from . import _native
    from . import config
    model, ran = run, None
    if hasattr(run, "history") and hasattr(run, "spindle"):  # a History
        model, ran = run.model, run.spindle
        if model is None:
            raise ValueError("plot.board: this History has no model (was it returned by "
                             "fit()?)")
        if ran is None:
            raise ValueError("plot.board: this History is of a run on the reference backend; "
                             "pass the model to draw where it would run on the machine")
    if not hasattr(model, "_require_built"):
        raise TypeError("plot.board takes the History of a machine fit() or a spindle.keras "
                        f"model; got {type(run).__name__}")
    model._require_built("plot.board")
    path = os.fspath(path)
    _native.map_svg(model._handle, path, machine or (ran or {}).get("machine") or config.machine(),
                    numeric or (ran or {}).get("numeric") or config.numeric(), bool(training))
    return BoardPicture(path)
