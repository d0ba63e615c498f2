"""The optimizer base: parameter groups, per-parameter state, and saving both."""
import numpy as np


class Optimizer:
    """Holds the parameters to update in ``param_groups`` (each a dict of parameters and
    hyperparameters, as in PyTorch) and per-parameter ``state`` (momentum buffers,
    running averages). Subclasses implement ``step()`` with their update rule.

    The gradients of all parameters are reachable in one list per step
    (:meth:`gradients`), which is what data-parallel training will all-reduce.
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        self.param_groups = []
        self.state = {}
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group):
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if hasattr(params, "data") else list(params)
        for name, value in self.defaults.items():
            group.setdefault(name, value)
        known = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in known for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self):
        """Forget the gradients (set them to None, as PyTorch does by default)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def gradients(self):
        return [p.grad for group in self.param_groups for p in group["params"] if p.grad is not None]

    def step(self):
        raise NotImplementedError

    def _with_grad(self, group):
        """The group's parameters that received a gradient, with their state."""
        for p in group["params"]:
            if p.grad is not None:
                yield p, p.grad, self.state.setdefault(id(p), {})

    # -- saving --------------------------------------------------------------------------

    def state_dict(self):
        """Plain numbers and NumPy arrays, parameters referred to by their position (as
        PyTorch does), so it can be stored without pickle."""
        index = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            groups.append({k: v for k, v in group.items() if k != "params"} | {"params": ids})
        state = {
            index[id(p)]: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self.state[id(p)].items()}
            for group in self.param_groups for p in group["params"] if id(p) in self.state
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(g["params"]) != len(own["params"]) for g, own in zip(groups, self.param_groups)
        ):
            raise ValueError("the optimizer state does not match this optimizer's parameter groups")
        params = {}
        for saved, own in zip(groups, self.param_groups):
            for i, p in zip(saved["params"], own["params"]):
                params[i] = p
            own.update({k: (tuple(v) if isinstance(v, list) else v) for k, v in saved.items() if k != "params"})
        self.state = {}
        for i, values in state_dict["state"].items():
            p = params[int(i)]
            self.state[id(p)] = {
                k: (np.array(v, dtype=p.data.dtype) if isinstance(v, np.ndarray) else v) for k, v in values.items()
            }

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"


def check_positive(name, value):
    if value < 0:
        raise ValueError(f"Invalid {name}: {value}")


def check_betas(betas):
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
