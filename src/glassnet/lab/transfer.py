"""Claim ``transfer``: transfer learning needs less data.

A network trained on one task has learned features (strokes, edges, textures, shapes) that
serve related tasks too. *Transfer learning* keeps them: take the trained network, replace
its last layer (the *head*, which names the old classes) by a new one for the new classes,
and train it on the new task's few examples (*fine-tuning*). The alternative is training
the same network from random weights on the same few examples.

The experiment splits one data set in two. The CNN is pretrained on classes 0-4 (T-shirt,
trouser, pullover, dress, coat of Fashion-MNIST; the digits 0-4 in quick mode, or where
Fashion-MNIST is absent). Then, for k = 1, 5, 10, 50 examples of each of classes 5-9
(sandal, shirt, sneaker, bag, ankle boot; or the digits 5-9), the pretrained network with a
new head and a network from random weights each train the same number of steps on the same
k * 5 images, and both are tested on every test image of classes 5-9. Each k is drawn
several times and the accuracies averaged.

The claim holds here when fine-tuning beats training from scratch by at least
:data:`MARGIN` at 5 examples per class.

Transfer pays when the pretraining taught features that the new task needs and cannot
learn from its few examples alone. A small network pretrained for a minute on five
classes has learned little that random filters and a few examples of the new classes do
not give too; whether it was enough here is what the run reports.
"""
import copy
import io

import numpy as np

from .. import nn
from .. import random as gn_random
from ..data import DataLoader
from ..data.datasets import ImageDataset
from ..models import build
from ..optim import Adam
from ..train import evaluate, fit
from . import claims

OLD_CLASSES = (0, 1, 2, 3, 4)  # pretrained on these
NEW_CLASSES = (5, 6, 7, 8, 9)  # then fine-tuned on a few examples of these
MARGIN = 0.05  # how much better fine-tuning must do at 5 examples per class
LEARNING_RATE = 1e-3
BATCH_SIZE = 32
CNN = {"channels": (16, 32), "hidden": 64}  # glassnet's cnn, narrowed: 24 trainings must fit in minutes

# The settings of the two runs: the same experiment, smaller in quick mode.
FULL = {"shots": (1, 5, 10, 50), "draws": 5, "pretrain_images": 12000, "pretrain_epochs": 2, "steps": 60}
QUICK = {"shots": (1, 5, 10), "draws": 3, "pretrain_images": None, "pretrain_epochs": 8, "steps": 40}


def classes_of(dataset, classes):
    """The images of ``dataset`` whose label is in ``classes``, relabelled 0, 1, ... in the
    order of ``classes`` (so a network for them has ``len(classes)`` outputs).

    >>> from glassnet.data import load_dataset
    >>> new = classes_of(load_dataset("digits", "test"), (5, 6))
    >>> new.classes, sorted(set(new.labels.tolist()))
    (['5', '6'], [0, 1])
    """
    labels = np.asarray(dataset.labels)
    missing = [c for c in classes if not 0 <= c < len(dataset.classes)]
    if missing:
        raise ValueError(f"classes_of: {dataset.name} has classes 0 to {len(dataset.classes) - 1}, got {missing}")
    keep = np.isin(labels, classes)
    relabel = np.zeros(len(dataset.classes), dtype=np.int64)
    relabel[list(classes)] = np.arange(len(classes))
    return ImageDataset(dataset.images[keep], relabel[labels[keep]], [dataset.classes[c] for c in classes],
                        dataset.name, dataset.split)


def per_class(dataset, shots, seed=0):
    """``shots`` images of every class of ``dataset``, drawn at random under ``seed`` (a
    class with fewer gives all it has).

    >>> from glassnet.data import load_dataset
    >>> few = per_class(load_dataset("digits", "train"), 3, seed=0)
    >>> len(few), np.bincount(few.labels).tolist()
    (30, [3, 3, 3, 3, 3, 3, 3, 3, 3, 3])
    """
    if shots < 1:
        raise ValueError(f"per_class: shots must be at least 1 example per class, got {shots}")
    rng = np.random.default_rng(seed)
    labels = np.asarray(dataset.labels)
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:shots] for c in range(len(dataset.classes))]
    chosen = np.sort(np.concatenate(chosen))
    return ImageDataset(dataset.images[chosen], labels[chosen], dataset.classes, dataset.name, dataset.split)


