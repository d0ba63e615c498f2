"""Adam and AdamW: a step size for every weight, from running averages of its gradient
and of the gradient's square."""
import math

from .. import compiled
from ..backend import xp
from .optimizer import Optimizer


class Adam(Optimizer):
    """Adam (Kingma & Ba), PyTorch's rule step for step. For each parameter p with
    gradient g (negated when ``maximize``), at its step t = 1, 2, ...::

        g ← g + weight_decay · p                          (L2 penalty, added to the gradient)
        m ← β1 · m + (1 − β1) · g                         (running mean of the gradient)
        v ← β2 · v + (1 − β2) · g²                        (running mean of its square)
        p ← p − lr / (1 − β1^t) · m / (√(v / (1 − β2^t)) + eps)

    m and v start at zero, so early on they are too small; dividing by 1 − β^t undoes
    that bias. Each weight moves by about ``lr`` whatever the scale of its gradient.
    With ``amsgrad``, v in the last line is the largest v seen so far. Reference:
    :func:`adam_step_reference` below, these lines as plain array maths.

    >>> import numpy as np
    >>> from glassnet.nn import Parameter
    >>> w = Parameter(np.array([1.0, -1.0], dtype=np.float32))
    >>> w.grad = np.array([0.5, 50.0], dtype=np.float32)
    >>> Adam([w], lr=0.1).step()  # the first step moves every weight by lr
    >>> w.numpy().round(4)
    array([ 0.9, -1.1], dtype=float32)
    """

    # AdamW shrinks the weights directly instead of adding weight_decay · p to the gradient
    decoupled_weight_decay = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 maximize=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize)
        super().__init__(params, defaults)

    def reference_update(self, param, grad, state, group):
        adam_step_reference(param, grad, state, group["lr"], group["betas"], group["eps"], group["weight_decay"],
                            group["amsgrad"], group["maximize"], decoupled_weight_decay=self.decoupled_weight_decay)

    def update(self, param, grad, state, group):
        lr, (beta1, beta2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if weight_decay != 0 and self.decoupled_weight_decay:
            param *= 1 - lr * weight_decay  # AdamW: the decay acts on the weight, not through the moments
        grad = self.gradient_to_follow(param, grad, group, l2=not self.decoupled_weight_decay)
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(param)
            state["exp_avg_sq"] = xp.zeros_like(param)
        state["step"] += 1
        step, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        if not group["amsgrad"] and compiled.fits(param, grad, m, v):  # the lines below in one compiled pass
            return compiled.load().adam_update(
                *(a.reshape(-1) for a in (param, grad, m, v)), *(xp.float32(c) for c in (
                    1 - beta1, beta2, 1 - beta2, lr / (1 - beta1**step), eps, math.sqrt(1 - beta2**step))))

        # Everything below runs in place, through one scratch array (made with empty_like:
        # arithmetic on 0-d arrays gives NumPy scalars, which cannot be written into).
        scratch = xp.empty_like(param)
        xp.subtract(grad, m, out=scratch)
        scratch *= 1 - beta1
        m += scratch  # m ← m + (1 − β1)(g − m), which is β1 m + (1 − β1) g
        xp.multiply(grad, grad, out=scratch)
        scratch *= 1 - beta2
        v *= beta2
        v += scratch  # v ← β2 v + (1 − β2) g²
        if group["amsgrad"]:
            v_max = state.get("max_exp_avg_sq")
            if v_max is None:
                v_max = state["max_exp_avg_sq"] = xp.zeros_like(param)
            xp.maximum(v_max, v, out=v_max)
            v = v_max

        denominator = xp.sqrt(v, out=scratch)
        denominator /= math.sqrt(1 - beta2**step)
        denominator += eps  # √(v / (1 − β2^t)) + eps
        delta = xp.divide(m, denominator, out=scratch)
        delta *= lr / (1 - beta1**step)
        param -= delta


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): before the Adam step the
    weights shrink, ``p ← p · (1 − lr · weight_decay)``, instead of ``weight_decay · p``
    joining the gradient, where Adam's scaling would weaken it for weights with large
    gradients. Default ``weight_decay=0.01``, as in PyTorch.
    """

    decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)


def adam_step_reference(param, grad, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                        maximize=False, decoupled_weight_decay=False):
    """One Adam step of one parameter (AdamW's with ``decoupled_weight_decay``), written as
    the formulas in :class:`Adam` read. It changes the array ``param`` in place and keeps
    t, m, v (and the largest v) in ``state`` under the fused update's keys, so either can
    take over from the other mid-training.

    Shape: param, grad and the moments all have the parameter's shape.

    >>> import numpy as np
    >>> w, state = np.array([1.0, -1.0]), {}
    >>> adam_step_reference(w, np.array([0.5, 50.0]), state, lr=0.1)  # the first step moves every weight by lr
    >>> w.round(4), state["step"]
    (array([ 0.9, -1.1]), 1)
    """
    (beta1, beta2), g = betas, -grad if maximize else grad
    if decoupled_weight_decay:
        param *= 1 - lr * weight_decay  # AdamW: the weight itself shrinks
    elif weight_decay != 0:
        g = g + weight_decay * param  # Adam: the L2 penalty's gradient joins g
    t = state["step"] = state.get("step", 0) + 1
    m = beta1 * state.get("exp_avg", 0) + (1 - beta1) * g  # m and v start at zero
    v = beta2 * state.get("exp_avg_sq", 0) + (1 - beta2) * g * g
    state["exp_avg"], state["exp_avg_sq"] = xp.asarray(m), xp.asarray(v)  # arrays, even for a 0-d param
    if amsgrad:  # from here on, v is the largest v seen so far
        v = xp.maximum(state.get("max_exp_avg_sq", 0), v)
        state["max_exp_avg_sq"] = xp.asarray(v)
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)  # undo the bias towards zero
    param -= lr * m_hat / (xp.sqrt(v_hat) + eps)
