"""Claim: early layers learn edges, middle layers shapes, later layers objects.

The lab's cnn (two conv blocks, then a hidden layer; see :func:`glassnet.models.cnn`),
trained by :func:`claims.trained`, is looked at depth by depth, each time beside the same
network as it was before training (the same seed gives the same random start), so every
number has a baseline:

* edges: the first layer's filters against a bank of oriented edge detectors
  (:func:`glassnet.inspect.features.edge_score`): the trained filters, the random filters
  they started from, and the change training made to them (what was learned). The change
  is also scored with its values put back in random places: an edge needs its values in
  the right arrangement, noise does not care. The cnn's first filters are 3x3, where any
  pattern looks somewhat like some edge (random ones score about 0.5, and so did trained
  ones, measured); so where the images are large enough (12x12 or more) the edges are
  looked for in LeNet-5 (:data:`EDGE_MODEL`), trained on the same images, whose first
  layer has 5x5 filters, as the classic networks whose first layers showed edges had.
* shapes and objects: the image patches that excite a unit most (a conv unit sees only a
  small patch, its receptive field: 4x4 pixels after the first block, 10x10 after the
  second; a hidden unit sees the whole image), and how often a unit's top images are of
  one class. An edge is in every class; an object is in one.
* how well the classes separate in each layer's activations (the silhouette score of
  :func:`glassnet.inspect.embedding.separation`): on the input pixels, after each conv
  block and at the last hidden layer.

The claim holds here when training pushed the first-layer filters toward edges (the change
scores at least :data:`EDGE_MARGIN` above its shuffled self) and the trained network's
later layers are about objects: the classes separate best at the last hidden layer, better
than in the pixels, and its units' top images are purer in class than the first block's.
The verdict says which part did not hold, if one did not.
"""
import numpy as np

import copy
import io

from .. import nn
from .. import random as gn_random
from ..data import DataLoader
from ..inspect import embedding, features
from ..inspect.layers import capture, get_layer, inspecting
from ..models import build
from ..optim import Adam
from ..train import fit
from . import claims

TOP_K = 9  # images a unit's purity is measured on: its k strongest
EXAMPLES = {True: 500, False: 1000}  # test images looked at (quick, full); silhouettes cost N^2
EDGE_MARGIN = 0.05  # how far above its shuffled self the learned change must score
SHUFFLES = 20  # random arrangements the shuffled score averages over
EDGE_MODEL = "lenet5"  # a first layer of 5x5 filters: room for an edge that 3x3 does not give
EDGE_IMAGES = 20000  # it trains 2 epochs on at most this many of the training images


# -- where the depths are ----------------------------------------------------------------------

def depth_layers(network):
    """The depths the claim looks at: ``[('input', 'input'), ('conv block 1', name of its
    pooling layer), ..., ('last hidden layer', name of the activation before the output
    layer)]``, as (label, layer name) pairs in order.

    >>> import glassnet as gn
    >>> depth_layers(gn.models.cnn((1, 28, 28), 10))
    [('input', 'input'), ('conv block 1', '3'), ('conv block 2', '7'), ('last hidden layer', '11')]
    """
    named = [(name, module) for name, module in network.named_modules() if name]
    blocks = [name for name, module in named if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d))]
    activations = [name for name, module in named if isinstance(module, nn.ReLU)]
    if not blocks or not activations:
        layers = ", ".join(f"{name} ({type(module).__name__})" for name, module in named)
        raise ValueError(f"depth_layers: expected a network of conv blocks ending in pooling layers and a ReLU "
                         f"hidden layer (the cnn), got the layers {layers}")
    pairs = [("input", embedding.INPUT)]
    pairs += [(f"conv block {index + 1}", name) for index, name in enumerate(blocks)]
    return pairs + [("last hidden layer", activations[-1])]


