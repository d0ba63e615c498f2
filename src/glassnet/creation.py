"""Making tensors, with PyTorch's signatures: ``gn.zeros(2, 3)``, ``gn.arange(10)``,
``gn.randn(4, 8, requires_grad=True)``, ``gn.full_like(x, 0.5)``...

Every function takes ``dtype=``, ``device=`` ("cpu" is the one device; see
:mod:`glassnet.device`) and ``requires_grad=``. Sizes may be given as varargs or as one
sequence (``zeros(2, 3)``, ``zeros((2, 3))``, ``zeros([2, 3])``). Floating-point results
are float32 unless a dtype is given. Random tensors draw from glassnet's generator
(:func:`glassnet.random.generator`), so :func:`manual_seed` (``gn.seed``) repeats them.

>>> import glassnet as gn
>>> gn.zeros(2, 3).shape, gn.arange(5).dtype, gn.arange(0, 1, 0.25).dtype
((2, 3), dtype('int64'), dtype('float32'))
"""
import numbers

from . import dtypes, random
from .backend import xp
from .device import as_device
from .size import sizes
from .tensor import Tensor, _as_array


def _make(array, dtype, device, requires_grad, who):
    """The tensor around a fresh ``array`` (cast to ``dtype`` if given), on the CPU."""
    as_device(device, who)
    dtype = dtypes.as_dtype(dtype)
    if dtype is not None and array.dtype != dtype:
        array = array.astype(dtype)
    if requires_grad and array.dtype.kind != "f":
        raise TypeError(
            f"{who}: only floating-point tensors can require gradients, got dtype {array.dtype}; "
            "help: pass dtype=glassnet.float32"
        )
    return Tensor._wrap(array, bool(requires_grad))


def _dtype(dtype, default):
    return default if dtype is None else dtypes.as_dtype(dtype)


def _float_dtype(dtype, who):
    """The dtype of a random float tensor: float32 unless a float dtype is given."""
    dtype = _dtype(dtype, dtypes.float32)
    if dtype.kind != "f":
        raise RuntimeError(f"{who}: needs a floating point dtype, got {dtype}; help: use gn.randint for integers")
    return dtype


def _draw(draw, shape, dtype):
    # NumPy's generators make float32 and float64 directly; float16 is drawn as float32
    return draw(shape, dtype=dtype if dtype in (dtypes.float32, dtypes.float64) else dtypes.float32)


def _number(x):
    return x.item() if isinstance(x, (Tensor, xp.ndarray, xp.generic)) else x


# -- from data ------------------------------------------------------------------------------


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of ``data``: a number, nested lists, a NumPy array, a
    tensor, or a list of 0-d tensors.

    Without ``dtype``: Python floats become float32, ints int64, bools bool (as in
    PyTorch); a NumPy array or tensor keeps its dtype (float64 stays float64).

    >>> import glassnet as gn
    >>> gn.tensor([1.0, 2.0]).dtype, gn.tensor([1, 2]).dtype, gn.tensor([True]).dtype
    (dtype('float32'), dtype('int64'), dtype('bool'))
    """
    dtype = dtypes.as_dtype(dtype)
    if dtype is None and isinstance(data, (list, tuple)) and data and all(isinstance(d, Tensor) for d in data):
        dtype = dtypes.result_type(*data)  # 0-d tensors: the widest of the highest kind, as in PyTorch
    array = _as_array(data, dtype)
    plain = not isinstance(data, (Tensor, xp.ndarray, xp.generic))
    if dtype is None and plain and array.dtype.kind in "iu":
        array = array.astype(dtypes.int64, copy=False)  # Python ints: int64 on every platform
    if not plain and xp.may_share_memory(array, _as_array(data)):
        array = array.copy(order="K")  # keeps the memory layout (batch-last views stay so)
    return _make(array, None, device, requires_grad, "tensor()")


def as_tensor(data, dtype=None, device=None):
    """``data`` as a tensor, without copying when it already is one (or is a NumPy array)
    of the right dtype: the result then shares its memory.

    >>> import glassnet as gn, numpy as np
    >>> a = np.zeros(3, dtype=np.float32)
    >>> gn.as_tensor(a).numpy() is a
    True
    """
    as_device(device, "as_tensor()")
    dtype = dtypes.as_dtype(dtype)
    if isinstance(data, Tensor):
        return data if dtype is None or dtype == data.dtype else data.to(dtype)
    if isinstance(data, xp.ndarray):
        dtypes.as_dtype(data.dtype)  # an unsupported dtype raises here
        return Tensor._wrap(data if dtype is None or dtype == data.dtype else data.astype(dtype), False)
    return tensor(data, dtype=dtype)


def from_numpy(array):
    """A tensor that shares ``array``'s memory (and dtype): changing one changes the other.

    >>> import glassnet as gn, numpy as np
    >>> a = np.zeros(2)
    >>> t = gn.from_numpy(a)
    >>> a[0] = 5
    >>> t
    tensor([5., 0.], dtype=glassnet.float64)
    """
    if not isinstance(array, xp.ndarray):
        raise TypeError(f"from_numpy: expected a NumPy array, got {type(array).__name__}")
    dtypes.as_dtype(array.dtype)
    return Tensor._wrap(array, False)


# -- filled ------------------------------------------------------------------------------------


def zeros(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros (float32 unless ``dtype``): ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return _make(xp.zeros(sizes(size, "zeros"), _dtype(dtype, dtypes.float32)), None, device, requires_grad, "zeros()")


def ones(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of ones (float32 unless ``dtype``)."""
    return _make(xp.ones(sizes(size, "ones"), _dtype(dtype, dtypes.float32)), None, device, requires_grad, "ones()")


