"""``Optimizer``: the base of every optimizer — parameter groups, per-parameter state,
``zero_grad``, ``step`` and a ``state_dict`` that is plain data.

An optimizer only ever touches two things of a parameter: its values, which it
changes in place (so every layer holding the parameter sees the new value, and the
parameter's version moves on), and ``.grad``, the gradient that the last ``backward()``
left there (``None``: skip it).
"""
from ..backend import xp
from ..tensor import enable_grad


class Optimizer:
    """Holds the parameters to train, in groups that each carry their own hyperparameters,
    and the state each parameter needs between steps (momentum buffers, moment averages).

    ``params`` is an iterable of parameters, or of dicts (parameter groups) such as
    ``[{"params": body}, {"params": head, "lr": 1e-2}]``; options missing from a group
    come from ``defaults``. A subclass checks its hyperparameters in
    :meth:`check_hyperparameters` and writes its update rule, for one parameter, in
    :meth:`update`.

    The gradients of all parameters are reachable as one list per step
    (:meth:`gradients`): what data-parallel training will all-reduce.
    """

    def __init__(self, params, defaults):
        if hasattr(params, "grad"):
            raise TypeError(
                f"{type(self).__name__} takes an iterable of parameters or of dicts (parameter groups), "
                "got a single tensor; help: wrap it in a list, e.g. [weight]"
            )
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}  # parameter -> its dict of state; tensors hash by identity
        groups = list(params)
        if not groups:
            raise ValueError(
                "optimizer got an empty parameter list; help: pass model.parameters() of a model that has some"
            )
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {value}" for key, value in sorted(group.items()) if key != "params"]
        return "\n".join(lines + [")"])

    def add_param_group(self, param_group):
        """Add a group of parameters, e.g. a layer unfrozen during fine-tuning, with its own
        options (the others are taken from ``defaults``)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group is a dict with a 'params' key, got {type(param_group).__name__}")
        params = param_group["params"]
        params = [params] if hasattr(params, "grad") else list(params)
        group = {"params": params, **self.defaults}
        group.update((key, value) for key, value in param_group.items() if key != "params")

        seen = {id(p) for other in self.param_groups for p in other["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group (or twice in one)")
        self.check_hyperparameters(group)
        self.param_groups.append(group)

    def check_hyperparameters(self, group):
        """Raise ``ValueError`` for a hyperparameter outside its range (subclasses extend this)."""
        if not group["lr"] >= 0:
            raise ValueError(f"Invalid learning rate: {group['lr']} (it must be >= 0)")

    def zero_grad(self, set_to_none=True):
        """Forget the gradients of the last step: set them to ``None`` (the next backward
        writes fresh arrays) or, with ``set_to_none=False``, fill them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    def gradients(self):
        """The gradient arrays of every parameter that has one, in group order."""
        return [p.grad._data for group in self.param_groups for p in group["params"] if p.grad is not None]

    def step(self, closure=None):
        """Update every parameter that has a gradient, in place. ``closure``, if given,
        recomputes the loss (with gradients) and its value is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self.update(p._data, p.grad._data, self.state.setdefault(p, {}), group)
                    p._version[0] += 1  # a graph that saved the old values must not backward now
        return loss

    @staticmethod
    def gradient_to_follow(param, grad, group, l2=True):
        """The gradient an update rule follows: negated with ``maximize`` (to climb), plus the
        L2 penalty ``weight_decay · param`` (unless ``l2=False``). A new array whenever it
        differs, so the parameter's ``.grad`` stays as it is."""
        if group["maximize"]:
            grad = -grad
        if l2 and group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        return grad

    def update(self, param, grad, state, group):
        """Change the array ``param`` in place, given its gradient ``grad``, its ``state``
        dict (empty at the first step) and its group's hyperparameters. ``grad`` belongs
        to the parameter: read it, never write to it."""
        raise NotImplementedError(f"{type(self).__name__} must define update()")

    # -- saving and resuming ------------------------------------------------------------------

    def state_dict(self):
        """The optimizer's state as plain data, laid out as PyTorch's: ``{"state": {index:
        {name: array or number}}, "param_groups": [{..., "params": [index, ...]}]}``, where
        parameters are numbered in the order of the groups. The arrays are copies."""
        index = {}
        groups = []
        for group in self.param_groups:
            saved = {key: value for key, value in group.items() if key != "params"}
            saved["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(saved)
        state = {
            index[id(p)]: {name: _copy(value) for name, value in values.items()}
            for p, values in self.state.items()
        }
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyperparameters and state saved by :meth:`state_dict` into this optimizer,
        built on the same parameters in the same groups (the arrays are copied)."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups, this optimizer has "
                f"{len(self.param_groups)}"
            )
        by_index = {}
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"parameter group {i} of the loaded state dict has {len(saved['params'])} parameters, "
                    f"this optimizer's has {len(group['params'])}"
                )
            by_index.update(zip(saved["params"], group["params"]))

        state = {}
        for index, values in state_dict["state"].items():
            param = by_index[int(index)]
            state[param] = {name: _restore(value, param, name, index) for name, value in values.items()}
        self.state = state
        self.param_groups = [dict(saved, params=group["params"]) for saved, group in zip(saved_groups, self.param_groups)]


def _copy(value):
    return value.copy() if isinstance(value, xp.ndarray) else value


def _restore(value, param, name, index):
    """A saved state value: a fresh array of the parameter's dtype, or a plain number."""
    if not hasattr(value, "shape"):
        return value
    if name == "step":  # a number that went through an array (PyTorch saves it as a 0-d tensor)
        return value.item()
    if value.shape != param.shape:
        raise ValueError(
            f"state '{name}' of parameter {index} has shape {tuple(value.shape)} but the parameter has shape "
            f"{param.shape}; help: build the optimizer on the same model as the one that was saved"
        )
    return xp.array(value, dtype=param.dtype, copy=True)