def receptive_field(network, layer):
    """The square of input pixels that one unit of ``layer`` sees: ``(size, stride,
    first)``. Unit (i, j) of the layer's maps sees the ``size`` x ``size`` pixels whose
    top-left corner is at row ``first + i * stride``, column ``first + j * stride``
    (``first`` is negative where the padding adds pixels outside the image).

    Each convolution or pooling with kernel k widens the field by (k - 1) steps of the
    layers below; each stride s spaces the units s times further apart.

    >>> import glassnet as gn
    >>> network = gn.models.cnn((1, 28, 28), 10)
    >>> receptive_field(network, "0"), receptive_field(network, "3"), receptive_field(network, "7")
    ((3, 1, -1), (4, 2, -1), (10, 4, -3))
    """
    get_layer(network, layer)  # an unknown name fails here, listing the valid ones
    size, stride, first = 1, 1, 0
    for name, module in network.named_children():
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            kernel, step, padding = (_first(getattr(module, key)) for key in ("kernel_size", "stride", "padding"))
            step = kernel if step is None else step
            first -= padding * stride
            size += (kernel - 1) * stride
            stride *= step
        elif not isinstance(module, (nn.BatchNorm2d, nn.ReLU, nn.Dropout)):
            raise ValueError(f"receptive_field: layer {layer!r} is not reached through convolutions and poolings "
                             f"alone: layer {name!r} is a {type(module).__name__}")
        if name == layer:
            return size, stride, first
    raise ValueError(f"receptive_field: layer {layer!r} is not one of the network's top-level layers")


def _first(value):
    """A layer's kernel, stride or padding as one number (they are square here)."""
    return value[0] if isinstance(value, (tuple, list)) else value


# -- what the units respond to ----------------------------------------------------------------

def layer_outputs(network, images, layers):
    """What each of ``layers`` outputs for every image, from one pass of the network in
    evaluation mode: {layer name: array}, 'input' giving the images themselves."""
    images = np.asarray(images, dtype=np.float32)
    hidden = [layer for layer in layers if layer != embedding.INPUT]
    with inspecting(network):
        _, found = capture(network, images, hidden)
    return {layer: images if layer == embedding.INPUT else np.asarray(found[layer], dtype=np.float32)
            for layer in layers}


def unit_responses(output):
    """Each unit's response to each image, and where in the image, from a layer's
    ``output``: a conv unit (a channel of maps (N, C, h, w)) responds with its largest
    value over positions, a hidden unit (N, D) with its one value. Returns ``(responses
    (N, units), positions (N, units, 2) or None)``, the positions as (row, column) in the
    layer's maps.

    >>> maps = np.zeros((1, 2, 3, 3)); maps[0, 1, 2, 0] = 5.0
    >>> responses, positions = unit_responses(maps)
    >>> responses.tolist(), positions[0, 1].tolist()
    ([[0.0, 5.0]], [2, 0])
    """
    output = np.asarray(output)
    if output.ndim == 2:
        return output, None
    if output.ndim != 4:
        raise ValueError(f"unit_responses: expected maps (N, C, h, w) or units (N, D), got shape {output.shape}")
    flat = output.reshape(*output.shape[:2], -1)
    positions = np.stack(np.unravel_index(flat.argmax(axis=2), output.shape[2:]), axis=-1)
    return flat.max(axis=2), positions


