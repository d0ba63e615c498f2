"""Specification of the optimizers and of gradient clipping.

Every optimizer, with each of its options, follows PyTorch's parameter trajectory step
for step: the same float32 starting weights, the same gradient at every step (computed
in NumPy from each framework's current weights), compared after each of 20 steps.
"""
import math
import re

import numpy as np
import pytest
import torch

import glassnet as gn
from glassnet import optim
from glassnet.nn import Parameter
from glassnet.nn.utils import clip_grad_norm_, clip_grad_value_

RTOL, ATOL = 1e-5, 1e-6  # both compute in float32: they differ only by rounding order
SHAPES = [(3,), (4, 5), (2, 3, 4)]
STEPS = 20


def initial_weights(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(np.float32) for shape in SHAPES]


# Minibatch-like noise for each step and parameter: fixed, so both frameworks see the same.
NOISE = [[0.5 * a for a in initial_weights(seed=100 + step)] for step in range(2 * STEPS)]


def gradient(weights, noise):
    """The gradient of sum(w⁴/4 − w²/2) + noise·w: a double well, shaken a little each step."""
    return (weights**3 - weights + noise).astype(np.float32)


def make_parameters(framework, weights):
    if framework == "glassnet":
        return [Parameter(w.copy()) for w in weights]
    return [torch.nn.Parameter(torch.tensor(w.copy())) for w in weights]


def values(framework, params):
    return [p.numpy() if framework == "glassnet" else p.detach().numpy() for p in params]


def set_gradients(framework, params, step, skip=()):
    for i, (p, w, noise) in enumerate(zip(params, values(framework, params), NOISE[step])):
        if i in skip:
            continue
        g = gradient(w, noise)
        p.grad = g if framework == "glassnet" else torch.from_numpy(g)


def build(framework, name, params, options, groups=None):
    optimizer_class = getattr(optim if framework == "glassnet" else torch.optim, name)
    return optimizer_class(groups(params) if groups else params, **options)


def assert_same_trajectory(name, options, groups=None, skip=(), steps=STEPS):
    weights = initial_weights()
    ours, theirs = make_parameters("glassnet", weights), make_parameters("torch", weights)
    our_optimizer = build("glassnet", name, ours, options, groups)
    their_optimizer = build("torch", name, theirs, options, groups)
    for step in range(steps):
        set_gradients("glassnet", ours, step, skip)
        set_gradients("torch", theirs, step, skip)
        our_optimizer.step()
        their_optimizer.step()
        for i, (mine, expected) in enumerate(zip(values("glassnet", ours), values("torch", theirs))):
            assert mine.dtype == np.float32
            np.testing.assert_allclose(mine, expected, rtol=RTOL, atol=ATOL,
                                       err_msg=f"{name}({options}): parameter {i} after step {step + 1}")
    return ours, our_optimizer


# -- every optimizer follows PyTorch's trajectory ------------------------------------------

CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.1)),
    ("SGD", dict(lr=1e-3, momentum=0.8, weight_decay=0.1, maximize=True)),  # maximize climbs: a small lr
    ("SGD", dict(lr=1e-3, momentum=0.9, nesterov=True, weight_decay=0.01, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.005, alpha=0.9, eps=1e-6, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4)),
    ("Adadelta", dict(lr=2.0, rho=0.95, weight_decay=0.1)),
    ("Adadelta", dict(lr=1.0, weight_decay=0.01, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.05, lr_decay=0.01, eps=1e-6, initial_accumulator_value=0.1, maximize=True)),
]


@pytest.mark.parametrize("name, options", CASES, ids=[f"{n}-{'-'.join(o)}" for n, o in CASES])
def test_trajectory_matches_pytorch(name, options):
    assert_same_trajectory(name, options)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adadelta", "Adagrad"])
def test_defaults_are_pytorchs(name):
    weights = initial_weights()
    ours = build("glassnet", name, make_parameters("glassnet", weights), {})
    theirs = build("torch", name, make_parameters("torch", weights), {})
    assert ours.defaults == {key: theirs.defaults[key] for key in ours.defaults}


