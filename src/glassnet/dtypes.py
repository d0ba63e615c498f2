"""Data types by PyTorch's names, and PyTorch's rule for the type of a mixed operation.

glassnet's dtypes are NumPy's dtype objects, so ``x.dtype == gn.float32`` and
``x.dtype == np.float32`` both hold. Type promotion follows PyTorch, not NumPy: an int64
tensor times a float32 tensor is float32 (NumPy says float64), a float32 tensor times a
Python float stays float32, and an integer tensor divided by 255 is float32.
"""
import builtins
import numbers

from .backend import xp

float16 = half = xp.dtype("float16")
float32 = float = xp.dtype("float32")
float64 = double = xp.dtype("float64")
int8 = xp.dtype("int8")
int16 = short = xp.dtype("int16")
int32 = int = xp.dtype("int32")
int64 = long = xp.dtype("int64")
uint8 = xp.dtype("uint8")
bool = xp.dtype("bool")  # noqa: A001 (PyTorch's name)

_BY_NAME = {
    "float16": float16, "half": float16, "float32": float32, "float": float32, "float64": float64,
    "double": float64, "int8": int8, "int16": int16, "short": int16, "int32": int32, "int": int32,
    "int64": int64, "long": int64, "uint8": uint8, "bool": bool,
}
# the legacy type names PyTorch's ``Tensor.type()`` gives and takes ("torch.FloatTensor")
_TENSOR_TYPES = {
    float32: "FloatTensor", float64: "DoubleTensor", float16: "HalfTensor", int64: "LongTensor",
    int32: "IntTensor", int16: "ShortTensor", int8: "CharTensor", uint8: "ByteTensor", bool: "BoolTensor",
}
_BY_NAME.update({name: dtype for dtype, name in _TENSOR_TYPES.items()})
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}  # bool < integer < floating point


def as_dtype(dtype):
    """A dtype from PyTorch's names (``"long"``, ``"float"``, ``"torch.FloatTensor"``), NumPy's,
    or a dtype object."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        name = dtype.removeprefix("torch.").removeprefix("glassnet.")
        if name in _BY_NAME:
            return _BY_NAME[name]
    try:
        dtype = xp.dtype(dtype)
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}; glassnet has {sorted(set(_BY_NAME))}") from None
    if dtype.kind not in _CATEGORY:
        raise TypeError(f"dtype {dtype} is not supported; glassnet has {sorted(set(_BY_NAME))}")
    return dtype


def tensor_type_name(dtype):
    """PyTorch's legacy name of a tensor type: ``"FloatTensor"`` for float32."""
    return _TENSOR_TYPES[dtype]


def category(dtype):
    return _CATEGORY[dtype.kind]


def _promote(dtypes):
    # within a group the highest category wins outright (int64 with float32 is float32);
    # dtypes of that category widen as NumPy widens them (float32 with float64 is float64)
    top = max(category(d) for d in dtypes)
    result = None
    for d in dtypes:
        if category(d) == top:
            result = d if result is None else xp.promote_types(result, d)
    return result


def result_type(*operands):
    """The dtype of an elementwise op on ``operands`` (tensors, arrays and Python numbers),
    by PyTorch's rule: tensors with dimensions decide; a 0-d tensor, then a Python number,
    counts only when it is of a higher category (bool < int < float), and a Python
    number then gives its category's default (float32 for a float, int64 for an int).

    >>> import glassnet as gn
    >>> gn.result_type(gn.tensor([1, 2]), 2.5), gn.result_type(gn.tensor([1.0]), gn.tensor([1]))
    (dtype('float32'), dtype('float32'))
    """
    dimensioned, zero_dim, numbers_ = [], [], []
    for x in operands:
        if isinstance(x, (numbers.Number, xp.generic)):
            numbers_.append(number_dtype(x))
        elif x.ndim == 0:
            zero_dim.append(x.dtype)
        else:
            dimensioned.append(x.dtype)
    result = _promote(dimensioned) if dimensioned else None
    for group in (zero_dim, numbers_):
        if group:
            candidate = _promote(group)
            if result is None or category(candidate) > category(result):
                result = candidate
    return result


def number_dtype(x):
    """The dtype PyTorch gives a Python number: bool, int64 or float32."""
    if isinstance(x, (builtins.bool, xp.bool_)):
        return bool
    if isinstance(x, (numbers.Integral, xp.integer)):
        return int64
    if isinstance(x, (numbers.Real, xp.floating)):
        return float32
    raise TypeError(f"complex numbers are not supported, got {x!r}")
