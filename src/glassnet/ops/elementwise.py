"""Elementwise ops: each output element depends on the matching element of each input.

The binary ones broadcast their inputs as NumPy does; their backward sums the gradient
back to each input's shape (``unbroadcast``).
"""
import math

from .. import compiled
from ..backend import in_layout_of, xp
from ..tensor import Function, Tensor, unbroadcast
from ..threads import CHEAP, add, map_blocks

# -- binary (broadcasting) -----------------------------------------------------------------


def _check_broadcast(op, a, b):
    """NumPy's broadcasting rule, checked before the op so that a mismatch names it: the
    shapes aligned at their ends, each pair of sizes equal or one of them 1. (A loop over a
    few numbers: ``xp.broadcast_shapes`` takes 5 us to say the same.)"""
    for m, n in zip(reversed(a.shape), reversed(b.shape)):
        if m != n and m != 1 and n != 1:
            raise ValueError(
                f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together "
                "(trailing dimensions must be equal or 1)"
            )


class Add(Function):
    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        if a.shape != b.shape:
            _check_broadcast("add", a, b)
            return a + b
        return add(a, b) if a.dtype == b.dtype else a + b  # add: on all threads where it is large

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
        # each gradient needs only the other factor: save just that (so x.mul_(3) can
        # change x in place without invalidating this op)
        a_needs, b_needs = self.needs_input_grad
        self.a, self.b = (a if b_needs else None), (b if a_needs else None)
        self.a_shape, self.b_shape = a.shape, b.shape
        return a * b

    def backward(self, grad):
        a_needs, b_needs = self.needs_input_grad
        grad_a = unbroadcast(grad * self.b, self.a_shape) if a_needs else None
        grad_b = unbroadcast(grad * self.a, self.b_shape) if b_needs else None
        return grad_a, grad_b


class Div(Function):
    def forward(self, a, b):
        if a.shape != b.shape:
            _check_broadcast("div", a, b)
        self.a, self.b = (a if self.needs_input_grad[1] else None), b  # a only for b's gradient
        self.a_shape = a.shape
        return a / b

    def backward(self, grad):
        a_needs, b_needs = self.needs_input_grad
        grad_a = unbroadcast(grad / self.b, self.a_shape) if a_needs else None
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


class Maximum(Function):
    """The larger of two tensors, elementwise; at a tie each gets half the gradient (as PyTorch)."""

    op, wins, pick = "maximum", staticmethod(xp.greater), staticmethod(xp.maximum)

    def forward(self, a, b):
        if a.shape != b.shape:
            _check_broadcast(self.op, a, b)
        self.a_shape, self.b_shape = a.shape, b.shape
        if any(self.needs_input_grad):  # a's share of the gradient: 1 where it wins, 1/2 at ties
            one = xp.ones((), xp.result_type(a, b))
            self.share = xp.where(self.wins(a, b), one, xp.where(a == b, one / 2, 0 * one))
        return self.pick(a, b)

    def backward(self, grad):
        a_needs, b_needs = self.needs_input_grad
        grad_a = unbroadcast(grad * self.share, self.a_shape) if a_needs else None
        grad_b = unbroadcast(grad * (1 - self.share), self.b_shape) if b_needs else None
        return grad_a, grad_b


class Minimum(Maximum):
    """The smaller of two tensors, elementwise; ties split the gradient."""

    op, wins, pick = "minimum", staticmethod(xp.less), staticmethod(xp.minimum)


# -- unary ---------------------------------------------------------------------------------


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
        with xp.errstate(divide="ignore"):  # log(0) = -inf, silently, as in PyTorch (causal masks use it)
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


class Sin(Function):
    def forward(self, x):
        self.x = x
        return xp.sin(x)

    def backward(self, grad):
        return grad * xp.cos(self.x)


class Cos(Function):
    def forward(self, x):
        self.x = x
        return xp.cos(x)

    def backward(self, grad):
        return grad * -xp.sin(self.x)


