"""``Optimizer``: the base of every optimizer — parameter groups, per-parameter state,
``zero_grad``, ``step`` and a ``state_dict`` that is plain data.

An optimizer only ever touches two things of a parameter: its values, which it
changes in place (so every layer holding the parameter sees the new value, and the
parameter's version moves on), and ``.grad``, the gradient that the last ``backward()``
left there (``None``: skip it).

Every optimizer's arguments go through the same checks, at the end of this file.
"""
from numbers import Real

from ..backend import xp
from ..tensor import Tensor, enable_grad, reference_ops_enabled


class Optimizer:
    """Holds the parameters to train, in groups that each carry their own hyperparameters,
    and the state each parameter needs between steps (momentum buffers, moment averages).

    ``params`` is an iterable of parameters, or of dicts (parameter groups) such as
    ``[{"params": body}, {"params": head, "lr": 1e-2}]``; options missing from a group
    come from ``defaults``. Every group's options are checked against one table,
    :data:`HYPERPARAMETER_RANGES`, by :func:`check_hyperparameters`. A subclass passes its
    options as ``defaults`` and writes its update rule, for one parameter, in
    :meth:`update`.

    The gradients of all parameters are reachable as one list per step
    (:meth:`gradients`): what data-parallel training will all-reduce.
    """

    def __init__(self, params, defaults):
        name = type(self).__name__
        if hasattr(params, "grad"):
            raise TypeError(
                f"{name}: params must be an iterable of parameters or of dicts (parameter groups), "
                f"got a single tensor; help: wrap it in a list, e.g. {name}([weight])"
            )
        if hasattr(params, "parameters") or not hasattr(params, "__iter__"):
            got = type(params).__name__
            got = f"the model itself ({got})" if hasattr(params, "parameters") else got
            raise TypeError(
                f"{name}: params must be an iterable of parameters, got {got}; help: pass model.parameters()"
            )
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}  # parameter -> its dict of state; tensors hash by identity
        groups = list(params)
        if not groups:
            raise ValueError(
                f"{name}: got an empty parameter list; help: pass model.parameters() of a model that has some"
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
        name = type(self).__name__
        if not isinstance(param_group, dict) or "params" not in param_group:
            got = f"keys {sorted(param_group)}" if isinstance(param_group, dict) else type(param_group).__name__
            raise TypeError(
                f"{name}: a parameter group is a dict with a 'params' key, got {got}; "
                "help: e.g. {'params': model.head.parameters(), 'lr': 1e-2}"
            )
        params = param_group["params"]
        params = [params] if hasattr(params, "grad") else list(params)
        options = {**self.defaults, **{key: value for key, value in param_group.items() if key != "params"}}
        check_parameters(name, params, already=[p for group in self.param_groups for p in group["params"]])
        check_hyperparameters(name, **options)
        self.param_groups.append({"params": params, **options})

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

    # an optimizer's readable twin: a method with ``update``'s arguments that applies the rule
    # as plain maths (``sgd_step_reference``...); ``with gn.reference_ops():`` steps with it
    reference_update = None

    def step(self, closure=None):
        """Update every parameter that has a gradient, in place. ``closure``, if given,
        recomputes the loss (with gradients) and its value is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        # under gn.reference_ops(), the rule as its formulas read, on the same state
        update = self.reference_update if self.reference_update is not None and reference_ops_enabled() else self.update
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    update(p._data, p.grad._data, self.state.setdefault(p, {}), group)
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


# -- the checks every optimizer's arguments go through ----------------------------------------

def check_parameters(optimizer_name, params, already=()):
    """Raise for ``params`` an optimizer cannot train: not tensors, computed by an op
    (not leaves), or repeated (twice in the list, or among ``already``, the parameters
    of the optimizer's other groups)."""
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(
                f"{optimizer_name}: can only optimize tensors, but parameter {i} is of type {type(p).__name__}; "
                "help: pass model.parameters(), or tensors made with requires_grad=True"
            )
        if not p.is_leaf:
            raise ValueError(
                f"{optimizer_name}: parameter {i} is not a leaf tensor but an op's result (grad_fn={p.grad_fn.name()}), "
                "so changing it would change nothing; help: optimize the tensors it was computed from"
            )
    seen = {id(p) for p in already}
    if len({id(p) for p in params}) != len(params) or any(id(p) in seen for p in params):
        raise ValueError(
            f"{optimizer_name}: some parameters appear in more than one parameter group (or twice in one); "
            "help: give each parameter to one group only"
        )


_AT_LEAST_0 = (">= 0", lambda value: value >= 0)
_IN_0_1 = ("in [0, 1)", lambda value: 0 <= value < 1)
_IN_0_1_CLOSED = ("in [0, 1]", lambda value: 0 <= value <= 1)

# The range of every hyperparameter that has one, as PyTorch checks it, and what to use
# instead. One table for all the optimizers: a name means the same thing in each. Options
# missing here (amsgrad, nesterov, maximize, ...) take any value.
HYPERPARAMETER_RANGES = {
    "lr": (_AT_LEAST_0, "a small positive number such as 1e-3 (0 leaves the weights as they are)"),
    "momentum": (_AT_LEAST_0, "0.9 is the usual value; 0 turns momentum off"),
    "weight_decay": (_AT_LEAST_0, "0 turns the penalty off; 1e-4 to 1e-2 are usual"),
    "eps": (_AT_LEAST_0, "a tiny positive number such as 1e-8 (it only guards against division by zero)"),
    "betas[0]": (_IN_0_1, "0.9 is the usual value"),
    "betas[1]": (_IN_0_1, "0.999 is the usual value"),
    "alpha": (_AT_LEAST_0, "0.99 is the usual value"),
    "rho": (_IN_0_1_CLOSED, "0.9 is the usual value"),
    "lr_decay": (_AT_LEAST_0, "0 keeps the learning rate constant"),
    "initial_accumulator_value": (_AT_LEAST_0, "0 is the usual value"),
}


def check_hyperparameters(optimizer_name, **values):
    """Raise for the first of ``values`` outside its range in :data:`HYPERPARAMETER_RANGES`,
    naming the optimizer, the argument, the range, the value and a fix. A pair (``betas``)
    is checked item by item.

    >>> check_hyperparameters("Adam", lr=1e-3, betas=(1.0, 0.999))
    Traceback (most recent call last):
    ...
    ValueError: Adam: betas[0] must be in [0, 1), got 1.0; help: 0.9 is the usual value
    """
    single = dict(values)  # one number per name: betas becomes betas[0] and betas[1]
    if "betas" in single:
        betas = single.pop("betas")
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(
                f"{optimizer_name}: betas must be a pair (beta1, beta2), got {betas!r}; help: (0.9, 0.999) is usual"
            )
        single.update({"betas[0]": betas[0], "betas[1]": betas[1]})
    for name, value in single.items():
        if name not in HYPERPARAMETER_RANGES:
            continue
        (expected, contains), fix = HYPERPARAMETER_RANGES[name]
        if not isinstance(value, Real):
            raise TypeError(f"{optimizer_name}: {name} must be a number, got {value!r}; help: {fix}")
        if not contains(value):  # written so that NaN fails too
            raise ValueError(f"{optimizer_name}: {name} must be {expected}, got {value}; help: {fix}")
    if values.get("nesterov"):  # Nesterov's look-ahead follows the momentum buffer as it is
        momentum, dampening = values.get("momentum", 0), values.get("dampening", 0)
        if not (momentum > 0 and dampening == 0):
            raise ValueError(
                f"{optimizer_name}: nesterov=True needs momentum > 0 and dampening = 0, got momentum={momentum}, "
                f"dampening={dampening}; help: momentum=0.9, dampening=0"
            )


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
