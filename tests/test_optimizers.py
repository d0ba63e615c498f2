"""Specification of glassnet.optim's optimizers and of gradient clipping, with PyTorch as
the oracle.

The trajectory tests start both frameworks from the same float32 weights and, at every
step, hand each the gradient of the same function at its own current weights (computed
in NumPy from one formula), then compare the weights after each of 20 steps. Any
difference in an update rule grows from step to step, so it shows.
"""
import numpy as np
import pytest
import torch

from glassnet import optim
from glassnet.nn import Parameter
from glassnet.nn.utils import clip_grad_norm_, clip_grad_value_

# Both frameworks compute in float32, in nearly the same order: they differ by rounding.
RTOL, ATOL = 1e-5, 1e-6
STEPS = 20
# A 0-d parameter (a learnable scalar, such as a temperature) is among the shapes.
SHAPES = [(), (5,), (3, 4), (2, 3, 2)]


def _fixed(seed, shape, low, high):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


INITIAL = [_fixed(i, shape, -2, 2) for i, shape in enumerate(SHAPES)]
CURVATURE = [_fixed(10 + i, shape, 0.5, 3) for i, shape in enumerate(SHAPES)]
CENTRE = [_fixed(20 + i, shape, -1, 1) for i, shape in enumerate(SHAPES)]


def gradient(i, weight):
    """The gradient of the loss Σ curvature·(w − centre)²/2 + sin(3w)/3 for parameter i:
    a bowl with ripples, so the gradient changes direction and size along the way."""
    return np.asarray(CURVATURE[i] * (weight - CENTRE[i]) + np.cos(3 * weight), dtype=np.float32)


def glassnet_parameters():
    return [Parameter(w.copy()) for w in INITIAL]


def torch_parameters():
    return [torch.nn.Parameter(torch.tensor(w.copy())) for w in INITIAL]


def set_gradients(params, framework, skip=()):
    """Give every parameter (but those in ``skip``) the gradient at its current value."""
    for i, p in enumerate(params):
        if i in skip:
            continue
        if framework == "glassnet":
            p.grad = gradient(i, p.data)
        else:
            p.grad = torch.from_numpy(gradient(i, p.detach().numpy()))


def assert_same_weights(gn_params, torch_params, step):
    for i, (mine, theirs) in enumerate(zip(gn_params, torch_params)):
        np.testing.assert_allclose(
            mine.data, theirs.detach().numpy(), rtol=RTOL, atol=ATOL,
            err_msg=f"parameter {i} (shape {SHAPES[i]}) after step {step}",
        )


def run_side_by_side(name, options, groups=lambda params: params, skip=(), steps=STEPS):
    """Run glassnet's and PyTorch's optimizer ``name`` side by side, comparing every step."""
    gn_params, torch_params = glassnet_parameters(), torch_parameters()
    gn_optimizer = getattr(optim, name)(groups(gn_params), **options)
    torch_optimizer = getattr(torch.optim, name)(groups(torch_params), **options)
    for step in range(1, steps + 1):
        set_gradients(gn_params, "glassnet", skip)
        set_gradients(torch_params, "torch", skip)
        gn_optimizer.step()
        torch_optimizer.step()
        assert_same_weights(gn_params, torch_params, step)
    return gn_params, gn_optimizer


CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True, momentum=0.5)),
]


def case_id(case):
    name, options = case
    return name + "(" + ", ".join(f"{key}={value}" for key, value in options.items()) + ")"


@pytest.mark.parametrize("name, options", CASES, ids=[case_id(c) for c in CASES])
def test_trajectory_matches_pytorch(name, options):
    run_side_by_side(name, options)


@pytest.mark.parametrize("name, options", [
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("Adam", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True)),
])
def test_each_param_group_follows_its_own_lr(name, options):
    def two_groups(params):
        return [{"params": params[:2]}, {"params": params[2:], "lr": options["lr"] / 10}]

    _, optimizer = run_side_by_side(name, options, groups=two_groups)
    assert [group["lr"] for group in optimizer.param_groups] == [options["lr"], options["lr"] / 10]


