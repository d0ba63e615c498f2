"""Matrix products: ``MatMul`` with NumPy's rules, and ``Linear`` (x W^T + b) fused into
one op, the product of every fully connected layer.
"""
from ..backend import xp
from ..tensor import Function, unbroadcast


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


class Linear(Function):
    """y = x W^T + b, for x of shape (*, in_features) and W of shape (out, in).

    Leading axes are flattened into rows first: one 2-D matrix product reaches BLAS,
    where NumPy's stacked 3-D @ 2-D product can miss it and run many times slower.
    """

    def forward(self, x, weight, bias=None):
        if x.shape[-1] != weight.shape[1]:
            raise ValueError(
                f"linear: input of shape {x.shape} has {x.shape[-1]} features in its last dimension, "
                f"but the weight {weight.shape} expects {weight.shape[1]}"
            )
        self.x_rows, self.x_shape = x.reshape(-1, x.shape[-1]), x.shape
        self.weight, self.has_bias = weight, bias is not None
        out = self.x_rows @ weight.T
        if bias is not None:
            out += bias
        return out.reshape(x.shape[:-1] + (weight.shape[0],))

    def backward(self, grad):
        x_needs, w_needs = self.needs_input_grad[:2]
        grad_rows = grad.reshape(-1, grad.shape[-1])
        grad_x = (grad_rows @ self.weight).reshape(self.x_shape) if x_needs else None
        grad_w = grad_rows.T @ self.x_rows if w_needs else None
        if not self.has_bias:
            return grad_x, grad_w
        grad_b = grad_rows.sum(axis=0) if self.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b
