"""Ops that move elements without computing new ones: reshape, transpose, indexing and
concatenation. Each backward puts the gradient back where its element came from.
"""
from ..backend import empty_in_order, memory_order, stacked_in_place, xp
from ..tensor import Function, Tensor, unbroadcast

# -- shape and indexing --------------------------------------------------------------------


class Reshape(Function):
    def forward(self, x, shape):
        self.shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) into {shape}") from None

    def backward(self, grad):
        return grad.reshape(self.shape)


class Transpose(Function):
    def forward(self, x, axes):
        if sorted(a % x.ndim for a in axes) != list(range(x.ndim)):
            raise ValueError(f"transpose: {axes} is not a permutation of the {x.ndim} axes of shape {x.shape}")
        self.axes = tuple(a % x.ndim for a in axes)  # argsort in backward needs them non-negative
        return x.transpose(self.axes)

    def backward(self, grad):
        return grad.transpose(xp.argsort(self.axes))


class GetItem(Function):
    """Indexing and slicing; the gradient lands back in the selected positions."""

    def forward(self, x, index):
        self.shape, self.dtype, self.index = x.shape, x.dtype, index
        return x[index]

    def backward(self, grad):
        full = xp.zeros(self.shape, dtype=grad.dtype)
        index = self.index if isinstance(self.index, tuple) else (self.index,)
        if any(isinstance(i, (xp.ndarray, list)) for i in index):
            xp.add.at(full, self.index, grad)  # fancy indices may repeat: accumulate
        else:
            full[self.index] = grad
        return full


class SetItem(Function):
    """``x[index] = value`` as a new array (``Tensor.__setitem__`` then writes it in place):
    the overwritten positions pass no gradient to ``x``; ``value`` gets theirs."""

    def forward(self, x, value, index):
        self.index, self.value_shape = index, value.shape
        out = x.copy()
        out[index] = value
        return out

    def backward(self, grad):
        grad_x = None
        if self.needs_input_grad[0]:
            grad_x = grad.copy()
            grad_x[self.index] = 0
        grad_value = unbroadcast(grad[self.index], self.value_shape) if self.needs_input_grad[1] else None
        return grad_x, grad_value


class Clone(Function):
    """A copy in fresh memory; the gradient passes through unchanged."""

    def forward(self, x):
        return x.copy()

    def backward(self, grad):
        return grad


class Expand(Function):
    """A broadcast view (PyTorch's ``expand``): size-1 axes repeated without copying, new
    axes in front. Each element was used once per copy, so backward sums over the copies."""

    def forward(self, x, shape):
        self.shape = x.shape
        try:
            return xp.broadcast_to(x, shape)  # read-only, as writing would change every copy at once
        except ValueError:
            raise RuntimeError(
                f"expand: cannot expand shape {x.shape} to {shape}; only axes of size 1 can grow "
                "(help: use repeat to copy axes of other sizes)"
            ) from None

    def backward(self, grad):
        return unbroadcast(grad, self.shape)


class Repeat(Function):
    """The tensor tiled ``repeats[i]`` times along axis i (PyTorch's ``repeat``, NumPy's
    ``tile``); extra leading repeats add axes. Backward sums the gradient of every tile."""

    def forward(self, x, repeats):
        if len(repeats) < x.ndim:
            raise RuntimeError(
                f"repeat: the number of repeats ({len(repeats)}) can't be smaller than the number of "
                f"dimensions of the tensor ({x.ndim})"
            )
        self.shape = x.shape
        self.padded = (1,) * (len(repeats) - x.ndim) + x.shape
        self.repeats = repeats
        return xp.tile(x.reshape(self.padded), repeats)

    def backward(self, grad):
        # axis i of the output is (repeat, size): split it so, and sum over the repeats
        split = tuple(n for r, s in zip(self.repeats, self.padded) for n in (r, s))
        return grad.reshape(split).sum(axis=tuple(range(0, len(split), 2))).reshape(self.shape)


class Contiguous(Function):
    """A copy laid out in C order (after a transpose, say); the gradient passes through."""

    def forward(self, x):
        return xp.ascontiguousarray(x)

    def backward(self, grad):
        return grad


