"""Training: the fit loop, evaluation, prediction and callbacks; the run folder they write
(:mod:`glassnet.train.run`: the checkpoint, ``history.jsonl``, ``health.json``)."""
from .callbacks import Callback, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, StopOnNaN, TimeBudget
from .loop import History, StepResult, Trainer, TrainingDiverged, evaluate, fit, predict
from .run import Run, load_run, read_history

__all__ = [
    "fit", "evaluate", "predict", "Trainer", "History", "StepResult", "TrainingDiverged",
    "Callback", "EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau", "StopOnNaN", "TimeBudget",
    "Run", "load_run", "read_history",
]
