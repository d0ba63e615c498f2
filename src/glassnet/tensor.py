"""Tensors and reverse-mode automatic differentiation: where backpropagation happens.

A :class:`Tensor` wraps an array (``.data``) and, when it was computed by an op from
tensors that require gradients, remembers that op (``._ctx``, a :class:`Function`).
Those links form a graph built as the program runs (define-by-run). ``backward()``
walks the graph from the output back to the leaves in reverse topological order,
calling each op's local ``backward`` rule and summing the gradients that meet at a node.
"""
import contextlib
import numbers
import sys
import threading
import weakref

from . import threads
from .backend import memory_owner, xp
from .device import CPU, as_device
from .device import device as _Device
from .size import Size
from .size import sizes as _sizes

# -- modes ------------------------------------------------------------------------------


class _ThreadModes(threading.local):
    """Each thread's modes, at these defaults until a context manager sets one. Defaults as
    class attributes, not ``getattr(local, name, default)``: a lookup that finds nothing
    raises and catches an AttributeError inside, 0.6 us where this takes 0.08, and every op
    reads four of them."""
    grad_enabled, reference_ops, anomaly, observer, layers = True, False, False, None, ()


_state = _ThreadModes()


def is_grad_enabled() -> bool:
    return _state.grad_enabled


class _GradMode(contextlib.ContextDecorator):
    # the previous modes are a stack, so that one decorated function may call itself
    def __init__(self, enabled):
        self.enabled, self.previous = enabled, []

    def __enter__(self):
        self.previous.append(is_grad_enabled())
        _state.grad_enabled = self.enabled

    def __exit__(self, *exc):
        _state.grad_enabled = self.previous.pop()
        return False


def no_grad():
    """Context (or decorator) in which ops record no graph: for evaluation and updates.

    >>> import glassnet as gn
    >>> w = gn.tensor([1.0, 2.0], requires_grad=True)
    >>> with gn.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """
    return _GradMode(False)


def enable_grad():
    return _GradMode(True)


def inference_mode(mode=True):
    """PyTorch's faster ``no_grad`` for inference; here it is ``no_grad`` itself."""
    return _GradMode(not mode)


def reference_ops_enabled() -> bool:
    return _state.reference_ops


@contextlib.contextmanager
def reference_ops(enabled=True):
    """Run every fused op as its readable reference: the same maths composed from small
    ops (a loop over time for an LSTM, over kernel offsets for a convolution), and the
    optimizers' steps as plain formulas. Slower, with the same results, so a learner can
    step through readable code while a real model trains.

    >>> import glassnet as gn
    >>> with gn.reference_ops():
    ...     y = gn.nn.functional.linear(gn.ones(1, 2), gn.ones(3, 2, requires_grad=True))
    >>> y.grad_fn.name()  # built from MatMul and friends, not the fused Linear
    'MatMulBackward'
    """
    previous = reference_ops_enabled()
    _state.reference_ops = bool(enabled)
    try:
        yield
    finally:
        _state.reference_ops = previous


class set_grad_enabled(_GradMode):
    """Turn graph recording on or off: at once when called (``gn.set_grad_enabled(False)``),
    or for a block when used as a context, as in PyTorch."""

    def __init__(self, mode):
        super().__init__(bool(mode))
        self.__enter__()  # takes effect now; leaving a ``with`` block restores the old mode

    def __enter__(self):
        if not self.previous:  # the call already switched; a ``with`` must not switch twice
            super().__enter__()
        return self


class detect_anomaly(contextlib.ContextDecorator):
    """Context in which every op checks its output and its input gradients for NaN/Inf
    and raises ``FloatingPointError`` naming the first op (and layer) that produced one.

    It costs a scan of every array, so it is for debugging, not for normal training.
    """

    def __init__(self):
        self.previous = []

    def __enter__(self):
        self.previous.append(anomaly_enabled())
        _state.anomaly = True
        return self

    def __exit__(self, *exc):
        _state.anomaly = self.previous.pop()
        return False


def anomaly_enabled() -> bool:
    return _state.anomaly


def observe_ops(observer):
    """From now on call ``observer(fn, inputs, options, outputs)`` after every op this
    thread applies (``None``: stop), whatever the grad mode; returns the previous observer
    to restore. The one hook glassnet.onnx needs to record a forward pass as a graph."""
    previous, _state.observer = _state.observer, observer
    return previous


def current_layer() -> str:
    """The chain of layers now running (``"Sequential > Linear"``); kept only while
    anomaly detection is on, so that errors can name where they happened."""
    return " > ".join(_state.layers)


@contextlib.contextmanager
def entering_layer(name):
    layers = _state.layers
    _state.layers = layers + (name,)
    try:
        yield
    finally:
        _state.layers = layers


def _check_finite(array, what):
    if array is not None and array.dtype.kind == "f" and not xp.isfinite(array).all():
        raise FloatingPointError(what)


# -- ops --------------------------------------------------------------------------------


def unbroadcast(grad, shape):
    """Sum ``grad`` back down to ``shape``: the backward of NumPy broadcasting.

    A value broadcast along an axis was used once per element of that axis, so its
    gradient is the sum over that axis.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(i + extra for i, n in enumerate(shape) if n == 1 and grad.shape[i + extra] != 1)
    grad = grad.sum(axis=axes, keepdims=True) if axes else grad
    return grad.reshape(shape)


class Function:
    """One differentiable op: ``forward`` computes the output array(s) from the input
    arrays; ``backward`` turns the gradient of each output into gradients of the inputs.

    The contract, checked by the engine:

    - ``apply(*inputs, **options)`` takes tensors, and also ``None`` and constants (numbers,
      arrays) for inputs that carry no gradient; ``forward`` receives tensors' arrays and
      the rest as given. ``self.needs_input_grad`` (one flag per input) is set before
      ``forward`` runs, so an op saves only what its backward will use.
    - ``forward`` returns one array, or a tuple of arrays for an op with several outputs
      (max's values and indices, an LSTM's h and c); ``backward`` then receives one
      gradient per output (zeros for an output nothing used).
    - ``backward`` returns exactly one gradient per input, ``None`` for inputs that need
      none, each of its input's shape. It must not change ``grad`` in place.

    A subclass saves what its backward needs on ``self``; arrays it saves that belong to an
    input or output tensor are watched, so changing such a tensor in place before
    ``backward`` raises instead of giving a wrong gradient.
    """

    freed = False
    # a fused op's readable twin: a function taking apply's arguments and giving the same
    # results from small ops; ``with gn.reference_ops():`` routes apply to it
    reference = None

    def forward(self, *arrays, **options):
        raise NotImplementedError

    def backward(self, *grads):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **options):
        if cls.reference is not None and reference_ops_enabled():
            return cls.reference(*inputs, **options)
        fn = cls()
        grad_enabled = is_grad_enabled()
        fn.needs_input_grad = tuple([grad_enabled and isinstance(t, Tensor) and t.requires_grad for t in inputs])
        record = True in fn.needs_input_grad
        out = fn.forward(*[t._data if isinstance(t, Tensor) else t for t in inputs], **options)
        several = isinstance(out, tuple)
        outputs = tuple([Tensor._wrap(o, record and o.dtype.kind == "f") for o in (out if several else (out,))])
        tensors = [t for t in inputs if isinstance(t, Tensor)]
        _share_versions_of_views(outputs, tensors)
        if anomaly_enabled():
            fn.layer = current_layer()
            for o in outputs:
                _check_finite(o._data, f"{fn.describe()} produced NaN/Inf in its forward pass")
        if record:
            fn.saved = _saved_versions(fn, tensors, outputs)
            fn.parents = tuple([_Made(t) if isinstance(t, Tensor) and t._ctx is not None else t for t in inputs])
            # where each input came from, fixed now: an in-place op may later give the
            # same tensor object a new grad_fn, but this op used the value from before
            fn.sources = tuple([(t._ctx, t._index) if isinstance(t, Tensor) and t._ctx is not None else None
                                for t in inputs])
            fn.outputs = tuple([(o._data.shape, o._data.dtype) for o in outputs])
            for i, o in enumerate(outputs):
                if o.requires_grad:
                    o._ctx, o._index = fn, i
        observer = _state.observer
        if observer is not None:  # glassnet.onnx recording a forward pass, in any grad mode
            observer(fn, inputs, options, outputs)
        return outputs if several else outputs[0]

    def describe(self):
        layer = getattr(self, "layer", "")
        return f"op {type(self).__name__}" + (f" (in layer {layer})" if layer else "")

    # -- the graph, as PyTorch's grad_fn shows it ------------------------------------------

    def name(self):
        return f"{type(self).__name__}Backward"

    def __repr__(self):
        return f"<{self.name()} object>"

    @property
    def next_functions(self):
        """For each input, the node its gradient goes to next: ``(fn, output index)``, an
        ``AccumulateGrad`` for a leaf that requires grad, or ``(None, 0)``."""
        nodes = []
        for t, source in zip(getattr(self, "parents", ()), getattr(self, "sources", ())):
            if source is not None:
                nodes.append(source)
            elif isinstance(t, Tensor) and t.requires_grad:
                nodes.append((AccumulateGrad(t), 0))
            else:
                nodes.append((None, 0))
        return tuple(nodes)

    def register_hook(self, index, hook):
        """Call ``hook(grad)`` with the gradient of output ``index`` (``Tensor.register_hook``)."""
        self.__dict__.setdefault("output_hooks", {}).setdefault(index, []).append(hook)

    def _free(self):
        # after backward the saved arrays are dropped (their memory returns at once), and a
        # second backward through this op raises instead of reusing stale activations. The
        # graph's shape stays readable (next_functions): the sources, and of the inputs
        # only the leaves, which AccumulateGrad nodes refer to
        state = self.__dict__
        sources, hooks = state["sources"], state.get("output_hooks")
        leaves = [t if source is None and isinstance(t, Tensor) and t.requires_grad else None
                  for t, source in zip(state["parents"], sources)]
        state.clear()
        state.update(freed=True, parents=leaves, sources=sources, outputs=())
        if hooks:
            state["output_hooks"] = hooks


class _Made:
    """What an op keeps of an input that another op made: its shape and dtype, which the
    gradient it hands back must have. Not the tensor, whose array would then live until
    backward: an op keeps only the arrays its backward reads, as PyTorch's do."""

    __slots__ = ("shape", "dtype")

    def __init__(self, tensor):
        self.shape, self.dtype = tensor.shape, tensor.dtype


