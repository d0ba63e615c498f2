"""Every fused kernel against its readable reference, in values and gradients.

A fused op (``ops.LSTM``, ``ops.Conv2d``...) is fast because it hides the maths in array
tricks; its ``reference`` (``ops.LSTM.reference``) is the same maths composed from small
ops, the code a learner reads. This table ties each pair; ``with gn.reference_ops():``
routes the layers to the references (tested by training real models both ways).
"""
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from glassnet.optim.adam import adam_step_reference
from glassnet.optim.sgd import sgd_step_reference
from glassnet.tensor import Function


def _tensor(rng, *shape, grad=True):
    """A float64 tensor of standard normal values: float64 so that the two versions may
    differ only by rounding far below the tolerances."""
    return gn.tensor(rng.standard_normal(shape), requires_grad=grad)


# -- inputs of the recurrent, normalization, linear and cross-entropy rows ---------------------


def _recurrent(gates, states=1, bias=True, **options):
    """make(rng) for one recurrent layer: x (L=4, N=3, in=5), the states (N, H=6), weights
    scaled by 0.5 so that few gates saturate, and the two biases unless ``bias=False``."""
    def make(rng):
        def small(*shape):
            return gn.tensor(0.5 * rng.standard_normal(shape), requires_grad=True)
        args = [_tensor(rng, 4, 3, 5)] + [_tensor(rng, 3, 6) for _ in range(states)]
        args += [small(gates * 6, 5), small(gates * 6, 6)]
        args += [small(gates * 6), small(gates * 6)] if bias else []
        return args, options
    return make


def _batch_norm(shape, affine=True, training=True, running=True):
    """make(rng) for BatchNorm as ``F.batch_norm`` calls it: weight and bias tensors or
    neither, the running statistics as arrays (changed in place when training)."""
    def make(rng):
        channels = shape[1]
        args = [_tensor(rng, *shape)] + ([_tensor(rng, channels), _tensor(rng, channels)] if affine else [])
        stats = dict(running_mean=rng.standard_normal(channels), running_var=rng.uniform(0.5, 2, channels))
        return args, dict(stats if running else {}, training=training, momentum=0.2, eps=1e-3)
    return make


def _layer_norm(shape, normalized_ndim, weight=True, bias=True):
    def make(rng):
        affine = [_tensor(rng, *shape[-normalized_ndim:]) for present in (weight, bias) if present]
        options = dict(normalized_ndim=normalized_ndim, eps=1e-5, has_weight=weight, has_bias=bias)
        return [_tensor(rng, *shape), *affine], options
    return make


def _linear(x_shape, bias=True):
    def make(rng):
        return (_tensor(rng, *x_shape), _tensor(rng, 3, x_shape[-1]), _tensor(rng, 3) if bias else None), {}
    return make


def _cross_entropy(target, **options):
    """make(rng) for CrossEntropy as ``F.cross_entropy`` calls it: logits (5, 4), the
    target a tensor (class indices, or probabilities when ``target == "probabilities"``),
    the class weight an array."""
    def make(rng):
        targets = rng.dirichlet(np.ones(4), size=5) if target == "probabilities" else np.array(target)
        return (_tensor(rng, 5, 4), gn.tensor(targets)), options
    return make


CLASS_WEIGHT = np.array([1.0, 2.0, 0.5, 1.5])


def _attends_nowhere_mask(rng):
    """An additive (2, 1, 4, 4) mask, broadcast over heads, with query 2 of the first batch
    masked from every key, and key 3 hidden from every query of the second."""
    mask = rng.standard_normal((2, 1, 4, 4))
    mask[0, 0, 2] = mask[1, 0, :, 3] = -np.inf
    return mask


