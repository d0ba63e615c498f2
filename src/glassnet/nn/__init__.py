"""Layers, losses and initialization, with PyTorch's names, arguments and parameter shapes."""
from . import functional, init
from .activation import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .container import ModuleList, Sequential
from .dropout import Dropout
from .linear import Flatten, Identity, Linear
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, Parameter

try:  # gradient clipping lives with the optimizers' work
    from . import utils
except ImportError:  # pragma: no cover - only while utils is being written
    pass

__all__ = [
    "Module", "Parameter", "Sequential", "ModuleList", "Linear", "Identity", "Flatten", "Dropout",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax",
    "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCEWithLogitsLoss", "functional", "init",
]
