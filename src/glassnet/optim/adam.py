"""Adam and AdamW: per-parameter step sizes from running averages of the gradient and
of its square."""
import math

import numpy as np

from .optimizer import Optimizer, check_betas, check_positive


class Adam(Optimizer):
    """PyTorch's Adam, step for step (t counts the steps of each parameter):

        g <- grad + weight_decay * p                    (L2 penalty, coupled)
        m <- beta1 m + (1 - beta1) g                    (mean of the gradient)
        v <- beta2 v + (1 - beta2) g^2                  (mean of its square)
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) + eps)

    With ``amsgrad``, the largest v seen so far is used instead of v.
    """

    decoupled_weight_decay = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False):
        check_positive("learning rate", lr)
        check_positive("epsilon value", eps)
        check_positive("weight_decay value", weight_decay)
        check_betas(betas)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def step(self):
        for group in self.param_groups:
            lr, (beta1, beta2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p, grad, state in self._with_grad(group):
                grad = -grad if group["maximize"] else grad
                if weight_decay and self.decoupled_weight_decay:
                    p.data *= 1 - lr * weight_decay  # AdamW: shrink the weights directly
                elif weight_decay:
                    grad = grad + weight_decay * p.data
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(p.data)
                    state["exp_avg_sq"] = np.zeros_like(p.data)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = np.zeros_like(p.data)
                state["step"] += 1
                t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
                m *= beta1
                m += (1 - beta1) * grad
                v *= beta2
                v += (1 - beta2) * (grad * grad)
                if group["amsgrad"]:
                    np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
                    v = state["max_exp_avg_sq"]
                denominator = np.sqrt(v)
                denominator /= math.sqrt(1 - beta2**t)
                denominator += eps
                p.data -= (lr / (1 - beta1**t)) * (m / denominator)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p <- p (1 - lr wd) before
    the Adam step, instead of adding wd p to the gradient. Default weight_decay 0.01."""

    decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)