def empty(*size, dtype=None, device=None, requires_grad=False):
    """A tensor whose values are whatever its new memory held: fill it before reading."""
    return _make(xp.empty(sizes(size, "empty"), _dtype(dtype, dtypes.float32)), None, device, requires_grad, "empty()")


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor of ``fill_value``; its dtype follows the value (float → float32, int →
    int64, bool → bool) unless ``dtype`` is given.

    >>> import glassnet as gn
    >>> gn.full((2,), 7).dtype, gn.full((2,), 0.5).dtype
    (dtype('int64'), dtype('float32'))
    """
    fill_value = _number(fill_value)
    dtype = _dtype(dtype, dtypes.number_dtype(fill_value))
    return _make(xp.full(sizes((size,), "full"), fill_value, dtype), None, device, requires_grad, "full()")


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    """The ``n`` x ``m`` identity matrix (``m`` defaults to ``n``)."""
    return _make(xp.eye(n, n if m is None else m, dtype=_dtype(dtype, dtypes.float32)), None, device, requires_grad, "eye()")


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """``start``, ``start + step``, ... up to (not including) ``end``; ``arange(n)`` counts
    from 0. int64 when every argument is an int, float32 when any is a float.

    >>> import glassnet as gn
    >>> gn.arange(0, 1, 0.25)
    tensor([0.0000, 0.2500, 0.5000, 0.7500])
    """
    start, end, step = (_number(v) for v in ((0, start, step) if end is None else (start, end, step)))
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and lower bound inconsistent with step sign (from {start} to {end} by {step})")
    if dtype is None:
        dtype = dtypes.float32 if any(isinstance(v, float) for v in (start, end, step)) else dtypes.int64
    dtype = dtypes.as_dtype(dtype)
    # as PyTorch: the count is ceil((end - start) / step), the values start + i * step in
    # double precision, then rounded to the dtype
    count = max(int(xp.ceil((end - start) / step)), 0)
    values = start + xp.arange(count, dtype=xp.float64 if dtype.kind == "f" else xp.int64) * step
    return _make(values.astype(dtype, copy=False), None, device, requires_grad, "arange()")


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end``, both included."""
    dtype = _dtype(dtype, dtypes.float32)
    values = xp.linspace(_number(start), _number(end), steps, dtype=xp.float64)
    return _make(values.astype(dtype, copy=False), None, device, requires_grad, "linspace()")


def zeros_like(input, dtype=None, device=None, requires_grad=False):  # noqa: A002 (PyTorch's name)
    """Zeros of ``input``'s shape and (unless ``dtype``) dtype."""
    return zeros(input.shape, dtype=_dtype(dtype, input.dtype), device=device, requires_grad=requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False):  # noqa: A002
    return ones(input.shape, dtype=_dtype(dtype, input.dtype), device=device, requires_grad=requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False):  # noqa: A002
    return empty(input.shape, dtype=_dtype(dtype, input.dtype), device=device, requires_grad=requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False):  # noqa: A002
    return full(input.shape, fill_value, dtype=_dtype(dtype, input.dtype), device=device, requires_grad=requires_grad)


# -- random ------------------------------------------------------------------------------------


