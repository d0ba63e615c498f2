"""The training loop: batch after batch, epoch after epoch.

One step is the whole of deep learning in four lines: forward (predict), loss (measure
the error), backward (trace the error back to every weight), step (nudge the weights).
Around it: accuracy, validation, progress a person can watch, a JSON-lines history (and
the same rows as CSV), callbacks, gradient accumulation, and checkpoints a run can be
resumed from exactly (:mod:`glassnet.train.resume`). On several ranks
(:mod:`glassnet.distributed`) the same loop runs on each; rank 0 alone prints and saves.
"""
import csv
import itertools
import json
import math
import os
import sys
import tempfile
import time
from typing import NamedTuple

import numpy as np

from ..backend import xp
from ..nn import functional as F
from ..nn.utils import clip_grad_norm_
from ..random import get_rng_state
from ..serialization import save
from ..tensor import Tensor, no_grad
from . import resume as resuming
from .callbacks import Callback
from .run import history_csv_path_for, history_path_for


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


class EpochTally:
    """The running sums of the epoch in progress: what its history record is made of, kept
    in a checkpoint taken mid-epoch so that a resumed epoch reports what it would have."""

    def __init__(self, total_loss=0.0, seen=0, correct=0, predicted=0, step_losses=(), batches=0, seconds=0.0):
        self.total_loss, self.seen, self.correct, self.predicted = total_loss, seen, correct, predicted
        self.step_losses, self.batches, self.seconds = [float(v) for v in step_losses], batches, seconds

    def add(self, loss, logits, targets):
        n = len(targets)
        self.total_loss += loss * n
        self.seen += n
        right, made = _correct(logits, targets)
        self.correct, self.predicted = self.correct + right, self.predicted + made
        self.batches += 1

    def record(self):
        accuracy = self.correct / self.predicted if self.predicted else None
        return {"train_loss": self.total_loss / max(self.seen, 1), "train_acc": accuracy,
                "step_losses": self.step_losses}

    def state_dict(self):
        state = {key: value for key, value in vars(self).items() if key != "step_losses"}
        return dict(state, step_losses=np.array(self.step_losses, dtype=np.float64))

    @classmethod
    def from_state(cls, state):
        return cls(**{key: value.tolist() if isinstance(value, np.ndarray) else value for key, value in state.items()})


