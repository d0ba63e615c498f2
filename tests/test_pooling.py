"""Specification of MaxPool2d, AvgPool2d and AdaptiveAvgPool2d (and their functional
forms): PyTorch's arguments, output sizes (floor and ceil mode), padding rules and
gradients, checked against calculus and against PyTorch.
"""
import numpy as np
import pytest
import torch

import glassnet as gn
from glassnet import nn
from glassnet.nn.functional import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from glassnet.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d

TF = torch.nn.functional

# (name, layer factory taking either library's module namespace, input shape)
LAYERS = [
    ("max_2", lambda m: m.MaxPool2d(2), (2, 3, 8, 6)),
    ("max_2_odd_sizes", lambda m: m.MaxPool2d(2), (2, 3, 7, 5)),
    ("max_3_stride_2_pad_1", lambda m: m.MaxPool2d(3, 2, 1), (2, 2, 7, 8)),
    ("max_3_stride_1_overlapping", lambda m: m.MaxPool2d(3, stride=1), (2, 2, 5, 6)),
    ("max_3_tiled_remainder", lambda m: m.MaxPool2d(3), (2, 2, 8, 7)),
    ("max_ceil_mode", lambda m: m.MaxPool2d(3, 2, ceil_mode=True), (2, 2, 8, 8)),
    ("max_ceil_mode_padded", lambda m: m.MaxPool2d(2, 2, 1, ceil_mode=True), (2, 2, 5, 6)),
    ("max_dilation", lambda m: m.MaxPool2d(2, stride=1, dilation=2), (2, 2, 6, 5)),
    ("max_everything", lambda m: m.MaxPool2d((2, 3), (1, 2), (1, 1), dilation=(2, 1), ceil_mode=True), (2, 2, 7, 8)),
    ("avg_2", lambda m: m.AvgPool2d(2), (2, 3, 8, 6)),
    ("avg_2_odd_sizes", lambda m: m.AvgPool2d(2), (2, 3, 7, 5)),
    ("avg_3_stride_2_pad_1", lambda m: m.AvgPool2d(3, 2, 1), (2, 2, 7, 8)),
    ("avg_pad_not_counted", lambda m: m.AvgPool2d(3, 2, 1, count_include_pad=False), (2, 2, 7, 8)),
    ("avg_ceil_mode", lambda m: m.AvgPool2d(3, 2, ceil_mode=True), (2, 2, 8, 8)),
    ("avg_ceil_mode_padded", lambda m: m.AvgPool2d(3, 2, 1, ceil_mode=True), (2, 2, 8, 8)),
    ("avg_ceil_mode_pad_not_counted", lambda m: m.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False), (2, 2, 8, 8)),
    ("avg_non_square", lambda m: m.AvgPool2d((3, 2), (2, 1), (1, 0)), (2, 2, 7, 5)),
    ("avg_divisor_override", lambda m: m.AvgPool2d(2, 1, 1, divisor_override=3), (2, 2, 4, 5)),
    ("adaptive_global", lambda m: m.AdaptiveAvgPool2d(1), (2, 3, 7, 6)),
    ("adaptive_divides", lambda m: m.AdaptiveAvgPool2d((4, 3)), (2, 3, 8, 6)),
    ("adaptive_overlapping", lambda m: m.AdaptiveAvgPool2d((5, 3)), (2, 3, 9, 7)),
    ("adaptive_keep_width", lambda m: m.AdaptiveAvgPool2d((4, None)), (2, 3, 9, 7)),
    ("adaptive_larger_than_input", lambda m: m.AdaptiveAvgPool2d((5, 4)), (2, 3, 3, 2)),
]
IDS = [layer[0] for layer in LAYERS]


def _distinct(shape, seed=0, dtype=np.float32):
    """Values 0.1 apart in random order: no two tie, so the maximum of every window (and
    its derivative) is well defined even under finite differences."""
    values = np.random.default_rng(seed).permutation(int(np.prod(shape))).reshape(shape) * 0.1 - 1.0
    return values.astype(dtype)


@pytest.mark.parametrize("name, make, shape", LAYERS, ids=IDS)
def test_pooling_layer_matches_pytorch(name, make, shape):
    mine, theirs = make(nn), make(torch.nn)
    assert repr(mine) == repr(theirs)
    data = _distinct(shape)
    x, tx = gn.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    out, expected = mine(x), theirs(tx)
    assert out.shape == tuple(expected.shape) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-6, atol=1e-6)
    upstream = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name, make, shape", LAYERS, ids=IDS)
