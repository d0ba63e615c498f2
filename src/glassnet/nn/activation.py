"""Activation functions as layers: the nonlinearity between linear maps that lets a
network model more than a straight line."""
from . import functional as F
from .module import Module


class ReLU(Module):
    """max(0, x) elementwise."""

    def forward(self, input):
        return F.relu(input)


class LeakyReLU(Module):
    """x for x > 0, ``negative_slope`` * x otherwise (so no unit goes fully dead)."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """1 / (1 + exp(-x)): squashes to (0, 1)."""

    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    """tanh(x): squashes to (-1, 1)."""

    def forward(self, input):
        return F.tanh(input)


class GELU(Module):
    """x Φ(x), the smooth ReLU of transformers; ``approximate='tanh'`` for the fast form."""

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"  # PyTorch shows 'none' too


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
