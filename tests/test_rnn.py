"""Specification of the recurrent layers RNN, LSTM, GRU and their cells.

Each is checked against calculus (gn.gradcheck in float64, inputs, initial states and
every parameter checked), against PyTorch (its weights copied in; outputs, final states
and the gradients of input, initial states and every parameter compared over a table of
configurations). That the fused ops compute the gate equations, their readable references
(``ops.lstm_reference`` and friends, loops of tensor ops), is in tests/test_references.py.
"""
import math
import tracemalloc

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import glassnet as gn
from glassnet.nn import rnn

IN, HIDDEN, STEPS, BATCH = 4, 5, 6, 3

# name -> factory taking the nn module of either library, so one lambda builds both
KINDS = {
    "rnn_tanh": lambda m, **kw: m.RNN(IN, HIDDEN, **kw),
    "rnn_relu": lambda m, **kw: m.RNN(IN, HIDDEN, nonlinearity="relu", **kw),
    "lstm": lambda m, **kw: m.LSTM(IN, HIDDEN, **kw),
    "gru": lambda m, **kw: m.GRU(IN, HIDDEN, **kw),
}

# (name, layer arguments, pass initial states, unbatched input)
CONFIGS = [
    ("defaults", {}, False, False),
    ("initial_state", {}, True, False),
    ("batch_first", {"batch_first": True}, True, False),
    ("two_layers", {"num_layers": 2}, True, False),
    ("bidirectional", {"bidirectional": True}, True, False),
    ("two_layers_bidirectional_batch_first", {"num_layers": 2, "bidirectional": True, "batch_first": True}, True, False),
    ("no_bias", {"bias": False}, True, False),
    ("no_bias_two_layers_bidirectional", {"bias": False, "num_layers": 2, "bidirectional": True}, False, False),
    ("unbatched", {}, True, True),
    ("unbatched_two_layers_bidirectional", {"num_layers": 2, "bidirectional": True}, True, True),
    ("unbatched_ignores_batch_first", {"batch_first": True}, False, True),
    ("dropout_in_eval_mode", {"num_layers": 2, "dropout": 0.5}, True, False),
]


def _shapes(kwargs, unbatched):
    """Input shape and initial-state shape for a configuration."""
    states = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    if unbatched:
        return (STEPS, IN), (states, HIDDEN)
    return ((BATCH, STEPS, IN) if kwargs.get("batch_first") else (STEPS, BATCH, IN)), (states, BATCH, HIDDEN)


def _flat(result):
    """(output, h_n) or (output, (h_n, c_n)) -> a flat tuple."""
    output, states = result
    return (output, *states) if isinstance(states, tuple) else (output, states)


# -- parity with PyTorch ---------------------------------------------------------------------------


