"""glassnet: deep learning you can see through.

>>> import glassnet as gn
>>> x = gn.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x ** 2).sum().backward()
>>> x.grad
array([2., 4., 6.], dtype=float32)
"""
from . import data, models, nn, optim, random, serialization, train
from .data import datasets
from .gradcheck import GradcheckError, gradcheck
from .nn.summary import summary
from .ops import concatenate, stack, where
from .random import seed
from .serialization import load, save
from .tensor import Tensor, detect_anomaly, enable_grad, is_grad_enabled, no_grad, tensor

cat = concatenate
__version__ = "0.1.0"


def __getattr__(name):
    # gn.inspect on first use: it brings matplotlib and scikit-learn, which training does not need
    if name == "inspect":
        import importlib

        return importlib.import_module(".inspect", __name__)
    raise AttributeError(f"module 'glassnet' has no attribute {name!r}")
