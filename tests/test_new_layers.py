"""Specification of Conv1d, ConvTranspose2d, GroupNorm and RMSNorm, and their functional forms:
PyTorch's arguments, parameters, initialization, repr and results.

Every configuration is checked against calculus (gn.gradcheck on the layer converted to
float64, its parameters among the checked inputs) and against PyTorch (the same weights
copied in; the output and the gradients of the input and of every parameter compared).
The fused ``ops.ConvTranspose2d`` against its readable reference is in test_references.py.
"""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import glassnet as gn
from glassnet import nn
from glassnet.nn import functional as F
from glassnet.ops.conv import col2im, im2col

TF = torch.nn.functional

# (name, constructor arguments, input shape); the same arguments build both layers
CONV1D = [
    ("basic", dict(in_channels=3, out_channels=4, kernel_size=3), (2, 3, 9)),
    ("one_by_one", dict(in_channels=3, out_channels=2, kernel_size=1), (2, 3, 5)),
    ("stride", dict(in_channels=2, out_channels=3, kernel_size=3, stride=2), (2, 2, 10)),
    ("padding", dict(in_channels=2, out_channels=3, kernel_size=3, padding=2), (2, 2, 7)),
    ("padding_tuple", dict(in_channels=2, out_channels=3, kernel_size=(3,), stride=(2,), padding=(1,)), (2, 2, 8)),
    ("padding_same_odd_kernel", dict(in_channels=2, out_channels=3, kernel_size=3, padding="same"), (2, 2, 7)),
    ("padding_same_even_kernel_dilated", dict(in_channels=2, out_channels=3, kernel_size=4, padding="same", dilation=2), (2, 2, 9)),
    ("padding_valid", dict(in_channels=2, out_channels=3, kernel_size=3, padding="valid"), (2, 2, 6)),
    ("dilation", dict(in_channels=2, out_channels=3, kernel_size=3, dilation=3), (2, 2, 11)),
    ("groups", dict(in_channels=4, out_channels=6, kernel_size=3, groups=2), (2, 4, 7)),
    ("depthwise", dict(in_channels=3, out_channels=6, kernel_size=3, padding=1, groups=3), (2, 3, 5)),
    ("no_bias", dict(in_channels=2, out_channels=3, kernel_size=2, bias=False), (2, 2, 5)),
    ("everything", dict(in_channels=4, out_channels=2, kernel_size=2, stride=3, padding=2, dilation=2, groups=2, bias=False), (3, 4, 13)),
    ("kernel_fills_padded_input", dict(in_channels=1, out_channels=2, kernel_size=5, padding=1), (1, 1, 3)),
]

CONV_TRANSPOSE2D = [
    ("basic", dict(in_channels=3, out_channels=4, kernel_size=3), (2, 3, 4, 5)),
    ("one_by_one", dict(in_channels=3, out_channels=2, kernel_size=1), (2, 3, 3, 4)),
    ("stride_2", dict(in_channels=2, out_channels=3, kernel_size=3, stride=2), (2, 2, 4, 3)),
    ("upsample_by_2", dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding=1, output_padding=1), (2, 2, 4, 5)),
    ("kernel_equals_stride", dict(in_channels=2, out_channels=2, kernel_size=2, stride=2), (2, 2, 3, 3)),
    ("stride_beyond_kernel", dict(in_channels=2, out_channels=2, kernel_size=2, stride=3, output_padding=2), (2, 2, 3, 2)),
    ("pairs", dict(in_channels=2, out_channels=3, kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), output_padding=(1, 0)), (2, 2, 3, 4)),
    # output_padding larger than the padding: rows past every patch
    ("output_padding_past_patches", dict(in_channels=2, out_channels=3, kernel_size=3, stride=3, output_padding=2), (2, 2, 3, 3)),
    # output_padding at least the stride, allowed because it is below the dilation
    ("output_padding_below_dilation", dict(in_channels=2, out_channels=2, kernel_size=2, dilation=3, output_padding=2), (2, 2, 3, 4)),
    ("dilation", dict(in_channels=2, out_channels=3, kernel_size=3, dilation=(2, 1), padding=1), (2, 2, 4, 3)),
    ("groups", dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, groups=2), (2, 4, 3, 3)),
    ("depthwise", dict(in_channels=3, out_channels=3, kernel_size=3, padding=1, groups=3), (2, 3, 4, 4)),
    ("no_bias", dict(in_channels=2, out_channels=3, kernel_size=3, bias=False), (2, 2, 3, 3)),
    ("everything", dict(in_channels=4, out_channels=6, kernel_size=(2, 3), stride=(2, 3), padding=(1, 2), output_padding=(1, 2),
                        groups=2, bias=False, dilation=(2, 1)), (3, 4, 5, 3)),
    ("single_pixel", dict(in_channels=2, out_channels=1, kernel_size=3), (1, 2, 1, 1)),
]

