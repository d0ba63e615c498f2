"""The differentiable operations on tensors, each a forward and its local backward side by side.

Every backward receives ``grad``, the gradient of the final output with respect to this
op's output, and returns the gradient with respect to each input (the chain rule, one
link at a time). Ops with broadcasting inputs send gradients through ``unbroadcast``.
"""
import math

from .backend import xp
from .tensor import Function, Tensor, unbroadcast

# -- elementwise binary (broadcasting) ---------------------------------------------------


def _check_broadcast(op, a, b):
    try:
        return xp.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together "
            "(trailing dimensions must be equal or 1)"
        ) from None


class Add(Function):
    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        if a.shape != b.shape:
            _check_broadcast("add", a, b)
        return a + b

    def backward(self, grad):
        return unbroadcast(grad, self.a_shape), unbroadcast(grad, self.b_shape)


class Sub(Function):
    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        if a.shape != b.shape:
            _check_broadcast("sub", a, b)
        return a - b

    def backward(self, grad):
        return unbroadcast(grad, self.a_shape), unbroadcast(-grad, self.b_shape)


class Mul(Function):
    def forward(self, a, b):
        if a.shape != b.shape:
            _check_broadcast("mul", a, b)
        self.a, self.b = a, b
        return a * b

    def backward(self, grad):
        a_needs, b_needs = self.needs_input_grad
        grad_a = unbroadcast(grad * self.b, self.a.shape) if a_needs else None
        grad_b = unbroadcast(grad * self.a, self.b.shape) if b_needs else None
        return grad_a, grad_b


class Div(Function):
    def forward(self, a, b):
        if a.shape != b.shape:
            _check_broadcast("div", a, b)
        self.a, self.b = a, b
        return a / b

    def backward(self, grad):
        a_needs, b_needs = self.needs_input_grad
        grad_a = unbroadcast(grad / self.b, self.a.shape) if a_needs else None
        grad_b = unbroadcast(-grad * self.a / (self.b * self.b), self.b.shape) if b_needs else None
        return grad_a, grad_b


class Pow(Function):
    """``a ** b`` with both a tensor: d/da = b a^(b-1), d/db = a^b log(a)."""

    def forward(self, a, b):
        if a.shape != b.shape:
            _check_broadcast("pow", a, b)
        self.a, self.b = a, b
        self.out = a**b
        return self.out

    def backward(self, grad):
        a_needs, b_needs = self.needs_input_grad
        grad_a = unbroadcast(grad * self.b * self.a ** (self.b - 1), self.a.shape) if a_needs else None
        grad_b = unbroadcast(grad * self.out * xp.log(self.a), self.b.shape) if b_needs else None
        return grad_a, grad_b


class PowScalar(Function):
    """``x ** c`` for a constant ``c``: d/dx = c x^(c-1)."""

    def forward(self, x, exponent):
        self.x, self.exponent = x, exponent
        return x**exponent

    def backward(self, grad):
        return grad * (self.exponent * self.x ** (self.exponent - 1))


class MatMul(Function):
    """Matrix product with NumPy's rules: 1-D operands are promoted to a row/column and
    the added axis removed again; leading (batch) axes broadcast."""

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul: both operands need at least one dimension; use * for scalars")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} do not fit: the last dimension of the first "
                f"({a.shape[-1]}) must equal the {'second-to-last' if b.ndim > 1 else 'only'} dimension "
                f"of the second ({b.shape[-2 if b.ndim > 1 else 0]})"
            )
        try:
            xp.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(f"matmul: the batch dimensions of shapes {a.shape} and {b.shape} cannot be broadcast together") from None
        self.a, self.b = a, b
        return a @ b

    def backward(self, grad):
        a, b = self.a, self.b
        a2 = a[None, :] if a.ndim == 1 else a  # (1, k)
        b2 = b[:, None] if b.ndim == 1 else b  # (k, 1)
        if b.ndim == 1:  # first, so that a 1-D @ 1-D scalar grows (1,) then (1, 1)
            grad = xp.expand_dims(grad, -1)
        if a.ndim == 1:
            grad = xp.expand_dims(grad, -2)
        a_needs, b_needs = self.needs_input_grad
        grad_a = unbroadcast(grad @ xp.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape) if a_needs else None
        grad_b = unbroadcast(xp.swapaxes(a2, -1, -2) @ grad, b2.shape).reshape(b.shape) if b_needs else None
        return grad_a, grad_b


# -- elementwise unary ---------------------------------------------------------------------


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, grad):
        return -grad


class Cast(Function):
    def forward(self, x, dtype):
        self.dtype = x.dtype
        return x.astype(dtype)

    def backward(self, grad):
        return grad.astype(self.dtype)


class Exp(Function):
    def forward(self, x):
        self.out = xp.exp(x)
        return self.out

    def backward(self, grad):
        return grad * self.out


class Log(Function):
    def forward(self, x):
        self.x = x
        return xp.log(x)

    def backward(self, grad):
        return grad / self.x


