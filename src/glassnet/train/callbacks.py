"""Callbacks: small objects that watch training and act at the end of each epoch (or,
for the few that need it, after every step)."""
import math
import time

from ..serialization import save
from .run import history_path_for  # noqa: F401 (its home is train.run, with the run folder's other names)


class Callback:
    """Hooks called by :func:`glassnet.train.fit`. ``trainer`` gives access to the model,
    the optimizer, ``trainer.epoch`` / ``trainer.epochs`` and ``trainer.stop_training``;
    ``logs`` is the epoch's record (``train_loss``, ``train_acc``, ``val_loss``,
    ``val_acc``, ``lr``, ...).

    The two per-step hooks receive ``step``, the global step (1, 2, ... counted across
    epochs). The loop calls them only on callbacks that override them, so epoch-level
    callbacks cost nothing per step.

    :meth:`on_divergence` is called when the loss stops being a finite number: a callback
    that sets ``trainer.stop_training`` there ends training quietly (the history's last
    record says where, under ``stopped``); if none does, the loop raises
    ``FloatingPointError``.

    A callback that keeps state across epochs (a best value, a patience count, time spent)
    defines ``state_dict()`` (plain data: numbers, strings, arrays, and dicts and lists of
    them) and ``load_state_dict(state)``: the checkpoint keeps it, and a resumed run
    (``fit(..., resume=RUN)``) gives it back before :meth:`on_train_begin`.
    """

    def on_train_begin(self, trainer):
        pass

    def on_after_backward(self, trainer, step):
        """After ``loss.backward()``, before clipping and the optimizer step: every
        ``parameter.grad`` holds this batch's gradient (with ``accumulate=N``, once per step:
        the mean gradient over the group's batches)."""

    def on_batch_end(self, trainer, step, logs):
        """After the optimizer step. ``logs``: ``epoch``, ``batch`` (the batch within the
        epoch, from 1), ``loss`` (a float), ``inputs`` and ``targets`` (the batch). With
        ``accumulate=N`` it is called once per step, after the group's last batch, with the
        group's mean loss."""

    def on_divergence(self, trainer, epoch, step, loss):
        """The loss became NaN or infinite at ``step`` (within ``epoch``, from 1), before
        backward: the weights are still those of the last good step. Set
        ``trainer.stop_training`` to stop quietly instead of raising; the loop then records
        where in ``trainer.stopped_reason``, unless the callback set its own."""

    def on_epoch_end(self, trainer, epoch, logs):
        pass

    def on_train_end(self, trainer):
        pass


class _Monitor(Callback):
    """Tracks the best value of one logged quantity."""

    def __init__(self, monitor, mode, min_delta=0.0):
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
        self.monitor, self.mode, self.min_delta = monitor, mode, abs(min_delta)
        self.best = math.inf if mode == "min" else -math.inf

    def _value(self, logs):
        if self.monitor not in logs:
            raise KeyError(f"{type(self).__name__} monitors {self.monitor!r}, but the epoch logs only have {sorted(logs)}")
        return logs[self.monitor]

    def _improved(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def state_dict(self):
        return {"best": self.best}

    def load_state_dict(self, state):
        self.best = state["best"]


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved for ``patience`` epochs; optionally put
    the best weights back."""

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, mode="auto", restore_best_weights=False):
        super().__init__(monitor, mode, min_delta)
        self.patience, self.restore_best_weights = patience, restore_best_weights
        self.wait, self.best_state, self.stopped_epoch = 0, None, None

    def on_epoch_end(self, trainer, epoch, logs):
        value = self._value(logs)
        if self._improved(value):
            self.best, self.wait = value, 0
            if self.restore_best_weights:
                self.best_state = {k: v.copy() for k, v in trainer.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.stop_training, self.stopped_epoch = True, epoch

    def on_train_end(self, trainer):
        if self.restore_best_weights and self.best_state is not None:
            trainer.model.load_state_dict(self.best_state)

    def state_dict(self):
        return {**super().state_dict(), "wait": self.wait, "stopped_epoch": self.stopped_epoch,
                "best_state": self.best_state}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.wait, self.stopped_epoch, self.best_state = state["wait"], state["stopped_epoch"], state["best_state"]


class ModelCheckpoint(_Monitor):
    """Save the model (and optimizer) to ``path`` after every epoch, or with
    ``save_best_only`` only when ``monitor`` improved: keep-best."""

    def __init__(self, path, monitor="val_loss", mode="auto", save_best_only=True, metadata=None):
        super().__init__(monitor, mode)
        self.path, self.save_best_only, self.metadata = path, save_best_only, metadata
        self.best_epoch = None

    def on_epoch_end(self, trainer, epoch, logs):
        if self.save_best_only:
            value = self._value(logs)
            if not self._improved(value):
                return
            self.best, self.best_epoch = value, epoch
        metadata = dict(self.metadata or {}, epoch=epoch, logs=logs)
        save(trainer.model.state_dict(), self.path, optimizer=trainer.optimizer, metadata=metadata)

    def state_dict(self):
        return {**super().state_dict(), "best_epoch": self.best_epoch}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.best_epoch = state["best_epoch"]


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stops improving
    (wraps :class:`glassnet.optim.lr_scheduler.ReduceLROnPlateau`)."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=3, mode="auto", min_lr=0.0):
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.monitor, self.options = monitor, dict(mode=mode, factor=factor, patience=patience, min_lr=min_lr)
        self.scheduler, self.saved = None, None

    def on_train_begin(self, trainer):
        from ..optim.lr_scheduler import ReduceLROnPlateau as Scheduler

        self.scheduler = Scheduler(trainer.optimizer, **self.options)
        if self.saved is not None:  # resumed: the best value and the epochs without improvement go on
            self.scheduler.load_state_dict(self.saved)

    def on_epoch_end(self, trainer, epoch, logs):
        self.scheduler.step(logs[self.monitor])

    def state_dict(self):
        return self.scheduler.state_dict() if self.scheduler is not None else self.saved

    def load_state_dict(self, state):
        self.saved = state


class StopOnNaN(Callback):
    """Stop training quietly (instead of raising) when the loss becomes NaN or infinite;
    the history records where it happened."""

    def on_divergence(self, trainer, epoch, step, loss):
        trainer.stop_training = True  # the loop records where: "loss became nan at epoch 2, step 31"


class TimeBudget(Callback):
    """Stop after the first epoch that ends past ``seconds`` of training (a budget of
    compute rather than of epochs). A resumed run counts the time trained before it."""

    def __init__(self, seconds):
        self.seconds, self.start, self.spent_before = seconds, None, 0.0

    def on_train_begin(self, trainer):
        self.start = time.perf_counter()

    def spent(self):
        """Seconds of training so far, those before a resume included."""
        return self.spent_before + (time.perf_counter() - self.start if self.start is not None else 0.0)

    def on_epoch_end(self, trainer, epoch, logs):
        if self.spent() >= self.seconds:
            trainer.stop_training = True

    def state_dict(self):
        return {"spent": self.spent()}

    def load_state_dict(self, state):
        self.spent_before, self.start = state["spent"], None
