"""Claim ``bias``: models learn the biases of their data.

A network learns what its training data shows it. When one group is rare in the data, the
network meets it rarely, and the loss, an average over the examples, barely notices how
badly it treats that group: the model ends up good at the common groups and poor at the
rare one, though nothing in its code singles the group out.

The experiment makes one class rare: it keeps only :data:`RARE_FRACTION` of one class's
training images (pullovers of Fashion-MNIST, or the digit 2 of the embedded digits) and
trains the same network four ways, testing each on every class:

- **balanced**: all the training images (the reference);
- **rare**: the rare class cut down to a few images;
- **re-weighted**: the same rare data, with the loss of each image weighted by the inverse
  of its class's frequency (``nn.CrossEntropyLoss(weight=...)``), so that every class
  weighs the same in the loss;
- **re-sampled**: the same rare data, with the rare class's few images repeated until the
  class has as many as an average class (oversampling).

The claim holds here when the rare class's test accuracy in the *rare* run falls at least
:data:`GAP` below its accuracy in the *balanced* run. The verdict also says how much of
that gap each remedy closed: neither can invent the pictures the data lacks.
"""
import io

import numpy as np

from .. import nn
from .. import random as gn_random
from ..data import DataLoader
from ..data.datasets import ImageDataset
from ..models import build
from ..optim import Adam
from ..train import fit, predict
from . import claims

RARE_FRACTION = 0.03  # of the rare class's training images, kept
RARE_CLASS = {"fashion-mnist": 2, "digits": 2}  # pullover; the digit 2
GAP = 0.10  # how far below its balanced accuracy the rare class must fall
RUNS = ("balanced", "rare", "re-weighted", "re-sampled")
COLORS = {"balanced": "C7", "rare": "C3", "re-weighted": "C0", "re-sampled": "C2"}
LEARNING_RATE = 1e-3
BATCH_SIZE = 64

# The settings of the two runs: the same experiment, smaller in quick mode.
FULL = {"train_images": 12000, "epochs": 8}
QUICK = {"train_images": None, "epochs": 10}  # claims.image_data(quick=True): 2000 images, or the digits


