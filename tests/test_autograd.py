"""The autograd engine's contract, as PyTorch users rely on it: in-place updates that
change the tensor itself, errors instead of silently wrong gradients (an in-place change
to a saved tensor, a second backward through a freed graph), hooks, retain_grad,
grad_fn/next_functions, autograd.grad, and the op contract (one gradient per input,
None and constants as inputs, several outputs)."""
import numpy as np
import pytest
import torch

import glassnet as gn
from glassnet.tensor import Function

# -- in-place updates ----------------------------------------------------------------------


def test_hand_written_gradient_descent_updates_the_weight_in_place():
    # the loop a learner writes first; before, w -= ... rebound w and nothing learned
    w = gn.tensor([0.0], requires_grad=True)
    for _ in range(100):
        loss = ((w - 3.0) ** 2).sum()
        loss.backward()
        with gn.no_grad():
            w -= 0.1 * w.grad
            w.grad.zero_()
    assert w.is_leaf and w.requires_grad
    assert w.item() == pytest.approx(3.0, abs=1e-4)


def test_data_and_grad_are_tensors_sharing_memory():
    w = gn.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    assert isinstance(w.grad, gn.Tensor) and isinstance(w.data, gn.Tensor)
    w.data.add_(w.grad, alpha=-0.25)  # PyTorch's classic manual SGD step
    np.testing.assert_allclose(w.numpy(), [0.5, 1.0])
    w.data.copy_(gn.tensor([7.0, 8.0]))
    assert w.tolist() == [7.0, 8.0] and w.requires_grad
    assert not w.data.requires_grad


def test_in_place_change_of_a_leaf_that_requires_grad_raises_outside_no_grad():
    w = gn.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad.*no_grad"):
        w += 1
    with pytest.raises(RuntimeError, match="leaf"):
        w.zero_()


def test_in_place_ops_on_intermediate_tensors_match_pytorch():
    def run(lib, x):
        x = lib.tensor(x, requires_grad=True)
        y = x * 2
        y += 1
        y.mul_(3)
        y[0] = y[1] * 4
        y.relu_()
        z = y.clone()
        z.masked_fill_(z > 40, 0.5)
        z.clamp_(max=20.0)
        z.sum().backward()
        return z.detach().numpy(), x.grad.numpy()

    values = np.array([1.0, -2.0, 3.0, 4.0], dtype=np.float32)
    for ours, theirs in zip(run(gn, values), run(torch, values)):
        np.testing.assert_allclose(ours, theirs)


def test_in_place_result_keeps_the_tensors_dtype_and_shape():
    counts = gn.tensor([1, 2, 3])
    counts += 2
    assert counts.dtype == gn.int64 and counts.tolist() == [3, 4, 5]
    with pytest.raises(RuntimeError, match="can't be cast"):
        counts += 0.5  # PyTorch refuses too: a float result in an integer tensor
    x = gn.zeros(3)
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\).*\(3,\)"):
        x += gn.ones(2, 3)


# -- never a silently wrong gradient -----------------------------------------------------------


def test_changing_a_saved_tensor_in_place_then_backward_raises():
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    z = y * y  # Mul saves y
    y += 1
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation.*op Mul.*version 0.*version 1"):
        z.sum().backward()


def test_a_change_through_a_view_is_seen_by_the_base():
    x = gn.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 1
    z = (y.exp()).sum()  # Exp saves its output, not y; Mul below saves y
    w = (y * y).sum()
    y.view(4)[0] = 10.0  # a view shares the base's version counter
    z.backward()  # exp's saved output was not touched
    with pytest.raises(RuntimeError, match="in-place"):
        w.backward()


def test_second_backward_after_step_raises_instead_of_mixing_old_and_new():
    w = gn.nn.Parameter(np.array([1.0, 2.0], dtype=np.float32))
    optimizer = gn.optim.SGD([w], lr=0.1)
    loss = (w * w).sum()
    loss.backward()
    optimizer.step()
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*retain_graph"):
        loss.backward()
    # with retain_graph the graph survives, but the step changed w, which Mul saved
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    optimizer.step()
    with pytest.raises(RuntimeError, match="in-place"):
        loss.backward()


def test_retain_graph_allows_a_second_backward_that_accumulates():
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])


def _sums_in_place(monkeypatch):
    """Record, for each gradient sum the engine makes, whether it added into the sum so far."""
    from glassnet import threads
    in_place, add = [], threads.add

    def recording(a, b, out=None):
        in_place.append(out is a)
        return add(a, b, out)
    monkeypatch.setattr(threads, "add", recording)
    return in_place


def test_a_gradient_handed_to_two_inputs_is_never_summed_into(monkeypatch):
    """An Add hands one gradient array to both its inputs. Where one of them has a second
    use whose gradient comes later, that gradient must go into a new array: adding it
    into the shared one would change the other input's gradient too (here b's)."""
    in_place = _sums_in_place(monkeypatch)
    a, b = (gn.tensor(np.arange(1.0, 7.0).reshape(2, 3) * sign, requires_grad=True) for sign in (1, -1))
    x1 = a * 1.0  # not a leaf: its gradients are summed in the engine's pending lists
    x2 = b + x1 * 3.0  # x1's second use, whose backward runs only after the Add's below
    ((x1 + x2) * 2.0).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.full((2, 3), 8.0))
    np.testing.assert_array_equal(b.grad.numpy(), np.full((2, 3), 2.0))
    assert in_place == [False]


