"""The training loop: batch after batch, epoch after epoch.

One step is the whole of deep learning in four lines: forward (predict), loss (measure
the error), backward (trace the error back to every weight), step (nudge the weights).
Around it: accuracy, validation, progress a person can watch, a JSON-lines history and
callbacks.
"""
import itertools
import json
import math
import os
import sys
import time
from typing import NamedTuple

import numpy as np

from ..backend import xp
from ..nn import functional as F
from ..nn.utils import clip_grad_norm_
from ..serialization import save
from ..tensor import Tensor, no_grad
from .callbacks import Callback
from .run import history_path_for


class StepResult(NamedTuple):
    """What :meth:`Trainer.train_step` gives back: the batch's loss (a float) and the
    model's outputs (the logits, for metrics such as accuracy)."""

    loss: float
    logits: Tensor


class TrainingDiverged(FloatingPointError):
    """The loss stopped being a finite number (it overflowed to inf, or became NaN).
    Raised by :meth:`Trainer.train_step` before backward, so the weights are still those
    of the last good step; ``loss``, ``epoch`` and ``step`` (within the epoch) say where."""

    def __init__(self, loss, epoch, step, global_step, lr):
        self.loss, self.epoch, self.step = loss, epoch, step
        super().__init__(
            f"training diverged: the loss became {loss} at epoch {epoch}, step {step} "
            f"(global step {global_step}); help: lower the learning rate (now {lr:g}), "
            "check the inputs for NaN, or clip gradients (clip_grad_norm=1.0)"
        )


class History:
    """What happened in training: one record per epoch (``epochs``), and the loss of
    every step. ``history["val_acc"]`` gives one quantity over the epochs."""

    def __init__(self):
        self.epochs = []

    def __getitem__(self, key):
        return [record[key] for record in self.epochs if key in record]

    def __len__(self):
        return len(self.epochs)

    @property
    def last(self):
        return self.epochs[-1] if self.epochs else {}


