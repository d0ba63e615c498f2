"""Matrix products: ``MatMul`` with NumPy's rules, and ``Linear`` (x W^T + b) fused into
one op, the product of every fully connected layer.
"""
from .. import compiled
from ..backend import xp
from ..tensor import Function, unbroadcast
from ..threads import CHEAP, in_blocks, on_pool, pool_blocks


class MatMul(Function):
    """Matrix product with NumPy's rules: 1-D operands are promoted to a row/column and
    the added axis removed again; leading (batch) axes broadcast."""

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul: both operands need at least one dimension; use * for scalars")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} do not fit: the last dimension of the first "
                f"({a.shape[-1]}) must equal the {'second-to-last' if b.ndim > 1 else 'only'} dimension "
                f"of the second ({b.shape[-2 if b.ndim > 1 else 0]})"
            )
        try:
            xp.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(f"matmul: the batch dimensions of shapes {a.shape} and {b.shape} cannot be broadcast together") from None
        self.a, self.b = a, b
        return a @ b

    def backward(self, grad):
        a, b = self.a, self.b
        a2 = a[None, :] if a.ndim == 1 else a  # (1, k)
        b2 = b[:, None] if b.ndim == 1 else b  # (k, 1)
        if b.ndim == 1:  # first, so that a 1-D @ 1-D scalar grows (1,) then (1, 1)
            grad = xp.expand_dims(grad, -1)
        if a.ndim == 1:
            grad = xp.expand_dims(grad, -2)
        a_needs, b_needs = self.needs_input_grad
        grad_a = unbroadcast(grad @ xp.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape) if a_needs else None
        grad_b = unbroadcast(xp.swapaxes(a2, -1, -2) @ grad, b2.shape).reshape(b.shape) if b_needs else None
        return grad_a, grad_b


def linear_reference(x, weight, bias=None):
    """x W^T + b from two tensor ops (MatMul, Add): what :class:`Linear` computes.

    Shape: x (*, in_features), weight (out_features, in_features), bias (out_features,)
    -> (*, out_features).

    >>> import glassnet as gn
    >>> from glassnet.ops import linear_reference
    >>> linear_reference(gn.ones(2, 3), gn.ones(4, 3), gn.ones(4)).tolist()
    [[4.0, 4.0, 4.0, 4.0], [4.0, 4.0, 4.0, 4.0]]
    """
    return x @ weight.T if bias is None else x @ weight.T + bias


class Linear(Function):
    """y = x W^T + b, for x of shape (*, in_features) and W of shape (out, in).

    Leading axes are flattened into rows first: one 2-D matrix product reaches BLAS,
    where NumPy's stacked 3-D @ 2-D product can miss it and run many times slower; from
    a gpt's sizes on, glassnet's compiled product takes it instead (``_rows_product``).
    Reference: ``linear_reference`` above, the same maths from tensor ops.
    """

    def forward(self, x, weight, bias):
        if x.shape[-1] != weight.shape[1]:
            raise ValueError(
                f"linear: input of shape {x.shape} has {x.shape[-1]} features in its last dimension, "
                f"but the weight {weight.shape} expects {weight.shape[1]}"
            )
        self.x_rows, self.x_shape = x.reshape(-1, x.shape[-1]), x.shape
        self.weight = weight
        return _rows_product(self.x_rows, weight, bias, of_weight=True).reshape(x.shape[:-1] + (weight.shape[0],))

    def backward(self, grad):
        x_needs, w_needs, b_needs = self.needs_input_grad  # b_needs is False when bias is None
        grad_rows = grad.reshape(-1, grad.shape[-1])
        grad_x = _rows_product(grad_rows, self.weight).reshape(self.x_shape) if x_needs else None
        grad_w = grad_rows.T @ self.x_rows if w_needs else None
        grad_b = grad_rows.sum(axis=0) if b_needs else None
        return grad_x, grad_w, grad_b


Linear.reference = linear_reference