# name -> (op, make(rng) -> (positional arguments, options))
CASES = {
    "attention": (ops.Attention, lambda rng: ((_tensor(rng, 2, 3, 4, 5), _tensor(rng, 2, 3, 6, 5), _tensor(rng, 2, 3, 6, 7)),
                                              dict(scale=0.3))),
    "attention_masked_dropout": (ops.Attention, lambda rng: (
        (_tensor(rng, 2, 4, 5), _tensor(rng, 2, 6, 5), _tensor(rng, 2, 6, 3)),
        dict(mask=np.where(rng.random((4, 6)) < 0.3, -np.inf, 0.0), scale=0.5, dropout_p=0.25))),
    # a query masked from every key: zero weights and output, not NaN (see test_attention.py)
    "attention_attends_nowhere": (ops.Attention, lambda rng: (
        (_tensor(rng, 2, 3, 4, 5), _tensor(rng, 2, 3, 4, 5), _tensor(rng, 2, 3, 4, 5)),
        dict(mask=_attends_nowhere_mask(rng), scale=0.3, dropout_p=0.4))),
    # keys and values shared by the heads (broadcast views): their gradients are summed back
    "attention_shared_keys": (ops.Attention, lambda rng: (
        (_tensor(rng, 2, 3, 4, 5), _tensor(rng, 2, 1, 6, 5), _tensor(rng, 2, 1, 6, 4)), dict(scale=0.3))),
    # a causal mask: the first half of the queries is computed with only the keys it sees
    "attention_causal_dropout": (ops.Attention, lambda rng: (
        (_tensor(rng, 2, 3, 6, 5), _tensor(rng, 2, 3, 8, 5), _tensor(rng, 2, 3, 8, 4)),
        dict(mask=np.triu(np.full((6, 8), -np.inf), 1), scale=0.4, dropout_p=0.3))),
    "attention_first_half_blind": (ops.Attention, lambda rng: (
        (_tensor(rng, 2, 5, 5), _tensor(rng, 2, 5, 5), _tensor(rng, 2, 5, 3)),
        dict(mask=np.where(np.arange(5)[:, None] < 2, -np.inf, rng.standard_normal((5, 5))), scale=0.5))),
    # -- recurrent, normalization, linear, cross-entropy ------------------------------------
    "rnn_tanh": (ops.RNN, _recurrent(1)),
    "rnn_relu_reverse": (ops.RNN, _recurrent(1, nonlinearity="relu", reverse=True)),
    "rnn_no_bias": (ops.RNN, _recurrent(1, bias=False, nonlinearity="tanh")),
    "lstm": (ops.LSTM, _recurrent(4, states=2)),
    "lstm_reverse": (ops.LSTM, _recurrent(4, states=2, reverse=True)),
    "lstm_no_bias_reverse": (ops.LSTM, _recurrent(4, states=2, bias=False, reverse=True)),
    "gru": (ops.GRU, _recurrent(3)),
    "gru_reverse": (ops.GRU, _recurrent(3, reverse=True)),
    "gru_no_bias": (ops.GRU, _recurrent(3, bias=False)),
    "batch_norm_2d_training": (ops.BatchNorm, _batch_norm((6, 3))),
    "batch_norm_4d_training": (ops.BatchNorm, _batch_norm((4, 3, 2, 5))),
    "batch_norm_4d_training_no_affine": (ops.BatchNorm, _batch_norm((4, 3, 2, 5), affine=False)),
    "batch_norm_4d_training_no_running_stats": (ops.BatchNorm, _batch_norm((4, 3, 2, 5), running=False)),
    "batch_norm_2d_eval_no_affine": (ops.BatchNorm, _batch_norm((6, 3), affine=False, training=False)),
    "batch_norm_4d_eval": (ops.BatchNorm, _batch_norm((4, 3, 2, 5), training=False)),
    "layer_norm_last_axis": (ops.LayerNorm, _layer_norm((5, 2, 6), 1)),
    "layer_norm_two_axes": (ops.LayerNorm, _layer_norm((5, 2, 6), 2)),
    "layer_norm_no_affine": (ops.LayerNorm, _layer_norm((5, 2, 6), 1, weight=False, bias=False)),
    "layer_norm_two_axes_weight_only": (ops.LayerNorm, _layer_norm((5, 2, 6), 2, bias=False)),
    "layer_norm_bias_only": (ops.LayerNorm, _layer_norm((3, 6), 1, weight=False)),
    "linear": (ops.Linear, _linear((5, 4))),
    "linear_3d": (ops.Linear, _linear((2, 3, 4))),
    "linear_no_bias": (ops.Linear, _linear((5, 4), bias=False)),
    "linear_3d_no_bias": (ops.Linear, _linear((2, 3, 4), bias=False)),
    "linear_1d": (ops.Linear, _linear((4,))),
    "cross_entropy": (ops.CrossEntropy, _cross_entropy([0, 3, 1, 1, 2])),
    "cross_entropy_weight_ignored": (ops.CrossEntropy, _cross_entropy(
        [0, -100, 1, 3, -100], weight=CLASS_WEIGHT)),
    "cross_entropy_weight_ignore_index_sum": (ops.CrossEntropy, _cross_entropy(
        [0, 3, 1, 1, 2], weight=CLASS_WEIGHT, ignore_index=3, reduction="sum")),
    "cross_entropy_ignored_none": (ops.CrossEntropy, _cross_entropy([0, -100, 1, 3, -100], reduction="none")),
    "cross_entropy_smoothing_weight_ignored": (ops.CrossEntropy, _cross_entropy(
        [0, -100, 1, 3, 2], weight=CLASS_WEIGHT, label_smoothing=0.1)),
    "cross_entropy_smoothing_none": (ops.CrossEntropy, _cross_entropy(
        [0, 3, 1, 1, 2], label_smoothing=0.25, reduction="none")),
    "cross_entropy_probabilities": (ops.CrossEntropy, _cross_entropy("probabilities")),
    "cross_entropy_probabilities_weight_smoothing_sum": (ops.CrossEntropy, _cross_entropy(
        "probabilities", weight=CLASS_WEIGHT, label_smoothing=0.2, reduction="sum")),
    # -- convolution, pooling, GELU ---------------------------------------------------------
    "conv2d_strided_dilated_asymmetric": (ops.Conv2d, lambda rng: (
        (_tensor(rng, 2, 4, 7, 8), _tensor(rng, 5, 4, 3, 2), _tensor(rng, 5)),
        dict(stride=(2, 1), padding=((1, 0), (2, 1)), dilation=(1, 2)))),
    "conv2d_groups_no_bias": (ops.Conv2d, lambda rng: (
        (_tensor(rng, 2, 4, 6, 5), _tensor(rng, 6, 2, 3, 3)), dict(padding=((1, 1), (1, 1)), groups=2))),
    "conv2d_depthwise": (ops.Conv2d, lambda rng: (
        (_tensor(rng, 2, 3, 6, 7), _tensor(rng, 6, 1, 2, 3), _tensor(rng, 6)),
        dict(stride=(1, 2), padding=((0, 1), (1, 0)), dilation=(2, 1), groups=3))),
    # the transposed convolution: patches overlap in height, lie apart in width; output_padding 1 within the padding
    "conv_transpose2d_strided_output_padding": (ops.ConvTranspose2d, lambda rng: (
        (_tensor(rng, 2, 4, 4, 3), _tensor(rng, 4, 3, 3, 2), _tensor(rng, 3)),
        dict(stride=(2, 3), padding=((1, 0), (1, 0)), dilation=(1, 1)))),
    # output_padding 1 beyond zero padding (negative bottom): a row past every patch
    "conv_transpose2d_groups_dilated_past_patches": (ops.ConvTranspose2d, lambda rng: (
        (_tensor(rng, 2, 4, 3, 4), _tensor(rng, 4, 3, 2, 3)),
        dict(stride=(2, 1), padding=((0, -1), (1, 1)), dilation=(1, 2), groups=2))),
    # windows overlap (stride < kernel) over -inf padding
    "max_pool2d_overlapping_padded": (ops.MaxPool2d, lambda rng: (
        (_tensor(rng, 2, 3, 7, 6),),
        dict(kernel_size=(3, 3), stride=(2, 1), padding=(1, 1), dilation=(1, 1), out_size=(4, 6)))),
    # ceil_mode's out_size: the last row of windows hangs over the bottom edge
    "max_pool2d_dilated_ceil_mode": (ops.MaxPool2d, lambda rng: (
        (_tensor(rng, 2, 2, 8, 9),),
        dict(kernel_size=(2, 3), stride=(2, 2), padding=(1, 1), dilation=(2, 1), out_size=(5, 5)))),
    "gelu": (ops.GELU, lambda rng: ((_tensor(rng, 3, 4, 5),), {})),
    "gelu_tanh": (ops.GELU, lambda rng: ((_tensor(rng, 3, 4, 5),), dict(approximate="tanh"))),
}