def top_patches(network, images, layer, unit, k=6, output=None):
    """The ``k`` image patches that excite ``unit`` (a channel) of the conv ``layer``
    most, one per image, strongest first: each the unit's :func:`receptive_field` around
    the position of its largest value (zero outside the image). ``output``: the layer's
    output for ``images``, if already computed.

    Shape: images (N, C, H, W) -> (patches (k, C, size, size), image indices (k,), values (k,)).
    """
    images = np.asarray(images, dtype=np.float32)
    if output is None:
        output = layer_outputs(network, images, [layer])[layer]
    responses, positions = unit_responses(output)
    if positions is None:
        raise ValueError(f"top_patches: layer {layer!r} has no positions (it outputs {responses.shape[1:]} per "
                         f"image); help: for whole images use glassnet.inspect.features.top_activating")
    if not 0 <= unit < responses.shape[1]:
        raise ValueError(f"top_patches: layer {layer!r} has {responses.shape[1]} channels, got unit {unit}")
    size, stride, first = receptive_field(network, layer)
    order = np.argsort(-responses[:, unit], kind="stable")[:k]
    margin = size  # enough zeros around the image for any field that sticks out
    padded = np.pad(images, ((0, 0), (0, 0), (margin, margin), (margin, margin)))
    patches = []
    for index in order:
        row, column = first + positions[index, unit] * stride + margin
        patches.append(padded[index, :, row:row + size, column:column + size])
    return np.stack(patches), order, responses[order, unit]


def class_purity(responses, labels, k=TOP_K):
    """How much each unit is about one class: for each unit (a column of ``responses``
    (N, units)), the fraction of its ``k`` most exciting images that belong to their
    commonest class, averaged over the units that respond at all (a dead unit, the same
    for every image, is left out). 1 means every unit's favourite images are of one
    class; about 0.3 is what k = 9 images drawn at random from ten classes give.

    >>> responses = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0], [0.5, 4.0]])
    >>> class_purity(responses, np.array([0, 0, 1, 1]), k=2)
    1.0
    """
    responses, labels = np.asarray(responses), np.asarray(labels)
    if responses.ndim != 2 or len(responses) != len(labels):
        raise ValueError(f"class_purity: expected responses (N, units) and N labels, got {responses.shape} "
                         f"and {labels.shape}")
    if not 1 <= k <= len(labels):
        raise ValueError(f"class_purity: k must be between 1 and the number of images ({len(labels)}), got {k}")
    alive = responses.max(axis=0) > responses.min(axis=0)
    if not alive.any():
        return 0.0
    top = np.argsort(-responses[:, alive], axis=0, kind="stable")[:k]  # (k, live units)
    top_labels = labels[top]
    commonest = np.array([np.bincount(column).max() for column in top_labels.T])
    return float(commonest.mean() / k)


# -- the experiment ---------------------------------------------------------------------------

def _untrained_twin(train, seed):
    """The cnn exactly as :func:`claims.trained` built it before training: same seed,
    same initial weights."""
    gn_random.seed(seed)
    network = build("cnn", train.images.shape[1:], len(train.classes))
    network.eval()
    return network


def shuffled_edge_score(filters, shuffles=SHUFFLES, seed=0):
    """The :func:`~glassnet.inspect.features.edge_score` of ``filters`` (..., kh, kw) with
    each kernel's values put in random places, averaged over ``shuffles`` arrangements:
    what the same numbers score by chance, without the arrangement an edge needs.

    >>> sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    >>> bool(shuffled_edge_score(sobel, shuffles=50) < 0.8)
    True
    """
    filters = np.asarray(filters, dtype=np.float64)
    kernels = filters.reshape(-1, filters.shape[-2] * filters.shape[-1])
    rng = np.random.default_rng(seed)
    scores = [features.edge_score(rng.permuted(kernels, axis=1).reshape(-1, *filters.shape[-2:]))
              for _ in range(shuffles)]
    return float(np.mean(scores))


def edge_networks(trained, untrained, train, seed=0, epochs=2):
    """The networks whose first layer is scored for edges, trained and untrained:
    :data:`EDGE_MODEL` trained on (at most :data:`EDGE_IMAGES` of) ``train``, and its
    random start, when the images are large enough for it; else the cnn itself
    (``trained``, ``untrained``)."""
    if min(train.images.shape[-2:]) < 12:  # LeNet-5's two 5x5 convolutions and poolings need 12x12
        return trained, untrained
    gn_random.seed(seed)
    network = build(EDGE_MODEL, train.images.shape[1:], len(train.classes))
    start = copy.deepcopy(network)
    loader = DataLoader(claims.subset(train, EDGE_IMAGES, seed), batch_size=64, shuffle=True, seed=seed)
    fit(network, loader, Adam(network.parameters(), lr=1e-3), epochs=epochs, progress=False, out=io.StringIO())
    return network.eval(), start.eval()


