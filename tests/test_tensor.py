"""Specification of the Tensor API and the autograd engine."""
import re

import numpy as np
import pytest

import glassnet as gn
import glassnet.nn.functional as F
from glassnet.tensor import Function

# -- creation and plain-array views --------------------------------------------------------


def test_python_floats_become_float32():
    assert gn.tensor([1.0, 2.0]).dtype == np.float32
    assert gn.tensor(3.5).dtype == np.float32
    assert gn.tensor([[1, 2.5]]).dtype == np.float32


def test_arrays_keep_their_dtype():
    assert gn.tensor(np.zeros(3, dtype=np.float64)).dtype == np.float64
    assert gn.tensor(np.zeros(3, dtype=np.float32)).dtype == np.float32
    assert gn.tensor(np.float64(2.0)).dtype == np.float64  # a NumPy scalar is an array too
    assert gn.tensor(np.zeros(3, dtype=np.float64), dtype="float32").dtype == np.float32


def test_python_ints_become_int64_and_cannot_require_grad():
    assert gn.tensor([1, 2, 3]).dtype == np.int64
    with pytest.raises(TypeError, match="floating-point"):
        gn.tensor([1, 2, 3], requires_grad=True)
    assert gn.tensor([1, 2, 3], dtype="float32", requires_grad=True).requires_grad
    with pytest.raises(TypeError, match="floating-point"):
        gn.tensor([1, 2]).requires_grad_()


def test_views_of_the_values():
    x = gn.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert x.shape == (2, 2) and x.ndim == 2 and x.numel() == 4 and len(x) == 2
    assert isinstance(x.numpy(), np.ndarray) and x.numpy() is x.numpy()
    assert x.grad is None and x.is_leaf
    assert gn.tensor([[7.0]]).item() == 7.0 and isinstance(gn.tensor(7.0).item(), float)
    assert x.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    np.testing.assert_array_equal(np.asarray(x), x.numpy())
    assert repr(gn.tensor([1.0, 2.0], requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"
    assert repr(gn.tensor([1, 2])) == "tensor([1, 2])"  # int64 is the default integer type, as in PyTorch
    assert repr(gn.tensor([1, 2], dtype=gn.int32)) == "tensor([1, 2], dtype=glassnet.int32)"


def test_detach_shares_values_but_cuts_the_graph():
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2).detach()
    assert not y.requires_grad and y.is_leaf and y.dtype == np.float32
    np.testing.assert_array_equal(y.numpy(), [2.0, 4.0])
    z = (x * y.requires_grad_()).sum()
    z.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
    np.testing.assert_array_equal(y.grad, [1.0, 2.0])


# -- backward ---------------------------------------------------------------------------------


def test_backward_on_a_scalar():
    x = gn.tensor([1.0, -2.0, 3.0], requires_grad=True)
    loss = (x * x).sum()
    assert loss.shape == () and loss.requires_grad and not loss.is_leaf
    loss.backward()
    np.testing.assert_array_equal(x.grad, [2.0, -4.0, 6.0])
    assert x.grad.dtype == np.float32


def test_backward_with_an_explicit_upstream_gradient():
    x = gn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    y.backward(np.array([1.0, 0.5, -1.0], dtype=np.float32))
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, -6.0])  # 2x * upstream


def test_backward_of_a_non_scalar_without_gradient_says_what_to_do():
    y = gn.tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"single-element.*shape \(2,\).*\.sum\(\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        y.backward(np.ones(3, dtype=np.float32))


def test_backward_without_any_grad_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (gn.tensor([1.0]) * 2).sum().backward()


def _sum_to_shape(array, shape):
    """Sum a broadcast array back down to ``shape``, axis by axis."""
    while array.ndim > len(shape):
        array = array.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1:
            array = array.sum(axis=axis, keepdims=True)
    return array


@pytest.mark.parametrize(
    "a_shape, b_shape",
    [((3, 1), (1, 4)), ((5,), (2, 5)), ((), (2, 3)), ((2, 3), ()), ((2, 1, 3), (4, 1)), ((1,), (3, 2))],
)
def test_broadcast_gradients_are_reduced_to_each_input_shape(a_shape, b_shape):
    rng = np.random.default_rng(0)
    a_data = rng.standard_normal(a_shape).astype(np.float32)
    b_data = rng.standard_normal(b_shape).astype(np.float32)
    a, b = gn.tensor(a_data, requires_grad=True), gn.tensor(b_data, requires_grad=True)
    (a * b).sum().backward()
    out_shape = np.broadcast_shapes(a_shape, b_shape)
    # d/da sum(a * b) = b, summed over every position that one element of a was copied to
    assert a.grad.shape == a_shape and b.grad.shape == b_shape
    np.testing.assert_allclose(a.grad, _sum_to_shape(np.broadcast_to(b_data, out_shape), a_shape), rtol=1e-6)
    np.testing.assert_allclose(b.grad, _sum_to_shape(np.broadcast_to(a_data, out_shape), b_shape), rtol=1e-6)