def test_a_gradient_the_engine_owns_takes_the_next_in_place(monkeypatch):
    """x1's first gradient comes from a product, a new array nothing else refers to: the
    Add's gradient (also handed to b) is added into it in place, and b's stays whole."""
    in_place = _sums_in_place(monkeypatch)
    a, b = (gn.tensor(np.arange(1.0, 7.0).reshape(2, 3) * sign, requires_grad=True) for sign in (1, -1))
    x1 = a * 1.0
    ((x1 + b) * x1).sum().backward()  # d/dx1 = 2 x1 + b, d/db = x1
    np.testing.assert_array_equal(a.grad.numpy(), a.numpy())
    np.testing.assert_array_equal(b.grad.numpy(), a.numpy())
    assert in_place == [True]


def test_a_residual_blocks_gradients_match_pytorch_with_sums_in_place(monkeypatch):
    """A tensor used three times (a residual sum, a product, a ReLU): its gradient summed
    in place where the engine owns it, as PyTorch's values."""
    in_place = _sums_in_place(monkeypatch)
    data = np.random.default_rng(0).standard_normal((64, 300)).astype(np.float32)  # 77 KB: NumPy's add

    def run(lib, tensor):
        x = tensor(data, requires_grad=True)
        h = x * 0.5
        y = h + (h * h).relu() + h.tanh()
        y.sum().backward()
        return x.grad.numpy() if lib is gn else x.grad.detach().numpy()
    np.testing.assert_allclose(run(gn, gn.tensor), run(torch, torch.tensor), rtol=1e-6, atol=1e-6)
    assert True in in_place


# -- seeing and steering the graph ---------------------------------------------------------


def test_grad_fn_and_next_functions_walk_the_graph_as_in_pytorch():
    a = gn.tensor([1.0], requires_grad=True)
    b = gn.tensor([2.0])
    loss = ((a * b) + 1).sum()
    assert loss.grad_fn.name() == "SumBackward" and a.grad_fn is None
    add = loss.grad_fn.next_functions[0][0]
    assert add.name() == "AddBackward"
    mul = add.next_functions[0][0]
    assert mul.name() == "MulBackward" and add.next_functions[1] == (None, 0)
    accumulate, _ = mul.next_functions[0]
    assert accumulate.name() == "AccumulateGrad" and accumulate.variable is a
    assert mul.next_functions[1] == (None, 0)  # b needs no gradient
    loss.backward()  # the graph's shape is still there afterwards
    assert loss.grad_fn.next_functions[0][0].name() == "AddBackward"


def test_hooks_retain_grad_and_autograd_grad():
    x = gn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.tolist()))
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g * 10)  # a returned tensor replaces the gradient
    (y * y).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [4.0, 8.0, 12.0])  # before the hook
    np.testing.assert_array_equal(x.grad.numpy(), [80.0, 160.0, 240.0])
    assert seen == [[80.0, 160.0, 240.0]]
    handle.remove()

    x2 = gn.tensor([1.0, 2.0], requires_grad=True)
    h = x2 * 3
    (gx, gh) = gn.autograd.grad((h ** 2).sum(), [x2, h])
    np.testing.assert_array_equal(gx.numpy(), [18.0, 36.0])
    np.testing.assert_array_equal(gh.numpy(), [6.0, 12.0])
    assert x2.grad is None  # autograd.grad leaves .grad alone
    with pytest.raises(RuntimeError, match="not used"):
        gn.autograd.grad((x2 * 2).sum(), [x2, gn.tensor([1.0], requires_grad=True)])


def test_grad_modes():
    x = gn.tensor([1.0], requires_grad=True)

    @gn.no_grad()
    def frozen():
        return x * 2

    assert not frozen().requires_grad
    with gn.inference_mode():
        assert not (x * 2).requires_grad
    with gn.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    gn.set_grad_enabled(False)
    try:
        assert not gn.is_grad_enabled()
    finally:
        gn.set_grad_enabled(True)
    assert gn.is_grad_enabled()


# -- the op contract -------------------------------------------------------------------------


class TwoGradientsForThreeInputs(Function):
    def forward(self, a, b, c):
        return a + b

    def backward(self, grad):
        return grad, grad


class ScaleAndShift(Function):
    """x * scale + shift, where scale is a constant and shift may be None."""

    def forward(self, x, scale, shift):
        self.scale = scale
        return x * scale + (0 if shift is None else shift)

    def backward(self, grad):
        return grad * self.scale, None, (grad if self.needs_input_grad[2] else None)


class SplitInTwo(Function):
    """Several outputs: the first and second halves; backward gets one gradient each."""

    def forward(self, x):
        half = len(x) // 2
        return x[:half].copy(), x[half:].copy()

    def backward(self, grad_first, grad_second):
        return np.concatenate([grad_first, grad_second])


def test_backward_must_return_one_gradient_per_input():
    a = gn.tensor([1.0], requires_grad=True)
    out = TwoGradientsForThreeInputs.apply(a, a, gn.tensor([0.0]))
    with pytest.raises(TypeError, match="op TwoGradientsForThreeInputs: backward returned 2 gradients for 3 inputs"):
        out.sum().backward()


def test_constants_and_none_are_inputs_too():
    x = gn.tensor([1.0, 2.0], requires_grad=True)
    out = ScaleAndShift.apply(x, 3.0, None)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    assert [node for node, _ in out.grad_fn.next_functions][1:] == [None, None]


def test_an_op_with_several_outputs_gets_zeros_for_an_unused_one():
    x = gn.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    first, second = SplitInTwo.apply(x)
    assert first.grad_fn is second.grad_fn
    (first * 5).sum().backward()  # second is unused
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0, 0.0, 0.0])