class Trainer:
    """Holds what a training run needs; :func:`fit` is the usual way to use it."""

    def __init__(self, model, optimizer, loss=None, callbacks=(), scheduler=None, scheduler_interval="epoch",
                 clip_grad_norm=None, save_path=None, metadata=None, progress=None, val_label="val", out=None):
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss or F.cross_entropy
        self.callbacks, self.scheduler, self.scheduler_interval = list(callbacks), scheduler, scheduler_interval
        self.clip_grad_norm, self.save_path, self.metadata = clip_grad_norm, save_path, metadata
        self.out = out or sys.stdout
        self.progress = _is_terminal(sys.stderr) if progress is None else progress
        self.val_label, self.history = val_label, History()
        self.stop_training, self.stopped_reason, self.global_step = False, None, 0
        self.epoch, self.epochs, self.batch = 0, 0, 0  # where training is, for callbacks
        self.history_path = history_path_for(save_path) if save_path else None

    # -- one step ---------------------------------------------------------------------------

    def train_step(self, inputs, targets):
        """One step of gradient descent on one batch: forward, loss, backward, step.
        Returns a :class:`StepResult` (the loss as a float, and the logits). A loss that is
        not a finite number raises :class:`TrainingDiverged` before backward: the weights
        stay those of the last good step."""
        # A diverging run overflows long before the loss is NaN; the loss check below
        # reports it once, clearly, instead of NumPy warning from deep inside.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            logits = self.model(inputs)  # forward: predict
            loss = self.loss_fn(logits, targets)  # loss: measure the error
            if not math.isfinite(loss.item()):
                raise TrainingDiverged(loss.item(), self.epoch, self.batch, self.global_step + 1, self._lr())
            self.optimizer.zero_grad()
            loss.backward()  # backward: the gradient of the loss for every weight
            self._before_update()
            self.optimizer.step()  # step: move every weight against its gradient
        return StepResult(loss.item(), logits)

    def _before_update(self):
        """Between backward and step: callbacks see the raw gradients, then clipping may shrink them."""
        for callback in _overriding(self.callbacks, "on_after_backward"):
            callback.on_after_backward(self, self.global_step + 1)
        if self.clip_grad_norm:
            clip_grad_norm_(self.model.parameters(), self.clip_grad_norm)

    def _stopped_on_divergence(self, diverged):
        """Let every callback answer a diverged loss (:meth:`Callback.on_divergence`); True
        when one of them stopped training, which then ends quietly."""
        for callback in _overriding(self.callbacks, "on_divergence"):
            callback.on_divergence(self, diverged.epoch, diverged.step, diverged.loss)
        if self.stop_training and not self.stopped_reason:  # the history says why it stopped
            self.stopped_reason = f"loss became {diverged.loss} at epoch {diverged.epoch}, step {diverged.step}"
        return self.stop_training

    # -- one epoch -------------------------------------------------------------------------

    def train_epoch(self, loader, epoch, epochs):
        """One pass over ``loader``, a :meth:`train_step` per batch, with what surrounds it:
        the step scheduler, the epoch's metrics, per-batch callbacks and the progress bar."""
        self.model.train()
        self.epoch = epoch
        total_loss, seen, correct, predicted, step_losses = 0.0, 0, 0, 0, []
        batches = self._progress_bar(loader, epoch, epochs)
        batch_end = _overriding(self.callbacks, "on_batch_end")
        for step, (inputs, targets) in enumerate(batches, start=1):
            self.batch = step
            try:
                value, logits = self.train_step(inputs, targets)
            except TrainingDiverged as diverged:
                if self._stopped_on_divergence(diverged):
                    break
                raise
            if self.scheduler is not None and self.scheduler_interval == "step":
                self.scheduler.step()
            self.global_step += 1
            n = len(targets)
            total_loss += value * n
            seen += n
            right, made = _correct(logits, targets)
            correct, predicted = correct + right, predicted + made
            step_losses.append(value)
            if batch_end:
                logs = {"epoch": epoch, "batch": step, "loss": value, "inputs": inputs, "targets": targets}
                for callback in batch_end:
                    callback.on_batch_end(self, self.global_step, logs)
            if self.progress and step % 10 == 0:
                batches.set_postfix(loss=f"{total_loss / seen:.4f}", refresh=False)
        if self.progress:
            batches.close()
        accuracy = correct / predicted if predicted else None
        return {"train_loss": total_loss / max(seen, 1), "train_acc": accuracy, "step_losses": step_losses}

    def _progress_bar(self, loader, epoch, epochs):
        if not self.progress:
            return loader
        from tqdm.auto import tqdm

        return tqdm(loader, desc=f"epoch {epoch}/{epochs}", leave=False, unit="batch", file=sys.stderr, dynamic_ncols=True)

    # -- the whole run -------------------------------------------------------------------------

    def fit(self, train_loader, epochs=1, val=None, initial_eval=False):
        val_loader = _as_loader(val) if val is not None else None
        if self.history_path:
            os.makedirs(os.path.dirname(self.history_path), exist_ok=True)
            open(self.history_path, "w").close()
        self.epochs = epochs
        for callback in self.callbacks:
            callback.on_train_begin(self)
        self._print_header(val_loader is not None)
        if initial_eval:  # epoch 0: the untrained network, at chance (train metrics from a few batches)
            first_batches = list(itertools.islice(iter(train_loader), 20))
            record = {"epoch": 0, **_prefixed(evaluate(self.model, first_batches, self.loss_fn), "train")}
            if val_loader is not None:
                record.update(_prefixed(evaluate(self.model, val_loader, self.loss_fn), "val"))
            self._record(record | {"seconds": 0.0, "lr": self._lr()})
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            record = {"epoch": epoch, **self.train_epoch(train_loader, epoch, epochs)}
            if val_loader is not None and not self.stopped_reason:
                record.update(_prefixed(evaluate(self.model, val_loader, self.loss_fn), "val"))
            record.update(seconds=time.perf_counter() - start, lr=self._lr())
            if self.stopped_reason:
                record["stopped"] = self.stopped_reason
            self._record(record)
            if self.scheduler is not None and self.scheduler_interval == "epoch":
                self.scheduler.step()
            for callback in self.callbacks:
                callback.on_epoch_end(self, epoch, record)
            if self.save_path:
                save(self.model.state_dict(), self.save_path, optimizer=self.optimizer, metadata=dict(self.metadata or {}, epoch=epoch))
            if self.stop_training:
                break
        for callback in self.callbacks:
            callback.on_train_end(self)
        return self.history

    def _lr(self):
        return self.optimizer.param_groups[0]["lr"]

    def _record(self, record):
        self.history.epochs.append(record)
        self._print_row(record)
        if self.history_path:
            with open(self.history_path, "a") as f:
                f.write(json.dumps(record) + "\n")

    # -- the per-epoch table ------------------------------------------------------------------

    def _columns(self, with_val):
        columns = [("epoch", "epoch", "{:>5d}"), ("train loss", "train_loss", "{:>10.4f}"), ("train acc", "train_acc", "{:>9.2%}")]
        if with_val:
            columns += [(f"{self.val_label} loss", "val_loss", "{:>9.4f}"), (f"{self.val_label} acc", "val_acc", "{:>8.2%}")]
        return columns + [("seconds", "seconds", "{:>7.2f}")]

    def _print_header(self, with_val):
        self._table = self._columns(with_val)
        print("  ".join(title.rjust(max(len(title), 5)) for title, _, _ in self._table), file=self.out, flush=True)

    def _print_row(self, record):
        cells = []
        for title, key, fmt in self._table:
            value = record.get(key)
            cell = fmt.format(value) if value is not None else "-"
            cells.append(cell.rjust(max(len(title), 5)))
        print("  ".join(cells), file=self.out, flush=True)


