"""PyTorch's tensor math as functions (``gn.sin(x)``, ``gn.max(x, 1)``, ``gn.einsum(...)``),
exported at the package top level as ``torch``'s are.

Almost every one is the method of the same name (``gn.sum(x, 1)`` is ``x.sum(1)``): the
methods call the ops, and these delegate to them, so each behaviour lives in one place.
Inputs that are not tensors (numbers, lists, arrays) become tensors first.
"""

from . import ops
from .backend import xp
from .tensor import Tensor, no_grad


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _method(name):
    def function(input, *args, out=None, **kwargs):
        result = getattr(_tensor(input), name)(*args, **kwargs)
        return result if out is None else _write(name, result, out)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"``{name}(input, ...)``: ``input.{name}(...)``, as ``torch.{name}``."
    return function


def _write(name, result, out):
    """PyTorch's ``out=``: the result written into ``out``, which is returned."""
    if not isinstance(result, Tensor):
        raise TypeError(f"{name}(out=...): only single-tensor results can be written into out")
    if result.requires_grad or out.requires_grad:
        raise RuntimeError(f"{name}(out=...): functions with out=... arguments don't support automatic "
                           "differentiation; help: assign the result instead (out = ...)")
    if out.shape != result.shape:
        raise RuntimeError(f"{name}(out=...): out has shape {out.shape}, the result has shape {result.shape}")
    with no_grad():
        return out.copy_(result)


# -- elementwise ---------------------------------------------------------------------------

sin, cos, exp, log, log1p = _method("sin"), _method("cos"), _method("exp"), _method("log"), _method("log1p")
sqrt, rsqrt, erf, square = _method("sqrt"), _method("rsqrt"), _method("erf"), _method("square")
abs, sign, neg, negative = _method("abs"), _method("sign"), _method("neg"), _method("negative")  # noqa: A001
floor, ceil, round, trunc = _method("floor"), _method("ceil"), _method("round"), _method("trunc")  # noqa: A001
sigmoid, tanh, relu = _method("sigmoid"), _method("tanh"), _method("relu")
softmax, log_softmax = _method("softmax"), _method("log_softmax")
clamp = clip = _method("clamp")
add, sub, subtract, mul, multiply = _method("add"), _method("sub"), _method("sub"), _method("mul"), _method("mul")
div = divide = true_divide = _method("div")
maximum, minimum = _method("maximum"), _method("minimum")
masked_fill = _method("masked_fill")


def pow(input, exponent):  # noqa: A001 (PyTorch's name)
    """``input ** exponent``; either may be a number (``gn.pow(2, x)`` is ``2 ** x``)."""
    return input**exponent if isinstance(input, Tensor) else _tensor(exponent).__rpow__(input)


def where(condition, input=None, other=None):
    """``input`` where ``condition`` holds, else ``other`` (numbers broadcast too);
    ``where(condition)`` alone gives the indices of its true elements, one tensor per dim."""
    if input is None and other is None:
        condition = condition._data if isinstance(condition, Tensor) else xp.asarray(condition)
        return tuple(Tensor._wrap(i, False) for i in xp.nonzero(condition))
    return ops.where(condition, input, other)


# -- comparisons and tests (no gradient) ------------------------------------------------------

eq, ne, lt, le, gt, ge = _method("eq"), _method("ne"), _method("lt"), _method("le"), _method("gt"), _method("ge")
isnan, isinf, isfinite = _method("isnan"), _method("isinf"), _method("isfinite")
allclose, equal = _method("allclose"), _method("equal")
all, any = _method("all"), _method("any")  # noqa: A001
logical_not, logical_and = _method("logical_not"), _method("logical_and")
logical_or, logical_xor = _method("logical_or"), _method("logical_xor")
bitwise_not, bitwise_and = _method("bitwise_not"), _method("bitwise_and")
bitwise_or, bitwise_xor = _method("bitwise_or"), _method("bitwise_xor")

# -- reductions ------------------------------------------------------------------------------

sum, mean, prod = _method("sum"), _method("mean"), _method("prod")  # noqa: A001
std, var, norm = _method("std"), _method("var"), _method("norm")
logsumexp, cumsum = _method("logsumexp"), _method("cumsum")
max, min = _method("max"), _method("min")  # noqa: A001 (max(x), max(x, dim), max(a, b))
amax, amin, argmax, argmin = _method("amax"), _method("amin"), _method("argmax"), _method("argmin")
topk, sort, argsort = _method("topk"), _method("sort"), _method("argsort")

# -- products ----------------------------------------------------------------------------------

matmul, mm, bmm = _method("matmul"), _method("mm"), _method("bmm")


def einsum(equation, *operands):
    """Einstein summation, as NumPy's and PyTorch's (``"ij,jk->ik"``, ``"...ij->...ji"``,
    implicit outputs); the operands may also come as one list. Differentiable in each."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    return ops.Einsum.apply(*(_tensor(t) for t in operands), equation=equation)


# -- shapes and several tensors ------------------------------------------------------------

reshape, flatten = _method("reshape"), _method("flatten")
squeeze, unsqueeze, transpose, permute = _method("squeeze"), _method("unsqueeze"), _method("transpose"), _method("permute")
split, chunk, unbind = _method("split"), _method("chunk"), _method("unbind")
tril, triu, gather, flip = _method("tril"), _method("triu"), _method("gather"), _method("flip")
cat = concat = concatenate = ops.concatenate
stack = ops.stack

__all__ = [
    "sin", "cos", "exp", "log", "log1p", "sqrt", "rsqrt", "erf", "square", "abs", "sign", "neg", "negative",
    "floor", "ceil", "round", "trunc", "sigmoid", "tanh", "relu", "softmax", "log_softmax", "clamp", "clip",
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "maximum", "minimum",
    "masked_fill", "pow", "where",
    "eq", "ne", "lt", "le", "gt", "ge", "isnan", "isinf", "isfinite", "allclose", "equal", "all", "any",
    "logical_not", "logical_and", "logical_or", "logical_xor", "bitwise_not", "bitwise_and", "bitwise_or",
    "bitwise_xor",
    "sum", "mean", "prod", "std", "var", "norm", "logsumexp", "cumsum", "max", "min", "amax", "amin",
    "argmax", "argmin", "topk", "sort", "argsort",
    "matmul", "mm", "bmm", "einsum",
    "reshape", "flatten", "squeeze", "unsqueeze", "transpose", "permute", "split", "chunk", "unbind",
    "tril", "triu", "gather", "flip", "cat", "concat", "concatenate", "stack",
]
