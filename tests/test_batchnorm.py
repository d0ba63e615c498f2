"""Specification of BatchNorm1d, BatchNorm2d, batch_norm and Dropout2d.

Batch norm is checked against PyTorch in training and evaluation mode (outputs, the
gradients of the input, weight and bias, and the running statistics after several steps),
and against calculus (gn.gradcheck). The fused op against its readable reference
(``ops.batch_norm_reference``, the formula from tensor ops) is in tests/test_references.py.
"""
import numpy as np
import pytest
import torch

import glassnet as gn
from glassnet import ops
from glassnet.nn.batchnorm import BatchNorm1d, BatchNorm2d
from glassnet.nn.dropout import Dropout2d
from glassnet.nn.functional import batch_norm, dropout2d


# (name, layer factory taking either library's module namespace, input shape)
LAYERS = [
    ("2d", lambda m: m.BatchNorm2d(3), (4, 3, 5, 6)),
    ("2d_no_affine", lambda m: m.BatchNorm2d(3, affine=False), (4, 3, 5, 6)),
    ("2d_no_bias", lambda m: m.BatchNorm2d(3, bias=False), (4, 3, 5, 6)),
    ("2d_momentum_eps", lambda m: m.BatchNorm2d(3, eps=1e-3, momentum=0.5), (4, 3, 5, 6)),
    ("2d_cumulative_average", lambda m: m.BatchNorm2d(3, momentum=None), (4, 3, 5, 6)),
    ("2d_no_running_stats", lambda m: m.BatchNorm2d(3, track_running_stats=False), (4, 3, 5, 6)),
    ("1d_features", lambda m: m.BatchNorm1d(5), (8, 5)),
    ("1d_sequences", lambda m: m.BatchNorm1d(4), (3, 4, 7)),
    ("1d_no_affine", lambda m: m.BatchNorm1d(5, affine=False, momentum=None), (8, 5)),
]
IDS = [layer[0] for layer in LAYERS]


def _batches(shape, count, seed=0):
    rng = np.random.default_rng(seed)
    # each batch with its own scale and offset, so that the running statistics move
    return [(rng.standard_normal(shape) * (1 + i) + i).astype(np.float32) for i in range(count)]


def _compare_step(mine, theirs, data, seed):
    x, tx = gn.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    out, expected = mine(x), theirs(tx)
    assert out.shape == tuple(expected.shape) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-5, atol=2e-5, err_msg="output")
    upstream = np.random.default_rng(seed).standard_normal(out.shape).astype(np.float32)
    mine.zero_grad(), theirs.zero_grad()
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-4, atol=2e-5, err_msg="input gradient")
    for name, param in theirs.named_parameters():
        np.testing.assert_allclose(getattr(mine, name).grad, param.grad.numpy(), rtol=1e-4, atol=2e-5, err_msg=name)