class AccumulateGrad:
    """The graph node of a leaf: where its gradient is summed into ``.grad``."""

    def __init__(self, variable):
        self.variable, self.next_functions = variable, ()

    def name(self):
        return "AccumulateGrad"

    def __repr__(self):
        return "<AccumulateGrad object>"


# -- in-place safety: version counters ---------------------------------------------------------
# Every tensor carries a version, bumped by each in-place change. Tensors that share memory
# (a view and its base, x and x.detach()) share one counter, as in PyTorch.


def _share_versions_of_views(outputs, inputs):
    for o in outputs:
        if o._data.base is not None and inputs:
            root = memory_owner(o._data)
            for t in inputs:
                if memory_owner(t._data) is root:
                    o._version = t._version
                    break


def _saved_versions(fn, inputs, outputs):
    """(tensor's version counter, its version now, shape) for each array ``fn`` saved that
    belongs to an input or output tensor."""
    owners = None
    saved = []
    for value in fn.__dict__.values():
        for array in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(array, xp.ndarray):
                if owners is None:  # made once, and only for an op that saved arrays
                    owners = {id(memory_owner(t._data)): t for t in (*inputs, *outputs)}
                owner = owners.get(id(memory_owner(array)))
                if owner is not None:
                    saved.append((owner._version, owner._version[0], owner.shape))
    return saved


def _check_versions(fn):
    for counter, version, shape in fn.saved:
        if counter[0] != version:
            raise RuntimeError(
                f"one of the tensors needed for gradient computation has been modified by an in-place "
                f"operation: {fn.describe()} saved a tensor of shape {shape} at version {version}, and it "
                f"is now at version {counter[0]}; help: use an out-of-place operation (x = x + y, not "
                "x += y), or .clone() the tensor before changing it"
            )


# -- backpropagation ---------------------------------------------------------------------------


def _topological_order(fns):
    """The ops that ``fns`` depend on, each after all the ops that made its inputs.
    Iterative, so a chain of any length works without hitting Python's recursion limit."""
    order, visited = [], set()
    stack = [(fn, False) for fn in fns]
    while stack:
        fn, inputs_done = stack.pop()
        if inputs_done:
            order.append(fn)
            continue
        if id(fn) in visited:
            continue
        visited.add(id(fn))
        stack.append((fn, True))
        stack.extend((source[0], False) for source in fn.sources if source is not None)
    return order


def run_backward(tensors, grads, retain_graph=False, capture=None):
    """Send ``grads`` (arrays, one per tensor) back through the graph behind ``tensors``.

    Every op is visited once, after all ops that used its outputs, and its local
    ``backward`` turns its outputs' summed gradients into its inputs'. Leaves sum theirs
    into ``.grad``. With ``capture`` (a dict keyed by ``id(tensor)``), the gradients of
    those tensors are stored there instead and no ``.grad`` changes (``autograd.grad``).
    """
    pending = {}  # id(fn) -> the summed gradient of each of its outputs so far
    leaves = _Leaves(capture, grads)
    for t, g in zip(tensors, grads):
        if t._ctx is None:
            leaves.add(t, g)
        else:
            _add_output_grad(pending, t._ctx, t._index, g)
    check = anomaly_enabled()
    for fn in reversed(_topological_order({id(t._ctx): t._ctx for t in tensors if t._ctx is not None}.values())):
        output_grads = pending.pop(id(fn), None)
        if output_grads is None:
            continue
        _check_versions(fn)
        output_grads = _output_hooks(fn, output_grads, capture)
        if output_grads is not None:
            input_grads = fn.backward(*output_grads)
            input_grads = input_grads if isinstance(input_grads, tuple) else (input_grads,)
            if len(input_grads) != len(fn.parents):
                raise TypeError(
                    f"{fn.describe()}: backward returned {len(input_grads)} gradients for "
                    f"{len(fn.parents)} inputs; it must return one per input (None where there is none)"
                )
            for parent, source, grad, needs in zip(fn.parents, fn.sources, input_grads, fn.needs_input_grad):
                if grad is None or not needs:
                    continue
                grad = _checked_grad(fn, parent, grad, check)
                if source is None:
                    leaves.add(parent, grad)
                else:
                    _add_output_grad(pending, *source, grad)
        if not retain_graph:
            fn._free()
    leaves.deliver()


def _add_output_grad(pending, fn, index, grad):
    grads = pending.get(id(fn))
    if fn.freed:
        raise RuntimeError(
            f"trying to backward through the graph a second time ({fn.describe()} was already "
            "freed by an earlier backward); help: call backward(retain_graph=True) the first time "
            "if you need to, and recompute the forward pass after changing the weights"
        )
    if grads is None:
        grads = pending[id(fn)] = [None] * len(fn.outputs)
    if grads[index] is None:
        grads[index] = grad
    else:  # asked first: an argument already taken from the list would count as a reference
        in_place = _only_in(grads, index, grad)
        grads[index] = threads.add(grads[index], grad, out=grads[index] if in_place else None)


# The references an array has when one list holds it and nothing else: the list's, and
# that of the argument getrefcount is called with (2 in CPython)
_list = [xp.empty(0)]
_REFERENCES_WHEN_ONLY_IN_A_LIST = sys.getrefcount(_list[0])
del _list


def _only_in(grads, index, grad):
    """Whether the gradient summed so far at grads[index] may take ``grad`` in place: an
    array of its own memory (no view), to which nothing but this list refers. An op may
    hand one gradient to several inputs (Add does), keep it, or pass on a view of it;
    then it is shared, and the sum is a new array. PyTorch's autograd adds in place on
    the same condition (its input buffer holding the only reference): a residual
    network's shortcut gradients then cost no new array of their size."""
    return (sys.getrefcount(grads[index]) == _REFERENCES_WHEN_ONLY_IN_A_LIST and grads[index].base is None
            and grads[index].flags.writeable and grads[index].shape == grad.shape and grads[index].dtype == grad.dtype)


