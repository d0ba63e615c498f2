"""Devices, as PyTorch code names them: glassnet computes with NumPy on the CPU.

``gn.device("cpu")`` is the only device tensors live on. ``gn.device("cuda")`` can be
named (so that ``device = gn.device("cuda" if gn.cuda.is_available() else "cpu")`` runs),
but putting a tensor there raises, with a hint. ``gn.cuda``, ``gn.accelerator`` and
``gn.backends`` answer the availability checks tutorials make.

>>> import glassnet as gn
>>> device = gn.device("cuda" if gn.cuda.is_available() else "cpu")
>>> device, gn.zeros(2, device=device).device == "cpu"
(device(type='cpu'), True)
"""
import sys
import types

# the device types PyTorch knows; only "cpu" exists here
_TYPES = ("cpu", "cuda", "mps", "xpu", "hip", "xla", "meta", "hpu", "mtia", "ipu", "vulkan", "privateuseone")


class device:  # noqa: N801 (PyTorch's name)
    """A device: ``device("cpu")``, ``device("cuda:0")``, ``device("cuda", 0)``.

    Compares equal to its string (``gn.device("cpu") == "cpu"``).
    """

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):  # noqa: A002 (PyTorch's argument name)
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        elif isinstance(type, int) and not isinstance(type, bool):
            type, index = "cuda", type  # PyTorch's shorthand for a CUDA device's index
        if not isinstance(type, str):
            raise TypeError(f"device(): expected a string such as 'cpu', got {type!r}")
        name, _, number = type.partition(":")
        if name not in _TYPES:
            raise RuntimeError(f"Expected one of {', '.join(_TYPES)} device type at start of device string: {type}")
        if number:
            if index is not None or not number.isdigit():
                raise RuntimeError(f"Invalid device string: {type!r}")
            index = int(number)
        if index is not None and (not isinstance(index, int) or index < 0):
            raise RuntimeError(f"Device index must not be negative, got {index!r}")
        object.__setattr__(self, "type", name)
        object.__setattr__(self, "index", index)

    def __setattr__(self, name, value):
        raise AttributeError("a device is immutable")

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type={self.type!r}{index})"

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except RuntimeError:
                return False
        if not isinstance(other, device):
            return NotImplemented
        return (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return device, (self.type, self.index)


CPU = device("cpu")


def set_default_device(value):
    """PyTorch's default device for new tensors: here only the CPU can be chosen."""
    as_device(value, "set_default_device()")


def get_default_device():
    return CPU


def as_device(value, who="glassnet"):
    """``device("cpu")`` for ``None``, "cpu", "cpu:0" or a cpu device; anything else raises.

    >>> as_device("cpu:0")
    device(type='cpu')
    """
    if value is None:
        return CPU
    wanted = value if isinstance(value, device) else device(value if isinstance(value, (str, int)) else str(value))
    if wanted.type != "cpu":
        raise RuntimeError(
            f"{who}: device {str(wanted)!r} is not available: glassnet runs on the CPU (NumPy) and has no GPU "
            f"backend yet; help: use device=\"cpu\", or choose it the portable way: "
            f"device = \"cuda\" if glassnet.cuda.is_available() else \"cpu\""
        )
    return CPU


# -- the availability checks tutorials make ---------------------------------------------------


def _module(name, doc, **functions):
    module = types.ModuleType(f"glassnet.{name}", doc)
    module.__dict__.update(functions)
    sys.modules[module.__name__] = module  # so that ``from glassnet.backends import cudnn`` works too
    return module


def _false():
    return False


def _zero():
    return 0


def _nothing(*args, **kwargs):
    return None


cuda = _module(
    "cuda", "glassnet has no CUDA backend: is_available() is False and device_count() is 0.",
    is_available=_false, device_count=_zero, is_initialized=_false,
    manual_seed=_nothing, manual_seed_all=_nothing, empty_cache=_nothing,  # harmless without a GPU, as in PyTorch
)
accelerator = _module(
    "accelerator", "glassnet has no accelerator: is_available() is False.",
    is_available=_false, device_count=_zero, current_accelerator=_nothing,
)
backends = _module("backends", "The backends PyTorch code checks for; none is available in glassnet.")
backends.mps = _module("backends.mps", "Apple's Metal backend: not in glassnet.", is_available=_false, is_built=_false)
backends.cuda = _module("backends.cuda", "CUDA: not in glassnet.", is_built=_false)
backends.cudnn = _module(
    "backends.cudnn", "cuDNN: not in glassnet; its flags may be set and change nothing.",
    is_available=_false, enabled=True, deterministic=False, benchmark=False,
)
