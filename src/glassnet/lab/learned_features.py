"""Claim: learned features beat hand-made ones.

Before deep learning, a vision system was a pipeline someone designed: first turn the
image into features chosen by hand, then fit a simple classifier on them. The classic
pipeline is a histogram of oriented gradients (HOG, Dalal and Triggs, 2005): cut the
image into small cells, and in each cell count how much of the brightness changes along
each of 9 directions (normalised over blocks of 2x2 cells, so lighting matters less);
then a linear support-vector machine draws straight cuts between the classes in that
space. A CNN learns its features from the pixels instead: its filters are whatever
separates the classes.

Both are trained on the same training images and scored on the same test images, at one
training-set size in the quick run (the whole quick set, with the lab's shared cnn from
:func:`claims.trained`) and at a few in the full run (a cnn trained at each size). The
claim holds here when the cnn is more accurate than HOG + SVM at the largest size.

HOG comes from scikit-image (``skimage.feature.hog``) and the SVM from scikit-learn
(``sklearn.svm.LinearSVC``): ``pip install 'glassnet[lab]'``.
"""
import io
import math

import numpy as np

from .. import random as gn_random
from ..data import DataLoader
from ..extras import require
from ..models import build
from ..optim import Adam
from ..train import evaluate, fit
from . import claims

ORIENTATIONS = 9  # HOG's usual: directions 20 degrees apart (gradients, not signs: 0-180)
BLOCK = 2  # cells per block side, over which the histograms are normalised together
SIZES = (1000, 4000)  # training-set sizes of the full run
FULL_TEST = 2000  # test images of the full run (HOG and the SVM cost time per image)
MIN_STEPS = 200  # optimizer steps every cnn of the full run takes, at least (fewer leave it short of its best)
BATCH_SIZE, LEARNING_RATE = 64, 1e-3  # the recipe of claims.trained


def _skimage_feature():
    return require("skimage.feature", "the hand-made features of the learned-features claim", extra="lab")