def test_the_headline_defaults():
    params = make_parameters("glassnet", initial_weights())
    assert optim.SGD(params).defaults["lr"] == 1e-3
    adam = optim.Adam(params).defaults
    assert (adam["lr"], adam["betas"], adam["eps"], adam["weight_decay"]) == (1e-3, (0.9, 0.999), 1e-8, 0.0)
    adamw = optim.AdamW(params).defaults
    assert (adamw["lr"], adamw["betas"], adamw["eps"], adamw["weight_decay"]) == (1e-3, (0.9, 0.999), 1e-8, 1e-2)
    rmsprop = optim.RMSprop(params).defaults
    assert (rmsprop["lr"], rmsprop["alpha"], rmsprop["eps"]) == (1e-2, 0.99, 1e-8)


def test_param_groups_carry_their_own_hyperparameters():
    def groups(params):
        return [{"params": params[:1]}, {"params": params[1:], "lr": 0.2, "momentum": 0.5}]

    _, optimizer = assert_same_trajectory("SGD", dict(lr=0.05, momentum=0.9), groups=groups)
    assert [g["lr"] for g in optimizer.param_groups] == [0.05, 0.2]
    assert [g["momentum"] for g in optimizer.param_groups] == [0.9, 0.5]
    assert optimizer.param_groups[1]["nesterov"] is False  # unset options come from the defaults


def test_adam_param_groups_with_different_lrs():
    def groups(params):
        return [{"params": params[:2], "lr": 0.05}, {"params": params[2:], "betas": (0.5, 0.9)}]

    assert_same_trajectory("Adam", dict(lr=0.01), groups=groups)


@pytest.mark.parametrize("name, options", [("Adam", dict(lr=0.01)), ("RMSprop", dict(lr=0.01, centered=True))])
def test_each_param_group_follows_its_own_lr(name, options):
    def groups(params):
        return [{"params": params[:2]}, {"params": params[2:], "lr": options["lr"] / 10}]

    _, optimizer = assert_same_trajectory(name, options, groups=groups)
    assert [g["lr"] for g in optimizer.param_groups] == [options["lr"], options["lr"] / 10]


SCALAR_CASES = [
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
    ("Adadelta", dict(lr=1.0, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.2)),
]


def scalar_run(framework, name, options, params, steps, optimizer=None):
    """Step a list of 0-d parameters along the double well; returns the optimizer."""
    optimizer = optimizer or build(framework, name, params, options)
    for step in steps:
        for p, w, noise in zip(params, values(framework, params), NOISE[step]):
            g = np.asarray(gradient(w, noise.ravel()[0]), dtype=np.float32)
            p.grad = g if framework == "glassnet" else torch.from_numpy(g)
        optimizer.step()
    return optimizer


@pytest.mark.parametrize("name, options", SCALAR_CASES, ids=[n for n, _ in SCALAR_CASES])
def test_a_0d_parameter_follows_pytorchs_trajectory_and_resumes_from_its_state(name, options):
    """A learnable scalar (a temperature, say) is a 0-d array. PyTorch saves its state, and
    the step counts, as 0-d tensors: loaded into glassnet they continue the same run."""
    weights = [np.array(1.5, dtype=np.float32), np.array(-0.3, dtype=np.float32)]
    ours, theirs = make_parameters("glassnet", weights), make_parameters("torch", weights)
    our_optimizer = scalar_run("glassnet", name, options, ours, range(10))
    their_optimizer = scalar_run("torch", name, options, theirs, range(10))
    for mine, expected in zip(values("glassnet", ours), values("torch", theirs)):
        assert mine.shape == () and mine.dtype == np.float32
        np.testing.assert_allclose(mine, expected, rtol=RTOL, atol=ATOL)
    for state in our_optimizer.state.values():
        assert all(v.shape == () for v in state.values() if isinstance(v, np.ndarray))

    saved = their_optimizer.state_dict()
    as_numpy = {
        "state": {i: {k: v.numpy().copy() for k, v in s.items()} for i, s in saved["state"].items()},
        "param_groups": saved["param_groups"],
    }
    resumed = make_parameters("glassnet", values("torch", theirs))
    resumed_optimizer = build("glassnet", name, resumed, options)
    resumed_optimizer.load_state_dict(as_numpy)
    scalar_run("glassnet", name, options, resumed, range(10, 20), resumed_optimizer)
    scalar_run("torch", name, options, theirs, range(10, 20), their_optimizer)
    for mine, expected in zip(values("glassnet", resumed), values("torch", theirs)):
        np.testing.assert_allclose(mine, expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name, options", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.01)),
                                           ("AdamW", dict(lr=0.01)),  # even the decoupled weight decay
                                           ("RMSprop", dict(lr=0.01, centered=True))])