def manual_seed(seed):
    """Seed glassnet's random generator (the same as ``gn.seed``) and return it.

    >>> import glassnet as gn
    >>> _ = gn.manual_seed(0); a = gn.rand(3)
    >>> _ = gn.manual_seed(0); gn.rand(3).tolist() == a.tolist()
    True
    """
    random.seed(int(seed))
    return random.generator()


def _generator(generator):
    # PyTorch code passes the object manual_seed returned: here, a NumPy Generator
    return generator if generator is not None else random.generator()


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform samples in [0, 1), float32 unless ``dtype``."""
    dtype = _float_dtype(dtype, "rand()")
    array = _draw(_generator(generator).random, sizes(size, "rand"), dtype)
    return _make(array, dtype, device, requires_grad, "rand()")


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Samples of the standard normal distribution, float32 unless ``dtype``."""
    dtype = _float_dtype(dtype, "randn()")
    array = _draw(_generator(generator).standard_normal, sizes(size, "randn"), dtype)
    return _make(array, dtype, device, requires_grad, "randn()")


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """Random integers in [low, high), int64 unless ``dtype``: ``randint(high, size)``
    or ``randint(low, high, size)``.

    >>> import glassnet as gn
    >>> gn.randint(10, (2, 3)).shape, gn.randint(5, 10, (4,)).dtype
    ((2, 3), dtype('int64'))
    """
    if size is None and high is not None and not isinstance(high, numbers.Number):
        low, high, size = 0, low, high  # randint(high, size)
    elif high is None:
        low, high = 0, low  # randint(high, size=...)
    if size is None:
        raise TypeError("randint() missing the size: randint(high, size) or randint(low, high, size)")
    array = _generator(generator).integers(_number(low), _number(high), sizes((size,), "randint"), dtype=xp.int64)
    return _make(array, _dtype(dtype, dtypes.int64), device, requires_grad, "randint()")


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0, ..., n - 1 (int64 unless ``dtype``)."""
    array = _generator(generator).permutation(int(n))
    return _make(array, _dtype(dtype, dtypes.int64), device, requires_grad, "randperm()")


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """Normal samples: ``normal(mean, std, size)`` with numbers, or elementwise with tensors
    (``normal(means, stds)``, ``normal(0.0, stds)``; the shapes broadcast). The sample is
    ``mean + std * noise``, so gradients reach tensor means and stds, as in PyTorch.

    >>> import glassnet as gn
    >>> gn.normal(2.0, 3.0, (2, 2)).shape, gn.normal(gn.zeros(5), 1.0).shape
    ((2, 2), (5,))
    """
    tensors = [x for x in (mean, std) if isinstance(x, Tensor)]
    if not tensors:
        if size is None:
            raise TypeError("normal() with numbers for mean and std needs a size: normal(mean, std, size)")
        noise = randn(size, generator=generator, dtype=dtype, device=device)
        return _make((float(mean) + float(std) * noise._data).astype(noise.dtype, copy=False), None, None, requires_grad, "normal()")
    as_device(device, "normal()")
    dtype = _float_dtype(_dtype(dtype, dtypes.result_type(*tensors)), "normal()")
    shape = xp.broadcast_shapes(*(t.shape for t in tensors)) if size is None else sizes((size,), "normal")
    noise = _draw(_generator(generator).standard_normal, shape, dtype).astype(dtype, copy=False)
    return mean + std * Tensor._wrap(noise, False)


def rand_like(input, dtype=None, device=None, requires_grad=False):  # noqa: A002
    return rand(input.shape, dtype=_dtype(dtype, input.dtype), device=device, requires_grad=requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False):  # noqa: A002
    return randn(input.shape, dtype=_dtype(dtype, input.dtype), device=device, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, dtype=None, device=None, requires_grad=False):  # noqa: A002
    """``randint_like(x, high)`` or ``randint_like(x, low, high)``: in ``input``'s shape and dtype."""
    low, high = (0, low) if high is None else (low, high)
    return randint(low, high, input.shape, dtype=_dtype(dtype, input.dtype), device=device, requires_grad=requires_grad)


# -- about tensors -----------------------------------------------------------------------------


def is_tensor(obj):
    """Whether ``obj`` is a glassnet tensor."""
    return isinstance(obj, Tensor)


def is_floating_point(input):  # noqa: A002
    return input.dtype.kind == "f"


def numel(input):  # noqa: A002
    """The number of elements of ``input``."""
    return input.numel()


def get_default_dtype():
    """The dtype of floating-point tensors made without one: float32."""
    return dtypes.float32
