"""Specification of glassnet.optim.lr_scheduler, with PyTorch's schedulers as the oracle.

Each test builds the same schedule on a glassnet optimizer and on a PyTorch one, both
with two parameter groups of different learning rates, and compares the learning rates
(and, for OneCycleLR, the momentum or beta1) after construction and after every step.
"""
import math

import numpy as np
import pytest
import torch

from glassnet import optim
from glassnet.nn import Parameter
from glassnet.optim import lr_scheduler

STEPS = 30
LRS = [0.1, 0.02]
# glassnet writes each schedule as a formula of the epoch; PyTorch mostly multiplies the
# last lr by a ratio (for the cosine, 30 times over). Both work in float64: they agree to
# about 1e-12 here, so 1e-7 leaves room for rounding and none for a wrong formula.
RTOL = 1e-7


def optimizers(name="SGD", **options):
    """Glassnet's and PyTorch's optimizer ``name`` over the same two parameter groups."""
    def groups(make):
        return [{"params": [make(np.ones(3, dtype=np.float32))], "lr": lr} for lr in LRS]

    mine = getattr(optim, name)(groups(Parameter), **options)
    theirs = getattr(torch.optim, name)(groups(lambda a: torch.nn.Parameter(torch.from_numpy(a))), **options)
    return mine, theirs


def assert_same_schedule(build, name="SGD", options=None, steps=STEPS, momentum=None):
    """Step both schedules side by side. ``build(module, optimizer)`` makes the scheduler
    from either module; ``momentum`` (a function of a param group) is compared too."""
    gn_optimizer, torch_optimizer = optimizers(name, **(options or {}))
    gn_scheduler = build(lr_scheduler, gn_optimizer)
    torch_scheduler = build(torch.optim.lr_scheduler, torch_optimizer)
    lrs = []
    for step in range(steps + 1):
        if step > 0:
            gn_optimizer.step()  # no gradients: nothing moves, but the order is the usual one
            torch_optimizer.step()
            gn_scheduler.step()
            torch_scheduler.step()
        mine = gn_scheduler.get_last_lr()
        np.testing.assert_allclose(mine, torch_scheduler.get_last_lr(), rtol=RTOL, atol=1e-15,
                                   err_msg=f"learning rates after {step} steps")
        assert mine == [group["lr"] for group in gn_optimizer.param_groups]
        if momentum is not None:
            np.testing.assert_allclose(
                [momentum(group) for group in gn_optimizer.param_groups],
                [momentum(group) for group in torch_optimizer.param_groups],
                rtol=RTOL, err_msg=f"momentum after {step} steps",
            )
        lrs.append(mine[0])
    return lrs


SCHEDULES = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[5, 12, 12, 20], gamma=0.3),  # 12 counts twice
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "LinearLR warm-up": lambda m, o: m.LinearLR(o, start_factor=0.1, total_iters=8),
    "LinearLR decay": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=20),
    "LambdaLR": lambda m, o: m.LambdaLR(o, lambda epoch: 1 / (1 + 0.5 * epoch)),
    "LambdaLR per group": lambda m, o: m.LambdaLR(o, [lambda epoch: 0.95**epoch, lambda epoch: 1 + epoch % 3]),
    # past T_max the cosine climbs back up (no restarts): 30 steps cross T_max=12 twice
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=12),
    "CosineAnnealingLR eta_min": lambda m, o: m.CosineAnnealingLR(o, T_max=10, eta_min=0.005),
    "warm-up then cosine": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=5), m.CosineAnnealingLR(o, T_max=25)], milestones=[5]),
    "warm-up, cosine, exponential": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.2, total_iters=4), m.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
            m.ExponentialLR(o, gamma=0.8)], milestones=[4, 18]),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_matches_pytorch(name):
    lrs = assert_same_schedule(SCHEDULES[name])
    assert len(set(lrs)) > 1


def test_cosine_annealing_reaches_eta_min_at_t_max():
    optimizer, _ = optimizers()
    scheduler = lr_scheduler.CosineAnnealingLR(optimizer, T_max=10, eta_min=0.005)
    lrs = [scheduler.get_last_lr()[0]]
    for _ in range(20):
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    assert lrs[0] == LRS[0]
    assert lrs[5] == pytest.approx((LRS[0] + 0.005) / 2)
    assert lrs[10] == pytest.approx(0.005)
    assert lrs[20] == pytest.approx(LRS[0])


