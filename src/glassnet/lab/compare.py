"""Deep vs traditional learning: how accuracy grows with the amount of training data.

:func:`compare` trains glassnet's networks (an MLP, a CNN) and three classic
scikit-learn classifiers (logistic regression, a random forest, an RBF support-vector
machine) on training sets of growing size, and scores each on the same test set. The
picture it gives (:func:`plot_compare`) is the classic one: with a few hundred images
the traditional methods hold their own; with tens of thousands the CNN, which knows that
images are made of local patterns, pulls ahead.

From the shell::

    glassnet compare --dataset fashion-mnist --sizes 100,1000,10000,all --out runs/compare
"""
import argparse
import dataclasses
import functools
import io
import json
import math
import os
import time
import warnings

import numpy as np

from .. import random as gn_random
from ..data import DataLoader
from ..data.datasets import ImageDataset
from ..data.registry import DATASETS, load_dataset
from ..extras import require
from ..models import IMAGE_MODELS, build
from ..optim import Adam
from ..train import evaluate, fit

# Only the two functions that draw import glassnet.inspect's plots, and with them matplotlib:
# the cli builds the options of `glassnet compare` from this module, and its other commands
# should not wait for matplotlib to start.

BATCH_SIZE = 64
LEARNING_RATE = 1e-3
MIN_STEPS = 500  # optimizer steps every network gets, whatever the training-set size
MIN_EPOCHS = 3
SVM_LIMIT = 10_000  # above this many images an RBF SVM takes many minutes to train
DEFAULT_SIZES = (100, 300, 1000, 3000, 10000, None)


@dataclasses.dataclass
class Result:
    """One method trained on one training-set size.

    Attributes:
        method: 'mlp', 'cnn' (glassnet networks) or 'logistic', 'forest', 'svm' (scikit-learn).
        kind: 'deep' or 'traditional'.
        train_size: images in the training subset.
        test_size: images in the test set it was scored on.
        test_accuracy: fraction of the test set classified correctly (None if skipped).
        train_seconds: wall time of training alone, without scoring (None if skipped).
        epochs: passes over the training subset (networks only).
        skipped: why the method was not run at this size, or None.
        note: anything worth knowing about the run (e.g. a solver that stopped early).
    """

    method: str
    kind: str
    train_size: int
    test_size: int
    test_accuracy: float | None = None
    train_seconds: float | None = None
    epochs: int | None = None
    skipped: str | None = None
    note: str | None = None


# -- the traditional methods ------------------------------------------------------------

def _logistic(seed):
    LogisticRegression = require("sklearn.linear_model", "the logistic-regression baseline").LogisticRegression
    # lbfgs needs far more than its default 100 iterations on raw pixels; a solver that
    # still stops early is recorded in the row's note, not left as a warning.
    return LogisticRegression(max_iter=1000, random_state=seed)


def _forest(seed):
    RandomForestClassifier = require("sklearn.ensemble", "the random-forest baseline").RandomForestClassifier
    return RandomForestClassifier(n_estimators=100, n_jobs=1, random_state=seed)


def _svm(seed):
    SVC = require("sklearn.svm", "the support-vector baseline").SVC
    return SVC(kernel="rbf", gamma="scale", random_state=seed)


BASELINES = {"logistic": _logistic, "forest": _forest, "svm": _svm}


# -- choosing the data -------------------------------------------------------------------

def training_subset(total, size, seed=0):
    """Indices of the ``size`` training images to use, out of ``total``.

    They are the first ``size`` of one permutation fixed by ``seed``, so every method
    sees the same images, and each smaller subset lies inside every bigger one (a
    learning curve then measures more data, not different data).

    >>> training_subset(10, 3, seed=0).tolist() == training_subset(10, 5, seed=0)[:3].tolist()
    True
    """
    if size > total:
        raise ValueError(f"training size {size} is larger than the training set ({total} images); "
                         "help: use a smaller size, or None ('all') for the whole set")
    return np.random.default_rng(seed).permutation(total)[:size]