def _checked_grad(fn, parent, grad, check):
    if grad.shape != parent.shape:
        raise ValueError(
            f"{fn.describe()}: backward returned a gradient of shape {grad.shape} for an input of shape {parent.shape}"
        )
    if grad.dtype != parent.dtype:
        grad = grad.astype(parent.dtype)
    if check:
        _check_finite(grad, f"{fn.describe()} produced NaN/Inf in its backward pass")
    return grad


def _output_hooks(fn, grads, capture):
    """The outputs' gradients after hooks, retain_grad and capture; None if none flowed."""
    if len(grads) == 1 and not capture and "output_hooks" not in fn.__dict__:
        return grads  # the common case: one output, nothing watching it
    if all(g is None for g in grads):
        return None
    for index, hooks in fn.__dict__.get("output_hooks", {}).items():
        if grads[index] is not None:
            for hook in hooks:
                grads[index] = _call_hook(hook, grads[index])
    if capture:
        for index, g in enumerate(grads):
            key = (id(fn), index)
            if key in capture and g is not None:
                capture[key] = g if capture[key] is None else capture[key] + g
    return tuple(xp.zeros(shape, dtype) if g is None else g for g, (shape, dtype) in zip(grads, fn.outputs))


def _call_hook(hook, grad):
    result = hook(Tensor._wrap(grad, False))
    return grad if result is None else _as_array(result)


class _Leaves:
    """The gradients of leaves, summed during the walk and delivered at its end: added
    into ``.grad`` (each leaf owning its buffer, as ops may pass an incoming gradient
    through to several inputs), or captured for ``autograd.grad``."""

    def __init__(self, capture, root_grads):
        self.capture, self.grads = capture, {}
        self.handed_out = {id(g) for g in root_grads}  # the caller's arrays: never adopt them

    def add(self, leaf, grad):
        key = id(leaf)
        if self.capture is not None and key not in self.capture:
            return
        summed = self.grads.get(key)
        self.grads[key] = (leaf, grad if summed is None else summed[1] + grad)

    def deliver(self):
        for key, (leaf, grad) in self.grads.items():
            for hook in leaf._hooks or ():
                grad = _call_hook(hook, grad)
            if self.capture is not None:
                self.capture[key] = grad
            elif leaf._grad is not None:
                leaf._grad._data += grad
            else:
                if grad.dtype != leaf.dtype or not grad.flags.owndata or id(grad) in self.handed_out:
                    grad = xp.array(grad, dtype=leaf.dtype, copy=True)
                self.handed_out.add(id(grad))
                leaf._grad = Tensor._wrap(grad, False)


# -- the tensor -------------------------------------------------------------------------


def _as_array(data, dtype=None):
    if isinstance(data, Tensor):
        data = data._data
    if isinstance(data, xp.generic):  # a NumPy scalar (ops on 0-d arrays return them) keeps its dtype
        data = xp.asarray(data)
    if isinstance(data, xp.ndarray):
        return data if dtype is None or data.dtype == dtype else data.astype(dtype)
    if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in data):
        data = [_as_array(d) for d in data]  # a list of tensors, as gn.tensor([t1, t2]) in PyTorch
    array = xp.asarray(data, dtype=dtype)
    if dtype is None and array.dtype == xp.float64:
        array = array.astype(xp.float32)  # Python floats become float32, as in PyTorch
    return array