class Sqrt(Function):
    def forward(self, x):
        self.out = xp.sqrt(x)
        return self.out

    def backward(self, grad):
        return grad / (2 * self.out)


class Abs(Function):
    def forward(self, x):
        self.x = x
        return xp.abs(x)

    def backward(self, grad):
        return grad * xp.sign(self.x)


class Clip(Function):
    """Values below ``low`` or above ``high`` are cut off; they pass no gradient."""

    def forward(self, x, low=None, high=None):
        self.inside = xp.ones(x.shape, dtype=bool)
        if low is not None:
            self.inside &= x >= low
        if high is not None:
            self.inside &= x <= high
        return xp.clip(x, low, high)

    def backward(self, grad):
        return grad * self.inside


class ReLU(Function):
    def forward(self, x):
        self.out = xp.maximum(x, 0)
        return self.out

    def backward(self, grad):
        return grad * (self.out > 0)


class LeakyReLU(Function):
    def forward(self, x, negative_slope=0.01):
        self.positive, self.slope = x > 0, negative_slope
        return xp.where(self.positive, x, x * negative_slope)

    def backward(self, grad):
        return xp.where(self.positive, grad, grad * self.slope)


class Sigmoid(Function):
    def forward(self, x):
        # exp of a negative number only, so large |x| cannot overflow
        e = xp.exp(-xp.abs(x))
        self.out = xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        return self.out

    def backward(self, grad):
        return grad * self.out * (1 - self.out)


class Tanh(Function):
    def forward(self, x):
        self.out = xp.tanh(x)
        return self.out

    def backward(self, grad):
        return grad * (1 - self.out * self.out)


# Abramowitz & Stegun 7.1.26 for erfc: |error| < 1.5e-7, below float32's resolution near 1
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def _normal_cdf(x):
    """Φ(x), the standard normal CDF, and exp(-x²/2), which GELU's backward reuses.

    NumPy has no erf; SciPy's computes in double precision and is slow, so float32 uses a
    rational approximation accurate to float32 precision, computed in place (the array is
    large; every temporary costs a pass over memory). float64 (gradient checks) uses SciPy.
    """
    gauss = xp.square(x)
    gauss *= -0.5
    # exp would return subnormals below e^-87, which run many times slower; e^-80 is 0 here
    xp.maximum(gauss, -80, out=gauss)
    xp.exp(gauss, out=gauss)
    if x.dtype == xp.float64:
        from scipy.special import erf  # SciPy comes with scikit-learn

        return 0.5 * (1 + erf(x / math.sqrt(2))), gauss
    t = xp.abs(x)
    t *= _ERF_P / math.sqrt(2)
    t += 1
    xp.reciprocal(t, out=t)
    tail = t * _ERF_A[4]  # Horner's rule; tail ends as P(Z > |x|) = erfc(|x|/√2) / 2
    for coefficient in reversed(_ERF_A[:4]):
        tail += coefficient
        tail *= t
    tail *= gauss
    tail *= 0.5
    # Φ(x) = 1 - tail for x ≥ 0 and tail for x < 0, i.e. 0.5 + sign(x) (0.5 - tail);
    # copysign, as np.where is several times slower on large float32 arrays
    cdf = xp.subtract(0.5, tail, out=tail)
    xp.copysign(cdf, x, out=cdf)
    cdf += 0.5
    return cdf, gauss


class GELU(Function):
    """x Φ(x), Φ the standard normal CDF; ``approximate='tanh'`` uses the tanh formula."""

    def forward(self, x, approximate="none"):
        self.x, self.approximate = x, approximate
        if approximate == "tanh":
            self.inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
            self.t = xp.tanh(self.inner)
            return 0.5 * x * (1 + self.t)
        self.cdf, self.gauss = _normal_cdf(x)
        return x * self.cdf

    def backward(self, grad):
        x = self.x
        if self.approximate == "tanh":
            d_inner = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x * x)
            return grad * (0.5 * (1 + self.t) + 0.5 * x * (1 - self.t * self.t) * d_inner)
        # d/dx x Φ(x) = Φ(x) + x φ(x), φ(x) = exp(-x²/2) / √(2π)
        slope = x * self.gauss
        slope *= 1 / math.sqrt(2 * math.pi)
        slope += self.cdf
        slope *= grad
        return slope


