"""Losses fused into one op each, because the fused backward is both simpler and much
cheaper than the chain of small ones: ``CrossEntropy`` (log-softmax + negative
log-likelihood), ``NLLLoss`` and ``BCEWithLogits`` (sigmoid + binary cross-entropy).

Targets arrive as arrays; ``q``, the per-class weight of each row's log-probabilities,
covers class indices (with class weights, ``ignore_index`` and label smoothing) and class
probabilities alike. ``nn.functional`` checks the arguments and brings PyTorch's
(N, C, d1, ...) layout to rows first.

``cross_entropy_reference``, beside ``CrossEntropy``, is the same loss from tensor ops
(log-softmax, then the weighted negative log-likelihood), whose backward autograd derives:
the version to read; ``tests/test_references.py`` checks that the two agree.
"""
from .. import compiled
from ..backend import xp
from ..tensor import Function, Tensor

# -- target weights and reduction ----------------------------------------------------------


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


def _scale(grad, reduction, divisor, dtype):
    if reduction == "none":
        return grad[:, None]
    if reduction == "mean":
        return grad * xp.asarray(1 / divisor, dtype=dtype)
    return grad


# -- the ops -------------------------------------------------------------------------------


def cross_entropy_reference(logits, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """-sum_c q[c] log softmax(logits)[c] per row, from tensor ops: what :class:`CrossEntropy`
    computes. q is the target as a distribution over classes: one-hot for a class index
    (zero for ``ignore_index``) or the given probabilities, mixed with the uniform one by
    ``label_smoothing``, times the class weights. 'mean' divides by the summed weights of
    the counted targets (N for probabilities), as PyTorch does.

    Shape: logits (N, C), target (N,) class indices or (N, C) probabilities, weight (C,)
    -> a scalar, or (N,) with ``reduction='none'``.

    >>> import glassnet as gn
    >>> from glassnet.ops import cross_entropy_reference
    >>> round(cross_entropy_reference(gn.tensor([[2.0, 0.0, 0.0]]), gn.tensor([0])).item(), 4)
    0.2395
    """
    classes = logits.shape[1]
    target = xp.asarray(target)  # a constant: no gradient goes to the targets
    weight = xp.ones(classes) if weight is None else xp.asarray(weight)
    if target.dtype.kind == "f":  # class probabilities: every row counts once
        q, counted = target * (1 - label_smoothing) + label_smoothing / classes, len(target)
    else:  # class indices: one-hot rows, all zero where the target is ignored
        kept = (target != ignore_index)[:, None]
        one_hot = xp.arange(classes) == target[:, None]
        q = ((1 - label_smoothing) * one_hot + label_smoothing / classes) * kept
        counted = (one_hot * kept * weight).sum()
    loss = -(Tensor((q * weight).astype(logits.dtype)) * logits.log_softmax(dim=1)).sum(dim=1)
    if reduction == "none":
        return loss
    return loss.sum() / float(counted) if reduction == "mean" else loss.sum()


class CrossEntropy(Function):
    """-sum_c q[c] log softmax(x)[c], fused: the gradient is softmax(x) sum(q) - q, one
    expression where the composed ops would walk back through log-softmax and a product.
    Reference: ``cross_entropy_reference`` above, the same loss from tensor ops.
    """

    def forward(self, logits, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        self.reduction, self.target = reduction, None
        if weight is None and not label_smoothing and reduction != "none" and target.shape == logits.shape[:-1] and (
                target.dtype.kind in "iu" and compiled.fits(logits)):
            return self._compiled(logits, target, ignore_index)
        # log-softmax with the row maximum subtracted first, so that exp cannot overflow
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        self.q, self.divisor = _target_distribution("cross_entropy", logits, target, weight, ignore_index, label_smoothing)
        self.log_probs = log_probs
        loss = -(self.q * log_probs).sum(axis=1)
        return xp.asarray(_reduce(loss, reduction, self.divisor), dtype=logits.dtype)

    def _compiled(self, logits, target, ignore_index):
        """The same loss for class indices without class weights or smoothing, in one pass
        (the NumPy lines above make about twenty small ones)."""
        self.log_probs, self.ignore_index = xp.empty_like(logits), ignore_index
        total, count = compiled.load().cross_entropy_rows(logits, target, ignore_index, self.log_probs)
        if count < 0:
            _class_targets("cross_entropy", logits, target, ignore_index)  # raises, naming the target
        self.target, self.divisor = target, xp.float32(count)
        loss = total / self.divisor if self.reduction == "mean" else total  # no row counted: NaN, as NumPy's
        return xp.asarray(loss, dtype=logits.dtype)

    def backward(self, grad):
        if self.target is not None:
            grad_logits, scale = xp.empty_like(self.log_probs), _scale(grad, self.reduction, self.divisor, grad.dtype)
            compiled.load().cross_entropy_backward_rows(self.log_probs, self.target, self.ignore_index, xp.float32(scale),
                                                        grad_logits)
            return grad_logits, None
        probs = xp.exp(self.log_probs)
        grad_logits = probs * self.q.sum(axis=1, keepdims=True) - self.q
        return grad_logits * _scale(grad, self.reduction, self.divisor, probs.dtype), None  # no gradient for targets


CrossEntropy.reference = cross_entropy_reference


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
        return -self.q * _scale(grad, self.reduction, self.divisor, self.q.dtype), None


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
