"""Specification of Conv2d and conv2d: PyTorch's arguments, parameters and results.

Every configuration is checked against calculus (gn.gradcheck on the layer converted to
float64, its parameters among the checked inputs) and against PyTorch (the same weights
copied in; the output and the gradients of the input, the weight and the bias compared).
"""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import glassnet as gn
from glassnet import nn
from glassnet.nn.conv import Conv2d
from glassnet.nn.functional import conv2d
from glassnet.ops.conv import col2im, im2col

TF = torch.nn.functional

# (name, constructor arguments, input shape); the same arguments build both layers
CONFIGS = [
    ("basic", dict(in_channels=3, out_channels=4, kernel_size=3), (2, 3, 7, 6)),
    ("one_by_one", dict(in_channels=3, out_channels=2, kernel_size=1), (2, 3, 4, 5)),
    ("stride_2", dict(in_channels=2, out_channels=3, kernel_size=3, stride=2), (2, 2, 8, 7)),
    ("stride_pair", dict(in_channels=2, out_channels=3, kernel_size=3, stride=(2, 1)), (2, 2, 7, 7)),
    ("padding_int", dict(in_channels=2, out_channels=3, kernel_size=3, padding=1), (2, 2, 5, 6)),
    ("padding_pair", dict(in_channels=2, out_channels=3, kernel_size=3, padding=(2, 0)), (2, 2, 5, 6)),
    ("padding_same", dict(in_channels=2, out_channels=3, kernel_size=3, padding="same"), (2, 2, 5, 6)),
    ("padding_same_even_kernel", dict(in_channels=2, out_channels=3, kernel_size=(4, 2), padding="same"), (2, 2, 6, 5)),
    ("padding_same_dilated", dict(in_channels=2, out_channels=2, kernel_size=3, padding="same", dilation=2), (2, 2, 6, 6)),
    ("padding_valid", dict(in_channels=2, out_channels=3, kernel_size=3, padding="valid"), (2, 2, 5, 6)),
    ("dilation", dict(in_channels=2, out_channels=3, kernel_size=3, dilation=(2, 1)), (2, 2, 7, 6)),
    ("groups", dict(in_channels=4, out_channels=6, kernel_size=3, groups=2), (2, 4, 5, 5)),
    ("depthwise", dict(in_channels=3, out_channels=3, kernel_size=3, padding=1, groups=3), (2, 3, 5, 5)),
    ("depthwise_multiplier", dict(in_channels=2, out_channels=4, kernel_size=3, groups=2), (2, 2, 5, 5)),
    ("no_bias", dict(in_channels=2, out_channels=3, kernel_size=3, bias=False), (2, 2, 5, 5)),
    ("non_square", dict(in_channels=2, out_channels=3, kernel_size=(2, 3), stride=(2, 1), padding=(1, 0)), (2, 2, 7, 5)),
    ("everything", dict(in_channels=4, out_channels=2, kernel_size=(3, 2), stride=(1, 2), padding=(2, 1), dilation=(1, 2), groups=2, bias=False), (2, 4, 6, 7)),
    ("kernel_fills_padded_input", dict(in_channels=1, out_channels=2, kernel_size=4, padding=1), (2, 1, 2, 2)),
    ("single_image", dict(in_channels=1, out_channels=2, kernel_size=2), (1, 1, 3, 3)),
    ("stride_beyond_kernel", dict(in_channels=2, out_channels=2, kernel_size=2, stride=3), (2, 2, 8, 7)),
    ("mnist_sized", dict(in_channels=1, out_channels=4, kernel_size=3, padding=1), (8, 1, 28, 28)),
    # windows that tile the image (kernel == stride): one product of the tiles, conv.py's tiled path
    ("patches", dict(in_channels=1, out_channels=4, kernel_size=7, stride=7), (2, 1, 28, 28)),
    ("tiles_leave_pixels", dict(in_channels=2, out_channels=3, kernel_size=(2, 3), stride=(2, 3), bias=False), (2, 2, 7, 8)),
]
IDS = [config[0] for config in CONFIGS]