class Concatenate(Function):
    def forward(self, *arrays, axis=0):
        shapes = [a.shape for a in arrays]
        if len({a.ndim for a in arrays}) != 1 or len({s[:axis % len(s)] + s[axis % len(s) + 1:] for s in shapes}) != 1:
            raise ValueError(f"concatenate: shapes {shapes} differ outside axis {axis}")
        self.axis = axis
        self.splits = xp.cumsum([a.shape[axis] for a in arrays])[:-1]
        return xp.concatenate(arrays, axis=axis)

    def backward(self, grad):
        return tuple(xp.split(grad, self.splits, axis=self.axis))


class Split(Function):
    """Consecutive pieces of ``sizes`` elements along ``axis`` (views); backward joins the
    pieces' gradients (zeros for pieces nothing used) back together."""

    def forward(self, x, sizes, axis=0):
        if sum(sizes) != x.shape[axis] or any(n < 0 for n in sizes):
            raise RuntimeError(
                f"split: sizes {list(sizes)} must be non-negative and sum to {x.shape[axis]}, "
                f"the size of dimension {axis} of shape {x.shape}"
            )
        self.axis = axis
        return tuple(xp.split(x, xp.cumsum(sizes)[:-1], axis=axis))

    def backward(self, *grads):
        return xp.concatenate(grads, axis=self.axis)


class Unbind(Function):
    """Every slice along ``axis``, that axis removed (views); backward stacks their gradients
    into an array laid out as x (the q, k, v of one projection go back into its rows)."""

    def forward(self, x, axis=0):
        self.axis, self.order = axis % x.ndim, memory_order(x)
        lead = (slice(None),) * self.axis
        return tuple(x[lead + (i,)] for i in range(x.shape[axis]))

    def backward(self, *grads):
        in_place = stacked_in_place(grads, self.axis)  # they may lie stacked already (an attention's)
        if in_place is not None:
            return in_place
        stacked = empty_in_order(grads[0].shape[:self.axis] + (len(grads),) + grads[0].shape[self.axis:], self.order,
                                 xp.result_type(*grads))
        return xp.stack(grads, axis=self.axis, out=stacked)


class Gather(Function):
    """PyTorch's ``gather``: ``out[i][j] = x[i][index[i][j]]`` along ``axis`` (for axis 1).
    ``index`` has ``x``'s number of dims, and no larger size than x's in the others.
    Backward adds each gradient into the position it came from (indices may repeat)."""

    def forward(self, x, index, axis):
        if index.dtype.kind not in "iu":
            raise TypeError(f"gather: the index must be an integer tensor, got dtype {index.dtype}")
        if index.ndim != x.ndim or any(i > n for d, (i, n) in enumerate(zip(index.shape, x.shape)) if d != axis % max(x.ndim, 1)):
            raise RuntimeError(
                f"gather: index of shape {index.shape} does not fit input of shape {x.shape} along dim {axis}: "
                "it needs as many dims, and no larger size in the other dims"
            )
        if index.size and (index.min() < 0 or index.max() >= x.shape[axis]):
            raise IndexError(f"gather: index out of range for dimension {axis} of size {x.shape[axis]}")
        self.shape = x.shape
        self.positions = list(xp.ix_(*(xp.arange(n) for n in index.shape))) if index.ndim else []
        self.positions[axis] = index
        self.positions = tuple(self.positions)
        return x[self.positions]

    def backward(self, grad):
        full = xp.zeros(self.shape, grad.dtype)
        xp.add.at(full, self.positions, grad)
        return full


# -- functions over several tensors --------------------------------------------------------


def concatenate(tensors, axis=0, *, dim=None):
    """Join tensors along an existing axis (``torch.cat``)."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    return Concatenate.apply(*tensors, axis=axis if dim is None else dim)


def stack(tensors, axis=0, *, dim=None):
    """Join tensors along a new axis: each gains an axis of size 1, then they are concatenated."""
    axis = axis if dim is None else dim
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    return concatenate([t.unsqueeze(axis) for t in tensors], axis=axis)
