"""Claim ``accuracy-climb``: accuracy climbs from chance.

The text says: about 10% before training (a guess among ten classes), about 90% after one
pass over the data, above 99% for a well-designed network after several passes. Those
figures are MNIST's, the handwritten digits; this experiment measures them on the data
this machine has: the embedded 8x8 digits (always), Fashion-MNIST (photos of clothes, a
harder set: the same networks score several points lower) and MNIST when their files are
present.

Two networks train side by side with Adam: a simple MLP and a well-designed network, the
small CNN (convolutions, batch norm, pooling). A callback (:class:`AccuracyProbe`) scores
each network on a fixed held-out sample before the first step, every few batches of the
first pass, and after every epoch, so the curve starts at chance and shows where the
accuracy is after one pass and after several.

Compute is the limit on two cores: the full run trains on the whole digits set (15
epochs) and on the whole of Fashion-MNIST's 60,000 training images (3 epochs, about two
minutes); where MNIST's files are present too, the two share that budget, 30,000 images
each, and "one pass" is a pass over those. The quick run (for the tests) climbs on the
digits alone, 3 epochs.

The claim holds on a run when, on every data set, every untrained network scores within
10 points of chance, the better network is at least 75% right after one pass (far above
chance; the text says about 90%), and training for several epochs ends higher than one
pass did (on the networks' mean). Whether the text's 90% after one pass and 99% after
several (MNIST's figures) were reached is reported beside it.
"""
import io

import numpy as np

from .. import random as gn_random
from ..data import DataLoader, DataNotFoundError, datasets, load_dataset
from ..models import build
from ..optim import Adam
from ..train import evaluate, fit
from ..train.callbacks import Callback
from . import claims

MODELS = ("mlp", "cnn")  # a simple network and a well-designed one
CHANCE_MARGIN = 0.10  # "at chance": within 10 points of 1 / classes
ONE_PASS = 0.75  # "far above chance after one pass", for the better network
TEXT_FIGURES = {"untrained": 0.10, "one_pass": 0.90, "several": 0.99}
PARTS = ("untrained_at_chance", "far_above_chance_after_one_pass", "several_passes_beat_one")  # of the criterion


# -- measuring the climb -----------------------------------------------------------------------

def checkpoints(steps, count=10):
    """The steps of the first pass at which to score the network: 0 (untrained), then
    ``count`` steps spread geometrically up to ``steps`` (the pass's last step), dense at
    the start where accuracy moves fastest.

    >>> checkpoints(100, count=6)
    [0, 1, 3, 6, 16, 40, 100]
    """
    if steps < 1:
        raise ValueError(f"checkpoints: a pass needs at least one step, got {steps}")
    spread = np.geomspace(1, steps, count).round().astype(int)
    return sorted({0, *spread.tolist(), steps})


class AccuracyProbe(Callback):
    """Scores the model on a fixed held-out ``sample`` (a Dataset) at the steps ``at`` of
    the first epoch (0: before training) and after every epoch.

    After training: ``first_pass`` is a list of ``(step, accuracy)``, ``per_epoch`` a list
    of accuracies for epochs 0 (untrained), 1, 2, ...
    """

    def __init__(self, sample, at):
        self.sample, self.at = sample, set(at)
        self.first_pass, self.per_epoch = [], []

    def _score(self, trainer):
        return evaluate(trainer.model, self.sample)["acc"]

    def on_train_begin(self, trainer):
        untrained = self._score(trainer)
        self.first_pass.append((0, untrained))
        self.per_epoch.append(untrained)

    def on_batch_end(self, trainer, step, logs):
        if logs["epoch"] == 1 and step in self.at:
            self.first_pass.append((step, self._score(trainer)))

    def on_epoch_end(self, trainer, epoch, logs):
        if epoch == 1 and self.first_pass[-1][0] == trainer.global_step:
            self.per_epoch.append(self.first_pass[-1][1])  # scored already, at the pass's last step
        else:
            self.per_epoch.append(self._score(trainer))


