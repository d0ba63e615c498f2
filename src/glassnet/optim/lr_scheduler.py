"""Learning-rate schedules: how the step size changes as training goes on.

A scheduler keeps no learning rate of its own: it writes ``group["lr"]`` into the
parameter groups of its optimizer. Call ``scheduler.step()`` after ``optimizer.step()``,
once per epoch (or once per batch for OneCycleLR and for warm-ups counted in batches).

Each schedule here is a formula of the step count ``last_epoch`` and the starting
learning rates, so it can be read off directly. PyTorch computes most of them from the
previous learning rate instead; the numbers agree up to floating-point rounding. One
consequence differs: two schedulers stepped side by side on one optimizer do not
multiply their factors, as PyTorch's "chained" schedulers do; the last to step sets the
lr. To combine schedules, use SequentialLR, or a LambdaLR whose factor is the product.
"""
import bisect
import math

from .optimizer import Optimizer


class LRScheduler:
    """Base of the schedules that are a formula of the epoch: a subclass sets its options,
    then calls ``super().__init__(optimizer)``, and defines :meth:`get_lr`.

    Building a scheduler records each group's lr as ``group["initial_lr"]`` (unless a
    scheduler built earlier on the same optimizer did) — these are ``base_lrs`` — and
    sets the learning rates of epoch 0.
    """

    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__} schedules an Optimizer, got {type(optimizer).__name__}; "
                "help: build the optimizer first and pass it, e.g. StepLR(optimizer, step_size=10)"
            )
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = -1
        self.step()

    def get_lr(self):
        """The learning rate of every group at epoch ``self.last_epoch``."""
        raise NotImplementedError(f"{type(self).__name__} must define get_lr()")

    def step(self):
        """Move on one epoch (or batch) and set every group's learning rate for it."""
        self.last_epoch += 1
        self._last_lr = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr

    def get_last_lr(self):
        """The learning rates set by the last step, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self):
        """The scheduler's state as plain data: everything but the optimizer, which is
        saved separately (``optimizer.state_dict()``)."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)


class LambdaLR(LRScheduler):
    """``lr = initial_lr · lr_lambda(epoch)``, with one function for every group or a
    list of them, one per group.

    >>> from glassnet.nn import Parameter
    >>> from glassnet.optim import SGD
    >>> optimizer = SGD([Parameter([1.0])], lr=0.1)
    >>> scheduler = LambdaLR(optimizer, lambda epoch: 0.5 ** epoch)
    >>> scheduler.step(); scheduler.step()
    >>> scheduler.get_last_lr()
    [0.025]
    """

    def __init__(self, optimizer, lr_lambda):
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != len(optimizer.param_groups):
                raise ValueError(
                    f"Expected {len(optimizer.param_groups)} lr_lambdas (one per parameter group), "
                    f"but got {len(lr_lambda)}"
                )
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * len(optimizer.param_groups)
        super().__init__(optimizer)

    def get_lr(self):
        return [base_lr * f(self.last_epoch) for f, base_lr in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self):
        """As the base's, without the functions: they are code, not data. Build the
        scheduler with the same functions, then load the state."""
        return {key: value for key, value in super().state_dict().items() if key != "lr_lambdas"}


class StepLR(LRScheduler):
    """``lr = initial_lr · gamma^⌊epoch / step_size⌋``: divide the lr by 1/gamma every
    ``step_size`` epochs."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        if not (isinstance(step_size, int) and step_size >= 1):
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size!r}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def get_lr(self):
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """``lr = initial_lr · gamma^k``, where k is the number of ``milestones`` reached
    (a milestone given twice counts twice)."""

    def __init__(self, optimizer, milestones, gamma=0.1):
        self.milestones, self.gamma = sorted(milestones), gamma
        super().__init__(optimizer)

    def get_lr(self):
        reached = bisect.bisect_right(self.milestones, self.last_epoch)
        return [base_lr * self.gamma**reached for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """``lr = initial_lr · gamma^epoch``."""

    def __init__(self, optimizer, gamma):
        self.gamma = gamma
        super().__init__(optimizer)

    def get_lr(self):
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """``lr = eta_min + (initial_lr − eta_min) · (1 + cos(π · epoch / T_max)) / 2``: half a
    cosine from the initial lr down to ``eta_min`` at epoch ``T_max`` (and, past it,
    back up again, as in PyTorch: there are no restarts)."""

    def __init__(self, optimizer, T_max, eta_min=0.0):
        if not T_max > 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max!r}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def get_lr(self):
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base_lr - self.eta_min) * cosine for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """``lr = initial_lr · factor``, the factor going in a straight line from
    ``start_factor`` at epoch 0 to ``end_factor`` at epoch ``total_iters``, and staying
    there. With the defaults it is a linear warm-up to the optimizer's lr over 5 steps."""

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5):
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor!r}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor!r}")
        if not (isinstance(total_iters, int) and total_iters >= 1):
            raise ValueError(f"LinearLR: total_iters must be a positive integer, got {total_iters!r}")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer)

    def get_lr(self):
        progress = min(self.last_epoch, self.total_iters) / self.total_iters
        factor = self.start_factor + (self.end_factor - self.start_factor) * progress
        return [base_lr * factor for base_lr in self.base_lrs]


