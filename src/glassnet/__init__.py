"""glassnet: deep learning you can see through.

>>> import glassnet as gn
>>> x = gn.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x ** 2).sum().backward()
>>> x.grad
tensor([2., 4., 6.])
"""
import os as _os

# OpenBLAS's idle threads busy-wait 2^28 cycles (about 0.1 s) after each matrix product
# before they sleep, holding the cores that glassnet's element-wise kernels split their
# work over between two products (glassnet.threads); 2^20 cycles (about 0.4 ms) keeps
# them ready through a step's products and frees the cores between. OpenBLAS reads it
# when NumPy loads it: import glassnet before NumPy, or set it yourself.
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")

from . import data, models, nn, optim, random, serialization, train, utils  # noqa: E402
from .data import datasets
from .gradcheck import GradcheckError, gradcheck
from .nn.summary import summary
from . import return_types
from .functions import *  # noqa: F403, A004 (PyTorch's math as functions: gn.sin, gn.max, gn.einsum, gn.cat...)
from .random import seed
from .serialization import load, save
from . import autograd
from .tensor import Tensor, detect_anomaly, enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .tensor import reference_ops, reference_ops_enabled
from .threads import get_num_threads, set_num_threads
from .creation import (  # noqa: F401 (PyTorch's creation functions, at the top level as there)
    arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like, get_default_dtype, is_floating_point,
    is_tensor, linspace, manual_seed, normal, numel, ones, ones_like, rand, rand_like, randint, randint_like, randn,
    randn_like, randperm, tensor, zeros, zeros_like,
)
from .dtypes import (  # noqa: F401, A004 (PyTorch's names: float, int and bool are dtypes here, as in torch)
    bool, double, float, float16, float32, float64, half, int, int8, int16, int32, int64, long, result_type, short,
    uint8,
)
from .size import Size
from .device import accelerator, backends, cuda, device, get_default_device, set_default_device  # last: gn.device is the class, not its module

cat = concatenate
__version__ = "0.1.0"


def __getattr__(name):
    # gn.inspect and gn.lab on first use: they bring matplotlib and scikit-learn, which
    # training does not need; gn.onnx and gn.distributed too (light themselves: they import
    # onnx when exporting, mpi4py in gn.distributed.init())
    if name in ("inspect", "lab", "onnx", "distributed"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'glassnet' has no attribute {name!r}")
