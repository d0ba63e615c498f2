"""Gradient clipping: keep one bad batch from throwing the weights far away.

Both functions work on the gradients in place, between ``loss.backward()`` and
``optimizer.step()``, exactly as ``torch.nn.utils`` does.
"""
import math

from ..backend import xp


def _grads(parameters):
    """The gradient arrays of ``parameters`` (one parameter, or an iterable of them) that have one."""
    parameters = [parameters] if hasattr(parameters, "grad") else parameters
    return [p.grad._data for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients by one factor so that, seen as a single vector, their norm is
    at most ``max_norm``; return that norm before clipping, as a float.

    The total norm is the ``norm_type``-norm of the per-parameter norms (for ``inf``: the
    largest absolute value), and every gradient is multiplied by
    ``min(1, max_norm / (total_norm + 1e-6))``. The direction of the update is kept; only
    its length shrinks.

    >>> import numpy as np
    >>> from glassnet.nn import Parameter
    >>> w = Parameter(np.zeros(2, dtype=np.float32))
    >>> w.grad = np.array([3.0, 4.0], dtype=np.float32)
    >>> clip_grad_norm_([w], max_norm=1.0)
    5.0
    >>> w.grad
    tensor([0.6000, 0.8000])
    """
    grads = _grads(parameters)
    if not grads:
        return 0.0
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be positive (or inf), got {norm_type}")
    norms = [float(xp.linalg.norm(g.ravel(), ord=norm_type)) if g.size else 0.0 for g in grads]
    total_norm = float(xp.linalg.norm(xp.asarray(norms), ord=norm_type))
    if error_if_nonfinite and not math.isfinite(total_norm):
        raise RuntimeError(
            f"The total norm of order {norm_type} of the gradients is {total_norm}, so they cannot be clipped; "
            "help: find where the NaN/Inf comes from (glassnet.detect_anomaly()), or pass "
            "error_if_nonfinite=False to scale by it anyway"
        )
    coefficient = min(max_norm / (total_norm + 1e-6), 1.0)
    if coefficient != 1.0:  # also when NaN: the gradients become NaN, as in PyTorch
        for g in grads:
            g *= coefficient
    return total_norm


def clip_grad_value_(parameters, clip_value):
    """Clip every gradient element into ``[-clip_value, clip_value]``, in place.

    >>> import numpy as np
    >>> from glassnet.nn import Parameter
    >>> w = Parameter(np.zeros(3, dtype=np.float32))
    >>> w.grad = np.array([-2.0, 0.5, 3.0], dtype=np.float32)
    >>> clip_grad_value_(w, 1.0)
    >>> w.grad
    tensor([-1.0000,  0.5000,  1.0000])
    """
    clip_value = float(clip_value)
    for g in _grads(parameters):
        xp.clip(g, -clip_value, clip_value, out=g)
