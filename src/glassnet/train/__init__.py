"""Training: the fit loop, evaluation, prediction and callbacks."""
from .callbacks import Callback, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, StopOnNaN, TimeBudget
from .loop import History, StepResult, Trainer, TrainingDiverged, evaluate, fit, predict

__all__ = [
    "fit", "evaluate", "predict", "Trainer", "History", "StepResult", "TrainingDiverged",
    "Callback", "EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau", "StopOnNaN", "TimeBudget",
]
