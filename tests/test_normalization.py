"""Specification of LayerNorm: the statistics it produces, its gradient (calculus), parity
with PyTorch, and its errors. The fused op against its readable reference
(``ops.layer_norm_reference``) is in tests/test_references.py."""
import numpy as np
import pytest
import torch

import glassnet as gn
from glassnet import ops
from glassnet.nn.functional import layer_norm
from glassnet.nn.normalization import LayerNorm

# (name, constructor arguments, input shape)
CASES = [
    ("last_dim", dict(normalized_shape=4), (3, 4)),
    ("last_dim_3d_input", dict(normalized_shape=(4,)), (2, 3, 4)),
    ("two_trailing_dims", dict(normalized_shape=(3, 4)), (2, 3, 4)),
    ("no_affine", dict(normalized_shape=4, elementwise_affine=False), (3, 4)),
    ("no_bias", dict(normalized_shape=4, bias=False), (2, 3, 4)),
    ("two_dims_no_bias", dict(normalized_shape=(3, 4), bias=False), (2, 3, 4)),
    ("large_eps", dict(normalized_shape=4, eps=0.5), (3, 4)),
]
IDS = [case[0] for case in CASES]


def _random_affine(layer, seed):
    # ones and zeros would hide a mix-up of weight and bias
    rng = np.random.default_rng(seed)
    for parameter in layer.parameters():
        parameter.data[...] = rng.standard_normal(parameter.shape)


@pytest.mark.parametrize("name, kwargs, shape", CASES, ids=IDS)
def test_layer_norm_matches_pytorch(name, kwargs, shape, load_torch_weights):
    theirs = torch.nn.LayerNorm(**kwargs)
    with torch.no_grad():
        for parameter in theirs.parameters():
            parameter.normal_()
    mine = load_torch_weights(LayerNorm(**kwargs), theirs)
    assert list(mine.state_dict()) == list(theirs.state_dict())

    data = np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 3 + 1
    x, tx = gn.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    out, expected = mine(x), theirs(tx)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-5)

    upstream = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    their_params = dict(theirs.named_parameters())
    for param_name, parameter in mine.named_parameters():
        assert parameter.grad.shape == parameter.shape and parameter.grad.dtype == np.float32
        np.testing.assert_allclose(parameter.grad, their_params[param_name].grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=param_name)


@pytest.mark.parametrize("name, kwargs, shape", CASES, ids=IDS)
def test_layer_norm_gradcheck(name, kwargs, shape):
    layer = LayerNorm(**kwargs).double()
    _random_affine(layer, seed=0)
    x = gn.tensor(np.random.default_rng(2).standard_normal(shape), requires_grad=True)
    params = list(layer.parameters())
    assert gn.gradcheck(lambda x, *params: layer(x), [x, *params])


def test_functional_layer_norm_matches_pytorch(torch_parity):
    rng = np.random.default_rng(0)
    x, weight, bias = (rng.standard_normal(s).astype(np.float32) for s in [(2, 3, 4), (3, 4), (3, 4)])
    torch_parity(
        lambda x, w, b: layer_norm(x, (3, 4), w, b, eps=1e-3),
        lambda x, w, b: torch.nn.functional.layer_norm(x, (3, 4), w, b, eps=1e-3),
        x, weight, bias, rtol=1e-4, atol=1e-5,
    )
    torch_parity(lambda x: layer_norm(x, 4), lambda x: torch.nn.functional.layer_norm(x, (4,)), x, rtol=1e-4, atol=1e-5)


def test_layer_norm_of_a_strided_view_matches_pytorch():
    """A vision transformer normalizes its class tokens, x[:, 0]: rows 17 tokens apart in
    memory. The op copies them into rows of their own for its kernels; the values and the
    gradient that flows back into x are PyTorch's."""
    data = np.random.default_rng(0).standard_normal((6, 17, 64)).astype(np.float32) * 3 + 1
    upstream = np.random.default_rng(1).standard_normal((6, 64)).astype(np.float32)
    mine, theirs = LayerNorm(64), torch.nn.LayerNorm(64)
    x, tx = gn.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    out, expected = mine(x[:, 0]), theirs(tx[:, 0])
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-5)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    assert (x.grad[:, 1:] == 0).all()


def test_layer_norm_output_has_zero_mean_and_unit_variance_per_sample():
    layer = LayerNorm((3, 4))
    x = gn.tensor(np.random.default_rng(0).standard_normal((5, 3, 4)).astype(np.float32) * 10 - 7)
    out = layer(x).numpy().reshape(5, -1)
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-6)
    np.testing.assert_allclose(out.var(axis=1), 1, atol=1e-4)


def test_layer_norm_of_a_constant_input_is_zero_not_nan():
    x = gn.tensor(np.full((2, 4), 3.0, np.float32), requires_grad=True)
    out = LayerNorm(4)(x)
    np.testing.assert_array_equal(out.numpy(), 0)
    out.sum().backward()
    assert np.isfinite(x.grad).all()


def test_layer_norm_parameters_init_and_repr_as_pytorch():
    layer = LayerNorm((3, 4))
    assert layer.weight.shape == layer.bias.shape == (3, 4)
    np.testing.assert_array_equal(layer.weight.numpy(), 1)
    np.testing.assert_array_equal(layer.bias.numpy(), 0)
    assert layer.weight.dtype == np.float32 and layer.weight.requires_grad
    assert LayerNorm(4, elementwise_affine=False).weight is None
    assert list(LayerNorm(4, bias=False).state_dict()) == ["weight"]
    for kwargs in [dict(normalized_shape=4), dict(normalized_shape=(3, 4), eps=1e-3, bias=False), dict(normalized_shape=4, elementwise_affine=False)]:
        assert repr(LayerNorm(**kwargs)) == repr(torch.nn.LayerNorm(**kwargs))


def test_layer_norm_runs_on_float64_after_double():
    layer = LayerNorm(4).double()
    assert layer(gn.tensor(np.ones((2, 4)))).dtype == np.float64


def test_layer_norm_wrong_trailing_shape_names_layer_and_shapes():
    with pytest.raises(ValueError, match=r"LayerNorm\(\(8,\).*\(\*, 8\).*\(2, 5, 6\).*normalized_shape=\(6,\)"):
        LayerNorm(8)(gn.tensor(np.zeros((2, 5, 6), np.float32)))
    with pytest.raises(ValueError, match=r"\(\*, 3, 4\).*\(2, 4, 3\)"):
        LayerNorm((3, 4))(gn.tensor(np.zeros((2, 4, 3), np.float32)))
    with pytest.raises(ValueError, match=r"layer_norm: weight of shape \(5,\)"):
        layer_norm(gn.tensor(np.zeros((2, 4), np.float32)), 4, gn.tensor(np.ones(5, np.float32)))
    with pytest.raises(ValueError, match="positive"):
        LayerNorm(0)


def test_layer_norm_function_skips_gradients_nobody_needs():
    x = gn.tensor(np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32))
    weight = gn.tensor(np.ones(4, np.float32), requires_grad=True)
    out = ops.LayerNorm.apply(x, weight, normalized_ndim=1, eps=1e-5, has_weight=True, has_bias=False)
    out.sum().backward()
    assert x.grad is None and weight.grad.shape == (4,)