class Tensor:
    """An array that remembers how it was computed, so gradients can flow back to it.

    >>> import glassnet as gn
    >>> x = gn.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> loss = (x * x).sum()
    >>> loss.backward()
    >>> x.grad
    tensor([[2., 4.],
            [6., 8.]])
    """

    __slots__ = ("_data", "_grad", "requires_grad", "_ctx", "_index", "_version", "_hooks", "__weakref__")
    __array_priority__ = 1000  # ndarray + Tensor dispatches to Tensor.__radd__

    def __init__(self, data, requires_grad=False, dtype=None):
        self._data = _as_array(data, dtypes.as_dtype(dtype))
        if requires_grad and self._data.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype {self._data.dtype}; "
                "help: create it from floats, e.g. gn.tensor(x, dtype=gn.float32, requires_grad=True)"
            )
        self.requires_grad = bool(requires_grad)
        self._grad = self._ctx = self._hooks = None
        self._index, self._version = 0, [0]

    @classmethod
    def _wrap(cls, array, requires_grad):
        """A tensor around an array an op just made (no checks, no copy)."""
        t = object.__new__(Tensor)
        t._data = array if isinstance(array, xp.ndarray) else xp.asarray(array)  # 0-d math gives NumPy scalars
        t.requires_grad = requires_grad
        t._grad = t._ctx = t._hooks = None
        t._index, t._version = 0, [0]
        return t

    # -- backpropagation ---------------------------------------------------------------

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Compute the gradient of this tensor with respect to every leaf tensor that
        requires one, adding it to each leaf's ``.grad``.

        ``gradient`` is the gradient flowing in from above; it may be omitted for a
        single-element tensor (a loss), where it is 1. The graph is freed afterwards
        unless ``retain_graph=True``.
        """
        if create_graph:
            raise NotImplementedError(
                "backward(create_graph=True): glassnet's backward rules compute on arrays, so "
                "gradients of gradients are not available"
            )
        if not self.requires_grad:
            raise RuntimeError(
                "backward() called on a tensor that does not require grad: no input of the "
                "computation had requires_grad=True (or it ran under gn.no_grad())"
            )
        grad = _initial_grad(self, gradient, "backward()")
        if inputs is not None:  # only these leaves receive gradients
            inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
            captured = autograd.grad([self], inputs, [grad], retain_graph=retain_graph, allow_unused=True)
            for leaf, g in zip(inputs, captured):
                if g is not None:
                    leaf.grad = g if leaf.grad is None else leaf.grad + g
            return
        run_backward([self], [grad], retain_graph=bool(retain_graph))

    @property
    def grad(self):
        """The gradient that backward left here (a tensor), or None."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            value = value if isinstance(value, Tensor) else Tensor(value, dtype=self.dtype)
            if value.shape != self.shape:
                raise ValueError(f"assigned grad of shape {value.shape} to a tensor of shape {self.shape}")
        self._grad = value

    @property
    def data(self):
        """The same values as a tensor outside the graph: changing it changes this tensor's
        values without autograd's knowledge (PyTorch's ``.data``; ``detach()`` is safer)."""
        return Tensor._wrap(self._data, False)

    @data.setter
    def data(self, value):
        value = _as_array(value)
        if value.shape != self.shape and self.requires_grad:
            raise ValueError(f".data: cannot replace values of shape {self.shape} with shape {value.shape}")
        self._data = value

    @property
    def grad_fn(self):
        """The op that made this tensor (None for a leaf): its ``name()`` and
        ``next_functions`` walk the graph backwards, as in PyTorch."""
        return self._ctx

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient during backward; a returned
        tensor replaces the gradient."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self._ctx is None:
            self._hooks = (self._hooks or []) + [hook]
        else:
            self._ctx.register_hook(self._index, hook)
        return _RemovableHandle(self, hook)

    def retain_grad(self):
        """Keep this (non-leaf) tensor's gradient in ``.grad`` after backward."""
        if self._ctx is not None:
            me = weakref.ref(self)

            def keep(grad):
                t = me()
                if t is not None:
                    t._grad = Tensor._wrap(grad._data.copy(), False) if t._grad is None else t._grad + grad

            self._ctx.register_hook(self._index, keep)

    def detach(self):
        """The same values (the same memory), cut from the graph."""
        t = Tensor._wrap(self._data, False)
        t._version = self._version
        return t

    def detach_(self):
        self._ctx, self.requires_grad = None, False
        return self

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self._data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {self._data.dtype}")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_(False) on a tensor computed by an op; help: use .detach()")
        self.requires_grad = bool(requires_grad)
        return self

    # -- plain-array views ----------------------------------------------------------------

    @property
    def shape(self):
        return self._data.shape

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def is_leaf(self):
        return self._ctx is None

    def numel(self):
        return self._data.size

    def __len__(self):
        return len(self._data)

    def numpy(self):
        """The values as a NumPy array (shared, not copied)."""
        return self._data

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)

    def item(self):
        return self._data.item()

    def __bool__(self):  # as in PyTorch: only a single element has a truth value
        return bool(self._data)

    def __float__(self):
        return float(self._data)

    def __int__(self):
        return int(self._data)

    def __index__(self):
        return self._data.__index__()

    def tolist(self):
        return self._data.tolist()

    def astype(self, dtype):
        return ops.Cast.apply(self, dtype=xp.dtype(dtype))

    def __repr__(self):
        grad = ""
        if self._ctx is not None:
            grad = f", grad_fn=<{self._ctx.name()}>"
        elif self.requires_grad:
            grad = ", requires_grad=True"
        default = self.dtype in (xp.float32, xp.int64, xp.bool_) and self._data.size != 0
        dtype = "" if default else f", dtype=glassnet.{self.dtype}"
        return f"tensor({_format(self._data)}{dtype}{grad})"

    # -- PyTorch's tensor attributes and conversions ----------------------------------------

    @property
    def device(self):
        """Where the values live: always ``device(type='cpu')`` (glassnet computes with NumPy)."""
        return CPU

    is_cuda = False
    is_cpu = True

    def get_device(self):
        return -1  # PyTorch's answer for a tensor on the CPU

    def size(self, dim=None):
        """The shape as a ``gn.Size`` (a tuple), or the length of axis ``dim``.

        >>> import glassnet as gn
        >>> x = gn.zeros(2, 3)
        >>> x.size(), x.size(-1)
        (glassnet.Size([2, 3]), 3)
        """
        return Size(self._data.shape) if dim is None else self._data.shape[dim]

    def dim(self):
        return self._data.ndim

    ndimension = dim

    def nelement(self):
        return self._data.size

    def element_size(self):
        """Bytes per element (4 for float32)."""
        return self._data.itemsize

    @property
    def itemsize(self):
        return self._data.itemsize

    @property
    def nbytes(self):
        return self._data.nbytes

    def is_floating_point(self):
        return self._data.dtype.kind == "f"

    def data_ptr(self):
        """The address of the first element: equal for tensors that share memory from the start."""
        return self._data.__array_interface__["data"][0]

    def view_as(self, other):
        return self.reshape(other.shape)

    def expand(self, *sizes):
        """A view with size-1 axes repeated (without copying) and new axes in front; -1 keeps
        an axis's size. Gradients sum over the copies.

        >>> import glassnet as gn
        >>> gn.tensor([[1.0], [2.0]]).expand(2, 3)
        tensor([[1., 1., 1.],
                [2., 2., 2.]])
        """
        shape = _sizes(sizes, "expand", keep=True)
        new = len(shape) - self.ndim
        if new < 0:
            raise RuntimeError(
                f"expand: the number of sizes provided ({len(shape)}) must be greater or equal to the number "
                f"of dimensions in the tensor ({self.ndim})"
            )
        if -1 in shape[:new]:
            raise RuntimeError(f"expand: -1 is not allowed for a new leading dimension, got {shape}")
        shape = shape[:new] + tuple(n if k == -1 else k for k, n in zip(shape[new:], self.shape))
        return ops.Expand.apply(self, shape=shape)

    def expand_as(self, other):
        return self.expand(other.shape)

    def repeat(self, *sizes):
        """The tensor tiled: ``repeat(2, 1)`` stacks two copies along axis 0 (a copy, unlike
        ``expand``); more sizes than axes add leading axes.

        >>> import glassnet as gn
        >>> gn.tensor([1, 2]).repeat(2)
        tensor([1, 2, 1, 2])
        """
        return ops.Repeat.apply(self, repeats=_sizes(sizes, "repeat"))

    def contiguous(self):
        """This tensor if its memory is in C order, else a C-ordered copy (in the graph)."""
        return self if self._data.flags.c_contiguous else ops.Contiguous.apply(self)

    def narrow(self, dim, start, length):
        """``length`` elements of axis ``dim`` from ``start``: a view, as ``x[:, start:start + length]``."""
        size = self.shape[dim]
        start, length = int(start), int(length)
        start = start + size if start < 0 else start
        if not 0 <= start <= size or length < 0 or start + length > size:
            raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({size})")
        index = (slice(None),) * (dim % self.ndim) + (slice(start, start + length),)
        return ops.GetItem.apply(self, index=index)

    def type(self, dtype=None, non_blocking=False):
        """Without ``dtype``, the type's name (``'glassnet.FloatTensor'``); with one
        (a dtype or a name such as ``'torch.LongTensor'``), the tensor converted to it."""
        if dtype is None:
            return "glassnet." + dtypes.tensor_type_name(self.dtype)
        return self.to(dtype=dtypes.as_dtype(dtype))

    def float(self):
        """As float32 (this tensor itself if it already is): float conversions stay differentiable."""
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    def half(self):
        return self.to(dtypes.float16)

    def long(self):
        """As int64; an integer result does not require grad."""
        return self.to(dtypes.int64)

    def int(self):
        return self.to(dtypes.int32)

    def short(self):
        return self.to(dtypes.int16)

    def char(self):
        return self.to(dtypes.int8)

    def byte(self):
        return self.to(dtypes.uint8)

    def bool(self):
        return self.to(dtypes.bool)

    def to(self, *args, dtype=None, device=None, copy=False, non_blocking=False, memory_format=None):
        """Convert to a dtype and/or device: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``,
        ``to(other_tensor)`` (its dtype). Returns this tensor itself when nothing changes
        (unless ``copy=True``). The only device is "cpu"; any other raises.

        >>> import glassnet as gn
        >>> x = gn.tensor([1.5, 2.5])
        >>> x.to("cpu") is x, x.to(gn.int64)
        (True, tensor([1, 2]))
        """
        device, dtype, flags = to_arguments(args, device, dtype)
        copy = copy or (len(flags) > 1 and flags[1])
        as_device(device, ".to()")
        dtype = self.dtype if dtype is None else dtype
        if dtype == self.dtype and not copy:
            return self
        return ops.Cast.apply(self, dtype=dtype)  # a copy; to an integer dtype it leaves the graph

    def cpu(self):
        return self

    def cuda(self, device=None, non_blocking=False):
        """Raises: glassnet has no GPU backend (``.to("cpu")`` and ``.cpu()`` work)."""
        as_device("cuda" if device is None or isinstance(device, int) else device, ".cuda()")
        raise RuntimeError(f".cuda(): {device!r} is not a CUDA device")  # as PyTorch, for .cuda("cpu")

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        """A new tensor from ``data``, with this tensor's dtype unless ``dtype`` is given."""
        return creation.tensor(data, dtype=self.dtype if dtype is None else dtype, device=device, requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return creation.zeros(*size, dtype=self.dtype if dtype is None else dtype, device=device, requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return creation.ones(*size, dtype=self.dtype if dtype is None else dtype, device=device, requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return creation.empty(*size, dtype=self.dtype if dtype is None else dtype, device=device, requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        return creation.full(size, fill_value, dtype=self.dtype if dtype is None else dtype, device=device, requires_grad=requires_grad)

    # -- arithmetic -----------------------------------------------------------------------

    def _operand(self, other):
        """Wrap a plain number or array as a constant tensor. Python scalars take this
        tensor's dtype so ``x * 0.5`` never promotes float32 to float64 (NumPy scalars too)."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (int, float, bool, xp.number)) and self.dtype.kind == "f":
            return Tensor._wrap(xp.asarray(other, dtype=self.dtype), False)
        return Tensor(other)

    def __add__(self, other):
        return _arithmetic(ops.Add, self, other)

    def __radd__(self, other):
        return _arithmetic(ops.Add, other, self)

    def __sub__(self, other):
        return _arithmetic(ops.Sub, self, other)

    def __rsub__(self, other):
        return _arithmetic(ops.Sub, other, self)

    def __mul__(self, other):
        return _arithmetic(ops.Mul, self, other)

    def __rmul__(self, other):
        return _arithmetic(ops.Mul, other, self)

    def __truediv__(self, other):
        return _arithmetic(ops.Div, self, other)

    def __rtruediv__(self, other):
        return _arithmetic(ops.Div, other, self)

    def __pow__(self, exponent):
        if isinstance(exponent, (int, float, xp.number)) and not isinstance(exponent, bool):
            dtype = dtypes.result_type(self, exponent)
            base = self if dtype == self.dtype else ops.Cast.apply(self, dtype=dtype)
            # a NumPy scalar becomes a Python one: no promotion
            return ops.PowScalar.apply(base, exponent=exponent.item() if isinstance(exponent, xp.number) else exponent)
        if self.dtype == xp.bool_:
            return _bool_power(self, exponent)
        return _arithmetic(ops.Pow, self, exponent)

    def __rpow__(self, base):
        if self.dtype == xp.bool_:
            return _bool_power(base, self)
        return _arithmetic(ops.Pow, base, self)

    def __neg__(self):
        return ops.Neg.apply(self)

    def __matmul__(self, other):
        return _arithmetic(ops.MatMul, self, other)

    def __rmatmul__(self, other):
        return _arithmetic(ops.MatMul, other, self)

    # in-place arithmetic changes the tensor itself (``w -= lr * w.grad`` updates w)
    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def add_(self, other, *, alpha=1):
        return self._update(lambda old: old + (other if alpha == 1 else other * alpha), "add_")

    def sub_(self, other, *, alpha=1):
        return self._update(lambda old: old - (other if alpha == 1 else other * alpha), "sub_")

    def mul_(self, other):
        return self._update(lambda old: old * other, "mul_")

    def div_(self, other):
        return self._update(lambda old: old / other, "div_")

    def fill_(self, value):
        return self._update(lambda old: Tensor._wrap(xp.full(self.shape, _as_array(value), self.dtype), False), "fill_")

    def zero_(self):
        return self.fill_(0)

    def copy_(self, src):
        """Copy ``src`` (broadcast to this shape, cast to this dtype) into this tensor."""
        src = src if isinstance(src, Tensor) else Tensor(src)
        src = src if src.dtype == self.dtype else ops.Cast.apply(src, dtype=self.dtype)
        return self._update(lambda old: src + Tensor._wrap(xp.zeros(self.shape, self.dtype), False), "copy_")

    def masked_fill_(self, mask, value):
        return self._update(lambda old: old.masked_fill(mask, value), "masked_fill_")

    def clamp_(self, min=None, max=None):
        return self._update(lambda old: old.clamp(min, max), "clamp_")

    clip_ = clamp_

    def masked_fill(self, mask, value):
        """Where ``mask`` is true, ``value``; elsewhere this tensor's values."""
        mask = mask._data if isinstance(mask, Tensor) else xp.asarray(mask)
        if mask.dtype != bool:
            raise TypeError(f"masked_fill: the mask must be a bool tensor, got dtype {mask.dtype}")
        return ops.where(mask, value, self)

    def relu_(self):
        return self._update(lambda old: old.relu(), "relu_")

    def uniform_(self, a=0.0, b=1.0, generator=None):
        generator = generator or random.generator()
        return self.copy_(generator.uniform(a, b, self.shape))

    def normal_(self, mean=0.0, std=1.0, generator=None):
        generator = generator or random.generator()
        return self.copy_(generator.normal(mean, std, self.shape))

    def __setitem__(self, index, value):
        """``x[i] = v``, ``x[mask] = v``: in place, and differentiable like PyTorch's."""
        index = _plain_index(index)
        value = value if isinstance(value, Tensor) else Tensor._wrap(_as_array(value, self.dtype), False)
        if not (is_grad_enabled() and (self.requires_grad or value.requires_grad)):
            self._data[index] = value._data  # nothing to record: write straight into the array
            self._version[0] += 1
            return
        self._update(lambda old: ops.SetItem.apply(old, value, index=index), "item assignment")

    def clone(self):
        """A copy in new memory that stays in the graph (gradients flow back through it)."""
        return ops.Clone.apply(self)

    def _update(self, compute, name):
        """Change this tensor in place to ``compute(old)``, the out-of-place result.

        Under autograd the old value becomes a node of its own, the new value's op takes
        its place as this tensor's ``grad_fn``, and the version counter moves on, so an op
        that saved the old values raises at backward instead of using the new ones.
        """
        if self.requires_grad and self._ctx is None and is_grad_enabled():
            raise RuntimeError(
                f"{name}: a leaf tensor that requires grad (a weight) cannot be changed in place while "
                "autograd records; help: do the update under `with gn.no_grad():`, as optimizers do"
            )
        old = Tensor._wrap(self._data, self.requires_grad)
        old._ctx, old._index, old._version = self._ctx, self._index, self._version
        new = compute(old)
        new = new if isinstance(new, Tensor) else Tensor(new)
        if new.shape != self.shape:
            raise RuntimeError(
                f"{name}: the result has shape {new.shape}, which does not fit the tensor of shape "
                f"{self.shape} changed in place (only the other operand may broadcast)"
            )
        if dtypes.category(new.dtype) > dtypes.category(self.dtype):
            raise RuntimeError(
                f"{name}: the result type {new.dtype} can't be cast to the tensor's type {self.dtype}; "
                f"help: convert first, e.g. x = x.to({new.dtype.name!r}), or use an out-of-place op"
            )
        if not self._data.flags.writeable:
            raise RuntimeError(f"{name}: this tensor is a read-only view (e.g. from expand); help: .clone() it first")
        self._data[...] = new._data
        self._version[0] += 1
        if new.requires_grad:
            self._ctx, self._index, self.requires_grad = new._ctx, new._index, True
        elif is_grad_enabled() and self.requires_grad:  # new values that depend on nothing learned
            self._ctx, self.requires_grad = None, False
        return self

    # comparisons give boolean tensors and carry no gradient
    def _compare(self, other, ufunc):
        if not isinstance(other, (Tensor, xp.ndarray, numbers.Number, xp.generic, list, tuple)):
            return NotImplemented  # e.g. pytest.approx, which compares itself
        return ops.Logic.apply(self, other, ufunc=ufunc.__name__)

    def __lt__(self, other):
        return self._compare(other, xp.less)

    def __le__(self, other):
        return self._compare(other, xp.less_equal)

    def __gt__(self, other):
        return self._compare(other, xp.greater)

    def __ge__(self, other):
        return self._compare(other, xp.greater_equal)

    def __eq__(self, other):
        return self._compare(other, xp.equal)

    def __ne__(self, other):
        return self._compare(other, xp.not_equal)

    __hash__ = object.__hash__  # tensors are hashed by identity, as in PyTorch

    def eq(self, other):
        return self == other

    def ne(self, other):
        return self != other

    def lt(self, other):
        return self < other

    def le(self, other):
        return self <= other

    def gt(self, other):
        return self > other

    def ge(self, other):
        return self >= other

    def isnan(self):
        return Tensor._wrap(xp.isnan(self._data), False)

    def isinf(self):
        return Tensor._wrap(xp.isinf(self._data), False)

    def isfinite(self):
        return Tensor._wrap(xp.isfinite(self._data), False)

    def equal(self, other):
        """True if ``other`` has this shape and the same values (a Python bool)."""
        return self.shape == other.shape and bool((self._data == _as_array(other)).all())

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """True if all values are close: |self - other| <= atol + rtol |other|, broadcasting."""
        return bool(xp.allclose(self._data, _as_array(other), rtol=rtol, atol=atol, equal_nan=equal_nan))

    def all(self, dim=None, keepdim=False):
        """Whether every element (along ``dim``) is non-zero: a bool tensor."""
        return Tensor._wrap(xp.all(self._data, axis=dim, keepdims=keepdim), False)

    def any(self, dim=None, keepdim=False):
        """Whether some element (along ``dim``) is non-zero: a bool tensor."""
        return Tensor._wrap(xp.any(self._data, axis=dim, keepdims=keepdim), False)

    # logic: on any dtype, bool results; bitwise (& | ^ ~): bool and integer tensors only
    def logical_not(self):
        return Tensor._wrap(xp.logical_not(self._data), False)

    def logical_and(self, other):
        return Tensor._wrap(xp.logical_and(self._data, _as_array(other)), False)

    def logical_or(self, other):
        return Tensor._wrap(xp.logical_or(self._data, _as_array(other)), False)

    def logical_xor(self, other):
        return Tensor._wrap(xp.logical_xor(self._data, _as_array(other)), False)

    def __and__(self, other):
        return _bitwise("bitwise_and", "&", self, other)

    def __or__(self, other):
        return _bitwise("bitwise_or", "|", self, other)

    def __xor__(self, other):
        return _bitwise("bitwise_xor", "^", self, other)

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __invert__(self):
        return _bitwise("invert", "~", self, None)

    bitwise_and, bitwise_or, bitwise_xor, bitwise_not = __and__, __or__, __xor__, __invert__

    # -- elementwise functions --------------------------------------------------------------
    # (integer and bool tensors compute float functions in float32, as in PyTorch)

    def exp(self):
        return ops.Exp.apply(_floating(self))

    def log(self):
        return ops.Log.apply(_floating(self))

    def log1p(self):
        return ops.Log1p.apply(_floating(self))

    def sqrt(self):
        return ops.Sqrt.apply(_floating(self))

    def rsqrt(self):
        return ops.Rsqrt.apply(_floating(self))

    def sin(self):
        return ops.Sin.apply(_floating(self))

    def cos(self):
        return ops.Cos.apply(_floating(self))

    def erf(self):
        return ops.Erf.apply(_floating(self))

    def abs(self):
        return ops.Abs.apply(self)

    __abs__ = abs

    def sign(self):
        """-1, 0 or 1; its gradient is zero, as in PyTorch."""
        return ops.Sign.apply(self)

    def floor(self):
        return ops.Floor.apply(self)

    def ceil(self):
        return ops.Ceil.apply(self)

    def round(self):
        return ops.Round.apply(self)

    def trunc(self):
        return ops.Trunc.apply(self)

    def neg(self):
        return -self

    negative = neg

    def square(self):
        return self**2

    def pow(self, exponent):
        return self**exponent

    def add(self, other, *, alpha=1):
        """``self + alpha * other``."""
        return self + (other if alpha == 1 else other * alpha)

    def sub(self, other, *, alpha=1):
        """``self - alpha * other``."""
        return self - (other if alpha == 1 else other * alpha)

    subtract = sub

    def mul(self, other):
        return self * other

    multiply = mul

    def div(self, other, *, rounding_mode=None):
        """``self / other``; ``rounding_mode="floor"`` or ``"trunc"`` rounds the quotient down or
        toward zero (integers then stay integers, and floats pass a zero gradient)."""
        if rounding_mode is None:
            return self / other
        if rounding_mode not in ("floor", "trunc"):
            raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")
        dtype = dtypes.result_type(self, other)
        if dtype.kind == "f":
            return (ops.Floor if rounding_mode == "floor" else ops.Trunc).apply(self / other)
        a, b = _as_operand(self, dtype)._data, _as_operand(other, dtype)._data
        if (b == 0).any():
            raise ZeroDivisionError("div: integer division by zero")
        quotient = a // b
        if rounding_mode == "trunc":  # // rounds down: move negative inexact quotients up by one
            quotient = quotient + ((quotient < 0) & (quotient * b != a))
        return Tensor._wrap(quotient, False)

    divide = true_divide = div

    def __floordiv__(self, other):
        return self.div(other, rounding_mode="floor")

    def __rfloordiv__(self, other):
        return _as_operand(other, dtypes.result_type(other, self)).div(self, rounding_mode="floor")

    def maximum(self, other):
        """The larger of the two, elementwise (ties share the gradient)."""
        return _arithmetic(ops.Maximum, self, other)

    def minimum(self, other):
        return _arithmetic(ops.Minimum, self, other)

    def clip(self, min=None, max=None):
        """Values cut off below ``min`` and above ``max`` (numbers, or tensors that broadcast)."""
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            low = self if min is None else self.maximum(min)
            return low if max is None else low.minimum(max)
        return ops.Clip.apply(self, low=min, high=max)

    clamp = clip

    def relu(self):
        return ops.ReLU.apply(self)

    def sigmoid(self):
        return ops.Sigmoid.apply(_floating(self))

    def tanh(self):
        return ops.Tanh.apply(_floating(self))

    def softmax(self, axis=-1, dim=None, *, dtype=None):
        return ops.Softmax.apply(_floating(self, dtype), axis=_axis(axis, dim, -1))

    def log_softmax(self, axis=-1, dim=None, *, dtype=None):
        return ops.LogSoftmax.apply(_floating(self, dtype), axis=_axis(axis, dim, -1))

    # -- reductions -------------------------------------------------------------------------

    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=False, dtype=None):
        """The sum over ``dim`` (an int, a tuple, or None for all); integer and bool tensors
        sum to int64, as in PyTorch; ``dtype=`` converts first."""
        return ops.Sum.apply(_accumulating(self, dtype), axis=_axis(axis, dim), keepdims=keepdims or keepdim)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=False, dtype=None):
        x, axis = self if dtype is None else self.to(dtype), _axis(axis, dim)
        return x.sum(axis, keepdims or keepdim) / max(_count(x, axis), 1)  # divided, as PyTorch rounds

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=False):
        """The variance over ``dim``: the summed squared deviations divided by N - correction;
        ``correction`` is 1 by default (unbiased), 0 with ``unbiased=False``, as in PyTorch."""
        if isinstance(dim, bool):  # var(unbiased), PyTorch's older form
            dim, unbiased = None, dim
        if unbiased is not None and correction is not None:
            raise TypeError("var: give correction= or unbiased=, not both")
        correction = correction if correction is not None else 1 if unbiased is None else int(unbiased)
        x, axis = _floating(self), _axis(axis, dim)
        deviation = x - x.mean(axis, keepdims=True)
        freedom = _count(x, axis) - correction
        with xp.errstate(invalid="ignore"):  # N <= correction: inf or nan, as in PyTorch
            return (deviation * deviation).sum(axis, keepdim or keepdims) * (1.0 / freedom if freedom > 0 else xp.inf)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=False):
        """The standard deviation: ``var(...).sqrt()``, unbiased by default."""
        return self.var(dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims).sqrt()

    def prod(self, dim=None, keepdim=False, *, dtype=None):
        """The product over one dim (or all); differentiable also where elements are 0."""
        return ops.Prod.apply(_accumulating(self, dtype), axis=dim, keepdims=keepdim)

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        """The vector p-norm over ``dim`` (all elements by default): p = 2 ("fro"), 1, any
        p > 0, inf (the largest |x|), -inf (the smallest), 0 (how many are non-zero)."""
        p = 2 if p in ("fro", None) else p
        if isinstance(p, str):
            raise NotImplementedError(f"norm: p={p!r} is not supported (only vector norms and 'fro')")
        x, axis = _floating(self, dtype), _axis(None, dim)
        if p == xp.inf:
            return x.abs().amax(axis, keepdim)
        if p == -xp.inf:
            return x.abs().amin(axis, keepdim)
        if p == 0:
            return (x != 0).sum(axis, keepdim).to(x.dtype)
        return ops.Norm.apply(x, p=p, axis=axis, keepdims=keepdim)

    def logsumexp(self, dim=None, keepdim=False):
        """log(sum(exp(x))) over ``dim``, without overflow."""
        return ops.LogSumExp.apply(_floating(self), axis=_axis(None, dim), keepdims=keepdim)

    def cumsum(self, dim, *, dtype=None):
        """Running sums along ``dim`` (integers accumulate in int64, as in PyTorch)."""
        return ops.CumSum.apply(_accumulating(self, dtype), axis=dim)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=False):
        """``max()``: the largest value (the gradient split between ties). ``max(dim)``: the
        named tuple ``(values, indices)`` of each slice's largest value and its index (the
        gradient goes to that index). ``max(other)``: the elementwise ``maximum``.

        >>> import glassnet as gn
        >>> values, indices = gn.tensor([[1.0, 5.0], [7.0, 0.0]]).max(1)
        >>> values, indices
        (tensor([5., 7.]), tensor([1, 0]))
        """
        return _extreme(self, ops.Max, ops.MaxWithIndices, return_types.max, _axis(axis, dim), keepdim or keepdims)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=False):
        """``min()``, ``min(dim)`` (values, indices) and ``min(other)``, as ``max``."""
        return _extreme(self, ops.Min, ops.MinWithIndices, return_types.min, _axis(axis, dim), keepdim or keepdims)

    def amax(self, dim=None, keepdim=False, *, axis=None, keepdims=False):
        """The largest values over ``dim`` (an int, a tuple, or all dims); values only, the
        gradient split evenly between ties."""
        return ops.Max.apply(self, axis=_dims(axis, dim), keepdims=keepdim or keepdims)

    def amin(self, dim=None, keepdim=False, *, axis=None, keepdims=False):
        return ops.Min.apply(self, axis=_dims(axis, dim), keepdims=keepdim or keepdims)

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=False):
        return Tensor(xp.argmax(self._data, axis=_axis(axis, dim), keepdims=keepdims or keepdim))

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=False):
        return Tensor(xp.argmin(self._data, axis=_axis(axis, dim), keepdims=keepdims or keepdim))

    def sort(self, dim=-1, descending=False, *, stable=False):
        """The named tuple ``(values, indices)`` sorted along ``dim``; always stable here."""
        return return_types.sort(*ops.Sort.apply(self, axis=dim, descending=descending))

    def argsort(self, dim=-1, descending=False, *, stable=False):
        return Tensor._wrap(ops.stable_argsort(self._data, dim, descending), False)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        """The named tuple ``(values, indices)`` of the ``k`` largest (``largest=False``:
        smallest) values along ``dim``, in order."""
        return return_types.topk(*ops.TopK.apply(self, k=int(k), axis=dim, largest=largest))

    # -- shape ------------------------------------------------------------------------------

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return ops.Reshape.apply(self, shape=tuple(shape))

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        ndim = max(self.ndim, 1)
        start, end = start_dim % ndim, end_dim % ndim
        shape = self.shape[:start] + (-1,) + self.shape[end + 1:]
        return self.reshape(shape)

    def transpose(self, *axes):
        """NumPy's ``transpose(axes)`` (a full permutation) or PyTorch's
        ``transpose(dim0, dim1)`` (swap two axes); with no argument, reverse the axes.
        Two separate arguments always swap, so a 2-D ``transpose(0, 1)`` transposes as in
        PyTorch (as a NumPy permutation it would do nothing)."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        elif len(axes) == 2:
            swapped = list(range(self.ndim))
            swapped[axes[0]], swapped[axes[1]] = swapped[axes[1]], swapped[axes[0]]
            axes = tuple(swapped)
        if not axes:
            axes = tuple(reversed(range(self.ndim)))
        return ops.Transpose.apply(self, axes=tuple(axes))

    def permute(self, *axes):
        axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        return ops.Transpose.apply(self, axes=axes)

    @property
    def T(self):
        return self.transpose()

    def t(self):
        """The transpose of a matrix (PyTorch's ``t``); 0-D and 1-D tensors come back as they are."""
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor with at most 2 dimensions, got shape {self.shape}; help: use transpose(dim0, dim1)")
        return self if self.ndim < 2 else self.transpose(0, 1)

    def unsqueeze(self, axis=None, *, dim=None):
        axis = _axis(axis, dim)
        axis = axis if axis >= 0 else axis + self.ndim + 1
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])

    def squeeze(self, axis=None, *, dim=None):
        """Without a dim, drop every axis of size 1; with a dim (or a tuple of dims), drop
        those of them that have size 1."""
        axis = _axis(axis, dim)
        if axis is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        axes = {a % max(self.ndim, 1) for a in (axis if isinstance(axis, tuple) else (axis,))}
        axes = {a for a in axes if a < self.ndim and self.shape[a] == 1}
        return self.reshape(tuple(n for a, n in enumerate(self.shape) if a not in axes)) if axes else self

    def split(self, split_size_or_sections, dim=0):
        """Pieces along ``dim``: of ``split_size`` elements each (the last may be smaller), or
        of the sizes in a list. A tuple of views, each in the graph."""
        length = self.shape[dim]
        if isinstance(split_size_or_sections, (list, tuple)):
            sizes = tuple(int(n) for n in split_size_or_sections)
        else:
            size = int(split_size_or_sections)
            if size <= 0 and length:
                raise RuntimeError(f"split: split_size must be positive, got {size}")
            sizes = (size,) * (length // size) + ((length % size,) if length % size else ()) if length else (0,)
        return ops.Split.apply(self, sizes=sizes, axis=dim)

    def chunk(self, chunks, dim=0):
        """At most ``chunks`` pieces along ``dim``, of equal size but the last (as PyTorch)."""
        if chunks <= 0:
            raise RuntimeError(f"chunk: chunks must be positive, got {chunks}")
        if not self.shape[dim]:
            return self.split([0] * chunks, dim)
        return self.split(-(-self.shape[dim] // chunks), dim)

    def flip(self, dims):
        """A copy with the order of the elements reversed along ``dims``; gradients flow back reversed."""
        dims = {d % self.ndim for d in ((dims,) if isinstance(dims, int) else dims)}
        return self[tuple(slice(None, None, -1) if d in dims else slice(None) for d in range(self.ndim))].clone()

    def unbind(self, dim=0):
        """The slices along ``dim`` (which they lose), as a tuple."""
        return ops.Unbind.apply(self, axis=dim)

    def tril(self, diagonal=0):
        """The lower triangle of the last two axes (on and below ``diagonal``); zeros above."""
        return ops.where(xp.tri(*self._matrix_shape("tril"), k=diagonal, dtype=bool), self, 0)

    def triu(self, diagonal=0):
        """The upper triangle of the last two axes (on and above ``diagonal``); zeros below."""
        return ops.where(~xp.tri(*self._matrix_shape("triu"), k=diagonal - 1, dtype=bool), self, 0)

    def _matrix_shape(self, op):
        if self.ndim < 2:
            raise RuntimeError(f"{op}: the input must have at least 2 dimensions, got shape {self.shape}")
        return self.shape[-2:]

    def gather(self, dim, index):
        """``out[i][j] = self[i][index[i][j]]`` for dim 1 (likewise for any dim); the
        gradient is added back into the gathered positions."""
        return ops.Gather.apply(self, index=_as_array(index), axis=dim)

    def where(self, condition, other):
        """``gn.where(condition, self, other)``."""
        return ops.where(condition, self, other)

    def matmul(self, other):
        return self @ other

    def mm(self, other):
        """The product of two matrices (2-D tensors only; ``matmul`` broadcasts)."""
        _check_dims("mm", 2, self, other)
        return self @ other

    def bmm(self, other):
        """Batched matrix products: (b, n, m) @ (b, m, p) -> (b, n, p), 3-D tensors only."""
        _check_dims("bmm", 3, self, other)
        if self.shape[0] != other.shape[0]:
            raise RuntimeError(f"bmm: the batch sizes differ: shapes {self.shape} and {other.shape}")
        return self @ other

    def __getitem__(self, index):
        return ops.GetItem.apply(self, index=_plain_index(index))


def to_arguments(args, device=None, dtype=None):
    """(device, dtype, flags) from PyTorch's positional forms of ``to``: ``to(dtype)``,
    ``to(device)``, ``to(device, dtype)``, ``to(other_tensor)`` (its dtype), and the bools
    ``non_blocking, copy`` after them (``flags``)."""
    flags = []
    for arg in args:
        if isinstance(arg, Tensor):
            dtype = arg.dtype
        elif isinstance(arg, (bool, xp.bool_)):
            flags.append(arg)
        elif isinstance(arg, (str, _Device, int)) or isinstance(getattr(arg, "type", None), str):
            device = arg  # also another library's device object: its .type names it
        else:
            dtype = arg
    return device, dtypes.as_dtype(dtype), flags


def _format(array):
    """Values printed as PyTorch prints them: whole numbers as ``2.``, others with four
    decimals, and in scientific notation when their magnitudes are far apart."""
    if array.dtype.kind != "f" or array.size == 0:
        return xp.array2string(array, separator=", ", prefix="tensor(")
    finite = xp.abs(array[xp.isfinite(array)])
    if finite.size == 0 or (finite == xp.round(finite)).all() and finite.max() < 1e8:
        number = lambda v: f"{v:.0f}."  # noqa: E731
    elif finite.max() >= 1e8 or finite[finite > 0].size and finite.max() / finite[finite > 0].min() >= 1000:
        number = lambda v: f"{v:.4e}"  # noqa: E731
    else:
        number = lambda v: f"{v:.4f}"  # noqa: E731
    text = lambda v: number(v) if xp.isfinite(v) else str(v)  # noqa: E731
    # every entry as wide as the widest, which is the smallest or the largest value (or inf/nan)
    finite_values = array[xp.isfinite(array)]
    extremes = (finite_values.min(), finite_values.max()) if finite_values.size else ()
    width = max(len(text(v)) for v in (*extremes, *array[~xp.isfinite(array)][:1]))
    style = {"float_kind": lambda v: text(v).rjust(width)}
    return xp.array2string(array, separator=", ", prefix="tensor(", formatter=style)


def _arithmetic(op, a, b):
    """``op(a, b)`` on operands cast to their common type by PyTorch's promotion rules
    (``gn.result_type``); true division of integers gives float32, as in PyTorch."""
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a.dtype == b.dtype and a.dtype.kind == "f":
        return op.apply(a, b)  # the common case, without the promotion table
    if type(b) in (float, int) and isinstance(a, Tensor) and a.dtype.kind == "f":  # x * 0.5: the tensor's dtype
        return op.apply(a, _as_operand(b, a.dtype))
    if type(a) in (float, int) and isinstance(b, Tensor) and b.dtype.kind == "f":  # 1 - x, as above
        return op.apply(_as_operand(a, b.dtype), b)
    if op is ops.Sub:
        _refuse_bool_subtraction(a, b)
    dtype = dtypes.result_type(a, b)
    if op is ops.Div and dtype.kind != "f":
        dtype = dtypes.float32
    return op.apply(_as_operand(a, dtype), _as_operand(b, dtype))


def _bitwise(ufunc, symbol, a, b):
    """``a & b`` and friends (``~a``: b None): bool and integer tensors only (no gradient),
    PyTorch's promotion; ``ufunc`` is NumPy's name."""
    dtype = dtypes.result_type(a, a if b is None else b)
    if dtype.kind == "f":
        raise TypeError(f"{symbol}: bitwise operators take bool or integer tensors, got {dtype}; "
                        "help: compare first (x > 0) to make a bool mask")
    return ops.Logic.apply(_as_operand(a, dtype), None if b is None else _as_operand(b, dtype), ufunc=ufunc)


def _refuse_bool_subtraction(a, b):
    """PyTorch's rule: ``-`` refuses bools (a mask minus a mask is ambiguous)."""
    bools = sum(isinstance(x, (bool, xp.bool_)) or getattr(x, "dtype", None) == xp.bool_ for x in (a, b))
    if bools == 2:
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported; "
            "help: use the `^` or logical_xor() operator instead"
        )
    if bools:
        raise RuntimeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported; help: to invert a mask, "
            "use the `~` or logical_not() operator; to compute with it, convert it first, e.g. mask.float()"
        )


def _bool_power(base, exponent):
    """A bool tensor as base or exponent: numbers promote it (``mask ** 2`` is int64); with
    bools only, PyTorch computes ``mask ** True`` and ``mask ** False`` and refuses the rest."""
    if dtypes.result_type(base, exponent) != xp.bool_:
        return _arithmetic(ops.Pow, base, exponent)
    if isinstance(base, Tensor) and isinstance(exponent, (bool, xp.bool_)):
        return Tensor._wrap(base._data | (not exponent), False)
    raise NotImplementedError('"pow" is not implemented for bool tensors; help: convert first, e.g. mask.int()')


def _as_operand(x, dtype):
    if isinstance(x, Tensor):
        return x if x.dtype == dtype else ops.Cast.apply(x, dtype=dtype)
    if isinstance(x, (list, tuple)):
        x = _as_array(x)
    return Tensor._wrap(xp.asarray(x, dtype=dtype), False)


def _axis(axis, dim, default=None):
    """Accept NumPy's ``axis`` or PyTorch's ``dim``."""
    if dim is not None:
        return tuple(dim) if isinstance(dim, list) else dim
    if axis is None:
        return default
    return tuple(axis) if isinstance(axis, list) else axis


# -- helpers of the math methods ---------------------------------------------------------------


def _dims(axis, dim):
    """``_axis``, where an empty tuple of dims means all of them (``amax(dim=())``)."""
    axis = _axis(axis, dim)
    return None if axis == () else axis


def _floating(t, dtype=None):
    """``t`` as ``dtype`` if given; else integers and bools as float32 (PyTorch computes
    float functions of them so), floats unchanged."""
    if dtype is not None:
        return t.to(dtype)
    return t if t.dtype.kind in "fc" else ops.Cast.apply(t, dtype=dtypes.float32)


def _accumulating(t, dtype=None):
    """``t`` as ``dtype`` if given; else integers and bools as int64, which PyTorch's sums
    and products accumulate in."""
    if dtype is not None:
        return t.to(dtype)
    return t if t.dtype.kind in "fc" or t.dtype == xp.int64 else ops.Cast.apply(t, dtype=dtypes.int64)


def _count(t, axis):
    """How many elements each result of a reduction over ``axis`` summarizes."""
    return t._data.size // max(ops.Sum.reduced_size(t.shape, axis), 1) if t._data.size else 0


def _extreme(t, over_all, along_dim, named, dim, keepdim):
    """max or min: of all values, along a dim (values and indices), or of two tensors."""
    if isinstance(dim, Tensor):
        return _arithmetic(ops.Maximum if over_all is ops.Max else ops.Minimum, t, dim)
    if dim is None:
        return over_all.apply(t)
    return named(*along_dim.apply(t, axis=dim, keepdims=keepdim))


def _check_dims(op, ndim, *tensors):
    for t in tensors:
        if not isinstance(t, Tensor) or t.ndim != ndim:
            shape = t.shape if isinstance(t, Tensor) else type(t).__name__
            raise RuntimeError(f"{op}: expects {ndim}-D tensors, got {shape}; help: matmul (@) broadcasts any shapes")


def _plain_index(index):
    """Indices may hold tensors (as ``x[labels]``); ops see their arrays."""
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in index)
    return index


def _initial_grad(t, gradient, who):
    if gradient is None:
        if t._data.size != 1:
            raise RuntimeError(
                f"{who} without a gradient needs a single-element tensor (a loss), got shape {t.shape}; "
                "help: reduce it with .sum() or .mean(), or pass the upstream gradient"
            )
        return xp.ones_like(t._data)
    grad = _as_array(gradient, t._data.dtype)
    if grad.shape != t.shape:
        raise ValueError(f"{who}: gradient of shape {grad.shape} for a tensor of shape {t.shape}")
    return grad


class _RemovableHandle:
    def __init__(self, tensor, hook):
        self.tensor, self.hook = weakref.ref(tensor), hook

    def remove(self):
        t = self.tensor()
        if t is None:
            return
        if t._ctx is None:
            t._hooks = [h for h in t._hooks or () if h is not self.hook]
        else:
            hooks = t._ctx.__dict__.get("output_hooks", {}).get(t._index, [])
            if self.hook in hooks:
                hooks.remove(self.hook)


from . import autograd, dtypes, ops, random  # noqa: E402  (they build on Function and Tensor above)
from . import creation  # noqa: E402  (new_zeros and the like)
from . import return_types  # noqa: E402  (max(dim), sort and topk give named tuples)