def test_a_parameter_without_gradient_is_left_alone(name, options):
    params, optimizer = assert_same_trajectory(name, options, skip={1})
    np.testing.assert_array_equal(params[1].data, initial_weights()[1])
    assert params[1] not in optimizer.state  # no state is made for it either
    assert all(p in optimizer.state for i, p in enumerate(params) if i != 1)


def test_step_updates_the_weights_in_place_and_leaves_the_gradient_alone():
    # Layers hold the parameter object; an optimizer that rebound .data would train a copy.
    for name, options in [("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.1, maximize=True)),
                          ("AdamW", dict(lr=0.1, amsgrad=True)), ("Adam", dict(weight_decay=0.1)),
                          ("RMSprop", dict(centered=True, momentum=0.9, weight_decay=0.1))]:
        params = make_parameters("glassnet", initial_weights())
        arrays = [p.numpy() for p in params]
        optimizer = build("glassnet", name, params, options)
        for step in range(3):
            set_gradients("glassnet", params, step)
            grads = [p.grad.numpy().copy() for p in params]
            optimizer.step()
            for p, array, grad in zip(params, arrays, grads):
                assert p.numpy() is array and p.dtype == np.float32
                np.testing.assert_array_equal(p.grad, grad, err_msg=f"{name} wrote into .grad")
        for state in optimizer.state.values():
            assert all(v.dtype == np.float32 for v in state.values() if isinstance(v, np.ndarray))


def test_zero_grad_sets_gradients_to_none_or_to_zeros():
    params = make_parameters("glassnet", initial_weights())
    optimizer = optim.SGD(params, lr=0.1)
    set_gradients("glassnet", params, 0)
    assert len(optimizer.gradients()) == len(params)
    grad = params[0].grad
    optimizer.zero_grad(set_to_none=False)
    assert params[0].grad is grad and not grad.numpy().any()  # zeroed in place
    optimizer.zero_grad()
    assert all(p.grad is None for p in params) and optimizer.gradients() == []


def test_step_with_closure_returns_the_loss():
    w = Parameter(np.array([2.0, -1.0], dtype=np.float32))
    optimizer = optim.SGD([w], lr=0.25)

    def closure():
        optimizer.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = optimizer.step(closure)
    assert loss.item() == 5.0
    np.testing.assert_allclose(w.data, [1.0, -0.5])  # w − 0.25 · 2w


def test_adam_fits_a_linear_regression():
    gn.seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 3)).astype(np.float32)
    y = x @ np.array([[2.0], [-1.0], [0.5]], dtype=np.float32) + 0.3
    model = gn.nn.Linear(3, 1)
    optimizer = optim.Adam(model.parameters(), lr=0.05)
    for _ in range(300):
        optimizer.zero_grad()
        loss = ((model(gn.tensor(x)) - gn.tensor(y)) ** 2).mean()
        loss.backward()
        optimizer.step()
    np.testing.assert_allclose(model.weight.data, [[2.0, -1.0, 0.5]], atol=1e-3)
    np.testing.assert_allclose(model.bias.data, [0.3], atol=1e-3)


# -- parameter groups ------------------------------------------------------------------------

def test_add_param_group_takes_the_defaults_for_missing_options():
    first, second = make_parameters("glassnet", initial_weights()[:2])
    optimizer = optim.Adam([first], lr=0.01, weight_decay=0.1)
    optimizer.add_param_group({"params": second, "lr": 0.1})
    group = optimizer.param_groups[1]
    assert group["params"] == [second] and group["lr"] == 0.1
    assert group["betas"] == (0.9, 0.999) and group["weight_decay"] == 0.1