def _edges(trained, untrained, seed):
    first_trained, first_untrained = features.conv_filters(trained), features.conv_filters(untrained)
    change = first_trained - first_untrained
    return {"trained": features.edge_score(first_trained), "untrained": features.edge_score(first_untrained),
            "change": features.edge_score(change), "change_shuffled": shuffled_edge_score(change, seed=seed),
            "relative_change": float(np.linalg.norm(change) / np.linalg.norm(first_untrained))}


def _depth_measures(outputs, labels, depths):
    """From every depth's outputs: the separation of the classes at each depth, and the
    class purity of the units of each depth but the input."""
    layers = [layer for _, layer in depths]
    separation = [embedding.separation(outputs[layer].reshape(len(labels), -1), labels) for layer in layers]
    purity = [None] + [class_purity(unit_responses(outputs[layer])[0], labels) for layer in layers[1:]]
    return separation, purity


def _rises(values):
    """Whether the last value is the largest and larger than the first."""
    return values[-1] > values[0] and values[-1] >= max(values)


def run(quick=False, seed=0, log=None):
    """Look at the cnn depth by depth, against its untrained twin: edges, top patches,
    class separation. See the module's docstring for what is measured and when it holds."""
    log = claims.quiet(log)
    log("training the cnn (claims.trained: 2 epochs, shared with the other claims that look inside it)")
    trained, data_name, train, test, history = claims.trained("cnn", quick=quick, seed=seed)
    untrained = _untrained_twin(train, seed)
    examples = claims.subset(test, EXAMPLES[quick], seed=seed)
    images, labels = examples.images, np.asarray(examples.labels)
    depths = depth_layers(trained)

    edge_trained, edge_untrained = edge_networks(trained, untrained, train, seed)
    filter_size = "x".join(str(size) for size in features.conv_filters(edge_trained).shape[-2:])
    edge_model = EDGE_MODEL if edge_trained is not trained else "cnn"
    log(f"scoring the first-layer {filter_size} filters of the {edge_model} against edge detectors")
    edges = dict(_edges(edge_trained, edge_untrained, seed), network=edge_model, filter_size=filter_size)
    log(f"measuring class separation and unit purity at {len(depths)} depths, trained and untrained")
    layers = [layer for _, layer in depths]
    outputs = layer_outputs(trained, images, layers)
    separation, purity = _depth_measures(outputs, labels, depths)
    separation_untrained, purity_untrained = _depth_measures(layer_outputs(untrained, images, layers), labels, depths)
    log("finding the patches and images that excite units at each depth")
    examples_shown = _examples(trained, images, labels, examples.classes, depths, outputs)

    edges_learned = edges["change"] > edges["change_shuffled"] + EDGE_MARGIN
    separation_rises = _rises(separation)
    purity_rises = purity[-1] > purity[1]
    held = bool(edges_learned and separation_rises and purity_rises)
    data = {
        "dataset": data_name, "train_images": len(train), "examples": len(images),
        "test_accuracy": history.last.get("val_acc"), "depths": [label for label, _ in depths],
        "layers": [layer for _, layer in depths], "edge_score": edges,
        "separation": {"trained": separation, "untrained": separation_untrained},
        "purity": {"trained": purity, "untrained": purity_untrained, "k": TOP_K},
        "edges_learned": bool(edges_learned), "separation_rises": bool(separation_rises),
        "purity_rises": bool(purity_rises),
    }
    number = (f"edge score of the learned change {edges['change']:.2f} (shuffled {edges['change_shuffled']:.2f}); "
              f"separation {separation[0]:.2f} in the pixels, {separation[-1]:.2f} at the last hidden layer; "
              f"purity {purity[1]:.0%} block 1, {purity[-1]:.0%} last hidden")
    figure = _figure(edge_trained, edge_untrained, edges, depths, separation, separation_untrained, purity, purity_untrained,
                     examples_shown, data_name)
    return claims.Finding("feature-hierarchy", held, number,
                          _verdict(edges_learned, separation_rises, purity_rises, edges, separation, purity), figure,
                          data)