def with_new_head(network, num_classes):
    """A copy of a ``Sequential`` network whose last layer (a Linear) is replaced by a new,
    randomly initialized Linear with ``num_classes`` outputs; the other layers keep their
    trained weights (the copy shares nothing with ``network``, which stays as it was)."""
    head = network[-1] if isinstance(network, nn.Sequential) and len(network) else None
    if not isinstance(head, nn.Linear):
        raise TypeError(f"with_new_head: expects a Sequential whose last layer is a Linear, got "
                        f"{type(head).__name__ if head is not None else type(network).__name__}")
    copied = copy.deepcopy(network)
    copied.add_module(str(len(copied) - 1), nn.Linear(head.in_features, num_classes))
    return copied


def train_steps(network, train, steps, seed=0):
    """Train ``network`` for ``steps`` optimizer steps on ``train`` (Adam, batches of
    :data:`BATCH_SIZE`, or the whole set when it is smaller), whatever the set's size: a
    tiny set is seen many times, so every run gets the same budget."""
    batch = min(BATCH_SIZE, len(train))
    loader = DataLoader(train, batch_size=batch, shuffle=True, seed=seed)
    epochs = -(-steps // len(loader))
    fit(network, _Limited(loader, steps), Adam(network.parameters(), lr=LEARNING_RATE), epochs=epochs,
        progress=False, out=io.StringIO())
    return network


class _Limited:
    """A loader that stops after ``steps`` batches in all, over its epochs."""

    def __init__(self, loader, steps):
        self.loader, self.left = loader, steps

    def __iter__(self):
        for batch in self.loader:
            if self.left <= 0:
                return
            self.left -= 1
            yield batch


def pretrain(train, test, settings, seed, log):
    """The CNN trained on the old classes; returns it and its test accuracy on them."""
    old_train, old_test = classes_of(train, OLD_CLASSES), classes_of(test, OLD_CLASSES)
    if settings["pretrain_images"]:
        old_train = claims.subset(old_train, settings["pretrain_images"], seed)
    log(f"transfer: pretraining the cnn on classes {', '.join(old_train.classes)} ({len(old_train)} images, "
        f"{settings['pretrain_epochs']} epochs)")
    gn_random.seed(seed)
    network = build("cnn", train.images.shape[1:], len(OLD_CLASSES), **CNN)
    loader = DataLoader(old_train, batch_size=64, shuffle=True, seed=seed)
    fit(network, loader, Adam(network.parameters(), lr=LEARNING_RATE), epochs=settings["pretrain_epochs"],
        progress=False, out=io.StringIO())
    accuracy = evaluate(network, old_test)["acc"]
    log(f"transfer:   test accuracy on the old classes {accuracy:.1%}")
    return network, accuracy


def compare_at(pretrained, new_train, new_test, shots, draws, steps, seed, log):
    """Fine-tuned and from-scratch test accuracies at ``shots`` examples per new class,
    one of each per draw: ``{'fine_tuned': [...], 'scratch': [...]}``."""
    scores = {"fine_tuned": [], "scratch": []}
    for draw in range(draws):
        few = per_class(new_train, shots, seed=seed + 1000 * shots + draw)
        gn_random.seed(seed + draw)  # the new head and the scratch network: random, reproducible
        tuned = train_steps(with_new_head(pretrained, len(NEW_CLASSES)), few, steps, seed + draw)
        scratch = train_steps(build("cnn", few.images.shape[1:], len(NEW_CLASSES), **CNN), few, steps, seed + draw)
        scores["fine_tuned"].append(evaluate(tuned, new_test)["acc"])
        scores["scratch"].append(evaluate(scratch, new_test)["acc"])
    log(f"transfer: {shots:>3} per class ({draws} draws): fine-tuned {np.mean(scores['fine_tuned']):.1%}, "
        f"from scratch {np.mean(scores['scratch']):.1%}")
    return scores


def run(quick=False, seed=0, log=None):
    """Pretrain, then fine-tune and train from scratch at every number of examples per
    class; return the :class:`~glassnet.lab.claims.Finding`."""
    log = claims.quiet(log)
    settings = QUICK if quick else FULL
    name, train, test = claims.image_data("digits" if quick else "fashion-mnist")
    pretrained, old_accuracy = pretrain(train, test, settings, seed, log)
    new_train, new_test = classes_of(train, NEW_CLASSES), classes_of(test, NEW_CLASSES)
    results = {shots: compare_at(pretrained, new_train, new_test, shots, settings["draws"], settings["steps"], seed,
                                 log) for shots in settings["shots"]}
    old_names = [train.classes[c] for c in OLD_CLASSES]
    return _finding(name, results, old_accuracy, old_names, new_train, new_test, settings)


def _finding(name, results, old_accuracy, old_names, new_train, new_test, settings):
    shots = list(results)
    tuned = [float(np.mean(results[k]["fine_tuned"])) for k in shots]
    scratch = [float(np.mean(results[k]["scratch"])) for k in shots]
    at_five = shots.index(5)
    gap = tuned[at_five] - scratch[at_five]
    held = gap >= MARGIN
    number = f"at 5 per class: fine-tuned {tuned[at_five]:.0%}, from scratch {scratch[at_five]:.0%}"
    matched = [k for k, score in zip(shots, scratch) if score >= tuned[at_five]]
    needs = (f"from scratch needs {matched[0]} per class to match that" if matched
             else f"from scratch does not match that even with {shots[-1]} per class")
    if held:
        verdict = (f"with 5 examples of each new class the pretrained network, given a new head, reaches "
                   f"{tuned[at_five]:.0%} against {scratch[at_five]:.0%} from scratch; {needs}")
    else:
        curves = ", ".join(f"{k}: {a:.0%} against {b:.0%}" for k, a, b in zip(shots, tuned, scratch))
        verdict = (f"fine-tuning the pretrained network did not beat training from scratch by {MARGIN:.0%} at 5 "
                   f"examples per class (fine-tuned against scratch, per class: {curves})")
    data = {"dataset": name, "old_classes": old_names, "new_classes": list(new_train.classes), "shots": shots, "fine_tuned": tuned, "scratch": scratch,
            "draws": {k: results[k] for k in shots}, "pretrained_accuracy_on_old_classes": old_accuracy,
            "test_images": len(new_test), "chance": 1 / len(NEW_CLASSES), "margin": MARGIN,
            "settings": dict(settings, shots=shots, learning_rate=LEARNING_RATE, batch_size=BATCH_SIZE)}
    return claims.Finding("transfer", held, number, verdict, _figure(name, results, old_names, new_train), data)


def _figure(name, results, old_names, new_train):
    from ..inspect import plots

    fig, axis = plots.figure(7, 4.5)
    shots = list(results)
    for key, label, color in (("fine_tuned", f"pretrained on {', '.join(old_names)}; new head, fine-tuned", "C0"),
                              ("scratch", "from random weights", "C3")):
        runs = np.array([results[k][key] for k in shots]) * 100
        axis.errorbar(shots, runs.mean(axis=1), yerr=runs.std(axis=1), fmt="o-", capsize=3, color=color, label=label)
    axis.axhline(100 / len(NEW_CLASSES), color="grey", linestyle=":", label="chance")
    axis.set_xscale("log")
    axis.set_xticks(shots, [str(k) for k in shots])
    axis.set(xlabel=f"training examples per new class ({', '.join(new_train.classes)})",
             ylabel="test accuracy on the new classes (%)", ylim=(0, 100),
             title=f"Transfer learning on {name}: accuracy against examples per class\n(the mean of "
                   f"{len(results[shots[0]]['scratch'])} draws of the examples; bars: their standard deviation)")
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8, loc="lower right")
    return fig