def _outputs(result):
    return result if isinstance(result, tuple) else (result,)


def _run(run, make):
    """Outputs and input gradients of one version, from the same inputs and random state."""
    args, options = make(np.random.default_rng(0))
    gn.seed(0)  # dropout draws the same mask in both versions
    outputs = _outputs(run(*args, **options))
    upstream = np.random.default_rng(1)
    differentiable = [o for o in outputs if o.requires_grad]
    if differentiable:
        sum((o * gn.tensor(upstream.standard_normal(o.shape))).sum() for o in differentiable).backward()
    inputs = [a for a in args if isinstance(a, gn.Tensor) and a.requires_grad]
    return [o.numpy() for o in outputs], [None if a.grad is None else a.grad.numpy() for a in inputs]


@pytest.fixture(params=["one thread", "split over threads"])
def threads(request, split_threads):
    """The kernels that split their work over threads (glassnet.threads) do so only for
    large arrays; the second run splits even these small ones, into three uneven blocks."""
    if request.param == "split over threads":
        split_threads()
    yield request.param


@pytest.mark.parametrize("name", CASES)
def test_fused_op_equals_its_reference(name, threads):
    op, make = CASES[name]
    assert op.reference is not None, f"{op.__name__} has no reference"
    (fused_out, fused_grads), (ref_out, ref_grads) = _run(op.apply, make), _run(op.reference, make)
    assert len(fused_out) == len(ref_out)
    for i, (mine, want) in enumerate(zip(fused_out, ref_out)):
        assert mine.shape == want.shape and mine.dtype == want.dtype, f"output {i}"
        np.testing.assert_allclose(mine, want, rtol=1e-7, atol=1e-9, err_msg=f"output {i}")
    for i, (mine, want) in enumerate(zip(fused_grads, ref_grads)):
        assert (mine is None) == (want is None), f"gradient of input {i}"
        if mine is not None:
            np.testing.assert_allclose(mine, want, rtol=1e-7, atol=1e-9, err_msg=f"gradient of input {i}")