def _verdict(edges_learned, separation_rises, purity_rises, edges, separation, purity):
    edge_numbers = (f"what training changed in the {edges['network']}'s first-layer {edges['filter_size']} filters "
                    f"scores {edges['change']:.2f} against "
                    f"{edges['change_shuffled']:.2f} for the same values in random places")
    objects = (f"the classes separate best at the last hidden layer ({separation[0]:.2f} in the pixels, "
               f"{separation[-1]:.2f} there) and its units' favourite images are mostly of one class "
               f"({purity[-1]:.0%}, against {purity[1]:.0%} in the first block)")
    if edges_learned and separation_rises and purity_rises:
        return f"training pushed the first-layer filters toward edge detectors ({edge_numbers}), and {objects}"
    failed = []
    if not edges_learned:
        failed.append(f"training did not make the {edges['network']}'s first-layer {edges['filter_size']} filters "
                      f"edge detectors ({edge_numbers})")
    if not separation_rises:
        failed.append("the classes do not separate best at the last hidden layer (separation by depth: "
                      + ", ".join(f"{value:.2f}" for value in separation) + ")")
    if not purity_rises:
        failed.append(f"the last hidden layer's units are not purer in class ({purity[-1]:.2f}) than the first "
                      f"block's ({purity[1]:.2f})")
    if separation_rises and purity_rises:
        return f"in part only: {objects}, but " + "; and ".join(failed)
    return "not here: " + "; and ".join(failed)


def _examples(network, images, labels, classes, depths, outputs, units=3, k=5):
    """For each depth after the input: ``units`` units (the ones whose top images are of one
    class most often, so the figure shows what the depth can do) and their ``k`` top patches
    or images, with the class names of the images they come from."""
    shown = []
    for label, layer in depths[1:]:
        responses, positions = unit_responses(outputs[layer])
        ranked = _purest_units(responses, labels)[:units]
        rows = []
        for unit in ranked:
            if positions is None:
                order, values = features.top_activating(network, images, layer, int(unit), k=k)
                pictures = images[order]
            else:
                pictures, order, values = top_patches(network, images, layer, int(unit), k=k, output=outputs[layer])
            rows.append({"unit": int(unit), "pictures": pictures[:, 0] if pictures.shape[1] == 1 else pictures,
                         "classes": [str(classes[labels[index]]) for index in order]})
        shown.append((label, layer, rows))
    return shown


def _purest_units(responses, labels, k=TOP_K):
    """Units ordered by the purity of their top ``k`` images, purest first (live ones only)."""
    alive = np.flatnonzero(responses.max(axis=0) > responses.min(axis=0))
    scores = [class_purity(responses[:, [unit]], labels, k) for unit in alive]
    return alive[np.argsort(-np.asarray(scores), kind="stable")]


# -- the figure -------------------------------------------------------------------------------

def _figure(trained, untrained, edges, depths, separation, separation_untrained, purity, purity_untrained,
            shown, data_name):
    from ..inspect import plots

    fig = plots.Figure(figsize=(13.5, 13.0), layout="constrained")
    top, middle, bottom = fig.subfigures(3, 1, height_ratios=[1.0, 1.25, 1.0])
    _draw_filters(top, trained, untrained, edges)
    _draw_examples(middle, shown)
    _draw_depth(bottom, depths, separation, separation_untrained, purity, purity_untrained)
    fig.suptitle(f"Early layers learn edges, later layers objects: the cnn on {data_name}, against its untrained twin",
                 fontsize=13)
    return fig


