"""Specification of the activations, as layers and in functional form, and of ``inplace=True``.

Each is checked against PyTorch on float32 inputs that hold its kinks, zero and large values
of both signs: the values and the gradients, which must agree at the kinks too, where PyTorch
sets the derivative by convention (ReLU6's is 0 at 0 and at 6, hardswish's 0 at -3 and 1 at
3). Away from the kinks, gn.gradcheck checks the gradients against finite differences.
In place, the input tensor itself is changed and returned, with PyTorch's gradient.
"""
import numpy as np
import pytest
import torch

import glassnet as gn
from glassnet import nn
from glassnet.nn import functional as F

TF = torch.nn.functional
RTOL = ATOL = 1e-6


def _next(x, toward):
    return float(np.nextafter(np.float32(x), np.float32(toward)))


# the kinks of every function below (0, ±lambd, ±3, the thresholds, hardtanh's -2 and 3, ...),
# the floats just beside ±3, and large values whose exp would overflow float32
POINTS = np.array([
    -100, -30, -20.5, -6, _next(-3, -4), -3, _next(-3, 0), -2, -1.5, -1, -0.5, -1e-4, 0, 1e-4, 0.5, 1, 1.5, 2,
    _next(3, 0), 3, _next(3, 4), 6, 10, 20, 20.5, 30, 88, 100,
], dtype=np.float32)

# (name, call, exact): ``call(F, x)`` works with either library's functional module; exact:
# piecewise-linear, so the values and gradients must be equal, not only close
FUNCTIONS = [
    ("relu", lambda F, x: F.relu(x), True),
    ("leaky_relu", lambda F, x: F.leaky_relu(x, 0.2), True),
    ("elu", lambda F, x: F.elu(x), False),
    ("elu_alpha", lambda F, x: F.elu(x, 0.5), False),
    ("selu", lambda F, x: F.selu(x), False),
    ("celu", lambda F, x: F.celu(x), False),
    ("celu_alpha", lambda F, x: F.celu(x, 2.0), False),
    ("silu", lambda F, x: F.silu(x), False),
    ("mish", lambda F, x: F.mish(x), False),
    ("softplus", lambda F, x: F.softplus(x), False),
    ("softplus_beta_threshold", lambda F, x: F.softplus(x, beta=2.0, threshold=1.0), False),  # switches at x = 0.5
    ("relu6", lambda F, x: F.relu6(x), True),
    ("hardtanh", lambda F, x: F.hardtanh(x), True),
    ("hardtanh_range", lambda F, x: F.hardtanh(x, -2.0, 3.0), True),
    ("hardsigmoid", lambda F, x: F.hardsigmoid(x), True),
    ("hardswish", lambda F, x: F.hardswish(x), False),
    ("logsigmoid", lambda F, x: F.logsigmoid(x), False),
    ("softsign", lambda F, x: F.softsign(x), False),
    ("tanhshrink", lambda F, x: F.tanhshrink(x), False),
    ("softshrink", lambda F, x: F.softshrink(x), True),
    ("softshrink_lambd", lambda F, x: F.softshrink(x, 1.5), True),
    ("hardshrink", lambda F, x: F.hardshrink(x), True),
    ("hardshrink_lambd", lambda F, x: F.hardshrink(x, 1.0), True),
    ("threshold", lambda F, x: F.threshold(x, 1.0, 20.0), True),
    ("glu", lambda F, x: F.glu(x.reshape(4, 7), 0), False),
    ("glu_last_dim", lambda F, x: F.glu(x.reshape(7, 4)), False),
    ("softmin", lambda F, x: F.softmin(x.reshape(7, 4), dim=1), False),
]