def fit(model, train_loader, optimizer, epochs=1, loss=None, val=None, callbacks=(), **options):
    """Train ``model`` on ``train_loader`` for ``epochs`` epochs and return the
    :class:`History`.

    Each epoch prints one line of the table (a progress bar runs meanwhile in a
    terminal, never in a log file). ``val`` (a DataLoader or Dataset) is evaluated after
    each epoch. Options: ``scheduler`` (with ``scheduler_interval='epoch'|'step'``),
    ``clip_grad_norm``, ``save_path`` (the checkpoint, saved every epoch, with the JSON-lines
    history next to it), ``metadata``, ``progress``, ``initial_eval`` (an epoch-0 row for the
    untrained network), ``val_label``, ``out``.
    """
    initial_eval = options.pop("initial_eval", False)
    trainer = Trainer(model, optimizer, loss=loss, callbacks=callbacks, **options)
    return trainer.fit(train_loader, epochs=epochs, val=val, initial_eval=initial_eval)


def evaluate(model, data, loss=None, batch_size=512):
    """Mean loss and accuracy of ``model`` on ``data`` (a DataLoader or Dataset), in eval
    mode and without building a graph."""
    loss_fn = loss or F.cross_entropy
    was_training = model.training
    model.eval()
    total_loss, seen, correct, predicted = 0.0, 0, 0, 0
    with no_grad():
        for inputs, targets in _as_loader(data, batch_size):
            logits = model(inputs)
            n = len(targets)
            total_loss += loss_fn(logits, targets).item() * n
            seen += n
            right, made = _correct(logits, targets)
            correct, predicted = correct + right, predicted + made
    model.train(was_training)
    return {"loss": total_loss / max(seen, 1), "acc": correct / predicted if predicted else None}


def predict(model, data, batch_size=512):
    """The model's outputs (logits) for ``data``: an array, a Tensor, a Dataset or a
    DataLoader (whose targets are ignored). Returns a NumPy array."""
    was_training = model.training
    model.eval()
    outputs = []
    with no_grad():
        if isinstance(data, (np.ndarray, Tensor)):
            array = data.numpy() if isinstance(data, Tensor) else data
            batches = (Tensor(array[i:i + batch_size]) for i in range(0, len(array), batch_size))
        else:
            batches = (batch[0] for batch in _as_loader(data, batch_size))
        for inputs in batches:
            outputs.append(model(inputs).numpy())
    model.train(was_training)
    return xp.concatenate(outputs) if outputs else xp.zeros((0,))


def _overriding(callbacks, hook):
    """The callbacks whose class defines ``hook`` itself rather than inheriting the empty
    one of :class:`Callback`."""
    empty = getattr(Callback, hook)
    return [c for c in callbacks if getattr(type(c), hook, empty) is not empty]


def _correct(logits, targets):
    """(right predictions, predictions made) for class scores on the last axis, e.g.
    (N, C) against (N,) labels or a language model's (N, T, V) against (N, T) tokens."""
    targets = targets.numpy() if isinstance(targets, Tensor) else targets
    if logits.ndim != targets.ndim + 1 or targets.dtype.kind not in "iu":
        return 0, 0
    return int((logits.numpy().argmax(axis=-1) == targets).sum()), targets.size


def _prefixed(metrics, prefix):
    return {f"{prefix}_{name}": value for name, value in metrics.items()}


def _as_loader(data, batch_size=512):
    from ..data import DataLoader, Dataset

    if isinstance(data, Dataset):
        return DataLoader(data, batch_size=batch_size)
    return data  # already an iterable of (inputs, targets) batches


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
