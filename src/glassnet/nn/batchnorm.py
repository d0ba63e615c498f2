"""Batch normalization: standardize each channel over the batch, then let the network
rescale it (``weight``) and shift it (``bias``).

In training the mean and variance come from the batch itself, and running averages of
them are kept (buffers ``running_mean``, ``running_var``); in evaluation those running
averages are used instead, so a prediction does not depend on the rest of the batch.
"""
from ..backend import xp
from ..tensor import Function, Tensor
from . import checks, init
from .conv import _as_tensor, _plural, check_images
from .module import Module, Parameter

# -- the op -----------------------------------------------------------------------------


class BatchNormFunction(Function):
    """out = (x - mean) / sqrt(var + eps) * weight + bias, per channel (axis 1), the mean
    and variance taken over every other axis.

    Forward and backward are fused: with x_hat the standardized input and every mean
    taken per channel, the training-mode gradient is
    grad_x = weight / std * (grad - mean(grad) - x_hat * mean(grad * x_hat)),
    the two subtracted terms because the batch's mean and variance depend on every x.
    """

    def forward(self, x, weight=None, bias=None, running_mean=None, running_var=None, training=True, momentum=0.1, eps=1e-5):
        axes = (0,) + tuple(range(2, x.ndim))
        per_channel = (1, -1) + (1,) * (x.ndim - 2)  # reshapes a (C,) array to broadcast over x
        count = x.size // x.shape[1]
        if training:
            mean = x.mean(axis=axes)
            x_hat = x - mean.reshape(per_channel)
            var = xp.square(x_hat).mean(axis=axes)  # biased: the batch is the whole population here
            if running_mean is not None:  # running averages, in place; the variance unbiased, as in PyTorch
                running_mean *= 1 - momentum
                running_mean += momentum * mean
                running_var *= 1 - momentum
                running_var += (momentum * count / (count - 1)) * var
        else:
            x_hat, var = x - running_mean.reshape(per_channel), running_var
        inv_std = 1 / xp.sqrt(var + eps)
        x_hat *= inv_std.reshape(per_channel)
        self.x_hat, self.inv_std, self.weight = x_hat, inv_std, weight
        self.axes, self.per_channel, self.count, self.training = axes, per_channel, count, training
        if weight is None:
            return x_hat.copy(order="K")  # x_hat is kept for backward; "K" keeps the memory layout (see conv.py)
        out = x_hat * weight.reshape(per_channel)
        out += bias.reshape(per_channel)
        return out

    def backward(self, grad):
        axes, per_channel = self.axes, self.per_channel
        grad_bias = grad.sum(axis=axes)
        grad_weight = (grad * self.x_hat).sum(axis=axes)
        scale = self.inv_std if self.weight is None else self.inv_std * self.weight
        grad_x = None
        if self.needs_input_grad[0] and self.training:  # the formula above, in place to spare temporaries
            grad_x = self.x_hat * (-grad_weight / self.count).reshape(per_channel)
            grad_x += grad
            grad_x -= (grad_bias / self.count).reshape(per_channel)
            grad_x *= scale.reshape(per_channel)
        elif self.needs_input_grad[0]:  # fixed statistics: a plain per-channel scaling
            grad_x = grad * scale.reshape(per_channel)
        if self.weight is None:
            return grad_x
        return grad_x, grad_weight, grad_bias


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Batch normalization over axis 1 (channels), with PyTorch's arguments.

    With ``training=True`` the batch's statistics are used and, when ``running_mean``
    and ``running_var`` (arrays or tensors of shape (C,)) are given, they are updated in
    place: r = (1 - momentum) r + momentum * batch statistic (the variance unbiased).
    Otherwise the running statistics are used.

    Shape: (N, C) or (N, C, *) -> the same.

    >>> import glassnet as gn
    >>> x = gn.tensor([[1.0, 10.0], [3.0, 30.0]])  # 2 examples, 2 features
    >>> gn.nn.functional.batch_norm(x, None, None, training=True).numpy().round(4).tolist()
    [[-1.0, -1.0], [1.0, 1.0]]
    """
    input = _as_tensor(input)
    running_mean, running_var = _array(running_mean), _array(running_var)
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input (N, C, *) with at least 2 dimensions, got shape {input.shape}")
    channels = input.shape[1]
    for argument, value in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if value is not None and tuple(value.shape) != (channels,):
            raise ValueError(
                f"batch_norm: {argument} of shape {tuple(value.shape)} for an input of shape {input.shape}; "
                f"it must be ({channels},), one per channel"
            )
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: give both running_mean and running_var, or neither")
    if not training and running_mean is None:
        raise ValueError("batch_norm: running_mean and running_var are needed when training=False")
    if training and input.numel() // channels <= 1:
        raise ValueError(
            f"batch_norm: expected more than 1 value per channel when training, got input of shape {input.shape}; "
            "help: use a batch of more than one example (or call .eval() to use the running statistics)"
        )
    options = {"running_mean": running_mean, "running_var": running_var, "training": training, "momentum": momentum, "eps": eps}
    if weight is None and bias is None:
        return BatchNormFunction.apply(input, **options)
    weight = _as_tensor(xp.ones(channels, dtype=input.dtype) if weight is None else weight)
    bias = _as_tensor(xp.zeros(channels, dtype=input.dtype) if bias is None else bias)
    return BatchNormFunction.apply(input, weight, bias, **options)


def _array(x):
    return x.data if isinstance(x, Tensor) else x


# -- the layers ---------------------------------------------------------------------------------


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
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

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
            self.num_batches_tracked.data += 1
            if self.momentum is None:  # a cumulative average of every batch so far
                momentum = 1 / int(self.num_batches_tracked.data)
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