def test_a_node_used_several_times_sums_its_gradients():
    x = gn.tensor([2.0, -1.0], requires_grad=True)
    (x * x + x).sum().backward()
    np.testing.assert_array_equal(x.grad, [5.0, -1.0])  # 2x + 1

    y = gn.tensor(3.0, requires_grad=True)
    z = y * 2
    (z * z * z).backward()  # (2y)^3 -> 24 y^2
    assert y.grad == pytest.approx(216.0)


def test_gradients_accumulate_across_backward_calls_until_zeroed():
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [5.0, 7.0])  # 3 + 2x
    x.grad.zero_()  # PyTorch's way to clear it in place
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])


def test_the_grad_buffer_is_owned_by_the_leaf():
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    upstream = np.ones(2, dtype=np.float32)
    (x + 0).backward(upstream)
    x.grad += 1  # writing into x.grad must not change the caller's array
    np.testing.assert_array_equal(upstream, [1.0, 1.0])


def test_a_chain_of_ten_thousand_ops_backpropagates():
    x = gn.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert x.grad == pytest.approx(1.0001**10_000, rel=1e-3)


# -- gradient modes -------------------------------------------------------------------------


def test_no_grad_context_records_no_graph():
    w = gn.tensor([1.0, 2.0], requires_grad=True)
    with gn.no_grad():
        assert not gn.is_grad_enabled()
        y = w * 2
        with gn.enable_grad():
            z = w * 2
    assert gn.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad


def test_no_grad_as_decorator_and_reentrant():
    @gn.no_grad()
    def double(t, depth=0):
        if depth < 2:
            double(t, depth + 1)  # a decorated function calling itself
        return t * 2

    w = gn.tensor([1.0], requires_grad=True)
    assert not double(w).requires_grad
    assert gn.is_grad_enabled()  # restored, even after the nested calls
    assert (w * 2).requires_grad


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(KeyError):
        with gn.no_grad():
            raise KeyError
    assert gn.is_grad_enabled()


# -- anomaly detection ------------------------------------------------------------------------


class _Log(gn.nn.Module):
    def forward(self, input):
        return input.log()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's own warning comes first
def test_detect_anomaly_names_the_op_whose_forward_made_nan():
    x = gn.tensor([1.0, -1.0], requires_grad=True)
    with gn.detect_anomaly():
        with pytest.raises(FloatingPointError, match=r"op Log produced NaN/Inf in its forward"):
            x.log()
    x.log()  # outside the context nothing is checked


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_detect_anomaly_names_the_op_whose_backward_made_inf():
    x = gn.tensor([0.0, 4.0], requires_grad=True)
    with gn.detect_anomaly():
        y = x.sqrt().sum()  # the forward is finite: sqrt(0) = 0
        with pytest.raises(FloatingPointError, match=r"op Sqrt produced NaN/Inf in its backward"):
            y.backward()


class _Sqrt(gn.nn.Module):
    def forward(self, input):
        return input.sqrt()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_detect_anomaly_names_the_layer_inside_a_sequential():
    gn.seed(0)
    model = gn.nn.Sequential(gn.nn.Linear(2, 3), _Log())
    gn.nn.init.constant_(model[0].weight, -1.0)  # negative outputs: log gives NaN
    with gn.detect_anomaly():
        with pytest.raises(FloatingPointError, match=r"op Log \(in layer Sequential > _Log\) produced NaN/Inf in its forward"):
            model(gn.tensor([[1.0, 1.0]]))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_detect_anomaly_names_the_layer_whose_backward_made_inf():
    model = gn.nn.Sequential(gn.nn.Sequential(gn.nn.Linear(2, 3), _Sqrt()), gn.nn.Linear(3, 1))
    gn.nn.init.zeros_(model[0][0].weight)
    gn.nn.init.zeros_(model[0][0].bias)  # sqrt(0) = 0 forward, 1 / (2 sqrt(0)) = inf backward
    with gn.detect_anomaly():
        loss = model(gn.tensor([[1.0, 1.0]])).sum()
        with pytest.raises(FloatingPointError, match=r"op Sqrt \(in layer Sequential > Sequential > _Sqrt\) produced NaN/Inf in its backward"):
            loss.backward()


