"""Pictures of a run (matplotlib, Debian's python3-matplotlib):
history(h) draws the loss and accuracy of every epoch, training and
validation, with the machine's figures of the run beneath when it ran on
one. The mapping of a model onto the machine is drawn by the command-line
tool: `spindle map MODEL --svg board.svg`."""
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
