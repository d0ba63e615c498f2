"""What went wrong in training, in words: rules of thumb read off the history (and the
health record of a :class:`.HealthMonitor`), each naming its evidence.

These are the checks a practitioner does by eye on the curves: a loss that rises or
explodes (learning rate too high), a validation loss that turns up while training keeps
improving (overfitting), accuracy stuck at chance (not learning), gradients that fade
before the first layers or blow up, ReLU units that died.

>>> history = [{"epoch": 1, "train_loss": 2.3}, {"epoch": 2, "train_loss": float("nan")}]
>>> [hint.name for hint in diagnose(history)]
['learning_rate_too_high']
"""
import dataclasses
import math
import statistics
import textwrap

from .curves import history_records

# The thresholds: loose enough that a healthy run passes, tight enough to catch the
# textbook failures.
RISE = 1.5  # the loss ends this many times above its lowest
SPIKE = 2.0  # a step's loss this many times the first step's
SWING = 0.1  # an epoch-to-epoch rise larger than this share of the first loss
PATIENCE = 3  # epochs of validation loss above its best before calling it overfitting
OVERFIT_RISE = 0.1  # ... and the validation loss ending this share above its best
MIN_EPOCHS = 3  # epochs before judging that a network is not learning
CHANCE_MARGIN = 1.5  # accuracy below this many times chance is "near chance"
STUCK = 0.9  # a final training loss above this share of the first: not learning
VANISHING = 1e-3  # first layer's gradient norm below this share of the last layer's
EXPLODING = 100.0  # a layer's gradient norm growing this many times over its start
DEAD = 0.5  # the share of dead units in a ReLU layer that is a problem


@dataclasses.dataclass(frozen=True)
class Hint:
    """One diagnosis: ``name`` (e.g. ``'overfitting'``), ``message`` (what was seen and what
    to try) and ``evidence`` (the numbers behind it)."""

    name: str
    message: str
    evidence: dict


def diagnose(history, health=None, num_classes=None):
    """The hints that the epoch records (and, given, the health record) support.

    ``history``: epoch records (see :func:`.curves.history_records`); ``health``: a
    :class:`.HealthMonitor` record (:func:`.load_health`); ``num_classes``: enables the
    accuracy-near-chance check (1 / num_classes is chance). A healthy run gives ``[]``.
    """
    records = history_records(history)
    unstable = _learning_rate(records)
    # An unstable loss is not learning either; saying so twice would hide the cause.
    hints = unstable + _overfitting(records) + ([] if unstable else _not_learning(records, num_classes))
    if health:
        hints += _vanishing(health) + _exploding(health) + _dead_units(health)
    return hints


def format_hints(hints, width=100):
    """The hints as text for a terminal, one wrapped paragraph each."""
    if not hints:
        return "No problems found: the training looks healthy."
    lines = [f"{len(hints)} possible problem{'s' if len(hints) > 1 else ''}:"]
    for hint in hints:
        heading = hint.name.replace("_", " ")
        lines.append(textwrap.fill(f"- {heading}: {hint.message}", width=width, subsequent_indent="  "))
    return "\n".join(lines)


# -- the history ---------------------------------------------------------------------------

def _values(records, key):
    """[(epoch, value)] of the records that have ``key``."""
    return [(record["epoch"], record[key]) for record in records if record.get(key) is not None]


def _lr_help(records):
    lr = next((record["lr"] for record in reversed(records) if "lr" in record), None)
    now = f" (now {lr:g})" if lr is not None else ""
    return (f"help: lower the learning rate{now}, by 10 to start with, or clip the gradients "
            "(clip_grad_norm=1.0)")


def _learning_rate(records):
    """A loss that became NaN/infinite, ended well above its lowest, swung up and down
    from epoch to epoch, or spiked within an epoch."""
    found = _non_finite_loss(records) or _unstable_loss(records)
    return [_too_high(records, *found)] if found else []


def _non_finite_loss(records):
    """(what happened, evidence) for the first loss that is not a number, or None."""
    for record in records:
        for key, what in (("train_loss", "training"), ("val_loss", "validation")):
            value = record.get(key)
            if value is not None and not math.isfinite(value):
                epoch = record["epoch"]
                return f"the {what} loss became {value} at epoch {epoch}", {"non_finite": key, "epoch": epoch}
        if "stopped" in record:  # StopOnNaN recorded where the loss stopped being a number
            return f"the {record['stopped']}", {"non_finite": "train_loss", "epoch": record["epoch"]}
    return None


