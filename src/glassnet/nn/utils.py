"""Gradient clipping: keep one bad batch from throwing the weights far away."""
import math

import numpy as np


def _grads(parameters):
    parameters = [parameters] if hasattr(parameters, "grad") else parameters
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so that their joint norm is at most ``max_norm``.
    Returns the norm before clipping (as PyTorch does)."""
    grads = _grads(parameters)
    if not grads:
        return 0.0
    norm_type = float(norm_type)
    if norm_type == math.inf:
        total = max(float(np.abs(g).max()) for g in grads)
    else:
        total = float(sum(float(np.sum(np.abs(g, dtype=np.float64) ** norm_type)) for g in grads) ** (1 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"the total norm of order {norm_type} of the gradients is {total}")
    coefficient = min(max_norm / (total + 1e-6), 1.0)
    if coefficient < 1.0:
        for g in grads:
            g *= np.asarray(coefficient, dtype=g.dtype)
    return total


def clip_grad_value_(parameters, clip_value):
    """Clip every gradient element to [-clip_value, clip_value]."""
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)
