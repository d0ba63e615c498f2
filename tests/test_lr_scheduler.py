"""Specification of the learning-rate schedulers.

Each schedule gives PyTorch's learning rates (``get_last_lr()``, and the cycled momentum
of OneCycleLR) at construction and after each of 30 steps, for an optimizer with two
parameter groups of different learning rates.
"""
import math

import numpy as np
import pytest
import torch

import glassnet.optim as optim
from glassnet.nn import Parameter
from glassnet.optim import lr_scheduler

STEPS = 30


def make_optimizer(framework, name="SGD", **options):
    """An optimizer with two parameter groups, lr 0.1 and 0.01."""
    weights = [np.ones(3, dtype=np.float32), np.ones((2, 2), dtype=np.float32)]
    if framework == "glassnet":
        params, library = [Parameter(w) for w in weights], optim
    else:
        params, library = [torch.nn.Parameter(torch.tensor(w)) for w in weights], torch.optim
    groups = [{"params": params[:1]}, {"params": params[1:], "lr": 0.01}]
    return getattr(library, name)(groups, lr=0.1, **options)


def momenta(optimizer):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in optimizer.param_groups]


def schedule(framework, make_scheduler, steps=STEPS, optimizer="SGD", metrics=None, **options):
    """The learning rates (and momenta) after construction and after every step."""
    opt = make_optimizer(framework, optimizer, **options)
    module = lr_scheduler if framework == "glassnet" else torch.optim.lr_scheduler
    scheduler = make_scheduler(module, opt)
    lrs, moms = [scheduler.get_last_lr()], [momenta(opt)]
    for step in range(steps):
        opt.step()
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[step])
        lrs.append(scheduler.get_last_lr())
        moms.append(momenta(opt))
        assert lrs[-1] == [g["lr"] for g in opt.param_groups]  # the scheduler sets the optimizer's lr
    return np.array(lrs, dtype=float), np.array(moms, dtype=float)


def assert_same_schedule(make_scheduler, **options):
    mine, my_momenta = schedule("glassnet", make_scheduler, **options)
    theirs, their_momenta = schedule("torch", make_scheduler, **options)
    # glassnet evaluates each schedule's formula; PyTorch mostly updates the previous lr:
    # the same numbers, up to double-precision rounding
    np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-15, err_msg="learning rates")
    np.testing.assert_allclose(my_momenta, their_momenta, rtol=1e-9, err_msg="momenta")
    return mine


# -- schedules follow PyTorch's ----------------------------------------------------------------

CASES = {
    "step": lambda m, opt: m.StepLR(opt, step_size=7, gamma=0.5),
    "multistep_with_a_repeated_milestone": lambda m, opt: m.MultiStepLR(opt, milestones=[20, 5, 12, 12], gamma=0.3),
    "exponential": lambda m, opt: m.ExponentialLR(opt, gamma=0.9),
    "cosine": lambda m, opt: m.CosineAnnealingLR(opt, T_max=STEPS),
    "cosine_past_T_max": lambda m, opt: m.CosineAnnealingLR(opt, T_max=10, eta_min=1e-3),
    "linear_warmup_defaults": lambda m, opt: m.LinearLR(opt),
    "linear_warmup": lambda m, opt: m.LinearLR(opt, start_factor=0.1, total_iters=8),
    "linear_decay": lambda m, opt: m.LinearLR(opt, start_factor=1.0, end_factor=0.05, total_iters=20),
    "lambda": lambda m, opt: m.LambdaLR(opt, lambda epoch: 1 / (1 + epoch)),
    "lambda_per_group": lambda m, opt: m.LambdaLR(opt, [lambda e: 0.95**e, lambda e: 1 + e % 3]),
    "warmup_then_cosine": lambda m, opt: m.SequentialLR(
        opt, [m.LinearLR(opt, start_factor=0.1, total_iters=5), m.CosineAnnealingLR(opt, T_max=25, eta_min=1e-4)],
        milestones=[5]),
    "three_in_sequence": lambda m, opt: m.SequentialLR(
        opt, [m.LinearLR(opt, start_factor=0.5, total_iters=3), m.StepLR(opt, step_size=4), m.ExponentialLR(opt, 0.9)],
        milestones=[3, 15]),
    "warmup_cosine_exponential": lambda m, opt: m.SequentialLR(
        opt, [m.LinearLR(opt, start_factor=0.2, total_iters=4), m.CosineAnnealingLR(opt, T_max=10, eta_min=0.001),
              m.ExponentialLR(opt, gamma=0.8)], milestones=[4, 18]),
}


