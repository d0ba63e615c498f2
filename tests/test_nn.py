"""Specification of nn.Module mechanics, the layers, and weight initialization.

Every layer is checked against calculus (gn.gradcheck on the layer converted to float64,
its parameters among the checked inputs) and against PyTorch (the same weights copied
in; outputs and the gradients of the input and of every parameter compared).
"""
import math
from collections import OrderedDict

import numpy as np
import pytest
import torch

import glassnet as gn
import glassnet.nn.functional as F
from glassnet import nn


# -- layers: the table --------------------------------------------------------------------

# (name, layer factory, input shape); a factory takes the nn module of either library
# (glassnet's or PyTorch's), so one lambda builds the same layer in both
LAYERS = [
    ("linear", lambda m: m.Linear(4, 3), (5, 4)),
    ("linear_no_bias", lambda m: m.Linear(4, 3, bias=False), (5, 4)),
    ("linear_3d_input", lambda m: m.Linear(4, 3), (2, 5, 4)),
    ("linear_1d_input", lambda m: m.Linear(4, 3), (4,)),
    ("flatten", lambda m: m.Flatten(), (2, 3, 2, 2)),
    ("flatten_range", lambda m: m.Flatten(0, 1), (2, 3, 2)),
    ("relu", lambda m: m.ReLU(), (3, 4)),
    ("leaky_relu", lambda m: m.LeakyReLU(0.2), (3, 4)),
    ("sigmoid", lambda m: m.Sigmoid(), (3, 4)),
    ("tanh", lambda m: m.Tanh(), (3, 4)),
    ("gelu", lambda m: m.GELU(), (3, 4)),
    ("gelu_tanh", lambda m: m.GELU(approximate="tanh"), (3, 4)),
    ("softmax", lambda m: m.Softmax(dim=1), (3, 4)),
    ("log_softmax", lambda m: m.LogSoftmax(dim=-1), (3, 4)),
    ("identity", lambda m: m.Identity(), (3, 4)),
    ("dropout_eval", lambda m: m.Dropout(0.5).eval(), (3, 4)),
    (
        "sequential",
        lambda m: m.Sequential(m.Flatten(), m.Linear(6, 5), m.Tanh(), m.Linear(5, 4, bias=False), m.GELU(), m.Linear(4, 3)),
        (2, 2, 3),
    ),
    (
        "sequential_named",
        lambda m: m.Sequential(OrderedDict([("hidden", m.Linear(4, 5)), ("act", m.LeakyReLU()), ("out", m.Linear(5, 2))])),
        (3, 4),
    ),
]


def _input(shape, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return np.where(np.abs(x) < 0.05, 0.1, x).astype(np.float32)  # away from relu's kink


@pytest.mark.parametrize("name, make, shape", LAYERS, ids=[layer[0] for layer in LAYERS])
def test_layer_matches_pytorch(name, make, shape, load_torch_weights):
    torch.manual_seed(0)
    theirs = make(torch.nn)
    mine = load_torch_weights(make(nn), theirs)
    if not theirs.training or not mine.training:
        theirs.eval(), mine.eval()
    assert [n for n, _ in mine.named_parameters()] == [n for n, _ in theirs.named_parameters()]

    data = _input(shape)
    x, tx = gn.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    out, expected = mine(x), theirs(tx)
    assert out.shape == tuple(expected.shape) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=2e-5, atol=1e-6)

    upstream = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=2e-5, atol=1e-6)
    their_params = dict(theirs.named_parameters())
    for param_name, param in mine.named_parameters():
        assert param.grad.dtype == np.float32
        np.testing.assert_allclose(param.grad, their_params[param_name].grad.numpy(), rtol=2e-5, atol=1e-6, err_msg=param_name)


@pytest.mark.parametrize("name, make, shape", LAYERS, ids=[layer[0] for layer in LAYERS])
def test_layer_gradcheck(name, make, shape):
    gn.seed(0)
    layer = make(nn).double()
    x = gn.tensor(_input(shape, seed=2).astype(np.float64), requires_grad=True)
    params = list(layer.parameters())
    assert all(p.dtype == np.float64 for p in params)
    assert gn.gradcheck(lambda x, *params: layer(x), [x, *params])
    assert all(p.grad is not None for p in params)


