"""Training: the fit loop, evaluation, prediction and callbacks."""
from .callbacks import Callback, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, StopOnNaN, TimeBudget
from .loop import History, Trainer, evaluate, fit, predict

__all__ = [
    "fit", "evaluate", "predict", "Trainer", "History",
    "Callback", "EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau", "StopOnNaN", "TimeBudget",
]