# Where Linear's products run compiled (bench/RESULTS.md, issue 11): a gpt's (4096 rows,
# 128 -> 128 and wider) gain, the bias in the sums and no OpenBLAS thread waking or
# spinning beside glassnet's own; so do the recurrent layers' input projections (3584
# rows, 28 -> 512), whose spinning OpenBLAS threads delayed the loops over time after them;
# a vit's (2176 rows, 64 features, fewer multiply-adds) lose. So do few rows against a wide
# weight, whose panels each thread copies (128 rows, 2048 -> 2048: twice OpenBLAS's time),
# and a weight past a core's cache (768 x 768)
COMPILED_MIN_WORK, COMPILED_MIN_ROWS, COMPILED_MAX_WEIGHT = 1 << 25, 1024, 1 << 16  # multiply-adds, rows, floats
# On the pool's helpers the hand-over costs microseconds, not the executor's wake-up, so
# the compiled product takes the vit's products too: on one core it beats OpenBLAS by
# 10-25% from 1088 rows of 64 or 128 features (bench/RESULTS.md, issue 11, eighth session)
POOL_MIN_WORK = 1 << 21
# Fewer rows, or a larger weight: a Linear layer's forward split by the output's columns
# instead, each helper copying only its own part of the weight transposed: 0.63-0.95 of
# OpenBLAS's time from 32 to 4096 rows, 0.2 to 4096 million multiply-adds (an mlp's
# 128 x 784 -> 128: 130 us against 175), but where a block would have fewer than 32
# columns of the 64 its sums hold (bench/RESULTS.md, issue 11, ninth session)
COLUMNS_MIN_WORK, COLUMNS_MIN_WIDTH = 1 << 18, 32


def _rows_product(a, b, bias=None, of_weight=False):
    """a @ b, or a @ b^T + bias where b is a Linear layer's weight (N, K) (``of_weight``):
    by the compiled kernels (linear_rows, multiply_rows) on all threads (the pool's
    helpers where they run; ``fits`` first, which loads the kernels and starts them),
    where the product is large enough and they take the arrays: in blocks of a's rows
    where there are many rows and the weight is small enough (the constants above), else
    a layer's forward in blocks of the output's columns; otherwise NumPy's product
    (OpenBLAS) and the bias in a pass of its own."""
    width = len(b) if of_weight else b.shape[1]
    work = a.size * width
    if (work >= min(POOL_MIN_WORK, COMPILED_MIN_WORK, COLUMNS_MIN_WORK) and compiled.fits_each(a, b)
            and (bias is None or compiled.fits(bias))):
        many_rows = len(a) >= COMPILED_MIN_ROWS and b.size <= COMPILED_MAX_WEIGHT
        blocks = pool_blocks(work)
        if many_rows and work >= POOL_MIN_WORK and blocks > 1:  # jobs of rows on the pool's helpers
            which = ("LINEAR" if bias is None else "LINEAR_BIAS") if of_weight else "PRODUCT"
            out = xp.empty((len(a), width), xp.float32)
            on_pool("rows", which, len(a), work, [a, b, bias, out] if of_weight else [a, b, out], numbers=(a.shape[1], width))
            return out
        if of_weight and not many_rows and work >= COLUMNS_MIN_WORK and blocks > 1 and width >= COLUMNS_MIN_WIDTH * blocks:
            out = xp.empty((len(a), width), xp.float32)
            on_pool("rows", "LINEAR_COLUMNS", width, work, [a, b, bias, out], numbers=(a.shape[1], len(a)),
                    floats=(float(bias is not None), 0.0))
            return out
        if many_rows and work >= COMPILED_MIN_WORK:  # in blocks of rows on the executor's threads
            kernels, out = compiled.load(), xp.empty((len(a), width), xp.float32)
            kernel = kernels.linear_rows if of_weight else (lambda rows, right, _, out: kernels.multiply_rows(rows, right, out, False))
            in_blocks(lambda start, stop: kernel(a[start:stop], b, bias, out[start:stop]), len(out), b.size)
            return out
    out = a @ (b.T if of_weight else b)
    if bias is not None:
        _add_to_rows(out, bias)
    return out