@pytest.mark.parametrize("name, options", [
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("Adam", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01)),  # even the decoupled weight decay leaves it alone
    ("RMSprop", dict(lr=0.01, momentum=0.5)),
])
def test_a_parameter_whose_grad_is_none_is_skipped(name, options):
    params, optimizer = run_side_by_side(name, options, skip={1})
    np.testing.assert_array_equal(params[1].data, INITIAL[1])
    assert params[1] not in optimizer.state
    assert all(p in optimizer.state for i, p in enumerate(params) if i != 1)


def test_zero_grad_sets_the_gradients_to_none():
    params = glassnet_parameters()
    optimizer = optim.Adam(params)
    set_gradients(params, "glassnet")
    optimizer.step()
    optimizer.zero_grad()
    assert all(p.grad is None for p in params)


def test_step_leaves_the_gradient_it_read_untouched():
    params = glassnet_parameters()
    optimizer = optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=0.1, maximize=True)
    set_gradients(params, "glassnet")
    before = [p.grad.copy() for p in params]
    optimizer.step()
    optimizer.step()  # the second step reads the momentum buffer made from the first grad
    for p, grad in zip(params, before):
        np.testing.assert_array_equal(p.grad, grad)


@pytest.mark.parametrize("name, options", [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
])
def test_state_dict_resumes_exactly_where_it_stopped(name, options):
    straight, _ = run_side_by_side(name, options, steps=20)

    params = glassnet_parameters()
    first = getattr(optim, name)(params, **options)
    for _ in range(10):
        set_gradients(params, "glassnet")
        first.step()
    saved = first.state_dict()
    second = getattr(optim, name)(params, lr=123.0)  # the saved hyperparameters replace these
    second.load_state_dict(saved)
    assert second.param_groups[0]["lr"] == options["lr"]
    for _ in range(10):
        set_gradients(params, "glassnet")
        second.step()

    for resumed, reference in zip(params, straight):
        np.testing.assert_array_equal(resumed.data, reference.data)


@pytest.mark.parametrize("name, options", [
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
])
def test_a_pytorch_state_dict_resumes_in_glassnet(name, options):
    """PyTorch saves step counts as 0-d tensors, and so is the state of a 0-d parameter:
    the first become numbers again, the second stay arrays."""
    torch_params = torch_parameters()
    torch_optimizer = getattr(torch.optim, name)(torch_params, **options)
    for _ in range(10):
        set_gradients(torch_params, "torch")
        torch_optimizer.step()
    saved = torch_optimizer.state_dict()
    saved["state"] = {
        index: {key: value.numpy().copy() for key, value in values.items()} for index, values in saved["state"].items()
    }

    gn_params = [Parameter(p.detach().numpy().copy()) for p in torch_params]
    gn_optimizer = getattr(optim, name)(gn_params, **options)
    gn_optimizer.load_state_dict(saved)
    for step in range(11, 21):
        set_gradients(gn_params, "glassnet")
        set_gradients(torch_params, "torch")
        gn_optimizer.step()
        torch_optimizer.step()
        assert_same_weights(gn_params, torch_params, step)


def test_the_loaded_state_does_not_share_arrays_with_the_saved_one():
    params = glassnet_parameters()
    optimizer = optim.Adam(params, lr=0.01)
    set_gradients(params, "glassnet")
    optimizer.step()
    saved = optimizer.state_dict()
    exp_avg = saved["state"][1]["exp_avg"].copy()
    optimizer.load_state_dict(saved)
    set_gradients(params, "glassnet")
    optimizer.step()
    np.testing.assert_array_equal(saved["state"][1]["exp_avg"], exp_avg)


