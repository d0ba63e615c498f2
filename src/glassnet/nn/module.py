"""``Module``: the building block of networks, and ``Parameter``: a weight it learns.

A module owns parameters (tensors that training updates), buffers (state that is saved
but not learned, like BatchNorm's running mean) and sub-modules, all found by assigning
them as attributes — exactly as in PyTorch, so ``state_dict()`` keys match PyTorch's
(``0.weight``, ``0.bias``) and weights move between the two as plain arrays.
"""
from collections import OrderedDict

from ..backend import xp
from ..tensor import Tensor, anomaly_enabled, entering_layer


class Parameter(Tensor):
    """A tensor that is a learnable weight of a module: it requires grad by default and
    is registered by the module it is assigned to."""

    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class _HookHandle:
    def __init__(self, hooks, hook):
        self.hooks, self.hook = hooks, hook

    def remove(self):
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)


class Module:
    """Base class of every layer and network. Subclasses set their parameters and
    sub-modules as attributes in ``__init__`` and compute the output in ``forward``.

    >>> import glassnet as gn
    >>> class TwoLayer(gn.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = gn.nn.Linear(4, 8)
    ...         self.out = gn.nn.Linear(8, 2)
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x).relu())
    >>> [name for name, _ in TwoLayer().named_parameters()]
    ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", [])
        object.__setattr__(self, "training", True)

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *inputs, **kwargs):
        if anomaly_enabled():
            with entering_layer(self._label()):
                output = self.forward(*inputs, **kwargs)
        else:
            output = self.forward(*inputs, **kwargs)
        for hook in self._forward_hooks:
            result = hook(self, inputs, output)
            if result is not None:
                output = result
        return output

    def _label(self):
        extra = self.extra_repr()
        return f"{type(self).__name__}({extra})" if extra else type(self).__name__

    # -- registration -----------------------------------------------------------------------

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() ran; "
                f"help: call super().__init__() first in {type(self).__name__}.__init__"
            )
        if isinstance(value, Parameter):
            self._forget(name)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            self._modules[name] = value
        elif name in self._buffers:
            value = value if value is None or isinstance(value, Tensor) else Tensor(value)
            self._buffers[name] = value
        elif name in self._parameters or name in self._modules:
            if value is not None:
                kind = "parameter" if name in self._parameters else "sub-module"
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to {kind} {name!r} of {type(self).__name__}; "
                    "help: wrap weights in gn.nn.Parameter(...)"
                )
            (self._parameters if name in self._parameters else self._modules)[name] = None
        object.__setattr__(self, name, value)

    def _forget(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)

    def __delattr__(self, name):
        self._forget(name)
        object.__delattr__(self, name)

    def register_parameter(self, name, parameter):
        if parameter is None:
            self._parameters[name] = None
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, parameter if isinstance(parameter, Parameter) else Parameter(parameter))

    def register_buffer(self, name, value, persistent=True):
        """State that is saved in ``state_dict`` but not trained (e.g. running means)."""
        value = value if value is None or isinstance(value, Tensor) else Tensor(value)
        self._buffers[name] = value
        if not persistent:
            self.__dict__.setdefault("_non_persistent", set()).add(name)
        object.__setattr__(self, name, value)

    def add_module(self, name, module):
        setattr(self, name, module)

    def register_forward_hook(self, hook):
        """Call ``hook(module, inputs, output)`` after every forward; returns a handle
        whose ``remove()`` takes the hook away again."""
        self._forward_hooks.append(hook)
        return _HookHandle(self._forward_hooks, hook)

    # -- traversal ---------------------------------------------------------------------------

    def named_children(self):
        yield from self._modules.items()

    def children(self):
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix="", remove_duplicate=True):
        """This module and every module inside it, depth first, each with its dotted name.
        A module used twice (tied weights) is listed once, unless ``remove_duplicate=False``."""
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if remove_duplicate and id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{child_name}" if name else child_name, child) for child_name, child in module._modules.items() if child is not None]
            stack.extend(reversed(children))

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, parameter in module._parameters.items():
                if parameter is None or id(parameter) in seen:
                    continue
                seen.add(id(parameter))
                yield (f"{module_name}.{name}" if module_name else name), parameter

    def parameters(self, recurse=True):
        for _, parameter in self.named_parameters(recurse=recurse):
            yield parameter

    def named_buffers(self, prefix=""):
        for module_name, module in self.named_modules(prefix):
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    yield (f"{module_name}.{name}" if module_name else name), buffer

    def buffers(self):
        for _, buffer in self.named_buffers():
            yield buffer

    # -- state -------------------------------------------------------------------------------

    def state_dict(self):
        """Name -> NumPy array of every parameter and persistent buffer (the arrays
        themselves, not copies), with PyTorch's names (a shared module under each of its names)."""
        state = OrderedDict()
        for module_name, module in self.named_modules(remove_duplicate=False):
            skip = module.__dict__.get("_non_persistent", set())
            entries = list(module._parameters.items()) + [(n, b) for n, b in module._buffers.items() if n not in skip]
            for name, value in entries:
                if value is not None:
                    state[f"{module_name}.{name}" if module_name else name] = value.data
        return state

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into this module's parameters and buffers, in place (so an
        optimizer holding the parameters keeps working). Every missing or unexpected
        key and every shape mismatch is reported together in one error."""
        own = {}
        for module_name, module in self.named_modules(remove_duplicate=False):
            skip = module.__dict__.get("_non_persistent", set())
            entries = list(module._parameters.items()) + [(n, b) for n, b in module._buffers.items() if n not in skip]
            for name, value in entries:
                if value is not None:
                    own[f"{module_name}.{name}" if module_name else name] = value
        given = {name: xp.asarray(value.data if isinstance(value, Tensor) else value) for name, value in state_dict.items()}
        missing = [k for k in own if k not in given]
        unexpected = [k for k in given if k not in own]
        mismatched = [
            f"{k}: the checkpoint has shape {given[k].shape}, the model {own[k].shape}"
            for k in own if k in given and given[k].shape != own[k].shape
        ]
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {unexpected}")
        if mismatched:
            problems.append("size mismatch for " + "; ".join(mismatched))
        if problems:
            raise RuntimeError(
                f"Error(s) loading state_dict into {type(self).__name__} (is it a checkpoint of a different "
                "architecture?):\n  " + "\n  ".join(problems)
            )
        for name, target in own.items():
            if name in given:
                target.data[...] = given[name]
        return missing, unexpected

    # -- modes and gradients -------------------------------------------------------------------

    def train(self, mode=True):
        """Training mode: dropout drops, batch norm uses batch statistics."""
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        """Evaluation mode: dropout is off, batch norm uses its running statistics."""
        return self.train(False)

    def zero_grad(self):
        """Forget the gradients of every parameter (before the next backward)."""
        for parameter in self.parameters():
            parameter.grad = None

    def requires_grad_(self, requires_grad=True):
        for parameter in self.parameters():
            parameter.requires_grad = requires_grad
        return self

    def to(self, dtype):
        """Convert every parameter and floating buffer to ``dtype`` (e.g. float64 for a
        gradient check)."""
        for tensor in list(self.parameters()) + list(self.buffers()):
            if tensor.dtype.kind == "f":
                tensor.data = tensor.data.astype(dtype)
                tensor.grad = None
        return self

    def float(self):
        return self.to(xp.float32)

    def double(self):
        return self.to(xp.float64)

    def apply(self, fn):
        for module in self.modules():
            fn(module)
        return self

    # -- display -------------------------------------------------------------------------------

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        for name, module in self._modules.items():
            body = repr(module).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}({extra}" if extra else f"{type(self).__name__}("
        return head + "\n" + "\n".join(lines) + "\n)"