def test_detect_anomaly_is_quiet_when_everything_is_finite():
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    with gn.detect_anomaly():
        x.log().sum().backward()
    np.testing.assert_allclose(x.grad, [1.0, 0.5])


# -- randomness -------------------------------------------------------------------------------


def test_seed_gives_identical_weights_and_dropout_masks():
    def run():
        gn.seed(123)
        layer = gn.nn.Linear(5, 4)
        mask = F.dropout(gn.tensor(np.ones((3, 8), np.float32)), p=0.5).numpy()
        return layer.weight.numpy().copy(), layer.bias.numpy().copy(), mask

    first, second = run(), run()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    gn.seed(124)
    assert not np.array_equal(gn.nn.Linear(5, 4).weight.numpy(), first[0])


# -- dtypes -----------------------------------------------------------------------------------

# every op on float32 inputs (positive, so log and sqrt are defined), alone and with
# Python and NumPy scalars; nothing may be silently promoted to float64
FLOAT32_OPS = {
    "add": lambda x, y: x + y, "radd": lambda x, y: 2.0 + x + 1, "sub": lambda x, y: x - y,
    "rsub": lambda x, y: 1.5 - x - 0.5, "mul": lambda x, y: x * y * 0.5, "rmul": lambda x, y: 3 * x,
    "div": lambda x, y: x / y / 3.0, "rdiv": lambda x, y: 1.0 / x, "pow": lambda x, y: x**2,
    "pow_float": lambda x, y: x**0.5, "pow_tensor": lambda x, y: x**y, "rpow": lambda x, y: 2.0**x,
    "numpy_scalars": lambda x, y: x * np.float64(2) + np.int64(3) - np.float32(1) / (x ** np.float64(2)),
    "matmul": lambda x, y: x @ y.T, "neg": lambda x, y: -x, "sum": lambda x, y: x.sum(axis=0),
    "mean": lambda x, y: x.mean(), "mean_axis": lambda x, y: x.mean(dim=1), "max": lambda x, y: x.amax(axis=1),
    "max_all": lambda x, y: x.max(), "min": lambda x, y: x.amin(0), "max_dim": lambda x, y: x.max(1).values,
    "min_dim": lambda x, y: x.min(0)[0], "reshape": lambda x, y: x.reshape(-1),
    "transpose": lambda x, y: x.T, "index": lambda x, y: x[[0, 0], 1:], "mask": lambda x, y: x[x > 1],
    "exp": lambda x, y: x.exp(), "log": lambda x, y: x.log(), "sqrt": lambda x, y: x.sqrt(),
    "abs": lambda x, y: x.abs(), "clip": lambda x, y: x.clip(0.5, 1.5), "relu": lambda x, y: x.relu(),
    "leaky_relu": lambda x, y: F.leaky_relu(x - 1), "sigmoid": lambda x, y: x.sigmoid(),
    "tanh": lambda x, y: x.tanh(), "gelu": lambda x, y: F.gelu(x), "gelu_tanh": lambda x, y: F.gelu(x, "tanh"),
    "softmax": lambda x, y: x.softmax(), "log_softmax": lambda x, y: x.log_softmax(dim=0),
    "cat": lambda x, y: gn.cat([x, y]), "stack": lambda x, y: gn.stack([x, y], dim=1),
    "where": lambda x, y: gn.where(x > 1, x, 0.0), "linear": lambda x, y: F.linear(x, y, y[:, 0]),
    "dropout": lambda x, y: F.dropout(x, 0.5), "cross_entropy": lambda x, y: F.cross_entropy(x, [0, 2]),
    "cross_entropy_smooth": lambda x, y: F.cross_entropy(x, [0, 2], weight=[1.0, 2.0, 0.5], label_smoothing=0.1),
    "nll_loss": lambda x, y: F.nll_loss(x.log_softmax(), [1, 1]), "mse_loss": lambda x, y: F.mse_loss(x, y),
    "bce_with_logits": lambda x, y: F.binary_cross_entropy_with_logits(x, y / 3, pos_weight=[2.0, 1.0, 1.0]),
}


