"""``Module``: the building block of networks, and ``Parameter``: a weight it learns.

A module owns parameters (tensors that training updates), buffers (state that is saved
but not learned, like BatchNorm's running mean) and sub-modules, all found by assigning
them as attributes — exactly as in PyTorch, so ``state_dict()`` keys match PyTorch's
(``0.weight``, ``0.bias``) and weights move between the two as plain arrays.
"""
from collections import OrderedDict, namedtuple

from .. import dtypes
from ..backend import xp
from ..device import as_device
from ..tensor import Tensor, anomaly_enabled, entering_layer, to_arguments


class Parameter(Tensor):
    """A tensor that is a learnable weight of a module: it requires grad by default and
    is registered by the module it is assigned to."""

    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns, as PyTorch's: the keys the model has but the
    state dict lacks, and the keys the state dict has but the model lacks."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _convert(tensor, dtype):
    """Change ``tensor``'s dtype in place, keeping the object (an optimizer may hold it),
    and its gradient's with it, as PyTorch does."""
    tensor._data = tensor._data.astype(dtype, copy=False)
    if tensor.grad is not None:
        tensor.grad._data = tensor.grad._data.astype(dtype, copy=False)


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

    def __new__(cls, *args, **kwargs):
        # the arguments it is built with (those of the outermost __init__), so that
        # glassnet.save(model, path) can store the architecture beside the weights
        module = super().__new__(cls)
        object.__setattr__(module, "_init_args", (args, kwargs))
        return module

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", [])
        object.__setattr__(self, "_forward_pre_hooks", [])
        object.__setattr__(self, "training", True)

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *inputs, **kwargs):
        for hook in self._forward_pre_hooks:
            result = hook(self, inputs)
            if result is not None:
                inputs = result if isinstance(result, tuple) else (result,)
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

    def register_forward_pre_hook(self, hook):
        """Call ``hook(module, inputs)`` before every forward, ``inputs`` the tuple of
        positional arguments; a result other than None replaces them (a value that is not
        a tuple becomes the one argument), as PyTorch's pre-hooks do. Returns a handle whose
        ``remove()`` takes the hook away again."""
        self._forward_pre_hooks.append(hook)
        return _HookHandle(self._forward_pre_hooks, hook)

    # -- traversal ---------------------------------------------------------------------------

    def named_children(self):
        """The direct sub-modules with their attribute names (each once, skipping None)."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

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

    def _named_members(self, registry, prefix, recurse, remove_duplicate):
        """(dotted name, tensor) of every entry of ``registry`` (``"_parameters"`` or
        ``"_buffers"``) in this module and, with ``recurse``, in every module inside it;
        a tensor shared by two modules (tied weights) is listed once unless ``remove_duplicate=False``."""
        seen = set()
        modules = self.named_modules(prefix, remove_duplicate) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, tensor in getattr(module, registry).items():
                if tensor is None or id(tensor) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(tensor))
                yield (f"{module_name}.{name}" if module_name else name), tensor

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, parameter in self.named_parameters(recurse=recurse):
            yield parameter

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, buffer in self.named_buffers(recurse=recurse):
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
                    state[f"{module_name}.{name}" if module_name else name] = value._data
        return state

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into this module's parameters and buffers, in place (so an
        optimizer holding the parameters keeps working). Every missing or unexpected
        key and every shape mismatch is reported together in one error.

        Returns, as PyTorch, a named tuple ``(missing_keys, unexpected_keys)``: with
        ``strict=False`` the keys that did not match (what did match is loaded); with
        ``strict=True`` either both are empty or nothing is loaded and an error is raised.
        A shape mismatch raises in both modes."""
        own = {}
        for module_name, module in self.named_modules(remove_duplicate=False):
            skip = module.__dict__.get("_non_persistent", set())
            entries = list(module._parameters.items()) + [(n, b) for n, b in module._buffers.items() if n not in skip]
            for name, value in entries:
                if value is not None:
                    own[f"{module_name}.{name}" if module_name else name] = value
        given = {name: xp.asarray(value._data if isinstance(value, Tensor) else value) for name, value in state_dict.items()}
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
                target._data[...] = given[name]
        return _IncompatibleKeys(missing, unexpected)

    # -- modes and gradients -------------------------------------------------------------------

    def train(self, mode=True):
        """Training mode: dropout drops, batch norm uses batch statistics."""
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        """Evaluation mode: dropout is off, batch norm uses its running statistics."""
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        """Forget the gradients of every parameter (before the next backward): set them to
        ``None`` or, with ``set_to_none=False``, fill them with zeros (then detached)."""
        for parameter in self.parameters():
            grad = parameter.grad
            if grad is None:
                continue
            if set_to_none:
                parameter.grad = None
            else:
                grad.detach_()
                grad.zero_()

    def requires_grad_(self, requires_grad=True):
        for parameter in self.parameters():
            parameter.requires_grad = requires_grad
        return self

    def to(self, *args, device=None, dtype=None, non_blocking=False):
        """Convert every floating-point parameter and buffer (and their gradients) to a
        dtype, in place; returns the module. PyTorch's forms: ``to(dtype)``, ``to(device)``,
        ``to(device, dtype)``, ``to(tensor)`` (its dtype), and ``device=``, ``dtype=``,
        ``non_blocking=`` keywords. Integer buffers (counters, indices) keep their dtype.

        glassnet computes on the CPU only: ``"cpu"`` (or a device whose ``type`` is
        ``"cpu"``) changes nothing, and any other device (``"cuda"``, ``"mps"``) raises.

        >>> import glassnet as gn
        >>> layer = gn.nn.Linear(2, 2).to("cpu").to(gn.nn.Linear(1, 1).weight.double())
        >>> layer.weight.dtype
        dtype('float64')
        """
        device, dtype, _ = to_arguments(args, device, dtype)  # non_blocking: every copy here is synchronous
        as_device(device, f"{type(self).__name__}.to()")
        if dtype is None:
            return self
        if dtype.kind != "f":
            raise TypeError(
                f"{type(self).__name__}.to() only accepts floating-point dtypes, got {dtype}; "
                "help: use .type(dtype) to convert every parameter and buffer, whatever its dtype"
            )
        return self._convert_tensors(dtype, floating_only=True)

    def type(self, dst_type):
        """Convert every parameter and buffer, integer ones included, to ``dst_type``."""
        return self._convert_tensors(dtypes.as_dtype(dst_type), floating_only=False)

    def float(self):
        """Floating-point parameters and buffers to float32."""
        return self.to(xp.float32)

    def double(self):
        """Floating-point parameters and buffers to float64 (e.g. for a gradient check)."""
        return self.to(xp.float64)

    def cpu(self):
        """Returns the module as it is: glassnet's tensors always live on the CPU."""
        return self

    def cuda(self, device=None):
        """Always raises: glassnet has no GPU backend."""
        as_device("cuda" if device is None else device, f"{type(self).__name__}.cuda()")
        raise RuntimeError(f"{type(self).__name__}.cuda(): {device!r} is not a CUDA device")  # as PyTorch, for .cuda("cpu")

    def _convert_tensors(self, dtype, floating_only):
        for tensor in list(self.parameters()) + list(self.buffers()):
            if tensor.dtype.kind == "f" or not floating_only:
                _convert(tensor, dtype)
        return self

    def apply(self, fn):
        """Call ``fn(module)`` on every sub-module, children before parents, and on this
        module last (as PyTorch, e.g. to initialize weights); returns the module.

        >>> import glassnet as gn
        >>> def init_linear(module):
        ...     if isinstance(module, gn.nn.Linear):
        ...         gn.nn.init.zeros_(module.bias)
        >>> net = gn.nn.Sequential(gn.nn.Linear(2, 3), gn.nn.ReLU()).apply(init_linear)
        >>> net[0].bias.numpy()
        array([0., 0., 0.], dtype=float32)
        """
        for module in self.children():
            module.apply(fn)
        fn(self)
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
