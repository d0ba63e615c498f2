"""Neural-network operations in functional form, with PyTorch's names and arguments: the
one place of the functional forms (the layers call these, or share their checks).

Each function checks its arguments, with errors that name it and the shapes involved, and
then composes tensor ops or calls one op of :mod:`glassnet.ops`, where every forward and
backward is (``linear`` calls ``ops.Linear``, ``cross_entropy`` ``ops.CrossEntropy``,
``conv2d`` ``ops.Conv2d``, ...). Those ops receive their options in normal form, so the
checks and the normalization of arguments live here, beside the functions.
"""
import functools
import math
import numbers
import warnings

from .. import ops, random
from ..backend import xp
from ..tensor import Tensor

# -- layers --------------------------------------------------------------------------------


def linear(input, weight, bias=None):
    """y = input @ weight.T + bias.

    Shape: input (*, in_features), weight (out_features, in_features), bias (out_features,)
    -> (*, out_features).
    """
    return ops.Linear.apply(_as_tensor(input), weight, bias)  # bias may be None: no gradient for it


def flatten(input, start_dim=1, end_dim=-1):
    return _as_tensor(input).flatten(start_dim, end_dim)


def dropout(input, p=0.5, training=True, inplace=False, generator=None):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p), so the
    expected value is unchanged and evaluation needs no rescaling. ``inplace=True``
    writes the result into ``input`` and returns it (in training; otherwise ``input``
    is returned as it is)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, got {p}")
    input = _as_tensor(input)
    if not training or p == 0:
        return input
    generator = generator or random.generator()
    keep = generator.random(input.shape, dtype=xp.float32) >= p
    scale = xp.asarray(0.0 if p == 1 else 1 / (1 - p), dtype=input.dtype)
    return _in_place(input, inplace, "dropout_", lambda x: x * Tensor(keep * scale))


def dropout2d(input, p=0.5, training=True, inplace=False, generator=None):
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
    return _in_place(input, inplace, "dropout2d_", lambda x: x * Tensor(mask))


# -- activations ---------------------------------------------------------------------------


def relu(input, inplace=False):
    """max(0, x); ``inplace=True`` writes the result into ``input`` and returns it.

    >>> import glassnet as gn
    >>> x = gn.tensor([-1.0, 2.0])
    >>> gn.nn.functional.relu(x, inplace=True) is x, x
    (True, tensor([0., 2.]))
    """
    input = _as_tensor(input)
    return input.relu_() if inplace else input.relu()


def leaky_relu(input, negative_slope=0.01, inplace=False):
    leaky = functools.partial(ops.LeakyReLU.apply, negative_slope=negative_slope)
    return _in_place(_as_tensor(input), inplace, "leaky_relu_", leaky)


def sigmoid(input):
    return _as_tensor(input).sigmoid()


def tanh(input):
    return _as_tensor(input).tanh()


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return ops.GELU.apply(_as_tensor(input), approximate=approximate)


def softmax(input, dim=-1):
    return _as_tensor(input).softmax(dim=dim)


def log_softmax(input, dim=-1):
    return _as_tensor(input).log_softmax(dim=dim)


def softmin(input, dim=-1):
    """softmax(-x) along ``dim``: the smallest scores get the largest probabilities."""
    return softmax(-_as_tensor(input), dim)


# The activations below are composed from tensor ops, so autograd gives their gradients. At a
# kink each takes the gradient PyTorch defines there (ReLU6's is 0 at 0 and at 6, hardswish's
# 0 at -3 and 1 at 3, ...): test_activations checks those points against PyTorch.