def test_pooling_layer_gradcheck(name, make, shape):
    x = gn.tensor(_distinct((1,) + shape[1:], seed=2, dtype=np.float64), requires_grad=True)
    assert gn.gradcheck(make(nn), [x])


@pytest.mark.parametrize(
    "mine, theirs",
    [
        (lambda x: max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2)),
        (lambda x: max_pool2d(x, (3, 2), stride=1, padding=1, dilation=(1, 2), ceil_mode=True),
         lambda x: TF.max_pool2d(x, (3, 2), stride=1, padding=1, dilation=(1, 2), ceil_mode=True)),
        (lambda x: avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
         lambda x: TF.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)),
        (lambda x: adaptive_avg_pool2d(x, (3, 4)), lambda x: TF.adaptive_avg_pool2d(x, (3, 4))),
    ],
    ids=["max", "max_everything", "avg", "adaptive"],
)
def test_functional_pooling_matches_pytorch(mine, theirs, torch_parity):
    torch_parity(mine, theirs, _distinct((2, 3, 7, 8)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "pool",
    [
        lambda x: max_pool2d(x, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), ceil_mode=True),
        lambda x: avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
        lambda x: adaptive_avg_pool2d(x, (3, 5)),
    ],
    ids=["max", "avg", "adaptive"],
)
def test_functional_pooling_gradcheck(pool):
    x = gn.tensor(_distinct((2, 2, 6, 7), dtype=np.float64), requires_grad=True)
    assert gn.gradcheck(pool, [x])


@pytest.mark.parametrize("stride", [2, 1], ids=["disjoint", "overlapping"])
def test_max_pool_gives_the_gradient_to_the_first_of_tied_maxima(stride):
    # after a ReLU, whole windows are often zero: only one pixel may receive the gradient
    data = np.zeros((1, 1, 4, 4), np.float32)
    data[0, 0, 0, 1] = data[0, 0, 1, 0] = 1.0  # a tie inside the first window
    x, tx = gn.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    max_pool2d(x, 2, stride).sum().backward()
    TF.max_pool2d(tx, 2, stride).sum().backward()
    np.testing.assert_array_equal(x.grad, tx.grad.numpy())
    assert x.grad.sum() == max_pool2d(x, 2, stride).numel()  # one pixel per window


def _batch_last(array):
    """The same (N, C, H, W) values, stored batch-last: (C, H, W, N) in memory."""
    return np.ascontiguousarray(array.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)


@pytest.mark.parametrize("name, make, shape", [LAYERS[0], LAYERS[3], LAYERS[9], LAYERS[12]], ids=["max", "max_overlapping", "avg", "avg_padded"])
def test_pooling_gives_the_same_result_in_either_memory_layout(name, make, shape):
    """Convolutions hand on (N, C, H, W) views of batch-last memory (see conv.py); pooling
    works on either layout, keeps it, and the values do not depend on it."""
    layer, data = make(nn), _distinct(shape)
    upstream = np.random.default_rng(1).standard_normal(layer(gn.tensor(data)).shape).astype(np.float32)
    results = []
    for batch_last in (False, True):
        x = gn.tensor(_batch_last(data) if batch_last else data, requires_grad=True)
        out = layer(x)
        assert out.numpy().transpose(1, 2, 3, 0).flags.c_contiguous == batch_last  # the layout is kept
        out.backward(_batch_last(upstream) if batch_last else upstream)
        results.append((out.numpy(), x.grad))
    for nchw, batch_last in zip(*results):
        np.testing.assert_array_equal(nchw, batch_last)


@pytest.mark.parametrize("batch_last", [False, True], ids=["nchw", "batch_last"])
def test_global_average_pooling_hands_back_its_gradient_in_the_input_layout(batch_last):
    """Pooling to one pixel is a mean; its gradient comes back in the input's memory
    layout, so that the ReLU before it (whose output it pooled) needs no aligning copy."""
    data = _distinct((3, 4, 5, 6))
    x = gn.tensor(_batch_last(data) if batch_last else data, requires_grad=True)
    out = AdaptiveAvgPool2d(1)(x)
    np.testing.assert_allclose(out.numpy(), data.mean(axis=(2, 3), keepdims=True), rtol=1e-6)
    out.backward(np.arange(12, dtype=np.float32).reshape(3, 4, 1, 1))
    grad = x.grad.numpy()
    assert grad.transpose(1, 2, 3, 0).flags.c_contiguous == batch_last
    assert grad.flags.c_contiguous == (not batch_last)
    np.testing.assert_allclose(x.grad, np.broadcast_to(np.arange(12.0).reshape(3, 4, 1, 1) / 30, (3, 4, 5, 6)), rtol=1e-6)