GROUP_NORM = [
    ("images", dict(num_groups=2, num_channels=6), (3, 6, 4, 5)),
    ("sequences", dict(num_groups=3, num_channels=6), (2, 6, 7)),
    ("features", dict(num_groups=2, num_channels=4), (5, 4)),
    ("one_group", dict(num_groups=1, num_channels=4), (2, 4, 3, 3)),
    ("group_per_channel", dict(num_groups=4, num_channels=4), (2, 4, 3, 3)),
    ("no_affine", dict(num_groups=2, num_channels=4, affine=False), (2, 4, 3, 2)),
    ("no_bias", dict(num_groups=2, num_channels=4, bias=False), (2, 4, 3, 2)),
    ("large_eps", dict(num_groups=2, num_channels=4, eps=0.5), (2, 4, 3)),
    ("five_dims", dict(num_groups=2, num_channels=4), (2, 4, 2, 3, 2)),
]

RMS_NORM = [
    ("last_dim", dict(normalized_shape=5), (3, 5)),
    ("last_dim_3d_input", dict(normalized_shape=[5]), (2, 3, 5)),
    ("two_trailing_dims", dict(normalized_shape=(3, 5)), (2, 3, 5)),
    ("no_affine", dict(normalized_shape=5, elementwise_affine=False), (3, 5)),
    ("eps", dict(normalized_shape=5, eps=0.25), (4, 5)),
    ("one_feature", dict(normalized_shape=1), (4, 1)),
]

LAYERS = {"Conv1d": CONV1D, "ConvTranspose2d": CONV_TRANSPOSE2D, "GroupNorm": GROUP_NORM, "RMSNorm": RMS_NORM}
CASES = [(layer, *config) for layer, configs in LAYERS.items() for config in configs]
IDS = [f"{layer}-{name}" for layer, name, _, _ in CASES]
# float32 tolerances: the normalizations divide by a statistic of the whole group, which
# rounds differently in the two libraries
TOLERANCES = {"Conv1d": 1e-5, "ConvTranspose2d": 1e-5, "GroupNorm": 1e-4, "RMSNorm": 1e-4}


def _input(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _randomize(module, seed):
    """Random parameters: the normalizations' ones and zeros would hide a mix-up of weight and bias."""
    with torch.no_grad():
        generator = torch.Generator().manual_seed(seed)
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    return module


@pytest.mark.parametrize("layer, name, arguments, shape", CASES, ids=IDS)
def test_layer_matches_pytorch(layer, name, arguments, shape, load_torch_weights):
    torch.manual_seed(0)
    theirs = _randomize(getattr(torch.nn, layer)(**arguments), seed=1)
    mine = load_torch_weights(getattr(nn, layer)(**arguments), theirs)
    assert [(n, p.shape) for n, p in mine.named_parameters()] == [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert repr(mine) == repr(theirs)

    data = _input(shape) * 2 + 0.5
    x, tx = gn.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    out, expected = mine(x), theirs(tx)
    assert out.shape == tuple(expected.shape) and out.dtype == np.float32
    tolerance = TOLERANCES[layer]
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=tolerance, atol=tolerance)

    upstream = _input(out.shape, seed=1)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=tolerance, atol=tolerance, err_msg="input")
    for param_name, param in theirs.named_parameters():
        grad = getattr(mine, param_name).grad
        assert grad.shape == tuple(param.shape) and grad.dtype == np.float32
        np.testing.assert_allclose(grad, param.grad.numpy(), rtol=tolerance, atol=tolerance, err_msg=param_name)


@pytest.mark.parametrize("layer, name, arguments, shape", CASES, ids=IDS)
def test_layer_gradcheck(layer, name, arguments, shape):
    gn.seed(0)
    module = getattr(nn, layer)(**arguments).double()
    for parameter in module.parameters():  # away from ones and zeros
        parameter.data[...] = np.random.default_rng(3).standard_normal(parameter.shape)
    x = gn.tensor(_input(shape, seed=2).astype(np.float64), requires_grad=True)
    params = list(module.parameters())
    assert gn.gradcheck(lambda x, *params: module(x), [x, *params])
    assert all(p.grad is not None for p in params)


def test_the_layers_are_exported_by_glassnet_nn():
    from glassnet.nn.conv import Conv1d, ConvTranspose2d
    from glassnet.nn.normalization import GroupNorm, RMSNorm

    assert (nn.Conv1d, nn.ConvTranspose2d, nn.GroupNorm, nn.RMSNorm) == (Conv1d, ConvTranspose2d, GroupNorm, RMSNorm)
    assert {"Conv1d", "ConvTranspose2d", "GroupNorm", "RMSNorm"} <= set(nn.__all__)
    for name in ("conv1d", "conv_transpose2d", "group_norm", "rms_norm"):
        assert callable(getattr(gn.nn.functional, name))


