"""Tensors and reverse-mode automatic differentiation: where backpropagation happens.

A :class:`Tensor` wraps an array (``.data``) and, when it was computed by an op from
tensors that require gradients, remembers that op (``._ctx``, a :class:`Function`).
Those links form a graph built as the program runs (define-by-run). ``backward()``
walks the graph from the output back to the leaves in reverse topological order,
calling each op's local ``backward`` rule and summing the gradients that meet at a node.
"""
import contextlib
import threading

from .backend import xp

# -- modes ------------------------------------------------------------------------------

_state = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_state, "grad_enabled", True)


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
    return getattr(_state, "anomaly", False)


def current_layer() -> str:
    """The chain of layers now running (``"Sequential > Linear"``); kept only while
    anomaly detection is on, so that errors can name where they happened."""
    return " > ".join(getattr(_state, "layers", ()))


@contextlib.contextmanager
def entering_layer(name):
    layers = getattr(_state, "layers", ())
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
    """One differentiable op: ``forward`` computes the output array from input arrays;
    ``backward`` turns the gradient of the output into gradients of the inputs.

    A subclass saves what its backward needs on ``self`` during forward. Its backward
    must not change ``grad`` in place (other ops may hold it); it returns one gradient
    per tensor input (``None`` where ``self.needs_input_grad`` says
    that input needs none, so work is skipped).
    """

    def forward(self, *arrays, **options):
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **options):
        fn = cls()
        out = fn.forward(*(t.data for t in inputs), **options)
        requires_grad = is_grad_enabled() and any(t.requires_grad for t in inputs)
        if anomaly_enabled():
            fn.layer = current_layer()
            _check_finite(out, f"{fn.describe()} produced NaN/Inf in its forward pass")
        result = Tensor(out, requires_grad=requires_grad)
        if requires_grad:
            fn.parents = inputs
            fn.needs_input_grad = tuple(t.requires_grad for t in inputs)
            result._ctx = fn
        return result

    def describe(self):
        layer = getattr(self, "layer", "")
        return f"op {type(self).__name__}" + (f" (in layer {layer})" if layer else "")


def _topological_order(root):
    """Nodes that ``root`` depends on, each after all of its inputs. Iterative, so a
    chain of any length works without hitting Python's recursion limit."""
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if node._ctx is not None:
            stack.extend((p, False) for p in node._ctx.parents if p.requires_grad and id(p) not in visited)
    return order


# -- the tensor -------------------------------------------------------------------------