def _unstable_loss(records):
    """(what happened, evidence) for a rising, swinging or spiking training loss, or None."""
    losses = _values(records, "train_loss")
    steps = [(record["epoch"], loss) for record in records for loss in record.get("step_losses") or []]
    if len(losses) < 2:
        return None
    first = steps[0][1] if steps else losses[0][1]
    (low_epoch, low), (last_epoch, last) = min(losses, key=lambda pair: pair[1]), losses[-1]
    if last > RISE * low and last_epoch > low_epoch:
        return (f"the loss rose from {low:.4g} (epoch {low_epoch}) to {last:.4g} (epoch {last_epoch})",
                {"lowest": low, "lowest_epoch": low_epoch, "last": last, "last_epoch": last_epoch})
    swings = [(epoch, before, after) for (_, before), (epoch, after) in zip(losses, losses[1:])
              if after - before > SWING * first]
    if len(swings) >= 2:
        described = ", ".join(f"epoch {epoch}: {before:.3g} -> {after:.3g}" for epoch, before, after in swings[:4])
        return (f"the loss went up and down, rising in {len(swings)} epochs ({described})",
                {"rises": [list(swing) for swing in swings]})
    spikes = [(epoch, loss) for epoch, loss in steps[1:] if loss > SPIKE * first]
    if spikes:
        epoch, worst = max(spikes, key=lambda pair: pair[1])
        many = f"{len(spikes)} steps" if len(spikes) > 1 else "1 step"
        return (f"the loss spiked to {worst:.4g} in epoch {epoch}, {worst / first:.1f} times the first step's "
                f"{first:.4g} ({many} above {SPIKE:g} times that)",
                {"first_step_loss": first, "worst_step_loss": worst, "epoch": epoch, "spikes": len(spikes)})
    return None


def _too_high(records, what, evidence):
    return Hint("learning_rate_too_high", f"The training is unstable: {what}. {_lr_help(records)}.", evidence)


def _overfitting(records):
    """Validation loss above its best for PATIENCE epochs while the training still improves."""
    val = [(epoch, loss) for epoch, loss in _values(records, "val_loss") if math.isfinite(loss)]
    if len(val) < PATIENCE + 1:
        return []
    best_epoch, best = min(val, key=lambda pair: pair[1])
    last_epoch, last = val[-1]
    if sum(epoch > best_epoch for epoch, _ in val) < PATIENCE or last < best * (1 + OVERFIT_RISE):
        return []
    by_epoch = {record["epoch"]: record for record in records}
    then, now = by_epoch[best_epoch], by_epoch[last_epoch]
    if now.get("train_acc") is not None and then.get("train_acc") is not None:
        improving = now["train_acc"] > then["train_acc"]
        training = f"the training accuracy kept rising, from {then['train_acc']:.1%} to {now['train_acc']:.1%}"
    else:
        improving = now.get("train_loss", math.inf) < then.get("train_loss", -math.inf)
        before, after = then.get("train_loss", math.nan), now.get("train_loss", math.nan)
        training = f"the training loss kept falling, from {before:.4g} to {after:.4g}"
    if not improving:
        return []
    evidence = {"best_val_loss": best, "best_epoch": best_epoch, "last_val_loss": last, "last_epoch": last_epoch}
    if now.get("train_acc") is not None and now.get("val_acc") is not None:
        gap = now["train_acc"] - now["val_acc"]
        evidence["accuracy_gap"] = gap
        gap_text = (f"the gap between training and validation accuracy is {100 * gap:.1f} points "
                    f"({now['train_acc']:.1%} against {now['val_acc']:.1%})")
    else:
        gap = last - now.get("train_loss", math.nan)
        evidence["loss_gap"] = gap
        gap_text = f"the validation loss is {gap:.4g} above the training loss"
    message = (f"The network memorises the training set: the validation loss rose from {best:.4g} (epoch {best_epoch}) "
               f"to {last:.4g} (epoch {last_epoch}) while {training}; {gap_text}. help: stop at the best epoch "
               "(EarlyStopping(monitor='val_loss', restore_best_weights=True)), add dropout or weight decay, "
               "augment the data or get more of it.")
    return [Hint("overfitting", message, evidence)]