def _input(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # PyTorch's note on its own speed
@pytest.mark.parametrize("name, arguments, shape", CONFIGS, ids=IDS)
def test_conv2d_layer_matches_pytorch(name, arguments, shape, load_torch_weights):
    torch.manual_seed(0)
    theirs = torch.nn.Conv2d(**arguments)
    mine = load_torch_weights(Conv2d(**arguments), theirs)
    assert [(n, p.shape) for n, p in mine.named_parameters()] == [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert repr(mine) == repr(theirs)

    data = _input(shape)
    x, tx = gn.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    out, expected = mine(x), theirs(tx)
    assert out.shape == tuple(expected.shape) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-5)

    upstream = _input(out.shape, seed=1)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-5, atol=1e-5, err_msg="input")
    for param_name, param in theirs.named_parameters():
        mine_grad = getattr(mine, param_name).grad
        assert mine_grad.dtype == np.float32
        np.testing.assert_allclose(mine_grad, param.grad.numpy(), rtol=1e-5, atol=1e-5, err_msg=param_name)


@pytest.mark.parametrize("name, arguments, shape", CONFIGS, ids=IDS)
def test_conv2d_layer_gradcheck(name, arguments, shape):
    gn.seed(0)
    layer = Conv2d(**arguments).double()
    x = gn.tensor(_input((1,) + shape[1:], seed=2).astype(np.float64), requires_grad=True)  # one image is enough
    params = list(layer.parameters())
    assert gn.gradcheck(lambda x, *params: layer(x), [x, *params])
    assert all(p.grad is not None for p in params)


@pytest.mark.parametrize(
    "options",
    [dict(), dict(stride=2, padding=1), dict(padding="same", dilation=2), dict(stride=(1, 2), padding=(0, 1), groups=2)],
    ids=["defaults", "stride_padding", "same_dilated", "groups"],
)
def test_functional_conv2d_matches_pytorch(options, torch_parity):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 6, 7)).astype(np.float32)
    weight = rng.standard_normal((6, 4 // options.get("groups", 1), 3, 3)).astype(np.float32)
    bias = rng.standard_normal(6).astype(np.float32)
    torch_parity(
        lambda x, w, b: conv2d(x, w, b, **options), lambda x, w, b: TF.conv2d(x, w, b, **options),
        x, weight, bias, rtol=1e-5, atol=1e-5,
    )
    torch_parity(lambda x, w: conv2d(x, w, **options), lambda x, w: TF.conv2d(x, w, **options), x, weight, rtol=1e-5, atol=1e-5)


def test_functional_conv2d_gradcheck():
    rng = np.random.default_rng(0)
    x = gn.tensor(rng.standard_normal((2, 2, 5, 4)), requires_grad=True)
    weight = gn.tensor(rng.standard_normal((4, 1, 2, 3)), requires_grad=True)
    bias = gn.tensor(rng.standard_normal(4), requires_grad=True)
    assert gn.gradcheck(lambda x, w, b: conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2), groups=2), [x, weight, bias])


def test_conv2d_on_a_known_example():
    # a vertical-edge filter: it answers where the brightness changes from left to right
    image = np.zeros((1, 1, 3, 4), np.float32)
    image[..., 2:] = 1.0
    edge = gn.tensor(np.array([[[[-1.0, 1.0]]]], np.float32), requires_grad=True)
    out = conv2d(gn.tensor(image), edge)
    np.testing.assert_array_equal(out.numpy(), [[[[0, 1, 0]] * 3]])
    out.sum().backward()
    # each filter tap saw the sum of the pixels it multiplied: 3 rows x columns 0-2 and 1-3
    np.testing.assert_array_equal(edge.grad, [[[[3.0, 6.0]]]])


def test_conv2d_without_gradients_needed_skips_them():
    layer = Conv2d(2, 3, 3)
    layer.requires_grad_(False)
    x = gn.tensor(_input((2, 2, 5, 5)), requires_grad=True)
    layer(x).sum().backward()
    assert x.grad is not None and layer.weight.grad is None and layer.bias.grad is None
    layer.requires_grad_(True)
    with gn.no_grad():
        assert not layer(x).requires_grad