def cell_size(height):
    """The side of a HOG cell for images ``height`` pixels high: about a seventh of the
    image (4 pixels on 28x28, the usual 8 on 56x56), but at least 2, since a cell of one
    pixel has one gradient and no histogram (on the 8x8 digits: 2x2 cells).

    >>> cell_size(28), cell_size(8), cell_size(32)
    (4, 2, 4)
    """
    if height < 2 * BLOCK:
        raise ValueError(f"cell_size: images of {height} pixels are too small for HOG's blocks of {BLOCK}x{BLOCK} "
                         f"cells of at least 2 pixels")
    return max(2, height // 7)


def hog_features(images, cell=None):
    """The HOG features of every image: 9 orientations per ``cell`` x ``cell`` cell,
    blocks of 2x2 cells (L2-Hys normalised), one flat vector per image.

    Shape: images (N, C, H, W) in [0, 1] -> (N, features) float32; ``cell`` defaults to
    :func:`cell_size` of the image height.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"hog_features: expected images (N, C, H, W), got shape {images.shape}")
    hog = _skimage_feature().hog
    cell = cell or cell_size(images.shape[2])
    options = dict(orientations=ORIENTATIONS, pixels_per_cell=(cell, cell), cells_per_block=(BLOCK, BLOCK),
                   block_norm="L2-Hys")
    if images.shape[1] == 1:
        rows = [hog(image[0], **options) for image in images]
    else:  # colour: each pixel's strongest channel gradient, as skimage does with channel_axis
        rows = [hog(image.transpose(1, 2, 0), channel_axis=-1, **options) for image in images]
    return np.asarray(rows, dtype=np.float32)


def cell_histograms(image, cell=None):
    """What HOG sees in one image (C, H, W): each cell's histogram of gradient
    directions, after the block normalisation (a cell lies in up to four blocks; its
    histograms there are averaged). These are the numbers the SVM is given, per cell.

    Shape: (H // cell, W // cell, orientations); bin b holds the gradients pointing
    about (b + 0.5) * 180 / orientations degrees from the horizontal.
    """
    image = np.asarray(image, dtype=np.float64)
    cell = cell or cell_size(image.shape[1])
    blocks = _skimage_feature().hog(image.mean(axis=0), orientations=ORIENTATIONS, pixels_per_cell=(cell, cell),
                                    cells_per_block=(BLOCK, BLOCK), block_norm="L2-Hys", feature_vector=False)
    rows, columns = blocks.shape[0] + BLOCK - 1, blocks.shape[1] + BLOCK - 1
    total, count = np.zeros((rows, columns, ORIENTATIONS)), np.zeros((rows, columns, 1))
    for row in range(BLOCK):
        for column in range(BLOCK):
            total[row:row + blocks.shape[0], column:column + blocks.shape[1]] += blocks[:, :, row, column]
            count[row:row + blocks.shape[0], column:column + blocks.shape[1]] += 1
    return total / count


def draw_hog(axis, histograms, cell):
    """Draw :func:`cell_histograms` on a matplotlib axis, over an image of the same size:
    in each cell one line per direction, along the edge (across its gradient), as opaque
    as the histogram is high, the way HOG is usually pictured."""
    LineCollection = require("matplotlib.collections", "drawing HOG", extra="lab").LineCollection
    angles = (np.arange(ORIENTATIONS) + 0.5) * np.pi / ORIENTATIONS
    # a gradient at angle a (row sin a, column cos a) lies across an edge along (row cos a, column -sin a)
    along_rows, along_columns = np.cos(angles), -np.sin(angles)
    half = 0.45 * cell
    peak = histograms.max() or 1.0
    segments, colours = [], []
    for (row, column), histogram in np.ndenumerate(histograms[..., 0]):
        centre_row, centre_column = (row + 0.5) * cell - 0.5, (column + 0.5) * cell - 0.5
        for direction, value in enumerate(histograms[row, column]):
            step_row, step_column = half * along_rows[direction], half * along_columns[direction]
            segments.append([(centre_column - step_column, centre_row - step_row),
                             (centre_column + step_column, centre_row + step_row)])
            colours.append((1.0, 0.85, 0.2, min(1.0, value / peak)))
    axis.add_collection(LineCollection(segments, colors=colours, linewidths=1.6))


def hog_svm_accuracy(train_features, train_labels, test_features, test_labels, seed=0):
    """Fit a linear SVM (scikit-learn's LinearSVC, C = 1) on the training features and
    return its accuracy on the test features."""
    LinearSVC = require("sklearn.svm", "the linear SVM of the learned-features claim", extra="lab").LinearSVC
    svm = LinearSVC(C=1.0, dual="auto", max_iter=5000, random_state=seed)
    svm.fit(train_features, train_labels)
    return float((svm.predict(test_features) == np.asarray(test_labels)).mean())


def epochs_for(size, batch_size=BATCH_SIZE, min_steps=MIN_STEPS):
    """Epochs for a cnn on ``size`` images: at least two, and at least ``min_steps``
    optimizer steps (a small set gets more epochs, so its cnn is not simply stopped early).

    >>> epochs_for(1000), epochs_for(4000)
    (13, 4)
    """
    return max(2, math.ceil(min_steps / math.ceil(size / batch_size)))


def _train_cnn(train, test, seed):
    """A cnn trained on ``train`` with claims.trained's recipe (Adam 1e-3, batches of 64);
    returns (its test accuracy, epochs)."""
    gn_random.seed(seed)
    network = build("cnn", train.images.shape[1:], len(train.classes))
    epochs = epochs_for(len(train))
    loader = DataLoader(train, batch_size=BATCH_SIZE, shuffle=True, seed=seed)
    fit(network, loader, Adam(network.parameters(), lr=LEARNING_RATE), epochs=epochs, progress=False,
        out=io.StringIO())
    return evaluate(network, test)["acc"], epochs


def _training_order(count, quick, seed):
    """Of ``count`` training images, the ones to use, in order, and the sizes to compare: the whole (quick)
    set, or the :data:`SIZES` that fit (and the whole set, if one does not). Each size
    takes the first n images of one permutation, so each subset lies inside the next
    (more data, not other data).

    >>> [_training_order(count, False, 0)[1] for count in (60000, 1438)]
    [[1000, 4000], [1000, 1438]]
    """
    if quick:
        return np.arange(count), [count]
    sizes = [size for size in SIZES if size < count]
    if len(sizes) < len(SIZES):  # a small data set (the digits): all of it is the largest size
        sizes.append(count)
    return np.random.default_rng(seed).permutation(count)[:sizes[-1]], sizes


def _take(dataset, indices):
    from ..data.datasets import ImageDataset

    return ImageDataset(dataset.images[indices], np.asarray(dataset.labels)[indices], dataset.classes)


def run(quick=False, seed=0, log=None):
    """HOG + a linear SVM against the cnn, on the same images. See the module's docstring."""
    log = claims.quiet(log)
    if quick:
        log("training the cnn (claims.trained: 2 epochs on the quick set, shared with other claims)")
        _, data_name, train, test, history = claims.trained("cnn", quick=True, seed=seed)
        shared = {len(train): (history.last["val_acc"], len(history))}
    else:
        data_name, train, test = claims.image_data(quick=False)
        test = claims.subset(test, FULL_TEST, seed=seed + 1)
        shared = {}
    order, sizes = _training_order(len(train), quick, seed)
    labels = np.asarray(train.labels)[order]
    cell = cell_size(train.images.shape[2])
    log(f"computing HOG features ({cell}x{cell}-pixel cells) of {len(order)} training and {len(test)} test images")
    train_features, test_features = hog_features(train.images[order], cell), hog_features(test.images, cell)

    rows = []
    for size in sizes:
        log(f"{size} training images: fitting the linear SVM on HOG features")
        hog_accuracy = hog_svm_accuracy(train_features[:size], labels[:size], test_features, test.labels, seed)
        if size in shared:
            cnn_accuracy, epochs = shared[size]
        else:
            log(f"{size} training images: training a cnn ({epochs_for(size)} epochs)")
            cnn_accuracy, epochs = _train_cnn(_take(train, order[:size]), test, seed)
        log(f"{size} training images: HOG + SVM {hog_accuracy:.3f}, cnn {cnn_accuracy:.3f}")
        rows.append({"train_size": size, "hog_svm": hog_accuracy, "cnn": float(cnn_accuracy), "cnn_epochs": epochs})

    final = rows[-1]
    held = final["cnn"] > final["hog_svm"]
    data = {"dataset": data_name, "test_images": len(test), "hog": {"cell": cell, "orientations": ORIENTATIONS,
            "cells_per_block": BLOCK, "features": int(train_features.shape[1])}, "results": rows,
            "chance": 1 / len(train.classes)}
    number = "; ".join(f"{row['train_size']} images: cnn {row['cnn']:.1%}, HOG + SVM {row['hog_svm']:.1%}"
                       for row in rows)
    figure = _figure(test, rows, cell, data_name)
    return claims.Finding("learned-features", bool(held), number, _verdict(rows), figure, data)


def _verdict(rows):
    final = rows[-1]
    margin = final["cnn"] - final["hog_svm"]
    lost = [row["train_size"] for row in rows[:-1] if row["cnn"] <= row["hog_svm"]]
    smaller = f", though HOG + SVM held its own with {', '.join(map(str, lost))} images" if lost else ""
    if margin > 0:
        return (f"the cnn's learned features beat hand-made HOG features with a linear SVM by "
                f"{margin * 100:.1f} points on {final['train_size']} training images{smaller}")
    return (f"not here: with {final['train_size']} training images hand-made HOG features with a linear SVM "
            f"scored {-margin * 100:.1f} points {'above' if margin < 0 else 'level with'} the cnn")


def _figure(test, rows, cell, data_name, examples=4):
    from ..inspect import plots

    fig = plots.Figure(figsize=(12.5, 4.8), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1.35, 1])
    axes = left.subplots(2, examples)
    chosen = np.unique(np.asarray(test.labels), return_index=True)[1][:examples]  # different classes
    for column, index in enumerate(chosen):
        image = test.images[index]
        axes[0, column].imshow(plots.displayable(image[None])[0], cmap="gray")
        axes[0, column].set_title(str(test.classes[test.labels[index]]), fontsize=9)
        axes[1, column].imshow(np.zeros(image.shape[1:]), cmap="gray", vmin=0, vmax=1)  # a black canvas
        draw_hog(axes[1, column], cell_histograms(image, cell), cell)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    axes[0, 0].set_ylabel("the image", fontsize=9)
    axes[1, 0].set_ylabel("what HOG sees", fontsize=9)
    left.suptitle(f"Hand-made features: HOG, {ORIENTATIONS} gradient directions per {cell}x{cell}-pixel cell\n"
                  f"(each cell a star of lines, brighter where more edge runs that way)", fontsize=10)

    axis = right.subplots()
    positions, width = np.arange(len(rows)), 0.38
    for shift, key, colour, label in ((-0.5, "cnn", "tab:blue", "cnn (learned features)"),
                                      (0.5, "hog_svm", "tab:orange", "HOG + linear SVM (hand-made)")):
        values = [row[key] for row in rows]
        bars = axis.bar(positions + shift * width, values, width, color=colour, label=label)
        for bar, value in zip(bars, values):
            axis.text(bar.get_x() + bar.get_width() / 2, value + 0.005, f"{value:.1%}", ha="center", fontsize=8)
    axis.set_xticks(positions, [f"{row['train_size']} training images" for row in rows])
    axis.set_xlim(-0.8, len(rows) - 0.2)  # one size: bars of a sensible width
    low = min(min(row["cnn"], row["hog_svm"]) for row in rows)
    axis.set_ylim(max(0.0, low - 0.15), 1.0)
    axis.set_ylabel(f"test accuracy ({len(test)} test images)")
    axis.set_title(f"Learned against hand-made features on {data_name}", fontsize=10)
    axis.legend(fontsize=8, loc="upper left")
    axis.grid(alpha=0.3, axis="y")
    return fig