def _nodes(root):
    """Every op behind ``root``, once, with the shape and dtype of the output used."""
    stack, seen = [(root._ctx, root._index)], set()
    while stack:
        fn, index = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        yield fn, *fn.outputs[index]
        stack.extend(source for source in fn.sources if source is not None)


@pytest.mark.parametrize("name", list(FLOAT32_OPS))
def test_no_op_promotes_float32_to_float64(name):
    rng = np.random.default_rng(0)
    x = gn.tensor(rng.uniform(0.5, 2.0, (2, 3)).astype(np.float32), requires_grad=True)
    y = gn.tensor(rng.uniform(0.5, 2.0, (2, 3)).astype(np.float32), requires_grad=True)
    out = FLOAT32_OPS[name](x, y)
    assert out.dtype == np.float32
    # every op on the way, forward and backward, keeps float32 (the leaves' .grad would
    # hide a promotion, since it is stored in the leaf's own dtype)
    for fn, shape, dtype in _nodes(out):
        assert dtype == np.float32, type(fn).__name__
        grads = fn.backward(np.ones(shape, np.float32))
        for grad in grads if isinstance(grads, tuple) else (grads,):
            assert grad is None or grad.dtype == np.float32, f"{type(fn).__name__} backward gave {grad.dtype}"
    out.sum().backward()
    assert x.grad.dtype == np.float32


def test_float64_stays_float64():
    x = gn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * 0.5).exp().sum() / 3
    assert y.dtype == np.float64
    y.backward()
    assert x.grad.dtype == np.float64


# -- comparisons --------------------------------------------------------------------------------


def test_comparisons_give_bool_tensors_without_grad():
    x = gn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = gn.tensor([3.0, 2.0, 1.0])
    cases = {
        "<": (x < y, [True, False, False]), "<=": (x <= 2, [True, True, False]),
        ">": (x > y, [False, False, True]), ">=": (x >= 2.0, [False, True, True]),
        "==": (x == y, [False, True, False]), "!=": (x != 2, [True, False, True]),
    }
    for op, (result, expected) in cases.items():
        assert result.dtype == np.bool_ and not result.requires_grad, op
        assert result.tolist() == expected, op


def test_truth_value_of_a_tensor():
    assert bool(gn.tensor(2.0) > 1) and not bool(gn.tensor([0.0]))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(gn.tensor([1.0, 2.0]) > 0)


def test_tensors_hash_by_identity():
    a, b = gn.tensor([1.0]), gn.tensor([1.0])
    assert len({a, b}) == 2


# -- gradcheck ----------------------------------------------------------------------------------


def test_gradcheck_passes_on_correct_functions():
    x = gn.tensor(np.array([[0.3, -1.2], [2.0, 0.7]]), requires_grad=True)
    y = gn.tensor(np.array([0.5, -0.4]), requires_grad=True)
    assert gn.gradcheck(lambda a, b: (a * b).tanh().sum(axis=0), [x, y])
    assert gn.gradcheck(lambda a: a.exp() / a.exp().sum(), [x])
    assert gn.gradcheck(lambda a, b: (a @ b, a.sigmoid()), [x, y])  # several outputs
    assert gn.gradcheck(lambda a, k: a * k, [x, 3.0])  # non-tensor arguments pass through


def test_gradcheck_checks_float32_inputs_in_float64():
    x = gn.tensor([0.3, -1.2, 2.0], requires_grad=True)
    assert gn.gradcheck(lambda a: (a * a * a).sum(), [x])


class _WrongSquare(Function):
    """x^2 with a wrong derivative (x instead of 2x): what gradcheck is for."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, grad):
        return grad * self.x


def test_gradcheck_reports_a_wrong_backward_with_received_and_expected():
    x = gn.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    with pytest.raises(gn.GradcheckError) as error:
        gn.gradcheck(lambda a: _WrongSquare.apply(a).sum(), [x])
    message = str(error.value)
    assert "input 0" in message and "received (autograd)" in message and "expected (numerical)" in message
    # gradcheck weights the outputs randomly, so the values are w x (received) and 2 w x
    # (expected) for some w: the expected one is twice the received one
    received, expected = map(float, re.search(r"received (\S+), expected (\S+)\n", message).groups())
    assert expected == pytest.approx(2 * received, rel=1e-6)
    assert isinstance(error.value, AssertionError)
    assert gn.gradcheck(lambda a: _WrongSquare.apply(a).sum(), [x], raise_exception=False) is False


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="requires_grad"):
        gn.gradcheck(lambda a: a * 2, [gn.tensor([1.0])])