def test_a_parameter_may_not_be_in_two_groups():
    p, q = make_parameters("glassnet", initial_weights()[:2])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p, q]}, {"params": [q]}], lr=0.1)
    optimizer = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optimizer.add_param_group({"params": [p]})


# -- saving and resuming ---------------------------------------------------------------------

RESUMABLE = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9)),
    ("Adadelta", dict(lr=1.0, rho=0.8)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.1)),
]


def run(optimizer, params, steps):
    for step in steps:
        set_gradients("glassnet", params, step)
        optimizer.step()


def is_plain_data(value):
    """What safetensors + JSON can store: arrays, numbers, bools, strings, None, and
    dicts/lists/tuples of them."""
    if isinstance(value, dict):
        return all(isinstance(k, (int, str)) and is_plain_data(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(is_plain_data(v) for v in value)
    return value is None or isinstance(value, (np.ndarray, bool, int, float, str))


@pytest.mark.parametrize("name, options", RESUMABLE, ids=[n for n, _ in RESUMABLE])
def test_state_dict_resumes_the_same_trajectory(name, options):
    straight = make_parameters("glassnet", initial_weights())
    straight_optimizer = build("glassnet", name, straight, options)
    run(straight_optimizer, straight, range(20))

    first = make_parameters("glassnet", initial_weights())
    first_optimizer = build("glassnet", name, first, options)
    run(first_optimizer, first, range(10))
    weights_at_10 = [p.numpy().copy() for p in first]
    saved = first_optimizer.state_dict()
    assert is_plain_data(saved)
    run(first_optimizer, first, range(10, 12))  # the saved state is a snapshot: later steps leave it be

    resumed = make_parameters("glassnet", weights_at_10)
    resumed_optimizer = build("glassnet", name, resumed, dict(options, lr=123.0))
    resumed_optimizer.load_state_dict(saved)
    assert resumed_optimizer.param_groups[0]["lr"] == options["lr"]  # hyperparameters come from the save
    run(resumed_optimizer, resumed, range(10, 20))
    for p, q in zip(resumed, straight):
        np.testing.assert_array_equal(p.data, q.data)


def test_loaded_state_is_a_copy():
    params = make_parameters("glassnet", initial_weights())
    optimizer = optim.Adam(params, lr=0.01)
    run(optimizer, params, range(3))
    saved = optimizer.state_dict()
    other_params = make_parameters("glassnet", initial_weights())
    other = optim.Adam(other_params, lr=0.01)
    other.load_state_dict(saved)
    exp_avg = saved["state"][0]["exp_avg"].copy()
    run(other, other_params, range(3, 4))  # stepping the loaded optimizer leaves the save be
    np.testing.assert_array_equal(saved["state"][0]["exp_avg"], exp_avg)
    saved["state"][0]["exp_avg"][...] = 0  # and changing the save leaves the optimizer be
    assert other.state_dict()["state"][0]["exp_avg"].any()


def test_state_dict_has_pytorchs_layout_and_values():
    weights = initial_weights()
    ours, theirs = make_parameters("glassnet", weights), make_parameters("torch", weights)

    def groups(params):
        return [{"params": params[:1], "lr": 0.02}, {"params": params[1:]}]

    our_optimizer = build("glassnet", "Adam", ours, dict(lr=0.01, amsgrad=True), groups)
    their_optimizer = build("torch", "Adam", theirs, dict(lr=0.01, amsgrad=True), groups)
    for step in range(3):
        set_gradients("glassnet", ours, step)
        set_gradients("torch", theirs, step)
        our_optimizer.step()
        their_optimizer.step()
    mine, expected = our_optimizer.state_dict(), their_optimizer.state_dict()

    assert [g["params"] for g in mine["param_groups"]] == [g["params"] for g in expected["param_groups"]] == [[0], [1, 2]]
    for group, their_group in zip(mine["param_groups"], expected["param_groups"]):
        assert group == {key: their_group[key] for key in group}
    assert list(mine["state"]) == list(expected["state"])
    for index, state in mine["state"].items():
        assert set(state) == set(expected["state"][index]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
        assert state["step"] == expected["state"][index]["step"].item() == 3
        for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            np.testing.assert_allclose(state[key], expected["state"][index][key].numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name, options, keys", [
    ("Adadelta", dict(lr=1.0), {"step", "square_avg", "acc_delta"}),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.3), {"step", "sum"}),
])
def test_adadelta_and_adagrad_state_as_pytorchs(name, options, keys):
    """The same state names and values; Adagrad, as PyTorch's, makes its state when built."""
    weights = initial_weights()
    ours, theirs = make_parameters("glassnet", weights), make_parameters("torch", weights)
    our_optimizer, their_optimizer = build("glassnet", name, ours, options), build("torch", name, theirs, options)
    assert list(our_optimizer.state_dict()["state"]) == list(their_optimizer.state_dict()["state"])
    for step in range(3):
        set_gradients("glassnet", ours, step)
        set_gradients("torch", theirs, step)
        our_optimizer.step()
        their_optimizer.step()
    mine, expected = our_optimizer.state_dict()["state"], their_optimizer.state_dict()["state"]
    assert list(mine) == list(expected) == [0, 1, 2]
    for index, state in mine.items():
        assert set(state) == set(expected[index]) == keys
        assert state["step"] == expected[index]["step"].item() == 3
        for key in keys - {"step"}:
            np.testing.assert_allclose(state[key], expected[index][key].numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name, options", RESUMABLE, ids=[n for n, _ in RESUMABLE])
def test_a_pytorch_run_resumes_in_glassnet(name, options):
    theirs = make_parameters("torch", initial_weights())
    their_optimizer = build("torch", name, theirs, options)
    for step in range(5):
        set_gradients("torch", theirs, step)
        their_optimizer.step()
    saved = their_optimizer.state_dict()
    as_numpy = {
        "state": {i: {k: v.numpy() if torch.is_tensor(v) else v for k, v in s.items()} for i, s in saved["state"].items()},
        "param_groups": saved["param_groups"],
    }
    ours = make_parameters("glassnet", values("torch", theirs))
    our_optimizer = build("glassnet", name, ours, options)
    our_optimizer.load_state_dict(as_numpy)
    for step in range(5, 15):
        set_gradients("torch", theirs, step)
        set_gradients("glassnet", ours, step)
        their_optimizer.step()
        our_optimizer.step()
    for mine, expected in zip(values("glassnet", ours), values("torch", theirs)):
        np.testing.assert_allclose(mine, expected, rtol=RTOL, atol=ATOL)


def test_loading_a_state_for_other_parameters_fails_clearly():
    params = make_parameters("glassnet", initial_weights())
    optimizer = optim.Adam(params)
    run(optimizer, params, range(1))
    saved = optimizer.state_dict()
    with pytest.raises(ValueError, match="1 parameter groups, this optimizer has 2"):
        optim.Adam([{"params": params[:1]}, {"params": params[1:]}]).load_state_dict(saved)
    with pytest.raises(ValueError, match="has 3 parameters, this optimizer's has 2"):
        optim.Adam(params[:2]).load_state_dict(saved)
    swapped = [params[1], params[0], params[2]]
    with pytest.raises(ValueError, match=r"'exp_avg' of parameter 0 has shape \(3,\) but the parameter has shape \(4, 5\)"):
        optim.Adam(swapped).load_state_dict(saved)


# -- bad hyperparameters ---------------------------------------------------------------------

# Each optimizer's hyperparameters that have a range, tried at values inside, on the edges
# of, and outside that range. PyTorch is the oracle: where it refuses a value, glassnet
# raises ValueError naming the optimizer and the argument; where it takes one, so does
# glassnet, but for the few refusals below that are glassnet's on purpose.
RANGED = {
    "SGD": ["lr", "momentum", "dampening", "weight_decay"],
    "Adam": ["lr", "eps", "weight_decay"],
    "AdamW": ["lr", "eps", "weight_decay"],
    "RMSprop": ["lr", "alpha", "eps", "weight_decay", "momentum"],
    "Adagrad": ["lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"],
    "Adadelta": ["lr", "rho", "eps", "weight_decay"],
}
NUMBERS = [-1.0, -0.1, -1e-8, 0.0, 1e-8, 0.5, 1.0, 1.5, math.inf, math.nan]
BETAS = [(0.9, 0.999), (0.0, 0.0), (0.999999, 0.5), (1.0, 0.999), (0.9, 1.0), (-0.1, 0.999), (0.9, -0.1),
         (0.9, 1.5), (math.nan, 0.999), (0.9, math.inf), (0.9,), 0.9, (0.9, 0.99, 0.9)]
NESTEROV = [dict(momentum=0.9), dict(momentum=0.0), dict(momentum=0.9, dampening=0.1), dict(momentum=-0.9)]
TRIALS = (
    [(name, {argument: value}) for name, arguments in RANGED.items() for argument in arguments for value in NUMBERS]
    + [(name, {"betas": betas}) for name in ("Adam", "AdamW") for betas in BETAS]
    + [("SGD", dict(nesterov=True, **options)) for options in NESTEROV]
)


def glassnet_refuses_on_purpose(options):
    """NaN is in no range (PyTorch's SGD lets it through as lr, momentum or weight_decay),
    and betas are a pair (PyTorch ignores a third item)."""
    ranged = [value for argument, value in options.items() if argument in optim.optimizer.HYPERPARAMETER_RANGES]
    return any(math.isnan(value) for value in ranged) or len(options.get("betas", (0, 0))) != 2


def refusal(framework, name, options):
    """The exception building the optimizer raises, or None."""
    try:
        build(framework, name, make_parameters(framework, initial_weights()), options)
    except Exception as error:
        return error
    return None


@pytest.mark.parametrize("name, options", TRIALS, ids=[f"{n}-{o}" for n, o in TRIALS])
def test_hyperparameters_are_refused_where_pytorch_refuses_them(name, options):
    theirs, ours = refusal("torch", name, options), refusal("glassnet", name, options)
    if theirs is None and not glassnet_refuses_on_purpose(options):
        assert ours is None, f"PyTorch takes {name}({options}), glassnet refuses it: {ours}"
        return
    assert isinstance(ours, ValueError), f"{name}({options}): PyTorch raises {theirs!r}, glassnet {ours!r}"
    assert re.match(rf"{name}: ({'|'.join(options)})\b", str(ours)) and "; help: " in str(ours), str(ours)


def test_a_bad_hyperparameter_error_says_what_to_do():
    params = make_parameters("glassnet", initial_weights())
    with pytest.raises(ValueError) as error:
        optim.Adam(params, betas=(1.0, 0.999))
    assert str(error.value) == "Adam: betas[0] must be in [0, 1), got 1.0; help: 0.9 is the usual value"
    with pytest.raises(ValueError, match=r"^SGD: nesterov=True needs momentum > 0 and dampening = 0, got momentum=0"):
        optim.SGD(params, nesterov=True)
    with pytest.raises(TypeError, match=r"^RMSprop: lr must be a number, got '1e-3'; help: "):
        optim.RMSprop(params, lr="1e-3")  # as it comes from a command line


def test_a_groups_own_hyperparameters_are_checked_too():
    params = make_parameters("glassnet", initial_weights())
    with pytest.raises(ValueError, match=r"^SGD: lr must be >= 0, got -0.1; help: "):
        optim.SGD([{"params": params[:1]}, {"params": params[1:], "lr": -0.1}], lr=0.1)
    optimizer = optim.Adam(params[:1])
    with pytest.raises(ValueError, match=r"^Adam: betas\[1\] must be in \[0, 1\), got 1.0"):
        optimizer.add_param_group({"params": params[1:], "betas": (0.9, 1.0)})
    assert len(optimizer.param_groups) == 1


def test_parameters_an_optimizer_cannot_train_are_refused_clearly():
    weight = Parameter(np.zeros(3, dtype=np.float32))
    model = gn.nn.Linear(2, 2)
    refused = [
        ([], ValueError, r"^SGD: got an empty parameter list; help: pass model.parameters\(\)"),
        (weight, TypeError, r"^SGD: params must be an iterable .* got a single tensor; help: wrap it in a list"),
        (model, TypeError, r"^SGD: params must be an iterable of parameters, got the model itself \(Linear\); help: pass model.parameters\(\)"),
        ([weight, 1.0], TypeError, r"^SGD: can only optimize tensors, but parameter 1 is of type float; help: "),
        (5, TypeError, r"^SGD: params must be an iterable of parameters, got int; help: pass model.parameters\(\)"),
        ([weight * 2], ValueError, r"^SGD: parameter 0 is not a leaf tensor but an op's result \(grad_fn=Mul.*; help: "),
        ([weight, weight], ValueError, r"^SGD: some parameters appear in more than one parameter group .*; help: "),
        ([{"lr": 0.1}], TypeError, r"^SGD: a parameter group is a dict with a 'params' key, got keys \['lr'\]; help: "),
    ]
    for params, error, message in refused:
        with pytest.raises(error, match=message):
            optim.SGD(params, lr=0.1)

# -- gradient clipping -----------------------------------------------------------------------

def gradients_for_clipping(framework, with_none=True):
    weights = initial_weights()
    params = make_parameters(framework, weights)
    grads = [3 * a for a in initial_weights(seed=7)]
    for i, (p, g) in enumerate(zip(params, grads)):
        if with_none and i == 1:
            continue  # a parameter without gradient is not counted
        p.grad = g.copy() if framework == "glassnet" else torch.from_numpy(g.copy())
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0])
@pytest.mark.parametrize("max_norm", [0.5, 1e4])  # clipped, and left as it is
def test_clip_grad_norm_matches_pytorch(norm_type, max_norm):
    ours, theirs = gradients_for_clipping("glassnet"), gradients_for_clipping("torch")
    before = [None if p.grad is None else p.grad.numpy().copy() for p in ours]
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, float)
    assert total == pytest.approx(expected.item(), rel=1e-6)
    assert ours[1].grad is None
    for p, q in zip(ours, theirs):
        if p.grad is not None:
            np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=RTOL, atol=ATOL)
    if max_norm < total:  # the gradients together now have length max_norm
        joint = np.concatenate([p.grad.numpy().ravel() for p in ours if p.grad is not None])
        assert np.linalg.norm(joint, ord=norm_type) == pytest.approx(max_norm, rel=1e-5)
    else:  # within the limit: the gradients are left exactly as they were
        for p, original in zip(ours, before):
            if p.grad is not None:
                np.testing.assert_array_equal(p.grad, original)