class SequentialLR(LRScheduler):
    """Run ``schedulers[0]`` until epoch ``milestones[0]``, then ``schedulers[1]``, and so
    on; each starts counting its own epochs from 0 when its turn comes.

    The usual use: a linear warm-up, then cosine annealing.

    >>> from glassnet.nn import Parameter
    >>> from glassnet.optim import SGD
    >>> optimizer = SGD([Parameter([1.0])], lr=0.1)
    >>> warmup = LinearLR(optimizer, start_factor=0.25, total_iters=2)
    >>> decay = CosineAnnealingLR(optimizer, T_max=2)
    >>> scheduler = SequentialLR(optimizer, [warmup, decay], milestones=[2])
    >>> lrs = [scheduler.get_last_lr()[0]]
    >>> for epoch in range(4):
    ...     scheduler.step()
    ...     lrs.append(round(scheduler.get_last_lr()[0], 4))
    >>> lrs
    [0.025, 0.0625, 0.1, 0.05, 0.0]
    """

    def __init__(self, optimizer, schedulers, milestones):
        schedulers, milestones = list(schedulers), list(milestones)
        if not schedulers:
            raise ValueError("SequentialLR expects at least one scheduler, but got none")
        for i, scheduler in enumerate(schedulers):
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(
                    f"SequentialLR cannot run ReduceLROnPlateau (scheduler {i}): its step() needs the metric"
                )
            if scheduler.optimizer is not optimizer:
                raise ValueError(f"SequentialLR: scheduler {i} belongs to a different optimizer")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR: {len(schedulers)} schedulers need {len(schedulers) - 1} milestones "
                f"(where each hands over to the next), got {len(milestones)}"
            )
        if milestones != sorted(milestones):
            raise ValueError(f"SequentialLR: milestones must increase, got {milestones}")
        self.schedulers, self.milestones = schedulers, milestones
        super().__init__(optimizer)

    def step(self):
        self.last_epoch += 1
        turn = bisect.bisect_right(self.milestones, self.last_epoch)
        started = self.milestones[turn - 1] if turn > 0 else 0
        scheduler = self.schedulers[turn]
        scheduler.last_epoch = self.last_epoch - started - 1  # its step() moves it to its own epoch
        scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self):
        state = {key: value for key, value in super().state_dict().items() if key != "schedulers"}
        state["schedulers"] = [scheduler.state_dict() for scheduler in self.schedulers]
        return state

    def load_state_dict(self, state_dict):
        state = dict(state_dict)
        for scheduler, saved in zip(self.schedulers, state.pop("schedulers")):
            scheduler.load_state_dict(saved)
        super().load_state_dict(state)


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin), stepped once per batch: over the first
    ``pct_start`` of ``total_steps`` the lr rises from ``max_lr / div_factor`` to
    ``max_lr``; then it anneals to ``max_lr / div_factor / final_div_factor``. With
    ``three_phase``, it first comes back down to the starting lr, symmetrically, and only
    then anneals. The momentum (``betas[0]`` for Adam-like optimizers) moves the other
    way, between ``max_momentum`` and ``base_momentum``: a large step needs less inertia.

    Each phase goes from one value to another along half a cosine (``anneal_strategy=
    'cos'``) or a straight line (``'linear'``). The anchors of each group are stored in
    it, as in PyTorch (``initial_lr``, ``max_lr``, ``min_lr``, ``max_momentum``,
    ``base_momentum``), so saving the optimizer saves them.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"OneCycleLR schedules an Optimizer, got {type(optimizer).__name__}")
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR: give total_steps, or both epochs and steps_per_epoch")
            for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
                if not (isinstance(value, int) and value > 0):
                    raise ValueError(f"OneCycleLR: expected a positive integer {name}, but got {value!r}")
            total_steps = epochs * steps_per_epoch
        if not (isinstance(total_steps, int) and total_steps > 0):
            raise ValueError(f"OneCycleLR: expected a positive integer total_steps, but got {total_steps!r}")
        if not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: expected pct_start between 0 and 1, but got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.use_beta1 = "betas" in optimizer.defaults
        if cycle_momentum and not self.use_beta1 and "momentum" not in optimizer.defaults:
            raise ValueError(
                f"OneCycleLR: {type(optimizer).__name__} has no momentum or betas to cycle; "
                "help: pass cycle_momentum=False"
            )
        self.total_steps, self.anneal_strategy, self.cycle_momentum = total_steps, anneal_strategy, cycle_momentum

        # Each phase: the step where it ends, and the group keys of the lr and of the
        # momentum at its start and at its end. Each phase starts where the last ended.
        rise_end = float(pct_start * total_steps) - 1
        if three_phase:
            self.phases = [
                (rise_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                (total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            self.phases = [
                (rise_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]

        groups = optimizer.param_groups
        for group, top in zip(groups, _per_group("max_lr", max_lr, groups)):
            group["initial_lr"] = top / div_factor
            group["max_lr"] = top
            group["min_lr"] = group["initial_lr"] / final_div_factor
        if cycle_momentum:
            highs, lows = _per_group("max_momentum", max_momentum, groups), _per_group("base_momentum", base_momentum, groups)
            for group, high, low in zip(groups, highs, lows):
                group["max_momentum"], group["base_momentum"] = high, low
        super().__init__(optimizer)

    def _anneal(self, start, end, fraction):
        if self.anneal_strategy == "linear":
            return start + (end - start) * fraction
        return end + (start - end) / 2 * (1 + math.cos(math.pi * fraction))

    def _phase(self):
        """The current phase and how far into it (0 to 1) ``last_epoch`` is."""
        if self.last_epoch > self.total_steps:
            raise ValueError(
                f"OneCycleLR: tried to step {self.last_epoch} times, but the cycle has total_steps="
                f"{self.total_steps}; help: count every batch of every epoch in total_steps"
            )
        start = 0.0
        for phase in self.phases:
            end = phase[0]
            if self.last_epoch <= end or phase is self.phases[-1]:
                return phase, (self.last_epoch - start) / (end - start)
            start = end

    def get_lr(self):
        (_, lr_start, lr_end, _, _), fraction = self._phase()
        return [self._anneal(group[lr_start], group[lr_end], fraction) for group in self.optimizer.param_groups]

    def step(self):
        super().step()
        if not self.cycle_momentum:
            return
        (_, _, _, momentum_start, momentum_end), fraction = self._phase()
        for group in self.optimizer.param_groups:
            momentum = self._anneal(group[momentum_start], group[momentum_end], fraction)
            if self.use_beta1:
                group["betas"] = (momentum, *group["betas"][1:])
            else:
                group["momentum"] = momentum


class ReduceLROnPlateau:
    """Multiply the lr by ``factor`` when a metric has stopped improving: call
    ``step(metric)`` once per epoch, e.g. with the validation loss.

    An epoch improves on the best value so far when it beats it by more than
    ``threshold`` (relative, ``best · (1 ∓ threshold)``, or absolute, ``best ∓ threshold``;
    ``mode='max'`` for metrics that should grow, like accuracy). After more than
    ``patience`` epochs in a row without improvement, each lr becomes
    ``max(lr · factor, min_lr)``, and ``cooldown`` epochs pass before counting again.
    Changes smaller than ``eps`` are skipped.

    >>> from glassnet.nn import Parameter
    >>> from glassnet.optim import SGD
    >>> optimizer = SGD([Parameter([1.0])], lr=0.1)
    >>> scheduler = ReduceLROnPlateau(optimizer, patience=1, factor=0.5)
    >>> for val_loss in [1.0, 0.9, 0.9, 0.9, 0.9]:
    ...     scheduler.step(val_loss)
    >>> scheduler.get_last_lr()  # two epochs without improvement after the best, 0.9
    [0.05]
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0.0, eps=1e-8):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"ReduceLROnPlateau schedules an Optimizer, got {type(optimizer).__name__}")
        if not factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor should be < 1.0, got {factor!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.optimizer = optimizer
        self.mode, self.factor, self.patience, self.cooldown = mode, factor, patience, cooldown
        self.threshold, self.threshold_mode, self.eps = threshold, threshold_mode, eps
        self.min_lrs = _per_group("min_lr", min_lr, optimizer.param_groups)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def _is_better(self, value):
        sign = 1 if self.mode == "max" else -1
        if self.threshold_mode == "rel":
            bar = self.best * (1 + sign * self.threshold)
        else:
            bar = self.best + sign * self.threshold
        return value > bar if self.mode == "max" else value < bar

    def step(self, metric):
        metric = float(metric.item() if hasattr(metric, "item") else metric)
        self.last_epoch += 1
        if self._is_better(metric):
            self.best, self.num_bad_epochs = metric, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:  # epochs right after a reduction do not count as bad
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                new_lr = max(group["lr"] * self.factor, min_lr)
                if group["lr"] - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        return list(self._last_lr)

    def state_dict(self):
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)


def _per_group(name, value, groups):
    """One value per parameter group: ``value`` itself when it is a list or tuple (of the
    right length), else ``value`` repeated."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(groups):
            raise ValueError(f"expected {len(groups)} values of {name} (one per parameter group), got {len(value)}")
        return list(value)
    return [value] * len(groups)