def _compare_state(mine, theirs):
    state, expected = mine.state_dict(), theirs.state_dict()
    assert list(state) == list(expected)
    for name, value in expected.items():
        assert state[name].dtype == np.dtype(str(value.dtype).removeprefix("torch.")), name
        np.testing.assert_allclose(state[name], value.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("name, make, shape", LAYERS, ids=IDS)
def test_batch_norm_matches_pytorch_in_training_then_evaluation(name, make, shape, load_torch_weights):
    torch.manual_seed(0)
    theirs = make(torch.nn)
    with torch.no_grad():  # not the default ones and zeros, so that they matter
        for param in theirs.parameters():
            param.uniform_(0.5, 1.5)
    mine = load_torch_weights(make(gn.nn), theirs)
    assert repr(mine) == repr(theirs)
    assert [(n, p.shape) for n, p in mine.named_parameters()] == [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]

    for step, data in enumerate(_batches(shape, 3)):  # training: batch statistics, running ones updated
        _compare_step(mine, theirs, data, seed=step)
        _compare_state(mine, theirs)
    mine.eval(), theirs.eval()
    for step, data in enumerate(_batches(shape, 2, seed=1)):  # evaluation: running statistics, left alone
        _compare_step(mine, theirs, data, seed=10 + step)
        _compare_state(mine, theirs)


@pytest.mark.parametrize("name, make, shape", LAYERS, ids=IDS)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_batch_norm_gradcheck(name, make, shape, mode):
    gn.seed(0)
    layer = make(gn.nn).double()
    for param in layer.parameters():
        param.data[...] = np.random.default_rng(1).uniform(0.5, 1.5, param.shape)
    if layer.running_mean is not None:
        layer.running_mean.data[...] = np.random.default_rng(2).standard_normal(layer.running_mean.shape)
        layer.running_var.data[...] = np.random.default_rng(3).uniform(0.5, 2, layer.running_var.shape)
    layer.train(mode == "train")
    x = gn.tensor(np.random.default_rng(4).standard_normal(shape), requires_grad=True)
    params = list(layer.parameters())
    assert gn.gradcheck(lambda x, *params: layer(x), [x, *params])


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_functional_batch_norm_gradcheck(training):
    rng = np.random.default_rng(0)
    x = gn.tensor(rng.standard_normal((4, 3, 2, 3)), requires_grad=True)
    weight = gn.tensor(rng.uniform(0.5, 1.5, 3), requires_grad=True)
    bias = gn.tensor(rng.standard_normal(3), requires_grad=True)
    mean, var = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    assert gn.gradcheck(lambda x, w, b: batch_norm(x, mean.copy(), var.copy(), w, b, training=training), [x, weight, bias])


def test_running_statistics_follow_pytorch_over_many_steps(load_torch_weights):
    theirs, mine = torch.nn.BatchNorm2d(4), BatchNorm2d(4)
    for data in _batches((6, 4, 3, 3), 12):
        mine(gn.tensor(data)), theirs(torch.tensor(data))
    _compare_state(mine, theirs)
    assert int(mine.num_batches_tracked.numpy()) == 12
    # the variance is the unbiased one (n - 1), as in PyTorch: one step from (0, 1) with momentum 1
    layer = BatchNorm1d(1, momentum=1.0)
    layer(gn.tensor([[1.0], [3.0]]))
    np.testing.assert_allclose(layer.running_mean.numpy(), [2.0])
    np.testing.assert_allclose(layer.running_var.numpy(), [2.0])  # ((1-2)^2 + (3-2)^2) / (2 - 1)


def test_training_output_is_standardized_per_channel():
    data = _batches((16, 3, 4, 4), 1)[0] * 5 + 2
    out = BatchNorm2d(3)(gn.tensor(data)).numpy()
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, rtol=1e-3)


def test_evaluation_uses_running_statistics_and_leaves_them_alone():
    layer = BatchNorm2d(2).eval()
    layer.running_mean.data[...] = [1.0, -1.0]
    layer.running_var.data[...] = [4.0, 0.25]
    x = np.ones((1, 2, 1, 1), np.float32)  # a batch of one is fine in evaluation
    out = layer(gn.tensor(x)).numpy().ravel()
    np.testing.assert_allclose(out, [0.0, 2.0 / np.sqrt(0.25 + 1e-5)], rtol=1e-6)
    np.testing.assert_array_equal(layer.running_mean.numpy(), [1.0, -1.0])
    assert int(layer.num_batches_tracked.numpy()) == 0


@pytest.mark.parametrize("training", [True, False], ids=["training", "evaluation"])
def test_without_gradients_the_output_is_the_same_and_nothing_is_kept(training):
    """With no gradient to come (gn.no_grad, as in inference), the standardized input is
    made in the output's memory, not kept for a backward pass: the output bit for bit
    as with gradients."""
    data = _batches((8, 3, 5, 5), 1)[0] * 3 + 1
    layer = BatchNorm2d(3)
    layer.weight.data[...], layer.bias.data[...] = [0.5, 2.0, -1.0], [0.1, 0.0, -0.3]
    layer.train(training)
    with_grad = layer(gn.tensor(data, requires_grad=True))
    with gn.no_grad():
        without = layer(gn.tensor(data))
    assert with_grad.numpy().tobytes() == without.numpy().tobytes()
    assert with_grad.grad_fn.x_hat is not None


