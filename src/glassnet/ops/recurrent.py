"""The recurrences, each one layer in one direction over a whole sequence as one fused op:
``RNN`` (Elman), ``LSTM`` and ``GRU``, with PyTorch's gate order.

The input half of every gate, x_t W_ih^T, does not depend on the hidden state, so it is
computed for all steps at once, as one matrix product. The forward then loops over time
doing one product h W_hh^T for all gates per step and saves the gate activations; the
backward loops back through time (backpropagation through time) next to it, then gets the
weight gradients of all steps in one product each. Composing small ops instead would
build a graph of hundreds of nodes per sequence. The layers and cells of ``nn.rnn`` run
these ops (a cell is one step).

Beside each op stands its reference (``rnn_reference``, ``lstm_reference``,
``gru_reference``): the same recurrence as a plain loop over time of tensor ops, which
autograd differentiates. It is the version to read; ``with gn.reference_ops():`` runs it
in place of the op, and ``tests/test_references.py`` checks that the two agree.
"""
from .. import compiled
from ..backend import xp
from ..tensor import Function
from ..threads import in_blocks, on_pool, pool_blocks
from .matmul import _rows_product
from .movement import stack

# -- shared array helpers ------------------------------------------------------------------


def _sigmoid(a, out=None):
    """1 / (1 + e^-a). e^-a is capped at e^80 so that it cannot overflow float32: there
    the result is 1.8e-35 instead of something smaller, 0 for every purpose. Written into
    ``out`` in four in-place passes, where ``Tensor.sigmoid`` (the references') makes new
    arrays, so that a whole block of gates is activated without a temporary."""
    out = xp.negative(a, out=out)
    xp.minimum(out, 80.0, out=out)
    xp.exp(out, out=out)
    out += 1
    return xp.reciprocal(out, out=out)


def _split(gates, count):
    """The per-gate blocks (views) of gate columns laid out [gate 0 | gate 1 | ...]."""
    size = gates.shape[-1] // count
    return [gates[..., k * size:(k + 1) * size] for k in range(count)]


def _project_inputs(x, weight_ih, bias):
    """x_t W_ih^T + bias for every step t at once: (L, N, in) -> (L, N, gates * hidden).
    One (L * N)-row product keeps BLAS (or, from its size on, Linear's compiled product)
    busy, where L products of N rows each would not."""
    steps, batch, features = x.shape
    return _rows_product(x.reshape(-1, features), weight_ih, bias, of_weight=True).reshape(steps, batch, len(weight_ih))


def _over_rows(recur, largest, compiled_loop, job=None):
    """Run ``recur(rows)`` for blocks of the batch's rows, one block per thread. The rows
    of a batch never meet in a recurrence (each sequence has its own state), so each
    thread can run the whole loop over time for its own rows, its small per-step products
    on one core (the Python loop's BLAS is set to one thread meanwhile), which is faster
    than two cores on each small product in turn. ``largest`` is the largest (L, N, ...)
    array the loop writes: it sizes the blocks, so that short sequences and small batches
    stay whole. ``job`` (the kernel's name and its arrays and numbers) runs the compiled
    loop on the pool instead, where it runs and the arrays are C-ordered."""
    if compiled_loop and job is not None and pool_blocks(1) and compiled.fits_each(*job[1]):
        return on_pool("recurrent", job[0], largest.shape[1], largest.nbytes, job[1], numbers=job[2])
    in_blocks(lambda start, stop: recur(slice(start, stop)), largest.shape[1], largest[:, :1].nbytes,
              calls_blas=not compiled_loop)


def _in_reading_order(sequence, reverse):
    """The reverse direction reads the sequence from its end: flip time on the way in and
    on the way out, so that each loop below only ever runs forward."""
    return sequence[::-1] if reverse else sequence


def _affine(x, weight, bias):
    """x W^T + b, where every gate starts (the references' building block; b may be absent)."""
    return x @ weight.T if bias is None else x @ weight.T + bias


