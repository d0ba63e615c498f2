"""Fully connected layers: every output neuron sees every input."""
from . import checks
from . import functional as F
from . import init
from .module import Module, Parameter


class Identity(Module):
    """Returns its input unchanged (a placeholder that keeps layer indices stable)."""

    def forward(self, input):
        return input


class Linear(Module):
    """y = x W^T + b: ``out_features`` neurons, each a weighted sum of all inputs plus a bias.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample (number of neurons).
        bias: whether to learn an additive bias.

    Shape: input (*, in_features) -> output (*, out_features). The input is floating-point
    (integers raise a TypeError, as in PyTorch).
    Parameters: ``weight`` (out_features, in_features), ``bias`` (out_features,), both
    initialized uniformly in ±1/sqrt(in_features), as in PyTorch.

    >>> import glassnet as gn
    >>> import numpy as np
    >>> layer = gn.nn.Linear(784, 128)
    >>> layer(gn.tensor(np.zeros((32, 784), dtype="float32"))).shape
    (32, 128)
    """

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        if in_features <= 0 or out_features <= 0:
            raise ValueError(f"Linear: in_features and out_features must be positive, got {in_features}, {out_features}")
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(init.empty(out_features, in_features))
        if bias:
            self.bias = Parameter(init.empty(out_features))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.layer_default_(self.weight, self.bias)

    def forward(self, input):
        checks.last_dim(self, input, self.in_features)
        checks.floating(self, input, self.weight.dtype)  # integers would silently compute in float64
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Flattens dims ``start_dim``..``end_dim`` into one: (N, 1, 28, 28) -> (N, 784).

    Shape: (N, *) -> (N, prod(*)) with the defaults.
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        return F.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