def test_state_dict_keys_and_buffers_match_pytorch(load_torch_weights):
    def model(m):
        return m.Sequential(m.Linear(4, 3), m.BatchNorm1d(3), m.ReLU())

    assert gn.nn.BatchNorm1d is BatchNorm1d and gn.nn.functional.batch_norm is batch_norm  # exported by glassnet.nn
    mine, theirs = model(gn.nn), model(torch.nn)
    assert list(mine.state_dict()) == list(theirs.state_dict()) == [
        "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked",
    ]
    assert [n for n, _ in mine.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in mine.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert mine.state_dict()["1.num_batches_tracked"].dtype == np.int64 and mine.state_dict()["1.num_batches_tracked"].shape == ()
    for data in _batches((5, 4), 3):
        theirs(torch.tensor(data))
    load_torch_weights(mine, theirs)
    _compare_state(mine, theirs)
    assert list(BatchNorm2d(3, track_running_stats=False).state_dict()) == ["weight", "bias"]
    assert list(BatchNorm2d(3, affine=False).state_dict()) == ["running_mean", "running_var", "num_batches_tracked"]


def test_double_converts_statistics_but_keeps_the_count_an_integer():
    layer = BatchNorm2d(3).double()
    assert layer.weight.dtype == layer.running_mean.dtype == layer.running_var.dtype == np.float64
    assert layer.num_batches_tracked.dtype == np.int64
    assert layer(gn.tensor(np.ones((2, 3, 2, 2)))).dtype == np.float64


def test_batch_norm_gives_the_same_result_in_either_memory_layout():
    """Convolutions hand on (N, C, H, W) views of batch-last memory (see conv.py); batch
    norm keeps that layout, and its values do not depend on it."""
    data = _batches((4, 3, 5, 6), 1)[0]
    upstream = np.random.default_rng(1).standard_normal(data.shape).astype(np.float32)
    results = []
    for batch_last in (False, True):
        arrays = [data, upstream]
        if batch_last:
            arrays = [np.ascontiguousarray(a.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2) for a in arrays]
        layer = BatchNorm2d(3)
        x = gn.tensor(arrays[0], requires_grad=True)
        out = layer(x)
        assert out.numpy().transpose(1, 2, 3, 0).flags.c_contiguous == batch_last
        out.backward(arrays[1])
        results.append((out.numpy(), x.grad, layer.weight.grad, layer.bias.grad, layer.running_var.numpy()))
    for nchw, batch_last in zip(*results):
        np.testing.assert_allclose(nchw, batch_last, rtol=1e-5, atol=1e-6)


def test_functional_batch_norm_matches_pytorch(torch_parity):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((4, 3, 5)).astype(np.float32)
    weight, bias = rng.uniform(0.5, 1.5, 3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    mean, var = np.zeros(3, np.float32), np.ones(3, np.float32)
    t_mean, t_var = torch.zeros(3), torch.ones(3)
    torch_parity(
        lambda x, w, b: batch_norm(x, mean, var, w, b, training=True, momentum=0.3),
        lambda x, w, b: torch.nn.functional.batch_norm(x, t_mean, t_var, w, b, training=True, momentum=0.3),
        data, weight, bias, rtol=1e-5, atol=2e-5,
    )
    np.testing.assert_allclose(mean, t_mean.numpy(), rtol=1e-6)  # updated in place, as PyTorch's
    np.testing.assert_allclose(var, t_var.numpy(), rtol=1e-6)
    torch_parity(
        lambda x: batch_norm(x, mean, var, training=False),
        lambda x: torch.nn.functional.batch_norm(x, t_mean, t_var, training=False),
        data, rtol=1e-5, atol=2e-5,
    )


def test_batch_norm_op_skips_the_input_gradient_when_not_needed():
    weight = gn.tensor(np.ones(3, np.float32), requires_grad=True)
    x = gn.tensor(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32))
    out = ops.BatchNorm.apply(x, weight, gn.tensor(np.zeros(3, np.float32)), training=True)
    out.sum().backward()
    assert weight.grad is not None and x.grad is None


# -- errors ------------------------------------------------------------------------------------


def test_batch_norm_2d_wrong_channel_count_names_layer_and_shapes():
    layer = BatchNorm2d(32)
    with pytest.raises(ValueError, match=r"^BatchNorm2d\(32, eps=1e-05, .*\): expected input with 32 channels, got \(8, 16, 14, 14\).*num_features=16"):
        layer(gn.tensor(np.zeros((8, 16, 14, 14), np.float32)))


def test_batch_norm_wrong_dimensions():
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3, .*expected a 4-D input \(N, C, H, W\), got shape \(3, 8, 8\).*unsqueeze\(0\)"):
        BatchNorm2d(3)(gn.tensor(np.zeros((3, 8, 8), np.float32)))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3, .*expected a 2-D \(N, C\) or 3-D \(N, C, L\) input, got shape \(2, 3, 4, 4\).*BatchNorm2d"):
        BatchNorm1d(3)(gn.tensor(np.zeros((2, 3, 4, 4), np.float32)))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3, .*expected input with 3 channels, got \(2, 7, 3\).*permute\(0, 2, 1\)"):
        BatchNorm1d(3)(gn.tensor(np.zeros((2, 7, 3), np.float32)))


def test_batch_norm_needs_more_than_one_value_per_channel_in_training():
    with pytest.raises(ValueError, match=r"more than 1 value per channel when training, got input of shape \(1, 3\).*eval\(\)"):
        BatchNorm1d(3)(gn.tensor(np.zeros((1, 3), np.float32)))
    BatchNorm1d(3).eval()(gn.tensor(np.zeros((1, 3), np.float32)))  # fine in evaluation


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: BatchNorm2d(0), r"BatchNorm2d: num_features must be a positive int"),
        (lambda: BatchNorm2d(3.0), r"BatchNorm2d: num_features must be a positive int"),
        (lambda: BatchNorm1d(3, eps=0), r"BatchNorm1d: eps must be positive"),
        (lambda: BatchNorm1d(3, momentum=1.5), r"BatchNorm1d: momentum must be between 0 and 1"),
    ],
    ids=["features_zero", "features_float", "eps", "momentum"],
)
def test_batch_norm_bad_hyperparameters(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_functional_batch_norm_checks_its_arguments():
    x = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"batch_norm: running_mean of shape \(4,\) for an input of shape \(4, 3\)"):
        batch_norm(x, np.zeros(4, np.float32), np.ones(4, np.float32))
    with pytest.raises(ValueError, match=r"running_mean and running_var are needed when training=False"):
        batch_norm(x, None, None)
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got shape \(4,\)"):
        batch_norm(np.zeros(4, np.float32), None, None, training=True)


