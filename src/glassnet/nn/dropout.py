"""Dropout: randomly silence neurons during training so none can be relied on alone."""
from . import functional as F
from .module import Module


class Dropout(Module):
    """During training, zero each element with probability ``p`` and scale the rest by
    1/(1-p); in eval mode, pass the input through.

    Shape: any -> same.
    """

    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be between 0 and 1, got {p}")
        self.p = p

    def forward(self, input):
        return F.dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class Dropout2d(Module):
    """During training, zero whole channels of a feature map with probability ``p`` (and
    scale the kept ones by 1/(1-p)); in eval mode, pass the input through.

    Shape: (N, C, H, W) -> the same.
    """

    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout2d: p must be between 0 and 1, got {p}")
        self.p = p

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"