def make_rare(dataset, rare_class, fraction=RARE_FRACTION, seed=0):
    """``dataset`` with only ``fraction`` of the images of ``rare_class`` kept (at least
    two), chosen at random under ``seed``; the other classes keep all of theirs.

    >>> from glassnet.data import load_dataset
    >>> rare = make_rare(load_dataset("digits", "train"), 2, 0.1)
    >>> np.bincount(rare.labels).tolist()
    [142, 146, 14, 146, 145, 146, 145, 143, 139, 144]
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"make_rare: fraction must be in (0, 1], got {fraction}")
    labels = np.asarray(dataset.labels)
    if not 0 <= rare_class < len(dataset.classes):
        raise ValueError(f"make_rare: rare_class must be a class of {dataset.name} (0 to "
                         f"{len(dataset.classes) - 1}), got {rare_class}")
    members = np.flatnonzero(labels == rare_class)
    kept = np.random.default_rng(seed).permutation(members)[:max(2, round(fraction * len(members)))]
    keep = np.sort(np.concatenate([np.flatnonzero(labels != rare_class), kept]))
    return _take(dataset, keep)


def inverse_frequency_weights(labels, num_classes):
    """One loss weight per class, proportional to 1 / (the class's share of ``labels``),
    scaled so that the weights of all the examples average 1 (the loss keeps its size).
    A class absent from ``labels`` gets weight 0.

    >>> inverse_frequency_weights(np.array([0, 0, 0, 1]), 2).tolist()
    [0.6666666865348816, 2.0]
    """
    counts = np.bincount(np.asarray(labels), minlength=num_classes).astype(np.float64)
    weights = np.divide(1.0, counts, out=np.zeros_like(counts), where=counts > 0)
    weights *= len(labels) / (weights * counts).sum()
    return weights.astype(np.float32)


def oversample(dataset, seed=0):
    """``dataset`` with the images of every class that has fewer than the average class
    repeated (and topped up at random under ``seed``) until it has the average: the rare
    class appears in the batches as often as a common one, made of the same few images.

    >>> from glassnet.data import load_dataset
    >>> balanced = oversample(make_rare(load_dataset("digits", "train"), 2, 0.1))
    >>> np.bincount(balanced.labels).tolist()
    [142, 146, 131, 146, 145, 146, 145, 143, 139, 144]
    """
    labels = np.asarray(dataset.labels)
    counts = np.bincount(labels, minlength=len(dataset.classes))
    target = int(round(counts[counts > 0].mean()))
    rng = np.random.default_rng(seed)
    extra = []
    for label, count in enumerate(counts):
        if 0 < count < target:
            members = np.flatnonzero(labels == label)
            repeats, rest = divmod(target - count, count)
            extra += [np.tile(members, repeats), rng.choice(members, rest, replace=False)]
    every = np.concatenate([np.arange(len(labels))] + extra)
    return _take(dataset, np.sort(every))


def per_class_accuracy(logits, labels, num_classes):
    """The fraction of each class's test images classified correctly (its recall).

    >>> per_class_accuracy(np.array([[1, 0], [0, 1], [1, 0]]), np.array([0, 1, 1]), 2).tolist()
    [1.0, 0.5]
    """
    labels = np.asarray(labels)
    predictions = np.asarray(logits).argmax(axis=1)
    right = np.bincount(labels[predictions == labels], minlength=num_classes)
    total = np.bincount(labels, minlength=num_classes)
    return right / np.maximum(total, 1)


def train_one(train, test, epochs, seed, class_weights=None):
    """The mlp trained on ``train`` (Adam, batches of 64, the loss weighted per class by
    ``class_weights`` when given); returns its predicted class for every image of ``test``."""
    gn_random.seed(seed)  # every run starts from the same weights
    network = build("mlp", train.images.shape[1:], len(train.classes))
    loss = nn.CrossEntropyLoss(weight=class_weights) if class_weights is not None else None
    loader = DataLoader(train, batch_size=BATCH_SIZE, shuffle=True, seed=seed)
    fit(network, loader, Adam(network.parameters(), lr=LEARNING_RATE), epochs=epochs, loss=loss, progress=False,
        out=io.StringIO())
    return predict(network, test).argmax(axis=1)


def experiment(name, train, test, settings, seed=0, log=None):
    """Train the four runs (:data:`RUNS`) and return ``(rare_class, training counts per
    run, per-class test accuracy per run, what the rare class's test images were taken for
    per run)``: the last maps each run to the count of every predicted class."""
    log = claims.quiet(log)
    if settings["train_images"]:
        train = claims.subset(train, settings["train_images"], seed)
    rare_class = RARE_CLASS.get(name, 2)
    rare = make_rare(train, rare_class, RARE_FRACTION, seed)
    sets = {"balanced": train, "rare": rare, "re-weighted": rare, "re-sampled": oversample(rare, seed)}
    weights = {"re-weighted": inverse_frequency_weights(rare.labels, len(rare.classes))}
    accuracy, counts, taken_for = {}, {}, {}
    of_rare = np.asarray(test.labels) == rare_class
    for run_name in RUNS:
        data = sets[run_name]
        counts[run_name] = np.bincount(data.labels, minlength=len(data.classes)).tolist()
        log(f"bias: training the mlp, {run_name} ({len(data)} images, {counts[run_name][rare_class]} of "
            f"{train.classes[rare_class]!r}, {settings['epochs']} epochs)")
        predictions = train_one(data, test, settings["epochs"], seed, weights.get(run_name))
        accuracy[run_name] = per_class_accuracy(np.eye(len(test.classes))[predictions], test.labels, len(test.classes))
        taken_for[run_name] = np.bincount(predictions[of_rare], minlength=len(test.classes)).tolist()
        log(f"bias:   {train.classes[rare_class]!r} {accuracy[run_name][rare_class]:.1%}, the other classes "
            f"{_others(accuracy[run_name], rare_class):.1%}")
    return rare_class, counts, accuracy, taken_for


def run(quick=False, seed=0, log=None):
    """Train balanced, rare, re-weighted and re-sampled; return the
    :class:`~glassnet.lab.claims.Finding`."""
    settings = QUICK if quick else FULL
    name, train, test = claims.image_data("fashion-mnist", quick=quick)
    rare_class, counts, accuracy, taken_for = experiment(name, train, test, settings, seed, log)
    return _finding(name, train.classes, rare_class, counts, accuracy, taken_for, settings)


def _others(accuracy, rare_class):
    """The mean accuracy of every class but the rare one."""
    return float(np.delete(accuracy, rare_class).mean())


def _finding(name, classes, rare_class, counts, accuracy, taken_for, settings):
    rare_name = classes[rare_class]
    of_rare = {run_name: float(accuracy[run_name][rare_class]) for run_name in RUNS}
    others = {run_name: _others(accuracy[run_name], rare_class) for run_name in RUNS}
    gap = of_rare["balanced"] - of_rare["rare"]
    held = gap >= GAP
    closed = {run_name: (of_rare[run_name] - of_rare["rare"]) / gap if gap > 0 else 0.0
              for run_name in ("re-weighted", "re-sampled")}
    kept = counts["rare"][rare_class]
    number = (f"{rare_name!r}: balanced {of_rare['balanced']:.0%}, rare {of_rare['rare']:.0%}, re-weighted "
              f"{of_rare['re-weighted']:.0%}, re-sampled {of_rare['re-sampled']:.0%}")
    remedies = "; ".join(f"{run_name} brings it to {of_rare[run_name]:.0%} ({_narrowed(closed[run_name])})"
                         for run_name in ("re-weighted", "re-sampled"))
    wrong = np.array(taken_for["rare"])
    wrong[rare_class] = 0
    mistaken_for = classes[int(wrong.argmax())]
    if held:
        verdict = (f"with {kept} training images of {rare_name!r} (from {counts['balanced'][rare_class]}) the "
                   f"network recognizes it {of_rare['rare']:.0%} of the time against {of_rare['balanced']:.0%} "
                   f"when balanced (it calls most of them {mistaken_for!r}), while the other classes keep "
                   f"{others['rare']:.0%}; {remedies}")
    else:
        verdict = (f"with {kept} training images of {rare_name!r} its accuracy fell only from "
                   f"{of_rare['balanced']:.0%} to {of_rare['rare']:.0%}, less than {GAP:.0%}; {remedies}")
    data = {"dataset": name, "classes": list(classes), "rare_class": rare_class, "rare_name": rare_name,
            "rare_fraction": RARE_FRACTION, "train_counts": counts,
            "per_class_accuracy": {run_name: accuracy[run_name].tolist() for run_name in RUNS},
            "rare_accuracy": of_rare, "others_accuracy": others, "gap": gap, "gap_threshold": GAP,
            "gap_closed": closed, "rare_taken_for": taken_for, "mistaken_for": mistaken_for, "settings": dict(settings, learning_rate=LEARNING_RATE, batch_size=BATCH_SIZE,
                                                   model="mlp")}
    return claims.Finding("bias", held, number, verdict, _figure(name, classes, rare_class, accuracy, kept), data)


def _narrowed(fraction):
    if fraction <= 0:
        return "the gap did not narrow"
    if fraction >= 1:
        return "the gap closed"
    return f"{fraction:.0%} of the gap closed"


def _figure(name, classes, rare_class, accuracy, kept):
    from ..inspect import plots

    fig, (bars, summary) = plots.figure(14, 4.8, ncols=2, gridspec_kw={"width_ratios": [3, 1]})
    positions = np.arange(len(classes))
    width = 0.8 / len(RUNS)
    for index, run_name in enumerate(RUNS):
        bars.bar(positions + (index - (len(RUNS) - 1) / 2) * width, 100 * accuracy[run_name], width,
                 color=COLORS[run_name], label=run_name)
    bars.axvspan(rare_class - 0.45, rare_class + 0.45, color="C3", alpha=0.1, zorder=0)
    bars.set_xticks(positions, [f"{c}\n(rare: {kept} images)" if i == rare_class else c
                                for i, c in enumerate(classes)], fontsize=8)
    bars.set(ylabel="test accuracy of the class (%)", ylim=(0, 105),
             title=f"Per-class accuracy on {name}: one class made rare ({RARE_FRACTION:.0%} of its images kept)")
    bars.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    bars.grid(True, axis="y", alpha=0.3)
    rare_scores = [100 * accuracy[run_name][rare_class] for run_name in RUNS]
    other_scores = [100 * _others(accuracy[run_name], rare_class) for run_name in RUNS]
    summary.plot(RUNS, other_scores, "s--", color="grey", label="the other classes (mean)")
    summary.plot(RUNS, rare_scores, "o-", color="C3", label=f"{classes[rare_class]} (the rare class)")
    summary.set(ylabel="test accuracy (%)", ylim=(0, 105), title="The rare class against the rest")
    summary.tick_params(axis="x", labelrotation=30, labelsize=8)
    summary.legend(fontsize=8, loc="lower left")
    summary.grid(True, alpha=0.3)
    return fig


def _take(dataset, indices):
    return ImageDataset(dataset.images[indices], np.asarray(dataset.labels)[indices], dataset.classes,
                        dataset.name, dataset.split)