# (name, call): ``call(F, x, inplace)``, the functional forms that have PyTorch's inplace flag
IN_PLACE = [
    ("relu", lambda F, x, inplace: F.relu(x, inplace=inplace)),
    ("leaky_relu", lambda F, x, inplace: F.leaky_relu(x, 0.2, inplace=inplace)),
    ("elu", lambda F, x, inplace: F.elu(x, 0.5, inplace=inplace)),
    ("selu", lambda F, x, inplace: F.selu(x, inplace=inplace)),
    ("celu", lambda F, x, inplace: F.celu(x, 2.0, inplace=inplace)),
    ("silu", lambda F, x, inplace: F.silu(x, inplace=inplace)),
    ("mish", lambda F, x, inplace: F.mish(x, inplace=inplace)),
    ("relu6", lambda F, x, inplace: F.relu6(x, inplace=inplace)),
    ("hardtanh", lambda F, x, inplace: F.hardtanh(x, -2.0, 3.0, inplace=inplace)),
    ("hardsigmoid", lambda F, x, inplace: F.hardsigmoid(x, inplace=inplace)),
    ("hardswish", lambda F, x, inplace: F.hardswish(x, inplace=inplace)),
    ("threshold", lambda F, x, inplace: F.threshold(x, 1.0, 20.0, inplace=inplace)),
]

# (name, factory): ``factory(nn)`` builds the same layer in either library
LAYERS = [
    ("relu", lambda nn: nn.ReLU()),
    ("relu_inplace", lambda nn: nn.ReLU(inplace=True)),
    ("leaky_relu_inplace", lambda nn: nn.LeakyReLU(0.2, inplace=True)),
    ("elu", lambda nn: nn.ELU()),
    ("elu_inplace", lambda nn: nn.ELU(alpha=0.5, inplace=True)),
    ("selu", lambda nn: nn.SELU()),
    ("selu_inplace", lambda nn: nn.SELU(inplace=True)),
    ("celu", lambda nn: nn.CELU(2.0)),
    ("celu_inplace", lambda nn: nn.CELU(inplace=True)),
    ("silu", lambda nn: nn.SiLU()),
    ("silu_inplace", lambda nn: nn.SiLU(inplace=True)),
    ("mish", lambda nn: nn.Mish()),
    ("mish_inplace", lambda nn: nn.Mish(inplace=True)),
    ("softplus", lambda nn: nn.Softplus()),
    ("softplus_beta_threshold", lambda nn: nn.Softplus(beta=2, threshold=1)),
    ("relu6", lambda nn: nn.ReLU6()),
    ("relu6_inplace", lambda nn: nn.ReLU6(inplace=True)),
    ("hardtanh", lambda nn: nn.Hardtanh()),
    ("hardtanh_inplace", lambda nn: nn.Hardtanh(-2, 3, inplace=True)),
    ("hardsigmoid", lambda nn: nn.Hardsigmoid()),
    ("hardsigmoid_inplace", lambda nn: nn.Hardsigmoid(inplace=True)),  # PyTorch's repr hides inplace here
    ("hardswish", lambda nn: nn.Hardswish()),
    ("hardswish_inplace", lambda nn: nn.Hardswish(inplace=True)),
    ("logsigmoid", lambda nn: nn.LogSigmoid()),
    ("softsign", lambda nn: nn.Softsign()),
    ("tanhshrink", lambda nn: nn.Tanhshrink()),
    ("softshrink", lambda nn: nn.Softshrink()),
    ("hardshrink", lambda nn: nn.Hardshrink(1.0)),
    ("threshold", lambda nn: nn.Threshold(1.0, 20.0)),
    ("threshold_inplace", lambda nn: nn.Threshold(0.1, 20, inplace=True)),
    ("prelu", lambda nn: nn.PReLU()),
    ("prelu_per_channel", lambda nn: nn.PReLU(4, init=0.1)),
    ("glu", lambda nn: nn.GLU()),
    ("glu_dim", lambda nn: nn.GLU(dim=1)),
    ("softmin", lambda nn: nn.Softmin(dim=1)),
    ("identity", lambda nn: nn.Identity()),
]


def _pair(array):
    """The same values as a glassnet and a torch leaf that require grad."""
    return gn.tensor(array.copy(), requires_grad=True), torch.tensor(array.copy(), requires_grad=True)


def _assert_match(mine, theirs, exact, what):
    theirs = theirs.detach().numpy()
    assert mine.dtype == theirs.dtype, what
    if exact:
        np.testing.assert_array_equal(mine, theirs, err_msg=what)
    else:
        np.testing.assert_allclose(mine, theirs, rtol=RTOL, atol=ATOL, err_msg=what)


# -- values and gradients, against PyTorch -------------------------------------------------------


