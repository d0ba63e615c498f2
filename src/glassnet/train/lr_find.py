"""The learning-rate range test: which learning rate to train with, measured in one short run.

Leslie Smith's test, as fastai made it popular: train for a hundred steps or so while the
learning rate grows exponentially, from far too small (nothing moves) to far too large
(the loss explodes), and watch the loss. Where it falls fastest, the network learns; where
it turns back up, the steps overshoot. A good learning rate lies a little before the turn.

The test changes what it trains on, so :func:`lr_find` puts everything back afterwards,
exactly: the weights, the buffers (batch norm's running statistics), the gradients, the
layers' train/eval modes, the optimizer's state and learning rates, glassnet's random state
and the loader (its shuffling generator, where it is in its epoch). Training after it is the
same as training without it.

    >>> import glassnet as gn
    >>> from glassnet.data import DataLoader, TensorDataset
    >>> x = gn.randn(64, 4); y = (x.numpy()[:, 0] > 0).astype("int64")
    >>> model = gn.nn.Linear(4, 2)
    >>> result = lr_find(model, DataLoader(TensorDataset(x, y), batch_size=16), gn.optim.SGD(model.parameters()),
    ...                  start_lr=1e-4, end_lr=1.0, steps=20)
    >>> len(result.lrs), float(result.lrs[0]), float(result.lrs[-1])
    (20, 0.0001, 1.0)
"""
import contextlib
import copy
import math
from numbers import Real

import numpy as np

from .. import random
from ..extras import require
from .loop import Trainer, TrainingDiverged

# The two usual ways to read a suggestion off the curve (see lr_find's docstring), and what
# each means; DEFAULT_RULE is the one lr_find's result suggests.
RULES = {
    "minimum/10": "a tenth of the learning rate where the smoothed loss was lowest",
    "steepest": "where the smoothed loss fell fastest per decade of learning rate",
}
DEFAULT_RULE = "minimum/10"


class LRFindResult:
    """What :func:`lr_find` measured: ``lrs`` (the learning rate of each step), ``losses``
    (each step's loss) and ``smoothed`` (their running average), NumPy arrays of the same
    length; ``suggestion``, the learning rate the ``rule`` reads off the curve
    (:data:`RULES`); ``diverged_at``, the learning rate where the loss blew up and the test
    stopped (None when it ran to ``end_lr``); ``start_lr``, ``end_lr`` and ``steps``, the
    range asked for. :meth:`suggest` applies the other rule, :meth:`plot` draws the curve."""

    def __init__(self, lrs, losses, smoothed, start_lr, end_lr, steps, diverged_at=None, rule=DEFAULT_RULE):
        self.lrs, self.losses, self.smoothed = (np.asarray(a, dtype=np.float64) for a in (lrs, losses, smoothed))
        self.start_lr, self.end_lr, self.steps, self.diverged_at = start_lr, end_lr, steps, diverged_at
        self.rule = rule
        self.suggestion = self.suggest(rule)

    def suggest(self, rule=DEFAULT_RULE):
        """The learning rate that ``rule`` ("minimum/10" or "steepest") reads off the smoothed loss."""
        if rule not in RULES:
            raise ValueError(f"LRFindResult.suggest: rule must be one of {', '.join(map(repr, RULES))}, got {rule!r}")
        finite = np.flatnonzero(np.isfinite(self.smoothed))
        if len(finite) == 0:
            raise ValueError("LRFindResult.suggest: the loss was never finite; help: lower start_lr")
        lowest = finite[np.argmin(self.smoothed[finite])]
        if rule == "minimum/10":
            return float(self.lrs[lowest] / 10)
        # the steepest fall before the minimum (past it the loss only climbs)
        if lowest < 2:
            return float(self.lrs[lowest])
        slopes = np.gradient(self.smoothed[: lowest + 1], np.log10(self.lrs[: lowest + 1]))
        return float(self.lrs[np.argmin(slopes)])

    def plot(self, ax=None):
        """The loss against the learning rate (log scale), each step faint and the smoothed
        curve over it, the suggestion marked. Draws on ``ax`` if given, else on a new bare
        matplotlib Figure (no pyplot); returns the figure."""
        own_figure = ax is None
        if own_figure:
            Figure = require("matplotlib.figure", "drawing the learning-rate finder").Figure
            ax = Figure(figsize=(6, 4)).subplots()
        ax.plot(self.lrs, self.losses, color="C0", alpha=0.3, linewidth=0.8, label="loss (each step)")
        ax.plot(self.lrs, self.smoothed, color="C0", label="smoothed")
        at = np.interp(np.log(self.suggestion), np.log(self.lrs), self.smoothed)
        ax.axvline(self.suggestion, color="C3", linestyle="--", linewidth=1)
        ax.plot([self.suggestion], [at], "o", color="C3", label=f"suggestion {self.suggestion:.2g} ({self.rule})")
        ax.set_xscale("log")
        # the y axis stops a little above the smoothed curve: the explosion at the end (the
        # step that diverged, the raw spikes) would flatten the part that matters
        before = slice(0, -1) if self.diverged_at is not None and len(self.lrs) > 2 else slice(None)
        low = np.concatenate([self.losses[before], self.smoothed[before]])
        high = self.smoothed[before]
        low, high = low[np.isfinite(low)], high[np.isfinite(high)]
        if len(low) and len(high):
            margin = 0.05 * (high.max() - low.min()) or 0.05
            ax.set_ylim(low.min() - margin, high.max() + 3 * margin)
        ax.set_xlabel("learning rate (log scale)")
        ax.set_ylabel("loss")
        ax.set_title("Learning-rate range test")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        if own_figure:  # someone else's figure keeps its layout
            ax.figure.tight_layout()
        return ax.figure

    def __repr__(self):
        end = f"diverged at {self.diverged_at:.3g}" if self.diverged_at is not None else f"ran to {self.end_lr:.3g}"
        return (f"LRFindResult(suggestion={self.suggestion:.3g}, rule={self.rule!r}, {len(self.lrs)} steps "
                f"from {self.start_lr:.3g}, {end})")


