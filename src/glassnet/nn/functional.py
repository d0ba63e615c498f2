"""Neural-network operations in functional form, with PyTorch's names and arguments.

Most are compositions of tensor ops. Three are fused into a single op each, because
the fused backward is both simpler and much cheaper than the chain of small ones:
``linear`` (x W^T + b), ``cross_entropy`` (log-softmax + negative log-likelihood) and
``binary_cross_entropy_with_logits``. ``tests/test_functional.py`` checks each fused
op against its composition.
"""
import warnings

from .. import random
from ..backend import xp
from ..ops import GELU as _GELU
from ..ops import LeakyReLU as _LeakyReLU
from ..tensor import Function, Tensor

# -- layers ------------------------------------------------------------------------------


class Linear(Function):
    """y = x W^T + b, for x of shape (*, in_features) and W of shape (out, in).

    Leading axes are flattened into rows first: one 2-D matrix product reaches BLAS,
    where NumPy's stacked 3-D @ 2-D product can miss it and run many times slower.
    """

    def forward(self, x, weight, bias=None):
        if x.shape[-1] != weight.shape[1]:
            raise ValueError(
                f"linear: input of shape {x.shape} has {x.shape[-1]} features in its last dimension, "
                f"but the weight {weight.shape} expects {weight.shape[1]}"
            )
        self.x_rows, self.x_shape = x.reshape(-1, x.shape[-1]), x.shape
        self.weight, self.has_bias = weight, bias is not None
        out = self.x_rows @ weight.T
        if bias is not None:
            out += bias
        return out.reshape(x.shape[:-1] + (weight.shape[0],))

    def backward(self, grad):
        x_needs, w_needs = self.needs_input_grad[:2]
        grad_rows = grad.reshape(-1, grad.shape[-1])
        grad_x = (grad_rows @ self.weight).reshape(self.x_shape) if x_needs else None
        grad_w = grad_rows.T @ self.x_rows if w_needs else None
        if not self.has_bias:
            return grad_x, grad_w
        grad_b = grad_rows.sum(axis=0) if self.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b


def linear(input, weight, bias=None):
    """y = input @ weight.T + bias.

    Shape: input (*, in_features), weight (out_features, in_features), bias (out_features,)
    -> (*, out_features).
    """
    input = _as_tensor(input)
    if bias is None:
        return Linear.apply(input, weight)
    return Linear.apply(input, weight, bias)


def flatten(input, start_dim=1, end_dim=-1):
    return _as_tensor(input).flatten(start_dim, end_dim)


def dropout(input, p=0.5, training=True, generator=None):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p), so the
    expected value is unchanged and evaluation needs no rescaling."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, got {p}")
    input = _as_tensor(input)
    if not training or p == 0:
        return input
    generator = generator or random.generator()
    keep = generator.random(input.shape, dtype=xp.float32) >= p
    scale = xp.asarray(0.0 if p == 1 else 1 / (1 - p), dtype=input.dtype)
    return input * Tensor(keep * scale)


# -- activations ---------------------------------------------------------------------------


def relu(input):
    return _as_tensor(input).relu()


def leaky_relu(input, negative_slope=0.01):
    return _LeakyReLU.apply(_as_tensor(input), negative_slope=negative_slope)


def sigmoid(input):
    return _as_tensor(input).sigmoid()


def tanh(input):
    return _as_tensor(input).tanh()


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _GELU.apply(_as_tensor(input), approximate=approximate)


def softmax(input, dim=-1):
    return _as_tensor(input).softmax(dim=dim)


def log_softmax(input, dim=-1):
    return _as_tensor(input).log_softmax(dim=dim)


# -- losses ------------------------------------------------------------------------------------


_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _class_targets(name, logits, target, ignore_index):
    """Check integer class targets against (N, C) scores; PyTorch's (N, C, d1, ...) layout
    is handled by the callers moving C last."""
    if target.dtype.kind not in "iu":
        raise TypeError(
            f"{name}: targets must be integer class indices, got dtype {target.dtype}; "
            "help: convert them with labels.astype('int64')"
        )
    if target.shape != logits.shape[:-1]:
        raise ValueError(
            f"{name}: targets of shape {target.shape} do not match scores of shape {logits.shape} "
            f"(expected targets of shape {logits.shape[:-1]}: one class index per row)"
        )
    classes = logits.shape[-1]
    valid = target != ignore_index
    bad = valid & ((target < 0) | (target >= classes))
    if bad.any():
        raise ValueError(
            f"{name}: target contains class {int(target[bad][0])}, but the scores have {classes} "
            f"classes (valid targets are 0..{classes - 1})"
        )
    return valid


def _target_distribution(name, logits, target, weight, ignore_index, label_smoothing):
    """The per-row weights q[i, c] of -sum_c q[i, c] log p[i, c], and the divisor that
    ``reduction='mean'`` uses (PyTorch's: the summed weights of the counted rows)."""
    n, classes = logits.shape
    w = xp.ones(classes, dtype=logits.dtype) if weight is None else weight.astype(logits.dtype, copy=False)
    if target.dtype.kind == "f" and target.ndim == logits.ndim:  # class probabilities (shape checked by the caller)
        q = (target * (1 - label_smoothing) + label_smoothing / classes) * w
        return q.astype(logits.dtype, copy=False), n
    valid = _class_targets(name, logits, target, ignore_index)  # float labels of shape (N,) raise here
    safe_target = xp.where(valid, target, 0)
    row_weight = w[safe_target] * valid
    q = xp.zeros((n, classes), dtype=logits.dtype)
    if label_smoothing:
        q += (label_smoothing / classes) * w * valid[:, None]
    q[xp.arange(n), safe_target] += (1 - label_smoothing) * row_weight
    return q, row_weight.sum()