# -- the functional forms ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [dict(), dict(stride=2, padding=1), dict(padding="same", dilation=2), dict(stride=(3,), padding=(2,), groups=2),
     dict(padding="valid", dilation=(2,))],
    ids=["defaults", "stride_padding", "same_dilated", "tuples_groups", "valid_dilated"],
)
def test_functional_conv1d_matches_pytorch(options, torch_parity):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 11)).astype(np.float32)
    weight = rng.standard_normal((6, 4 // options.get("groups", 1), 3)).astype(np.float32)
    bias = rng.standard_normal(6).astype(np.float32)
    torch_parity(lambda x, w, b: F.conv1d(x, w, b, **options), lambda x, w, b: TF.conv1d(x, w, b, **options),
                 x, weight, bias, rtol=1e-5, atol=1e-5)
    torch_parity(lambda x, w: F.conv1d(x, w, **options), lambda x, w: TF.conv1d(x, w, **options), x, weight, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "options",
    [dict(), dict(stride=2, padding=1, output_padding=1), dict(stride=(1, 2), padding=(0, 1), groups=2),
     dict(stride=2, output_padding=(1, 0), dilation=(1, 2)), dict(dilation=3, output_padding=2)],
    ids=["defaults", "upsample", "groups", "dilated", "output_padding_below_dilation"],
)
def test_functional_conv_transpose2d_matches_pytorch(options, torch_parity):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 5, 4)).astype(np.float32)
    weight = rng.standard_normal((4, 6 // options.get("groups", 1), 3, 2)).astype(np.float32)
    bias = rng.standard_normal(6).astype(np.float32)
    torch_parity(lambda x, w, b: F.conv_transpose2d(x, w, b, **options), lambda x, w, b: TF.conv_transpose2d(x, w, b, **options),
                 x, weight, bias, rtol=1e-5, atol=1e-5)
    torch_parity(lambda x, w: F.conv_transpose2d(x, w, **options), lambda x, w: TF.conv_transpose2d(x, w, **options),
                 x, weight, rtol=1e-5, atol=1e-5)


def test_functional_conv_transpose2d_takes_pytorchs_positional_order():
    """conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups, dilation):
    groups comes before dilation, unlike conv2d."""
    rng = np.random.default_rng(0)
    x, weight = rng.standard_normal((1, 4, 3, 3)).astype(np.float32), rng.standard_normal((4, 1, 3, 3)).astype(np.float32)
    mine = F.conv_transpose2d(x, weight, None, 2, 1, 1, 2, 2)
    theirs = TF.conv_transpose2d(torch.tensor(x), torch.tensor(weight), None, 2, 1, 1, 2, 2)
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-5)


def test_functional_group_norm_and_rms_norm_match_pytorch(torch_parity):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 6, 4, 2)) * 3 + 1).astype(np.float32)
    weight, bias = rng.standard_normal(6).astype(np.float32), rng.standard_normal(6).astype(np.float32)
    torch_parity(lambda x, w, b: F.group_norm(x, 3, w, b, eps=1e-3), lambda x, w, b: TF.group_norm(x, 3, w, b, eps=1e-3),
                 x, weight, bias, rtol=1e-4, atol=1e-5)
    torch_parity(lambda x, w: F.group_norm(x, 2, w), lambda x, w: TF.group_norm(x, 2, w), x, weight, rtol=1e-4, atol=1e-5)
    # a bias without a weight: PyTorch 2.13's backward fails on it ("tensor does not have a
    # device"), so its side passes the weight of ones that the missing one means
    torch_parity(lambda x, b: F.group_norm(x, 6, bias=b), lambda x, b: TF.group_norm(x, 6, torch.ones(6), b),
                 x, bias, rtol=1e-4, atol=1e-5)
    torch_parity(lambda x: F.group_norm(x, 1), lambda x: TF.group_norm(x, 1), x, rtol=1e-4, atol=1e-5)

    scale = rng.standard_normal((4, 2)).astype(np.float32)
    torch_parity(lambda x, w: F.rms_norm(x, (4, 2), w), lambda x, w: TF.rms_norm(x, (4, 2), w), x, scale, rtol=1e-4, atol=1e-5)
    torch_parity(lambda x: F.rms_norm(x, [2], eps=0.1), lambda x: TF.rms_norm(x, [2], eps=0.1), x, rtol=1e-4, atol=1e-5)


def test_functional_forms_gradcheck():
    rng = np.random.default_rng(0)

    def tensor(*shape):
        return gn.tensor(rng.standard_normal(shape), requires_grad=True)

    x, weight, bias = tensor(2, 4, 7), tensor(6, 2, 3), tensor(6)
    assert gn.gradcheck(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=2, dilation=2, groups=2), [x, weight, bias])
    x, weight, bias = tensor(2, 4, 3, 2), tensor(4, 3, 3, 2), tensor(6)
    assert gn.gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=(2, 3), padding=1, output_padding=(1, 2), groups=2),
                        [x, weight, bias])
    x, weight, bias = tensor(2, 6, 3, 2), tensor(6), tensor(6)
    assert gn.gradcheck(lambda x, w, b: F.group_norm(x, 3, w, b), [x, weight, bias])
    x, weight = tensor(2, 3, 4), tensor(3, 4)
    assert gn.gradcheck(lambda x, w: F.rms_norm(x, (3, 4), w), [x, weight])


# -- what each layer is -------------------------------------------------------------------------