# -- Dropout2d -----------------------------------------------------------------------------------


def test_dropout2d_zeroes_whole_channels_with_probability_p():
    gn.seed(0)
    x = gn.tensor(np.ones((100, 64, 3, 3), np.float32), requires_grad=True)
    out = Dropout2d(p=0.3)(x).numpy()
    per_map = out.reshape(100, 64, 9)
    assert (per_map == per_map[..., :1]).all()  # each map is all dropped or all kept
    dropped = (per_map[..., 0] == 0).mean()
    assert dropped == pytest.approx(0.3, abs=0.03)  # 6,400 channels: about 5 standard deviations
    np.testing.assert_allclose(per_map[per_map != 0], 1 / 0.7, rtol=1e-6)


def test_dropout2d_gradient_uses_the_same_mask():
    x = gn.tensor(np.random.default_rng(0).standard_normal((4, 6, 2, 3)).astype(np.float32), requires_grad=True)
    out = dropout2d(x, 0.5, generator=np.random.default_rng(3))
    out.sum().backward()
    mask = out.numpy() / x.numpy()
    np.testing.assert_allclose(x.grad, mask, rtol=1e-6)
    assert gn.gradcheck(lambda t: dropout2d(t, 0.4, generator=np.random.default_rng(7)), [gn.tensor(x.numpy(), requires_grad=True)])


def test_dropout2d_layer_gradcheck():
    layer = Dropout2d(0.5)
    x = gn.tensor(np.random.default_rng(0).standard_normal((3, 4, 2, 2)), requires_grad=True)

    def same_mask_every_call(x):
        gn.seed(3)  # the layer draws from glassnet's generator: reset it so each evaluation drops the same channels
        return layer(x)

    assert gn.gradcheck(same_mask_every_call, [x])
    assert (same_mask_every_call(x).numpy() == 0).any()  # some channels were dropped


def test_dropout2d_in_eval_mode_and_edge_probabilities():
    x = gn.tensor(np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32))
    np.testing.assert_array_equal(Dropout2d(0.5).eval()(x).numpy(), x.numpy())
    np.testing.assert_array_equal(Dropout2d(0.0)(x).numpy(), x.numpy())
    np.testing.assert_array_equal(Dropout2d(1.0)(x).numpy(), 0.0)
    assert repr(Dropout2d(0.2)) == "Dropout2d(p=0.2, inplace=False)"  # as PyTorch's
    assert dropout2d(gn.tensor(np.ones((2, 3, 5), np.float32)), 0.5).shape == (2, 3, 5)  # (N, C, L) as in PyTorch


def test_dropout2d_masks_follow_the_seed():
    x = gn.tensor(np.ones((8, 8, 2, 2), np.float32))
    gn.seed(1)
    first = Dropout2d(0.5)(x).numpy()
    gn.seed(1)
    np.testing.assert_array_equal(Dropout2d(0.5)(x).numpy(), first)
    assert not np.array_equal(Dropout2d(0.5)(x).numpy(), first)


def test_dropout2d_is_exported_by_glassnet_nn():
    assert gn.nn.Dropout2d is Dropout2d and gn.nn.functional.dropout2d is dropout2d


def test_dropout2d_errors():
    with pytest.raises(ValueError, match="Dropout2d: p must be between 0 and 1, got 1.5"):
        Dropout2d(1.5)
    with pytest.raises(ValueError, match=r"dropout2d: expected a 4-D input \(N, C, H, W\).*got shape \(8, 10\)"):
        dropout2d(np.zeros((8, 10), np.float32))