def _reduce(loss, reduction, divisor):
    if reduction == "none":
        return loss
    total = loss.sum()
    return total / divisor if reduction == "mean" else total


class CrossEntropy(Function):
    """-sum_c q[c] log softmax(x)[c], fused: the gradient is softmax(x) sum(q) - q."""

    def forward(self, logits, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        self.q, self.divisor = _target_distribution("cross_entropy", logits, target, weight, ignore_index, label_smoothing)
        self.log_probs, self.reduction = log_probs, reduction
        loss = -(self.q * log_probs).sum(axis=1)
        return xp.asarray(_reduce(loss, reduction, self.divisor), dtype=logits.dtype)

    def backward(self, grad):
        probs = xp.exp(self.log_probs)
        grad_logits = probs * self.q.sum(axis=1, keepdims=True) - self.q
        return grad_logits * _scale(grad, self.reduction, self.divisor, probs.dtype)


class NLLLoss(Function):
    """-sum_c q[c] log_probs[c] for log-probabilities that are already computed."""

    def forward(self, log_probs, target, weight=None, ignore_index=-100, reduction="mean"):
        self.q, self.divisor = _target_distribution("nll_loss", log_probs, target, weight, ignore_index, 0.0)
        self.reduction = reduction
        # classes with q = 0 are left out, so a log-probability of -inf there (log of a
        # probability that underflowed to 0) gives no 0 * -inf = NaN, as in PyTorch
        loss = -(self.q * xp.where(self.q != 0, log_probs, 0)).sum(axis=1)
        return xp.asarray(_reduce(loss, reduction, self.divisor), dtype=log_probs.dtype)

    def backward(self, grad):
        return -self.q * _scale(grad, self.reduction, self.divisor, self.q.dtype)


def _scale(grad, reduction, divisor, dtype):
    if reduction == "none":
        return grad[:, None]
    if reduction == "mean":
        return grad * xp.asarray(1 / divisor, dtype=dtype)
    return grad


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
    if _looks_like_probabilities(input.data):
        warnings.warn(
            "cross_entropy received values that look like probabilities (each row in [0, 1], "
            "summing to 1). It expects raw scores (logits) and applies log-softmax itself; "
            "help: remove the Softmax layer before the loss.",
            stacklevel=2,
        )
    rows, target, restore = _rows_and_targets("cross_entropy", input, target)
    loss = CrossEntropy.apply(
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
    loss = NLLLoss.apply(rows, Tensor(target), **_weight_option(weight), ignore_index=ignore_index, reduction=reduction)
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
        target = Tensor(target.data.astype(input.dtype))
    if input.shape != target.shape:
        raise ValueError(
            f"mse_loss: input of shape {input.shape} and target of shape {target.shape} differ; "
            "help: reshape one of them (e.g. target.reshape(input.shape)) so they match"
        )
    squared = (input - target) ** 2
    return squared if reduction == "none" else squared.mean() if reduction == "mean" else squared.sum()


class BCEWithLogits(Function):
    """-[p y log s(x) + (1 - y) log(1 - s(x))], s the sigmoid and p the positive-class
    weight, written as (1 - y) x + (1 + (p - 1) y) softplus(-x) to stay finite."""

    def forward(self, x, y, weight=None, pos_weight=None, reduction="mean"):
        pos = 1 if pos_weight is None else pos_weight
        self.log_weight = 1 + (pos - 1) * y
        softplus_neg_x = xp.logaddexp(0, -x)
        loss = (1 - y) * x + self.log_weight * softplus_neg_x
        if weight is not None:
            loss = loss * weight
        self.x, self.y, self.pos, self.weight, self.reduction = x, y, pos, weight, reduction
        return xp.asarray(_reduce(loss, reduction, loss.size), dtype=x.dtype)

    def backward(self, grad):
        sig = xp.exp(-xp.logaddexp(0, -self.x))  # 1 / (1 + e^-x) without overflow for large -x
        grad_x = sig * self.log_weight - self.pos * self.y
        if self.weight is not None:
            grad_x = grad_x * self.weight
        if self.reduction == "mean":
            grad = grad * xp.asarray(1 / self.x.size, dtype=grad.dtype)
        return (grad * grad_x).astype(self.x.dtype, copy=False), None


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
    return BCEWithLogits.apply(input, Tensor(target.astype(input.dtype, copy=False)), **options)


# -- helpers ------------------------------------------------------------------------------------


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _as_array(x):
    return x.data if isinstance(x, Tensor) else xp.asarray(x)


# -- the functional forms of the layer families, each defined beside its layer ----------------
# (imported last: those files build on the ops above)
from .attention import scaled_dot_product_attention  # noqa: E402
from .batchnorm import batch_norm  # noqa: E402
from .conv import conv2d  # noqa: E402
from .dropout import dropout2d  # noqa: E402
from .normalization import layer_norm  # noqa: E402
from .pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d  # noqa: E402
from .sparse import embedding  # noqa: E402
