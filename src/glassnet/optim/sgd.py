"""Stochastic gradient descent, with momentum and Nesterov momentum."""
from .optimizer import Optimizer, check_positive


class SGD(Optimizer):
    """p <- p - lr * g, where (PyTorch's rule, step for step)

        g <- grad + weight_decay * p
        buf <- g at the first step, else momentum * buf + (1 - dampening) * g
        g <- g + momentum * buf (nesterov), or g <- buf (momentum)

    >>> import glassnet as gn
    >>> import numpy as np
    >>> w = gn.nn.Parameter([1.0, 2.0])
    >>> w.grad = np.array([0.5, -0.5], dtype="float32")
    >>> gn.optim.SGD([w], lr=0.1).step()
    >>> w.data
    array([0.95, 2.05], dtype=float32)
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False):
        check_positive("learning rate", lr)
        check_positive("momentum value", momentum)
        check_positive("weight_decay value", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def step(self):
        for group in self.param_groups:
            lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
            for p, grad, state in self._with_grad(group):
                grad = -grad if group["maximize"] else grad
                if weight_decay:
                    grad = grad + weight_decay * p.data
                if momentum:
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = grad.copy()
                    else:
                        buf *= momentum
                        buf += (1 - group["dampening"]) * grad
                    grad = grad + momentum * buf if group["nesterov"] else buf
                p.data -= lr * grad