def lr_find(model, loader, optimizer, loss=None, start_lr=1e-7, end_lr=10, steps=100, smooth=0.98, diverge=4.0):
    """Train ``model`` for ``steps`` steps with the learning rate growing exponentially from
    ``start_lr`` to ``end_lr``, record the loss of each step, then put everything back as it
    was (see the module's docstring). Returns an :class:`LRFindResult`.

    Step i (from 0) trains at ``start_lr * (end_lr / start_lr) ** (i / (steps - 1))``, every
    parameter group at that rate, through :meth:`Trainer.train_step` (``loss`` as for
    :func:`fit`: cross-entropy when None). ``loader`` is cycled when it has fewer batches.
    Each loss also enters a running average, ``avg = smooth * avg + (1 - smooth) * loss``,
    divided by ``1 - smooth ** (i + 1)`` so that it does not start near zero. The test stops
    early when that smoothed loss passes ``diverge`` times the lowest seen, or is NaN.

    The suggestion. Two rules are in use (both in :meth:`LRFindResult.suggest`):

    - **steepest**: where the smoothed loss falls fastest per decade of learning rate, the
      middle of the range where the network learns. It is the slope of a noisy curve, so it
      moves from run to run, and where the loss falls late and sharply (SGD) it sits right
      against the cliff.
    - **minimum/10** (the suggestion here): a tenth of the rate where the smoothed loss is
      lowest. The minimum is where the steps start to overshoot, the upper bound of what
      trains; a decade below keeps a margin. It reads one point of the curve, not a slope,
      and does not depend on how sharp the fall is; its weakness is a flat bottom, where
      the minimum can land at the far end.

    On digits (an MLP and a CNN, Adam and SGD with momentum, two seeds each, then three
    epochs at each suggestion) the two agreed within a factor of two in five cases of eight,
    and each chose a rate too large once: minimum/10 for a CNN with Adam (0.042: 70 % test
    accuracy where steepest's 0.007 gave 95 %), steepest for an MLP with SGD (0.42: 75 %
    where 0.05 gave 88 %). Neither is a guarantee: look at the plot. The smoothing (0.98)
    also lags the raw loss by tens of steps, which moves both rules to larger rates; both
    rules read the smoothed curve, as the plot shows it.

    >>> LRFindResult([1e-3, 1e-2, 1e-1], [2.0, 1.0, 3.0], [2.0, 1.0, 3.0], 1e-3, 1e-1, 3).suggestion
    0.001
    """
    _check_arguments(start_lr, end_lr, steps, smooth, diverge)
    trainer = Trainer(model, optimizer, loss=loss, progress=False)
    schedule = np.geomspace(start_lr, end_lr, steps)  # equal ratios from step to step, both ends exact
    lrs, losses, smoothed = [], [], []
    average, best, diverged_at = 0.0, math.inf, None
    # the batches are closed before the state is put back, so that the loader's last pass ends first
    with _Restored(model, optimizer, loader), contextlib.closing(_cycle(loader)) as batches:
        model.train()
        for step, lr in enumerate(schedule.tolist()):
            for group in optimizer.param_groups:
                group["lr"] = lr
            inputs, targets = next(batches)
            try:
                value = trainer.train_step(inputs, targets).loss
            except TrainingDiverged as diverged:  # inf or NaN: recorded, then the test stops
                value = diverged.loss
            average = smooth * average + (1 - smooth) * value
            smoothed_value = average / (1 - smooth ** (step + 1))
            lrs.append(lr)
            losses.append(value)
            smoothed.append(smoothed_value)
            if not math.isfinite(smoothed_value) or smoothed_value > diverge * best:
                diverged_at = lr
                break
            best = min(best, smoothed_value)
    if not math.isfinite(smoothed[0]):  # then no rate can be read off the curve
        raise FloatingPointError(f"lr_find: the loss was {losses[0]} at the first step, at lr {start_lr:g}; "
                                 "help: check the inputs and the loss for NaN, or lower start_lr")
    return LRFindResult(lrs, losses, smoothed, start_lr, end_lr, steps, diverged_at)


