"""Resuming a training run exactly: what a checkpoint holds besides the weights, and how
it is put back.

A run that stops (killed, out of time, or asked for more epochs later) and goes on with
``fit(..., resume=RUN)`` ends with the same weights, bit for bit, as a run that never
stopped. For that the checkpoint holds, beside the weights and the optimizer's state,
everything else that decides what happens next:

- the counters: epochs done, batches done in the epoch in progress, optimizer steps;
- the random states: glassnet's generator (dropout masks, random transforms) and the
  loader's (its shuffling generator, the epoch's order of the examples and how far it
  went: :meth:`glassnet.data.DataLoader.state_dict`);
- the scheduler's state, and each callback's (best value, patience, time spent);
- the running sums of the epoch in progress, so that its history record comes out whole;
- how many history records the run had written, and what the model and data were, to
  refuse going on with other ones.

All of it is plain data: arrays go into the safetensors file as tensors, the rest into its
JSON metadata (:func:`glassnet.serialization.save`'s ``training``). Nothing is pickled.
"""
import json
from typing import NamedTuple

import numpy as np

from ..data.loader import fingerprint
from ..random import get_rng_state, set_rng_state
from ..serialization import load, load_training
from .run import checkpoint_path_for, history_path_for

FORMAT = 1  # the layout of the training state; a later layout reads this one or says why not

__all__ = ["training_state", "restore", "fingerprint", "checkpoint_path_for", "Resumed"]


class Resumed(NamedTuple):
    """Where a resumed run went on from: the checkpoint's ``path``, the ``epochs`` it had
    completed and the ``batches`` it had trained of the next one."""

    path: str
    epochs: int
    batches: int


def training_state(trainer, loader, completed_epochs):
    """Everything beyond weights and optimizer that a :class:`~glassnet.train.Trainer` needs
    to go on exactly, as plain data: taken after an epoch (``trainer.tally`` is None) or
    after an optimizer step within one (the tally holds the epoch so far)."""
    tally = trainer.tally
    return {
        "format": FORMAT,
        "epochs_done": completed_epochs,
        "batches_done": tally.batches if tally is not None else 0,
        "global_step": trainer.global_step,
        "epochs": trainer.epochs,
        "accumulate": trainer.accumulate,
        "tally": tally.state_dict() if tally is not None else None,
        "history_records": len(trainer.history.epochs),
        "random": get_rng_state(),
        "loader": _loader_state(trainer, loader),
        "optimizer": type(trainer.optimizer).__name__,
        "scheduler": _scheduler_state(trainer.scheduler),
        "callbacks": {key: callback.state_dict() for key, callback in _stateful(trainer.callbacks)},
        "data": trainer.data_fingerprint,
    }


def restore(trainer, run, loader, epochs):
    """Put the run saved in ``run`` (a run folder or checkpoint) back into ``trainer``
    (built as for the first run) and ``loader``, to train up to ``epochs`` in all:
    everything is checked first, then restored, so a refused resume changes nothing.
    Returns a :class:`Resumed`."""
    from .loop import EpochTally, History

    path = checkpoint_path_for(run)
    state = load_training(path)
    if state is None:
        raise ValueError(f"cannot resume {path}: it holds weights but no training state (it was written by an older "
                         "glassnet, or by ModelCheckpoint or glassnet.save); help: load its weights with "
                         "glassnet.load(path, model) and start a new run, or resume a checkpoint that "
                         "fit(save_path=...) or 'glassnet train --save' wrote")
    if state.get("format") != FORMAT:
        raise ValueError(f"cannot resume {path}: its training state has format {state.get('format')!r}, this glassnet "
                         f"reads format {FORMAT}")
    _check_model(trainer.model, load(path), path)
    _check_data(state["data"], trainer.data_fingerprint, path)
    _check_same(path, "optimizer", state["optimizer"], type(trainer.optimizer).__name__)
    saved_scheduler = state["scheduler"]["class"] if state["scheduler"] else None
    _check_same(path, "scheduler", saved_scheduler, type(trainer.scheduler).__name__ if trainer.scheduler else None)
    done, batches = int(state["epochs_done"]), int(state["batches_done"])
    if epochs < done or (epochs == done and batches):
        trained = f"{done} epochs" + (f" and {batches} batches of epoch {done + 1}" if batches else "")
        raise ValueError(f"cannot resume {path} for {epochs} epochs in all: it has trained {trained} already; "
                         f"help: ask for {done + 1 if batches else done} epochs or more")
    if state["loader"]["kind"] == "own" and not hasattr(loader, "load_state_dict"):
        raise ValueError(f"cannot resume {path}: its loader kept its position (a DataLoader), this "
                         f"{type(loader).__name__} cannot take it back; help: resume with the same kind of loader")
    history = _read_records(history_path_for(path), state["history_records"], path)

    load(path, trainer.model, trainer.optimizer)
    if trainer.scheduler is not None:
        trainer.scheduler.load_state_dict(state["scheduler"]["state"])
    set_rng_state(state["random"])
    _restore_loader(loader, state["loader"])
    saved_callbacks = state["callbacks"]
    for key, callback in _stateful(trainer.callbacks):
        if key in saved_callbacks:  # a callback new to this run starts afresh
            callback.load_state_dict(saved_callbacks[key])
    trainer.global_step = int(state["global_step"])
    trainer.tally = EpochTally.from_state(state["tally"]) if state["tally"] is not None else None
    trainer.history = History()
    trainer.history.epochs = history
    return Resumed(path, done, batches)