def _batch_last(array):
    """The same (N, C, H, W) values, stored batch-last: (C, H, W, N) in memory."""
    return np.ascontiguousarray(array.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)


def _over_layouts(layer, data, upstream, output_is_laid_out):
    """The layer's output and gradients for the input every half of ``data``'s pixels, given
    strided, contiguous and batch-last, and the upstream gradient in two layouts; each output
    must satisfy ``output_is_laid_out``. The values must never depend on the layouts."""
    results = []
    for x_data in (data[:, :, ::2, ::2], np.ascontiguousarray(data[:, :, ::2, ::2]), _batch_last(data[:, :, ::2, ::2])):
        for grad in (upstream, _batch_last(upstream)):
            x = gn.tensor(x_data, requires_grad=True)
            out = layer(x)
            assert output_is_laid_out(out)
            layer.zero_grad()
            out.backward(grad)
            results.append((out.numpy(), x.grad, layer.weight.grad, layer.bias.grad))
    for result in results[1:]:
        for value, first in zip(result, results[0]):
            np.testing.assert_allclose(value, first, rtol=1e-6, atol=1e-6)
    return results[0]


def test_conv2d_output_is_batch_last_and_any_input_layout_gives_the_same_values():
    """Inside, the op works on batch-last memory, and it hands its output on as an
    (N, C, H, W) view of it (see conv.py). The values never depend on the layout."""
    layer = Conv2d(3, 4, 3, padding=1)
    _over_layouts(layer, _input((2, 3, 12, 10)), _input((2, 4, 6, 5), seed=1),
                  lambda out: out.numpy().transpose(1, 2, 3, 0).flags.c_contiguous)


def test_tiled_conv2d_hands_on_rows_of_tokens_from_any_input_layout():
    """A kernel as large as its stride: the output is an (N, O, H', W') view of (N, H', W', O)
    memory, which a vision transformer flattens into tokens without a copy (conv.py)."""
    layer = Conv2d(3, 4, 2, stride=2)
    data, upstream = _input((2, 3, 8, 12)), _input((2, 4, 2, 3), seed=1)
    first = _over_layouts(layer, data, upstream, lambda out: out.numpy().transpose(0, 2, 3, 1).flags.c_contiguous
                          and out.flatten(2).transpose(1, 2).numpy().flags.c_contiguous)  # the tokens, no copy
    with gn.reference_ops():  # the same numbers from the readable reference
        x = gn.tensor(data[:, :, ::2, ::2], requires_grad=True)
        layer.zero_grad()
        out = layer(x)
        out.backward(upstream)
    for value, expected in zip((out.numpy(), x.grad, layer.weight.grad, layer.bias.grad), first):
        np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-5)


# -- im2col: the unfolding behind the op --------------------------------------------------------


@settings(max_examples=40, deadline=None, database=None)
@given(
    size=st.tuples(st.integers(1, 7), st.integers(1, 7)), kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)), padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)), seed=st.integers(0, 2**16),
)
def test_col2im_is_the_adjoint_of_im2col(size, kernel, stride, padding, dilation, seed):
    """<im2col(x), c> = <x, col2im(c)> for all x and c: col2im sends each column entry back
    to the pixel it was read from, which is exactly what the backward needs."""
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if any(s + 2 * p < span for s, p, span in zip(size, padding, spans)):
        return  # no window fits
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3) + size)
    geometry = (kernel, stride, tuple((p, p) for p in padding), dilation)
    columns = im2col(x, *geometry)
    c = rng.standard_normal(columns.shape)
    back = col2im(c, x.shape, *geometry)
    assert back.shape == x.shape
    assert np.vdot(columns, c) == pytest.approx(np.vdot(x, back), rel=1e-9, abs=1e-9)


# -- parameters, initialization, state ------------------------------------------------------------