def epochs_for(train_size, batch_size=BATCH_SIZE, min_steps=MIN_STEPS, min_epochs=MIN_EPOCHS):
    """Epochs for a network trained on ``train_size`` images: enough for ``min_steps``
    optimizer steps, and at least ``min_epochs``.

    A small set gives few steps per epoch, so it gets many epochs; otherwise a network
    on 100 images would stop after a handful of steps and look worse than it is.

    >>> epochs_for(100), epochs_for(1000), epochs_for(60000)
    (250, 32, 3)
    """
    steps_per_epoch = math.ceil(train_size / batch_size)
    return max(min_epochs, math.ceil(min_steps / steps_per_epoch))


def _subset(dataset, indices):
    return ImageDataset(dataset.images[indices], dataset.labels[indices], dataset.classes, dataset.name, dataset.split)


# -- training and scoring one method -----------------------------------------------------

def run_method(method, train, test, epochs=None, seed=0):
    """Train ``method`` on the ImageDataset ``train`` and score it on ``test``.

    Returns a :class:`Result`. Networks train with Adam (lr 1e-3, batches of 64) for
    ``epochs`` (default :func:`epochs_for`); scikit-learn methods see each image as a
    flat vector of pixels in [0, 1].
    """
    if method in IMAGE_MODELS:
        return _run_network(method, train, test, epochs or epochs_for(len(train)), seed)
    return _run_baseline(method, train, test, seed)


def _run_network(name, train, test, epochs, seed):
    gn_random.seed(seed)  # the same initial weights and dropout masks for every size
    model = build(name, train.images.shape[1:], len(train.classes))
    loader = DataLoader(train, batch_size=BATCH_SIZE, shuffle=True, seed=seed)
    start = time.perf_counter()
    # The per-epoch table would drown the one line per method that compare prints.
    fit(model, loader, Adam(model.parameters(), lr=LEARNING_RATE), epochs=epochs, progress=False, out=io.StringIO())
    seconds = time.perf_counter() - start
    accuracy = evaluate(model, test)["acc"]
    return Result(name, "deep", len(train), len(test), accuracy, seconds, epochs=epochs)


