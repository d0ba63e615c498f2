"""Recurrent layers: one set of weights applied at every step of a sequence, carrying a
hidden state from each step to the next.

``RNN``, ``LSTM`` and ``GRU`` take PyTorch's arguments and have its parameter names,
shapes, gate order and initialization, so PyTorch weights load as plain arrays and give
the same results. ``RNNCell``, ``LSTMCell`` and ``GRUCell`` compute a single step.

Speed comes from two things. The input half of every gate, x_t W_ih^T, does not depend
on the hidden state, so it is computed for all steps at once, as one matrix product.
And each layer (one direction) runs the whole sequence as one fused op, ``ops.RNN``,
``ops.LSTM`` or ``ops.GRU`` (in ``glassnet/ops/recurrent.py``): its forward loops over
time doing one product h W_hh^T for all gates per step and saves the gate activations;
its backward loops back through time (backpropagation through time) next to it, then
gets the weight gradients of all steps in one product each. Composing small ops instead
would build a graph of hundreds of nodes per sequence. ``tests/test_rnn.py`` checks each
against finite differences and against PyTorch.
"""
import math
import numbers
import warnings

from .. import ops
from ..backend import xp
from ..ops import concatenate, stack
from ..tensor import Tensor
from . import checks
from . import functional as F
from . import init
from .module import Module, Parameter

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
        output = ops.RNN.apply(x, state, *weights, nonlinearity=self.nonlinearity, reverse=reverse)
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
        output, c_n = ops.LSTM.apply(x, h0, c0, *weights, reverse=reverse)
        return output, (_last_step(output, reverse), c_n)


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
        output = ops.GRU.apply(x, state, *weights, reverse=reverse)
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
        h_next = ops.RNN.apply(x, h, *self._weights(), nonlinearity=self.nonlinearity)[0]
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
        output, c_next = ops.LSTM.apply(x, h, c, *self._weights())  # output: the one step's h'
        return self._state_out(output[0], batched), self._state_out(c_next, batched)


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
        h_next = ops.GRU.apply(x, h, *self._weights())[0]
        return self._state_out(h_next, batched)