@pytest.mark.parametrize("config, kwargs, with_state, unbatched", CONFIGS, ids=[c[0] for c in CONFIGS])
@pytest.mark.parametrize("kind", KINDS)
def test_matches_pytorch(kind, config, kwargs, with_state, unbatched, load_torch_weights):
    torch.manual_seed(0)
    theirs = KINDS[kind](torch.nn, **kwargs).eval()
    mine = load_torch_weights(KINDS[kind](rnn, **kwargs), theirs).eval()
    assert [n for n, _ in mine.named_parameters()] == [n for n, _ in theirs.named_parameters()]

    rng = np.random.default_rng(0)
    x_shape, state_shape = _shapes(kwargs, unbatched)
    arrays = [rng.standard_normal(x_shape).astype(np.float32)]
    if with_state:
        arrays += [rng.standard_normal(state_shape).astype(np.float32) for _ in range(2 if kind == "lstm" else 1)]
    gn_inputs = [gn.tensor(a.copy(), requires_grad=True) for a in arrays]
    torch_inputs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]

    def call(layer, x, *states):
        if not states:
            return _flat(layer(x))
        return _flat(layer(x, tuple(states) if kind == "lstm" else states[0]))

    outputs, expected = call(mine, *gn_inputs), call(theirs, *torch_inputs)
    assert len(outputs) == len(expected)
    for what, out, want in zip(("output", "h_n", "c_n"), outputs, expected):
        assert out.shape == tuple(want.shape) and out.dtype == np.float32, what
        np.testing.assert_allclose(out.numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-6, err_msg=what)

    upstream = [rng.standard_normal(out.shape).astype(np.float32) for out in outputs]
    sum((out * gn.tensor(u)).sum() for out, u in zip(outputs, upstream)).backward()
    sum((out * torch.from_numpy(u)).sum() for out, u in zip(expected, upstream)).backward()
    for what, mine_input, their_input in zip(("input", "h_0", "c_0"), gn_inputs, torch_inputs):
        np.testing.assert_allclose(mine_input.grad, their_input.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=what)
    their_params = dict(theirs.named_parameters())
    for name, param in mine.named_parameters():
        assert param.grad is not None and param.grad.dtype == np.float32, name
        np.testing.assert_allclose(param.grad, their_params[name].grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


@settings(max_examples=25, deadline=None, database=None)
@given(
    kind=st.sampled_from(["RNN", "LSTM", "GRU"]), steps=st.integers(1, 5), batch=st.integers(1, 4),
    features=st.integers(1, 4), hidden=st.integers(1, 4), num_layers=st.integers(1, 2),
    bidirectional=st.booleans(), batch_first=st.booleans(), seed=st.integers(0, 2**16),
)
def test_any_shape_matches_pytorch(kind, steps, batch, features, hidden, num_layers, bidirectional, batch_first, seed):
    torch.manual_seed(seed)
    kwargs = {"num_layers": num_layers, "bidirectional": bidirectional, "batch_first": batch_first}
    theirs = getattr(torch.nn, kind)(features, hidden, **kwargs)
    mine = getattr(rnn, kind)(features, hidden, **kwargs)
    mine.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    data = np.random.default_rng(seed).standard_normal((batch, steps, features) if batch_first else (steps, batch, features))
    x, tx = gn.tensor(data.astype(np.float32), requires_grad=True), torch.tensor(data.astype(np.float32), requires_grad=True)
    outputs, expected = _flat(mine(x)), _flat(theirs(tx))
    for out, want in zip(outputs, expected):
        assert out.shape == tuple(want.shape)
        np.testing.assert_allclose(out.numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-6)
    sum(out.sum() for out in outputs).backward()
    sum(out.sum() for out in expected).backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-4, atol=1e-5)


