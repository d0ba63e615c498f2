"""What the layers represent: each layer's activations drawn as points in 2-D.

Feed a batch of images through the network, record what each hidden layer outputs, and
squeeze each image's activations (hundreds or thousands of numbers) down to two, by PCA
(the two directions of greatest variance) or t-SNE (which keeps neighbours together).
Colour each point by its true class. At the input the classes overlap; layer by layer
they pull apart into clusters, until the logits, where a straight cut separates them.
:func:`separation` puts one number on each picture.

>>> import numpy as np
>>> points = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
>>> round(separation(points, np.array([0, 0, 1, 1])), 2)
0.99
"""
import numpy as np

from ..extras import require
from ..train.run import Run
from . import plots
from .layers import ACTIVATIONS, capture, check_labels, get_layer, inspecting, model_and_images

INPUT, LOGITS = "input", "logits"  # the two names that are not layers


def default_layers(model):
    """``['input', each activation layer in order, 'logits']``: the points where a
    network's representation is complete (after each non-linearity)."""
    hidden = [name for name, module in model.named_modules() if name and isinstance(module, ACTIVATIONS)]
    return [INPUT, *hidden, LOGITS]


def activations(model, images, layers=None):
    """Each chosen layer's output for every image, flattened: {name: (N, features)} float32.

    ``layers`` are names from :func:`.layers.layer_names`, plus 'input' and 'logits';
    by default :func:`default_layers`. The model runs once, in eval mode, without a graph.
    """
    model, images = model_and_images(model, images)
    layers = default_layers(model) if layers is None else list(layers)
    hidden = [name for name in layers if name not in (INPUT, LOGITS)]
    for name in hidden:
        get_layer(model, name)  # an unknown name fails here, with the list of valid ones
    with inspecting(model):
        logits, found = capture(model, images, hidden)
    found = {**found, INPUT: images, LOGITS: logits}
    return {name: np.asarray(found[name], dtype=np.float32).reshape(len(images), -1) for name in layers}


def embed(features, method="pca", seed=0):
    """Rows of ``features`` (N, D) as points in 2-D (N, 2), by scikit-learn's PCA or t-SNE.

    t-SNE first reduces to 50 dimensions with PCA (the usual practice: faster, and less
    noise), and its perplexity is capped for small N. It is slow beyond a few thousand points.
    """
    PCA = require("sklearn.decomposition", "PCA").PCA
    features = np.asarray(features, dtype=np.float32)
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(features).astype(np.float32)
    if method == "tsne":
        TSNE = require("sklearn.manifold", "t-SNE").TSNE
        if features.shape[1] > 50:
            features = PCA(n_components=min(50, len(features)), random_state=seed).fit_transform(features)
        perplexity = min(30.0, (len(features) - 1) / 3)
        tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
        return tsne.fit_transform(features).astype(np.float32)
    raise ValueError(f"unknown embedding method {method!r}; choose 'pca' or 'tsne'")


def layer_embeddings(model, images, layers=None, method="pca", seed=0):
    """Every chosen layer's activations as 2-D points: {name: (N, 2)}, in the layers' order.

    ``model`` is a module or a :class:`.Run`; ``layers`` as in :func:`activations`
    (default: the input, each activation layer, the logits); ``method`` 'pca' or 'tsne'.
    """
    return {name: embed(features, method, seed) for name, features in activations(model, images, layers).items()}


def separation(points, labels):
    """How well the classes separate among ``points`` (N, D): the silhouette score, from
    -1 (mixed up) through 0 (overlapping) to 1 (tight clusters far apart).

    For each point it compares the mean distance to its own class with the mean distance
    to the nearest other class (scikit-learn's ``silhouette_score``).
    """
    silhouette_score = require("sklearn.metrics", "the separation score").silhouette_score
    labels = check_labels(labels, len(points))
    return float(silhouette_score(np.asarray(points, dtype=np.float64), labels))


def plot_embeddings(embeddings, labels, classes, model=None, columns=3):
    """One scatter plot per layer, points coloured by true class, titled with the layer
    (its type when ``model`` is given) and its :func:`separation`; one legend of class
    names. Returns the figure."""
    labels = np.asarray(labels)
    count = len(embeddings)
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    fig, axes = plots.figure(3.6 * columns + 1.2, 3.4 * rows, nrows=rows, ncols=columns, squeeze=False)
    colours = plots.colormaps["tab10" if len(classes) <= 10 else "tab20"]
    for axis, (name, points) in zip(axes.flat, embeddings.items()):
        for index, label in enumerate(classes):
            mine = points[labels == index]
            axis.scatter(mine[:, 0], mine[:, 1], s=6, color=colours(index % colours.N), label=label)
        axis.set_title(f"{_describe(model, name)}\nseparation {separation(points, labels):.2f}", fontsize=9)
        axis.set_xticks([])
        axis.set_yticks([])
    spare = list(axes.flat)[count:]
    for axis in spare:
        axis.axis("off")
    handles, names = axes.flat[0].get_legend_handles_labels()
    legend = dict(title="class", markerscale=2.5, fontsize=8, ncol=2 if len(classes) > 10 else 1)
    if spare:  # an empty panel holds the legend
        spare[0].legend(handles, names, loc="center", **legend)
    else:
        fig.legend(handles, names, loc="center right", **legend)
        fig.subplots_adjust(right=1 - 1.2 / (3.6 * columns + 1.2))  # room for the legend
    fig.suptitle("Each layer's activations in 2-D, coloured by true class")
    return fig


def _describe(model, name):
    if name in (INPUT, LOGITS) or model is None:
        return name
    module = get_layer(model.model if isinstance(model, Run) else model, name)
    return f"layer {name} ({type(module).__name__})"