def test_pooling_on_a_known_example():
    image = gn.tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4), requires_grad=True)
    np.testing.assert_array_equal(max_pool2d(image, 2).numpy(), [[[[5, 7], [13, 15]]]])
    np.testing.assert_array_equal(avg_pool2d(image, 2).numpy(), [[[[2.5, 4.5], [10.5, 12.5]]]])
    np.testing.assert_array_equal(adaptive_avg_pool2d(image, 1).numpy(), [[[[7.5]]]])
    # with padding=1 the corner window holds 1 pixel of the image and 3 of padding
    np.testing.assert_array_equal(avg_pool2d(image, 2, padding=1).numpy()[0, 0, 0, 0], 0 / 4)
    np.testing.assert_array_equal(avg_pool2d(image, 2, padding=1, count_include_pad=False).numpy()[0, 0, 1, 1], (5 + 6 + 9 + 10) / 4)
    max_pool2d(image, 2).sum().backward()
    np.testing.assert_array_equal(image.grad[0, 0], [[0, 0, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0], [0, 1, 0, 1]])


def test_pooling_layers_are_exported_by_glassnet_nn():
    assert (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d) == (MaxPool2d, AvgPool2d, AdaptiveAvgPool2d)
    assert (nn.functional.max_pool2d, nn.functional.avg_pool2d, nn.functional.adaptive_avg_pool2d) == (
        max_pool2d, avg_pool2d, adaptive_avg_pool2d)


def test_pooling_keeps_float64():
    x = gn.tensor(np.zeros((1, 1, 4, 4)))
    assert max_pool2d(x, 2).dtype == avg_pool2d(x, 2).dtype == adaptive_avg_pool2d(x, 2).dtype == np.float64


# -- errors ------------------------------------------------------------------------------------


def test_pooling_needs_four_dimensions():
    for layer in (MaxPool2d(2), AvgPool2d(2), AdaptiveAvgPool2d(1)):
        with pytest.raises(ValueError, match=rf"^{type(layer).__name__}\(.*\): expected a 4-D input \(N, C, H, W\), got shape \(3, 8, 8\)"):
            layer(gn.tensor(np.zeros((3, 8, 8), np.float32)))


def test_pooling_window_larger_than_the_input():
    with pytest.raises(ValueError, match=r"MaxPool2d\(kernel_size=2.*\(4, 8, 1, 1\) is too small.*output would be 0x0"):
        MaxPool2d(2)(gn.tensor(np.zeros((4, 8, 1, 1), np.float32)))
    with pytest.raises(ValueError, match=r"avg_pool2d: the input \(1, 1, 2, 5\) is too small for a 3x3 window"):
        avg_pool2d(np.zeros((1, 1, 2, 5), np.float32), 3)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: MaxPool2d(0), r"MaxPool2d: kernel_size must be at least 1"),
        (lambda: MaxPool2d(2, stride=0), r"MaxPool2d: stride must be at least 1"),
        (lambda: MaxPool2d(3, padding=2), r"MaxPool2d: padding must be at most half the kernel size.*padding=\(2, 2\)"),
        (lambda: MaxPool2d(2, padding=2, dilation=3), r"MaxPool2d: padding must be at most half the kernel size"),  # as PyTorch
        (lambda: MaxPool2d(2, dilation=0), r"MaxPool2d: dilation must be at least 1"),
        (lambda: AvgPool2d(2, padding=-1), r"AvgPool2d: padding must be at least 0"),
        (lambda: AvgPool2d((2, 2, 2)), r"AvgPool2d: kernel_size must be an int or a pair"),
        (lambda: AvgPool2d(2, divisor_override=0), r"AvgPool2d: divisor_override must be a positive int"),
        (lambda: AdaptiveAvgPool2d(0), r"AdaptiveAvgPool2d: output_size must be a positive int"),
        (lambda: AdaptiveAvgPool2d((1, 2, 3)), r"AdaptiveAvgPool2d: output_size must be"),
    ],
    ids=["kernel", "stride", "padding_too_large", "padding_dilated", "dilation", "padding_negative", "kernel_3d", "divisor", "adaptive_zero", "adaptive_3d"],
)
def test_pooling_bad_hyperparameters(build, message):
    with pytest.raises(ValueError, match=message):
        build()
