"""Recurrent layers: one set of weights applied at every step of a sequence, carrying a
hidden state from each step to the next.

``RNN``, ``LSTM`` and ``GRU`` take PyTorch's arguments and have its parameter names,
shapes, gate order and initialization, so PyTorch weights load as plain arrays and give
the same results. ``RNNCell``, ``LSTMCell`` and ``GRUCell`` compute a single step.

Speed comes from two things. The input half of every gate, x_t W_ih^T, does not depend
on the hidden state, so it is computed for all steps at once, as one matrix product.
And each layer (one direction) runs the whole sequence as one fused op, ``RNNLayer``,
``LSTMLayer`` or ``GRULayer``: its forward loops over time doing one product
h W_hh^T for all gates per step and saves the gate activations; its backward loops back
through time (backpropagation through time) next to it, then gets the weight gradients of
all steps in one product each. Composing small ops instead would build a graph of
hundreds of nodes per sequence. ``tests/test_rnn.py`` checks each against finite
differences and against PyTorch.
"""
import math
import numbers
import warnings

from ..backend import xp
from ..ops import concatenate, stack
from ..tensor import Function, Tensor
from . import checks
from . import functional as F
from . import init
from .module import Module, Parameter

# -- the fused recurrences: one layer, one direction, a whole sequence -------------------------


def _sigmoid(a, out=None):
    """1 / (1 + e^-a). e^-a is capped at e^80 so that it cannot overflow float32: there
    the result is 1.8e-35 instead of something smaller, 0 for every purpose."""
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
    """x_t W_ih^T + bias for every step t at once: (L, N, in) -> (L, N, gates * hidden)."""
    steps, batch, features = x.shape
    projected = (x.reshape(steps * batch, features) @ weight_ih.T).reshape(steps, batch, -1)
    if bias is not None:
        projected += bias
    return projected


def _in_reading_order(sequence, reverse):
    """The reverse direction reads the sequence from its end: flip time on the way in and
    on the way out, so that each loop below only ever runs forward."""
    return sequence[::-1] if reverse else sequence


def _weight_grads(fn, first, x, h_prev, d_input_gates, d_hidden_gates):
    """Gradients of x, W_ih, W_hh, b_ih and b_hh given the gradient of every step's gate
    pre-activations: each sums over all steps, so each is one product over (L * N) rows.

    ``first`` is the index of weight_ih among the op's inputs; ``d_input_gates`` is the
    gradient of the x W_ih^T + b_ih part, ``d_hidden_gates`` that of the h W_hh^T + b_hh
    part (the same array for RNN and LSTM, where the two are simply added).
    """
    needs = fn.needs_input_grad
    rows_x = d_input_gates.reshape(-1, d_input_gates.shape[-1])
    rows_h = d_hidden_gates.reshape(-1, d_hidden_gates.shape[-1])
    grad_x = None
    if needs[0]:
        grad_x = _in_reading_order((rows_x @ fn.weight_ih).reshape(x.shape), fn.reverse)
    grads = [
        rows_x.T @ x.reshape(-1, x.shape[-1]) if needs[first] else None,
        rows_h.T @ h_prev.reshape(-1, h_prev.shape[-1]) if needs[first + 1] else None,
    ]
    if fn.has_bias:
        grad_bias_ih = rows_x.sum(axis=0)
        grad_bias_hh = grad_bias_ih if d_hidden_gates is d_input_gates else rows_h.sum(axis=0)
        grads += [grad_bias_ih if needs[first + 2] else None, grad_bias_hh if needs[first + 3] else None]
    return grad_x, grads