@pytest.mark.parametrize("name", CASES)
def test_schedule_matches_pytorch(name):
    lrs = assert_same_schedule(CASES[name])
    assert len(set(lrs[:, 0])) > 1  # the schedule moves: the comparison checks something


def test_cosine_annealing_values():
    lrs = assert_same_schedule(lambda m, opt: m.CosineAnnealingLR(opt, T_max=10, eta_min=1e-3))[:, 0]
    assert lrs[0] == 0.1 and lrs[5] == pytest.approx((0.1 + 1e-3) / 2) and lrs[10] == pytest.approx(1e-3)
    assert lrs[20] == pytest.approx(0.1)  # no restart: past T_max the cosine climbs back


def test_warmup_then_cosine_values():
    lrs = assert_same_schedule(CASES["warmup_then_cosine"])[:, 0]
    np.testing.assert_allclose(lrs[:6], [0.01, 0.028, 0.046, 0.064, 0.082, 0.1])  # linear up to the lr ...
    assert lrs[-1] == pytest.approx(1e-4)  # ... then a cosine down to eta_min


def test_warmup_then_cosine_follows_the_closed_form():
    optimizer = make_optimizer("glassnet")
    warmup = lr_scheduler.LinearLR(optimizer, start_factor=0.25, total_iters=3)
    cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=4)
    scheduler = lr_scheduler.SequentialLR(optimizer, [warmup, cosine], milestones=[3])
    lrs = [scheduler.get_last_lr()[0]]
    for _ in range(7):
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    peak = 0.1
    expected = [peak / 4, peak / 2, peak * 3 / 4, peak, peak * (1 + math.sqrt(0.5)) / 2, peak / 2,
                peak * (1 - math.sqrt(0.5)) / 2, 0.0]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12, atol=1e-15)


def test_a_scheduler_sets_the_lr_of_epoch_0_and_records_initial_lr():
    optimizer = make_optimizer("glassnet")
    lr_scheduler.LinearLR(optimizer, start_factor=0.5)
    assert [g["lr"] for g in optimizer.param_groups] == [0.05, 0.005]
    assert [g["initial_lr"] for g in optimizer.param_groups] == [0.1, 0.01]


# -- OneCycleLR ------------------------------------------------------------------------------

ONE_CYCLE = {
    "sgd_momentum": (dict(optimizer="SGD", momentum=0.9), dict(max_lr=1.0, total_steps=STEPS)),
    "adam_beta1": (dict(optimizer="Adam"), dict(max_lr=[0.5, 0.05], epochs=3, steps_per_epoch=10)),
    "adamw_linear": (dict(optimizer="AdamW"), dict(max_lr=0.3, total_steps=STEPS, anneal_strategy="linear")),
    "three_phase": (dict(optimizer="SGD", momentum=0.9),
                    dict(max_lr=0.4, total_steps=STEPS, three_phase=True, pct_start=0.25, base_momentum=0.8,
                         max_momentum=0.9, div_factor=10.0, final_div_factor=100.0)),
    "sgd_linear_three_phase": (dict(optimizer="SGD", momentum=0.9),
                               dict(max_lr=[0.1, 0.05], total_steps=STEPS, anneal_strategy="linear", three_phase=True,
                                    div_factor=10.0)),
    "adam_custom_betas_three_phase": (dict(optimizer="Adam", betas=(0.9, 0.99)),
                                      dict(max_lr=[0.1, 0.05], total_steps=STEPS, three_phase=True, pct_start=0.25)),
    "rmsprop_no_momentum_cycle": (dict(optimizer="RMSprop"), dict(max_lr=0.1, total_steps=STEPS, cycle_momentum=False)),
}


@pytest.mark.parametrize("name", ONE_CYCLE)
def test_one_cycle_matches_pytorch_with_its_momentum(name):
    optimizer_options, options = ONE_CYCLE[name]
    assert_same_schedule(lambda m, opt: m.OneCycleLR(opt, **options), **optimizer_options)


def test_one_cycle_shape():
    lrs, moms = schedule("glassnet", lambda m, opt: m.OneCycleLR(opt, max_lr=1.0, total_steps=STEPS),
                         optimizer="Adam")
    lrs, beta1 = lrs[:STEPS, 0], moms[:STEPS, 0]
    peak = int(np.argmax(lrs))
    assert peak == 0.3 * STEPS - 1  # the lr rises over the first 30% of the steps
    assert lrs[0] == pytest.approx(1.0 / 25) and lrs[peak] == 1.0
    assert lrs[-1] == pytest.approx(1.0 / 25 / 1e4)
    assert beta1[0] == 0.95 and beta1[peak] == 0.85 and beta1[-1] == pytest.approx(0.95)  # the other way


