"""Dropout: randomly silence neurons during training so none can be relied on alone."""
from .. import random
from ..backend import xp
from ..tensor import Tensor
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


def dropout2d(input, p=0.5, training=True, generator=None):
    """Zero whole channels: each (example, channel) pair is dropped with probability ``p``
    and the kept ones are scaled by 1/(1-p). Neighbouring pixels of a feature map are
    strongly correlated, so dropping single pixels would barely regularize a CNN.

    Shape: (N, C, H, W) (or (N, C, L)) -> the same.

    >>> import numpy as np
    >>> import glassnet as gn
    >>> ones = gn.tensor(np.ones((1, 4, 2, 2), "float32"))
    >>> out = gn.nn.functional.dropout2d(ones, 0.5, generator=np.random.default_rng(1))
    >>> out.numpy()[0, :, 0, 0].tolist()  # one value per channel, the whole map alike
    [0.0, 2.0, 2.0, 2.0]
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout2d: p must be between 0 and 1, got {p}")
    input = input if isinstance(input, Tensor) else Tensor(input)
    if input.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 4-D input (N, C, H, W) (or 3-D (N, C, L)), got shape {input.shape}")
    if not training or p == 0:
        return input
    generator = generator or random.generator()
    keep = generator.random(input.shape[:2], dtype=xp.float32) >= p
    scale = xp.asarray(0.0 if p == 1 else 1 / (1 - p), dtype=input.dtype)
    mask = (keep * scale).reshape(input.shape[:2] + (1,) * (input.ndim - 2))  # broadcast over each map
    return input * Tensor(mask)


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
        return dropout2d(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"