def _not_learning(records, num_classes):
    """After MIN_EPOCHS epochs: accuracy near chance, or a training loss that barely moved."""
    trained = [record for record in records if record["epoch"] >= 1]
    if len(trained) < MIN_EPOCHS:
        return []
    epochs = trained[-1]["epoch"]
    accuracies = [record[key] for record in trained for key in ("train_acc", "val_acc") if record.get(key) is not None]
    if num_classes and accuracies:
        chance, best = 1 / num_classes, max(accuracies)
        if best < CHANCE_MARGIN * chance:
            return [Hint("not_learning",
                         f"After {epochs} epochs the best accuracy is {best:.1%}, near chance ({chance:.1%}, one in "
                         f"{num_classes}): the network is not learning. {_stuck_help()}",
                         {"best_accuracy": best, "chance": chance, "epochs": epochs})]
    losses = _values(records, "train_loss")
    if not losses:
        return []
    first, last = losses[0][1], losses[-1][1]
    if last > STUCK * first:
        return [Hint("not_learning",
                     f"After {epochs} epochs the training loss went only from {first:.4g} to {last:.4g} "
                     f"({100 * (1 - last / first):.1f}% lower): the network is not learning. {_stuck_help()}",
                     {"first_loss": first, "last_loss": last, "epochs": epochs})]
    return []


def _stuck_help():
    return ("help: check that the labels match the inputs and that the inputs are scaled (about -1..1), "
            "try a larger learning rate, or a larger model.")


# -- the health record -----------------------------------------------------------------------

def _finite(values):
    return [value for value in values if value is not None]


def _layer(health, name):
    return f"{name} ({health['layers'].get(name, '?')})"


def _vanishing(health):
    """The first layer's median gradient norm orders of magnitude below the last layer's."""
    norms = health["gradient_norms"]["norm"]
    layers = [name for name in health["layers"] if _finite(norms.get(name, []))]
    if len(layers) < 2:
        return []
    median = {name: statistics.median(_finite(norms[name])) for name in layers}
    first, last = layers[0], layers[-1]
    if median[last] <= 0 or median[first] >= VANISHING * median[last]:
        return []
    ratio = median[first] / median[last]
    faded = [name for name in layers if median[name] < VANISHING * median[last]]
    message = (f"The gradient fades on its way back: the median gradient norm of the first layer "
               f"{_layer(health, first)} is {median[first]:.2e}, {ratio:.1e} times the last layer's "
               f"{_layer(health, last)} {median[last]:.2e} ({len(faded)} of {len(layers)} layers are below "
               f"{VANISHING:g} times it), so the first layers barely learn. "
               "help: use ReLU instead of sigmoid or tanh, He (Kaiming) initialization, batch normalization "
               "or residual connections.")
    return [Hint("vanishing_gradients", message,
                 {"first_layer": first, "last_layer": last, "first_norm": median[first], "last_norm": median[last],
                  "ratio": ratio, "faded_layers": faded})]


def _exploding(health):
    """A gradient norm that became NaN/infinite, or grew EXPLODING times over its start."""
    record = health["gradient_norms"]
    steps = record["step"]
    worst = None
    for name in health["layers"]:
        norms = record["norm"].get(name, [])
        if None in norms:
            step = steps[norms.index(None)]
            return [Hint("exploding_gradients",
                         f"The gradient of layer {_layer(health, name)} stopped being a finite number at step {step}. "
                         f"{_explode_help()}", {"layer": name, "step": step, "non_finite": True})]
        start = statistics.median(norms[:3]) if norms else 0.0
        if start > 0:
            peak = max(norms)
            growth = peak / start
            if growth > EXPLODING and (worst is None or growth > worst[1]):
                worst = (name, growth, start, peak, steps[norms.index(peak)])
    if worst is None:
        return []
    name, growth, start, peak, step = worst
    return [Hint("exploding_gradients",
                 f"The gradient of layer {_layer(health, name)} grew {growth:.0f} times, from a norm of {start:.3g} "
                 f"in the first steps to {peak:.3g} at step {step}. {_explode_help()}",
                 {"layer": name, "growth": growth, "start_norm": start, "peak_norm": peak, "step": step})]


def _explode_help():
    return "help: clip the gradients (clip_grad_norm=1.0), lower the learning rate, or add normalization layers."


def _dead_units(health):
    """ReLU layers whose share of dead units, at the last recorded epoch, is above DEAD."""
    record = health["activations"]
    hints = []
    for name, fractions in record["dead"].items():
        if not fractions or fractions[-1] is None or fractions[-1] < DEAD:
            continue
        units, epoch = record["units"].get(name), record["epoch"][-1]
        count = f" ({round(fractions[-1] * units)} of {units})" if units else ""
        message = (f"{fractions[-1]:.0%} of the units{count} of ReLU layer {name} output zero for every one of "
                   f"the {record['sample_size']} sample inputs at epoch {epoch}. A dead unit passes no gradient "
                   "back, so it never comes alive again. help: lower the learning rate, use LeakyReLU or GELU, "
                   "or He (Kaiming) initialization, and check the biases.")
        evidence = {"layer": name, "dead_fraction": fractions[-1], "units": units, "epoch": epoch}
        hints.append(Hint("dead_relu_units", message, evidence))
    return hints