@pytest.mark.parametrize("name", [name for name in CASES if name.startswith("batch_norm") and "training" in name])
def test_batch_norm_reference_updates_the_running_statistics_as_the_fused_op(name):
    """Training mode also moves the running mean and (unbiased) variance, in place: both
    versions must leave the same numbers there."""
    op, make = CASES[name]
    (_, before), (_, fused), (_, reference) = (make(np.random.default_rng(0)) for _ in range(3))
    op.apply(*make(np.random.default_rng(0))[0], **fused)
    op.reference(*make(np.random.default_rng(0))[0], **reference)
    for key in ("running_mean", "running_var"):
        if before.get(key) is None:
            assert fused.get(key) is None and reference.get(key) is None
            continue
        assert not np.allclose(fused[key], before[key]), f"{key} was not updated"
        np.testing.assert_allclose(reference[key], fused[key], rtol=1e-12, atol=0, err_msg=key)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_fused_op_has_a_tested_reference():
    with_reference = {cls.__name__ for cls in _subclasses(Function) if cls.reference is not None}
    assert with_reference == {op.__name__ for op, _ in CASES.values()}


def test_the_switch_routes_apply_to_the_reference_and_back():
    q = gn.randn(1, 2, 3, requires_grad=True)
    assert gn.nn.functional.scaled_dot_product_attention(q, q, q).grad_fn.name() == "AttentionBackward"
    with gn.reference_ops():
        assert gn.reference_ops_enabled()
        assert gn.nn.functional.scaled_dot_product_attention(q, q, q).grad_fn.name() != "AttentionBackward"
    assert not gn.reference_ops_enabled()


# -- optimizer steps ---------------------------------------------------------------------
#
# Under ``gn.reference_ops()`` an optimizer's step of each parameter is its plain-maths
# reference (``sgd_step_reference``, ``adam_step_reference``), on the same state entries.

