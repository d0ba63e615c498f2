"""Adadelta: a step size for every weight from running averages of its squared gradients
and of its own squared past updates, so that no learning rate needs tuning."""
from ..backend import xp
from .optimizer import Optimizer


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012), PyTorch's rule step for step. For each parameter p with
    gradient g (negated when ``maximize``)::

        g ← g + weight_decay · p                          (L2 penalty)
        v ← ρ · v + (1 − ρ) · g²                          (running mean of g²)
        Δ = √(u + eps) / √(v + eps) · g                   (the update, in units of p)
        u ← ρ · u + (1 − ρ) · Δ²                          (running mean of Δ²)
        p ← p − lr · Δ

    The ratio √u / √v gives each step the units of the weight itself, which is why the
    default ``lr`` is 1: it only rescales a step that is already sized. Both averages
    start at zero, so the first steps are about √eps · g / |g|: small, and growing.

    Args:
        params: parameters, or dicts of parameter groups.
        lr: a factor on every update (default 1.0).
        rho: decay of both running averages (default 0.9).
        eps: added inside both square roots (default 1e-6).
        weight_decay: L2 penalty (default 0).
        maximize: climb the objective instead of descending it.

    State per parameter, with PyTorch's names: ``step``, ``square_avg`` (v) and
    ``acc_delta`` (u), each shaped as the parameter.

    >>> import numpy as np
    >>> from glassnet.nn import Parameter
    >>> w = Parameter(np.array([1.0, -1.0], dtype=np.float32))
    >>> w.grad = np.array([0.5, -50.0], dtype=np.float32)
    >>> Adadelta([w], rho=0.0, eps=1e-2).step()  # ρ = 0: Δ = √eps · g / √(g² + eps)
    >>> w.numpy().round(3)
    array([ 0.902, -0.9  ], dtype=float32)
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, *, maximize=False):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def update(self, param, grad, state, group):
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        grad = self.gradient_to_follow(param, grad, group)
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(param)
            state["acc_delta"] = xp.zeros_like(param)
        state["step"] += 1
        v, u = state["square_avg"], state["acc_delta"]

        v *= rho
        v += (1 - rho) * (grad * grad)  # v ← ρ v + (1 − ρ) g²
        delta = xp.sqrt(u + eps) / xp.sqrt(v + eps) * grad
        u *= rho
        u += (1 - rho) * (delta * delta)  # u ← ρ u + (1 − ρ) Δ², after Δ used the old u
        param -= lr * delta