class RNNLayer(Function):
    """The Elman recurrence over a sequence x of shape (L, N, in), from state h0 (N, H):

        h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)     (or relu)

    Returns h_1 .. h_L, shape (L, N, H), in the order of x (also when ``reverse``).
    """

    def forward(self, x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh", reverse=False):
        x = xp.ascontiguousarray(_in_reading_order(x, reverse))
        both_biases = None if bias_ih is None else bias_ih + bias_hh
        pre = _project_inputs(x, weight_ih, both_biases)  # then += h_{t-1} W_hh^T, step by step
        steps, batch, hidden = pre.shape
        hs = xp.empty((steps + 1, batch, hidden), dtype=pre.dtype)  # hs[t] is h_{t-1}: hs[0] = h0
        hs[0] = h0
        for t in range(steps):
            pre[t] += hs[t] @ weight_hh.T
            hs[t + 1] = xp.tanh(pre[t]) if nonlinearity == "tanh" else xp.maximum(pre[t], 0)
        self.x, self.hs, self.weight_ih, self.weight_hh = x, hs, weight_ih, weight_hh
        self.nonlinearity, self.reverse, self.has_bias = nonlinearity, reverse, bias_ih is not None
        return _in_reading_order(hs[1:], reverse)

    def backward(self, grad):
        grad = _in_reading_order(grad, self.reverse)
        hs = self.hs
        d_pre = xp.empty((len(grad),) + hs.shape[1:], dtype=hs.dtype)
        dh = xp.zeros_like(hs[0])  # the gradient reaching h_t from step t + 1
        for t in reversed(range(len(grad))):
            dh = dh + grad[t]
            h = hs[t + 1]
            d_pre[t] = dh * (1 - h * h) if self.nonlinearity == "tanh" else dh * (h > 0)
            dh = d_pre[t] @ self.weight_hh
        grad_x, weight_grads = _weight_grads(self, 2, self.x, hs[:-1], d_pre, d_pre)
        return (grad_x, dh, *weight_grads)


class LSTMLayer(Function):
    """The long short-term memory recurrence over x (L, N, in), from states h0, c0 (N, H),
    with PyTorch's gate order i, f, g, o in the rows of the weights:

        i = sigmoid(x W_ii^T + b_ii + h W_hi^T + b_hi)     input gate
        f = sigmoid(x W_if^T + b_if + h W_hf^T + b_hf)     forget gate
        g =    tanh(x W_ig^T + b_ig + h W_hg^T + b_hg)     candidate cell
        o = sigmoid(x W_io^T + b_io + h W_ho^T + b_ho)     output gate
        c' = f * c + i * g
        h' = o * tanh(c')

    Returns h_1 .. h_L in the order of x and then, as one more row, the final cell state:
    shape (L + 1, N, H), because an op has a single output.
    """

    def forward(self, x, h0, c0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, reverse=False):
        x = xp.ascontiguousarray(_in_reading_order(x, reverse))
        both_biases = None if bias_ih is None else bias_ih + bias_hh
        gates = _project_inputs(x, weight_ih, both_biases)  # (L, N, 4H): pre-activations, then activations
        steps, batch, hidden = gates.shape[0], gates.shape[1], h0.shape[-1]
        hs = xp.empty((steps + 1, batch, hidden), dtype=gates.dtype)  # hs[t] is h_{t-1}
        cs = xp.empty_like(hs)  # cs[t] is c_{t-1}
        tanh_cs = xp.empty_like(hs[1:])  # tanh(c_t), which h_t and its gradient share
        hs[0], cs[0] = h0, c0
        for t in range(steps):
            gates[t] += hs[t] @ weight_hh.T
            i, f, g, o = _split(gates[t], 4)
            # i, f, o are sigmoids and g is a tanh, which is 2 sigmoid(2a) - 1: so one
            # sigmoid over the whole block makes all four, in one pass over contiguous memory
            g *= 2
            _sigmoid(gates[t], out=gates[t])
            g *= 2
            g -= 1
            cs[t + 1] = f * cs[t] + i * g
            tanh_cs[t] = xp.tanh(cs[t + 1])
            hs[t + 1] = o * tanh_cs[t]
        self.x, self.hs, self.cs, self.tanh_cs, self.gates = x, hs, cs, tanh_cs, gates
        self.weight_ih, self.weight_hh = weight_ih, weight_hh
        self.reverse, self.has_bias = reverse, bias_ih is not None
        return xp.concatenate([_in_reading_order(hs[1:], reverse), cs[-1:]])

    def backward(self, grad):
        grad_hs, dc = _in_reading_order(grad[:-1], self.reverse), grad[-1]
        d_gates = xp.empty_like(self.gates)  # gradient of the gates' pre-activations
        dh = xp.zeros_like(dc)
        for t in reversed(range(len(grad_hs))):
            i, f, g, o = _split(self.gates[t], 4)
            di, df, dg, do = _split(d_gates[t], 4)
            tanh_c = self.tanh_cs[t]
            dh = dh + grad_hs[t]
            # h = o tanh(c): to o, and to c (joining the gradient c received from step t + 1)
            do[...] = dh * tanh_c * o * (1 - o)
            dc = dc + dh * o * (1 - tanh_c * tanh_c)
            # c = f c_prev + i g: to each gate through its activation, and on to c_prev
            di[...] = dc * g * i * (1 - i)
            df[...] = dc * self.cs[t] * f * (1 - f)
            dg[...] = dc * i * (1 - g * g)
            dc = dc * f
            dh = d_gates[t] @ self.weight_hh
        grad_x, weight_grads = _weight_grads(self, 3, self.x, self.hs[:-1], d_gates, d_gates)
        return (grad_x, dh, dc, *weight_grads)


class GRULayer(Function):
    """The gated recurrent unit over x (L, N, in), from state h0 (N, H), with PyTorch's gate
    order r, z, n in the rows of the weights:

        r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)     reset gate
        z = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz)     update gate
        n =    tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))   candidate state
        h' = (1 - z) * n + z * h

    b_hn sits inside the reset gate's product, so here the two biases do not merge.
    Returns h_1 .. h_L, shape (L, N, H), in the order of x.
    """

    def forward(self, x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, reverse=False):
        x = xp.ascontiguousarray(_in_reading_order(x, reverse))
        x_gates = _project_inputs(x, weight_ih, bias_ih)  # (L, N, 3H)
        steps, batch, hidden = x_gates.shape[0], x_gates.shape[1], h0.shape[-1]
        hs = xp.empty((steps + 1, batch, hidden), dtype=x_gates.dtype)  # hs[t] is h_{t-1}
        gates = xp.empty_like(x_gates)  # r, z, n of every step
        h_candidates = xp.empty_like(hs[1:])  # h W_hn^T + b_hn, which r multiplies
        hs[0] = h0
        for t in range(steps):
            h_gates = hs[t] @ weight_hh.T
            if bias_hh is not None:
                h_gates += bias_hh
            x_rz, x_n = x_gates[t, :, :2 * hidden], x_gates[t, :, 2 * hidden:]
            h_rz, h_n = h_gates[:, :2 * hidden], h_gates[:, 2 * hidden:]
            r, z, n = _split(gates[t], 3)
            _sigmoid(x_rz + h_rz, out=gates[t, :, :2 * hidden])  # r and z in one pass
            xp.tanh(x_n + r * h_n, out=n)
            hs[t + 1] = n + z * (hs[t] - n)
            h_candidates[t] = h_n
        self.x, self.hs, self.gates, self.h_candidates = x, hs, gates, h_candidates
        self.weight_ih, self.weight_hh = weight_ih, weight_hh
        self.reverse, self.has_bias = reverse, bias_ih is not None
        return _in_reading_order(hs[1:], reverse)

    def backward(self, grad):
        grad = _in_reading_order(grad, self.reverse)
        d_x_gates = xp.empty_like(self.gates)  # gradient of x W_ih^T + b_ih, per gate
        d_h_gates = xp.empty_like(self.gates)  # gradient of h W_hh^T + b_hh, per gate
        dh = xp.zeros_like(self.hs[0])
        for t in reversed(range(len(grad))):
            r, z, n = _split(self.gates[t], 3)
            dx_r, dx_z, dx_n = _split(d_x_gates[t], 3)
            dh_r, dh_z, dh_n = _split(d_h_gates[t], 3)
            h_prev = self.hs[t]
            dh = dh + grad[t]
            # h' = n + z (h - n): to n, to z, and straight on to h
            d_n = dh * (1 - z) * (1 - n * n)
            dx_z[...] = dh * (h_prev - n) * z * (1 - z)
            # n = tanh(x_n + r * h_n): to x_n, to h_n through r, and to r
            dx_n[...] = d_n
            dh_n[...] = d_n * r
            dx_r[...] = d_n * self.h_candidates[t] * r * (1 - r)
            # x and h enter r and z as a plain sum, so both parts get the same gradient there
            dh_r[...] = dx_r
            dh_z[...] = dx_z
            dh = dh * z + d_h_gates[t] @ self.weight_hh
        grad_x, weight_grads = _weight_grads(self, 2, self.x, self.hs[:-1], d_x_gates, d_h_gates)
        return (grad_x, dh, *weight_grads)


# -- the layers ------------------------------------------------------------------------------------


def _check_sizes(name, input_size, hidden_size):
    for what, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            raise TypeError(f"{name}: {what} must be an integer, got {value!r}")
        if value <= 0:
            raise ValueError(f"{name}: {what} must be greater than zero, got {value}")


def _check_nonlinearity(name, nonlinearity):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"{name}: unknown nonlinearity {nonlinearity!r}; select from 'tanh' or 'relu'")


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _describe(shape):
    return f"{len(shape)}-D input of shape {shape}"


