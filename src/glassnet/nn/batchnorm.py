"""Batch normalization: standardize each channel over the batch, then let the network
rescale it (``weight``) and shift it (``bias``).

In training the mean and variance come from the batch itself, and running averages of
them are kept (buffers ``running_mean``, ``running_var``); in evaluation those running
averages are used instead, so a prediction does not depend on the rest of the batch.
The layers call ``functional.batch_norm``, which runs the fused op ``ops.BatchNorm``.
"""
from ..backend import xp
from . import checks, init
from .functional import _as_tensor, _plural, batch_norm, check_images
from .module import Module, Parameter

# -- the layers ----------------------------------------------------------------------------


class _BatchNorm(Module):
    """What BatchNorm1d and BatchNorm2d share; they differ only in the input they accept."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, *, bias=True):
        super().__init__()
        kind = type(self).__name__
        if not isinstance(num_features, int) or isinstance(num_features, bool) or num_features < 1:
            raise ValueError(f"{kind}: num_features must be a positive int (the number of channels), got {num_features!r}")
        if not eps > 0:
            raise ValueError(f"{kind}: eps must be positive, got {eps!r}")
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"{kind}: momentum must be between 0 and 1 (or None for a cumulative average), got {momentum!r}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(init.empty(num_features))
        else:
            self.register_parameter("weight", None)
        if affine and bias:
            self.bias = Parameter(init.empty(num_features))
        else:
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", init.empty(num_features))
            self.register_buffer("running_var", init.empty(num_features))
            self.register_buffer("num_batches_tracked", xp.array(0, dtype=xp.int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _check_input(self, input):
        raise NotImplementedError

    def forward(self, input):
        checks.floating(self, input)
        input = _as_tensor(input)
        self._check_input(input.shape)
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked._data += 1
            if self.momentum is None:  # a cumulative average of every batch so far
                momentum = 1 / int(self.num_batches_tracked._data)
        use_batch_stats = self.training or self.running_mean is None
        tracked = not self.training or self.track_running_stats
        return batch_norm(
            input, self.running_mean if tracked else None, self.running_var if tracked else None,
            self.weight, self.bias, use_batch_stats, momentum, self.eps,
        )

    def extra_repr(self):
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization of features (N, C) or of sequences (N, C, L), per channel C.

    Args:
        num_features: C, the channels (features) of the input.
        eps: added to the variance, so a constant channel does not divide by zero.
        momentum: weight of the newest batch in the running averages (None: equal weights).
        affine: whether to learn ``weight`` (ones at first) and ``bias`` (zeros).
        bias: with ``affine``, whether to learn the ``bias`` (keyword only, as in PyTorch).
        track_running_stats: whether to keep running averages for evaluation; without
            them the batch's statistics are used in evaluation too.

    Shape: (N, C) or (N, C, L) -> the same.
    Parameters: ``weight``, ``bias`` (C,). Buffers: ``running_mean`` (C,), ``running_var`` (C,),
    ``num_batches_tracked`` (an int64 count).

    >>> import numpy as np
    >>> import glassnet as gn
    >>> gn.nn.BatchNorm1d(128)(gn.tensor(np.random.default_rng(0).random((32, 128), "float32"))).shape
    (32, 128)
    """

    def _check_input(self, shape):
        if len(shape) not in (2, 3):
            hint = "; help: for images (N, C, H, W) use BatchNorm2d" if len(shape) == 4 else ""
            raise ValueError(f"{self._label()}: expected a 2-D (N, C) or 3-D (N, C, L) input, got shape {shape}{hint}")
        if shape[1] != self.num_features:
            hint = ""
            if shape[-1] == self.num_features and len(shape) == 3:
                hint = "; help: the channels seem to be last (N, L, C); move them with x.permute(0, 2, 1)"
            raise ValueError(f"{self._label()}: expected input with {_plural(self.num_features, 'channel')}, got {shape}{hint}")


class BatchNorm2d(_BatchNorm):
    """Batch normalization of images (N, C, H, W): each channel standardized over the batch
    and all pixels, then scaled by ``weight`` and shifted by ``bias``.

    Args: as :class:`BatchNorm1d`.

    Shape: (N, C, H, W) -> the same.
    Parameters: ``weight``, ``bias`` (C,). Buffers: ``running_mean`` (C,), ``running_var`` (C,),
    ``num_batches_tracked`` (an int64 count).

    >>> import glassnet as gn
    >>> layer = gn.nn.BatchNorm2d(32)
    >>> list(layer.state_dict())
    ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
    """

    def _check_input(self, shape):
        check_images(self, shape, self.num_features, "num_features")