CELLS = {
    "rnn_cell_tanh": lambda m, **kw: m.RNNCell(IN, HIDDEN, **kw),
    "rnn_cell_relu": lambda m, **kw: m.RNNCell(IN, HIDDEN, nonlinearity="relu", **kw),
    "lstm_cell": lambda m, **kw: m.LSTMCell(IN, HIDDEN, **kw),
    "gru_cell": lambda m, **kw: m.GRUCell(IN, HIDDEN, **kw),
}


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("with_state", [True, False], ids=["state", "no_state"])
@pytest.mark.parametrize("unbatched", [False, True], ids=["batched", "unbatched"])
@pytest.mark.parametrize("kind", CELLS)
def test_cell_matches_pytorch(kind, unbatched, with_state, bias, load_torch_weights):
    torch.manual_seed(0)
    theirs = CELLS[kind](torch.nn, bias=bias)
    mine = load_torch_weights(CELLS[kind](rnn, bias=bias), theirs)
    assert [n for n, _ in mine.named_parameters()] == [n for n, _ in theirs.named_parameters()]

    rng = np.random.default_rng(1)
    lead = () if unbatched else (BATCH,)
    arrays = [rng.standard_normal(lead + (IN,)).astype(np.float32)]
    if with_state:
        arrays += [rng.standard_normal(lead + (HIDDEN,)).astype(np.float32) for _ in range(2 if kind == "lstm_cell" else 1)]
    gn_inputs = [gn.tensor(a.copy(), requires_grad=True) for a in arrays]
    torch_inputs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]

    def call(cell, x, *states):
        result = cell(x, (tuple(states) if kind == "lstm_cell" else states[0]) if states else None)
        return result if isinstance(result, tuple) else (result,)

    outputs, expected = call(mine, *gn_inputs), call(theirs, *torch_inputs)
    for out, want in zip(outputs, expected):
        assert out.shape == tuple(want.shape)
        np.testing.assert_allclose(out.numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-6)
    upstream = [rng.standard_normal(out.shape).astype(np.float32) for out in outputs]
    sum((out * gn.tensor(u)).sum() for out, u in zip(outputs, upstream)).backward()
    sum((out * torch.from_numpy(u)).sum() for out, u in zip(expected, upstream)).backward()
    for mine_input, their_input in zip(gn_inputs, torch_inputs):
        np.testing.assert_allclose(mine_input.grad, their_input.grad.numpy(), rtol=1e-4, atol=1e-5)
    their_params = dict(theirs.named_parameters())
    for name, param in mine.named_parameters():
        np.testing.assert_allclose(param.grad, their_params[name].grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("kwargs", [{}, {"num_layers": 3, "bidirectional": True}, {"num_layers": 2, "bias": False}])
@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm", "gru"])
def test_parameter_names_shapes_and_state_dict_keys_are_pytorchs(kind, kwargs):
    theirs, mine = KINDS[kind](torch.nn, **kwargs), KINDS[kind](rnn, **kwargs)
    assert [(n, p.shape) for n, p in mine.named_parameters()] == [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert list(mine.state_dict()) == list(theirs.state_dict())
    assert repr(mine) == repr(theirs)


@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm", "gru"])
def test_flatten_parameters_is_a_harmless_no_op(kind, load_torch_weights):
    """PyTorch code calls it before forward (for cuDNN); here it changes nothing."""
    theirs, mine = KINDS[kind](torch.nn, num_layers=2), KINDS[kind](rnn, num_layers=2)
    load_torch_weights(mine, theirs)
    before = [p for p in mine.parameters()]
    values = [p.numpy().copy() for p in before]
    assert mine.flatten_parameters() is None and theirs.flatten_parameters() is None
    assert all(p is q for p, q in zip(mine.parameters(), before))
    for p, value in zip(mine.parameters(), values):
        np.testing.assert_array_equal(p.numpy(), value)
    data = np.random.default_rng(0).standard_normal((STEPS, BATCH, IN)).astype(np.float32)
    np.testing.assert_allclose(mine(gn.tensor(data))[0].numpy(), theirs(torch.from_numpy(data))[0].detach().numpy(),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", CELLS)
def test_cell_parameter_names_and_repr_are_pytorchs(kind):
    for bias in (True, False):
        theirs, mine = CELLS[kind](torch.nn, bias=bias), CELLS[kind](rnn, bias=bias)
        assert [(n, p.shape) for n, p in mine.named_parameters()] == [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
        assert repr(mine) == repr(theirs)


def test_initialization_is_pytorchs_uniform_and_follows_the_seed():
    gn.seed(0)
    lstm = rnn.LSTM(28, 64, num_layers=2)
    bound = 1 / math.sqrt(64)
    for name, param in lstm.named_parameters():
        assert param.dtype == np.float32 and param.requires_grad, name
        assert np.abs(param.data).max() <= bound and np.abs(param.data).max() > 0.9 * bound, name
        assert abs(param.numpy().mean()) < 0.1 * bound, name  # centred
    gn.seed(0)
    again = rnn.LSTM(28, 64, num_layers=2)
    assert all(np.array_equal(a, b) for a, b in zip(lstm.state_dict().values(), again.state_dict().values()))


# -- gradients against finite differences ------------------------------------------------------


# (name, layer factory, input shape, number of initial states, state shape)
GRADCHECKS = [
    ("rnn_tanh", lambda: rnn.RNN(3, 2), (4, 2, 3), 1, (1, 2, 2)),
    ("rnn_relu", lambda: rnn.RNN(3, 2, nonlinearity="relu"), (4, 2, 3), 1, (1, 2, 2)),
    ("lstm", lambda: rnn.LSTM(3, 2), (4, 2, 3), 2, (1, 2, 2)),
    ("gru", lambda: rnn.GRU(3, 2), (4, 2, 3), 1, (1, 2, 2)),
    ("rnn_two_layers_bidirectional", lambda: rnn.RNN(3, 2, num_layers=2, bidirectional=True), (3, 2, 3), 1, (4, 2, 2)),
    ("lstm_two_layers", lambda: rnn.LSTM(3, 2, num_layers=2), (3, 2, 3), 2, (2, 2, 2)),
    ("lstm_bidirectional_batch_first", lambda: rnn.LSTM(3, 2, bidirectional=True, batch_first=True), (2, 3, 3), 2, (2, 2, 2)),
    ("gru_two_layers_bidirectional", lambda: rnn.GRU(3, 2, num_layers=2, bidirectional=True), (3, 2, 3), 1, (4, 2, 2)),
    ("gru_no_bias_unbatched", lambda: rnn.GRU(3, 2, bias=False), (4, 3), 1, (1, 2)),
    ("rnn_cell_tanh", lambda: rnn.RNNCell(3, 2), (2, 3), 1, (2, 2)),
    ("rnn_cell_relu", lambda: rnn.RNNCell(3, 2, nonlinearity="relu"), (2, 3), 1, (2, 2)),
    ("lstm_cell", lambda: rnn.LSTMCell(3, 2), (2, 3), 2, (2, 2)),
    ("gru_cell", lambda: rnn.GRUCell(3, 2), (2, 3), 1, (2, 2)),
]


@pytest.mark.parametrize("name, make, x_shape, n_states, state_shape", GRADCHECKS, ids=[g[0] for g in GRADCHECKS])
def test_gradcheck(name, make, x_shape, n_states, state_shape):
    gn.seed(0)
    layer = make().double()
    rng = np.random.default_rng(3)
    x = gn.tensor(rng.standard_normal(x_shape), requires_grad=True)
    states = [gn.tensor(rng.standard_normal(state_shape), requires_grad=True) for _ in range(n_states)]
    params = list(layer.parameters())
    assert all(p.dtype == np.float64 for p in params)

    def run(x, *states_and_params):
        states = states_and_params[:n_states]
        result = layer(x, tuple(states) if n_states == 2 else states[0])
        if isinstance(layer, rnn.RNNBase):
            return _flat(result)
        return result

    assert gn.gradcheck(run, [x, *states, *params])
    assert all(p.grad is not None for p in params)


# -- a layer over a sequence equals its cell step by step ------------------------------------------------


def test_lstm_over_a_sequence_equals_its_cell_step_by_step():
    gn.seed(2)
    lstm, cell = rnn.LSTM(IN, HIDDEN), rnn.LSTMCell(IN, HIDDEN)
    cell.load_state_dict({name.removesuffix("_l0"): value for name, value in lstm.state_dict().items()})
    x = gn.tensor(np.random.default_rng(4).standard_normal((STEPS, BATCH, IN)).astype(np.float32))
    output, (h_n, c_n) = lstm(x)
    h = c = None
    for t in range(STEPS):
        h, c = cell(x[t], None if h is None else (h, c))
        np.testing.assert_allclose(output.numpy()[t], h.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h_n.numpy()[0], h.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c_n.numpy()[0], c.numpy(), rtol=1e-5, atol=1e-6)


# -- dropout between layers, modes ------------------------------------------------------------------------


def test_dropout_acts_between_layers_in_training_only():
    gn.seed(3)
    gru = rnn.GRU(IN, HIDDEN, num_layers=2, dropout=1.0)
    x = gn.tensor(np.random.default_rng(5).standard_normal((STEPS, BATCH, IN)).astype(np.float32))
    # dropout=1 zeroes the first layer's output, so the second layer reads only zeros
    second = rnn.GRU(HIDDEN, HIDDEN)
    second.load_state_dict({name.replace("_l1", "_l0"): value for name, value in gru.state_dict().items() if "_l1" in name})
    trained_output, _ = gru(x)
    expected, _ = second(gn.tensor(np.zeros((STEPS, BATCH, HIDDEN), np.float32)))
    np.testing.assert_allclose(trained_output.numpy(), expected.numpy(), rtol=1e-6)
    gru.eval()
    assert not np.allclose(gru(x)[0].numpy(), expected.numpy())  # evaluation: no dropout


def test_dropout_with_one_layer_warns_as_in_pytorch():
    with pytest.warns(UserWarning, match="num_layers=1"):
        rnn.LSTM(IN, HIDDEN, dropout=0.2)


@pytest.mark.parametrize("kind", [rnn.LSTM, rnn.GRU])
def test_saturated_gates_stay_finite_without_overflow(kind):
    # pre-activations of +-1e4: the sigmoids must give 0 and 1, not warn about exp overflowing
    layer = kind(IN, HIDDEN)
    x = gn.tensor(1e4 * np.random.default_rng(6).standard_normal((STEPS, BATCH, IN)).astype(np.float32), requires_grad=True)
    output = _flat(layer(x))[0]
    output.sum().backward()
    assert np.isfinite(output.numpy()).all() and np.abs(output.numpy()).max() <= 1
    assert np.isfinite(x.grad).all()


def test_no_grad_builds_no_graph():
    lstm = rnn.LSTM(IN, HIDDEN)
    with gn.no_grad():
        output, (h_n, c_n) = lstm(np.zeros((STEPS, BATCH, IN), np.float32))
    assert not output.requires_grad and not h_n.requires_grad and not c_n.requires_grad


@pytest.mark.parametrize("compiled_kernels", [True, False], ids=["compiled", "numpy"])
def test_gru_backward_keeps_at_most_one_gate_gradient_per_step(compiled_kernels):
    # The gradients of x W_ih^T + b_ih and of h W_hh^T + b_hh are the same numbers in r and
    # z: NumPy's backward keeps the first for every step (L, N, 3H) and turns it into the
    # second in place; the compiled loop keeps neither (each step's share of the weights'
    # gradients is taken in the loop). Keeping both made a GRU train with more memory than
    # PyTorch's (the backward's peak was 2.07 such arrays).
    from glassnet import compiled
    steps, batch, hidden = 28, 64, 96
    gru = rnn.GRU(IN, hidden)
    x = gn.tensor(np.random.default_rng(0).standard_normal((steps, batch, IN)).astype(np.float32), requires_grad=True)
    before = compiled.enabled()
    compiled.set_enabled(compiled_kernels)
    try:
        gru(x)[0].sum().backward()  # once first: kernels compile (and allocate) outside the count
        out = gru(x)[0]
        upstream = gn.ones(*out.shape)
        tracemalloc.start()
        out.backward(upstream)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        compiled.set_enabled(before)
    one_gate_gradient = steps * batch * 3 * hidden * 4
    assert peak < (0.5 if compiled_kernels and compiled.enabled() else 1.3) * one_gate_gradient


@pytest.mark.parametrize("kind", [rnn.LSTM, rnn.GRU])
def test_learns_to_remember_the_first_step(kind):
    # the label is the sign of the first of 8 steps: only a state carried through them knows it
    gn.seed(0)
    rng = np.random.default_rng(0)
    layer, head = kind(1, 8, batch_first=True), gn.nn.Linear(8, 2)
    optimizer = gn.optim.Adam(list(layer.parameters()) + list(head.parameters()), lr=0.05)
    for _ in range(120):
        x = rng.choice([-1.0, 1.0], size=(64, 8, 1)).astype(np.float32)
        _, h_n = _flat(layer(x))[:2]
        loss = gn.nn.functional.cross_entropy(head(h_n[0]), (x[:, 0, 0] > 0).astype(np.int64))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    x = rng.choice([-1.0, 1.0], size=(256, 8, 1)).astype(np.float32)
    predicted = head(_flat(layer(x))[1][0]).argmax(axis=1).numpy()
    assert (predicted == (x[:, 0, 0] > 0)).mean() > 0.95


# -- errors a learner can act on -------------------------------------------------------------------------


def test_wrong_feature_size_names_the_layer_and_the_shape():
    lstm = rnn.LSTM(28, 128)
    with pytest.raises(ValueError, match=r"LSTM\(28, 128\): expected input with 28 features in its last dimension, got \(128, 28, 30\)"):
        lstm(np.zeros((128, 28, 30), np.float32))
    with pytest.raises(ValueError, match=r"help: the features must be the last axis"):
        lstm(np.zeros((5, 28, 3), np.float32))
    with pytest.raises(ValueError, match=r"GRUCell\(3, 4\): expected input with 3 features"):
        rnn.GRUCell(3, 4)(np.zeros((2, 5), np.float32))


def test_wrong_initial_state_shape():
    with pytest.raises(ValueError, match=r"RNN\(3, 4, num_layers=2\): expected h_0 of shape \(2, 5, 4\).*got \(1, 5, 4\)"):
        rnn.RNN(3, 4, num_layers=2)(np.zeros((7, 5, 3), np.float32), np.zeros((1, 5, 4), np.float32))
    with pytest.raises(ValueError, match=r"expected c_0 of shape \(2, 5, 4\).*got \(2, 4\)"):
        rnn.LSTM(3, 4, bidirectional=True)(np.zeros((7, 5, 3), np.float32), (np.zeros((2, 5, 4), np.float32), np.zeros((2, 4), np.float32)))
    with pytest.raises(ValueError, match=r"LSTM\(3, 4\): expected hx to be a pair \(h_0, c_0\)"):
        rnn.LSTM(3, 4)(np.zeros((7, 5, 3), np.float32), np.zeros((1, 5, 4), np.float32))
    with pytest.raises(ValueError, match=r"GRU\(3, 4\): expected hx to be a single tensor"):
        rnn.GRU(3, 4)(np.zeros((7, 5, 3), np.float32), (np.zeros((1, 5, 4), np.float32),) * 2)
    with pytest.raises(ValueError, match=r"RNNCell\(3, 4\): expected hx of shape \(5, 4\)"):
        rnn.RNNCell(3, 4)(np.zeros((5, 3), np.float32), np.zeros((2, 4), np.float32))


def test_wrong_number_of_dimensions():
    with pytest.raises(ValueError, match=r"LSTM\(28, 128, batch_first=True\): expected a 3-D input \(N, L, 28\).*got 4-D.*help: .*reshape\(64, 28, 28\)"):
        rnn.LSTM(28, 128, batch_first=True)(np.zeros((64, 1, 28, 28), np.float32))
    with pytest.raises(ValueError, match=r"got 1-D input of shape \(28,\)"):
        rnn.GRU(28, 16)(np.zeros(28, np.float32))
    with pytest.raises(ValueError, match=r"LSTMCell\(3, 4\): expected input of shape \(N, 3\) or \(3,\).*for whole sequences use LSTM"):
        rnn.LSTMCell(3, 4)(np.zeros((6, 2, 3), np.float32))
    with pytest.raises(ValueError, match="at least one step"):
        rnn.RNN(3, 4)(np.zeros((0, 2, 3), np.float32))
    with pytest.raises(TypeError, match="floating-point"):
        rnn.RNN(3, 4)(np.zeros((5, 2, 3), np.int64))


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: rnn.RNN(3, 4, nonlinearity="sigmoid"), ValueError, "unknown nonlinearity 'sigmoid'; select from 'tanh' or 'relu'"),
        (lambda: rnn.RNNCell(3, 4, nonlinearity="gelu"), ValueError, "unknown nonlinearity 'gelu'"),
        (lambda: rnn.LSTM(3, 0), ValueError, r"LSTM: hidden_size must be greater than zero, got 0"),
        (lambda: rnn.GRU(0, 4), ValueError, "input_size must be greater than zero"),
        (lambda: rnn.GRUCell(3, 2.5), TypeError, "hidden_size must be an integer"),
        (lambda: rnn.RNN(3, 4, num_layers=0), ValueError, "num_layers must be a positive integer"),
        (lambda: rnn.LSTM(3, 4, num_layers=2, dropout=1.5), ValueError, r"dropout must be a number in \[0, 1\]"),
    ],
)
def test_bad_hyperparameters(make, error, message):
    with pytest.raises(error, match=message):
        make()