def climb(model, train, sample, epochs, batch_size=64, lr=1e-3, seed=0):
    """Train ``model`` (a name of ``glassnet.models``) on ``train`` for ``epochs`` epochs
    with Adam, scoring it on ``sample`` as :class:`AccuracyProbe` does. Returns a dict:
    ``steps`` and ``images`` (seen so far) with ``accuracy`` along the first pass,
    ``per_epoch`` (epoch 0 is the untrained network), and ``untrained``, ``one_pass``,
    ``final`` and ``best`` accuracies."""
    gn_random.seed(seed)
    network = build(model, train.images.shape[1:], len(train.classes))
    loader = DataLoader(train, batch_size=batch_size, shuffle=True, seed=seed)
    probe = AccuracyProbe(sample, checkpoints(len(loader)))
    fit(network, loader, Adam(network.parameters(), lr=lr), epochs=epochs, callbacks=[probe], progress=False,
        out=io.StringIO())
    steps = [step for step, _ in probe.first_pass]
    return {"model": model, "steps": steps, "images": [min(step * batch_size, len(train)) for step in steps],
            "accuracy": [accuracy for _, accuracy in probe.first_pass], "per_epoch": probe.per_epoch,
            "untrained": probe.per_epoch[0], "one_pass": probe.per_epoch[1], "final": probe.per_epoch[-1],
            "best": max(probe.per_epoch)}


# -- the data sets -----------------------------------------------------------------------------