def _weight_grads(fn, first, x, h_prev, d_gates, input_to_hidden=None):
    """Gradients of x, W_ih, W_hh, b_ih and b_hh given the gradient of every step's gate
    pre-activations: each sums over all steps, so each is one product over (L * N) rows.

    ``first`` is the index of weight_ih among the op's inputs. ``d_gates`` is the gradient
    of both x W_ih^T + b_ih and h W_hh^T + b_hh (RNN and LSTM simply add the two), unless
    ``input_to_hidden`` is given: then it is x's part, which that function turns into h's
    part in place once x's gradients are taken (the GRU: they differ in its n gate only).
    """
    needs = fn.needs_input_grad
    rows = _as_rows(d_gates)
    grad_x = None
    if needs[0]:
        grad_x = _in_reading_order((rows @ fn.weight_ih).reshape(x.shape), fn.reverse)
    grad_weight_ih = rows.T @ _as_rows(x) if needs[first] else None
    grad_bias_ih = rows.sum(axis=0) if fn.has_bias else None
    if input_to_hidden is not None:
        input_to_hidden(d_gates)
    grads = [grad_weight_ih, rows.T @ _as_rows(h_prev) if needs[first + 1] else None]
    if fn.has_bias:
        grad_bias_hh = grad_bias_ih if input_to_hidden is None else rows.sum(axis=0)
        grads += [grad_bias_ih if needs[first + 2] else None, grad_bias_hh if needs[first + 3] else None]
    return grad_x, grads


def _steps_backward_compiled(fn, first, largest, kernel, arrays, own_hh_bias=False):
    """A recurrence's backward loop compiled (the kernel named ``kernel``, called with
    ``arrays``, then the block's rows, x, hs, W_ih, x's gradient and the block's sums),
    each block of rows on a thread of its own: the gradients of x and of the weights are
    taken step by step inside the loop, while each step's gate gradients are in cache,
    and no (L, N, gates) array of them is kept. Each block sums the weights' gradients
    over its rows (W_hh's, W_ih's transposed, b_ih's and, where ``own_hh_bias`` (the
    GRU), b_hh's); the blocks' sums are added in the order of their rows. ``first`` and
    ``largest`` as for :func:`_weight_grads` and :func:`_over_rows`. Returns the
    gradients of x and of the weights and biases, None for those not needed."""
    needs, weight_ih, x = fn.needs_input_grad, fn.weight_ih, fn.x
    grad_x = xp.empty(x.shape if needs[0] else x.shape[:2] + (0,), xp.float32)
    sums = {}

    def recur(rows):
        sums[rows.start] = (xp.zeros(fn.weight_hh.shape, xp.float32), xp.zeros(weight_ih.shape[::-1], xp.float32),
                            xp.zeros(len(weight_ih), xp.float32), xp.zeros(len(weight_ih) * own_hh_bias, xp.float32))
        getattr(compiled.load(), kernel)(*arrays, rows, x, fn.hs, weight_ih, grad_x, sums[rows.start])

    _over_rows(recur, largest, True)
    grad_hh, grad_ih_t, grad_bias_ih, grad_bias_hh = (sum(parts) for parts in zip(*(sums[start] for start in sorted(sums))))
    grads = [grad_ih_t.T.copy(), grad_hh] + ([grad_bias_ih, grad_bias_hh if own_hh_bias else grad_bias_ih] if fn.has_bias else [])
    return (_in_reading_order(grad_x, fn.reverse) if needs[0] else None,
            *(grad if need else None for grad, need in zip(grads, needs[first:])))


def _as_rows(steps):
    """(L, N, F) as (L * N, F): every step's rows one below the other (a view)."""
    return steps.reshape(-1, steps.shape[-1])


# -- the references and the ops --------------------------------------------------------------