class Log1p(Function):
    """log(1 + x), accurate for small x."""

    def forward(self, x):
        self.x = x
        return xp.log1p(x)

    def backward(self, grad):
        return grad / (1 + self.x)


class Rsqrt(Function):
    """1 / sqrt(x): d/dx = -out³ / 2."""

    def forward(self, x):
        self.out = 1 / xp.sqrt(x)
        return self.out

    def backward(self, grad):
        return grad * (-0.5 * self.out**3)


class Step(Function):
    """A piecewise-constant function (sign, floor, ceil, round, trunc): its gradient is
    zero wherever it is defined, as PyTorch's."""

    compute, keeps_integers = None, True

    def forward(self, x):
        self.shape = x.shape
        if self.keeps_integers and x.dtype.kind in "iub":
            return x.copy()  # integers are already whole
        return type(self).compute(x)

    def backward(self, grad):
        return xp.zeros(self.shape, grad.dtype)


class Sign(Step):
    compute, keeps_integers = xp.sign, False


class Floor(Step):
    compute = xp.floor


class Ceil(Step):
    compute = xp.ceil


class Round(Step):
    compute = xp.round  # halves to even, as PyTorch


class Trunc(Step):
    compute = xp.trunc


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
    """max(x, 0); the gradient passes where the output is positive. Large arrays are split
    over the threads (glassnet.threads): a plain ufunc runs on one core."""

    def forward(self, x):
        self.out = _on_threads(_relu_block, x, weight=2 * CHEAP, job="RELU")  # reads x, writes out
        return self.out

    def backward(self, grad):
        return _backward_on_threads(_relu_backward_block, self.out, grad, weight=3 * CHEAP, job="RELU_BACKWARD")


def _relu_block(x, out):
    if compiled.fits_flat(x, out):  # NumPy's float32 maximum is 3x slower than a compiled select
        return compiled.load().relu_into(compiled.flat(x), compiled.flat(out))
    xp.maximum(x, 0, out=out)


def _relu_backward_block(out, grad, grad_x):
    if compiled.fits_flat(out, grad, grad_x):
        return compiled.load().relu_backward(compiled.flat(out), compiled.flat(grad), compiled.flat(grad_x))
    xp.multiply(grad, out > 0, out=grad_x)  # the mask: a byte an element


class LeakyReLU(Function):
    def forward(self, x, negative_slope=0.01):
        self.positive, self.slope = x > 0, negative_slope
        return xp.where(self.positive, x, x * negative_slope)

    def backward(self, grad):
        return xp.where(self.positive, grad, grad * self.slope)


class Sigmoid(Function):
    """1 / (1 + e^-x); its gradient out (1 - out). Large arrays are split over the threads."""

    def forward(self, x):
        self.out = _on_threads(_sigmoid_block, x, job="SIGMOID")
        return self.out

    def backward(self, grad):
        return _grad_times(lambda out, into: xp.multiply(out, xp.subtract(1, out, out=into), out=into), self.out, grad)


def _sigmoid_block(x, out):
    if compiled.fits_flat(x, out):
        return compiled.load().sigmoid_into(compiled.flat(x), compiled.flat(out))
    # exp of a negative number only, so large |x| cannot overflow
    e = xp.exp(-xp.abs(x))
    out[...] = xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


class Tanh(Function):
    """tanh(x); its gradient 1 - out². Large arrays are split over the threads."""

    def forward(self, x):
        self.out = _on_threads(_tanh_block, x, job="TANH")
        return self.out

    def backward(self, grad):
        return _grad_times(lambda out, into: xp.subtract(1, xp.multiply(out, out, out=into), out=into), self.out, grad)


def _tanh_block(x, out):
    if compiled.fits_flat(x, out):
        return compiled.load().tanh_into(compiled.flat(x), compiled.flat(out))
    xp.tanh(x, out=out)