def data_sets(quick=False, budget=60000, sample_size=2000, seed=0):
    """The data sets to climb on, as ``(name, train, held-out sample)``: the digits (all
    1438 training images, the 359 test images as the sample), then, unless ``quick``,
    Fashion-MNIST and MNIST where their files are on this machine (never downloaded), with
    a ``sample_size`` held-out sample each. They share a ``budget`` of training images:
    all 60,000 of Fashion-MNIST when it is alone, 30,000 each when MNIST is there too.

    >>> [name for name, _, _ in data_sets(quick=True)]
    ['digits']
    """
    found = [("digits", load_dataset("digits", "train"), load_dataset("digits", "test"))]
    if quick:
        return found
    large = []
    for name, loader in (("fashion-mnist", datasets.fashion_mnist), ("mnist", datasets.mnist)):
        try:
            large.append((name, loader("train", download=False), loader("test", download=False)))
        except (DataNotFoundError, OSError, ValueError):
            continue
    for name, train, test in large:
        train, test = claims.subset(train, budget // len(large), seed), claims.subset(test, sample_size, seed + 1)
        found.append((name, train, test))
    return found


# -- the verdict -------------------------------------------------------------------------------

def judge(runs, num_classes):
    """Whether the climb held on one data set (``runs``: the :func:`climb` results of its
    networks), by the module's criterion: a dict with each part and ``held``."""
    chance = 1.0 / num_classes
    at_chance = all(abs(run["untrained"] - chance) <= CHANCE_MARGIN for run in runs)
    one_pass = max(run["one_pass"] for run in runs)
    several = max(run["final"] for run in runs)
    # One network's last epoch can dip below its first by a point of noise; the networks'
    # mean says whether the further passes paid.
    further = np.mean([run["final"] for run in runs]) > np.mean([run["one_pass"] for run in runs])
    parts = {"untrained_at_chance": at_chance, "far_above_chance_after_one_pass": one_pass >= ONE_PASS,
             "several_passes_beat_one": bool(further)}
    return {"chance": chance, "best_one_pass": one_pass, "best_after_several": several,
            "reached_99": max(run["best"] for run in runs) > 0.99, **parts, "held": all(parts.values())}


def run(quick=False, seed=0, log=None):
    """Train the MLP and the CNN on each data set (quick: the digits, 3 epochs; full: the
    digits for 15 epochs, Fashion-MNIST and MNIST where present for 3), scoring them along
    the first pass and after each epoch; see the module docstring for the criterion."""
    log = claims.quiet(log)
    results = {}
    for name, train, sample in data_sets(quick, seed=seed):
        epochs = 3 if quick or name != "digits" else 15
        batch_size = 32 if len(train) < 5000 else 64  # a small set still gets a first pass of many steps
        runs = []
        for model in MODELS:
            log(f"{name}: training the {model} for {epochs} epochs on {len(train)} images, scoring it on "
                f"{len(sample)} held-out images along the way")
            runs.append(climb(model, train, sample, epochs, batch_size=batch_size, seed=seed))
            log(f"  {model}: {runs[-1]['untrained']:.1%} untrained, {runs[-1]['one_pass']:.1%} after one pass, "
                f"{runs[-1]['final']:.1%} after {epochs}")
        results[name] = {"train_size": len(train), "sample_size": len(sample), "epochs": epochs,
                         "batch_size": batch_size, "runs": {run["model"]: run for run in runs},
                         **judge(runs, len(train.classes))}
    return _finding(results)


def _story(name, result):
    """One data set's climb in words: untrained, after one pass, after several epochs."""
    runs = result["runs"].values()
    low, high = min(run["untrained"] for run in runs), max(run["untrained"] for run in runs)
    untrained = f"{low:.0%}" if round(low, 2) == round(high, 2) else f"{low:.0%}-{high:.0%}"
    best = max(runs, key=lambda run: run["final"])
    return (f"on {name} ({result['train_size']} training images) from {untrained} to {result['best_one_pass']:.1%} "
            f"after one pass and {best['final']:.1%} ({best['model']}) after {result['epochs']} epochs")


def _finding(results):
    held = all(result["held"] for result in results.values())
    headline_name = list(results)[-1]  # the largest data set that ran: MNIST, else Fashion-MNIST, else digits
    headline = results[headline_name]
    cnn, mlp = headline["runs"]["cnn"], headline["runs"]["mlp"]
    number = (f"{headline_name}, cnn / mlp: {cnn['untrained']:.0%} / {mlp['untrained']:.0%} untrained, "
              f"{cnn['one_pass']:.1%} / {mlp['one_pass']:.1%} after one pass, {cnn['final']:.1%} / "
              f"{mlp['final']:.1%} after {headline['epochs']} epochs")
    parts = [_story(name, result) for name, result in results.items()]
    above_99 = [name for name, result in results.items() if result["reached_99"]]
    ninety_nine = f"99% was passed on {', '.join(above_99)}" if above_99 else "no network passed 99% here"
    if held:
        verdict = (f"accuracy climbed from chance {'; '.join(parts)} (the text, for MNIST: about 10%, then 90% "
                   f"after one pass, above 99% after several; {ninety_nine})")
    else:
        failed = [f"{name}: {', '.join(part.replace('_', ' ') for part in PARTS if not result[part])}"
                  for name, result in results.items() if not result["held"]]
        verdict = "the climb fell short (" + "; ".join(failed) + "): " + "; ".join(parts)
    data = dict(results, text_figures=TEXT_FIGURES, criterion=(
        f"held when, on every data set, every untrained network is within {CHANCE_MARGIN:.0%} of chance, the "
        f"better network reaches {ONE_PASS:.0%} after one pass, and several epochs end higher than one pass"))
    return claims.Finding("accuracy-climb", held, number, verdict, plot(results), data)


# -- the figure --------------------------------------------------------------------------------

def plot(results):
    """Per data set: the climb through the first pass (top) and over the epochs (bottom),
    the MLP and the CNN side by side, with chance and the text's figures drawn in."""
    from ..inspect import plots

    names = list(results)
    fig, axes = plots.figure(5.2 * len(names), 8.4, nrows=2, ncols=len(names), squeeze=False)
    for column, name in enumerate(names):
        result = results[name]
        first, epochs = axes[0][column], axes[1][column]
        for model, run in result["runs"].items():
            first.plot(run["images"], run["accuracy"], "o-", markersize=3, label=model)
            epochs.plot(range(len(run["per_epoch"])), run["per_epoch"], "o-", markersize=4, label=model)
        _references(first, result["chance"], ["one_pass"])
        _references(epochs, result["chance"], ["one_pass", "several"])
        first.set_title(f"{name}: the first pass over {result['train_size']} images")
        # The checkpoints are spread geometrically: a log axis spaces them evenly and shows
        # the fast early climb (linear below one batch, where 0 = untrained sits).
        first.set_xscale("symlog", linthresh=result["batch_size"], linscale=0.5)
        first.set_xlim(0, result["train_size"] * 1.1)
        ticks = [0] + [10 ** k for k in range(2, 6) if result["batch_size"] <= 10 ** k <= result["train_size"]]
        first.set_xticks(ticks, [f"{tick:,}" for tick in ticks])
        first.set_xlabel("training images seen (log scale)")
        epochs.set_title(f"{name}: epoch after epoch")
        epochs.set_xlabel("epochs (0 = untrained)")
        epochs.set_xticks(range(len(result["runs"]["mlp"]["per_epoch"])))
        for axis, corner in ((first, "upper left"), (epochs, "lower right")):  # where the curves are not
            axis.set_ylabel(f"accuracy on {result['sample_size']} held-out images")
            axis.set_ylim(0, 1.02)
            axis.grid(alpha=0.3)
            axis.legend(loc=corner, fontsize=8)
    fig.suptitle("Accuracy climbs from chance: an MLP and a CNN (Adam), scored as they train")
    fig.tight_layout()
    return fig


def _references(axis, chance, figures):
    axis.axhline(chance, color="grey", linestyle="--", linewidth=0.8, label=f"chance ({chance:.0%})")
    for key in figures:
        value, one_pass = TEXT_FIGURES[key], key == "one_pass"
        axis.axhline(value, color="black", linestyle=":" if one_pass else "-.", linewidth=0.8,
                     label=f"the text: {value:.0%} {'after one pass' if one_pass else 'after several'}")
