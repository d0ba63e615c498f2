"""Checking backpropagation against calculus: central finite differences in float64."""
import numpy as np

from .tensor import Tensor, no_grad


class GradcheckError(AssertionError):
    """Autograd's derivative differs from the numerical one."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0, raise_exception=True):
    """Compare the gradients that autograd computes for ``fn(*inputs)`` with central
    finite differences, (f(x + eps) - f(x - eps)) / (2 eps), in float64.

    ``fn`` returns a tensor (or a tuple of tensors) of any shape; it is reduced to a
    scalar by a fixed random weighting, which checks the whole Jacobian-vector product.
    Inputs that are tensors with ``requires_grad`` are checked; other arguments are passed
    as they are. On a mismatch it names the input and element and prints the received
    (autograd) and expected (numerical) derivatives.

    >>> import glassnet as gn
    >>> x = gn.tensor([0.5, -1.0, 2.0], requires_grad=True)
    >>> gn.gradcheck(lambda t: (t * t).tanh(), [x])
    True
    """
    rng = np.random.default_rng(seed)
    inputs = [_to_float64(x) for x in inputs]
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad; pass tensors created with requires_grad=True")

    outputs = _as_tuple(fn(*inputs))
    weights = [rng.standard_normal(out.shape) for out in outputs]

    def weighted_sum():
        with no_grad():
            return sum(float((out._data.astype(np.float64) * w).sum()) for out, w in zip(_as_tuple(fn(*inputs)), weights))

    for i in checked:
        inputs[i].grad = None
    scalar = sum((out * Tensor(w)).sum() for out, w in zip(outputs, weights) if out.requires_grad)
    if isinstance(scalar, Tensor):
        scalar.backward()

    for i in checked:
        x = inputs[i]
        received = x.grad._data if x.grad is not None else np.zeros_like(x._data)
        expected = np.zeros_like(x._data)
        for index in np.ndindex(x.shape):
            original = x._data[index]
            x._data[index] = original + eps
            plus = weighted_sum()
            x._data[index] = original - eps
            minus = weighted_sum()
            x._data[index] = original
            expected[index] = (plus - minus) / (2 * eps)
        if not np.allclose(received, expected, atol=atol, rtol=rtol):
            worst = tuple(int(k) for k in np.unravel_index(np.argmax(np.abs(received - expected)), x.shape))
            message = (
                f"gradcheck: the gradient of input {i} (shape {x.shape}) does not match finite differences.\n"
                f"  worst element {worst}: received {float(received[worst])!r}, expected {float(expected[worst])!r}\n"
                f"  received (autograd):\n{received}\n  expected (numerical):\n{expected}"
            )
            if raise_exception:
                raise GradcheckError(message)
            print(message)
            return False
    return True


def _to_float64(x):
    # float64 tensors are used as they are, so a layer converted with .double() can
    # have its own parameters checked in place
    if isinstance(x, Tensor) and x.dtype.kind == "f" and x.dtype != np.float64:
        return Tensor(x._data.astype(np.float64), requires_grad=x.requires_grad)
    return x


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)