class Trainer:
    """Holds what a training run needs; :func:`fit` is the usual way to use it."""

    def __init__(self, model, optimizer, loss=None, callbacks=(), scheduler=None, scheduler_interval="epoch",
                 clip_grad_norm=None, save_path=None, metadata=None, progress=None, val_label="val", out=None,
                 accumulate=1, checkpoint_every=None):
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        if not _whole(accumulate):
            raise ValueError(f"accumulate must be a whole number of batches, at least 1, got {accumulate!r}")
        if checkpoint_every is not None:
            if not _whole(checkpoint_every):
                raise ValueError(f"checkpoint_every must be a whole number of steps, at least 1, "
                                 f"got {checkpoint_every!r}")
            if not save_path:
                raise ValueError("checkpoint_every writes the checkpoint to save_path; help: give save_path too")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss or F.cross_entropy
        self.callbacks, self.scheduler, self.scheduler_interval = list(callbacks), scheduler, scheduler_interval
        self.clip_grad_norm, self.save_path, self.metadata = clip_grad_norm, save_path, metadata
        self.accumulate, self.checkpoint_every = int(accumulate), checkpoint_every
        self.out = out or sys.stdout
        self.progress = _is_terminal(sys.stderr) if progress is None else progress
        self.val_label, self.history = val_label, History()
        self.stop_training, self.stopped_reason, self.global_step = False, None, 0
        self.epoch, self.epochs, self.batch = 0, 0, 0  # where training is, for callbacks
        self.logits, self.val_loader = None, None  # the last batch's outputs; the validation data of fit
        self._batch_end = []  # the callbacks that define on_batch_end (train_epoch finds them)
        self.history_path = history_path_for(save_path) if save_path else None
        self.history_csv_path = history_csv_path_for(save_path) if save_path else None
        self.tally, self.data_fingerprint = None, None  # the epoch in progress; what the data was (for resuming)
        self.resumed = None  # set by fit(resume=...): where the run went on from
        self.epoch_start_random = None  # a loader's generator at the epoch's start, if it has no state_dict
        self.world = _world()  # glassnet.distributed when this is one of several ranks, else None
        self.is_root = self.world is None or self.world.rank() == 0
        if not self.is_root:  # rank 0 alone shows the run and writes its files
            self.out, self.progress, self.history_path, self.history_csv_path = _Nowhere(), False, None, None

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

    def accumulate_batch(self, inputs, targets, first):
        """Forward, loss and backward for one batch of a group of ``accumulate`` batches:
        the gradients add up in ``.grad`` (``first`` clears them), each batch's weighted by
        its number of examples; :meth:`step_accumulated` then divides by the group's
        examples, so the step is that of one batch made of the whole group."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            logits = self.model(inputs)
            loss = self.loss_fn(logits, targets)
            if not math.isfinite(loss.item()):
                raise TrainingDiverged(loss.item(), self.epoch, self.batch, self.global_step + 1, self._lr())
            if first:
                self.optimizer.zero_grad()
            loss.backward(xp.full(loss.shape, len(targets), dtype=loss.dtype))  # the sum over its examples
        return StepResult(loss.item(), logits)

    def step_accumulated(self, examples):
        """The step after a group of batches: their summed gradients divided by the
        ``examples`` they held (the mean gradient of one batch of them all), then the
        callbacks, clipping and the optimizer step, as in :meth:`train_step`."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for group in self.optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.grad = p.grad._data / p.grad._data.dtype.type(examples)
            self._before_update()
            self.optimizer.step()

    def _before_update(self):
        """Between backward and step: callbacks see the raw gradients (averaged over the
        ranks by a DistributedOptimizer), then clipping may shrink them."""
        if hasattr(self.optimizer, "synchronize"):
            self.optimizer.synchronize()
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
        """One pass over ``loader``, a :meth:`train_step` per batch (or, with
        ``accumulate=N``, one step per N batches), with what surrounds it: the step
        scheduler, the epoch's metrics, per-step callbacks, step checkpoints and the
        progress bar. An epoch resumed mid-way goes on from the checkpoint's batch."""
        self.model.train()
        self.epoch = epoch
        if hasattr(getattr(loader, "sampler", None), "set_epoch"):
            loader.sampler.set_epoch(epoch - 1)  # a DistributedSampler's order for this epoch (from 0, as PyTorch's)
        self.tally, resumed = self.tally or EpochTally(), self.tally is not None
        started = time.perf_counter() - self.tally.seconds
        generator = getattr(loader, "generator", None)
        if not hasattr(loader, "state_dict") and isinstance(generator, np.random.Generator):
            self.epoch_start_random = get_rng_state(generator)  # to replay this epoch's batches on resuming
        batches = iter(loader)
        if resumed and not hasattr(loader, "load_state_dict"):
            for _ in range(self.tally.batches):  # a loader with no position of its own: draw again what was seen
                next(batches)
        batches = self._progress_bar(batches, loader, epoch, epochs, done=self.tally.batches)
        group = []  # (loss, examples) of the batches whose gradients wait for the next step
        self._batch_end = _overriding(self.callbacks, "on_batch_end")  # looked up once an epoch, not every step
        for inputs, targets in batches:
            self.batch = self.tally.batches + 1
            try:
                if self.accumulate == 1:
                    value, logits = self.train_step(inputs, targets)
                else:
                    value, logits = self.accumulate_batch(inputs, targets, first=not group)
            except TrainingDiverged as diverged:
                if self._stopped_on_divergence(diverged):
                    break
                raise
            self.tally.add(value, logits, targets)
            self.logits = logits  # the last batch's, for the per-step callbacks' logs
            group.append((value, len(targets)))
            if len(group) == self.accumulate:
                self._after_step(group, inputs, targets, loader, batches, started)
                group = []
        else:
            if group:  # the epoch's last, smaller group: the mean gradient of the examples it has
                self._after_step(group, inputs, targets, loader, batches, started)
        if self.progress:
            batches.close()
        tally, self.tally = self._all_ranks(self.tally), None
        if self.world is not None:  # rank 0's buffers (batch norm's running statistics) to all, as DDP's
            self.world.broadcast_parameters(self.model.named_buffers())
        return tally.record()

    def _all_ranks(self, tally):
        """The epoch's running sums over all ranks' examples (the tally itself on one)."""
        if self.world is None:
            return tally
        sums = self.world.all_reduce(np.array([tally.total_loss, tally.seen, tally.correct, tally.predicted]))
        step_losses = self.world.all_reduce(np.array(tally.step_losses, dtype=np.float64), "average")
        return EpochTally(sums[0], int(sums[1]), int(sums[2]), int(sums[3]), step_losses, tally.batches, tally.seconds)

    def _after_step(self, group, inputs, targets, loader, batches, started):
        """What follows an optimizer step: the step scheduler, the counters, the per-step
        callbacks, the progress bar and, every ``checkpoint_every`` steps, a checkpoint."""
        examples = sum(n for _, n in group)
        if self.accumulate > 1:
            self.step_accumulated(examples)
        if self.scheduler is not None and self.scheduler_interval == "step":
            self.scheduler.step()
        self.global_step += 1
        loss = sum(value * n for value, n in group) / examples if len(group) > 1 else group[0][0]
        self.tally.step_losses.append(loss)
        if self._batch_end:
            logs = {"epoch": self.epoch, "batch": self.batch, "loss": loss, "inputs": inputs, "targets": targets,
                    "logits": self.logits}
            for callback in self._batch_end:
                callback.on_batch_end(self, self.global_step, logs)
        if self.progress and self.batch % 10 < len(group):
            batches.set_postfix(loss=f"{self.tally.total_loss / self.tally.seen:.4f}", refresh=False)
        last_batch = hasattr(loader, "__len__") and self.tally.batches >= len(loader)
        if self.checkpoint_every and self.global_step % self.checkpoint_every == 0 and not last_batch:
            self.tally.seconds = time.perf_counter() - started
            self.save_checkpoint(loader, self.epoch - 1)  # the epoch's own checkpoint follows its last batch

    def _progress_bar(self, batches, loader, epoch, epochs, done=0):
        if not self.progress:
            return batches
        from tqdm.auto import tqdm

        total = len(loader) if hasattr(loader, "__len__") else None
        return tqdm(batches, desc=f"epoch {epoch}/{epochs}", leave=False, unit="batch", file=sys.stderr,
                    dynamic_ncols=True, initial=done, total=total)

    # -- the whole run -------------------------------------------------------------------------

    def fit(self, train_loader, epochs=1, val=None, initial_eval=False, resume=None):
        """Train for ``epochs`` epochs in all (a resumed run counts those it had trained:
        it goes on up to ``epochs``); see :func:`fit`."""
        val_loader = _as_loader(val) if val is not None else None
        self.val_loader = val_loader  # for callbacks that look at validation data (TensorBoard's images)
        self.epochs = epochs
        first_epoch = 1
        if self.save_path or resume is not None:
            self.data_fingerprint = resuming.fingerprint(train_loader)
        if resume is not None:
            first_epoch = self._resume(resume, train_loader, epochs)
            if first_epoch > epochs:
                return self.history
        elif self.history_path:
            os.makedirs(os.path.dirname(self.history_path), exist_ok=True)
            open(self.history_path, "w").close()
            if os.path.exists(self.history_csv_path):
                os.remove(self.history_csv_path)
        for callback in self.callbacks:
            callback.on_train_begin(self)
        self._print_header(val_loader is not None)
        if initial_eval and resume is None:  # epoch 0: the untrained network, at chance (train metrics: a few batches)
            first_batches = list(itertools.islice(iter(train_loader), 20))
            record = {"epoch": 0, **_prefixed(self._evaluate(first_batches, shard=False), "train")}
            if val_loader is not None:
                record.update(_prefixed(self._evaluate(val_loader), "val"))
            self._record(record | {"seconds": 0.0, "lr": self._lr()})
        for epoch in range(first_epoch, epochs + 1):
            start = time.perf_counter() - (self.tally.seconds if self.tally is not None else 0.0)
            record = {"epoch": epoch, **self.train_epoch(train_loader, epoch, epochs)}
            if val_loader is not None and not self.stopped_reason:
                record.update(_prefixed(self._evaluate(val_loader), "val"))
            record.update(seconds=time.perf_counter() - start, lr=self._lr())
            if self.stopped_reason:
                record["stopped"] = self.stopped_reason
            self._record(record)
            if self.scheduler is not None and self.scheduler_interval == "epoch":
                self.scheduler.step()
            for callback in self.callbacks:
                callback.on_epoch_end(self, epoch, record)
            if self.world is not None:  # rank 0 decides (a time budget's clock differs between ranks): all stop together
                self.stop_training = bool(self.world.broadcast(self.stop_training, root=0))
            if self.save_path:
                self.save_checkpoint(train_loader, epoch)
            if self.stop_training:
                break
        for callback in self.callbacks:
            callback.on_train_end(self)
        return self.history

    def save_checkpoint(self, loader, completed_epochs):
        """Write the checkpoint to ``save_path`` (a temporary file renamed into place, so a
        run killed at any moment leaves the last whole one): the weights, the optimizer,
        and everything needed to go on exactly (:func:`glassnet.train.resume.training_state`)."""
        metadata = dict(self.metadata or {}, epoch=completed_epochs)
        tally = self.tally
        if tally is not None:
            self.tally = self._all_ranks(tally)  # an epoch in progress: its sums over all ranks go in the checkpoint
        try:
            if self.is_root:  # the weights are the same on every rank: rank 0 writes them
                save(self.model.state_dict(), self.save_path, optimizer=self.optimizer, metadata=metadata,
                     training=resuming.training_state(self, loader, completed_epochs))
        finally:
            self.tally = tally

    def _resume(self, run, loader, epochs):
        """Put back the run saved in ``run`` (:func:`glassnet.train.resume.restore`), carry
        its history over, and return the epoch to train next."""
        done = resuming.restore(self, run, loader, epochs)
        self.resumed = done
        if self.tally is not None and not self.is_root:  # the saved sums are all ranks': counted once, on rank 0
            self.tally.total_loss, self.tally.seen, self.tally.correct, self.tally.predicted = 0.0, 0, 0, 0
        if self.history_path:  # the records up to the checkpoint, written again where this run keeps its history
            os.makedirs(os.path.dirname(self.history_path), exist_ok=True)
            _write_atomically(self.history_path, "".join(json.dumps(r) + "\n" for r in self.history.epochs))
            self._write_csv()
        if done.epochs >= epochs:
            print(f"glassnet: {done.path} has trained its {done.epochs} epochs (step {self.global_step}): nothing to "
                  "do; help: ask for more epochs (--epochs, or fit(..., epochs=...))", file=self.out, flush=True)
            return epochs + 1
        where = f"epoch {done.epochs + 1}" + (f", batch {done.batches + 1}" if done.batches else "")
        print(f"glassnet: resuming {done.path} at {where} (step {self.global_step}), up to epoch {epochs}",
              file=self.out, flush=True)
        return done.epochs + 1

    def _evaluate(self, data, shard=True):
        """:func:`evaluate` on this rank, or on several: each rank takes every N-th batch
        (``shard``; else each its own ``data``), and the sums are all-reduced."""
        if self.world is None:
            return evaluate(self.model, data, self.loss_fn)
        batches = _as_loader(data)
        if shard:
            batches = itertools.islice(batches, self.world.rank(), None, self.world.world_size())
        return _means(self.world.all_reduce(np.array(_evaluation_sums(self.model, batches, self.loss_fn))))

    def _lr(self):
        return self.optimizer.param_groups[0]["lr"]

    def _record(self, record):
        self.history.epochs.append(record)
        self._print_row(record)
        if self.history_path:
            with open(self.history_path, "a") as f:
                f.write(json.dumps(record) + "\n")
            self._write_csv()

    def _write_csv(self):
        """``history.csv``: the history's rows with their numbers (and short texts), one
        column per key that any row has, written whole each epoch (a new key, such as
        ``stopped``, adds a column)."""
        rows = [{key: value for key, value in record.items() if _is_scalar(value)} for record in self.history.epochs]
        columns = list(dict.fromkeys(key for row in rows for key in row))
        lines = _CsvLines()
        writer = csv.DictWriter(lines, columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
        _write_atomically(self.history_csv_path, "".join(lines))

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


def fit(model, train_loader, optimizer, epochs=1, loss=None, val=None, callbacks=(), resume=None, **options):
    """Train ``model`` on ``train_loader`` for ``epochs`` epochs and return the
    :class:`History`.

    Each epoch prints one line of the table (a progress bar runs meanwhile in a
    terminal, never in a log file). ``val`` (a DataLoader or Dataset) is evaluated after
    each epoch. Options: ``scheduler`` (with ``scheduler_interval='epoch'|'step'``; a step
    is an optimizer step), ``clip_grad_norm``, ``save_path`` (the checkpoint, saved every
    epoch, with ``history.jsonl`` and ``history.csv`` next to it), ``checkpoint_every``
    (steps: a checkpoint within the epoch too), ``accumulate`` (batches per optimizer
    step: their gradients are summed, each batch's weighted by its examples, and divided
    by the examples of the group, so the step is that of one batch N times larger; the
    last group of an epoch may have fewer batches, and is the mean over the examples it
    has), ``metadata``, ``progress``, ``initial_eval`` (an epoch-0 row for the untrained
    network), ``val_label``, ``out``.

    ``resume`` (a run folder or a checkpoint written with ``save_path``) goes on from where
    that run stopped, exactly: weights, optimizer, scheduler, glassnet's random state, the
    loader's order and position in the epoch, the counters, the history and the callbacks'
    state come back, and the history goes on (appended, epochs numbered on). Build the
    model, optimizer, scheduler, loader and callbacks as for the first run; a model or data
    set that differs from the checkpoint's is an error that says what differs. Without a
    ``save_path``, the resumed run is saved where it came from.

    >>> import glassnet as gn, numpy as np, io
    >>> data = gn.data.TensorDataset(np.random.default_rng(0).normal(size=(32, 4)), np.arange(32) % 2)
    >>> model = gn.nn.Linear(4, 2)
    >>> history = fit(model, gn.data.DataLoader(data, batch_size=8), gn.optim.SGD(model.parameters(), lr=0.1),
    ...               epochs=2, accumulate=2, out=io.StringIO(), progress=False)
    >>> len(history), len(history.last["step_losses"])  # 4 batches an epoch, a step every 2
    (2, 2)
    """
    initial_eval = options.pop("initial_eval", False)
    if resume is not None and options.get("save_path") is None:
        options["save_path"] = resuming.checkpoint_path_for(resume)
    trainer = Trainer(model, optimizer, loss=loss, callbacks=callbacks, **options)
    return trainer.fit(train_loader, epochs=epochs, val=val, initial_eval=initial_eval, resume=resume)


def evaluate(model, data, loss=None, batch_size=512):
    """Mean loss and accuracy of ``model`` on ``data`` (a DataLoader or Dataset), in eval
    mode and without building a graph."""
    return _means(_evaluation_sums(model, _as_loader(data, batch_size), loss or F.cross_entropy))


def _evaluation_sums(model, batches, loss_fn):
    """(summed loss, examples, right predictions, predictions made) over ``batches``."""
    was_training = model.training
    model.eval()
    total_loss, seen, correct, predicted = 0.0, 0, 0, 0
    with no_grad():
        for inputs, targets in batches:
            logits = model(inputs)
            n = len(targets)
            total_loss += loss_fn(logits, targets).item() * n
            seen += n
            right, made = _correct(logits, targets)
            correct, predicted = correct + right, predicted + made
    model.train(was_training)
    return total_loss, seen, correct, predicted


def _means(sums):
    total_loss, seen, correct, predicted = sums
    return {"loss": float(total_loss) / max(seen, 1), "acc": float(correct) / predicted if predicted else None}


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


def _world():
    """glassnet.distributed when this process is one rank of several, else None (without
    importing mpi4py: a run that is not distributed never starts MPI)."""
    from .. import distributed

    return distributed if distributed.is_initialized() and distributed.world_size() > 1 else None


class _Nowhere:
    """An output stream that keeps nothing: the table and messages of ranks other than 0."""

    def write(self, text):
        return len(text)

    def flush(self):
        pass


def _whole(value):
    """A whole number of at least 1 (and not a bool)."""
    return not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= 1


def _is_scalar(value):
    return value is None or isinstance(value, (bool, int, float, str, np.generic))


class _CsvLines(list):
    """A list that csv.writer can write lines into."""

    def write(self, line):
        self.append(line)


def _write_atomically(path, text):
    """Write ``text`` to ``path`` through a temporary file renamed into place."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp-")
    try:
        with os.fdopen(handle, "w", newline="") as f:
            f.write(text)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


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