def _add_to_rows(out, bias):
    """out += bias, in place (no second array the size of the output); compiled where it
    fits, in blocks of rows on all threads. Below 64K values NumPy's add takes less time
    than the checks before a kernel (bench/RESULTS.md, issue 11)."""
    if out.size < 1 << 16 or not (compiled.fits(out) and compiled.fits(bias)):
        out += bias
        return
    if pool_blocks(out.nbytes * CHEAP) > 1:  # in blocks of rows on the pool's helpers
        return on_pool("rows", "ADD_TO_ROWS", len(out), out.nbytes * CHEAP, [out, bias], numbers=(out.shape[1], 0))
    kernel = compiled.load().add_to_rows
    in_blocks(lambda start, stop: kernel(out[start:stop], bias), len(out), out[:1].nbytes * CHEAP)


class Einsum(Function):
    """NumPy's ``einsum`` over any operands. The gradient of each operand is an einsum too:
    the output's gradient contracted with the other operands, back to the operand's
    subscripts; letters only that operand had (summed away) are broadcast back, and a
    repeated letter (a diagonal, as in ``"ii->i"``) is written back onto the diagonal."""

    def forward(self, *arrays, equation):
        self.subscripts, self.output = _parse_einsum(equation, [a.shape for a in arrays])
        self.arrays = arrays
        # optimize: contractions go through BLAS (tensordot) and in a good order, not C loops
        return xp.asarray(xp.einsum(",".join(self.subscripts) + "->" + self.output, *arrays, optimize=True))

    def backward(self, grad):
        grads = []
        for i, (letters, array) in enumerate(zip(self.subscripts, self.arrays)):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [j for j in range(len(self.arrays)) if j != i]
            known = set(self.output).union(*(self.subscripts[j] for j in others))
            unique = "".join(dict.fromkeys(letters))  # each letter once, in order
            target = "".join(c for c in unique if c in known)
            terms = ",".join([self.output] + [self.subscripts[j] for j in others])
            g = xp.einsum(f"{terms}->{target}", grad, *(self.arrays[j] for j in others), optimize=True)
            # letters summed away by this operand alone: the same gradient all along them
            size = dict(zip(letters, array.shape))
            g = g.reshape([g.shape[target.index(c)] if c in known else 1 for c in unique])
            g = xp.broadcast_to(g, [max(n, size[c]) for n, c in zip(g.shape, unique)])
            # a letter of size 1 here, broadcast against a longer one elsewhere: sum it back
            shrink = tuple(k for k, c in enumerate(unique) if size[c] == 1 and g.shape[k] != 1)
            g = g.sum(axis=shrink, keepdims=True) if shrink else g
            if len(unique) < len(letters):  # a repeated letter: the gradient goes on the diagonal
                full = xp.zeros(array.shape, g.dtype)
                xp.einsum(f"{letters}->{unique}", full)[...] = g
                g = full
            grads.append(xp.ascontiguousarray(g))
        return tuple(grads)


def _parse_einsum(equation, shapes):
    """The subscripts of each operand and of the output, with every ``...`` spelled out as
    letters of its own and an implicit output (no ``->``) made explicit, NumPy's rule."""
    equation = equation.replace(" ", "")
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: the equation {equation!r} has {len(terms)} operands, but {len(shapes)} were given")
    spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in equation]
    ellipsis_ndim = max((len(s) - len(t.replace("...", "")) for t, s in zip(terms, shapes) if "..." in t), default=0)
    broadcast = "".join(spare[:ellipsis_ndim])
    subscripts = []
    for term, shape in zip(terms, shapes):
        if "..." in term:
            term = term.replace("...", broadcast[ellipsis_ndim - (len(shape) - len(term.replace("...", ""))):])
        if len(term) != len(shape):
            raise ValueError(f"einsum: subscripts {term!r} do not fit an operand of shape {shape}")
        subscripts.append(term)
    if arrow:
        output = output.replace("...", broadcast)
    else:
        counts = "".join(terms).replace("...", "")
        output = broadcast + "".join(sorted(c for c in set(counts) if counts.count(c) == 1))
    return subscripts, output