def _check_arguments(start_lr, end_lr, steps, smooth, diverge):
    for name, value in (("start_lr", start_lr), ("end_lr", end_lr), ("smooth", smooth), ("diverge", diverge)):
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"lr_find: {name} must be a number, got {value!r}")
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool):
        raise TypeError(f"lr_find: steps must be a whole number, got {steps!r}")
    if not 0 < start_lr < end_lr < math.inf:
        raise ValueError(f"lr_find: needs 0 < start_lr < end_lr, got start_lr={start_lr:g}, end_lr={end_lr:g}; "
                         "help: the defaults, 1e-7 and 10, span the rates most networks use")
    if steps < 2:
        raise ValueError(f"lr_find: steps must be at least 2 (one rate at each end), got {steps}; help: 100 is usual")
    if not 0 <= smooth < 1:
        raise ValueError(f"lr_find: smooth must be in [0, 1), got {smooth}; help: 0.98 is usual, 0 turns it off")
    if not diverge > 1:
        raise ValueError(f"lr_find: diverge must be above 1 (a multiple of the lowest loss), got {diverge}; "
                         "help: 4.0 is usual")


def _cycle(loader):
    """The loader's batches, one pass after another (each pass shuffled anew)."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("lr_find: the loader gave no batches; help: give it a non-empty dataset")


class _Restored:
    """A ``with`` block after which the model, the optimizer, glassnet's random state and the
    loader are as they were before it, however the block ends."""

    def __init__(self, model, optimizer, loader):
        self.model, self.optimizer = model, optimizer
        self.loaders = _loader_chain(loader)
        self.generators = [random.generator()] + _generators(self.loaders)

    def __enter__(self):
        # the steps change weights, buffers and the optimizer's state in place: they are copied
        self.tensors = [(tensor, tensor._data.copy()) for module in self.model.modules()
                        for tensor in [*module._parameters.values(), *module._buffers.values()] if tensor is not None]
        self.grads = [(p, p.grad, None if p.grad is None else p.grad._data.copy()) for p in self.model.parameters()]
        self.modes = [(module, module.training) for module in self.model.modules()]
        self.optimizer_state = {p: copy.deepcopy(values) for p, values in self.optimizer.state.items()}
        self.groups = [{key: copy.deepcopy(value) for key, value in group.items() if key != "params"}
                       for group in self.optimizer.param_groups]
        self.generator_states = [copy.deepcopy(g.bit_generator.state) for g in self.generators]
        # where a loader is in its epoch lives in its attributes, which iterating replaces
        self.loader_attributes = [dict(vars(loader)) for loader in self.loaders]
        return self

    def __exit__(self, *exception):
        for tensor, data in self.tensors:
            tensor._data[...] = data
        for parameter, grad, data in self.grads:
            parameter.grad = grad
            if grad is not None:
                grad._data[...] = data
        for module, training in self.modes:
            module.training = training
        self.optimizer.state.clear()
        self.optimizer.state.update(self.optimizer_state)
        for group, options in zip(self.optimizer.param_groups, self.groups):
            params = group["params"]
            group.clear()
            group.update({"params": params, **options})
        for generator, state in zip(self.generators, self.generator_states):
            generator.bit_generator.state = state
        for loader, attributes in zip(self.loaders, self.loader_attributes):
            vars(loader).clear()
            vars(loader).update(attributes)
        return False


def _loader_chain(loader):
    """The loader and the loaders it wraps (``.loader``), those that are objects with attributes."""
    chain = []
    while hasattr(loader, "__dict__") and all(loader is not seen for seen in chain):
        chain.append(loader)
        loader = getattr(loader, "loader", None)
    return chain


def _generators(loaders):
    """The NumPy generators the loaders draw from: their own (DataLoader's ``generator``,
    glassnet's text windows') and their samplers'."""
    found = []
    for loader in loaders:
        for holder in (loader, getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None)):
            generator = getattr(holder, "generator", None)
            if isinstance(generator, np.random.Generator) and all(generator is not g for g in found):
                found.append(generator)
    return found