@pytest.mark.parametrize("name, options", [
    ("SGD", dict(lr=-0.1)),
    ("SGD", dict(momentum=-0.5)),
    ("SGD", dict(weight_decay=-1e-4)),
    ("SGD", dict(nesterov=True)),  # Nesterov needs a momentum...
    ("SGD", dict(momentum=0.9, dampening=0.1, nesterov=True)),  # ...and no dampening
    ("Adam", dict(lr=-1e-3)),
    ("Adam", dict(betas=(1.0, 0.999))),
    ("Adam", dict(betas=(0.9, 1.0))),
    ("Adam", dict(betas=(-0.1, 0.999))),
    ("Adam", dict(eps=-1e-8)),
    ("AdamW", dict(betas=(0.9, 1.5))),
    ("AdamW", dict(weight_decay=-0.01)),
    ("RMSprop", dict(lr=-0.01)),
    ("RMSprop", dict(alpha=-0.5)),
    ("RMSprop", dict(momentum=-0.9)),
])
def test_bad_hyperparameters_raise_value_error_as_in_pytorch(name, options):
    with pytest.raises(ValueError):
        getattr(torch.optim, name)(torch_parameters(), **options)
    with pytest.raises(ValueError):
        getattr(optim, name)(glassnet_parameters(), **options)
    with pytest.raises(ValueError):  # a group's own options are checked too
        getattr(optim, name)([{"params": glassnet_parameters(), **options}])


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_defaults_are_pytorchs(name):
    mine = getattr(optim, name)(glassnet_parameters()).defaults
    theirs = getattr(torch.optim, name)(torch_parameters()).defaults
    assert mine == {key: theirs[key] for key in mine}


def test_the_headline_defaults():
    assert optim.SGD(glassnet_parameters()).defaults["lr"] == 1e-3
    adam = optim.Adam(glassnet_parameters()).defaults
    assert (adam["lr"], adam["betas"], adam["eps"], adam["weight_decay"]) == (1e-3, (0.9, 0.999), 1e-8, 0.0)
    adamw = optim.AdamW(glassnet_parameters()).defaults
    assert (adamw["lr"], adamw["betas"], adamw["eps"], adamw["weight_decay"]) == (1e-3, (0.9, 0.999), 1e-8, 1e-2)
    rmsprop = optim.RMSprop(glassnet_parameters()).defaults
    assert (rmsprop["lr"], rmsprop["alpha"], rmsprop["eps"]) == (1e-2, 0.99, 1e-8)


# -- gradient clipping ------------------------------------------------------------------------

def clipping_inputs():
    """Glassnet and torch parameters with the same, fixed gradients (the second has none)."""
    grads = [_fixed(30 + i, shape, -3, 3) for i, shape in enumerate(SHAPES)]
    gn_params, torch_params = glassnet_parameters(), torch_parameters()
    for i, (mine, theirs, grad) in enumerate(zip(gn_params, torch_params, grads)):
        if i != 1:
            mine.grad, theirs.grad = grad.copy(), torch.from_numpy(grad.copy())
    return gn_params, torch_params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e4])  # below the norm: clipped; above it: unchanged
def test_clip_grad_norm_matches_pytorch(norm_type, max_norm):
    gn_params, torch_params = clipping_inputs()
    before = [p.grad.copy() for p in gn_params if p.grad is not None]

    total = clip_grad_norm_(gn_params, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(torch_params, max_norm, norm_type=norm_type)

    assert isinstance(total, float)
    np.testing.assert_allclose(total, expected.item(), rtol=RTOL)
    assert gn_params[1].grad is None
    for mine, theirs in zip(gn_params, torch_params):
        if mine.grad is not None:
            np.testing.assert_allclose(mine.grad, theirs.grad.numpy(), rtol=RTOL, atol=ATOL)
    after = [p.grad for p in gn_params if p.grad is not None]
    if max_norm > total:
        for grad, original in zip(after, before):
            np.testing.assert_array_equal(grad, original)
    else:
        clipped = clip_grad_norm_(gn_params, np.inf, norm_type=norm_type)  # only measures
        np.testing.assert_allclose(clipped, max_norm, rtol=1e-5)


@pytest.mark.parametrize("clip_value", [0.5, 2.0, 10.0])
def test_clip_grad_value_matches_pytorch(clip_value):
    gn_params, torch_params = clipping_inputs()
    assert clip_grad_value_(gn_params, clip_value) is None
    torch.nn.utils.clip_grad_value_(torch_params, clip_value)
    for mine, theirs in zip(gn_params, torch_params):
        if mine.grad is not None:
            np.testing.assert_array_equal(mine.grad, theirs.grad.numpy())
            assert np.abs(mine.grad).max() <= clip_value