def _on_threads(kernel, x, weight=1.0, job=None):
    """A new array laid out as ``x``, filled by ``kernel(x_block, out_block)`` block by block
    on all threads (glassnet.threads, ``weight`` and ``job`` as there): a plain ufunc would
    run on one core."""
    out = xp.empty_like(x)
    map_blocks(kernel, x, out, weight=weight, job=job)
    return out


def _backward_on_threads(block, saved, grad, weight=1.0, job=None):
    """The input's gradient made by ``block(saved, grad, grad_x)`` block by block on all
    threads, in the memory layout of the array the op saved (its output, or its input)."""
    grad_x = xp.empty_like(saved, dtype=xp.result_type(grad, saved))
    map_blocks(block, saved, in_layout_of(saved, grad), grad_x, weight=weight, job=job)
    return grad_x


def _grad_times(slope, out, grad):
    """grad * slope(out) for an activation whose derivative is a function of its output.
    ``slope(out, into)`` may compute into the gradient's own block: no temporary arrays
    of the output's size."""
    return _backward_on_threads(lambda out, grad, grad_x: xp.multiply(grad, slope(out, grad_x), out=grad_x), out, grad)


def _erf_float64(x):
    """erf to float64 precision: SciPy's when it is installed (it is optional, not part of
    the core install), else ``math.erf`` one number at a time, exact but slow."""
    try:
        from scipy.special import erf
    except ImportError:
        return xp.vectorize(math.erf, otypes=[xp.float64])(x)
    return erf(x)


# Abramowitz & Stegun 7.1.26 for erfc: |error| < 1.5e-7, below float32's resolution near 1
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def _gauss(x, out=None):
    """exp(-x²/2), in place in ``out``."""
    gauss = xp.square(x, out=out)
    gauss *= -0.5
    # exp would return subnormals below e^-87, which run many times slower; e^-80 is 0 here
    xp.maximum(gauss, -80, out=gauss)
    return xp.exp(gauss, out=gauss)


def _normal_cdf(x, cdf=None, gauss=None):
    """Φ(x), the standard normal CDF, and exp(-x²/2), which GELU's backward reuses, into
    ``cdf`` and ``gauss`` (new arrays when not given).

    NumPy has no erf; SciPy's computes in double precision and is slow, so float32 uses a
    rational approximation accurate to float32 precision, computed in place (the array is
    large; every temporary costs a pass over memory). float64 (gradient checks) needs the
    exact erf: :func:`_erf_float64`.
    """
    cdf = xp.empty_like(x) if cdf is None else cdf
    gauss = _gauss(x, gauss)
    if x.dtype == xp.float64:
        cdf[...] = 0.5 * (1 + _erf_float64(x / math.sqrt(2)))
        return cdf, gauss
    t = xp.abs(x, out=cdf)  # t lives in cdf's memory until cdf is computed from it
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
    xp.subtract(0.5, tail, out=cdf)
    xp.copysign(cdf, x, out=cdf)
    cdf += 0.5
    return cdf, gauss


class GELU(Function):
    """x Φ(x), Φ the standard normal CDF; ``approximate='tanh'`` uses the tanh formula.

    Reference: :func:`gelu_reference` below, the formula from Erf (or Tanh) and arithmetic;
    fused so that Φ is computed in place (``_normal_cdf``), and computed again in the
    backward instead of kept (as PyTorch keeps only x), not a graph of five ops.
    """

    def forward(self, x, approximate="none"):
        self.x, self.approximate = x, approximate
        if approximate == "tanh":
            self.inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
            self.t = xp.tanh(self.inner)
            return 0.5 * x * (1 + self.t)
        out = xp.empty_like(x)
        map_blocks(_gelu_block, x, out, job="GELU")  # the blocks on all threads at once
        return out

    def backward(self, grad):
        x = self.x
        if self.approximate == "tanh":
            d_inner = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x * x)
            return grad * (0.5 * (1 + self.t) + 0.5 * x * (1 - self.t * self.t) * d_inner)
        return _backward_on_threads(_gelu_backward_block, x, grad, job="GELU_BACKWARD")


