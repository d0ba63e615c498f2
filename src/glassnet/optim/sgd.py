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
    Reference: :func:`sgd_step_reference` below, these lines as plain array maths.

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

    def reference_update(self, param, grad, state, group):
        sgd_step_reference(param, grad, state, group["lr"], group["momentum"], group["dampening"], group["nesterov"],
                           group["weight_decay"], group["maximize"])

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


def sgd_step_reference(param, grad, state, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0,
                       maximize=False):
    """One SGD step of one parameter, written as the formulas in :class:`SGD` read. It
    changes the array ``param`` in place and keeps the buffer in ``state["momentum_buffer"]``,
    where the fused update keeps it, so either can take over from the other mid-training.

    Shape: param, grad and the buffer all have the parameter's shape.

    >>> import numpy as np
    >>> w, state = np.array([1.0, 2.0]), {}
    >>> sgd_step_reference(w, np.array([0.5, -0.5]), state, lr=0.1, momentum=0.9)
    >>> w, state["momentum_buffer"]
    (array([0.95, 2.05]), array([ 0.5, -0.5]))
    """
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param  # the L2 penalty's gradient
    if momentum != 0:
        b = state.get("momentum_buffer")
        b = g if b is None else momentum * b + (1 - dampening) * g
        state["momentum_buffer"] = xp.array(b)  # a copy: b may be the gradient itself, or a 0-d result
        g = g + momentum * b if nesterov else b
    param -= lr * g