class RNNBase(Module):
    """What RNN, LSTM and GRU share: the parameters of every layer and direction, the
    checks on input and initial states, and the loop over layers. A subclass sets
    ``gates`` (blocks of rows in each weight) and runs one layer in ``_run_layer``."""

    gates = 1

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False):
        super().__init__()
        name = type(self).__name__
        _check_sizes(name, input_size, hidden_size)
        if not isinstance(num_layers, numbers.Integral) or num_layers <= 0:
            raise ValueError(f"{name}: num_layers must be a positive integer, got {num_layers!r}")
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout must be a number in [0, 1] (the probability of zeroing an element), got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{name}: dropout={dropout} does nothing with num_layers=1: it is applied between layers, "
                "after every layer but the last", stacklevel=2,
            )
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional = bidirectional
        self.num_directions = 2 if bidirectional else 1
        rows = self.gates * hidden_size
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * self.num_directions
            for suffix in self._suffixes():
                setattr(self, f"weight_ih_l{layer}{suffix}", Parameter(init.empty(rows, layer_input)))
                setattr(self, f"weight_hh_l{layer}{suffix}", Parameter(init.empty(rows, hidden_size)))
                if bias:
                    setattr(self, f"bias_ih_l{layer}{suffix}", Parameter(init.empty(rows)))
                    setattr(self, f"bias_hh_l{layer}{suffix}", Parameter(init.empty(rows)))
        self.reset_parameters()

    def _suffixes(self):
        return ("", "_reverse") if self.bidirectional else ("",)

    def reset_parameters(self):
        # PyTorch's default for every weight and bias: uniform in ±1/sqrt(hidden_size)
        bound = 1 / math.sqrt(self.hidden_size)
        for parameter in self.parameters():
            init.uniform_(parameter, -bound, bound)

    def flatten_parameters(self):
        """Does nothing, and exists so that PyTorch code calling it runs unchanged.

        In PyTorch it copies the weights into the one contiguous block that cuDNN's fused
        kernels need on the GPU. glassnet has no GPU backend: each layer's weights are used
        where they are, so there is nothing to flatten.
        """

    def _layer_weights(self, layer, suffix):
        names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if self.bias else [])
        return [getattr(self, f"{name}_l{layer}{suffix}") for name in names]

    # -- checks ------------------------------------------------------------------------------

    def _time_major(self, input):
        """Check ``input`` and bring it to (L, N, in); also say whether it had a batch axis."""
        checks.floating(self, input)
        shape = input.shape
        if input.ndim not in (2, 3):
            layout = "(N, L, {0})" if self.batch_first else "(L, N, {0})"
            hint = ""
            if input.ndim == 4 and shape[1] == 1:
                hint = (
                    f"; help: for images read row by row, drop the channel axis, e.g. x.reshape({shape[0]}, "
                    f"{shape[2]}, {shape[3]}), and use batch_first=True"
                )
            raise ValueError(
                f"{self._label()}: expected a 3-D input {layout.format(self.input_size)} "
                f"or a 2-D unbatched sequence (L, {self.input_size}), got {_describe(shape)}{hint}"
            )
        if shape[-1] != self.input_size:
            hint = ""
            if self.input_size in shape[:-1]:
                hint = "; help: the features must be the last axis — transpose the input so that they are"
            raise ValueError(
                f"{self._label()}: expected input with {self.input_size} features in its last dimension, "
                f"got {shape}{hint}"
            )
        if shape[1 if input.ndim == 3 and self.batch_first else 0] == 0:
            raise ValueError(f"{self._label()}: expected a sequence of at least one step, got input of shape {shape}")
        if input.ndim == 2:  # one sequence without a batch axis: a batch of one
            return input.unsqueeze(1), False
        return (input.transpose(0, 1) if self.batch_first else input), True

    def _initial_state(self, state, what, batch, batched, dtype):
        """The initial state for every layer and direction: zeros, or slices of ``state``."""
        count = self.num_layers * self.num_directions
        if state is None:
            return [Tensor(xp.zeros((batch, self.hidden_size), dtype=dtype)) for _ in range(count)]
        state = _as_tensor(state)
        expected = (count, batch, self.hidden_size) if batched else (count, self.hidden_size)
        if state.shape != expected:
            layout = "(num_layers * num_directions, batch, hidden_size)" if batched else "(num_layers * num_directions, hidden_size) for an unbatched input"
            raise ValueError(f"{self._label()}: expected {what} of shape {expected} {layout}, got {state.shape}")
        if not batched:
            state = state.unsqueeze(1)
        return [state[k] for k in range(count)]

    # -- the computation ---------------------------------------------------------------------------

    def _states_in(self, hx, batch, batched, dtype):
        """One initial state per layer and direction (a pair for LSTM)."""
        if isinstance(hx, (tuple, list)):
            raise ValueError(f"{self._label()}: expected hx to be a single tensor h_0, got a {type(hx).__name__}")
        return self._initial_state(hx, "h_0", batch, batched, dtype)

    def _states_out(self, finals, batched):
        h_n = stack(finals)
        return h_n if batched else h_n.squeeze(1)

    def _run_layer(self, x, state, weights, reverse):
        """Run one layer in one direction: returns its output sequence and final state."""
        raise NotImplementedError

    def forward(self, input, hx=None):
        x, batched = self._time_major(_as_tensor(input))
        states = self._states_in(hx, x.shape[1], batched, x.dtype)
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for direction, suffix in enumerate(self._suffixes()):
                state = states[layer * self.num_directions + direction]
                output, final = self._run_layer(x, state, self._layer_weights(layer, suffix), reverse=direction == 1)
                outputs.append(output)
                finals.append(final)
            x = outputs[0] if len(outputs) == 1 else concatenate(outputs, axis=-1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout)
        if not batched:
            output = x.squeeze(1)
        else:
            output = x.transpose(0, 1) if self.batch_first else x
        return output, self._states_out(finals, batched)

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        if self.batch_first is not False:
            text += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            text += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            text += f", bidirectional={self.bidirectional}"
        return text