# SELU's constants (Klambauer et al., 2017): they keep activations at mean 0 and variance 1
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, alpha (exp(x) - 1) otherwise: a ReLU whose negative side saturates at -alpha."""
    return _in_place(_as_tensor(input), inplace, "elu_", lambda x: _elu(x, alpha))


def selu(input, inplace=False):
    """SELU_SCALE * elu(x, SELU_ALPHA): through a deep stack of linear layers initialized with
    variance 1/fan_in, the activations stay near mean 0 and variance 1 (self-normalizing)."""
    return _in_place(_as_tensor(input), inplace, "selu_", lambda x: _elu(x, SELU_ALPHA, scale=SELU_SCALE))


def celu(input, alpha=1.0, inplace=False):
    """x for x > 0, alpha (exp(x / alpha) - 1) otherwise: ELU with a slope of 1 at 0 for any alpha."""
    if alpha == 0:
        raise ValueError("celu: alpha cannot be 0 (the input is divided by it)")
    return _in_place(_as_tensor(input), inplace, "celu_", lambda x: _elu(x, alpha, input_scale=1 / alpha))


def _elu(x, alpha, scale=1.0, input_scale=1.0):
    """PyTorch's one formula behind ELU, SELU and CELU: ``scale * x`` for x > 0, else
    ``alpha * scale * (exp(input_scale * x) - 1)``, written as a sum of the two sides.

    The exponential is taken of min(x, 0): of a large positive x it would overflow to inf.
    At 0, clamp passes the gradient and relu does not, so the slope there is the negative
    side's, as in PyTorch. exp(x) - 1 stands for PyTorch's expm1 (glassnet has no such op),
    within 6e-8 of it in float32.
    """
    negative = (x.clamp(max=0) * input_scale).exp() - 1
    return x.relu() * scale + negative * (alpha * scale)


def silu(input, inplace=False):
    """x sigmoid(x), also called swish (EfficientNet, LLaMA's feed-forward)."""
    return _in_place(_as_tensor(input), inplace, "silu_", lambda x: x * x.sigmoid())


def mish(input, inplace=False):
    """x tanh(softplus(x)) (Misra, 2019)."""
    return _in_place(_as_tensor(input), inplace, "mish_", lambda x: x * _softplus(x).tanh())


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, a smooth ReLU. Where beta x > ``threshold`` it is x
    itself, as in PyTorch (with the defaults the two agree there to float32's precision)."""
    input = _as_tensor(input)
    scaled = input * beta
    return ops.where(scaled > threshold, input, _softplus(scaled) / beta)


def _softplus(x):
    """log(1 + exp(x)) for any x: max(x, 0) + log(1 + exp(-|x|)) never overflows, and its
    gradient is sigmoid(x) everywhere, 1/2 at 0 too (where max's tie shares the gradient)."""
    return x.maximum(0) + (-x.abs()).exp().log1p()


def logsigmoid(input):
    """log(sigmoid(x)) = -softplus(-x), finite and exact for large |x| (log of a sigmoid
    that rounded to 0 would be -inf)."""
    return -_softplus(-_as_tensor(input))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """x clipped to [min_val, max_val]."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    return _in_place(_as_tensor(input), inplace, "hardtanh_", lambda x: _hardtanh(x, min_val, max_val))


def relu6(input, inplace=False):
    """min(max(0, x), 6): a ReLU capped at 6 (MobileNet), hardtanh between 0 and 6."""
    return hardtanh(input, 0.0, 6.0, inplace)


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6: a piecewise-linear sigmoid, 0 below -3 and 1 above 3 (MobileNetV3)."""
    return _in_place(_as_tensor(input), inplace, "hardsigmoid_", lambda x: (_hardtanh(x, -3, 3) + 3) / 6)


def hardswish(input, inplace=False):
    """x relu6(x + 3) / 6: a piecewise-quadratic SiLU (MobileNetV3)."""
    return _in_place(_as_tensor(input), inplace, "hardswish_", lambda x: x * (_hardtanh(x, -3, 3) + 3) / 6)


def _hardtanh(x, low, high):
    """x clipped to [low, high], its gradient passing only strictly between them, as PyTorch's
    hardtanh's (clamp lets it through at the ends too)."""
    clipped = x.clamp(low, high)
    if not clipped.requires_grad:
        return clipped  # the same values: the where below only shapes the gradient
    return ops.where((x > low) & (x < high), clipped, clipped.detach())


def softsign(input):
    """x / (1 + |x|): a tanh-like squashing to (-1, 1) that approaches its limits slowly."""
    input = _as_tensor(input)
    return input / (input.abs() + 1)


def tanhshrink(input):
    """x - tanh(x)."""
    input = _as_tensor(input)
    return input - input.tanh()


def softshrink(input, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, 0 between: moves every value lambd
    toward 0. relu passes no gradient at 0, so there is none at ±lambd, as in PyTorch."""
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be at least 0, got {lambd}")
    input = _as_tensor(input)
    return (input - lambd).relu() - (-input - lambd).relu()


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0 (no gradient at ±lambd, as in PyTorch)."""
    input = _as_tensor(input)
    return ops.where((input >= -lambd) & (input <= lambd), 0, input)  # tested this way round, a NaN stays NaN


def threshold(input, threshold, value, inplace=False):
    """x where x > ``threshold``, else ``value`` (no gradient at the threshold itself)."""
    return _in_place(_as_tensor(input), inplace, "threshold_", lambda x: ops.where(x <= threshold, value, x))


def prelu(input, weight):
    """x for x > 0, weight * x otherwise, with a learned slope: one ``weight`` for all
    channels, or one per channel (axis 1 of the input).

    Shape: input (N, C, *) (or any shape with a single weight), weight (1,) or (C,) -> input's.
    """
    input, weight = _as_tensor(input), _as_tensor(weight)
    channels = input.shape[1] if input.ndim > 1 else 1
    if weight.ndim > 1 or weight.numel() not in (1, channels):
        raise ValueError(
            f"prelu: weight of shape {weight.shape} for an input of shape {input.shape}; it must hold 1 "
            f"slope or one per channel (axis 1 of the input: {channels})"
        )
    slope = weight.reshape((-1,) + (1,) * (input.ndim - 2)) if input.ndim > 1 else weight.reshape(())
    # clamp passes the gradient at 0 and relu does not: there the slope is weight's, as in PyTorch
    return input.relu() + slope * input.clamp(max=0)


def glu(input, dim=-1):
    """The gated linear unit: a * sigmoid(b), where a and b are the two halves of the input
    along ``dim`` (Dauphin et al., 2017).

    Shape: (*, 2k, *) -> (*, k, *), halving ``dim``.
    """
    input = _as_tensor(input)
    if input.ndim == 0:
        raise ValueError("glu: a scalar cannot be halved; help: give a tensor with at least one dimension")
    if input.shape[dim] % 2:
        raise ValueError(
            f"glu: the halving dimension must be even, but dimension {dim} of the input {input.shape} "
            f"is size {input.shape[dim]}"
        )
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


# -- losses --------------------------------------------------------------------------------


_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _looks_like_probabilities(x):
    if x.ndim < 2 or x.shape[1] < 2 or x.size == 0:
        return False
    if x.min() < 0 or x.max() > 1:
        return False
    return bool(xp.allclose(x.sum(axis=1), 1, atol=1e-3))


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross-entropy between raw scores (logits) and class targets.

    Log-softmax and the negative log-likelihood are fused into one numerically stable
    op. ``target`` holds class indices (int), or class probabilities of the input's shape.

    Shape: input (N, C) or (N, C, d1, ...); target (N,) or (N, d1, ...); the result is a
    scalar, or (N, d1, ...) with ``reduction='none'``.

    >>> import glassnet as gn
    >>> logits = gn.tensor([[2.0, 0.0, 0.0]])
    >>> round(gn.nn.functional.cross_entropy(logits, gn.tensor([0])).item(), 4)
    0.2395
    """
    _check_reduction(reduction)
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    input, target = _as_tensor(input), _as_array(target)
    if _looks_like_probabilities(input._data):
        warnings.warn(
            "cross_entropy received values that look like probabilities (each row in [0, 1], "
            "summing to 1). It expects raw scores (logits) and applies log-softmax itself; "
            "help: remove the Softmax layer before the loss.",
            stacklevel=2,
        )
    rows, target, restore = _rows_and_targets("cross_entropy", input, target)
    loss = ops.CrossEntropy.apply(
        rows, Tensor(target), **_weight_option(weight), ignore_index=ignore_index,
        reduction=reduction, label_smoothing=label_smoothing,
    )
    return loss.reshape(restore) if reduction == "none" and restore is not None else loss


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of class targets under log-probabilities (e.g. the output
    of ``log_softmax``). Shape as in :func:`cross_entropy`."""
    _check_reduction(reduction)
    input, target = _as_tensor(input), _as_array(target)
    rows, target, restore = _rows_and_targets("nll_loss", input, target)
    loss = ops.NLLLoss.apply(rows, Tensor(target), **_weight_option(weight), ignore_index=ignore_index, reduction=reduction)
    return loss.reshape(restore) if reduction == "none" and restore is not None else loss


def _rows_and_targets(name, input, target):
    """Bring PyTorch's class-on-axis-1 layout to rows of classes. Returns the rows, the
    matching targets and the shape to restore for ``reduction='none'`` (or None)."""
    if input.ndim == 0:
        raise ValueError(f"{name}: scores need a class dimension, got a scalar")
    soft = target.dtype.kind == "f" and target.ndim == input.ndim
    if soft and target.shape != input.shape:
        raise ValueError(f"{name}: probability targets of shape {target.shape} for scores of shape {input.shape}; they must match")
    if input.ndim == 1:  # a single example without a batch axis
        return input.reshape(1, -1), target.reshape(1, -1) if soft else target.reshape(1), ()
    if input.ndim == 2:
        return input, target, None
    classes = input.shape[1]
    if not soft and target.shape != input.shape[:1] + input.shape[2:]:
        raise ValueError(
            f"{name}: targets of shape {target.shape} do not match scores of shape {input.shape} "
            f"(expected {input.shape[:1] + input.shape[2:]})"
        )
    moved = input.permute(0, *range(2, input.ndim), 1)
    rows = moved.reshape(-1, classes)
    target = xp.moveaxis(target, 1, -1).reshape(-1, classes) if soft else target.reshape(-1)
    return rows, target, moved.shape[:-1]


def _weight_option(weight):
    return {} if weight is None else {"weight": _as_array(weight)}


def mse_loss(input, target, reduction="mean"):
    """Mean squared error. ``input`` and ``target`` must have the same shape: a silent
    broadcast of (N, 1) against (N,) is a classic bug, so it is an error here."""
    _check_reduction(reduction)
    input, target = _as_tensor(input), _as_tensor(target)
    if not target.requires_grad and target.dtype != input.dtype:  # float64 labels must not promote a float32 loss
        target = Tensor(target._data.astype(input.dtype))
    if input.shape != target.shape:
        raise ValueError(
            f"mse_loss: input of shape {input.shape} and target of shape {target.shape} differ; "
            "help: reshape one of them (e.g. target.reshape(input.shape)) so they match"
        )
    squared = (input - target) ** 2
    return squared if reduction == "none" else squared.mean() if reduction == "mean" else squared.sum()


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """Binary cross-entropy on raw scores: sigmoid and log fused, stable for large |x|.
    ``input`` and ``target`` (0/1 or probabilities) have the same shape."""
    _check_reduction(reduction)
    input, target = _as_tensor(input), _as_array(target)
    if input.shape != target.shape:
        raise ValueError(
            f"binary_cross_entropy_with_logits: input of shape {input.shape} and target of shape "
            f"{target.shape} differ"
        )
    options = {"reduction": reduction}
    if weight is not None:
        options["weight"] = _as_array(weight)
    if pos_weight is not None:
        options["pos_weight"] = _as_array(pos_weight)
    return ops.BCEWithLogits.apply(input, Tensor(target.astype(input.dtype, copy=False)), **options)


# -- input checks shared by the image functions and layers (conv, pooling, batch norm) -----


def _name(who):
    """``who`` is a layer (named by its repr, e.g. ``Conv2d(1, 32, kernel_size=(3, 3), ...)``) or a function name."""
    return who if isinstance(who, str) else who._label()


def check_images(who, shape, channels=None, channels_argument="in_channels"):
    """``shape`` must be a batch of images (N, C, H, W), with ``channels`` channels if given.

    The errors name the layer and the shapes, and guess the usual causes: a single image
    without its batch axis, flat images, channels stored last.
    """
    shape = tuple(shape)
    if len(shape) != 4:
        raise ValueError(f"{_name(who)}: expected a 4-D input (N, C, H, W), got shape {shape}{_four_d_hint(shape, channels)}")
    if channels is not None and shape[1] != channels:
        if shape[3] == channels:
            hint = "; help: the channels seem to be last (N, H, W, C); move them with x.permute(0, 3, 1, 2)"
        else:
            hint = f"; help: if the images really have {shape[1]} channels, build the layer with {channels_argument}={shape[1]}"
        raise ValueError(f"{_name(who)}: expected input with {_plural(channels, 'channel')}, got {shape}{hint}")


def check_sequences(who, shape, channels):
    """``shape`` must be a batch of sequences (N, C, L) with ``channels`` channels; the errors
    guess a single sequence without its batch axis, and channels stored last."""
    shape = tuple(shape)
    if len(shape) != 3:
        hint = "; help: for a single sequence (C, L) add a batch axis with x.unsqueeze(0)" if len(shape) == 2 else ""
        raise ValueError(f"{_name(who)}: expected a 3-D input (N, C, L), got shape {shape}{hint}")
    if shape[1] != channels:
        if shape[2] == channels:
            hint = "; help: the channels seem to be last (N, L, C); move them with x.transpose(1, 2)"
        else:
            hint = f"; help: if the sequences really have {shape[1]} channels, build the layer with in_channels={shape[1]}"
        raise ValueError(f"{_name(who)}: expected input with {_plural(channels, 'channel')}, got {shape}{hint}")


def _four_d_hint(shape, channels):
    if len(shape) == 3 and channels not in (None, 1) and shape[0] == channels:
        return "; help: for a single image add a batch axis with x.unsqueeze(0)"
    if len(shape) == 3:
        return (
            "; help: a batch of one-channel images (N, H, W) needs a channel axis: x.unsqueeze(1); "
            "a single image (C, H, W) a batch axis: x.unsqueeze(0)"
        )
    if len(shape) == 2 and math.isqrt(shape[1]) ** 2 == shape[1]:
        side = math.isqrt(shape[1])
        return f"; help: the images look flattened; reshape them with x.reshape(-1, 1, {side}, {side})"
    return ""


def _plural(count, word):
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _pair(value, argument, who, minimum):
    """An int or a pair of ints (height, width), each at least ``minimum``."""
    return _sizes(value, 2, argument, who, minimum)


def _sizes(value, dims, argument, who, minimum):
    """An int or ``dims`` ints, one per axis (a pair for images, one int for sequences), each
    at least ``minimum``; returned as a tuple of ``dims`` ints."""
    sizes = (value,) * dims if isinstance(value, int) else tuple(value) if isinstance(value, (tuple, list)) else None
    if sizes is None or len(sizes) != dims or not all(isinstance(v, int) and not isinstance(v, bool) for v in sizes):
        what = "a pair of ints (height, width)" if dims == 2 else f"a tuple of {_plural(dims, 'int')}"
        raise ValueError(f"{who}: {argument} must be an int or {what}, got {value!r}")
    if min(sizes) < minimum:
        raise ValueError(f"{who}: {argument} must be at least {minimum}, got {value!r}")
    return sizes


def _padding(padding, kernel_size, stride, dilation, who):
    """Padding as (before, after) per axis: ((top, bottom), (left, right)) for images. ``'same'``
    keeps the size: the total dilation * (k - 1) is split with the odd pixel at the
    bottom/right, as in PyTorch."""
    dims = len(kernel_size)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * dims
        if padding != "same":
            raise ValueError(f"{who}: padding must be an int (or one per axis), 'same' or 'valid', got {padding!r}")
        if stride != (1,) * dims:
            raise ValueError(
                f"{who}: padding='same' is not supported for strided convolutions (stride={stride}); "
                "help: give the padding as numbers"
            )
        totals = [d * (k - 1) for k, d in zip(kernel_size, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    if isinstance(padding, tuple) and all(isinstance(p, tuple) for p in padding):
        return padding  # already ((top, bottom), (left, right))
    return tuple((p, p) for p in _sizes(padding, dims, "padding", who, 0))


# -- convolution ---------------------------------------------------------------------------


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (strictly, cross-correlation, as in every deep-learning library)
    of a batch of images with a bank of filters.

    Args:
        input: images (N, C, H, W).
        weight: filters (O, C / groups, kh, kw).
        bias: (O,) or None.
        stride, padding, dilation: an int or a pair (height, width); padding may also be
            ``'valid'`` (none) or ``'same'`` (output as large as the input, stride 1 only).
        groups: split channels and filters into this many independent blocks.

    Shape: (N, C, H, W) -> (N, O, out_h, out_w), out = (H + 2 padding - dilation (k - 1) - 1) // stride + 1.

    >>> import glassnet as gn
    >>> image = gn.tensor([[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]])
    >>> gn.nn.functional.conv2d(image, gn.tensor([[[[1.0, 0.0], [0.0, -1.0]]]])).tolist()
    [[[[-4.0, -4.0], [-4.0, -4.0]]]]
    """
    input, weight = _as_tensor(input), _as_tensor(weight)
    bias = None if bias is None else _as_tensor(bias)
    options = _conv_options("conv2d", input, weight, bias, stride, padding, dilation, groups)
    tensors = (input, weight) if bias is None else (input, weight, bias)
    return ops.Conv2d.apply(*tensors, **options)


def _conv_options(who, input, weight, bias, stride, padding, dilation, groups, dims=2):
    """Check the arguments of a convolution over ``dims`` axes (2: images, 1: sequences)
    against each other; return the op's options, one entry per axis."""
    name = _name(who)
    if weight.ndim != dims + 2:
        kernel = "kh, kw" if dims == 2 else "kernel_size"
        raise ValueError(
            f"{name}: weight must be {dims + 2}-D (out_channels, in_channels / groups, {kernel}), got shape {weight.shape}"
        )
    out_channels, group_channels, *kernel_size = weight.shape
    _check_filters(name, input, weight, bias, groups, out_channels)
    if out_channels % groups:
        raise ValueError(f"{name}: the {out_channels} filters of weight {weight.shape} cannot be split into groups={groups}")
    (check_images if dims == 2 else check_sequences)(who, input.shape, group_channels * groups)
    stride, dilation = _sizes(stride, dims, "stride", name, 1), _sizes(dilation, dims, "dilation", name, 1)
    padding = _padding(padding, kernel_size, stride, dilation, name)
    spans = [d * (k - 1) + 1 for k, d in zip(kernel_size, dilation)]
    padded = [size + before + after for size, (before, after) in zip(input.shape[2:], padding)]
    if any(p < span for p, span in zip(padded, spans)):
        by, unit = "x".join, "pixels" if dims == 2 else "steps"
        raise ValueError(
            f"{name}: the kernel ({by(map(str, kernel_size))}, spanning {by(map(str, spans))} {unit} with dilation {dilation}) "
            f"is larger than the padded input ({by(map(str, padded))}: input {input.shape} with padding {padding}); help: use a "
            "smaller kernel or more padding, or feed larger inputs (earlier pooling may have shrunk them)"
        )
    return {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}


def _check_filters(name, input, weight, bias, groups, out_channels):
    """What every convolution asks of its parameters: ``groups`` a positive int, one bias
    per output channel, and the input's dtype."""
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(f"{name}: bias must have shape ({out_channels},), one per output channel, got {bias.shape}")
    for tensor in (weight, bias):
        if tensor is not None and tensor.dtype != input.dtype:
            raise TypeError(
                f"{name}: input of dtype {input.dtype} with parameters of dtype {tensor.dtype}; help: convert "
                "the input (x.float()) or the layer (.double()) so that they match"
            )


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution of a batch of sequences (N, C, L) with a bank of filters: conv2d of
    images one row high, (N, C, 1, L).

    Args:
        input: sequences (N, C, L).
        weight: filters (O, C / groups, k).
        bias: (O,) or None.
        stride, padding, dilation: an int (or a tuple of one); padding may also be ``'valid'``
            or ``'same'`` (stride 1 only).
        groups: split channels and filters into this many independent blocks.

    Shape: (N, C, L) -> (N, O, out_l), out_l = (L + 2 padding - dilation (k - 1) - 1) // stride + 1.

    >>> import glassnet as gn
    >>> signal = gn.tensor([[[1.0, 2.0, 4.0, 7.0]]])
    >>> gn.nn.functional.conv1d(signal, gn.tensor([[[-1.0, 1.0]]])).tolist()  # the differences
    [[[1.0, 2.0, 3.0]]]
    """
    input, weight = _as_tensor(input), _as_tensor(weight)
    bias = None if bias is None else _as_tensor(bias)
    return _conv1d(input, weight, bias, _conv_options("conv1d", input, weight, bias, stride, padding, dilation, groups, dims=1))


def _conv1d(input, weight, bias, options):
    """conv1d as ``ops.Conv2d`` on the (N, C, 1, L) view: every option gains a height axis
    of stride 1, no padding and dilation 1."""
    (n, channels, length), (out_channels, group_channels, k) = input.shape, weight.shape
    tensors = (input.reshape(n, channels, 1, length), weight.reshape(out_channels, group_channels, 1, k))
    if bias is not None:
        tensors += (bias,)
    out = ops.Conv2d.apply(*tensors, stride=(1, *options["stride"]), padding=((0, 0), *options["padding"]),
                           dilation=(1, *options["dilation"]), groups=options["groups"])
    return out.reshape(n, out_channels, out.shape[-1])


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution (also called "deconvolution"): the gradient of conv2d with
    respect to its input, used as a forward to upsample. Each input pixel adds its value,
    times the kernel, onto a kh x kw patch of the output, the patches ``stride`` pixels apart.

    Args:
        input: images (N, C, H, W).
        weight: filters (C, O / groups, kh, kw), input channels first, as in PyTorch.
        bias: (O,) or None.
        stride, padding, dilation: an int or a pair (height, width), those of the conv2d from
            the output back to the input; ``padding`` crops each side of the output.
        output_padding: rows and columns added at the bottom and right (less than the stride
            or the dilation), to choose among the sizes that a strided conv2d maps onto the same one.
        groups: split channels and filters into this many independent blocks.

    Shape: (N, C, H, W) -> (N, O, out_h, out_w),
    out_h = (H - 1) stride - 2 padding + dilation (kh - 1) + output_padding + 1 (out_w alike).

    >>> import glassnet as gn
    >>> pixels = gn.tensor([[[[1.0, 2.0]]]])
    >>> gn.nn.functional.conv_transpose2d(pixels, gn.tensor([[[[1.0, 10.0]]]]), stride=2).tolist()
    [[[[1.0, 10.0, 2.0, 20.0]]]]
    """
    input, weight = _as_tensor(input), _as_tensor(weight)
    bias = None if bias is None else _as_tensor(bias)
    options = _conv_transpose_options("conv_transpose2d", input, weight, bias, stride, padding, output_padding, groups, dilation)
    tensors = (input, weight) if bias is None else (input, weight, bias)
    return ops.ConvTranspose2d.apply(*tensors, **options)


def _conv_transpose_options(who, input, weight, bias, stride, padding, output_padding, groups, dilation):
    """Check a transposed convolution's arguments; return the op's options: those of the
    conv2d it inverts, with ``output_padding`` taken off its bottom and right padding."""
    name = _name(who)
    if weight.ndim != 4:
        raise ValueError(f"{name}: weight must be 4-D (in_channels, out_channels / groups, kh, kw), got shape {weight.shape}")
    in_channels, group_out, kh, kw = weight.shape
    _check_filters(name, input, weight, bias, groups, group_out * groups)
    if in_channels % groups:
        raise ValueError(f"{name}: the {in_channels} input channels of weight {weight.shape} cannot be split into groups={groups}")
    check_images(who, input.shape, in_channels)
    stride, dilation = _pair(stride, "stride", name, 1), _pair(dilation, "dilation", name, 1)
    padding, output_padding = _pair(padding, "padding", name, 0), _check_output_padding(name, output_padding, stride, dilation)
    padding = tuple((p, p - extra) for p, extra in zip(padding, output_padding))  # ((top, bottom), (left, right))
    geometry = zip(input.shape[2:], (kh, kw), stride, padding, dilation)
    out_size = [ops.conv.transposed_size(size, k, s, before, after, d) for size, k, s, (before, after), d in geometry]
    if min(out_size) < 1:
        raise ValueError(
            f"{name}: the output would be {out_size[0]}x{out_size[1]} for an input {input.shape}: the padding crops away "
            "more than the input's patches cover; help: use less padding"
        )
    return {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}


def _check_output_padding(name, output_padding, stride, dilation):
    """``output_padding`` as a pair, each less than the stride or the dilation of its axis, as
    PyTorch asks."""
    output_padding = _pair(output_padding, "output_padding", name, 0)
    if any(extra >= max(s, d) for extra, s, d in zip(output_padding, stride, dilation)):
        raise ValueError(
            f"{name}: output_padding must be smaller than either stride or dilation, got output_padding={output_padding} "
            f"with stride={stride} and dilation={dilation}"
        )
    return output_padding


# -- pooling -------------------------------------------------------------------------------


def _pool_output_size(size, kernel, stride, padding, dilation, ceil_mode):
    """PyTorch's rule: floor (or ceil) of the window count; with ceil_mode, a last window
    that would start in the right padding is dropped."""
    span = dilation * (kernel - 1) + 1
    out = (size + 2 * padding - span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _pool_arguments(name, kernel_size, stride, padding, dilation):
    """Check a pooling's hyperparameters; return them as pairs (height, width)."""
    kernel_size = _pair(kernel_size, "kernel_size", name, 1)
    stride = kernel_size if stride is None or stride == () else _pair(stride, "stride", name, 1)
    padding, dilation = _pair(padding, "padding", name, 0), _pair(dilation, "dilation", name, 1)
    if padding[0] > kernel_size[0] // 2 or padding[1] > kernel_size[1] // 2:
        raise ValueError(
            f"{name}: padding must be at most half the kernel size, got padding={padding} for kernel_size={kernel_size}; "
            "help: more padding would make windows of padding alone"
        )
    return kernel_size, stride, padding, dilation


def _pool_options(who, shape, kernel_size, stride, padding, dilation, ceil_mode):
    """Check a pooling's hyperparameters and the input shape; return the op's options."""
    name = _name(who)
    kernel_size, stride, padding, dilation = _pool_arguments(name, kernel_size, stride, padding, dilation)
    check_images(who, shape)
    out_size = tuple(
        _pool_output_size(size, k, s, p, d, ceil_mode)
        for size, k, s, p, d in zip(shape[2:], kernel_size, stride, padding, dilation)
    )
    if min(out_size) < 1:
        raise ValueError(
            f"{name}: the input {tuple(shape)} is too small for a {kernel_size[0]}x{kernel_size[1]} window "
            f"(dilation {dilation}, padding {padding}): the output would be {out_size[0]}x{out_size[1]}; "
            "help: pool less (a smaller kernel, fewer pooling layers) or feed larger images"
        )
    return {"kernel_size": kernel_size, "stride": stride, "padding": padding, "dilation": dilation, "out_size": out_size}


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """The maximum of each ``kernel_size`` window, moving by ``stride`` (default: the
    kernel size, so windows tile the image). Padding counts as -infinity.

    Shape: (N, C, H, W) -> (N, C, out_h, out_w), out = (H + 2 padding - dilation (k - 1) - 1) // stride + 1
    (rounded up with ``ceil_mode=True``).

    >>> import glassnet as gn
    >>> image = gn.tensor([[[[1.0, 2.0, 5.0, 0.0], [3.0, 4.0, 1.0, 1.0]]]])
    >>> gn.nn.functional.max_pool2d(image, 2).tolist()
    [[[[4.0, 5.0]]]]
    """
    input = _as_tensor(input)
    options = _pool_options("max_pool2d", input.shape, kernel_size, stride, padding, dilation, ceil_mode)
    return ops.MaxPool2d.apply(input, **options)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    """The mean of each ``kernel_size`` window, moving by ``stride`` (default: the kernel
    size). Padding adds zeros; ``count_include_pad`` says whether they count in the mean.

    Shape: (N, C, H, W) -> (N, C, out_h, out_w), out = (H + 2 padding - k) // stride + 1
    (rounded up with ``ceil_mode=True``).

    >>> import glassnet as gn
    >>> image = gn.tensor([[[[1.0, 2.0, 5.0, 0.0], [3.0, 4.0, 1.0, 1.0]]]])
    >>> gn.nn.functional.avg_pool2d(image, 2).tolist()
    [[[[2.5, 1.75]]]]
    """
    input = _as_tensor(input)
    options = _avg_options("avg_pool2d", input.shape, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    return ops.AvgPool2d.apply(input, **options)


def _avg_divisor(shape, options, count_include_pad, divisor_override):
    """PyTorch's divisor: the window's pixels inside the padded image (or, without
    ``count_include_pad``, inside the image itself); a window hanging past the padding
    (ceil_mode) counts only the part within."""
    if divisor_override is not None:
        return divisor_override
    counts = []
    for size, k, s, p, out in zip(shape[2:], options["kernel_size"], options["stride"], options["padding"], options["out_size"]):
        start = xp.arange(out) * s - p
        end = xp.minimum(start + k, size + p)
        if not count_include_pad:
            start, end = xp.maximum(start, 0), xp.minimum(end, size)
        counts.append(end - start)
    divisor = counts[0][:, None] * counts[1][None, :]
    return divisor.flat[0] if (divisor == divisor.flat[0]).all() else divisor


def _check_divisor(name, divisor_override):
    if divisor_override is not None and (not isinstance(divisor_override, int) or divisor_override < 1):
        raise ValueError(f"{name}: divisor_override must be a positive int, got {divisor_override!r}")


def _avg_options(who, shape, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    _check_divisor(_name(who), divisor_override)
    options = _pool_options(who, shape, kernel_size, stride, padding, 1, ceil_mode)
    options["divisor"] = _avg_divisor(shape, options, count_include_pad, divisor_override)
    return options


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed ``output_size`` (an int, or a pair whose None entries
    keep the input's size); ``output_size=1`` is global average pooling.

    Shape: (N, C, H, W) -> (N, C, *output_size).

    >>> import glassnet as gn
    >>> image = gn.tensor([[[[1.0, 2.0, 5.0, 0.0], [3.0, 4.0, 1.0, 1.0]]]])
    >>> gn.nn.functional.adaptive_avg_pool2d(image, (1, 2)).tolist()
    [[[[2.5, 1.75]]]]
    """
    input = _as_tensor(input)
    return ops.AdaptiveAvgPool2d.apply(input, out_size=_adaptive_size("adaptive_avg_pool2d", input.shape, output_size))


def _adaptive_size(who, shape, output_size):
    sizes = (output_size, output_size) if output_size is None or isinstance(output_size, int) else tuple(output_size)
    if len(sizes) != 2 or not all(s is None or (isinstance(s, int) and s >= 1) for s in sizes):
        raise ValueError(
            f"{_name(who)}: output_size must be a positive int or a pair of them (None keeps a side), got {output_size!r}"
        )
    check_images(who, shape)
    return tuple(shape[2 + axis] if s is None else s for axis, s in enumerate(sizes))


# -- normalization -------------------------------------------------------------------------


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
        return ops.BatchNorm.apply(input, **options)
    weight = _as_tensor(xp.ones(channels, dtype=input.dtype) if weight is None else weight)
    bias = _as_tensor(xp.zeros(channels, dtype=input.dtype) if bias is None else bias)
    return ops.BatchNorm.apply(input, weight, bias, **options)


def _array(x):
    return x._data if isinstance(x, Tensor) else x


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the trailing ``normalized_shape`` dimensions, then scale by
    ``weight`` and shift by ``bias`` (both of shape ``normalized_shape``, optional).

    Shape: input (*, *normalized_shape) -> the same shape.

    >>> import glassnet as gn
    >>> from glassnet.nn.functional import layer_norm
    >>> layer_norm(gn.tensor([[1.0, 2.0, 3.0]]), (3,))
    tensor([[-1.2247,  0.0000,  1.2247]])
    """
    input = input if isinstance(input, Tensor) else Tensor(input)
    normalized_shape = _as_shape(normalized_shape)
    _check_normalized_shape("layer_norm", input.shape, normalized_shape)
    for name, param in (("weight", weight), ("bias", bias)):
        if param is not None and tuple(param.shape) != normalized_shape:
            raise ValueError(f"layer_norm: {name} of shape {tuple(param.shape)} for normalized_shape {normalized_shape}")
    affine = [t for t in (weight, bias) if t is not None]
    return ops.LayerNorm.apply(
        input, *affine, normalized_ndim=len(normalized_shape), eps=eps,
        has_weight=weight is not None, has_bias=bias is not None,
    )


def _as_shape(normalized_shape):
    if isinstance(normalized_shape, numbers.Integral):
        return (int(normalized_shape),)
    return tuple(int(n) for n in normalized_shape)


def _check_normalized_shape(who, shape, normalized_shape):
    k = len(normalized_shape)
    if tuple(shape[len(shape) - k:]) != normalized_shape or len(shape) < k:
        raise ValueError(
            f"{_name(who)}: expected input of shape (*, {', '.join(map(str, normalized_shape))}) "
            f"(the last {k} dimension{'s' if k > 1 else ''} normalized), got {tuple(shape)}; "
            f"help: build the layer with normalized_shape={tuple(shape[len(shape) - k:]) if len(shape) >= k else tuple(shape)} "
            "or reshape the input"
        )


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Split each sample's channels into ``num_groups`` groups and normalize each group, over
    its channels and all positions, to mean 0 and variance 1; then scale and shift each
    channel by ``weight`` and ``bias`` (both (C,), optional). It is a layer norm of each
    group, with no batch statistics: alike in training and evaluation, for any batch size.

    Shape: input (N, C, *) -> the same.

    >>> import glassnet as gn
    >>> x = gn.tensor([[[1.0, 3.0], [10.0, 30.0]]])  # 1 sample, 2 channels, 2 positions
    >>> gn.nn.functional.group_norm(x, 2).numpy().round(4).tolist()
    [[[-1.0, 1.0], [-1.0, 1.0]]]
    """
    input = _as_tensor(input)
    _check_group_norm("group_norm", input.shape, num_groups)
    for argument, value in (("weight", weight), ("bias", bias)):
        if value is not None and tuple(value.shape) != (input.shape[1],):
            raise ValueError(
                f"group_norm: {argument} of shape {tuple(value.shape)} for an input of shape {input.shape}; "
                f"it must be ({input.shape[1]},), one per channel"
            )
    groups = input.reshape(input.shape[0], num_groups, -1)  # a row per sample and group: its channels and positions
    out = layer_norm(groups, groups.shape[-1:], eps=eps).reshape(input.shape)
    per_channel = (1, -1) + (1,) * (input.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(per_channel)
    return out if bias is None else out + bias.reshape(per_channel)


def _check_group_norm(who, shape, num_groups, num_channels=None):
    """The input (N, C, *) has ``num_channels`` channels if given, which split into ``num_groups`` groups."""
    name, shape = _name(who), tuple(shape)
    if not isinstance(num_groups, int) or isinstance(num_groups, bool) or num_groups < 1:
        raise ValueError(f"{name}: num_groups must be a positive int, got {num_groups!r}")
    if len(shape) < 2:
        raise ValueError(f"{name}: expected an input (N, C, *) with at least 2 dimensions, got shape {shape}")
    if num_channels is not None and shape[1] != num_channels:
        raise ValueError(
            f"{name}: expected input with {_plural(num_channels, 'channel')} (axis 1), got {shape}; help: if the input "
            f"really has {shape[1]} channels, build the layer with num_channels={shape[1]}"
        )
    if shape[1] % num_groups:
        raise ValueError(
            f"{name}: the {shape[1]} channels of the input {shape} cannot be split into num_groups={num_groups}; "
            "help: num_groups must divide the number of channels"
        )


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """Divide by the root mean square over the trailing ``normalized_shape`` dimensions, then
    scale by ``weight`` (of shape ``normalized_shape``, optional): a layer norm without the
    centring and the shift (Zhang and Sennrich, 2019). ``eps`` is added to the mean square;
    None means the dtype's machine epsilon, ``np.finfo(dtype).eps``, as in PyTorch.

    Shape: input (*, *normalized_shape) -> the same shape.

    >>> import glassnet as gn
    >>> x = gn.tensor([[3.0, 4.0]])  # root mean square sqrt(12.5)
    >>> gn.nn.functional.rms_norm(x, (2,), eps=0.0)
    tensor([[0.8485, 1.1314]])
    """
    input = _as_tensor(input)
    normalized_shape = _as_shape(normalized_shape)
    _check_normalized_shape("rms_norm", input.shape, normalized_shape)
    if weight is not None and tuple(weight.shape) != normalized_shape:
        raise ValueError(f"rms_norm: weight of shape {tuple(weight.shape)} for normalized_shape {normalized_shape}")
    if input.dtype.kind != "f":
        raise TypeError(f"rms_norm: expected a floating-point input, got dtype {input.dtype}; help: convert it with x.float()")
    eps = float(xp.finfo(input.dtype).eps) if eps is None else eps
    axes = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    out = input * ((input**2).mean(axis=axes, keepdims=True) + eps).rsqrt()
    return out if weight is None else out * weight


# -- embedding -----------------------------------------------------------------------------


def one_hot(tensor, num_classes=-1):
    """Each integer class label as a row of zeros with a 1 at the label (int64, no gradient).

    Shape: tensor (*) of integers -> (*, num_classes); ``num_classes=-1`` takes the largest
    label + 1.

    >>> import glassnet as gn
    >>> gn.nn.functional.one_hot(gn.tensor([0, 2]), 3)
    tensor([[1, 0, 0],
            [0, 0, 1]])
    """
    labels = _as_array(tensor)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot: the labels must be an integer tensor, got dtype {labels.dtype}")
    if num_classes == -1:
        if labels.size == 0:
            raise RuntimeError("one_hot: cannot infer the number of classes from an empty tensor; help: pass num_classes")
        num_classes = int(labels.max()) + 1
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = int(labels.min()) if labels.min() < 0 else int(labels.max())
        raise RuntimeError(f"one_hot: class {bad} is out of range for num_classes={num_classes} (valid: 0..{num_classes - 1})")
    return Tensor(xp.arange(num_classes) == labels[..., None], dtype=xp.int64)


def embedding(input, weight, padding_idx=None):
    """The rows of ``weight`` at the integer positions in ``input``.

    Shape: input (*) of integers, weight (num_embeddings, embedding_dim)
    -> (*, embedding_dim).

    >>> import glassnet as gn
    >>> from glassnet.nn.functional import embedding
    >>> embedding(gn.tensor([2, 0]), gn.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]))
    tensor([[2., 2.],
            [0., 0.]])
    """
    indices = input._data if isinstance(input, Tensor) else xp.asarray(input)
    _check_indices("embedding", indices, weight.shape[0])
    padding_idx = _padding_row("embedding", padding_idx, weight.shape[0])
    return ops.Embedding.apply(weight, indices=indices, padding_idx=padding_idx)


def _check_indices(who, indices, size):
    if indices.dtype.kind not in "iu":
        raise TypeError(
            f"{_name(who)}: indices must be integers, got dtype {indices.dtype}; "
            "help: convert them with .astype('int64')"
        )
    if indices.size == 0:
        return
    low, high = int(indices.min()), int(indices.max())
    if low < 0 or high >= size:
        bad = low if low < 0 else high
        raise ValueError(
            f"{_name(who)}: index {bad} is out of range for an embedding table of {size} rows "
            f"(valid indices are 0..{size - 1}); help: build the layer with num_embeddings "
            "at least the vocabulary size"
        )


def _padding_row(who, padding_idx, size):
    if padding_idx is None:
        return None
    if not -size <= padding_idx < size:
        raise ValueError(f"{who}: padding_idx {padding_idx} must be within the {size} rows (-{size}..{size - 1})")
    return padding_idx % size


# -- attention -----------------------------------------------------------------------------


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """softmax(query @ key^T * scale + mask) @ value, with PyTorch's arguments.

    ``attn_mask`` is bool (True where attention IS allowed, PyTorch's convention for this
    function) or float (added to the scores), broadcastable to (..., L, S); ``is_causal``
    lets position i see positions 0..i only (top-left aligned when L != S). ``dropout_p``
    drops attention weights whenever it is positive (pass 0.0 in evaluation).
    ``scale`` defaults to 1/sqrt(E).

    Shape: query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev).

    >>> import glassnet as gn
    >>> import numpy as np
    >>> from glassnet.nn.functional import scaled_dot_product_attention
    >>> q = gn.tensor(np.ones((2, 4, 5, 8), dtype="float32"))
    >>> scaled_dot_product_attention(q, q, q, is_causal=True).shape
    (2, 4, 5, 8)
    """
    who = "scaled_dot_product_attention"
    query, key, value = (t if isinstance(t, Tensor) else Tensor(t) for t in (query, key, value))
    if min(query.ndim, key.ndim, value.ndim) < 2 or query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"{who}: expected query (..., L, E), key (..., S, E) and value (..., S, Ev), got "
            f"query {query.shape}, key {key.shape}, value {value.shape}"
        )
    if not 0 <= dropout_p <= 1:
        raise ValueError(f"{who}: dropout_p must be between 0 and 1, got {dropout_p}")
    length, source_length = query.shape[-2], key.shape[-2]
    scores_shape = _broadcast(who, query.shape[:-2], key.shape[:-2]) + (length, source_length)
    mask = None
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{who}: give either attn_mask or is_causal=True, not both")
        mask = _causal_mask(length, source_length, query.dtype)
    elif attn_mask is not None:
        mask = _additive_mask(who, "attn_mask", attn_mask, query.dtype, true_means="allowed")
        if _broadcast(who, mask.shape, scores_shape, "attn_mask") != scores_shape:
            raise ValueError(f"{who}: attn_mask of shape {mask.shape} does not broadcast to the scores' shape {scores_shape}")
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    return ops.Attention.apply(query, key, value, mask=mask, scale=scale, dropout_p=dropout_p)


def _broadcast(who, a, b, what="the batch dimensions of query and key"):
    try:
        return xp.broadcast_shapes(tuple(a), tuple(b))
    except ValueError:
        raise ValueError(f"{who}: {what}: shapes {tuple(a)} and {tuple(b)} do not broadcast together") from None


def _additive_mask(who, name, mask, dtype, true_means):
    """A bool or float mask as an additive array of ``dtype``: a bool entry becomes -inf
    where attention is blocked (``true_means`` says whether True blocks or allows), a float
    mask is added to the scores as it is."""
    mask = mask._data if isinstance(mask, Tensor) else xp.asarray(mask)
    if mask.dtype == bool:
        blocked = mask if true_means == "blocked" else ~mask
        return xp.where(blocked, -xp.inf, 0).astype(dtype)
    if mask.dtype.kind != "f":
        raise TypeError(
            f"{_name(who)}: {name} must be bool (True where attention is {true_means}) or float (added to the "
            f"scores), got dtype {mask.dtype}; help: convert it with .astype(bool)"
        )
    return mask.astype(dtype, copy=False)


def _causal_mask(length, source_length, dtype):
    """-inf above the diagonal: position i may attend to positions 0..i only."""
    return xp.triu(xp.full((length, source_length), -xp.inf, dtype=dtype), k=1)


# -- helpers -------------------------------------------------------------------------------


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _in_place(input, inplace, name, compute):
    """``compute(input)``; with ``inplace``, written into ``input`` itself, which is returned
    (PyTorch's ``inplace=True``; ``name`` is its in-place op, for the errors). The values are
    computed from a copy when the input requires grad: the ops they are composed of may save
    their input for backward, which the write would overwrite (PyTorch's in-place kernels
    take their gradients from the output instead). An op before that saved the input itself
    still finds it changed, and its backward raises, as PyTorch's does."""
    if not inplace:
        return compute(input)
    return input._update(lambda old: compute(old.clone() if old.requires_grad else old), name)


def _as_array(x):
    return x._data if isinstance(x, Tensor) else xp.asarray(x)