def test_conv2d_default_init_is_within_pytorch_bounds():
    gn.seed(0)
    layer = Conv2d(64, 96, (3, 5), groups=4)
    fan_in = 64 // 4 * 3 * 5
    bound = 1 / math.sqrt(fan_in)
    assert layer.weight.shape == (96, 16, 3, 5) and layer.bias.shape == (96,)
    for p in (layer.weight, layer.bias):
        assert p.dtype == np.float32 and p.requires_grad
        assert np.abs(p.numpy()).max() <= bound and np.abs(p.numpy()).max() > 0.9 * bound
    assert layer.weight.numpy().std() == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_conv2d_state_dict_matches_pytorch_and_loads_its_weights(load_torch_weights):
    def model(m):
        return m.Sequential(m.Conv2d(1, 4, 3, padding=1), m.ReLU(), m.Conv2d(4, 2, 3, bias=False))

    assert nn.Conv2d is Conv2d and nn.functional.conv2d is conv2d  # exported by glassnet.nn
    mine, theirs = model(nn), model(torch.nn)
    assert list(mine.state_dict()) == list(theirs.state_dict()) == ["0.weight", "0.bias", "2.weight"]
    load_torch_weights(mine, theirs)
    data = _input((3, 1, 6, 6))
    np.testing.assert_allclose(mine(gn.tensor(data)).numpy(), theirs(torch.tensor(data)).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_conv2d_double_runs_in_float64():
    layer = Conv2d(1, 2, 3).double()
    assert layer.weight.dtype == np.float64
    assert layer(gn.tensor(np.zeros((1, 1, 4, 4)))).dtype == np.float64


# -- errors that teach ----------------------------------------------------------------------------


def test_conv2d_wrong_channel_count_names_layer_and_shapes():
    layer = Conv2d(1, 32, 3)
    with pytest.raises(ValueError, match=r"^Conv2d\(1, 32, kernel_size=\(3, 3\).*: expected input with 1 channel, got \(8, 3, 28, 28\)"):
        layer(gn.tensor(np.zeros((8, 3, 28, 28), np.float32)))
    with pytest.raises(ValueError, match=r"expected input with 3 channels, got \(8, 1, 28, 28\).*in_channels=1"):
        Conv2d(3, 8, 3)(gn.tensor(np.zeros((8, 1, 28, 28), np.float32)))


def test_conv2d_channels_last_input_says_permute():
    with pytest.raises(ValueError, match=r"\(8, 28, 28, 3\).*permute\(0, 3, 1, 2\)"):
        Conv2d(3, 8, 3)(gn.tensor(np.zeros((8, 28, 28, 3), np.float32)))


@pytest.mark.parametrize(
    "shape, hint",
    [((8, 28, 28), r"unsqueeze\(1\)"), ((3, 28, 28), r"unsqueeze\(0\)"), ((8, 784), r"reshape\(-1, 1, 28, 28\)")],
    ids=["grayscale_batch", "single_image", "flat_images"],
)
def test_conv2d_needs_four_dimensions(shape, hint):
    channels = 3 if shape == (3, 28, 28) else 1
    with pytest.raises(ValueError, match=rf"Conv2d\({channels}, 4, .*expected a 4-D input \(N, C, H, W\), got shape {re_shape(shape)}.*{hint}"):
        Conv2d(channels, 4, 3)(gn.tensor(np.zeros(shape, np.float32)))


def re_shape(shape):
    return str(shape).replace("(", r"\(").replace(")", r"\)")


def test_conv2d_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match=r"Conv2d\(1, 2, kernel_size=\(5, 5\).*kernel \(5x5.*larger than the padded input \(4x4.*\(2, 1, 2, 2\)"):
        Conv2d(1, 2, 5, padding=1)(gn.tensor(np.zeros((2, 1, 2, 2), np.float32)))
    with pytest.raises(ValueError, match=r"spanning 5x3 pixels with dilation \(2, 1\)"):
        conv2d(np.zeros((1, 1, 4, 4), np.float32), np.zeros((1, 1, 3, 3), np.float32), dilation=(2, 1))


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(in_channels=3, out_channels=4, kernel_size=3, groups=2), r"in_channels must be divisible by groups.*in_channels=3.*groups=2"),
        (dict(in_channels=4, out_channels=3, kernel_size=3, groups=2), r"out_channels must be divisible by groups.*out_channels=3"),
        (dict(in_channels=0, out_channels=4, kernel_size=3), r"in_channels must be a positive int"),
        (dict(in_channels=2, out_channels=4, kernel_size=3, groups=0), r"groups must be a positive int"),
        (dict(in_channels=2, out_channels=4, kernel_size=0), r"kernel_size must be at least 1"),
        (dict(in_channels=2, out_channels=4, kernel_size=(3, 3, 3)), r"kernel_size must be an int or a pair"),
        (dict(in_channels=2, out_channels=4, kernel_size=3, stride=0), r"stride must be at least 1"),
        (dict(in_channels=2, out_channels=4, kernel_size=3, dilation=(1, 0)), r"dilation must be at least 1"),
        (dict(in_channels=2, out_channels=4, kernel_size=3, padding=-1), r"padding must be at least 0"),
        (dict(in_channels=2, out_channels=4, kernel_size=3, padding="full"), r"padding must be .*'same' or 'valid', got 'full'"),
        (dict(in_channels=2, out_channels=4, kernel_size=3, padding="same", stride=2), r"padding='same' is not supported for strided"),
    ],
    ids=["in_groups", "out_groups", "in_channels", "groups", "kernel_zero", "kernel_3d", "stride", "dilation", "padding_negative",
         "padding_string", "same_strided"],
)
def test_conv2d_bad_hyperparameters(arguments, message):
    with pytest.raises(ValueError, match=message):
        Conv2d(**arguments)