def test_dropout_gradcheck_with_a_fixed_mask():
    x = gn.tensor(np.random.default_rng(0).standard_normal((4, 5)), requires_grad=True)
    assert gn.gradcheck(lambda t: F.dropout(t, 0.3, generator=np.random.default_rng(7)), [x])


# -- Linear ---------------------------------------------------------------------------------


def test_linear_shapes_and_parameters():
    layer = nn.Linear(4, 3)
    assert layer.weight.shape == (3, 4) and layer.bias.shape == (3,)
    assert layer.weight.dtype == np.float32 and layer.weight.requires_grad
    assert nn.Linear(4, 3, bias=False).bias is None
    assert [n for n, _ in nn.Linear(4, 3, bias=False).named_parameters()] == ["weight"]
    assert layer(gn.tensor(np.zeros((2, 5, 4), np.float32))).shape == (2, 5, 3)
    with pytest.raises(ValueError, match="positive"):
        nn.Linear(0, 3)


def test_linear_on_a_known_example():
    layer = nn.Linear(2, 2)
    layer.load_state_dict({"weight": np.array([[1.0, 2.0], [3.0, -1.0]]), "bias": np.array([0.5, -0.5])})
    x = gn.tensor([[1.0, 1.0], [2.0, 0.0]], requires_grad=True)
    out = layer(x)
    np.testing.assert_array_equal(out.numpy(), [[3.5, 1.5], [2.5, 5.5]])
    out.sum().backward()
    np.testing.assert_array_equal(layer.weight.grad, [[3.0, 1.0], [3.0, 1.0]])  # column sums of x
    np.testing.assert_array_equal(layer.bias.grad, [2.0, 2.0])
    np.testing.assert_array_equal(x.grad, [[4.0, 1.0], [4.0, 1.0]])  # column sums of W


def test_linear_wrong_feature_count_names_layer_and_shapes():
    layer = nn.Linear(784, 128)
    with pytest.raises(ValueError, match=r"Linear\(in_features=784, out_features=128.*\(\*, 784\).*\(32, 100\)"):
        layer(gn.tensor(np.zeros((32, 100), np.float32)))


def test_linear_unflattened_images_say_add_flatten():
    layer = nn.Linear(784, 128)
    with pytest.raises(ValueError, match=r"\(32, 1, 28, 28\).*add Flatten\(\)"):
        layer(gn.tensor(np.zeros((32, 1, 28, 28), np.float32)))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_linear_rejects_integer_input_naming_layer_and_both_dtypes(dtype):
    data = np.arange(8).reshape(2, 4).astype(dtype)
    with pytest.raises(RuntimeError):  # PyTorch refuses it too
        torch.nn.Linear(4, 3)(torch.from_numpy(data))
    expected = np.dtype(dtype).name
    for layer, weights in [(nn.Linear(4, 3), "float32"), (nn.Linear(4, 3).double(), "float64")]:
        with pytest.raises(TypeError, match=rf"Linear\(in_features=4, out_features=3, bias=True\): expected a "
                                            rf"floating-point input of dtype {weights} .*got dtype {expected}"):
            layer(gn.tensor(data))
        with pytest.raises(TypeError, match=rf"got dtype {expected}"):
            layer(data)  # a NumPy array too


def test_functional_linear_shape_mismatch():
    with pytest.raises(ValueError, match=r"linear.*\(2, 5\).*\(3, 4\)"):
        F.linear(gn.tensor(np.zeros((2, 5), np.float32)), gn.tensor(np.zeros((3, 4), np.float32)))


# -- Flatten, Dropout, activations -----------------------------------------------------------


def test_flatten_default_keeps_the_batch_axis():
    x = gn.tensor(np.zeros((32, 1, 28, 28), np.float32))
    assert nn.Flatten()(x).shape == (32, 784)
    assert nn.Flatten(0)(x).shape == (32 * 784,)
    assert nn.Flatten(1, 2)(x).shape == (32, 28, 28)


