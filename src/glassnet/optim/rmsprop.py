"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""
import numpy as np

from .optimizer import Optimizer, check_positive


class RMSprop(Optimizer):
    """PyTorch's RMSprop, step for step:

        g <- grad + weight_decay * p
        s <- alpha s + (1 - alpha) g^2
        d <- sqrt(s - mean_g^2) + eps   (centered, mean_g <- alpha mean_g + (1 - alpha) g)
             sqrt(s) + eps              (otherwise)
        buf <- momentum buf + g / d;  p <- p - lr buf    (with momentum)
        p <- p - lr g / d                                 (without)
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, maximize=False):
        check_positive("learning rate", lr)
        check_positive("epsilon value", eps)
        check_positive("momentum value", momentum)
        check_positive("weight_decay value", weight_decay)
        check_positive("alpha value", alpha)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def step(self):
        for group in self.param_groups:
            lr, alpha, eps, momentum = group["lr"], group["alpha"], group["eps"], group["momentum"]
            for p, grad, state in self._with_grad(group):
                grad = -grad if group["maximize"] else grad
                if group["weight_decay"]:
                    grad = grad + group["weight_decay"] * p.data
                if not state:
                    state["step"] = 0
                    state["square_avg"] = np.zeros_like(p.data)
                    if momentum:
                        state["momentum_buffer"] = np.zeros_like(p.data)
                    if group["centered"]:
                        state["grad_avg"] = np.zeros_like(p.data)
                state["step"] += 1
                square_avg = state["square_avg"]
                square_avg *= alpha
                square_avg += (1 - alpha) * (grad * grad)
                if group["centered"]:
                    grad_avg = state["grad_avg"]
                    grad_avg *= alpha
                    grad_avg += (1 - alpha) * grad
                    denominator = np.sqrt(square_avg - grad_avg * grad_avg) + eps
                else:
                    denominator = np.sqrt(square_avg) + eps
                if momentum:
                    buf = state["momentum_buffer"]
                    buf *= momentum
                    buf += grad / denominator
                    p.data -= lr * buf
                else:
                    p.data -= lr * (grad / denominator)