def test_functional_conv2d_checks_its_arguments():
    x = np.zeros((2, 4, 5, 5), np.float32)
    with pytest.raises(ValueError, match=r"conv2d: weight must be 4-D.*\(3, 4, 3\)"):
        conv2d(x, np.zeros((3, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"conv2d: expected input with 2 channels, got \(2, 4, 5, 5\)"):
        conv2d(x, np.zeros((3, 2, 3, 3), np.float32))  # needs groups=2
    with pytest.raises(ValueError, match=r"conv2d: the 3 filters .* groups=2"):
        conv2d(x, np.zeros((3, 2, 3, 3), np.float32), groups=2)
    with pytest.raises(ValueError, match=r"conv2d: bias must have shape \(3,\).*\(4,\)"):
        conv2d(x, np.zeros((3, 4, 3, 3), np.float32), np.zeros(4, np.float32))
    with pytest.raises(TypeError, match=r"conv2d: input of dtype float64 with parameters of dtype float32"):
        conv2d(x.astype(np.float64), np.zeros((3, 4, 3, 3), np.float32))


def test_conv2d_integer_images_say_convert():
    with pytest.raises(TypeError, match=r"Conv2d\(1, 2.*floating-point input.*astype\('float32'\)"):
        Conv2d(1, 2, 3)(gn.tensor(np.zeros((1, 1, 5, 5), np.uint8)))


# -- behaviour on real data -----------------------------------------------------------------------


def test_a_small_cnn_learns_the_digits():
    """Conv2d, BatchNorm2d, ReLU, MaxPool2d and AvgPool2d together, trained on
    scikit-learn's 8x8 digits for a few epochs, recognize the held-out digits."""
    gn.seed(0)
    train, test = gn.datasets.digits("train"), gn.datasets.digits("test")
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),  # 16 x 4 x 4
        nn.Conv2d(16, 32, 3, padding="same"), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(32 * 2 * 2, 10),
    )
    optimizer = gn.optim.Adam(model.parameters(), lr=0.01)
    loader = gn.data.DataLoader(gn.data.TensorDataset(train.images, train.labels), batch_size=64, shuffle=True, seed=0)
    for _ in range(8):
        for images, labels in loader:
            loss = nn.functional.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with gn.no_grad():
        accuracy = (model(gn.tensor(test.images)).numpy().argmax(axis=1) == test.labels).mean()
    assert accuracy > 0.93