def test_warm_up_then_cosine_values():
    optimizer, _ = optimizers()
    warmup = lr_scheduler.LinearLR(optimizer, start_factor=0.25, total_iters=3)
    cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=4)
    scheduler = lr_scheduler.SequentialLR(optimizer, [warmup, cosine], milestones=[3])
    lrs = [scheduler.get_last_lr()[0]]
    for _ in range(7):
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    peak = LRS[0]
    expected = [peak / 4, peak / 2, peak * 3 / 4, peak, peak * (1 + math.sqrt(0.5)) / 2, peak / 2,
                peak * (1 - math.sqrt(0.5)) / 2, 0.0]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12, atol=1e-15)


# -- OneCycleLR -------------------------------------------------------------------------------

ONE_CYCLE = {
    "cos": dict(),
    "linear": dict(anneal_strategy="linear"),
    "three_phase": dict(three_phase=True, pct_start=0.25),
    "linear three_phase": dict(anneal_strategy="linear", three_phase=True, div_factor=10.0),
}


@pytest.mark.parametrize("kind", ONE_CYCLE)
@pytest.mark.parametrize("name, options, momentum", [
    ("SGD", dict(momentum=0.9), lambda group: group["momentum"]),
    ("Adam", dict(betas=(0.9, 0.99)), lambda group: group["betas"][0]),
])
def test_one_cycle_matches_pytorch_with_its_momentum(kind, name, options, momentum):
    def build(module, optimizer):
        return module.OneCycleLR(optimizer, max_lr=[0.1, 0.05], total_steps=STEPS, **ONE_CYCLE[kind])

    lrs = assert_same_schedule(build, name, options, steps=STEPS - 1, momentum=momentum)
    assert 0.098 < max(lrs) <= 0.1  # the peak falls between two steps when pct_start · total_steps is not whole
    assert lrs[-1] < lrs[0]  # it ends far below where it started


def test_one_cycle_leaves_beta2_alone():
    optimizer, _ = optimizers("Adam", betas=(0.9, 0.99))
    scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=10)
    for _ in range(5):
        scheduler.step()
    assert [group["betas"][1] for group in optimizer.param_groups] == [0.99, 0.99]


def test_one_cycle_refuses_to_step_past_the_end_as_pytorch_does():
    for module, optimizer in zip((lr_scheduler, torch.optim.lr_scheduler), optimizers()):
        scheduler = module.OneCycleLR(optimizer, max_lr=0.1, total_steps=5)
        optimizer.step()
        for _ in range(5):
            scheduler.step()
        with pytest.raises(ValueError):
            scheduler.step()


# -- ReduceLROnPlateau ------------------------------------------------------------------------

# A validation loss that falls, wobbles on plateaus, and falls again.
LOSSES = [1.0, 0.8, 0.7, 0.69, 0.7, 0.71, 0.695, 0.6, 0.6, 0.6, 0.6, 0.61, 0.59, 0.5999, 0.58,
          0.58, 0.58, 0.58, 0.58, 0.57, 0.5, 0.5, 0.5, 0.49, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
ACCURACIES = [1 - loss for loss in LOSSES]

PLATEAUS = {
    "min": (LOSSES, dict(mode="min", patience=2)),
    "max": (ACCURACIES, dict(mode="max", patience=1, factor=0.5)),
    "cooldown": (LOSSES, dict(patience=1, factor=0.5, cooldown=3)),
    "min_lr per group": (LOSSES, dict(patience=0, factor=0.5, min_lr=[0.01, 0.005])),
    "abs threshold": (LOSSES, dict(patience=1, factor=0.5, threshold=0.05, threshold_mode="abs")),
    "rel threshold": (LOSSES, dict(patience=1, factor=0.5, threshold=0.1)),
    "max, abs threshold": (ACCURACIES, dict(mode="max", patience=2, factor=0.5, threshold=0.02, threshold_mode="abs")),
}


@pytest.mark.parametrize("name", PLATEAUS)
def test_reduce_on_plateau_matches_pytorch(name):
    metrics, options = PLATEAUS[name]
    gn_optimizer, torch_optimizer = optimizers()
    mine = lr_scheduler.ReduceLROnPlateau(gn_optimizer, **options)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_optimizer, **options)
    lrs = []
    for epoch, metric in enumerate(metrics):
        gn_optimizer.step()
        torch_optimizer.step()
        mine.step(metric)
        theirs.step(metric)
        np.testing.assert_allclose(mine.get_last_lr(), theirs.get_last_lr(), rtol=RTOL, atol=1e-15,
                                   err_msg=f"learning rates after epoch {epoch} (metric {metric})")
        lrs.append(mine.get_last_lr()[0])
    assert len(set(lrs)) > 1, "the schedule never reduced the learning rate: the test checks nothing"


def test_reduce_on_plateau_stops_at_min_lr():
    optimizer, _ = optimizers()
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5, min_lr=0.03)
    for _ in range(10):
        scheduler.step(1.0)
    assert scheduler.get_last_lr() == [0.03, LRS[1]]  # the second group started below min_lr