def test_one_cycle_leaves_beta2_alone():
    optimizer = make_optimizer("glassnet", "Adam", betas=(0.9, 0.99))
    scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=10)
    for _ in range(5):
        scheduler.step()
    assert [group["betas"][1] for group in optimizer.param_groups] == [0.99, 0.99]


def test_one_cycle_refuses_to_step_past_the_end_as_pytorch_does():
    optimizer = make_optimizer("glassnet")
    scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=4)
    for _ in range(4):
        scheduler.step()
    with pytest.raises(ValueError, match="tried to step 5 times, but the cycle has total_steps=4"):
        scheduler.step()
    theirs = make_optimizer("torch")
    their_scheduler = torch.optim.lr_scheduler.OneCycleLR(theirs, max_lr=0.1, total_steps=4)
    theirs.step()
    for _ in range(4):
        their_scheduler.step()
    with pytest.raises(ValueError):
        their_scheduler.step()


# -- ReduceLROnPlateau -----------------------------------------------------------------------

LOSSES = [1.0, 0.9, 0.95, 0.91, 0.9, 0.9, 0.89995, 0.8, 0.85, 0.86, 0.81, 0.82,
          0.83, 0.84, 0.7, 0.71, 0.72, 0.73, 0.74, 0.75, 0.69, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]
PLATEAU = {
    "defaults_patience_2": dict(patience=2),
    "no_patience": dict(patience=0, factor=0.5),
    "cooldown": dict(patience=1, cooldown=2, factor=0.5),
    "abs_threshold": dict(patience=1, threshold=0.02, threshold_mode="abs"),
    "min_lr_per_group": dict(patience=0, factor=0.5, min_lr=[1e-2, 1e-3]),
    "max_mode": dict(mode="max", patience=1, factor=0.3),
    "rel_threshold": dict(patience=1, factor=0.5, threshold=0.1),
    "max_mode_abs_threshold": dict(mode="max", patience=2, factor=0.5, threshold=0.02, threshold_mode="abs"),
}


@pytest.mark.parametrize("name", PLATEAU)
def test_reduce_on_plateau_matches_pytorch(name):
    options = PLATEAU[name]
    metrics = [-x for x in LOSSES] if options.get("mode") == "max" else LOSSES
    lrs = assert_same_schedule(lambda m, opt: m.ReduceLROnPlateau(opt, **options), metrics=metrics)
    assert len(set(lrs[:, 0])) > 1, "the schedule never reduced the learning rate: the test checks nothing"


def test_reduce_on_plateau_waits_patience_epochs():
    lrs, _ = schedule("glassnet", lambda m, opt: m.ReduceLROnPlateau(opt, patience=2),
                      steps=6, metrics=[1.0, 0.5, 0.6, 0.5, 0.7, 0.4])
    # best 0.5 at epoch 2; epochs 3, 4, 5 do not beat it, and the third is one too many
    np.testing.assert_allclose(lrs[:, 0], [0.1, 0.1, 0.1, 0.1, 0.1, 0.01, 0.01])


def test_reduce_on_plateau_stops_at_min_lr():
    optimizer = make_optimizer("glassnet")
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5, min_lr=0.03)
    for _ in range(10):
        scheduler.step(1.0)
    assert scheduler.get_last_lr() == [0.03, 0.01]  # the second group started below min_lr


# -- saving and resuming ---------------------------------------------------------------------