# name -> (optimizer, its reference, options)
OPTIMIZER_CASES = {
    "sgd": ("SGD", sgd_step_reference, dict(lr=0.1)),
    "sgd_momentum": ("SGD", sgd_step_reference, dict(lr=0.1, momentum=0.9)),
    "sgd_nesterov_weight_decay": ("SGD", sgd_step_reference, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    "sgd_dampening_maximize": ("SGD", sgd_step_reference, dict(lr=0.1, momentum=0.8, dampening=0.3, maximize=True)),
    "adam": ("Adam", adam_step_reference, dict(lr=0.01)),
    "adam_weight_decay_amsgrad": ("Adam", adam_step_reference, dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    "adam_maximize": ("Adam", adam_step_reference, dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6, maximize=True)),
    "adamw": ("AdamW", adam_step_reference, dict(lr=0.01, weight_decay=0.1)),
    "adamw_amsgrad_maximize": ("AdamW", adam_step_reference, dict(lr=0.01, amsgrad=True, maximize=True)),
}


def _optimize(name, options, reference_steps, steps=6):
    """Parameters (a vector, a matrix, a 0-d scalar) and their states after ``steps`` steps
    with the same gradients, the steps in ``reference_steps`` taken in reference mode."""
    rng = np.random.default_rng(0)
    params = [gn.nn.Parameter(rng.standard_normal(shape).astype(np.float32)) for shape in [(3,), (4, 5), ()]]
    optimizer = getattr(gn.optim, name)(params, **options)
    for step in range(steps):
        for p in params:
            p.grad = rng.standard_normal(p.shape).astype(np.float32)
        with gn.reference_ops(step in reference_steps):
            optimizer.step()
    return [p.numpy() for p in params], [optimizer.state[p] for p in params]


@pytest.mark.parametrize("reference_steps", [range(6), {1, 2, 4}], ids=["reference", "switching_back_and_forth"])
@pytest.mark.parametrize("case", OPTIMIZER_CASES)
def test_optimizer_step_equals_its_reference(case, reference_steps, monkeypatch):
    name, reference, options = OPTIMIZER_CASES[case]
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return reference(*args, **kwargs)

    monkeypatch.setattr(sys.modules[reference.__module__], reference.__name__, counted)
    fused_params, fused_state = _optimize(name, options, reference_steps=())
    assert not calls
    params, state = _optimize(name, options, reference_steps)
    assert len(calls) == 3 * len(reference_steps)  # once per parameter and reference step
    for i, (mine, want) in enumerate(zip(params, fused_params)):
        assert mine.shape == want.shape and mine.dtype == want.dtype, f"parameter {i}"
        np.testing.assert_allclose(mine, want, rtol=1e-5, atol=1e-6, err_msg=f"parameter {i}")
    for i, (mine, want) in enumerate(zip(state, fused_state)):
        assert mine.keys() == want.keys(), f"state of parameter {i}"
        for key in want:
            assert np.shape(mine[key]) == np.shape(want[key]) and np.asarray(mine[key]).dtype == np.asarray(want[key]).dtype
            np.testing.assert_allclose(mine[key], want[key], rtol=1e-5, atol=1e-6, err_msg=f"{key} of parameter {i}")


class _Recurrent(gn.nn.Module):
    """Every recurrent layer in one model: a 2-layer bidirectional LSTM, a 2-layer GRU and
    a 2-layer ReLU RNN, then a linear head on the RNN's last state."""

    def __init__(self):
        super().__init__()
        self.lstm = gn.nn.LSTM(3, 5, num_layers=2, bidirectional=True)
        self.gru = gn.nn.GRU(10, 4, num_layers=2)
        self.rnn = gn.nn.RNN(4, 4, num_layers=2, nonlinearity="relu")
        self.head = gn.nn.Linear(4, 2)

    def forward(self, x):
        x, _ = self.lstm(x)
        x, _ = self.gru(x)
        _, h_n = self.rnn(x)
        return self.head(h_n[-1])


def _train_recurrent(reference):
    """The weights after 3 SGD steps on random data, from seed 0."""
    gn.seed(0)
    model = _Recurrent()
    optimizer = gn.optim.SGD(model.parameters(), lr=0.5)
    rng = np.random.default_rng(0)
    with gn.reference_ops(reference):
        for _ in range(3):
            x = gn.tensor(rng.standard_normal((6, 4, 3)).astype(np.float32))  # (L, N, features)
            loss = gn.nn.functional.cross_entropy(model(x), rng.integers(0, 2, 4))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return {name: np.array(value) for name, value in model.state_dict().items()}


def test_reference_mode_trains_recurrent_layers_to_the_same_numbers():
    gn.seed(0)
    initial = {name: np.array(value) for name, value in _Recurrent().state_dict().items()}
    fused, reference = _train_recurrent(False), _train_recurrent(True)
    assert fused.keys() == reference.keys() == initial.keys()
    assert not np.allclose(fused["lstm.weight_hh_l1_reverse"], initial["lstm.weight_hh_l1_reverse"])  # it trained
    for name in fused:
        np.testing.assert_allclose(reference[name], fused[name], rtol=1e-4, atol=1e-6, err_msg=name)
