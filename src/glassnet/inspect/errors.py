"""Where a classifier fails: which classes it confuses, and the images it gets wrong
while being sure it is right.

Numbers come from scikit-learn's metrics (the definitions everyone checks against);
pictures are matplotlib figures (save them with :func:`.plots.save`).

>>> import numpy as np
>>> confusion(np.array([0, 1, 1]), np.array([0, 1, 0]), num_classes=2).tolist()
[[1, 0], [1, 1]]
"""

import numpy as np

from ..extras import require
from . import plots
# predict_proba lives with the helpers every tool shares, and is errors.predict_proba too
from .layers import check_labels, predict_proba  # noqa: F401


# -- numbers ----------------------------------------------------------------------------

def confusion(labels, predictions, num_classes):
    """The confusion matrix: ``matrix[i, j]`` counts images of class ``i`` predicted as ``j``.

    Shape: labels, predictions (N,) -> (num_classes, num_classes) int64; it sums to N
    and its diagonal counts the correct predictions.
    """
    metrics = require("sklearn.metrics", "the confusion matrix")
    return metrics.confusion_matrix(labels, predictions, labels=np.arange(num_classes)).astype(np.int64)


def per_class_report(labels, predictions, classes):
    """Precision, recall, F1 and support of every class, and the overall accuracy.

    A class's recall is its own accuracy (the share of its images classified right);
    its precision is how often a prediction of that class is right.

    Returns a dict: ``classes`` (names), ``precision``, ``recall``, ``f1`` (float arrays
    of shape (classes,)), ``support`` (int array: images per class) and ``accuracy``
    (a float). A class never predicted has precision 0.
    """
    metrics = require("sklearn.metrics", "per-class precision and recall")
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        labels, predictions, labels=np.arange(len(classes)), zero_division=0)
    return {"classes": list(classes), "precision": precision, "recall": recall, "f1": f1,
            "support": support, "accuracy": float(metrics.accuracy_score(labels, predictions))}


def confident_mistakes(probabilities, labels, k=16):
    """The ``k`` wrong predictions the model was surest of, surest first.

    Shape: probabilities (N, classes), labels (N,) -> three arrays of up to k entries:
    ``indices`` (into the N images), ``predicted`` (the wrong class) and ``confidence``
    (its probability), in decreasing confidence.
    """
    probabilities = np.asarray(probabilities)
    labels = check_labels(labels, len(probabilities))
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    # stable sort: equally confident mistakes keep the data set's order
    surest = wrong[np.argsort(-confidence[wrong], kind="stable")][:k]
    return surest, predicted[surest], confidence[surest]


# -- pictures ---------------------------------------------------------------------------

def _class_ticks(axis, positions, classes):
    # long names ('T-shirt/top', 'Ankle boot') only fit side by side when slanted
    slanted = max(map(len, classes)) > 3
    axis.set_xticks(positions, labels=classes, rotation=45 if slanted else 0, ha="right" if slanted else "center")


def plot_confusion(matrix, classes, normalize=False, title=None):
    """The confusion matrix as a heat map, true classes down and predicted across, each
    cell labelled. ``normalize=True`` divides every row by its class's count, so a row
    reads as "where images of this class go". Returns the figure."""
    matrix = np.asarray(matrix)
    if normalize:
        totals = matrix.sum(axis=1, keepdims=True)
        # a class with no images keeps a row of zeros rather than 0/0
        shown = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    else:
        shown = matrix
    size = max(4.0, 0.45 * len(classes) + 2)
    fig, axis = plots.figure(size + 1, size)
    picture = axis.imshow(shown, cmap="Blues", vmin=0)
    fig.colorbar(picture, ax=axis, fraction=0.046, pad=0.04)
    ticks = np.arange(len(classes))
    _class_ticks(axis, ticks, classes)
    axis.set_yticks(ticks, labels=classes)
    default_title = "Confusion matrix (share of each true class)" if normalize else "Confusion matrix (counts)"
    axis.set(xlabel="predicted", ylabel="true", title=title or default_title)
    threshold = shown.max() / 2 if shown.size else 0
    for (row, column), value in np.ndenumerate(shown):
        if value == 0:
            continue  # empty cells stay blank so the mistakes stand out
        text = f"{value:.2f}" if normalize else str(value)
        axis.text(column, row, text, ha="center", va="center", fontsize=7,
                  color="white" if value > threshold else "black")
    return fig


def plot_per_class(report, title=None):
    """Precision and recall of every class as side-by-side bars (from :func:`per_class_report`).
    Returns the figure."""
    classes = report["classes"]
    positions = np.arange(len(classes))
    fig, axis = plots.figure(max(6.0, 0.5 * len(classes) + 2), 4)
    width = 0.4
    axis.bar(positions - width / 2, report["precision"], width, label="precision")
    axis.bar(positions + width / 2, report["recall"], width, label="recall (accuracy on the class)")
    _class_ticks(axis, positions, classes)
    # headroom above 1 keeps the legend off the bars of a good model
    axis.set(ylim=(0, 1.2), yticks=np.linspace(0, 1, 6), xlabel="class", ylabel="score",
             title=title or f"Per-class precision and recall (overall accuracy {report['accuracy']:.1%})")
    axis.legend(loc="upper center", ncol=2, fontsize=8)
    axis.grid(True, axis="y", alpha=0.3)
    return fig


def plot_mistakes(images, labels, probabilities, classes, k=16, columns=8):
    """The ``k`` most confident mistakes as an image grid, each titled
    "true → predicted (confidence)". Images (N, C, H, W). Returns the figure."""
    indices, predicted, confidence = confident_mistakes(probabilities, labels, k)
    if len(indices) == 0:
        fig, axis = plots.figure(4, 1)
        axis.axis("off")
        axis.text(0.5, 0.5, "no mistakes", ha="center", va="center")
        return fig
    labels = np.asarray(labels)
    titles = [f"{classes[labels[i]]} → {classes[p]} ({c:.2f})" for i, p, c in zip(indices, predicted, confidence)]
    return plots.image_grid(plots.displayable(np.asarray(images)[indices]), titles, columns=columns, size=1.4,
                            title="Most confident mistakes: true → predicted (confidence)")
