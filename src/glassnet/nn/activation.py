"""Activation functions as layers: the nonlinearity between linear maps that lets a
network model more than a straight line.

Their arguments, defaults and reprs are PyTorch's; each calls its functional form in
:mod:`glassnet.nn.functional`. ``inplace=True`` overwrites the layer's input with the
result (PyTorch's memory saving), so the input must not be needed afterwards.
"""
from . import functional as F
from .init import constant_, empty
from .module import Module, Parameter


class _Activation(Module):
    """An element-wise activation with PyTorch's ``inplace`` flag, which its repr shows only when set."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""

    def _repr_with(self, text):
        return f"{text}, inplace=True" if self.inplace else text


class ReLU(_Activation):
    """max(0, x) elementwise."""

    def forward(self, input):
        return F.relu(input, self.inplace)


class LeakyReLU(_Activation):
    """x for x > 0, ``negative_slope`` * x otherwise (so no unit goes fully dead)."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__(inplace)
        self.negative_slope = negative_slope

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return self._repr_with(f"negative_slope={self.negative_slope}")


class Hardtanh(_Activation):
    """x clipped to [``min_val``, ``max_val``]."""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__(inplace)
        if min_val >= max_val:
            raise ValueError(f"Hardtanh: max_val ({max_val}) must be greater than min_val ({min_val})")
        self.min_val, self.max_val = min_val, max_val

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        return self._repr_with(f"min_val={self.min_val}, max_val={self.max_val}")


class ReLU6(Hardtanh):
    """min(max(0, x), 6): a ReLU capped at 6 (MobileNet); a Hardtanh, as in PyTorch."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def forward(self, input):
        return F.relu6(input, self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class _WithAlpha(_Activation):
    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(inplace)
        self.alpha = alpha

    def extra_repr(self):
        return self._repr_with(f"alpha={self.alpha}")


class ELU(_WithAlpha):
    """x for x > 0, ``alpha`` (exp(x) - 1) otherwise: a ReLU whose negative side saturates at -alpha."""

    def forward(self, input):
        return F.elu(input, self.alpha, self.inplace)


class CELU(_WithAlpha):
    """x for x > 0, ``alpha`` (exp(x / alpha) - 1) otherwise: ELU with a slope of 1 at 0."""

    def __init__(self, alpha=1.0, inplace=False):
        if alpha == 0:
            raise ValueError("CELU: alpha cannot be 0 (the input is divided by it)")
        super().__init__(alpha, inplace)

    def forward(self, input):
        return F.celu(input, self.alpha, self.inplace)


class SELU(_Activation):
    """scale * elu(x, alpha) with the fixed constants that make a deep network self-normalizing."""

    def forward(self, input):
        return F.selu(input, self.inplace)


class SiLU(_Activation):
    """x sigmoid(x), also called swish."""

    def forward(self, input):
        return F.silu(input, self.inplace)


class Mish(_Activation):
    """x tanh(softplus(x))."""

    def forward(self, input):
        return F.mish(input, self.inplace)


class Hardsigmoid(_Activation):
    """relu6(x + 3) / 6: a piecewise-linear sigmoid."""

    def forward(self, input):
        return F.hardsigmoid(input, self.inplace)

    def extra_repr(self):
        return ""  # PyTorch's repr does not show inplace here


class Hardswish(_Activation):
    """x relu6(x + 3) / 6: a piecewise-quadratic SiLU."""

    def forward(self, input):
        return F.hardswish(input, self.inplace)

    def extra_repr(self):
        return ""  # as Hardsigmoid's


class Threshold(_Activation):
    """x where x > ``threshold``, else ``value``."""

    def __init__(self, threshold, value, inplace=False):
        super().__init__(inplace)
        self.threshold, self.value = threshold, value

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self):
        return self._repr_with(f"threshold={self.threshold}, value={self.value}")


class PReLU(Module):
    """x for x > 0, ``weight`` * x otherwise, the slope learned: one for all channels, or
    ``num_parameters`` = C, one per channel (axis 1 of the input).

    Shape: (N, C, *) -> the same. Parameters: ``weight`` (num_parameters,), starting at ``init``.

    >>> import glassnet as gn
    >>> gn.nn.PReLU()(gn.tensor([-4.0, 0.0, 4.0])).tolist()
    [-1.0, 0.0, 4.0]
    """

    def __init__(self, num_parameters=1, init=0.25):
        super().__init__()
        if num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be at least 1, got {num_parameters}")
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(empty(num_parameters))
        self.reset_parameters()

    def reset_parameters(self):
        constant_(self.weight, self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, a smooth ReLU; x itself where beta x > ``threshold``."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class _Shrink(Module):
    def __init__(self, lambd=0.5):
        super().__init__()
        if lambd < 0:
            raise ValueError(f"{type(self).__name__}: lambd must be at least 0, got {lambd}")
        self.lambd = lambd

    def extra_repr(self):
        return str(self.lambd)  # PyTorch shows the bare number: Softshrink(0.5)


class Softshrink(_Shrink):
    """x - lambd above ``lambd``, x + lambd below -lambd, 0 between."""

    def forward(self, input):
        return F.softshrink(input, self.lambd)


class Hardshrink(_Shrink):
    """x where |x| > ``lambd``, else 0."""

    def forward(self, input):
        return F.hardshrink(input, self.lambd)


class Sigmoid(Module):
    """1 / (1 + exp(-x)): squashes to (0, 1)."""

    def forward(self, input):
        return F.sigmoid(input)


class LogSigmoid(Module):
    """log(sigmoid(x)), computed stably for large |x|."""

    def forward(self, input):
        return F.logsigmoid(input)


class Tanh(Module):
    """tanh(x): squashes to (-1, 1)."""

    def forward(self, input):
        return F.tanh(input)


class Softsign(Module):
    """x / (1 + |x|): squashes to (-1, 1), more slowly than tanh."""

    def forward(self, input):
        return F.softsign(input)


class Tanhshrink(Module):
    """x - tanh(x)."""

    def forward(self, input):
        return F.tanhshrink(input)


class GELU(Module):
    """x Φ(x), the smooth ReLU of transformers; ``approximate='tanh'`` for the fast form."""

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"  # PyTorch shows 'none' too


class GLU(Module):
    """The gated linear unit: a * sigmoid(b) for the two halves a, b of the input along ``dim``.

    Shape: (*, 2k, *) -> (*, k, *), halving ``dim``.
    """

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.glu(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(Module):
    """exp(x) / sum(exp(x)) along ``dim``: scores to probabilities. Do not put it before
    ``CrossEntropyLoss``, which applies log-softmax itself."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log(softmax(x)) along ``dim``, computed stably (pairs with ``NLLLoss``)."""

    def forward(self, input):
        return F.log_softmax(input, self.dim)


class Softmin(Softmax):
    """softmax(-x) along ``dim``: the smallest scores get the largest probabilities."""

    def forward(self, input):
        return F.softmin(input, self.dim)
