"""Learning curves: the loss and the accuracy over the epochs, training against validation.

The history is the list of epoch records that training writes (``history.jsonl``, read by
:func:`.read_history`): ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc`` and
``step_losses``, the loss of every step. Records may lack validation or accuracy (a
language model's history) and an epoch-0 record may describe the untrained network.
"""
import numpy as np

from ..train.run import read_history
from . import plots


def history_records(history):
    """The epoch records of a history given as a list of dicts, a :class:`glassnet.train.History`,
    a :class:`.Run` or the path of a ``history.jsonl`` file."""
    if isinstance(history, str):
        return read_history(history)
    if hasattr(history, "epochs"):  # train.History
        return list(history.epochs)
    if hasattr(history, "history"):  # inspect.Run
        return list(history.history)
    return list(history)


def epoch_points(records, key):
    """(x, y) arrays of ``key`` over the epochs, skipping records without it.

    A training metric is the mean over the epoch's steps, so it is drawn mid-epoch
    (epoch - 0.5); a validation metric is measured once the epoch is over (at the epoch).
    Drawing both at the epoch would make training look half an epoch behind.

    >>> epoch_points([{"epoch": 1, "train_loss": 2.0, "step_losses": [2.5, 1.5]}], "train_loss")
    (array([0.5]), array([2.]))
    """
    x, y = [], []
    for record in records:
        value = record.get(key)
        if value is None:
            continue
        averaged = key.startswith("train") and record.get("step_losses")
        x.append(record["epoch"] - 0.5 if averaged else record["epoch"])
        y.append(value)
    return np.array(x, dtype=np.float64), np.array(y, dtype=np.float64)


def step_points(records):
    """(x, y) of every step's training loss, with x in epochs: step i (from 0) of epoch e
    is at e - 1 + (i + 1) / steps, where steps is the longest epoch's count (so an epoch
    that stopped early ends early on the axis)."""
    steps = max((len(record.get("step_losses") or []) for record in records), default=0)
    x, y = [], []
    for record in records:
        losses = record.get("step_losses") or []
        x.extend(record["epoch"] - 1 + (i + 1) / steps for i in range(len(losses)))
        y.extend(losses)
    return np.array(x, dtype=np.float64), np.array(y, dtype=np.float64)


def plot_curves(history, val_label="validation", title=None):
    """Loss (left) and accuracy (right, when the history has any) per epoch, training
    against validation, with the loss of every training step faint behind.

    ``history``: see :func:`history_records`. Returns the figure.
    """
    records = history_records(history)
    with_accuracy = any(record.get(key) is not None for record in records for key in ("train_acc", "val_acc"))
    fig, axes = plots.figure(11 if with_accuracy else 6, 4, ncols=2 if with_accuracy else 1, squeeze=False)
    loss_axis = axes[0, 0]
    x, y = step_points(records)
    if len(x):
        loss_axis.plot(x, y, color="C0", alpha=0.3, linewidth=0.7, label="train (each step)")
    _draw(loss_axis, records, "loss", val_label)
    loss_axis.set_ylabel("loss")
    loss_axis.set_title("Loss")
    if with_accuracy:
        accuracy_axis = axes[0, 1]
        _draw(accuracy_axis, records, "acc", val_label, scale=100)
        accuracy_axis.set_ylabel("accuracy (%)")
        accuracy_axis.set_ylim(0, 100.5)
        accuracy_axis.set_title("Accuracy")
    for axis in axes.flat:
        axis.set_xlabel("epoch")
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _draw(axis, records, metric, val_label, scale=1):
    for prefix, label, style, colour in (("train", "train (epoch mean)", "o-", "C0"), ("val", val_label, "s-", "C1")):
        x, y = epoch_points(records, f"{prefix}_{metric}")
        if len(x):
            axis.plot(x, scale * y, style, color=colour, markersize=4, label=label)