def test_dropout_in_training_zeroes_about_p_and_scales_the_rest():
    gn.seed(0)
    layer = nn.Dropout(p=0.3)
    x = gn.tensor(np.ones((200, 100), np.float32), requires_grad=True)
    out = layer(x)
    zeroed = (out.numpy() == 0).mean()
    assert zeroed == pytest.approx(0.3, abs=0.01)  # 20,000 draws: 4.5 standard deviations
    np.testing.assert_allclose(out.numpy()[out.numpy() != 0], 1 / 0.7, rtol=1e-6)
    assert out.numpy().mean() == pytest.approx(1.0, abs=0.02)  # expectation unchanged
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, out.numpy())  # the same mask and scale


def test_dropout_in_eval_mode_and_edge_probabilities_pass_through():
    x = gn.tensor(np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32))
    layer = nn.Dropout(0.5).eval()
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).numpy(), x.numpy())
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).numpy(), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, p=-0.1)


def test_dropout_masks_differ_between_calls():
    layer = nn.Dropout(0.5)
    x = gn.tensor(np.ones((8, 8), np.float32))
    assert not np.array_equal(layer(x).numpy(), layer(x).numpy())


def test_softmax_layer_outputs_probabilities():
    out = nn.Softmax(dim=1)(gn.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])).numpy()
    np.testing.assert_allclose(out.sum(axis=1), [1.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(out[1], [1 / 3] * 3, rtol=1e-6)


# -- Module mechanics ---------------------------------------------------------------------------


def _make_net(m):
    """The same architecture in either library: attributes, a nested Sequential, no-bias."""

    class Net(m.Module):
        def __init__(self):
            super().__init__()
            self.encoder = m.Sequential(m.Linear(6, 5), m.ReLU(), m.Linear(5, 4, bias=False))
            self.act = m.Tanh()
            self.head = m.Linear(4, 3)

        def forward(self, x):
            return self.head(self.act(self.encoder(x)))

    return Net()


def test_parameter_names_and_order_match_pytorch():
    mine, theirs = _make_net(nn), _make_net(torch.nn)
    assert [(n, p.shape) for n, p in mine.named_parameters()] == [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert [n for n, _ in mine.named_parameters()] == ["encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "head.weight", "head.bias"]
    assert len(list(mine.parameters())) == 5
    assert [n for n, _ in mine.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in mine.named_children()] == ["encoder", "act", "head"]


def _sequential(m):
    return m.Sequential(m.Flatten(), m.Linear(12, 8), m.ReLU(), m.Dropout(0.2), m.Linear(8, 6, bias=False), m.Tanh(), m.Linear(6, 3))


def test_state_dict_keys_match_torch_sequential():
    mine, theirs = _sequential(nn), _sequential(torch.nn)
    assert list(mine.state_dict()) == list(theirs.state_dict()) == ["1.weight", "1.bias", "4.weight", "6.weight", "6.bias"]
    for value, expected in zip(mine.state_dict().values(), theirs.state_dict().values()):
        assert isinstance(value, np.ndarray) and value.shape == tuple(expected.shape)


def test_shared_layers_appear_under_each_name_as_in_pytorch(load_torch_weights):
    def tied(m):
        layer = m.Linear(3, 3)
        return m.Sequential(layer, m.Tanh(), layer)

    mine, theirs = tied(nn), tied(torch.nn)
    assert list(mine.state_dict()) == list(theirs.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [n for n, _ in mine.named_parameters()] == [n for n, _ in theirs.named_parameters()] == ["0.weight", "0.bias"]
    load_torch_weights(mine, theirs)
    data = _input((2, 3))
    np.testing.assert_allclose(mine(gn.tensor(data)).numpy(), theirs(torch.tensor(data)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_buffers_are_saved_but_not_trained_as_in_pytorch():
    def build(m, zeros):
        class WithBuffers(m.Module):
            def __init__(self):
                super().__init__()
                self.fc = m.Linear(2, 2)
                self.register_buffer("running_mean", zeros(2))
                self.register_buffer("scratch", zeros(2), persistent=False)

        return WithBuffers()

    mine, theirs = build(nn, lambda n: np.zeros(n, np.float32)), build(torch.nn, torch.zeros)
    assert list(mine.state_dict()) == list(theirs.state_dict()) == ["running_mean", "fc.weight", "fc.bias"]
    assert [n for n, _ in mine.named_buffers()] == [n for n, _ in theirs.named_buffers()] == ["running_mean", "scratch"]
    assert [n for n, _ in mine.named_parameters()] == ["fc.weight", "fc.bias"]
    mine.load_state_dict({"running_mean": np.array([1.0, 2.0]), "fc.weight": np.eye(2), "fc.bias": np.zeros(2)})
    np.testing.assert_array_equal(mine.running_mean.numpy(), [1.0, 2.0])
    assert mine.double().running_mean.dtype == np.float64 and not mine.running_mean.requires_grad


def test_load_state_dict_from_pytorch_gives_identical_outputs():
    torch.manual_seed(0)
    theirs = _sequential(torch.nn).eval()
    mine = _sequential(nn).eval()
    missing, unexpected = mine.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert missing == [] and unexpected == []
    data = np.random.default_rng(0).standard_normal((5, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(mine(gn.tensor(data)).numpy(), theirs(torch.tensor(data)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_load_state_dict_is_in_place_and_keeps_parameter_identity():
    model = _sequential(nn)
    weight = model[1].weight
    before = [id(p) for p in model.parameters()]
    state = {k: np.full(v.shape, 0.25) for k, v in model.state_dict().items()}  # float64 arrays
    model.load_state_dict(state)
    assert [id(p) for p in model.parameters()] == before and model[1].weight is weight
    assert weight.dtype == np.float32  # values are copied into the existing float32 arrays
    np.testing.assert_array_equal(weight.numpy(), 0.25)
    state["1.weight"][...] = 9.0  # no aliasing with the given arrays
    assert weight.numpy()[0, 0] == 0.25


def test_state_dict_round_trip_between_glassnet_models():
    gn.seed(0)
    a, b = _make_net(nn), _make_net(nn)
    b.load_state_dict(a.state_dict())
    x = gn.tensor(_input((2, 6)))
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())


def test_load_state_dict_lists_every_problem():
    model = _sequential(nn)
    state = dict(model.state_dict())
    del state["4.weight"], state["6.bias"]
    state["7.weight"] = np.zeros(3)
    state["1.weight"] = np.zeros((8, 13))
    with pytest.raises(RuntimeError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert "missing keys: ['4.weight', '6.bias']" in message
    assert "unexpected keys: ['7.weight']" in message
    assert "1.weight: the checkpoint has shape (8, 13), the model (8, 12)" in message


def test_load_state_dict_non_strict_reports_but_loads():
    model = nn.Linear(2, 2)
    missing, unexpected = model.load_state_dict({"weight": np.ones((2, 2)), "extra": np.zeros(1)}, strict=False)
    assert missing == ["bias"] and unexpected == ["extra"]
    np.testing.assert_array_equal(model.weight.numpy(), 1.0)
    with pytest.raises(RuntimeError, match="size mismatch"):
        model.load_state_dict({"weight": np.ones((3, 2))}, strict=False)  # shapes are always checked


def test_train_and_eval_propagate_to_every_submodule():
    model = _make_net(nn)
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model.train(False)
    assert not model.encoder[1].training


def test_zero_grad_clears_every_parameter():
    model = _make_net(nn)
    model(gn.tensor(_input((3, 6)))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_requires_grad_and_parameters_count():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    model[0].requires_grad_(False)
    x = gn.tensor(_input((2, 3)))
    model(x).sum().backward()
    assert model[0].weight.grad is None and model[1].weight.grad is not None
    assert sum(p.numel() for p in model.parameters()) == 3 * 4 + 4 + 4 * 2 + 2


def test_repr_matches_pytorch():
    def build(m):
        return m.Sequential(
            m.Flatten(), m.Linear(4, 3), m.ReLU(), m.LeakyReLU(0.1), m.Linear(3, 2, bias=False),
            m.Sigmoid(), m.Tanh(), m.GELU(), m.Softmax(dim=1), m.LogSoftmax(dim=-1), m.Identity(),
            m.Sequential(m.Linear(2, 2)),
        )

    assert repr(build(nn)) == repr(build(torch.nn))
    assert repr(_make_net(nn)) == repr(_make_net(torch.nn))
    assert repr(nn.Dropout(0.2)) == repr(torch.nn.Dropout(0.2)) == "Dropout(p=0.2, inplace=False)"


def test_forward_hooks_see_inputs_and_output_and_can_be_removed():
    layer = nn.Linear(3, 2)
    seen = []
    handle = layer.register_forward_hook(lambda module, inputs, output: seen.append((module, inputs[0].shape, output.shape)))
    x = gn.tensor(_input((4, 3)))
    layer(x)
    assert seen == [(layer, (4, 3), (4, 2))]
    handle.remove()
    layer(x)
    assert len(seen) == 1
    handle.remove()  # removing twice is harmless

    doubling = layer.register_forward_hook(lambda module, inputs, output: output * 2)  # a returned value replaces the output
    np.testing.assert_allclose(layer(x).numpy(), 2 * F.linear(x, layer.weight, layer.bias).numpy())
    doubling.remove()


def test_forward_pre_hooks_see_and_replace_the_inputs_as_pytorchs_do():
    """A pre-hook sees (module, inputs) before forward; a tuple it returns replaces the
    inputs, a single value becomes the one input, None leaves them; hooks run in the order
    registered, and a removed one no longer runs. Compared with torch 2.13 step by step."""
    torch = pytest.importorskip("torch")
    weights = _input((2, 3))
    ours, theirs = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    ours.load_state_dict({"weight": weights, "bias": np.zeros(2, np.float32)})
    theirs.load_state_dict({"weight": torch.tensor(weights), "bias": torch.zeros(2)})
    x = _input((4, 3))
    results = {}
    for name, layer, wrap in (("glassnet", ours, gn.tensor), ("torch", theirs, torch.tensor)):
        seen = []
        first = layer.register_forward_pre_hook(lambda module, inputs: seen.append((module is layer, len(inputs))))
        doubled = layer.register_forward_pre_hook(lambda module, inputs: inputs[0] * 2)  # one value: made a tuple
        tupled = layer.register_forward_pre_hook(lambda module, inputs: (inputs[0] + 1,))
        outputs = [layer(wrap(x)).detach().numpy()]
        doubled.remove()
        outputs.append(layer(wrap(x)).detach().numpy())
        first.remove(), tupled.remove(), first.remove()  # removing twice is harmless
        outputs.append(layer(wrap(x)).detach().numpy())
        results[name] = (seen, outputs)
    assert results["glassnet"][0] == results["torch"][0] == [(True, 1), (True, 1)]
    for mine, theirs_out in zip(results["glassnet"][1], results["torch"][1]):
        np.testing.assert_allclose(mine, theirs_out, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(results["glassnet"][1][0], (2 * x + 1) @ weights.T, rtol=1e-6)


def test_forgetting_super_init_gives_a_helpful_error():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\).*Broken"):
        Broken()


def test_assigning_a_plain_array_to_a_parameter_is_an_error():
    layer = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="Parameter"):
        layer.weight = np.zeros((2, 2))
    layer.weight = nn.Parameter(np.zeros((2, 2), np.float32))  # a new Parameter is fine
    assert any(p is layer.weight for p in layer.parameters())


def test_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(gn.tensor([1.0]))


def test_module_list_registers_its_modules():
    layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 1)])
    assert len(layers) == 2 and [n for n, _ in layers.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_sequential_indexing_and_iteration():
    model = _sequential(nn)
    assert len(model) == 7 and isinstance(model[1], nn.Linear) and isinstance(model[-1], nn.Linear)
    assert isinstance(model[1:3], nn.Sequential) and len(model[1:3]) == 2
    # a slice keeps the layers' names, so its state_dict keys are PyTorch's too
    assert list(model[3:].state_dict()) == list(_sequential(torch.nn)[3:].state_dict()) == ["4.weight", "6.weight", "6.bias"]
    assert [type(layer).__name__ for layer in model][:3] == ["Flatten", "Linear", "ReLU"]


def test_double_converts_parameters_for_gradcheck():
    layer = nn.Linear(3, 2).double()
    assert layer.weight.dtype == np.float64 and layer.bias.dtype == np.float64
    assert layer(gn.tensor(np.zeros((1, 3)))).dtype == np.float64
    assert layer.float().weight.dtype == np.float32


# -- PyTorch's Module API: traversal, conversion, gradients, loading ------------------------------


def _nested(m):
    """A shared (tied) layer, a None sub-module and buffers at two depths."""
    shared = m.Linear(3, 3)
    net = m.Sequential(shared, m.Sequential(m.BatchNorm1d(3), m.Tanh(), shared), m.BatchNorm1d(3))
    net.gone = m.Tanh()
    net.gone = None  # stays registered, as None
    return net


def test_module_traversal_matches_pytorch():
    mine, theirs = _nested(nn), _nested(torch.nn)

    def names(pairs):
        return [name for name, _ in pairs]

    def kinds(modules):
        return [type(module).__name__ for module in modules]

    assert names(mine.named_children()) == names(theirs.named_children()) == ["0", "1", "2"]
    assert kinds(mine.children()) == kinds(theirs.children())
    assert names(mine.named_modules()) == names(theirs.named_modules())
    assert names(mine.named_modules(prefix="net", remove_duplicate=False)) == names(theirs.named_modules(prefix="net", remove_duplicate=False))
    assert kinds(mine.modules()) == kinds(theirs.modules())
    for options in [{}, dict(recurse=False), dict(prefix="p"), dict(remove_duplicate=False)]:
        assert names(mine.named_buffers(**options)) == names(theirs.named_buffers(**options)), options
        assert names(mine.named_parameters(**options)) == names(theirs.named_parameters(**options)), options
    assert len(list(mine.buffers())) == len(list(theirs.buffers())) == 6
    assert list(mine[1].buffers(recurse=False)) == []


def test_apply_visits_children_before_parents_as_pytorch():
    mine, theirs = _nested(nn), _nested(torch.nn)
    seen_mine, seen_theirs = [], []
    assert mine.apply(lambda module: seen_mine.append(type(module).__name__)) is mine
    theirs.apply(lambda module: seen_theirs.append(type(module).__name__))
    assert seen_mine == seen_theirs  # the shared Linear twice, the outer Sequential last

    def zero_linear_biases(module):
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    net = _make_net(nn).apply(zero_linear_biases)
    assert not net.head.bias.numpy().any() and not net.encoder[0].bias.numpy().any()


@pytest.mark.parametrize("to", [
    lambda model: model.to(np.float64),
    lambda model: model.to(gn.float64),
    lambda model: model.to(dtype=np.float64),
    lambda model: model.to("cpu", np.float64),
    lambda model: model.to(device="cpu", dtype=np.float64, non_blocking=True),
    lambda model: model.to(gn.tensor(np.zeros(2))),  # a float64 tensor: its dtype
    lambda model: model.double(),
], ids=["dtype", "gn_dtype", "dtype_keyword", "device_and_dtype", "keywords", "tensor", "double"])
def test_to_converts_floating_tensors_in_place_and_keeps_integer_buffers(to):
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    model(gn.tensor(_input((4, 3)))).sum().backward()
    weight = model[0].weight
    assert to(model) is model and model[0].weight is weight  # the same objects: an optimizer keeps working
    assert weight.dtype == weight.grad.dtype == model[1].running_mean.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64  # as PyTorch: only floating tensors convert
    assert model(gn.tensor(_input((4, 3)).astype(np.float64))).dtype == np.float64
    assert model.float()[0].weight.dtype == np.float32


@pytest.mark.parametrize("device", ["cpu", "cpu:0", gn.device("cpu"), torch.device("cpu")],
                         ids=["cpu", "cpu0", "gn_device", "torch_device"])
def test_to_cpu_and_cpu_change_nothing(device):
    model = _make_net(nn)
    before = {name: value.copy() for name, value in model.state_dict().items()}
    assert model.to(device) is model and model.cpu() is model
    assert all(value.dtype == np.float32 for value in model.state_dict().values())
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


@pytest.mark.parametrize("call", [
    lambda model: model.to("cuda"),
    lambda model: model.to("cuda:1", np.float64),
    lambda model: model.to(torch.device("cuda")),
    lambda model: model.to(gn.device("cuda", 0)),
    lambda model: model.to(0),
    lambda model: model.to(device="mps"),
    lambda model: model.cuda(),
], ids=["cuda", "cuda1_dtype", "torch_device", "gn_device", "index", "mps", "cuda_method"])
def test_a_gpu_device_raises_saying_glassnet_has_none_and_to_use_cpu(call):
    model = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match=r"Linear.*not available: glassnet runs on the CPU.*no GPU backend.*use device=\"cpu\""):
        call(model)
    assert model.weight.dtype == np.float32  # nothing changed on the way


def test_to_refuses_integer_dtypes_and_unknown_devices_as_pytorch():
    with pytest.raises(TypeError, match="only accepts floating-point dtypes, got int64"):
        nn.Linear(2, 2).to(np.int64)
    with pytest.raises(TypeError, match="floating point"):
        torch.nn.Linear(2, 2).to(torch.int64)
    with pytest.raises(RuntimeError, match="device type at start of device string: gpu"):
        nn.Linear(2, 2).to("gpu")
    with pytest.raises(RuntimeError, match="device type at start of device string: gpu"):
        torch.nn.Linear(2, 2).to("gpu")


def test_type_converts_every_tensor_integer_buffers_too_as_pytorch():
    mine, theirs = nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    assert mine.type(np.float64) is mine
    theirs.type(torch.float64)
    assert {n: str(b.dtype) for n, b in mine.named_buffers()} == {
        n: str(b.dtype).removeprefix("torch.") for n, b in theirs.named_buffers()
    }
    assert mine.num_batches_tracked.dtype == mine.weight.dtype == np.float64


def test_requires_grad_freezes_and_unfreezes_every_parameter():
    model = _make_net(nn)
    assert model.requires_grad_(False) is model
    assert not any(p.requires_grad for p in model.parameters())
    model.encoder.requires_grad_()
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["encoder.0.weight", "encoder.0.bias", "encoder.2.weight"]


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad_sets_gradients_to_none_or_to_zeros_as_pytorch(set_to_none):
    data = _input((3, 6))
    mine, theirs = _make_net(nn), _make_net(torch.nn)
    mine(gn.tensor(data)).sum().backward()
    theirs(torch.tensor(data)).sum().backward()
    mine.zero_grad(set_to_none=set_to_none)
    theirs.zero_grad(set_to_none=set_to_none)
    for p, q in zip(mine.parameters(), theirs.parameters()):
        assert (p.grad is None) == (q.grad is None) == set_to_none
        if not set_to_none:
            assert p.grad.shape == p.shape and not p.grad.numpy().any() and not p.grad.requires_grad


def test_load_state_dict_returns_pytorchs_named_tuple():
    torch.manual_seed(0)
    mine, theirs = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    result = mine.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    expected = theirs.load_state_dict(theirs.state_dict())
    assert repr(result) == repr(expected) == "<All keys matched successfully>"
    assert result.missing_keys == [] and result.unexpected_keys == [] and tuple(result) == ([], [])

    partial = {"weight": np.ones((2, 2), np.float32), "extra": np.zeros(1, np.float32)}
    result = mine.load_state_dict(partial, strict=False)
    expected = theirs.load_state_dict({k: torch.from_numpy(v) for k, v in partial.items()}, strict=False)
    assert result == tuple(expected) == (["bias"], ["extra"])
    assert (result.missing_keys, result.unexpected_keys) == (expected.missing_keys, expected.unexpected_keys)
    assert repr(result) == repr(expected) == "_IncompatibleKeys(missing_keys=['bias'], unexpected_keys=['extra'])"


def test_summary_rows_and_totals():
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 10))
    model[4].requires_grad_(False)
    result = gn.summary(model, (1, 8, 8))
    assert result.rows == [
        ("0 (Flatten)", (-1, 64), 0),
        ("1 (Linear)", (-1, 32), 64 * 32 + 32),
        ("2 (ReLU)", (-1, 32), 0),
        ("3 (Dropout)", (-1, 32), 0),
        ("4 (Linear)", (-1, 10), 32 * 10 + 10),
    ]
    assert result.total_params == 2410 and result.trainable_params == 2080
    text = str(result)
    assert "Total params: 2,410" in text and "Trainable params: 2,080" in text and "Non-trainable params: 330" in text
    assert model.training  # summary put the model back in its mode
    assert not model[1]._forward_hooks  # and removed its hooks


# -- initialization -----------------------------------------------------------------------------


def test_linear_default_init_is_within_pytorch_bounds():
    gn.seed(0)
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (layer.weight, layer.bias):
        assert np.abs(p.numpy()).max() <= bound
        assert np.abs(p.numpy()).max() > 0.95 * bound  # uniform over the whole range
    # the standard deviation of U(-b, b) is b / sqrt(3)
    assert layer.weight.numpy().std() == pytest.approx(bound / math.sqrt(3), rel=0.02)


def _big(shape=(256, 512)):
    return nn.Parameter(np.zeros(shape, np.float32))


@pytest.mark.parametrize(
    "initialize, bound, std",
    [
        (lambda t: nn.init.kaiming_uniform_(t, nonlinearity="relu"), math.sqrt(6 / 512), math.sqrt(2 / 512)),
        (lambda t: nn.init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu"), math.sqrt(6 / 256), math.sqrt(2 / 256)),
        (lambda t: nn.init.kaiming_normal_(t, nonlinearity="relu"), None, math.sqrt(2 / 512)),
        (lambda t: nn.init.kaiming_normal_(t, a=0.1), None, math.sqrt(2 / (1.01 * 512))),
        (lambda t: nn.init.xavier_uniform_(t), math.sqrt(6 / (256 + 512)), math.sqrt(2 / (256 + 512))),
        (lambda t: nn.init.xavier_uniform_(t, gain=nn.init.calculate_gain("tanh")), 5 / 3 * math.sqrt(6 / 768), 5 / 3 * math.sqrt(2 / 768)),
        (lambda t: nn.init.xavier_normal_(t), None, math.sqrt(2 / (256 + 512))),
        (lambda t: nn.init.normal_(t, 0.0, 0.02), None, 0.02),
        (lambda t: nn.init.uniform_(t, -0.1, 0.1), 0.1, 0.1 / math.sqrt(3)),
    ],
    ids=["kaiming_uniform", "kaiming_uniform_fan_out", "kaiming_normal", "kaiming_normal_leaky", "xavier_uniform",
         "xavier_uniform_tanh_gain", "xavier_normal", "normal", "uniform"],
)
def test_init_statistics(initialize, bound, std):
    gn.seed(0)
    weight = _big()
    assert initialize(weight) is weight
    values = weight.numpy()
    assert weight.dtype == np.float32
    # 131,072 samples: the sample std is within 1% of the true one
    assert values.std() == pytest.approx(std, rel=0.01)
    assert abs(values.mean()) < 0.01 * std * 10
    if bound is not None:
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.99 * bound


def test_init_fills_constants():
    t = _big((3, 4))
    nn.init.ones_(t)
    np.testing.assert_array_equal(t.numpy(), 1.0)
    nn.init.zeros_(t)
    np.testing.assert_array_equal(t.numpy(), 0.0)
    nn.init.constant_(t, 0.5)
    np.testing.assert_array_equal(t.numpy(), 0.5)


def test_calculate_gain_matches_pytorch():
    torch_init = torch.nn.init
    for nonlinearity, param in [("linear", None), ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
                                ("leaky_relu", 0.2), ("selu", None)]:
        assert nn.init.calculate_gain(nonlinearity, param) == pytest.approx(torch_init.calculate_gain(nonlinearity, param))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.init.calculate_gain("swish")


def test_fan_needs_two_dimensions():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.init.xavier_uniform_(nn.Parameter(np.zeros(5, np.float32)))
    with pytest.raises(ValueError, match="mode"):
        nn.init.kaiming_uniform_(_big((3, 4)), mode="fan_avg")


def test_init_draws_follow_gn_seed():
    gn.seed(5)
    a = nn.init.kaiming_normal_(_big((4, 4))).numpy().copy()
    gn.seed(5)
    b = nn.init.kaiming_normal_(_big((4, 4))).numpy().copy()
    np.testing.assert_array_equal(a, b)
