"""Stochastic gradient descent, with momentum and Nesterov momentum."""
from ..backend import xp
from .optimizer import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's rule step for step. For each parameter p
    with gradient g (negated when ``maximize``)::

        g ← g + weight_decay · p                          (L2 penalty)
        b ← g at the first step, else momentum · b + (1 − dampening) · g
        g ← g + momentum · b   with nesterov,   g ← b   with momentum only
        p ← p − lr · g

    The momentum buffer b is a running sum of past gradients: it keeps the weights
    moving along directions the gradients agree on, and damps those where they flip.

    >>> import numpy as np
    >>> from glassnet.nn import Parameter
    >>> w = Parameter(np.array([1.0, 2.0], dtype=np.float32))
    >>> w.grad = np.array([0.5, -0.5], dtype=np.float32)
    >>> SGD([w], lr=0.1).step()
    >>> w.numpy()
    array([0.95, 2.05], dtype=float32)
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 maximize=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def check_hyperparameters(self, group):
        super().check_hyperparameters(group)
        if not group["momentum"] >= 0:
            raise ValueError(f"Invalid momentum value: {group['momentum']} (it must be >= 0)")
        if not group["weight_decay"] >= 0:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']} (it must be >= 0)")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def update(self, param, grad, state, group):
        lr, momentum = group["lr"], group["momentum"]
        grad = self.gradient_to_follow(param, grad, group)
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = xp.array(grad)  # a copy, and an array even when param is 0-d
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        param -= lr * grad
