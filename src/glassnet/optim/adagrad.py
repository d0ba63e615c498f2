"""Adagrad: divide each gradient by the root of the sum of all its past squares, so that
weights that have moved a lot slow down and rarely-updated ones keep large steps."""
from ..backend import xp
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), PyTorch's rule step for step. For each parameter p
    with gradient g (negated when ``maximize``), at its step t = 1, 2, ...::

        g ← g + weight_decay · p                          (L2 penalty)
        clr = lr / (1 + (t − 1) · lr_decay)               (a decaying learning rate)
        s ← s + g²                                        (s starts at initial_accumulator_value)
        p ← p − clr · g / (√s + eps)

    The sum s only grows, so every weight's steps only shrink: suited to sparse features
    (embeddings), where rare ones keep large steps while frequent ones settle.

    Args:
        params: parameters, or dicts of parameter groups.
        lr: learning rate (default 1e-2).
        lr_decay: how fast the learning rate decays with the step count (default 0).
        weight_decay: L2 penalty (default 0).
        initial_accumulator_value: the starting value of every sum s (default 0).
        eps: added to √s, against division by zero (default 1e-10).
        maximize: climb the objective instead of descending it.

    State per parameter, with PyTorch's names: ``step`` and ``sum`` (s). As in PyTorch it
    is made when the optimizer is built, so ``state_dict()`` holds every parameter at once.

    >>> import numpy as np
    >>> from glassnet.nn import Parameter
    >>> w = Parameter(np.array([1.0, 1.0], dtype=np.float32))
    >>> w.grad = np.array([0.5, -50.0], dtype=np.float32)
    >>> Adagrad([w], lr=0.1).step()  # the first step moves every weight by lr
    >>> w.numpy()
    array([0.9, 1.1], dtype=float32)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                 *, maximize=False):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p._data, self.state.setdefault(p, {}), group)

    @staticmethod
    def _init_state(param, state, group):
        state["step"] = 0
        state["sum"] = xp.full_like(param, group["initial_accumulator_value"])

    def update(self, param, grad, state, group):
        lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
        grad = self.gradient_to_follow(param, grad, group)
        if not state:  # a parameter added later with add_param_group
            self._init_state(param, state, group)
        state["step"] += 1
        step, s = state["step"], state["sum"]

        clr = lr / (1 + (step - 1) * lr_decay)
        s += grad * grad
        param -= clr * (grad / (xp.sqrt(s) + eps))