def _last_step(output, reverse):
    """The final hidden state of a direction: the reverse one ends at the first step."""
    return output[0] if reverse else output[-1]


class RNN(RNNBase):
    """A multi-layer Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)
    (or relu), for every layer; layer k > 0 reads the outputs of layer k - 1.

    Args:
        input_size: features of each step of the input.
        hidden_size: features of the hidden state.
        num_layers: recurrent layers stacked on each other.
        nonlinearity: ``'tanh'`` or ``'relu'``.
        bias: whether to learn biases b_ih and b_hh.
        batch_first: input and output are (N, L, *) instead of (L, N, *) (states are not).
        dropout: in training, dropout on the outputs of every layer but the last.
        bidirectional: also run each layer from the end of the sequence to its start and
            concatenate the two directions' features.

    Shape (D = 2 if bidirectional else 1):
        input (L, N, input_size), or (N, L, input_size) with batch_first, or (L, input_size)
        unbatched; h_0 (D * num_layers, N, hidden_size) or (D * num_layers, hidden_size),
        zeros if omitted -> output (L, N, D * hidden_size) (batch-first or unbatched like the
        input) and h_n like h_0.
    Parameters: ``weight_ih_l{k}`` (hidden_size, input_size) for k = 0, else
        (hidden_size, D * hidden_size); ``weight_hh_l{k}`` (hidden_size, hidden_size);
        ``bias_ih_l{k}``, ``bias_hh_l{k}`` (hidden_size,); ``..._reverse`` for the reverse
        direction. All uniform in ±1/sqrt(hidden_size), as in PyTorch.

    >>> import glassnet as gn, numpy as np
    >>> rnn = gn.nn.RNN(10, 20, num_layers=2)
    >>> output, h_n = rnn(gn.tensor(np.zeros((5, 3, 10), dtype="float32")))
    >>> output.shape, h_n.shape
    ((5, 3, 20), (2, 3, 20))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False, dropout=0.0, bidirectional=False):
        _check_nonlinearity(type(self).__name__, nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)
        self.nonlinearity = nonlinearity

    def _run_layer(self, x, state, weights, reverse):
        output = RNNLayer.apply(x, state, *weights, nonlinearity=self.nonlinearity, reverse=reverse)
        return output, _last_step(output, reverse)

    def extra_repr(self):
        text = super().extra_repr()
        return text + (f", nonlinearity={self.nonlinearity}" if self.nonlinearity != "tanh" else "")


class LSTM(RNNBase):
    """A multi-layer long short-term memory RNN. Each layer computes, per step, with
    PyTorch's gate order (i, f, g, o in the rows of the weights):

        i = sigmoid(x W_ii^T + b_ii + h W_hi^T + b_hi)   f = sigmoid(... W_if ... W_hf ...)
        g = tanh(x W_ig^T + b_ig + h W_hg^T + b_hg)      o = sigmoid(... W_io ... W_ho ...)
        c' = f * c + i * g                               h' = o * tanh(c')

    Arguments as for :class:`RNN` (without ``nonlinearity``).

    Shape: input as for :class:`RNN`; ``hx`` = (h_0, c_0), each (D * num_layers, N,
    hidden_size) (zeros if omitted) -> ``(output, (h_n, c_n))``.
    Parameters: as for :class:`RNN` with 4 * hidden_size rows: ``weight_ih_l{k}``
    (4 * hidden_size, input_size) etc.

    >>> import glassnet as gn, numpy as np
    >>> lstm = gn.nn.LSTM(28, 128, batch_first=True)
    >>> output, (h_n, c_n) = lstm(gn.tensor(np.zeros((32, 28, 28), dtype="float32")))
    >>> output.shape, h_n.shape, c_n.shape
    ((32, 28, 128), (1, 32, 128), (1, 32, 128))
    """

    gates = 4

    def _states_in(self, hx, batch, batched, dtype):
        if hx is None:
            hx = (None, None)
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise ValueError(f"{self._label()}: expected hx to be a pair (h_0, c_0), got {type(hx).__name__}")
        h0 = self._initial_state(hx[0], "h_0", batch, batched, dtype)
        c0 = self._initial_state(hx[1], "c_0", batch, batched, dtype)
        return list(zip(h0, c0))

    def _states_out(self, finals, batched):
        h_n, c_n = stack([h for h, _ in finals]), stack([c for _, c in finals])
        return (h_n, c_n) if batched else (h_n.squeeze(1), c_n.squeeze(1))

    def _run_layer(self, x, state, weights, reverse):
        h0, c0 = state
        packed = LSTMLayer.apply(x, h0, c0, *weights, reverse=reverse)  # h_1 .. h_L, then c_n
        output = packed[:-1]
        return output, (_last_step(output, reverse), packed[-1])


class GRU(RNNBase):
    """A multi-layer gated recurrent unit RNN. Each layer computes, per step, with
    PyTorch's gate order (r, z, n in the rows of the weights):

        r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)
        z = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz)
        n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))
        h' = (1 - z) * n + z * h

    Arguments and shapes as for :class:`RNN` (without ``nonlinearity``); parameters with
    3 * hidden_size rows.

    >>> import glassnet as gn, numpy as np
    >>> gru = gn.nn.GRU(8, 16, bidirectional=True)
    >>> output, h_n = gru(gn.tensor(np.zeros((5, 8), dtype="float32")))  # unbatched
    >>> output.shape, h_n.shape
    ((5, 32), (2, 16))
    """

    gates = 3

    def _run_layer(self, x, state, weights, reverse):
        output = GRULayer.apply(x, state, *weights, reverse=reverse)
        return output, _last_step(output, reverse)


# -- the cells: a single step ----------------------------------------------------------------------


class RNNCellBase(Module):
    """What the cells share: parameters ``weight_ih`` (gates * hidden_size, input_size),
    ``weight_hh`` (gates * hidden_size, hidden_size), ``bias_ih``, ``bias_hh``, and the
    checks on input and state. A cell is its layer's fused op run for one step."""

    gates = 1

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        _check_sizes(type(self).__name__, input_size, hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        rows = self.gates * hidden_size
        self.weight_ih = Parameter(init.empty(rows, input_size))
        self.weight_hh = Parameter(init.empty(rows, hidden_size))
        if bias:
            self.bias_ih = Parameter(init.empty(rows))
            self.bias_hh = Parameter(init.empty(rows))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.hidden_size)
        for parameter in self.parameters():
            init.uniform_(parameter, -bound, bound)

    def _weights(self):
        return [self.weight_ih, self.weight_hh] + ([self.bias_ih, self.bias_hh] if self.bias else [])

    def _one_step(self, input):
        """Check ``input`` (N, input_size) or (input_size,) and make it a sequence of one
        step, (1, N, input_size); also say whether it had a batch axis."""
        input = _as_tensor(input)
        checks.floating(self, input)
        if input.ndim not in (1, 2):
            raise ValueError(
                f"{self._label()}: expected input of shape (N, {self.input_size}) or ({self.input_size},), "
                f"got {_describe(input.shape)}; help: a cell computes one step — for whole sequences use "
                f"{type(self).__name__.removesuffix('Cell')}"
            )
        if input.shape[-1] != self.input_size:
            raise ValueError(
                f"{self._label()}: expected input with {self.input_size} features in its last dimension, got {input.shape}"
            )
        batched = input.ndim == 2
        return input.reshape(1, input.shape[0] if batched else 1, self.input_size), batched

    def _state(self, state, what, batch, batched, dtype):
        if state is None:
            return Tensor(xp.zeros((batch, self.hidden_size), dtype=dtype))
        state = _as_tensor(state)
        expected = (batch, self.hidden_size) if batched else (self.hidden_size,)
        if state.shape != expected:
            raise ValueError(f"{self._label()}: expected {what} of shape {expected} for input of batch {batch if batched else 'none (unbatched)'}, got {state.shape}")
        return state.reshape(batch, self.hidden_size)

    def _state_out(self, state, batched):
        return state if batched else state.reshape(self.hidden_size)

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        return text


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu).

    Shape: input (N, input_size) or (input_size,); hx (N, hidden_size) or (hidden_size,),
    zeros if omitted -> h' like hx.

    >>> import glassnet as gn, numpy as np
    >>> cell = gn.nn.RNNCell(10, 20)
    >>> cell(gn.tensor(np.zeros((3, 10), dtype="float32"))).shape
    (3, 20)
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        _check_nonlinearity(type(self).__name__, nonlinearity)
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, batched = self._one_step(input)
        h = self._state(hx, "hx", x.shape[1], batched, x.dtype)
        h_next = RNNLayer.apply(x, h, *self._weights(), nonlinearity=self.nonlinearity)[0]
        return self._state_out(h_next, batched)

    def extra_repr(self):
        text = super().extra_repr()
        return text + (f", nonlinearity={self.nonlinearity}" if self.nonlinearity != "tanh" else "")