def _gelu_block(x, out):
    if compiled.fits_flat(x, out):  # the same formula in one compiled pass
        return compiled.load().gelu_forward(compiled.flat(x), compiled.flat(out))
    cdf, _ = _normal_cdf(x, gauss=out)  # out holds exp(-x²/2) until the product overwrites it
    xp.multiply(x, cdf, out=out)


def _gelu_backward_block(x, grad, grad_x):
    if compiled.fits_flat(x, grad, grad_x):
        return compiled.load().gelu_backward(compiled.flat(x), compiled.flat(grad), compiled.flat(grad_x))
    # d/dx x Φ(x) = Φ(x) + x φ(x), φ(x) = exp(-x²/2) / √(2π), both computed again here
    # rather than kept from the forward: no array the size of x to hold until backward
    cdf, slope = _normal_cdf(x, xp.empty_like(grad_x), gauss=grad_x)
    slope *= x
    slope *= 1 / math.sqrt(2 * math.pi)
    slope += cdf
    slope *= grad


def gelu_reference(x, approximate="none"):
    """GELU as its formula reads: x Φ(x) = x · ½ (1 + erf(x / √2)), from the Erf op and
    arithmetic; with ``approximate="tanh"``, ½ x (1 + tanh(√(2/π) (x + 0.044715 x³))).

    Shape: any -> the same.

    >>> import glassnet as gn
    >>> gelu_reference(gn.tensor([-1.0, 0.0, 1.0])).numpy().round(4)
    array([-0.1587,  0.    ,  0.8413], dtype=float32)
    """
    if approximate == "tanh":
        return 0.5 * x * (1 + Tanh.apply(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    return x * 0.5 * (1 + Erf.apply(x / math.sqrt(2)))


class Erf(Function):
    """The error function, erf(x) = 2 Φ(x √2) - 1, from ``_normal_cdf``; near 0 (where
    that difference would lose digits) its Taylor series. d/dx = 2/√π exp(-x²)."""

    def forward(self, x):
        cdf, self.gauss = _normal_cdf(x * math.sqrt(2))  # gauss = exp(-x²)
        out = 2 * cdf - 1
        if x.dtype != xp.float64:
            small = xp.abs(x) < 0.5
            x2 = xp.square(x)
            series = x * (1 - x2 * (1 / 3 - x2 * (1 / 10 - x2 * (1 / 42 - x2 * (1 / 216 - x2 / 1320)))))
            out = xp.where(small, series * (2 / math.sqrt(math.pi)), out).astype(x.dtype, copy=False)
        return out

    def backward(self, grad):
        return grad * (2 / math.sqrt(math.pi)) * self.gauss


GELU.reference = gelu_reference


# -- selection -----------------------------------------------------------------------------


class Logic(Function):
    """A comparison (a > b, ...) or bitwise logic (a & b, ~a, with b None) by NumPy's ufunc
    name ("greater", "bitwise_and", "invert"): a bool or integer array, no gradient. An
    op, not a bare ufunc, so that an exported graph computes a mask from its input (a
    softplus's threshold) instead of holding one recording's mask as a constant."""

    def forward(self, a, b, ufunc):
        return getattr(xp, ufunc)(a) if b is None else getattr(xp, ufunc)(a, b)

    def backward(self, grad):
        return None, None


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


def where(condition, a, b):
    condition = condition._data if isinstance(condition, Tensor) else xp.asarray(condition)
    if not isinstance(a, Tensor):
        a = b._operand(a) if isinstance(b, Tensor) else Tensor(a)
    if not isinstance(b, Tensor):
        b = a._operand(b)
    return Where.apply(a, b, condition=condition)
