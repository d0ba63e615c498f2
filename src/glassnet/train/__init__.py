"""Training: the fit loop, evaluation, prediction and callbacks; the run folder they write
(:mod:`glassnet.train.run`: the checkpoint, ``history.jsonl``, ``health.json``); metrics
(:mod:`glassnet.train.metrics`: accuracy, F1, confusion matrix, RMSE, MAE, R²); TensorBoard event files
(:mod:`glassnet.train.tensorboard`); the learning-rate range test (:func:`lr_find`)."""
from . import metrics
from .callbacks import Callback, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, StopOnNaN, TimeBudget
from .loop import History, StepResult, Trainer, TrainingDiverged, evaluate, fit, predict
from .lr_find import LRFindResult, lr_find
from .metrics import classification_report, regression_report
from .run import Run, load_run, read_history
from .tensorboard import TensorBoard

__all__ = [
    "fit", "evaluate", "predict", "Trainer", "History", "StepResult", "TrainingDiverged",
    "lr_find", "LRFindResult",
    "Callback", "EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau", "StopOnNaN", "TimeBudget", "TensorBoard",
    "Run", "load_run", "read_history",
    "metrics", "classification_report", "regression_report",
]