def _run_baseline(name, train, test, seed):
    ConvergenceWarning = require("sklearn.exceptions", "the traditional baselines").ConvergenceWarning
    estimator = BASELINES[name](seed)
    flat_train = train.images.reshape(len(train), -1)
    flat_test = test.images.reshape(len(test), -1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(flat_train, train.labels)
        seconds = time.perf_counter() - start
    note = None
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        note = f"solver stopped at max_iter={estimator.max_iter} before converging"
    accuracy = float((estimator.predict(flat_test) == test.labels).mean())
    return Result(name, "traditional", len(train), len(test), accuracy, seconds, note=note)


# -- the whole comparison ----------------------------------------------------------------

def _check_names(names, valid, what):
    for name in names:
        if name not in valid:
            raise ValueError(f"unknown {what} {name!r}; choose from: {', '.join(sorted(valid))}")


def compare(dataset="fashion-mnist", sizes=DEFAULT_SIZES, models=("mlp", "cnn"),
            baselines=("logistic", "forest", "svm"), epochs=None, seed=0, data_root=None, test_size=None,
            svm_limit=SVM_LIMIT, progress=print):
    """Train every method on every training-set size and score it on one test set.

    Args:
        dataset: 'digits', 'mnist' or 'fashion-mnist'.
        sizes: training-set sizes; ``None`` means the whole training set.
        models: glassnet image models, e.g. 'mlp', 'cnn' (any of ``glassnet.models.IMAGE_MODELS``).
        baselines: scikit-learn methods: 'logistic', 'forest', 'svm'.
        epochs: epochs for the networks at every size; by default :func:`epochs_for`
            chooses them per size so that each network takes at least 500 optimizer steps
            (at least 3 epochs): many epochs on small sets, 3 on large ones.
        seed: fixes the training subsets (the same for every method, see
            :func:`training_subset`), the test subset, initial weights and shuffling.
        test_size: score on a random subset of this many test images (default: all).
        svm_limit: the RBF SVM is skipped above this many images (its training time grows
            between the square and the cube of the size); the row says so.
        progress: called with one line per method and size (``None`` for silence).

    Returns a list of :class:`Result`, sizes in increasing order.
    """
    _check_names([dataset], DATASETS, "dataset")
    _check_names(models, IMAGE_MODELS, "model")
    _check_names(baselines, BASELINES, "baseline")
    if not models and not baselines:
        raise ValueError("nothing to compare: give at least one model or baseline")
    train, test = load_dataset(dataset, "train", data_root), load_dataset(dataset, "test", data_root)
    if test_size is not None:
        if not 0 < test_size <= len(test):
            raise ValueError(f"test_size must be between 1 and the {len(test)} test images, got {test_size}")
        test = _subset(test, training_subset(len(test), test_size, seed + 1))
    resolved = sorted({len(train) if size is None else int(size) for size in sizes})
    if resolved and resolved[0] < 1:
        raise ValueError(f"training sizes must be positive, got {resolved[0]}")
    subsets = {size: training_subset(len(train), size, seed) for size in resolved}  # checks every size first

    progress = progress or (lambda line: None)
    methods = list(models) + list(baselines)
    results = []
    for size in resolved:
        subset = _subset(train, subsets[size])
        for method in methods:
            if method == "svm" and size > svm_limit:
                row = Result(method, "traditional", size, len(test),
                             skipped=f"RBF SVM not trained above {svm_limit} images: its cost grows as n^2 to n^3")
            else:
                row = run_method(method, subset, test, epochs, seed)
            results.append(row)
            progress(_progress_line(row, len(results), len(resolved) * len(methods)))
    return results


def _progress_line(row, done, total):
    head = f"[{done:>{len(str(total))}}/{total}] {row.method:<8} n={row.train_size:<6}"
    if row.skipped:
        return f"{head} skipped: {row.skipped}"
    epochs = f"  ({row.epochs} epochs)" if row.epochs else ""
    note = f"  [{row.note}]" if row.note else ""
    return f"{head} test accuracy {row.test_accuracy:.2%}  trained in {_seconds(row.train_seconds)} s{epochs}{note}"


def _seconds(value):
    return f"{value:.2f}" if value < 10 else f"{value:.0f}"


# -- showing the results -----------------------------------------------------------------

COLORS = {"mlp": "C0", "cnn": "C1", "logistic": "C2", "forest": "C3", "svm": "C4"}


def _methods(rows):
    return list(dict.fromkeys(row.method for row in rows))


def format_table(rows):
    """Two plain-text tables, methods down and training sizes across: test accuracy,
    then seconds to train; notes and skipped runs are listed below."""
    sizes = sorted({row.train_size for row in rows})
    cell = {(row.method, row.train_size): row for row in rows}
    width = max(8, *(len(f"{size:,}") + 1 for size in sizes))
    header = f"{'method':<10}" + "".join(f"{size:>{width},}" for size in sizes)
    lines = []
    for title, value in (("test accuracy", lambda r: f"{r.test_accuracy:.2%}"),
                         ("seconds to train", lambda r: _seconds(r.train_seconds))):
        lines += [f"{title}, by training-set size:", header]
        for method in _methods(rows):
            texts = []
            for size in sizes:
                row = cell.get((method, size))
                texts.append(value(row) if row and not row.skipped else "-")
            lines.append(f"{method:<10}" + "".join(f"{text:>{width}}" for text in texts))
        lines.append("")
    for row in rows:
        if row.skipped or row.note:
            lines.append(f"{row.method} at {row.train_size:,}: {row.skipped or row.note}")
    return "\n".join(lines).rstrip()


def plot_compare(rows, title=None):
    """Test accuracy (left) and seconds to train (right) against the training-set size,
    both on log-scaled axes: one line per method, networks solid, traditional methods
    dashed. Skipped runs leave a gap, and the legend says where. Returns the figure."""
    from ..inspect import plots

    ticker = require("matplotlib.ticker", "drawing the comparison")
    fig, (accuracy_axis, time_axis) = plots.figure(12, 4.5, ncols=2)
    for method in _methods(rows):
        ran = [row for row in rows if row.method == method and not row.skipped]
        skipped = [row.train_size for row in rows if row.method == method and row.skipped]
        label = method + (f" (not run at n ≥ {min(skipped):,})" if skipped else "")
        style = "-" if ran and ran[0].kind == "deep" else "--"
        line = {"marker": "o", "color": COLORS.get(method), "label": label}  # a method keeps its colour in every figure
        ran_sizes = [row.train_size for row in ran]
        accuracy_axis.plot(ran_sizes, [100 * row.test_accuracy for row in ran], style, **line)
        time_axis.plot(ran_sizes, [row.train_seconds for row in ran], style, **line)
    sizes = sorted({row.train_size for row in rows})
    accuracy_axis.set(xscale="log", xlabel="training images", ylabel="test accuracy (%)",
                      title="Test accuracy by training-set size")
    time_axis.set(xscale="log", yscale="log", xlabel="training images", ylabel="seconds to train",
                  title="Time to train")
    for axis in (accuracy_axis, time_axis):
        # Tick the sizes that were run, written out (1,000 rather than 10^3).
        axis.set_xticks(sizes, [f"{size:,}" for size in sizes], minor=False)
        axis.xaxis.set_minor_locator(ticker.NullLocator())
        axis.grid(True, which="major", alpha=0.3)
        axis.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def to_json(rows, **settings):
    """The rows and the settings that produced them, as a JSON string."""
    return json.dumps({**settings, "results": [dataclasses.asdict(row) for row in rows]}, indent=1)


# -- the command line --------------------------------------------------------------------

def _size_list(text):
    """'100,300,all' -> [100, 300, None] (for argparse)."""
    sizes = []
    for part in text.split(","):
        part = part.strip().lower()
        if part in ("all", "none"):
            sizes.append(None)
        elif part.isdigit() and int(part) > 0:
            sizes.append(int(part))
        else:
            raise argparse.ArgumentTypeError(f"{part!r} is not a training size: give positive whole numbers or 'all'")
    return sizes


def _name_list(text):
    return [name.strip() for name in text.split(",") if name.strip()]


def add_compare_arguments(parser):
    """Add the options of ``glassnet compare`` to an argparse parser."""
    parser.add_argument("--dataset", default="fashion-mnist", help="digits, mnist or fashion-mnist")
    parser.add_argument("--sizes", type=_size_list, default=list(DEFAULT_SIZES),
                        help="training-set sizes, comma-separated, 'all' for the whole set "
                             "(default: 100,300,1000,3000,10000,all)")
    parser.add_argument("--models", type=_name_list, default=["mlp", "cnn"],
                        help="glassnet networks (default: mlp,cnn)")
    parser.add_argument("--baselines", type=_name_list, default=list(BASELINES),
                        help="scikit-learn methods: logistic, forest, svm ('' for none)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs for every size (default: enough for 500 steps, at least 3)")
    parser.add_argument("--test-size", type=int, default=None, help="score on this many test images (default: all)")
    parser.add_argument("--svm-limit", type=int, default=SVM_LIMIT, help="skip the SVM above this many training images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-root", default=None, help="folder with the IDX files of mnist / fashion-mnist")
    parser.add_argument("--out", default="runs/compare", help="folder for compare.png and compare.json")
    return parser


def compare_command(args):
    """``glassnet compare``: run :func:`compare`, print the table, write compare.png and compare.json."""
    from ..inspect import plots

    rows = compare(args.dataset, args.sizes, args.models, args.baselines, epochs=args.epochs, seed=args.seed,
                   data_root=args.data_root, test_size=args.test_size, svm_limit=args.svm_limit,
                   progress=functools.partial(print, flush=True))
    print()
    print(format_table(rows))
    os.makedirs(args.out, exist_ok=True)
    png = plots.save(plot_compare(rows, title=f"Deep vs traditional learning on {args.dataset}"),
                     os.path.join(args.out, "compare.png"))
    settings = {"dataset": args.dataset, "seed": args.seed, "test_size": args.test_size, "epochs": args.epochs,
                "batch_size": BATCH_SIZE, "learning_rate": LEARNING_RATE, "svm_limit": args.svm_limit}
    json_path = os.path.join(args.out, "compare.json")
    with open(json_path, "w") as stream:
        stream.write(to_json(rows, **settings) + "\n")
    print(f"\nwrote {png} and {json_path}")
    return 0