class LSTMCell(RNNCellBase):
    """One step of an LSTM (equations and gate order as in :class:`LSTM`).

    Shape: input (N, input_size) or (input_size,); hx = (h, c), each (N, hidden_size) or
    (hidden_size,), zeros if omitted -> (h', c').

    >>> import glassnet as gn, numpy as np
    >>> h, c = gn.nn.LSTMCell(10, 20)(gn.tensor(np.zeros((3, 10), dtype="float32")))
    >>> h.shape, c.shape
    ((3, 20), (3, 20))
    """

    gates = 4

    def forward(self, input, hx=None):
        x, batched = self._one_step(input)
        if hx is None:
            hx = (None, None)
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise ValueError(f"{self._label()}: expected hx to be a pair (h, c), got {type(hx).__name__}")
        h = self._state(hx[0], "h", x.shape[1], batched, x.dtype)
        c = self._state(hx[1], "c", x.shape[1], batched, x.dtype)
        packed = LSTMLayer.apply(x, h, c, *self._weights())  # rows: h', c'
        return self._state_out(packed[0], batched), self._state_out(packed[1], batched)


class GRUCell(RNNCellBase):
    """One step of a GRU (equations and gate order as in :class:`GRU`).

    Shape: input (N, input_size) or (input_size,); hx (N, hidden_size) or (hidden_size,),
    zeros if omitted -> h' like hx.

    >>> import glassnet as gn, numpy as np
    >>> gn.nn.GRUCell(10, 20)(gn.tensor(np.zeros(10, dtype="float32"))).shape
    (20,)
    """

    gates = 3

    def forward(self, input, hx=None):
        x, batched = self._one_step(input)
        h = self._state(hx, "hx", x.shape[1], batched, x.dtype)
        h_next = GRULayer.apply(x, h, *self._weights())[0]
        return self._state_out(h_next, batched)