def test_clip_grad_norm_takes_one_parameter_and_ignores_missing_gradients():
    w = Parameter(np.zeros(2, dtype=np.float32))
    assert clip_grad_norm_([w], 1.0) == 0.0
    w.grad = np.array([3.0, 4.0], dtype=np.float32)
    assert clip_grad_norm_(w, 10.0) == 5.0
    np.testing.assert_array_equal(w.grad, [3.0, 4.0])


def test_clip_grad_norm_refuses_a_nonfinite_norm_when_asked():
    w = Parameter(np.zeros(2, dtype=np.float32))
    w.grad = np.array([np.nan, 1.0], dtype=np.float32)
    with pytest.raises(RuntimeError, match="norm of order 2.0 of the gradients is nan"):
        clip_grad_norm_([w], 1.0, error_if_nonfinite=True)
    assert math.isnan(clip_grad_norm_([w], 1.0))  # as PyTorch: scaled by NaN, so NaN
    assert np.isnan(w.grad).all()


@pytest.mark.parametrize("clip_value", [0.5, 1.5, 100.0])  # the last clips nothing
def test_clip_grad_value_matches_pytorch(clip_value):
    ours, theirs = gradients_for_clipping("glassnet"), gradients_for_clipping("torch")
    largest = max(np.abs(p.grad).max() for p in ours if p.grad is not None)
    assert clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    assert ours[1].grad is None
    assert max(np.abs(p.grad).max() for p in ours if p.grad is not None) == min(clip_value, largest)
    for p, q in zip(ours, theirs):
        if p.grad is not None:
            np.testing.assert_array_equal(p.grad, q.grad.numpy())