def _as_array(data, dtype=None):
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, xp.generic):  # a NumPy scalar (ops on 0-d arrays return them) keeps its dtype
        data = xp.asarray(data)
    if isinstance(data, xp.ndarray):
        return data if dtype is None or data.dtype == dtype else data.astype(dtype)
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
    array([[2., 4.],
           [6., 8.]], dtype=float32)
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "__weakref__")
    __array_priority__ = 1000  # ndarray + Tensor dispatches to Tensor.__radd__

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = _as_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype {self.data.dtype}; "
                "help: create it from floats, e.g. gn.tensor(x, dtype='float32', requires_grad=True)"
            )
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None

    # -- backpropagation ---------------------------------------------------------------

    def backward(self, grad=None):
        """Compute the gradient of this tensor with respect to every leaf tensor that
        requires one, adding it to each leaf's ``.grad``.

        ``grad`` is the gradient flowing in from above; it may be omitted for a
        single-element tensor (a loss), where it is 1.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() called on a tensor that does not require grad: no input of the "
                "computation had requires_grad=True (or it ran under gn.no_grad())"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without an argument needs a single-element tensor (a loss), "
                    f"got shape {self.shape}; help: reduce it with .sum() or .mean(), or pass "
                    "the upstream gradient"
                )
            grad = xp.ones_like(self.data)
        else:
            grad = _as_array(grad, self.data.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward(): gradient of shape {grad.shape} for a tensor of shape {self.shape}")

        grads = {id(self): grad}
        handed_out = {id(grad)}  # arrays already given to someone; a leaf must not share them
        check = anomaly_enabled()
        for node in reversed(_topological_order(self)):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            fn = node._ctx
            if fn is None:  # a leaf: accumulate, in its own dtype, into a buffer it owns
                if node.grad is not None:
                    node.grad += g
                    continue
                # Ops return fresh arrays or pass their incoming gradient through (Add) or
                # a view of it (Reshape); only the latter two need a copy, as the leaf's
                # .grad may later be changed in place (clipping, accumulation).
                if g.dtype != node.data.dtype or not g.flags.owndata or id(g) in handed_out:
                    g = xp.array(g, dtype=node.data.dtype, copy=True)
                node.grad = g
                handed_out.add(id(g))
                continue
            input_grads = fn.backward(g)
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
            for parent, parent_grad in zip(fn.parents, input_grads):
                if parent_grad is None or not parent.requires_grad:
                    continue
                if check:
                    _check_finite(parent_grad, f"{fn.describe()} produced NaN/Inf in its backward pass")
                key = id(parent)
                grads[key] = grads[key] + parent_grad if key in grads else parent_grad

    def detach(self):
        """The same values, cut from the graph."""
        return Tensor(self.data)

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {self.data.dtype}")
        self.requires_grad = requires_grad
        return self

    def zero_grad(self):
        self.grad = None

    # -- plain-array views ----------------------------------------------------------------

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def is_leaf(self):
        return self._ctx is None

    def numel(self):
        return self.data.size

    def __len__(self):
        return len(self.data)

    def numpy(self):
        """The values as a NumPy array (shared, not copied)."""
        return self.data

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def item(self):
        return self.data.item()

    def __bool__(self):  # as in PyTorch: only a single element has a truth value
        return bool(self.data)

    def tolist(self):
        return self.data.tolist()

    def astype(self, dtype):
        return ops.Cast.apply(self, dtype=xp.dtype(dtype))

    def float(self):
        return self.astype(xp.float32)

    def double(self):
        return self.astype(xp.float64)

    def __repr__(self):
        body = xp.array2string(self.data, separator=", ", prefix="tensor(")
        grad = ", requires_grad=True" if self.requires_grad else ""
        dtype = "" if self.dtype == xp.float32 else f", dtype={self.dtype}"
        return f"tensor({body}{dtype}{grad})"

    # -- arithmetic -----------------------------------------------------------------------

    def _operand(self, other):
        """Wrap a plain number or array as a constant tensor. Python scalars take this
        tensor's dtype so ``x * 0.5`` never promotes float32 to float64 (NumPy scalars too)."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (int, float, bool, xp.number)) and self.dtype.kind == "f":
            return Tensor(xp.asarray(other, dtype=self.dtype))
        return Tensor(other)

    def __add__(self, other):
        return ops.Add.apply(self, self._operand(other))

    def __radd__(self, other):
        return ops.Add.apply(self._operand(other), self)

    def __sub__(self, other):
        return ops.Sub.apply(self, self._operand(other))

    def __rsub__(self, other):
        return ops.Sub.apply(self._operand(other), self)

    def __mul__(self, other):
        return ops.Mul.apply(self, self._operand(other))

    def __rmul__(self, other):
        return ops.Mul.apply(self._operand(other), self)

    def __truediv__(self, other):
        return ops.Div.apply(self, self._operand(other))

    def __rtruediv__(self, other):
        return ops.Div.apply(self._operand(other), self)

    def __pow__(self, exponent):
        if isinstance(exponent, (int, float, xp.number)):  # a NumPy scalar becomes a Python one: no promotion
            return ops.PowScalar.apply(self, exponent=exponent.item() if isinstance(exponent, xp.number) else exponent)
        return ops.Pow.apply(self, self._operand(exponent))

    def __rpow__(self, base):
        return ops.Pow.apply(self._operand(base), self)

    def __neg__(self):
        return ops.Neg.apply(self)

    def __matmul__(self, other):
        return ops.MatMul.apply(self, self._operand(other))

    def __rmatmul__(self, other):
        return ops.MatMul.apply(self._operand(other), self)

    # comparisons give boolean tensors and carry no gradient
    def _compare(self, other, ufunc):
        other = other.data if isinstance(other, Tensor) else other
        return Tensor(ufunc(self.data, other))

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

    # -- elementwise functions --------------------------------------------------------------

    def exp(self):
        return ops.Exp.apply(self)

    def log(self):
        return ops.Log.apply(self)

    def sqrt(self):
        return ops.Sqrt.apply(self)

    def abs(self):
        return ops.Abs.apply(self)

    def clip(self, min=None, max=None):
        return ops.Clip.apply(self, low=min, high=max)

    clamp = clip

    def relu(self):
        return ops.ReLU.apply(self)

    def sigmoid(self):
        return ops.Sigmoid.apply(self)

    def tanh(self):
        return ops.Tanh.apply(self)

    def softmax(self, axis=-1, dim=None):
        return ops.Softmax.apply(self, axis=_axis(axis, dim, -1))

    def log_softmax(self, axis=-1, dim=None):
        return ops.LogSoftmax.apply(self, axis=_axis(axis, dim, -1))

    # -- reductions -------------------------------------------------------------------------

    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=False):
        return ops.Sum.apply(self, axis=_axis(axis, dim), keepdims=keepdims or keepdim)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=False):
        axis = _axis(axis, dim)
        count = self.data.size // max(ops.Sum.reduced_size(self.shape, axis), 1) if self.data.size else 0
        return self.sum(axis, keepdims or keepdim) * (1.0 / max(count, 1))

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=False):
        """The largest values along ``axis`` (``argmax`` gives their indices)."""
        return ops.Max.apply(self, axis=_axis(axis, dim), keepdims=keepdims or keepdim)

    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=False):
        return -((-self).max(axis, keepdims, dim=dim, keepdim=keepdim))

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=False):
        return Tensor(xp.argmax(self.data, axis=_axis(axis, dim), keepdims=keepdims or keepdim))

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=False):
        return Tensor(xp.argmin(self.data, axis=_axis(axis, dim), keepdims=keepdims or keepdim))

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

    def unsqueeze(self, axis):
        axis = axis if axis >= 0 else axis + self.ndim + 1
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])

    def squeeze(self, axis=None):
        if axis is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        if self.shape[axis] != 1:
            return self
        axis = axis % self.ndim
        return self.reshape(self.shape[:axis] + self.shape[axis + 1:])

    def __getitem__(self, index):
        return ops.GetItem.apply(self, index=_plain_index(index))


def _axis(axis, dim, default=None):
    """Accept NumPy's ``axis`` or PyTorch's ``dim``."""
    if dim is not None:
        return tuple(dim) if isinstance(dim, list) else dim
    if axis is None:
        return default
    return tuple(axis) if isinstance(axis, list) else axis


def _plain_index(index):
    """Indices may hold tensors (as ``x[labels]``); ops see their arrays."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


def tensor(data, requires_grad=False, dtype=None):
    """Make a tensor from an array, a number or nested lists.

    Python floats become float32 (as in PyTorch); a NumPy array keeps its dtype, so a
    float64 array stays float64.

    >>> import glassnet as gn
    >>> gn.tensor([1.0, 2.0]).dtype
    dtype('float32')
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


from . import ops  # noqa: E402  (ops build on Function and Tensor above)