def _draw_filters(subfig, trained, untrained, edges, count=16):
    first_trained, first_untrained = features.conv_filters(trained), features.conv_filters(untrained)
    panels = [("before training (random)", first_untrained), ("after training", first_trained),
              ("what training changed", first_trained - first_untrained)]
    grids = subfig.subfigures(1, 4, width_ratios=[1, 1, 1, 1.1])
    for grid, (title, filters) in zip(grids, panels):
        axes = grid.subplots(4, 4)
        for axis in axes.flat:  # a network with fewer filters leaves some empty
            axis.axis("off")
        for axis, kernel in zip(axes.flat, filters[:count, 0]):  # one input channel: grey images
            limit = float(np.abs(kernel).max()) or 1.0
            axis.imshow(kernel, cmap="bwr", vmin=-limit, vmax=limit)
            axis.set_title(f"{features.edge_score(kernel):.2f}", fontsize=7)
            axis.axis("off")
        grid.suptitle(f"{edges['network']}'s first-layer {edges['filter_size']} filters\n{title}", fontsize=9)
    axis = grids[3].subplots()
    names = ["random\nstart", "trained", "change by\ntraining", "the change,\nshuffled"]
    values = [edges["untrained"], edges["trained"], edges["change"], edges["change_shuffled"]]
    bars = axis.bar(names, values, color=["lightgrey", "tab:blue", "tab:orange", "wheat"])
    for bar, value in zip(bars, values):
        axis.text(bar.get_x() + bar.get_width() / 2, value + 0.01, f"{value:.2f}", ha="center", fontsize=8)
    axis.set_ylim(0, 1)
    axis.set_ylabel("edge score (1 = an oriented edge detector)", fontsize=8)
    axis.set_title("How edge-like the first layer is (mean over its filters;\neach filter's score above it; "
                   "shuffled: its values in random places)", fontsize=9)
    axis.tick_params(labelsize=8)


def _draw_examples(subfig, shown):
    columns = subfig.subfigures(1, len(shown))
    for column, (label, layer, rows) in zip(np.atleast_1d(columns), shown):
        k = len(rows[0]["pictures"])
        axes = column.subplots(len(rows), k, squeeze=False)
        for axes_row, row in zip(axes, rows):
            for axis, picture, name in zip(axes_row, row["pictures"], row["classes"]):
                axis.imshow(picture, cmap="gray", vmin=0, vmax=1)
                axis.set_xticks([])
                axis.set_yticks([])
                axis.set_title(name, fontsize=6)
            axes_row[0].set_ylabel(f"unit {row['unit']}", fontsize=8)
        size = rows[0]["pictures"].shape[-1]
        what = f"{size}x{size} patches" if label != "last hidden layer" else "whole images"
        column.suptitle(f"{label} (layer {layer}): top {what}\nof its {len(rows)} most class-specific units",
                        fontsize=9)


def _draw_depth(subfig, depths, separation, separation_untrained, purity, purity_untrained):
    left, right = subfig.subplots(1, 2)
    labels = [label for label, _ in depths]
    positions = np.arange(len(labels))
    left.plot(positions, separation, "o-", color="tab:blue", label="trained")
    left.plot(positions, separation_untrained, "s--", color="grey", label="untrained (same random start)")
    left.set_xticks(positions, labels, fontsize=8)
    left.set_ylabel("class separation (silhouette)")
    left.set_title("How well the classes separate at each depth", fontsize=10)
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    right.plot(positions[1:], purity[1:], "o-", color="tab:blue", label="trained")
    right.plot(positions[1:], purity_untrained[1:], "s--", color="grey", label="untrained")
    right.set_xticks(positions[1:], labels[1:], fontsize=8)
    right.set_ylim(0, 1.05)
    right.set_ylabel(f"share of a unit's top {TOP_K} images\nin its commonest class")
    right.set_title("Are a unit's favourite images of one class? (edges: no; objects: yes)", fontsize=10)
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