def test_conv_transpose2d_is_the_gradient_of_conv2d_with_respect_to_its_input():
    """For a conv2d x -> y with weight W, backpropagating g through it gives
    conv_transpose2d(g, W) with the same stride, padding, dilation and groups; the
    output_padding gives back the rows that conv2d's stride skipped."""
    rng = np.random.default_rng(0)
    weight = gn.tensor(rng.standard_normal((6, 2, 3, 3)))  # conv2d: 4 channels -> 6, groups=2
    x = gn.tensor(rng.standard_normal((2, 4, 8, 7)), requires_grad=True)
    y = F.conv2d(x, weight, stride=2, padding=1, dilation=(1, 2), groups=2)
    upstream = rng.standard_normal(y.shape)
    y.backward(upstream)
    back = F.conv_transpose2d(gn.tensor(upstream), weight, stride=2, padding=1, output_padding=(1, 0), groups=2, dilation=(1, 2))
    assert back.shape == x.shape
    np.testing.assert_allclose(back.numpy(), x.grad, rtol=1e-12, atol=1e-12)


def test_conv_transpose2d_spreads_each_pixel_over_a_patch():
    image = np.array([[[[1.0, 2.0], [3.0, 4.0]]]], np.float32)
    ones = np.ones((1, 1, 2, 2), np.float32)
    # stride 2 = kernel size: the patches tile the output without overlapping
    np.testing.assert_array_equal(F.conv_transpose2d(image, ones, stride=2).numpy()[0, 0],
                                  [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
    # stride 1: neighbouring patches overlap and add up
    np.testing.assert_array_equal(F.conv_transpose2d(image, ones).numpy()[0, 0], [[1, 3, 2], [4, 10, 6], [3, 7, 4]])


def test_conv_transpose2d_output_size_chooses_the_output_padding():
    torch.manual_seed(0)
    theirs = torch.nn.ConvTranspose2d(3, 2, 3, stride=3, padding=1)
    mine = gn.nn.ConvTranspose2d(3, 2, 3, stride=3, padding=1)
    mine.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    data = _input((2, 3, 4, 5))
    for output_size in [(10, 13), (12, 14), [2, 2, 11, 15], None]:
        out, expected = mine(gn.tensor(data), output_size), theirs(torch.tensor(data), output_size)
        assert out.shape == tuple(expected.shape)
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"ConvTranspose2d\(3, 2.*output_size=\(13, 13\).*from \(10, 13\) to \(12, 15\)"):
        mine(gn.tensor(data), (13, 13))


def test_conv1d_is_conv2d_of_images_one_row_high():
    rng = np.random.default_rng(0)
    x, weight = rng.standard_normal((2, 4, 9)), rng.standard_normal((6, 2, 3))
    options = dict(stride=2, padding=1, dilation=2, groups=2)
    rows = F.conv2d(x[:, :, None], weight[:, :, None], stride=(1, 2), padding=(0, 1), dilation=(1, 2), groups=2)
    np.testing.assert_array_equal(F.conv1d(x, weight, **options).numpy(), rows.numpy()[:, :, 0])


def test_group_norm_standardizes_each_group_of_each_sample():
    x = gn.tensor(_input((3, 6, 4, 5)) * 10 - 7)
    out = nn.GroupNorm(3, 6)(x).numpy().reshape(3, 3, -1)
    np.testing.assert_allclose(out.mean(axis=-1), 0, atol=1e-5)
    np.testing.assert_allclose(out.var(axis=-1), 1, atol=1e-4)
    np.testing.assert_allclose(nn.GroupNorm(1, 6, affine=False)(x).numpy(), F.layer_norm(x, (6, 4, 5)).numpy(), rtol=1e-5, atol=1e-5)


def test_rms_norm_gives_each_sample_a_root_mean_square_of_one():
    x = gn.tensor(_input((4, 3, 8)) * 5)
    out = nn.RMSNorm(8)(x).numpy()
    np.testing.assert_allclose(np.sqrt((out**2).mean(axis=-1)), 1, rtol=1e-5)
    np.testing.assert_allclose(out * np.sqrt((x.numpy() ** 2).mean(axis=-1, keepdims=True)), x.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rms_norm_eps_none_is_the_dtypes_machine_epsilon(dtype):
    """Without eps the machine epsilon of the input's dtype is added, as in PyTorch: an input
    whose mean square is that epsilon comes out divided by sqrt(2 eps), not sqrt(eps)."""
    eps = np.finfo(dtype).eps
    x = np.full((1, 4), np.sqrt(eps), dtype)
    out = F.rms_norm(gn.tensor(x), 4).numpy()
    np.testing.assert_allclose(out, np.sqrt(eps) / np.sqrt(2 * eps), rtol=1e-6)
    np.testing.assert_allclose(out, TF.rms_norm(torch.tensor(x), [4]).numpy(), rtol=1e-6)
    assert out.dtype == dtype
    assert nn.RMSNorm(4).double()(gn.tensor(x.astype(np.float64))).dtype == np.float64


def test_normalizations_of_a_constant_input_are_finite():
    x = gn.tensor(np.full((2, 4, 3), 3.0, np.float32), requires_grad=True)
    out = nn.GroupNorm(2, 4)(x)
    np.testing.assert_array_equal(out.numpy(), 0)
    out.sum().backward()
    assert np.isfinite(x.grad).all()
    zeros = gn.tensor(np.zeros((2, 4), np.float32), requires_grad=True)
    out = nn.RMSNorm(4)(zeros)
    np.testing.assert_array_equal(out.numpy(), 0)
    (out * gn.tensor(_input((2, 4)))).sum().backward()
    assert np.isfinite(zeros.grad).all()


def test_layers_take_a_convolutions_batch_last_output_as_any_other():
    """A convolution hands on an (N, C, H, W) view of batch-last memory (see ops/conv.py);
    the layers that follow give the same values and gradients as on a plain copy."""
    gn.seed(0)
    features = nn.Conv2d(2, 4, 3, padding=1)(gn.tensor(_input((3, 2, 5, 4)))).numpy()
    assert features.transpose(1, 2, 3, 0).flags.c_contiguous
    for layer in (nn.ConvTranspose2d(4, 2, 2, stride=2), nn.GroupNorm(2, 4)):
        results = []
        for data in (features, np.ascontiguousarray(features)):
            x = gn.tensor(data, requires_grad=True)
            assert x.numpy().strides == data.strides
            out = layer(x)
            out.backward(_input(out.shape, seed=1))
            results.append((out.numpy(), x.grad))
        for value, plain in zip(*results):
            np.testing.assert_allclose(value, plain, rtol=1e-6, atol=1e-6)


# -- parameters, initialization, state ------------------------------------------------------------


@pytest.mark.parametrize(
    "layer, fan_in",
    [(lambda: nn.Conv1d(64, 96, 5, groups=4), 64 // 4 * 5),
     (lambda: nn.ConvTranspose2d(96, 64, (3, 5), groups=4), 64 // 4 * 3 * 5)],  # PyTorch's fan_in of (96, 16, 3, 5)
    ids=["Conv1d", "ConvTranspose2d"],
)
def test_conv_default_init_is_within_pytorch_bounds(layer, fan_in):
    gn.seed(0)
    layer = layer()
    bound = 1 / math.sqrt(fan_in)
    for p in (layer.weight, layer.bias):
        assert p.dtype == np.float32 and p.requires_grad
        assert np.abs(p.numpy()).max() <= bound and np.abs(p.numpy()).max() > 0.9 * bound
    assert layer.weight.numpy().std() == pytest.approx(bound / math.sqrt(3), rel=0.03)


def test_parameter_shapes_and_norm_init_as_pytorch():
    assert nn.Conv1d(4, 6, 3, groups=2).weight.shape == (6, 2, 3)
    assert nn.ConvTranspose2d(4, 6, (3, 2), groups=2).weight.shape == (4, 3, 3, 2)
    for mine, theirs in [(nn.GroupNorm(2, 6), torch.nn.GroupNorm(2, 6)), (nn.RMSNorm((3, 4)), torch.nn.RMSNorm((3, 4))),
                         (nn.GroupNorm(2, 6, affine=False), torch.nn.GroupNorm(2, 6, affine=False)),
                         (nn.GroupNorm(2, 6, bias=False), torch.nn.GroupNorm(2, 6, bias=False)),
                         (nn.RMSNorm(4, elementwise_affine=False), torch.nn.RMSNorm(4, elementwise_affine=False))]:
        assert list(mine.state_dict()) == list(theirs.state_dict())
        for name, value in theirs.state_dict().items():
            np.testing.assert_array_equal(mine.state_dict()[name], value.numpy())
    assert nn.GroupNorm(2, 6, affine=False).weight is None and nn.RMSNorm(4, elementwise_affine=False).weight is None


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # PyTorch's note on its own speed
def test_reprs_match_pytorch():
    for layer, arguments in [
        ("Conv1d", dict(in_channels=2, out_channels=4, kernel_size=3)),
        ("Conv1d", dict(in_channels=2, out_channels=4, kernel_size=4, padding="same", dilation=2, groups=2, bias=False)),
        ("Conv1d", dict(in_channels=2, out_channels=4, kernel_size=3, padding="valid")),
        ("ConvTranspose2d", dict(in_channels=4, out_channels=6, kernel_size=3)),
        ("ConvTranspose2d", dict(in_channels=4, out_channels=6, kernel_size=(3, 2), stride=2, padding=(1, 0), output_padding=1,
                                 groups=2, bias=False, dilation=(1, 2))),
        ("GroupNorm", dict(num_groups=2, num_channels=4, eps=1e-3, affine=False)),
        ("RMSNorm", dict(normalized_shape=(3, 4), eps=1e-6)),
    ]:
        assert repr(getattr(nn, layer)(**arguments)) == repr(getattr(torch.nn, layer)(**arguments))


def _network(m):
    """Every new layer in one network, from glassnet's ``nn`` or PyTorch's (``m``): sequences
    (N, 3, 6) -> Conv1d -> RMSNorm -> as images (N, 8, 2, 3) -> ConvTranspose2d -> GroupNorm."""

    class Network(m.Module):
        def __init__(self):
            super().__init__()
            self.conv = m.Conv1d(3, 8, 3, padding=1)
            self.rms = m.RMSNorm(6)
            self.up = m.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1, bias=False)
            self.norm = m.GroupNorm(2, 4)

        def forward(self, x):
            features = self.rms(self.conv(x))
            return self.norm(self.up(features.reshape(features.shape[0], 8, 2, 3)))

    return Network()


def test_state_dicts_load_both_ways_with_pytorch(load_torch_weights):
    torch.manual_seed(0)
    gn.seed(0)
    mine, theirs = _network(nn), _randomize(_network(torch.nn), seed=1)
    assert [(k, tuple(v.shape)) for k, v in mine.state_dict().items()] == [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    data = _input((2, 3, 6))

    load_torch_weights(mine, theirs)  # PyTorch -> glassnet
    out = mine(gn.tensor(data))
    assert out.shape == (2, 4, 4, 6)
    np.testing.assert_allclose(out.numpy(), theirs(torch.tensor(data)).detach().numpy(), rtol=1e-4, atol=1e-5)

    for parameter in mine.parameters():  # glassnet -> PyTorch, with new weights
        parameter.data[...] = np.random.default_rng(2).standard_normal(parameter.shape)
    theirs.load_state_dict({k: torch.tensor(np.array(v)) for k, v in mine.state_dict().items()})
    np.testing.assert_allclose(theirs(torch.tensor(data)).detach().numpy(), mine(gn.tensor(data)).numpy(), rtol=1e-4, atol=1e-5)


def test_whole_layers_save_and_load_with_their_arguments(tmp_path):
    layers = nn.ModuleList([nn.Conv1d(2, 4, 3, stride=2, padding=1, groups=2, bias=False),
                            nn.ConvTranspose2d(4, 2, (3, 2), stride=2, output_padding=(1, 0), dilation=1),
                            nn.GroupNorm(2, 4, eps=1e-3, bias=False), nn.RMSNorm((2, 3), eps=None, elementwise_affine=True)])
    gn.save(layers, tmp_path / "layers.safetensors")
    loaded = gn.load(tmp_path / "layers.safetensors")
    assert repr(loaded) == repr(layers)
    for (name, mine), (_, back) in zip(layers.state_dict().items(), loaded.state_dict().items()):
        np.testing.assert_array_equal(np.asarray(back), np.asarray(mine), err_msg=name)


# -- the unfolding with output_padding ----------------------------------------------------------


@settings(max_examples=40, deadline=None, database=None)
@given(
    size=st.tuples(st.integers(1, 6), st.integers(1, 6)), kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)), padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    extra=st.tuples(st.integers(0, 2), st.integers(0, 2)), dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    seed=st.integers(0, 2**16),
)
def test_col2im_stays_the_adjoint_of_im2col_with_negative_trailing_padding(size, kernel, stride, padding, extra, dilation, seed):
    """A transposed convolution's output_padding makes the bottom and right padding of its
    conv2d smaller, even negative (rows that no window reads): <im2col(x), c> = <x, col2im(c)> still."""
    pads = tuple((p, p - e) for p, e in zip(padding, extra))
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if any(s + before + after < span for s, (before, after), span in zip(size, pads, spans)):
        return  # no window fits
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3) + size)
    geometry = (kernel, stride, pads, dilation)
    columns = im2col(x, *geometry)
    c = rng.standard_normal(columns.shape)
    back = col2im(c, x.shape, *geometry)
    assert back.shape == x.shape
    assert np.vdot(columns, c) == pytest.approx(np.vdot(x, back), rel=1e-9, abs=1e-9)


# -- errors that teach ----------------------------------------------------------------------------


def _zeros(*shape, dtype=np.float32):
    return gn.tensor(np.zeros(shape, dtype))


def re_shape(shape):
    return str(shape).replace("(", r"\(").replace(")", r"\)")


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: nn.Conv1d(3, 4, 3, groups=2), r"Conv1d: in_channels must be divisible by groups.*in_channels=3"),
        (lambda: nn.Conv1d(2, 4, (3, 3)), r"Conv1d: kernel_size must be an int or a tuple of 1 int, got \(3, 3\)"),
        (lambda: nn.Conv1d(2, 4, 3, stride=0), r"Conv1d: stride must be at least 1"),
        (lambda: nn.Conv1d(2, 4, 3, padding="full"), r"Conv1d: padding must be .*'same' or 'valid', got 'full'"),
        (lambda: nn.Conv1d(2, 4, 3, padding="same", stride=2), r"Conv1d: padding='same' is not supported for strided"),
        (lambda: nn.ConvTranspose2d(4, 6, 3, groups=4), r"ConvTranspose2d: out_channels must be divisible by groups"),
        (lambda: nn.ConvTranspose2d(4, 6, 3, groups=0), r"ConvTranspose2d: groups must be a positive int"),
        (lambda: nn.ConvTranspose2d(4, 6, 3, padding="same"), r"ConvTranspose2d: padding must be an int or a pair"),
        (lambda: nn.ConvTranspose2d(4, 6, 3, padding=-1), r"ConvTranspose2d: padding must be at least 0"),
        (lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, output_padding=2),
         r"ConvTranspose2d: output_padding must be smaller than either stride or dilation, got output_padding=\(2, 2\) "
         r"with stride=\(2, 2\) and dilation=\(1, 1\)"),
        (lambda: nn.GroupNorm(3, 4), r"GroupNorm: num_channels must be divisible by num_groups, got num_channels=4 and num_groups=3"),
        (lambda: nn.GroupNorm(0, 4), r"GroupNorm: num_groups must be a positive int"),
        (lambda: nn.RMSNorm(0), r"RMSNorm: normalized_shape must be positive"),
        (lambda: nn.RMSNorm(4, eps=-1.0), r"RMSNorm: eps must be at least 0"),
    ],
    ids=["conv1d_groups", "conv1d_kernel_2d", "conv1d_stride", "conv1d_padding_string", "conv1d_same_strided",
         "transpose_groups", "transpose_groups_zero", "transpose_same", "transpose_padding", "transpose_output_padding",
         "group_norm_divisible", "group_norm_groups", "rms_norm_shape", "rms_norm_eps"],
)
def test_bad_hyperparameters_say_what_is_wrong(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: nn.Conv1d(3, 8, 3)(_zeros(4, 5, 10)),
         r"^Conv1d\(3, 8, kernel_size=\(3,\), stride=\(1,\)\): expected input with 3 channels, got \(4, 5, 10\).*in_channels=5"),
        (lambda: nn.Conv1d(3, 8, 3)(_zeros(4, 10, 3)), r"\(4, 10, 3\).*channels seem to be last \(N, L, C\).*transpose\(1, 2\)"),
        (lambda: nn.Conv1d(3, 8, 3)(_zeros(3, 10)), r"expected a 3-D input \(N, C, L\), got shape \(3, 10\).*unsqueeze\(0\)"),
        (lambda: nn.Conv1d(3, 8, 3)(_zeros(2, 3, 4, 4)), r"expected a 3-D input \(N, C, L\), got shape \(2, 3, 4, 4\)"),
        (lambda: nn.Conv1d(1, 2, 5, padding=1)(_zeros(2, 1, 2)),
         r"Conv1d\(1, 2, .*kernel \(5, spanning 5 steps with dilation \(1,\)\) is larger than the padded input \(4:"),
        (lambda: nn.Conv1d(1, 2, 3)(_zeros(2, 1, 8, dtype=np.int64)), r"Conv1d\(1, 2.*floating-point input"),
        (lambda: nn.ConvTranspose2d(4, 2, 3)(_zeros(2, 3, 5, 5)),
         r"^ConvTranspose2d\(4, 2, kernel_size=\(3, 3\).*expected input with 4 channels, got \(2, 3, 5, 5\)"),
        (lambda: nn.ConvTranspose2d(4, 2, 3)(_zeros(4, 5, 5)), r"expected a 4-D input \(N, C, H, W\).*unsqueeze\(0\)"),
        (lambda: nn.ConvTranspose2d(4, 2, 3, padding=3)(_zeros(1, 4, 1, 1)), r"the output would be -3x-3 .*use less padding"),
        (lambda: nn.GroupNorm(2, 4)(_zeros(2, 6, 3)),
         r"^GroupNorm\(2, 4, eps=1e-05, affine=True, bias=True\): expected input with 4 channels \(axis 1\), got \(2, 6, 3\).*"
         r"num_channels=6"),
        (lambda: nn.GroupNorm(2, 4)(_zeros(4)), r"GroupNorm.*at least 2 dimensions, got shape \(4,\)"),
        (lambda: nn.GroupNorm(2, 4)(_zeros(2, 4, dtype=np.int32)), r"GroupNorm.*floating-point input"),
        (lambda: nn.RMSNorm(4)(_zeros(2, 5)), r"^RMSNorm\(\(4,\), eps=None, .*\(\*, 4\).*\(2, 5\).*normalized_shape=\(5,\)"),
        (lambda: nn.RMSNorm(4)(_zeros(2, 4, dtype=np.int64)), r"RMSNorm.*floating-point input"),
    ],
    ids=["conv1d_channels", "conv1d_channels_last", "conv1d_single_sequence", "conv1d_images", "conv1d_kernel_too_large",
         "conv1d_integers", "transpose_channels", "transpose_single_image", "transpose_output_too_small",
         "group_norm_channels", "group_norm_1d", "group_norm_integers", "rms_norm_shape", "rms_norm_integers"],
)
def test_wrong_inputs_name_the_layer_and_the_shapes(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_functional_forms_check_their_arguments():
    x = np.zeros((2, 4, 6), np.float32)
    with pytest.raises(ValueError, match=r"conv1d: weight must be 3-D \(out_channels, in_channels / groups, kernel_size\).*\(3, 4, 3, 3\)"):
        F.conv1d(x, np.zeros((3, 4, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"conv1d: the 3 filters .* groups=2"):
        F.conv1d(x, np.zeros((3, 2, 3), np.float32), groups=2)
    with pytest.raises(ValueError, match=r"conv1d: bias must have shape \(3,\).*\(4,\)"):
        F.conv1d(x, np.zeros((3, 4, 3), np.float32), np.zeros(4, np.float32))
    with pytest.raises(TypeError, match=r"conv1d: input of dtype float64 with parameters of dtype float32"):
        F.conv1d(x.astype(np.float64), np.zeros((3, 4, 3), np.float32))

    images = np.zeros((2, 4, 5, 5), np.float32)
    with pytest.raises(ValueError, match=r"conv_transpose2d: weight must be 4-D \(in_channels, out_channels / groups, kh, kw\)"):
        F.conv_transpose2d(images, np.zeros((4, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"conv_transpose2d: expected input with 3 channels, got \(2, 4, 5, 5\)"):
        F.conv_transpose2d(images, np.zeros((3, 2, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"conv_transpose2d: the 4 input channels of weight \(4, 2, 3, 3\) cannot be split into groups=3"):
        F.conv_transpose2d(images, np.zeros((4, 2, 3, 3), np.float32), groups=3)
    with pytest.raises(ValueError, match=r"conv_transpose2d: bias must have shape \(4,\)"):  # out_channels / groups * groups
        F.conv_transpose2d(images, np.zeros((4, 2, 3, 3), np.float32), np.zeros(2, np.float32), groups=2)
    with pytest.raises(ValueError, match=r"conv_transpose2d: output_padding must be smaller than either stride or dilation"):
        F.conv_transpose2d(images, np.zeros((4, 2, 3, 3), np.float32), output_padding=(0, 1))

    with pytest.raises(ValueError, match=r"group_norm: the 6 channels of the input \(2, 6, 3\) cannot be split into num_groups=4"):
        F.group_norm(np.zeros((2, 6, 3), np.float32), 4)
    with pytest.raises(ValueError, match=r"group_norm: weight of shape \(3,\) .* it must be \(6,\), one per channel"):
        F.group_norm(np.zeros((2, 6, 3), np.float32), 3, np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"rms_norm: weight of shape \(5,\) for normalized_shape \(4,\)"):
        F.rms_norm(np.zeros((2, 4), np.float32), 4, np.ones(5, np.float32))
    with pytest.raises(TypeError, match=r"rms_norm: expected a floating-point input, got dtype int64"):
        F.rms_norm(np.zeros((2, 4), np.int64), 4)


# -- behaviour on real data -----------------------------------------------------------------------


def _train_on_digits(model, loss_of, epochs):
    """Adam at lr 0.01 on the 8x8 digits' training images in batches of 64; the loss is
    ``loss_of(output, images, labels)``."""
    train = gn.datasets.digits("train")
    optimizer = gn.optim.Adam(model.parameters(), lr=0.01)
    loader = gn.data.DataLoader(gn.data.TensorDataset(train.images, train.labels), batch_size=64, shuffle=True, seed=0)
    for _ in range(epochs):
        for images, labels in loader:
            loss = loss_of(model(images), images, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return train


def test_a_small_autoencoder_learns_to_redraw_the_digits():
    """Conv2d down to 4x4, GroupNorm, and ConvTranspose2d back up to 8x8, trained to
    reproduce scikit-learn's 8x8 digits: the error on held-out digits falls far below that
    of predicting the mean image."""
    gn.seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.GroupNorm(4, 16), nn.ReLU(),  # 16 x 4 x 4
        nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1),  # 1 x 8 x 8
    )
    train = _train_on_digits(model, lambda output, images, labels: F.mse_loss(output, images), epochs=5)
    test = gn.tensor(gn.datasets.digits("test").images)
    with gn.no_grad():
        error = F.mse_loss(model(test), test).item()
    baseline = ((test.numpy() - train.images.mean(axis=0)) ** 2).mean()
    assert error < 0.2 * baseline


def test_a_conv1d_network_reads_the_digits_row_by_row():
    """Each 8x8 digit as a sequence of 8 rows with 8 channels (the pixels of a row): Conv1d,
    RMSNorm over the channels and a linear head recognize the held-out digits."""

    class RowReader(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(8, 32, 3, padding="same")
            self.norm = nn.RMSNorm(32)
            self.head = nn.Linear(32 * 8, 10)

        def forward(self, images):
            rows = images.reshape(images.shape[0], 8, 8).transpose(1, 2)  # (N, pixels of a row, rows)
            features = self.conv(rows).relu().transpose(1, 2)  # (N, rows, 32)
            return self.head(self.norm(features).reshape(images.shape[0], -1))

    gn.seed(0)
    model = RowReader()
    _train_on_digits(model, lambda output, images, labels: F.cross_entropy(output, labels), epochs=6)
    test = gn.datasets.digits("test")
    with gn.no_grad():
        accuracy = (model(gn.tensor(test.images)).numpy().argmax(axis=1) == test.labels).mean()
    assert accuracy > 0.93