class Softmax(Function):
    """exp(x) / sum(exp(x)) along ``axis``; the max is subtracted first for stability."""

    def forward(self, x, axis=-1):
        e = xp.exp(x - x.max(axis=axis, keepdims=True))
        self.out, self.axis = e / e.sum(axis=axis, keepdims=True), axis
        return self.out

    def backward(self, grad):
        # Jacobian-vector product: s * (g - sum(g * s))
        s = self.out
        return s * (grad - (grad * s).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """x - logsumexp(x) along ``axis``, computed without overflow."""

    def forward(self, x, axis=-1):
        shifted = x - x.max(axis=axis, keepdims=True)
        self.out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        self.axis = axis
        return self.out

    def backward(self, grad):
        return grad - xp.exp(self.out) * grad.sum(axis=self.axis, keepdims=True)


# -- reductions ------------------------------------------------------------------------------


class Sum(Function):
    def forward(self, x, axis=None, keepdims=False):
        self.shape, self.axis, self.keepdims = x.shape, axis, keepdims
        return xp.asarray(x.sum(axis=axis, keepdims=keepdims))

    def backward(self, grad):
        if not self.keepdims and self.axis is not None:
            grad = xp.expand_dims(grad, self.axis)
        return xp.broadcast_to(grad, self.shape)

    @staticmethod
    def reduced_size(shape, axis):
        """How many elements remain after summing ``shape`` over ``axis``."""
        if axis is None:
            return 1
        axes = (axis,) if isinstance(axis, int) else axis
        kept = [n for i, n in enumerate(shape) if i not in {a % len(shape) for a in axes}]
        return math.prod(kept)


class Max(Function):
    """The gradient goes to the maximal elements (split evenly between ties)."""

    def forward(self, x, axis=None, keepdims=False):
        self.x, self.axis, self.keepdims = x, axis, keepdims
        self.out = x.max(axis=axis, keepdims=True)
        if keepdims:
            return self.out
        return self.out.reshape(()) if axis is None else xp.squeeze(self.out, axis=axis)

    def backward(self, grad):
        if not self.keepdims:
            grad = grad.reshape(self.out.shape)
        winners = self.x == self.out
        return winners * (grad / winners.sum(axis=self.axis, keepdims=True, dtype=grad.dtype))


# -- shape and indexing ----------------------------------------------------------------------


class Reshape(Function):
    def forward(self, x, shape):
        self.shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) into {shape}") from None

    def backward(self, grad):
        return grad.reshape(self.shape)


class Transpose(Function):
    def forward(self, x, axes):
        if sorted(a % x.ndim for a in axes) != list(range(x.ndim)):
            raise ValueError(f"transpose: {axes} is not a permutation of the {x.ndim} axes of shape {x.shape}")
        self.axes = tuple(a % x.ndim for a in axes)  # argsort in backward needs them non-negative
        return x.transpose(self.axes)

    def backward(self, grad):
        return grad.transpose(xp.argsort(self.axes))


class GetItem(Function):
    """Indexing and slicing; the gradient lands back in the selected positions."""

    def forward(self, x, index):
        self.shape, self.dtype, self.index = x.shape, x.dtype, index
        return x[index]

    def backward(self, grad):
        full = xp.zeros(self.shape, dtype=grad.dtype)
        index = self.index if isinstance(self.index, tuple) else (self.index,)
        if any(isinstance(i, (xp.ndarray, list)) for i in index):
            xp.add.at(full, self.index, grad)  # fancy indices may repeat: accumulate
        else:
            full[self.index] = grad
        return full


class Concatenate(Function):
    def forward(self, *arrays, axis=0):
        shapes = [a.shape for a in arrays]
        if len({a.ndim for a in arrays}) != 1 or len({s[:axis % len(s)] + s[axis % len(s) + 1:] for s in shapes}) != 1:
            raise ValueError(f"concatenate: shapes {shapes} differ outside axis {axis}")
        self.axis = axis
        self.splits = xp.cumsum([a.shape[axis] for a in arrays])[:-1]
        return xp.concatenate(arrays, axis=axis)

    def backward(self, grad):
        return tuple(xp.split(grad, self.splits, axis=self.axis))


class Where(Function):
    """``where(condition, a, b)``: the gradient flows to ``a`` where condition holds, else to ``b``."""

    def forward(self, a, b, condition):
        self.condition, self.a_shape, self.b_shape = condition, a.shape, b.shape
        return xp.where(condition, a, b)

    def backward(self, grad):
        zero = xp.zeros((), dtype=grad.dtype)
        return (
            unbroadcast(xp.where(self.condition, grad, zero), self.a_shape),
            unbroadcast(xp.where(self.condition, zero, grad), self.b_shape),
        )


# -- functions over several tensors -------------------------------------------------------------


def concatenate(tensors, axis=0, *, dim=None):
    """Join tensors along an existing axis (``torch.cat``)."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    return Concatenate.apply(*tensors, axis=axis if dim is None else dim)


def stack(tensors, axis=0, *, dim=None):
    """Join tensors along a new axis: each gains an axis of size 1, then they are concatenated."""
    axis = axis if dim is None else dim
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    return concatenate([t.unsqueeze(axis) for t in tensors], axis=axis)


def where(condition, a, b):
    condition = condition.data if isinstance(condition, Tensor) else xp.asarray(condition)
    if not isinstance(a, Tensor):
        a = b._operand(a) if isinstance(b, Tensor) else Tensor(a)
    if not isinstance(b, Tensor):
        b = a._operand(b)
    return Where.apply(a, b, condition=condition)
