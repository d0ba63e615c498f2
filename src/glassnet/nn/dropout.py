"""Dropout: randomly silence neurons during training so none can be relied on alone."""
from . import functional as F
from .module import Module


class _Dropout(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"{type(self).__name__}: p must be between 0 and 1, got {p}")
        self.p, self.inplace = p, inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"  # PyTorch shows inplace=False too


class Dropout(_Dropout):
    """During training, zero each element with probability ``p`` and scale the rest by
    1/(1-p); in eval mode, pass the input through. ``inplace=True`` overwrites the input.

    Shape: any -> same.
    """

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout2d(_Dropout):
    """During training, zero whole channels of a feature map with probability ``p`` (and
    scale the kept ones by 1/(1-p)); in eval mode, pass the input through.

    Shape: (N, C, H, W) -> the same.
    """

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training, self.inplace)