# -- the pieces ------------------------------------------------------------------------------


def _loader_state(trainer, loader):
    """A loader that knows its position (``state_dict``) gives it; any other is replayed:
    its ``generator`` (if any) as at the start of the epoch, and the batches to draw again."""
    if hasattr(loader, "state_dict"):
        return {"kind": "own", "state": loader.state_dict()}
    generator = getattr(loader, "generator", None)
    start = getattr(trainer, "epoch_start_random", None) if trainer.tally is not None else None
    if start is None and isinstance(generator, np.random.Generator):
        start = get_rng_state(generator)
    return {"kind": "replay", "generator": start}


def _restore_loader(loader, saved):
    if saved["kind"] == "own":
        loader.load_state_dict(saved["state"])
    elif saved["generator"] is not None:
        set_rng_state(saved["generator"], loader.generator)


def _scheduler_state(scheduler):
    if scheduler is None:
        return None
    return {"class": type(scheduler).__name__, "state": scheduler.state_dict()}


def _stateful(callbacks):
    """(key, callback) for each callback that has state to keep: its class name, with
    ``#2``, ``#3``... for a second and third of one class."""
    seen = {}
    for callback in callbacks:
        if callable(getattr(callback, "state_dict", None)) and callable(getattr(callback, "load_state_dict", None)):
            name = type(callback).__name__
            seen[name] = seen.get(name, 0) + 1
            yield (name if seen[name] == 1 else f"{name}#{seen[name]}"), callback


def _check_model(model, saved, path):
    """The model must have the checkpoint's parameters and buffers, by name and shape."""
    mine = {name: tuple(np.shape(value)) for name, value in model.state_dict().items()}
    theirs = {name: tuple(np.shape(value)) for name, value in saved.items()}
    problems = [f"{name!r} is {theirs[name]} in the checkpoint but {mine[name]} here"
                for name in mine if name in theirs and mine[name] != theirs[name]]
    missing = [name for name in theirs if name not in mine]
    extra = [name for name in mine if name not in theirs]
    if missing:
        problems.append("only the checkpoint has " + ", ".join(map(repr, missing[:5])) + _more(missing))
    if extra:
        problems.append("only this model has " + ", ".join(map(repr, extra[:5])) + _more(extra))
    if problems:
        raise ValueError(f"cannot resume {path}: the model differs from the one it trained: {'; '.join(problems)}; "
                         "help: build the model as for the first run (same layers and sizes), or start a new run")


def _more(names):
    return f" and {len(names) - 5} more" if len(names) > 5 else ""


def _check_data(saved, current, path):
    """The training data must be what the run trained on: as many examples, the same name,
    and the same sample of examples."""
    if not saved or not current:
        return
    differences = []
    if saved.get("name") != current.get("name") and saved.get("name") and current.get("name"):
        differences.append(f"it trained on {saved['name']!r}, this is {current['name']!r}")
    if saved.get("length") != current.get("length"):
        differences.append(f"it had {saved['length']} examples, this has {current['length']}")
    elif saved.get("sample_hash") != current.get("sample_hash"):
        differences.append("as many examples, but not the same ones (the first, middle and last differ)")
    if differences:
        raise ValueError(f"cannot resume {path}: the training data differs: {'; '.join(differences)}; help: resume "
                         "with the data the run trained on (same data set, --train-size, --data and seed), or start "
                         "a new run")


def _check_same(path, what, saved, current):
    if saved != current:
        raise ValueError(f"cannot resume {path}: it trained with {what} {saved}, this run has {current}; help: build "
                         f"the same {what} as for the first run")


def _read_records(history_path, count, path):
    """The first ``count`` records of the run's history: those written before the
    checkpoint (a record written after it, by work the stop lost, is dropped, as is a
    last line cut short)."""
    records = []
    try:
        with open(history_path) as stream:
            for line in stream:
                if len(records) == count:
                    break
                if line.strip():
                    records.append(json.loads(line))
    except FileNotFoundError:
        pass
    if len(records) < count:
        raise ValueError(f"cannot resume {path}: its history ({history_path}) has {len(records)} of the {count} "
                         "records the checkpoint counts; help: put back the run folder's history.jsonl")
    return records