def is_plain_data(value):
    if isinstance(value, dict):
        return all(isinstance(k, (int, str)) and is_plain_data(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(is_plain_data(v) for v in value)
    return value is None or isinstance(value, (np.ndarray, bool, int, float, str))


RESUMABLE = {
    "warmup_then_cosine": (CASES["warmup_then_cosine"], {}),
    "lambda": (CASES["lambda"], {}),
    "one_cycle_adam": (lambda m, opt: m.OneCycleLR(opt, max_lr=0.5, total_steps=STEPS), {"optimizer": "Adam"}),
    "plateau": (lambda m, opt: m.ReduceLROnPlateau(opt, patience=1, cooldown=1), {"metrics": LOSSES}),
}


@pytest.mark.parametrize("name", RESUMABLE)
def test_state_dict_resumes_the_same_schedule(name):
    make_scheduler, options = RESUMABLE[name]
    metrics = options.get("metrics")
    expected, _ = schedule("glassnet", make_scheduler, **options)

    def run(optimizer, scheduler, steps):
        lrs = []
        for step in steps:
            optimizer.step()
            scheduler.step(*([metrics[step]] if metrics else []))
            lrs.append(scheduler.get_last_lr())
        return lrs

    optimizer_name = options.get("optimizer", "SGD")
    optimizer = make_optimizer("glassnet", optimizer_name)
    scheduler = make_scheduler(lr_scheduler, optimizer)
    run(optimizer, scheduler, range(10))
    saved_scheduler, saved_optimizer = scheduler.state_dict(), optimizer.state_dict()
    assert is_plain_data(saved_scheduler)

    # as when resuming from a checkpoint: build both afresh, then load both
    optimizer = make_optimizer("glassnet", optimizer_name)
    scheduler = make_scheduler(lr_scheduler, optimizer)
    optimizer.load_state_dict(saved_optimizer)
    scheduler.load_state_dict(saved_scheduler)
    np.testing.assert_allclose(run(optimizer, scheduler, range(10, STEPS)), expected[11:], rtol=1e-12)


# -- bad arguments -----------------------------------------------------------------------------

BAD = {
    "step_size_0": (lambda opt: lr_scheduler.StepLR(opt, step_size=0), "step_size must be a positive integer"),
    "T_max_0": (lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=0), "T_max must be positive"),
    "start_factor_0": (lambda opt: lr_scheduler.LinearLR(opt, start_factor=0), r"start_factor must be in \(0, 1\]"),
    "end_factor_2": (lambda opt: lr_scheduler.LinearLR(opt, end_factor=2.0), r"end_factor must be in \[0, 1\]"),
    "lambdas_per_group": (lambda opt: lr_scheduler.LambdaLR(opt, [lambda e: 1.0]), "Expected 2 lr_lambdas"),
    "one_cycle_no_length": (lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=0.1), "give total_steps"),
    "one_cycle_pct_start": (lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, pct_start=1.5),
                            "pct_start between 0 and 1"),
    "one_cycle_anneal": (lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, anneal_strategy="exp"),
                         "anneal_strategy must be 'cos' or 'linear'"),
    "one_cycle_max_lrs": (lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=[0.1, 0.2, 0.3], total_steps=10),
                          "expected 2 values of max_lr"),
    "plateau_factor": (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, factor=1.0), "factor should be < 1.0"),
    "plateau_mode": (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, mode="lowest"), "mode must be 'min' or 'max'"),
    "plateau_threshold_mode": (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, threshold_mode="pct"),
                               "threshold_mode must be 'rel' or 'abs'"),
    "sequential_milestones": (
        lambda opt: lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2), lr_scheduler.StepLR(opt, 3)], []),
        "2 schedulers need 1 milestones"),
    "sequential_plateau": (
        lambda opt: lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2), lr_scheduler.ReduceLROnPlateau(opt)],
                                              [5]),
        "cannot run ReduceLROnPlateau"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_arguments_raise_value_error(name):
    make, message = BAD[name]
    with pytest.raises(ValueError, match=message):
        make(make_optimizer("glassnet"))


def test_sequential_schedulers_must_share_the_optimizer():
    optimizer, other = make_optimizer("glassnet"), make_optimizer("glassnet")
    with pytest.raises(ValueError, match="scheduler 1 belongs to a different optimizer"):
        lr_scheduler.SequentialLR(optimizer, [lr_scheduler.StepLR(optimizer, 2), lr_scheduler.StepLR(other, 2)], [3])


def test_momentum_cycling_needs_momentum():
    plain = optim.Optimizer([Parameter(np.zeros(1, dtype=np.float32))], {"lr": 0.1})
    with pytest.raises(ValueError, match="no momentum or betas to cycle; help: pass cycle_momentum=False"):
        lr_scheduler.OneCycleLR(plain, max_lr=1.0, total_steps=10)
    lr_scheduler.OneCycleLR(plain, max_lr=1.0, total_steps=10, cycle_momentum=False)


def test_a_scheduler_needs_an_optimizer():
    with pytest.raises(TypeError, match="schedules an Optimizer, got list"):
        lr_scheduler.StepLR([Parameter(np.zeros(1, dtype=np.float32))], step_size=2)