@pytest.mark.parametrize("name, call, exact", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_functional_values_and_gradients_match_pytorch(name, call, exact):
    x, expected_x = _pair(POINTS)
    out, expected = call(F, x), call(TF, expected_x)
    _assert_match(out.numpy(), expected, exact, "values")
    # with an upstream gradient of ones, an element-wise function's gradient is its derivative,
    # at the kinks too; GLU and softmin mix elements, so varied weights check them more fully
    upstream = np.ones(out.shape, np.float32)
    if name.startswith(("glu", "softmin")):
        upstream = np.random.default_rng(0).standard_normal(out.shape).astype(np.float32)
    out.backward(gn.tensor(upstream))
    expected.backward(torch.from_numpy(upstream))
    _assert_match(x.grad.numpy(), expected_x.grad, exact, "gradients")


@pytest.mark.parametrize("name, factory", LAYERS, ids=[layer[0] for layer in LAYERS])
def test_layers_match_pytorch_in_repr_values_and_gradients(name, factory):
    layer, expected_layer = factory(nn), factory(torch.nn)
    assert repr(layer) == repr(expected_layer)
    a, expected_a = _pair(POINTS.reshape(7, 4))
    x, expected_x = a * 1, expected_a * 1  # not leaves, so that the in-place layers may change them
    out, expected = layer(x), expected_layer(expected_x)
    _assert_match(out.numpy(), expected, False, "values")
    upstream = np.random.default_rng(0).standard_normal(out.shape).astype(np.float32)
    out.backward(gn.tensor(upstream))
    expected.backward(torch.from_numpy(upstream))
    _assert_match(a.grad.numpy(), expected_a.grad, False, "gradients")
    for (key, param), expected_param in zip(layer.named_parameters(), expected_layer.parameters()):
        _assert_match(param.grad.numpy(), expected_param.grad, False, f"gradient of {key}")


def test_the_new_layers_are_exported_from_nn_under_pytorchs_names():
    names = ["ELU", "SELU", "CELU", "SiLU", "Mish", "Softplus", "ReLU6", "Hardtanh", "Hardsigmoid", "Hardswish",
             "LogSigmoid", "Softsign", "Tanhshrink", "Softshrink", "Hardshrink", "Threshold", "PReLU", "GLU", "Softmin",
             "Identity"]
    for name in names:
        assert name in nn.__all__ and issubclass(getattr(nn, name), nn.Module) and hasattr(torch.nn, name)
    assert issubclass(nn.ReLU6, nn.Hardtanh)  # as in PyTorch


def test_selu_uses_the_papers_constants():
    assert F.SELU_ALPHA == 1.6732632423543772848170429916717
    assert F.SELU_SCALE == 1.0507009873554804934193349852946
    x = gn.tensor([-1.0, 1.0], dtype="float64")
    np.testing.assert_allclose(F.selu(x).numpy(), [F.SELU_SCALE * F.SELU_ALPHA * (np.exp(-1) - 1), F.SELU_SCALE])


def test_no_nan_or_inf_from_large_inputs_in_values_or_gradients():
    x = gn.tensor(np.array([-1e4, -100, 100, 1e4], np.float32), requires_grad=True)
    for name, call, _ in FUNCTIONS:
        if name.startswith(("glu", "softmin")):
            continue
        x.grad = None
        out = call(F, x)
        out.sum().backward()
        assert np.isfinite(out.numpy()).all() and np.isfinite(x.grad.numpy()).all(), name


# -- against calculus, away from the kinks ---------------------------------------------------------


def _away_from_kinks(count, seed=0):
    """float64 values in (-5, 5), none within 0.05 of a kink of the functions checked."""
    kinks = np.array([0, 0.5, 1, 1.5, 2, 3, 6])
    values = np.random.default_rng(seed).uniform(-5, 5, 4 * count)
    far = np.abs(np.abs(values)[:, None] - kinks).min(axis=1) > 0.05
    return values[far][:count]


@pytest.mark.parametrize("name, call, exact", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_functional_gradcheck(name, call, exact):
    x = gn.tensor(_away_from_kinks(28), requires_grad=True)
    assert gn.gradcheck(lambda t: call(F, t), [x])


@pytest.mark.parametrize("name, call", IN_PLACE, ids=[f[0] for f in IN_PLACE])
def test_in_place_gradcheck(name, call):
    x = gn.tensor(_away_from_kinks(12, seed=1), requires_grad=True)
    assert gn.gradcheck(lambda t: call(F, t * 1, True), [x])  # t * 1: in place on a copy, not on the leaf


def test_prelu_gradcheck_checks_the_weight_too():
    x = gn.tensor(_away_from_kinks(24).reshape(2, 3, 4), requires_grad=True)
    weight = gn.tensor([0.1, -0.3, 0.7], dtype="float64", requires_grad=True)
    assert gn.gradcheck(F.prelu, [x, weight])


# -- in place ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, call", IN_PLACE, ids=[f[0] for f in IN_PLACE])
def test_in_place_changes_the_input_and_gives_pytorchs_gradient(name, call):
    a, expected_a = _pair(POINTS)
    x, expected_x = a * 2, expected_a * 2  # in place on an op's output: allowed, and backward goes through it
    out, expected = call(F, x, True), call(TF, expected_x, True)
    assert out is x and expected is expected_x
    _assert_match(x.numpy(), call(TF, torch.tensor(POINTS * 2), False), False, "values")
    upstream = np.random.default_rng(0).standard_normal(out.shape).astype(np.float32)
    out.backward(gn.tensor(upstream))
    expected.backward(torch.from_numpy(upstream))
    _assert_match(a.grad.numpy(), expected_a.grad, False, "gradients")


@pytest.mark.parametrize("name, call", IN_PLACE, ids=[f[0] for f in IN_PLACE])
def test_in_place_without_autograd_writes_into_the_same_memory(name, call):
    x = gn.tensor(POINTS.copy())
    memory, version = x._data, x._version[0]
    assert call(F, x, True) is x and x._data is memory and x._version[0] == version + 1
    np.testing.assert_allclose(memory, call(TF, torch.tensor(POINTS), False).numpy(), rtol=RTOL, atol=ATOL)
    out_of_place = gn.tensor(POINTS.copy())
    assert call(F, out_of_place, False) is not out_of_place
    np.testing.assert_array_equal(out_of_place.numpy(), POINTS)  # inplace=False leaves the input alone


@pytest.mark.parametrize("name, call", IN_PLACE, ids=[f[0] for f in IN_PLACE])
def test_in_place_on_a_leaf_that_requires_grad_is_refused_as_in_pytorch(name, call):
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        call(TF, torch.tensor(POINTS, requires_grad=True), True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad .* cannot be changed in place"):
        call(F, gn.tensor(POINTS, requires_grad=True), True)
    with gn.no_grad():  # allowed where autograd does not record, as for an optimizer's step
        weight = gn.tensor(POINTS, requires_grad=True)
        assert call(F, weight, True) is weight


def test_in_place_layers_refuse_a_leaf_and_change_a_non_leaf():
    with pytest.raises(RuntimeError, match="relu_: a leaf tensor that requires grad"):
        nn.ReLU(inplace=True)(gn.tensor([1.0, -1.0], requires_grad=True))
    with pytest.raises(RuntimeError, match="elu_: a leaf tensor that requires grad"):
        nn.ELU(inplace=True)(gn.tensor([1.0, -1.0], requires_grad=True))
    x = gn.tensor([1.0, -1.0], requires_grad=True) * 1
    assert nn.ReLU6(inplace=True)(x) is x and x.numpy().tolist() == [1.0, 0.0]


def test_changing_a_tensor_that_an_op_saved_fails_at_backward_as_in_pytorch():
    # sigmoid saves its output for its backward: relu in place on it would change what backward reads
    a, expected_a = _pair(np.array([-1.0, 2.0], np.float32))
    F.relu(a.sigmoid() - 0.6, inplace=True)  # a new tensor, changed in place: fine
    out = a.sigmoid()
    F.relu(out, inplace=True)
    expected = expected_a.sigmoid()
    TF.relu(expected, inplace=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        expected.sum().backward()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        out.sum().backward()


def test_in_place_dropout_changes_the_input_with_the_same_mask():
    values = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    expected = F.dropout(gn.tensor(values), 0.5, generator=np.random.default_rng(3)).numpy()
    a = gn.tensor(values, requires_grad=True)
    x = a * 1
    assert F.dropout(x, 0.5, True, True, generator=np.random.default_rng(3)) is x
    np.testing.assert_array_equal(x.numpy(), expected)
    x.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.where(expected != 0, 2.0, 0.0))  # kept: scaled by 1/(1 - p)
    x = gn.tensor(values)
    assert F.dropout(x, 0.5, training=False, inplace=True) is x and np.array_equal(x.numpy(), values)


def test_in_place_dropout_layers():
    maps = gn.tensor(np.ones((2, 3, 4, 4), np.float32))
    assert nn.Dropout2d(0.5, inplace=True)(maps) is maps
    per_channel = maps.numpy().reshape(6, 16)
    assert set(per_channel.min(axis=1)) <= {0.0, 2.0} and (per_channel.min(axis=1) == per_channel.max(axis=1)).all()
    x = gn.tensor(np.ones((50, 40), np.float32))
    assert nn.Dropout(0.5, inplace=True)(x) is x and set(np.unique(x.numpy())) == {0.0, 2.0}
    layer = nn.Dropout(0.5, inplace=True).eval()
    assert layer(x) is x
    for make in (lambda m: m.Dropout(), lambda m: m.Dropout(0.2, inplace=True), lambda m: m.Dropout2d(0.1),
                 lambda m: m.Dropout2d(inplace=True)):
        assert repr(make(nn)) == repr(make(torch.nn))


# -- PReLU's weight ---------------------------------------------------------------------------------


def test_prelu_state_dict_is_pytorchs_and_loads_from_it():
    assert list(nn.PReLU().state_dict()) == list(torch.nn.PReLU().state_dict()) == ["weight"]
    assert nn.PReLU(3).weight.shape == (3,) and np.all(nn.PReLU(3, init=0.1).weight.numpy() == np.float32(0.1))
    expected_layer = torch.nn.PReLU(3)
    with torch.no_grad():
        expected_layer.weight.copy_(torch.tensor([0.1, -0.2, 0.5]))
    layer = nn.PReLU(3)
    result = layer.load_state_dict({k: v.numpy() for k, v in expected_layer.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys
    x, expected_x = _pair(np.random.default_rng(0).standard_normal((2, 3, 5)).astype(np.float32))
    out, expected = layer(x), expected_layer(expected_x)
    _assert_match(out.numpy(), expected, True, "values")
    out.sum().backward()
    expected.sum().backward()
    _assert_match(x.grad.numpy(), expected_x.grad, True, "input gradient")
    _assert_match(layer.weight.grad.numpy(), expected_layer.weight.grad, False, "weight gradient")


def test_prelu_takes_the_slope_at_zero_and_checks_the_weights_count():
    x, expected_x = _pair(np.array([[-2.0, 0.0, 3.0]], np.float32))
    weight, expected_weight = _pair(np.array([0.3], np.float32))
    out, expected = F.prelu(x, weight), TF.prelu(expected_x, expected_weight)
    out.sum().backward()
    expected.sum().backward()
    _assert_match(x.grad.numpy(), expected_x.grad, True, "input gradient")  # 0.3 at 0: the slope's side
    _assert_match(weight.grad.numpy(), expected_weight.grad, True, "weight gradient")
    assert F.prelu(gn.tensor(-2.0), gn.tensor([0.5])).shape == ()  # a single weight keeps the input's shape
    with pytest.raises(ValueError, match=r"prelu: weight of shape \(3,\) for an input of shape \(2, 4\).*1 slope or one per channel"):
        F.prelu(gn.ones(2, 4), gn.ones(3))
    with pytest.raises(ValueError, match="prelu: weight of shape"):
        F.prelu(gn.ones(4), gn.ones(4))  # a 1-D input has one channel, as in PyTorch


# -- arguments ---------------------------------------------------------------------------------------


def test_bad_arguments_are_refused_with_the_layer_named():
    with pytest.raises(ValueError, match=r"Hardtanh: max_val \(1.0\) must be greater than min_val \(2.0\)"):
        nn.Hardtanh(2.0, 1.0)
    with pytest.raises(ValueError, match="hardtanh: min_val"):
        F.hardtanh(gn.ones(2), 2.0, 1.0)
    with pytest.raises(ValueError, match="CELU: alpha cannot be 0"):
        nn.CELU(0.0)
    with pytest.raises(ValueError, match="celu: alpha cannot be 0"):
        F.celu(gn.ones(2), 0.0)
    with pytest.raises(ValueError, match="Softshrink: lambd must be at least 0"):
        nn.Softshrink(-1)
    with pytest.raises(ValueError, match="PReLU: num_parameters must be at least 1"):
        nn.PReLU(0)
    with pytest.raises(ValueError, match=r"glu: the halving dimension must be even, but dimension 1 .* is size 5"):
        nn.GLU(1)(gn.ones(2, 5))
    with pytest.raises(ValueError, match="glu: a scalar cannot be halved"):
        F.glu(gn.tensor(1.0))


def test_float64_stays_float64():
    x = gn.tensor(POINTS.astype(np.float64))
    for name, call, _ in FUNCTIONS:
        assert call(F, x).dtype == np.float64, name


# -- ONNX: the layers are written as the ops they are composed of -----------------------------------


@pytest.mark.parametrize("activation", [
    nn.SiLU(), nn.ELU(), nn.SELU(), nn.CELU(2.0), nn.Mish(), nn.Softplus(), nn.ReLU6(), nn.Hardtanh(-2, 3),
    nn.Hardsigmoid(), nn.Hardswish(), nn.LogSigmoid(), nn.Softsign(), nn.Tanhshrink(), nn.Softshrink(), nn.PReLU(4),
    nn.Softmin(dim=1),
], ids=repr)
def test_onnx_export_of_a_model_with_the_activation(activation, tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    model = nn.Sequential(nn.Linear(4, 4), activation, nn.Linear(4, 2))
    x = gn.tensor(np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32) * 4)
    gn.onnx.export(model, x, tmp_path / "model.onnx")
    assert gn.onnx.verify(tmp_path / "model.onnx", model, x) < 1e-5


@pytest.mark.parametrize("activation", [nn.Threshold(0.1, 2.0), nn.Hardshrink(), nn.Softplus(beta=2.0, threshold=1.0)],
                         ids=repr)
def test_onnx_export_computes_a_mask_from_the_input_even_where_the_example_never_crossed_it(activation, tmp_path):
    """The masks of these layers (x > threshold, |x| <= lambd, beta x > threshold) are
    comparisons, which the record sees as ops (ops.Logic): the graph computes them, so an
    example whose values all lie on one side (as the export's two recordings here) still
    gives a graph that is right for values on the other."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    gn.seed(0)
    model = nn.Sequential(nn.Linear(4, 4), activation, nn.Linear(4, 2))
    small = gn.tensor(np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32) * 0.01)
    gn.onnx.export(model, small, tmp_path / "model.onnx")
    wide = gn.tensor(np.random.default_rng(1).standard_normal((64, 4)).astype(np.float32) * 10)
    assert gn.onnx.verify(tmp_path / "model.onnx", model, wide) < 1e-5


def test_onnx_export_writes_comparisons_and_the_logic_of_masks(tmp_path):
    """x > 0.5, x <= -1 (a Python number compared in the tensor's float32), their & | ^,
    ~ and !=, as ONNX's Greater, LessOrEqual, And, Or, Xor, Not and Equal."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")

    class Masks(nn.Module):
        def forward(self, x):
            high, low = x > 0.5, x <= -1
            mixed = ((high | low) ^ (x != 0.25)) & ~(x >= 2)
            return ops_where(mixed, x, x * 3)
    from glassnet.ops import where as ops_where
    x = gn.tensor(np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32))
    gn.onnx.export(Masks(), x, tmp_path / "masks.onnx")
    other = gn.tensor(np.linspace(-3, 3, 40, dtype=np.float32).reshape(8, 5))
    assert gn.onnx.verify(tmp_path / "masks.onnx", Masks(), other) == 0


def test_onnx_export_refuses_an_in_place_layer_and_says_so(tmp_path):
    pytest.importorskip("onnx")
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(inplace=True), nn.Linear(4, 2))
    with pytest.raises(gn.onnx.ExportError, match="changed in place .*inplace=True.*help: .*inplace=False"):
        gn.onnx.export(model, gn.ones(3, 4), tmp_path / "model.onnx")