def rnn_reference(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh", reverse=False):
    """The Elman recurrence as a loop of tensor ops: what :class:`RNN` computes.

    Shape: x (L, N, in), h0 (N, H), weight_ih (H, in), weight_hh (H, H), biases (H,)
    -> h_1 .. h_L (L, N, H), in the order of x.

    >>> import glassnet as gn
    >>> from glassnet.ops import rnn_reference
    >>> rnn_reference(gn.ones(5, 2, 3), gn.zeros(2, 4), gn.ones(4, 3), gn.ones(4, 4)).shape
    (5, 2, 4)
    """
    h, hs = h0, []
    for x_t in _in_reading_order(x.unbind(0), reverse):
        pre = _affine(x_t, weight_ih, bias_ih) + _affine(h, weight_hh, bias_hh)
        h = pre.tanh() if nonlinearity == "tanh" else pre.relu()
        hs.append(h)
    return stack(_in_reading_order(hs, reverse))


class RNN(Function):
    """The Elman recurrence over a sequence x of shape (L, N, in), from state h0 (N, H):

        h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)     (or relu)

    Returns h_1 .. h_L, shape (L, N, H), in the order of x (also when ``reverse``).
    Reference: ``rnn_reference`` above, the same maths as a loop of tensor ops.
    """

    def forward(self, x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh", reverse=False):
        # flipped once and made contiguous, so that every reshape of x below is a view
        x = xp.ascontiguousarray(_in_reading_order(x, reverse))
        both_biases = None if bias_ih is None else bias_ih + bias_hh  # always added together: merged once
        pre = _project_inputs(x, weight_ih, both_biases)  # then += h_{t-1} W_hh^T, step by step
        steps, batch, hidden = pre.shape
        # hs[t] is h_{t-1}, hs[0] = h0: one array, so that backward finds every h_{t-1} as hs[:-1]
        hs = xp.empty((steps + 1, batch, hidden), dtype=pre.dtype)
        hs[0] = h0
        compiled_loop = compiled.fits_each(pre, weight_hh)

        def recur(rows):
            if compiled_loop:  # this loop compiled, in one call (compiled.kernels says why)
                return compiled.load().rnn_steps(pre, weight_hh, hs, nonlinearity == "tanh", rows)
            for t in range(steps):
                pre[t, rows] += hs[t, rows] @ weight_hh.T
                hs[t + 1, rows] = xp.tanh(pre[t, rows]) if nonlinearity == "tanh" else xp.maximum(pre[t, rows], 0)

        _over_rows(recur, pre, compiled_loop)
        self.x, self.hs, self.weight_ih, self.weight_hh = x, hs, weight_ih, weight_hh
        self.nonlinearity, self.reverse, self.has_bias = nonlinearity, reverse, bias_ih is not None
        return _in_reading_order(hs[1:], reverse)

    def backward(self, grad):
        grad = _in_reading_order(grad, self.reverse)
        hs, tanh = self.hs, self.nonlinearity == "tanh"
        dh = xp.zeros_like(hs[0])  # the gradient reaching h_t from step t + 1, updated in place
        if grad.dtype == xp.float32 and compiled.fits_each(hs, self.x, self.weight_hh, self.weight_ih):
            grad_x, *weight_grads = _steps_backward_compiled(self, 2, hs[1:], "rnn_steps_backward",
                                                             (grad, self.weight_hh, dh, tanh))
            return (grad_x, dh, *weight_grads)
        d_pre = xp.empty((len(grad),) + hs.shape[1:], dtype=hs.dtype)

        def recur(rows):
            dh_rows = dh[rows]
            for t in reversed(range(len(grad))):
                dh_rows += grad[t, rows]
                h = hs[t + 1, rows]
                # the activation's derivative from its output: tanh' = 1 - h^2, relu' = [h > 0]
                d_pre[t, rows] = dh_rows * (1 - h * h) if tanh else dh_rows * (h > 0)
                xp.matmul(d_pre[t, rows], self.weight_hh, out=dh_rows)

        _over_rows(recur, d_pre, False)
        grad_x, weight_grads = _weight_grads(self, 2, self.x, hs[:-1], d_pre)
        return (grad_x, dh, *weight_grads)


RNN.reference = rnn_reference


def lstm_reference(x, h0, c0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, reverse=False):
    """The LSTM recurrence as a loop of tensor ops (gates i, f, g, o): what :class:`LSTM`
    computes.

    Shape: x (L, N, in), h0 and c0 (N, H), weight_ih (4H, in), weight_hh (4H, H), biases
    (4H,) -> (h_1 .. h_L (L, N, H) in the order of x, the last cell state c (N, H)).

    >>> import glassnet as gn
    >>> from glassnet.ops import lstm_reference
    >>> hs, c = lstm_reference(gn.ones(5, 2, 3), gn.zeros(2, 4), gn.zeros(2, 4), gn.ones(16, 3), gn.ones(16, 4))
    >>> hs.shape, c.shape
    ((5, 2, 4), (2, 4))
    """
    h, c, hs = h0, c0, []
    for x_t in _in_reading_order(x.unbind(0), reverse):
        gates = _affine(x_t, weight_ih, bias_ih) + _affine(h, weight_hh, bias_hh)
        i, f, g, o = gates.chunk(4, dim=-1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        c = f * c + i * g
        h = o * c.tanh()
        hs.append(h)
    return stack(_in_reading_order(hs, reverse)), c


def _lstm_cell(gates, recurrent, bias, c, c_next, tanh_c_next, h_next):
    """The element-wise part of one LSTM step, in arrays that exist already: ``gates``
    (N, 4H) holds x W_ih^T on entry, ``recurrent`` h W_hh^T and ``bias`` both biases
    (4H,); ``gates`` gets the activated i, f, g, o, and c' = f c + i g, tanh(c') and
    h' = o tanh(c') go to the three (N, H) arrays."""
    gates += recurrent
    gates += bias
    i, f, g, o = _split(gates, 4)
    # i, f, o are sigmoids and g is a tanh, which is 2 sigmoid(2a) - 1: so one sigmoid
    # over the whole block makes all four, in one pass over contiguous memory
    g *= 2
    _sigmoid(gates, out=gates)
    g *= 2
    g -= 1
    xp.multiply(f, c, out=c_next)
    c_next += i * g
    xp.tanh(c_next, out=tanh_c_next)
    xp.multiply(o, tanh_c_next, out=h_next)


def _lstm_cell_backward(gates, c, tanh_c, dh, dc, d_gates):
    """One step back through :func:`_lstm_cell`: the gradient of the gate pre-activations
    into ``d_gates`` (N, 4H), given dh reaching h_t and dc reaching c_t (the step's c is
    c_{t-1}); ``dc`` becomes the gradient reaching c_{t-1}, in place."""
    i, f, g, o = _split(gates, 4)
    di, df, dg, do = _split(d_gates, 4)
    # h = o tanh(c): to o, and to c (joining the gradient c received from step t + 1)
    xp.multiply(dh * tanh_c, o * (1 - o), out=do)
    dc += dh * o * (1 - tanh_c * tanh_c)
    # c = f c_prev + i g: to each gate through its activation, and on to c_prev
    xp.multiply(dc * g, i * (1 - i), out=di)
    xp.multiply(dc * c, f * (1 - f), out=df)
    xp.multiply(dc * i, 1 - g * g, out=dg)
    dc *= f


class LSTM(Function):
    """The long short-term memory recurrence over x (L, N, in), from states h0, c0 (N, H),
    with PyTorch's gate order i, f, g, o in the rows of the weights:

        i = sigmoid(x W_ii^T + b_ii + h W_hi^T + b_hi)     input gate
        f = sigmoid(x W_if^T + b_if + h W_hf^T + b_hf)     forget gate
        g =    tanh(x W_ig^T + b_ig + h W_hg^T + b_hg)     candidate cell
        o = sigmoid(x W_io^T + b_io + h W_ho^T + b_ho)     output gate
        c' = f * c + i * g
        h' = o * tanh(c')

    Two outputs: h_1 .. h_L in the order of x (L, N, H), and the final cell state (N, H).
    Reference: ``lstm_reference`` above, the same maths as a loop of tensor ops.
    """

    def forward(self, x, h0, c0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, reverse=False):
        x = xp.ascontiguousarray(_in_reading_order(x, reverse))  # as in RNN: reshapes are views
        both_biases = None if bias_ih is None else bias_ih + bias_hh  # always added together: merged once
        gates = _project_inputs(x, weight_ih, None)  # (L, N, 4H): x W_ih^T, then the activations
        bias = xp.zeros(gates.shape[-1], gates.dtype) if both_biases is None else both_biases.astype(gates.dtype)
        steps, batch, hidden = gates.shape[0], gates.shape[1], h0.shape[-1]
        hs = xp.empty((steps + 1, batch, hidden), dtype=gates.dtype)  # hs[t] is h_{t-1}
        cs = xp.empty_like(hs)  # cs[t] is c_{t-1}
        tanh_cs = xp.empty_like(hs[1:])  # tanh(c_t), which h_t and its gradient share
        hs[0], cs[0] = h0, c0
        cell = compiled.load().lstm_cell if compiled.fits(gates) else _lstm_cell  # the same maths
        compiled_loop = compiled.fits_each(gates, weight_hh)

        def recur(rows):
            if compiled_loop:  # this loop compiled, in one call (compiled.kernels says why)
                return compiled.load().lstm_steps(gates, weight_hh, bias, hs, cs, tanh_cs, rows)
            recurrent = xp.empty_like(gates[0, rows])  # h W_hh^T of one step
            for t in range(steps):
                xp.matmul(hs[t, rows], weight_hh.T, out=recurrent)
                cell(gates[t, rows], recurrent, bias, cs[t, rows], cs[t + 1, rows], tanh_cs[t, rows], hs[t + 1, rows])

        _over_rows(recur, gates, compiled_loop, ("LSTM_STEPS", (gates, weight_hh, bias, hs, cs, tanh_cs), (steps, hidden)))
        self.x, self.hs, self.cs, self.tanh_cs, self.gates = x, hs, cs, tanh_cs, gates
        self.weight_ih, self.weight_hh = weight_ih, weight_hh
        self.reverse, self.has_bias = reverse, bias_ih is not None
        return _in_reading_order(hs[1:], reverse), cs[-1]

    def backward(self, grad_output, grad_c):
        grad_hs = _in_reading_order(grad_output, self.reverse)
        # both updated in place, step after step
        dh, dc = xp.zeros(grad_c.shape, grad_c.dtype), xp.array(grad_c, order="C")
        if grad_hs.dtype == xp.float32 and compiled.fits_each(self.gates, self.weight_hh, self.weight_ih, self.x, dh, dc):
            grad_x, *weight_grads = _steps_backward_compiled(self, 3, self.gates, "lstm_steps_backward", (
                self.gates, self.cs, self.tanh_cs, grad_hs, self.weight_hh, dh, dc))
            return (grad_x, dh, dc, *weight_grads)
        d_gates = xp.empty_like(self.gates)  # gradient of the gates' pre-activations

        def recur(rows):
            dh_rows, dc_rows = dh[rows], dc[rows]  # views: the updates land in dh and dc
            for t in reversed(range(len(grad_hs))):
                dh_rows += grad_hs[t, rows]
                _lstm_cell_backward(self.gates[t, rows], self.cs[t, rows], self.tanh_cs[t, rows], dh_rows, dc_rows,
                                    d_gates[t, rows])
                xp.matmul(d_gates[t, rows], self.weight_hh, out=dh_rows)

        _over_rows(recur, d_gates, False)
        grad_x, weight_grads = _weight_grads(self, 3, self.x, self.hs[:-1], d_gates)
        return (grad_x, dh, dc, *weight_grads)


LSTM.reference = lstm_reference


def gru_reference(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, reverse=False):
    """The GRU recurrence as a loop of tensor ops (gates r, z, n): what :class:`GRU` computes.

    Shape: x (L, N, in), h0 (N, H), weight_ih (3H, in), weight_hh (3H, H), biases (3H,)
    -> h_1 .. h_L (L, N, H), in the order of x.

    >>> import glassnet as gn
    >>> from glassnet.ops import gru_reference
    >>> gru_reference(gn.ones(5, 2, 3), gn.zeros(2, 4), gn.ones(12, 3), gn.ones(12, 4)).shape
    (5, 2, 4)
    """
    h, hs = h0, []
    for x_t in _in_reading_order(x.unbind(0), reverse):
        x_r, x_z, x_n = _affine(x_t, weight_ih, bias_ih).chunk(3, dim=-1)
        h_r, h_z, h_n = _affine(h, weight_hh, bias_hh).chunk(3, dim=-1)
        r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
        n = (x_n + r * h_n).tanh()
        h = (1 - z) * n + z * h
        hs.append(h)
    return stack(_in_reading_order(hs, reverse))


def _gru_cell(gates, h_gates, bias, h, h_next, h_candidate):
    """The element-wise part of one GRU step: from x W_ih^T + b_ih (in ``gates``) and
    h W_hh^T (``h_gates``), both (N, 3H), b_hh (``bias``) and h, the activated r, z, n
    written over x's part in ``gates``, h' into ``h_next`` and h W_hn^T + b_hn (which r
    multiplies, and the backward needs) into ``h_candidate``. ``h_gates`` is the caller's
    scratch: the bias is added into it."""
    hidden = h.shape[-1]
    r, z, n = _split(gates, 3)
    h_gates += bias
    h_n = h_gates[:, 2 * hidden:]
    _sigmoid(gates[:, :2 * hidden] + h_gates[:, :2 * hidden], out=gates[:, :2 * hidden])  # r and z in one pass
    xp.tanh(n + r * h_n, out=n)
    xp.add(n, z * (h - n), out=h_next)  # (1 - z) n + z h, with one product fewer
    h_candidate[...] = h_n


def _gru_cell_backward(gates, h_prev, h_candidate, dh, d_x_gates, d_h_gates):
    """One step back through :func:`_gru_cell`, given dh reaching h_t: the gradients of the
    two gate pre-activations into ``d_x_gates`` and ``d_h_gates``, and ``dh`` becomes the
    part of dh_{t-1} that goes straight through (z dh); the part through W_hh is added
    by the caller."""
    r, z, n = _split(gates, 3)
    dx_r, dx_z, dx_n = _split(d_x_gates, 3)
    dh_r, dh_z, dh_n = _split(d_h_gates, 3)
    # h' = n + z (h - n): to n, to z, and straight on to h
    d_n = dh * (1 - z) * (1 - n * n)
    dx_z[...] = dh * (h_prev - n) * z * (1 - z)
    # n = tanh(x_n + r * h_n): to x_n, to h_n through r, and to r
    dx_n[...] = d_n
    dh_n[...] = d_n * r
    dx_r[...] = d_n * h_candidate * r * (1 - r)
    # x and h enter r and z as a plain sum, so both parts get the same gradient there
    dh_r[...] = dx_r
    dh_z[...] = dx_z
    dh *= z


class GRU(Function):
    """The gated recurrent unit over x (L, N, in), from state h0 (N, H), with PyTorch's gate
    order r, z, n in the rows of the weights:

        r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)     reset gate
        z = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz)     update gate
        n =    tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))   candidate state
        h' = (1 - z) * n + z * h

    b_hn sits inside the reset gate's product, so here the two biases do not merge.
    Returns h_1 .. h_L, shape (L, N, H), in the order of x.
    Reference: ``gru_reference`` above, the same maths as a loop of tensor ops.
    """

    def forward(self, x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, reverse=False):
        x = xp.ascontiguousarray(_in_reading_order(x, reverse))  # as in RNN: reshapes are views
        gates = _project_inputs(x, weight_ih, bias_ih)  # (L, N, 3H): x W_ih^T + b_ih, then r, z, n
        steps, batch, hidden = gates.shape[0], gates.shape[1], h0.shape[-1]
        hs = xp.empty((steps + 1, batch, hidden), dtype=gates.dtype)  # hs[t] is h_{t-1}
        h_candidates = xp.empty_like(hs[1:])  # h W_hn^T + b_hn, which r multiplies
        hs[0] = h0
        bias = xp.zeros(gates.shape[-1], gates.dtype) if bias_hh is None else bias_hh.astype(gates.dtype)
        cell = compiled.load().gru_cell if compiled.fits(gates) else _gru_cell  # the same maths
        compiled_loop = compiled.fits_each(gates, weight_hh)

        def recur(rows):
            if compiled_loop:  # this loop compiled, in one call
                return compiled.load().gru_steps(gates, weight_hh, bias, hs, h_candidates, rows)
            h_gates = xp.empty_like(gates[0, rows])  # h W_hh^T of one step
            for t in range(steps):
                xp.matmul(hs[t, rows], weight_hh.T, out=h_gates)
                cell(gates[t, rows], h_gates, bias, hs[t, rows], hs[t + 1, rows], h_candidates[t, rows])

        _over_rows(recur, gates, compiled_loop)
        self.x, self.hs, self.gates, self.h_candidates = x, hs, gates, h_candidates
        self.weight_ih, self.weight_hh = weight_ih, weight_hh
        self.reverse, self.has_bias = reverse, bias_ih is not None
        return _in_reading_order(hs[1:], reverse)

    def backward(self, grad):
        grad = _in_reading_order(grad, self.reverse)
        dh = xp.zeros(self.hs.shape[1:], self.hs.dtype)  # the gradient reaching h_t, updated in place
        if grad.dtype == xp.float32 and compiled.fits_each(self.gates, self.hs, self.h_candidates, self.x, self.weight_hh,
                                                          self.weight_ih):
            grad_x, *weight_grads = _steps_backward_compiled(self, 2, self.gates, "gru_steps_backward", (
                self.gates, self.h_candidates, grad, self.weight_hh, dh), own_hh_bias=True)
            return (grad_x, dh, *weight_grads)
        d_x_gates = xp.empty_like(self.gates)  # gradient of x W_ih^T + b_ih, per gate

        def recur(rows):
            dh_rows, through_weights = dh[rows], xp.empty_like(dh[rows])
            d_h_gates = xp.empty_like(d_x_gates[0, rows])  # one step's: see below
            for t in reversed(range(len(grad))):
                dh_rows += grad[t, rows]
                _gru_cell_backward(self.gates[t, rows], self.hs[t, rows], self.h_candidates[t, rows], dh_rows,
                                   d_x_gates[t, rows], d_h_gates)
                dh_rows += xp.matmul(d_h_gates, self.weight_hh, out=through_weights)

        _over_rows(recur, d_x_gates, False)
        # The gradient of h W_hh^T + b_hh is x W_ih^T + b_ih's in r and z, and r times it in
        # n: kept for every step it would be a second (L, N, 3H) array, so x's is turned
        # into it in place, once x's gradients are taken.
        hidden = dh.shape[-1]

        def input_to_hidden(d_gates):
            d_gates[..., 2 * hidden:] *= self.gates[..., :hidden]

        grad_x, weight_grads = _weight_grads(self, 2, self.x, self.hs[:-1], d_x_gates, input_to_hidden)
        return (grad_x, dh, *weight_grads)


GRU.reference = gru_reference
