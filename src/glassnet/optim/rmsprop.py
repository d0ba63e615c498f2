"""RMSprop: divide each gradient by a running root-mean-square of its recent values."""
from ..backend import xp
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """RMSprop (Hinton), PyTorch's rule step for step. For each parameter p with
    gradient g (negated when ``maximize``)::

        g ← g + weight_decay · p                          (L2 penalty)
        v ← α · v + (1 − α) · g²                          (running mean of g²)
        μ ← α · μ + (1 − α) · g,   v' = v − μ²            (centered only: variance instead of v)
        s = √v' + eps
        b ← momentum · b + g / s,  p ← p − lr · b         (with momentum)
        p ← p − lr · g / s                                (without)

    Like Adam without the mean of the gradient and without bias correction.

    >>> import numpy as np
    >>> from glassnet.nn import Parameter
    >>> w = Parameter(np.array([1.0, 1.0], dtype=np.float32))
    >>> w.grad = np.array([0.5, -50.0], dtype=np.float32)
    >>> RMSprop([w], lr=0.01, alpha=0.75).step()  # v = g² / 4: a first step of 2 lr
    >>> w.numpy()
    array([0.98, 1.02], dtype=float32)
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 maximize=False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def update(self, param, grad, state, group):
        lr, alpha, eps, momentum = group["lr"], group["alpha"], group["eps"], group["momentum"]
        grad = self.gradient_to_follow(param, grad, group)
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(param)
        state["step"] += 1

        v = state["square_avg"]
        scratch = xp.multiply(grad, grad, out=xp.empty_like(param))  # an array even when param is 0-d
        scratch *= 1 - alpha
        v *= alpha
        v += scratch  # v ← α v + (1 − α) g²
        if group["centered"]:
            mean = state.get("grad_avg")
            if mean is None:
                mean = state["grad_avg"] = xp.zeros_like(param)
            xp.subtract(grad, mean, out=scratch)
            scratch *= 1 - alpha
            mean += scratch  # μ ← μ + (1 − α)(g − μ), which is α μ + (1 − α) g
            xp.multiply(mean, mean, out=scratch)
            xp.subtract(v, scratch, out=scratch)  # v − μ²: the variance of g
            denominator = xp.sqrt(scratch, out=scratch)
        else:
            denominator = xp.sqrt(v, out=scratch)
        denominator += eps

        if momentum > 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = xp.zeros_like(param)
            buf *= momentum
            buf += xp.divide(grad, denominator, out=scratch)  # b ← momentum b + g / s
            param -= lr * buf
        else:
            delta = xp.divide(grad, denominator, out=scratch)
            delta *= lr
            param -= delta
