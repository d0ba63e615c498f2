"""Claim ``linear-depth``: without activations, depth adds nothing.

A Linear layer computes ``W x + b``. Two of them in a row compute ``W2 (W1 x + b1) + b2 =
(W2 W1) x + (W2 b1 + b2)``: one Linear layer again, with the weight ``W2 W1``. However many
are stacked, the stack is one linear map (:func:`collapse` multiplies it out), so it can
draw only straight boundaries between classes, and learns no better than a single layer.
Put a ReLU between the layers and the product no longer collapses: each layer can bend
the boundary, and depth starts to pay.

The experiment trains stacks of 1, 2, 4 and 8 layers, with and without ReLU, on two
data sets: two interleaving half-moons (:func:`moons`, where a straight line cannot
separate the classes; its decision boundaries make the picture) and, in the full run,
Fashion-MNIST (the embedded digits where its files are absent; pixels standardized,
:func:`standardized`), 3 epochs of Adam (131 on the digits, :func:`epochs_for`). The digits
are nearly linearly separable (one layer gets about 95%), so there the difference is small. It then collapses the
deepest trained linear stack into one weight matrix and bias and checks that the single
layer gives the same outputs, to float32 rounding.

The claim holds on a run when, on every data set, (1) the collapsed layer's outputs agree
with the deep linear stack's (largest difference under 1e-4 of the outputs' size), (2) no
deep linear stack beats one linear layer by more than one point of accuracy, and (3) the
best deep ReLU network beats one linear layer and every deep linear stack by more than one
point.
"""
import io
import math

import numpy as np

from .. import nn
from .. import random as gn_random
from ..data import DataLoader, TensorDataset
from ..optim import Adam
from ..train import evaluate, fit, predict
from . import claims

DEPTHS = (1, 2, 4, 8)
MARGIN = 0.01  # one point of accuracy: "no better" and "beats" are judged against it
AGREEMENT = 1e-4  # largest output difference, relative to the outputs' size, that counts as rounding
PARTS = ("collapses", "linear_adds_nothing", "relu_beats_linear")  # of the criterion, see judge()


# -- the data ----------------------------------------------------------------------------------

def moons(count, noise=0.15, seed=0):
    """Two interleaving half-circles in the plane, one class each: ``(points, labels)``,
    points ``(count, 2)`` float32 (centred, about unit scale), labels ``(count,)`` int64.

    No straight line separates them (the best gets about 87% right); a bent boundary
    gets nearly all of them.

    >>> points, labels = moons(6, seed=0)
    >>> points.shape, points.dtype.name, sorted(set(labels.tolist())) <= [0, 1]
    ((6, 2), 'float32', True)
    """
    if count < 1:
        raise ValueError(f"moons: count must be at least 1, got {count}")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    angle = rng.uniform(0.0, np.pi, count)
    # The upper moon is centred at (0, 0), the lower one at (1, 0.5), its tips inside the other's arc.
    x = np.where(labels == 0, np.cos(angle), 1.0 - np.cos(angle))
    y = np.where(labels == 0, np.sin(angle), 0.5 - np.sin(angle))
    points = np.stack([x, y], axis=1) + rng.normal(0.0, noise, (count, 2))
    points = (points - [0.5, 0.25]) / [0.9, 0.55]  # about zero mean and unit spread
    return points.astype(np.float32), labels.astype(np.int64)


# -- the networks ------------------------------------------------------------------------------

def stack(depth, in_features, num_classes, width=64, activation=True):
    """``depth`` Linear layers (``depth - 1`` hidden ones of ``width`` units), with a ReLU
    after each hidden layer when ``activation``, else nothing between them. A Flatten in
    front lets it take images. ``depth=1`` is a single linear layer either way.

    >>> stack(3, 2, 2, width=4, activation=False)
    Sequential(
      (0): Flatten(start_dim=1, end_dim=-1)
      (1): Linear(in_features=2, out_features=4, bias=True)
      (2): Linear(in_features=4, out_features=4, bias=True)
      (3): Linear(in_features=4, out_features=2, bias=True)
    )
    """
    if int(depth) != depth or depth < 1:
        raise ValueError(f"stack: depth must be a whole number of layers, at least 1, got {depth!r}")
    layers, features = [nn.Flatten()], in_features
    for _ in range(int(depth) - 1):
        layers.append(nn.Linear(features, width))
        if activation:
            layers.append(nn.ReLU())
        features = width
    layers.append(nn.Linear(features, num_classes))
    return nn.Sequential(*layers)


def collapse(network):
    """The single linear map ``(weight, bias)`` that a stack of Linear layers computes,
    multiplied out in float64: ``network(x) == x.flatten() @ weight.T + bias``.

    Layer by layer: after ``W1 x + b1`` comes ``W2 (W1 x + b1) + b2``, so the weight
    becomes ``W2 W1`` and the bias ``W2 b1 + b2``. A network with anything else in it
    (a ReLU, a convolution) is not one linear map: that is a TypeError.

    >>> import glassnet as gn
    >>> weight, bias = collapse(stack(4, 3, 2, width=5, activation=False))
    >>> weight.shape, bias.shape
    ((2, 3), (2,))
    """
    weight, bias = None, None
    for position, layer in enumerate(network.children() if isinstance(network, nn.Sequential) else [network]):
        if isinstance(layer, nn.Flatten):
            continue
        if not isinstance(layer, nn.Linear):
            raise TypeError(f"collapse: only a stack of Linear layers is one linear map; layer {position} is "
                            f"{type(layer).__name__}")
        w = layer.weight.numpy().astype(np.float64)
        b = layer.bias.numpy().astype(np.float64) if layer.bias is not None else np.zeros(len(w))
        weight, bias = (w, b) if weight is None else (w @ weight, w @ bias + b)
    if weight is None:
        raise TypeError("collapse: the network has no Linear layer")
    return weight, bias


def collapse_check(network, inputs):
    """Collapse the linear stack ``network`` and compare the single layer's outputs with
    the stack's on ``inputs``: a dict with the largest absolute difference, the outputs'
    size (their largest magnitude), the difference relative to it, and both sets of
    outputs (``deep``, ``single``, for a scatter plot)."""
    weight, bias = collapse(network)
    deep = predict(network, inputs)
    flat = np.asarray(inputs, dtype=np.float64).reshape(len(inputs), -1)
    single = flat @ weight.T + bias
    difference = float(np.abs(deep - single).max())
    scale = float(np.abs(single).max()) or 1.0
    return {"max_difference": difference, "output_scale": scale, "relative_difference": difference / scale,
            "weight_shape": list(weight.shape), "deep": deep, "single": single}


# -- the experiment ----------------------------------------------------------------------------

def train_and_score(network, train, test, epochs, lr=1e-3, batch_size=64, seed=0):
    """Train ``network`` with Adam and return its accuracy on ``test``."""
    loader = DataLoader(train, batch_size=batch_size, shuffle=True, seed=seed)
    fit(network, loader, Adam(network.parameters(), lr=lr), epochs=epochs, progress=False, out=io.StringIO())
    return evaluate(network, test)["acc"]


def depth_sweep(train, test, in_features, num_classes, depths=DEPTHS, width=64, epochs=3, lr=1e-3, batch_size=64,
                seed=0, log=None):
    """Accuracy against depth, for linear stacks and ReLU networks trained alike (the same
    initial seed, data order, optimizer and epochs). Returns ``(accuracies, networks)``:
    ``accuracies["linear"][i]`` and ``accuracies["relu"][i]`` for ``depths[i]`` (depth 1 is
    the same single layer in both), and the trained networks by ``(kind, depth)``."""
    log = claims.quiet(log)
    accuracies, networks = {"linear": [], "relu": []}, {}
    for kind in ("linear", "relu"):
        for depth in depths:
            if depth == 1 and ("linear", 1) in networks:  # one layer has no activation to add
                networks[(kind, 1)] = networks[("linear", 1)]
                accuracies[kind].append(accuracies["linear"][depths.index(1)])
                continue
            gn_random.seed(seed)
            network = stack(depth, in_features, num_classes, width, activation=kind == "relu")
            accuracy = train_and_score(network, train, test, epochs, lr, batch_size, seed)
            log(f"  {depth} {kind} layer{'s' if depth > 1 else ''}: test accuracy {accuracy:.1%}")
            accuracies[kind].append(accuracy)
            networks[(kind, depth)] = network
    return accuracies, networks


def judge(accuracies, depths, relative_difference):
    """Whether the claim held on one data set, by the module's criterion (see its docstring):
    a dict with the three parts and ``held``."""
    one_layer = accuracies["linear"][depths.index(1)]
    deep_linear = [a for d, a in zip(depths, accuracies["linear"]) if d > 1]
    deep_relu = [a for d, a in zip(depths, accuracies["relu"]) if d > 1]
    collapses = relative_difference < AGREEMENT
    adds_nothing = max(deep_linear) <= one_layer + MARGIN
    relu_pays = max(deep_relu) > max(one_layer, *deep_linear) + MARGIN
    return {"collapses": collapses, "linear_adds_nothing": adds_nothing, "relu_beats_linear": relu_pays,
            "held": collapses and adds_nothing and relu_pays, "one_layer": one_layer,
            "deep_linear_spread": max(abs(a - one_layer) for a in deep_linear), "best_deep_relu": max(deep_relu)}


def experiment(name, train, test, in_features, num_classes, sample, depths=DEPTHS, width=64, epochs=3, lr=1e-3,
               batch_size=64, seed=0, log=None):
    """The sweep, the collapse of the deepest linear stack (on the inputs ``sample``) and
    the judgement, on one data set: a dict of numbers, and the trained networks."""
    accuracies, networks = depth_sweep(train, test, in_features, num_classes, depths, width, epochs, lr, batch_size,
                                       seed, log)
    check = collapse_check(networks[("linear", max(depths))], sample)
    verdict = judge(accuracies, list(depths), check["relative_difference"])
    result = {"dataset": name, "depths": list(depths), "width": width, "epochs": epochs, "train_size": len(train),
              "test_size": len(test), "accuracy": accuracies, "collapse": check, **verdict}
    return result, networks


def epochs_for(size, batch_size=64, min_steps=3000):
    """Epochs for the image data set: 3 for a large one (Fashion-MNIST: 2800 steps), enough
    for ``min_steps`` steps on a small one (the digits: 131 epochs). "Learns no better"
    compares the stacks near their best: a single layer stopped early can trail a deep
    linear stack, which on a small set sometimes gets there faster.

    >>> epochs_for(60000), epochs_for(1438)
    (3, 131)
    """
    steps_per_epoch = math.ceil(size / batch_size)
    return 3 if size >= 20000 else max(3, math.ceil(min_steps / steps_per_epoch))


def standardized(train, test):
    """Flattened images as TensorDatasets, each pixel shifted and scaled by its mean and
    spread over the training images (plus 0.1, so that a pixel that is almost always
    blank is not blown up). Every network here trains faster on inputs of about unit
    scale, the linear ones most of all; the data stays the same up to a linear map."""
    flat_train = train.images.reshape(len(train), -1)
    flat_test = test.images.reshape(len(test), -1)
    mean, spread = flat_train.mean(axis=0), flat_train.std(axis=0) + 0.1
    return (TensorDataset((flat_train - mean) / spread, train.labels),
            TensorDataset((flat_test - mean) / spread, test.labels))


def run(quick=False, seed=0, log=None):
    """Train linear stacks and ReLU networks of depth 1, 2, 4, 8 on the moons (quick: only
    there) and on Fashion-MNIST or the digits (full run); collapse the deepest linear stack;
    see the module docstring for the criterion."""
    log = claims.quiet(log)
    points, labels = moons(1000, seed=seed)
    test_points, test_labels = moons(2000, seed=seed + 1)
    log("moons: training stacks of 1, 2, 4, 8 layers, linear and with ReLU")
    results, networks = {}, {}
    results["moons"], networks["moons"] = experiment(
        "moons", TensorDataset(points, labels), TensorDataset(test_points, test_labels), 2, 2, test_points,
        width=32, epochs=20 if quick else 40, lr=1e-2, batch_size=50, seed=seed, log=log)
    if not quick:
        name, images, test_images = claims.image_data("fashion-mnist")
        train, test = standardized(images, test_images)
        epochs = epochs_for(len(train))
        log(f"{name}: training the same stacks (128 units a hidden layer) on {len(train)} standardized images, "
            f"{epochs} epochs each")
        results[name], _ = experiment(name, train, test, train.arrays[0].shape[1], len(images.classes),
                                      test.arrays[0][:500], width=128, epochs=epochs, seed=seed, log=log)
    return _finding(results, networks["moons"], (test_points, test_labels))


def _percents(values):
    return " / ".join(f"{value:.1%}" for value in values)


def _finding(results, moon_networks, moon_test):
    held = all(result["held"] for result in results.values())
    headline = results[list(results)[-1]]  # the image data set when it ran, else the moons
    deep = ", ".join(str(depth) for depth in headline["depths"][1:])
    accuracy = headline["accuracy"]
    number = (f"{headline['dataset']}: 1 linear layer {headline['one_layer']:.1%}; {deep} layers linear "
              f"{_percents(accuracy['linear'][1:])}, with ReLU {_percents(accuracy['relu'][1:])}; "
              f"collapsed stack = one layer to {headline['collapse']['max_difference']:.0e}")
    parts = []
    for name, result in results.items():
        deep_linear = result["accuracy"]["linear"][1:]
        parts.append(f"on {name} one linear layer scores {result['one_layer']:.1%}, deeper linear stacks "
                     f"{min(deep_linear):.1%}-{max(deep_linear):.1%}, ReLU networks up to "
                     f"{result['best_deep_relu']:.1%}")
    if held:
        verdict = ("every linear stack multiplied out to one matrix and bias with the same outputs; "
                   + "; ".join(parts))
    else:
        failed = [f"{name} ({', '.join(part for part in PARTS if not result[part])})"
                  for name, result in results.items() if not result["held"]]
        verdict = "the test that failed: " + "; ".join(failed) + "; " + "; ".join(parts)
    data = {name: {k: v for k, v in result.items() if k != "collapse"} | {
        "collapse": {k: v for k, v in result["collapse"].items() if k not in ("deep", "single")}}
        for name, result in results.items()}
    data["criterion"] = (f"held when, on every data set, the collapsed layer matches the deep linear stack to "
                         f"{AGREEMENT:g} of the outputs' size, no deep linear stack beats one layer by more than "
                         f"{MARGIN:.0%}, and the best deep ReLU network beats every linear one by more than "
                         f"{MARGIN:.0%}")
    return claims.Finding("linear-depth", held, number, verdict, plot(results, moon_networks, moon_test), data)


# -- the figure --------------------------------------------------------------------------------

def plot(results, moon_networks, moon_test):
    """Accuracy against depth per data set, the collapse check, and the decision
    boundaries on the moons of one linear layer, the deepest linear stack and the deepest
    ReLU network."""
    from ..inspect import plots

    names = list(results)
    columns = max(3, len(names) + 1)
    fig, axes = plots.figure(4.2 * columns, 8.2, nrows=2, ncols=columns, squeeze=False)
    for axis, name in zip(axes[0], names):
        _plot_depth_curve(axis, results[name])
    _plot_collapse(axes[0][len(names)], results[names[-1]])
    for axis in axes[0][len(names) + 1:]:
        _explain(axis)
    deepest = max(results["moons"]["depths"])
    shown = [("linear", 1, "1 linear layer"), ("linear", deepest, f"{deepest} linear layers"),
             ("relu", deepest, f"{deepest} layers with ReLU")]
    accuracy = results["moons"]["accuracy"]
    depths = results["moons"]["depths"]
    for axis, (kind, depth, title) in zip(axes[1], shown):
        _plot_boundary(axis, moon_networks[(kind, depth)], *moon_test,
                       f"{title}: {accuracy[kind][depths.index(depth)]:.1%}")
    for axis in axes[1][len(shown):]:
        axis.axis("off")
    fig.suptitle("Without activations, depth adds nothing: a stack of linear layers is one linear map")
    fig.tight_layout()
    return fig


def _plot_depth_curve(axis, result):
    depths = result["depths"]
    axis.plot(depths, result["accuracy"]["linear"], "o-", label="linear layers only")
    axis.plot(depths, result["accuracy"]["relu"], "s-", label="with ReLU between")
    axis.set_xscale("log", base=2)
    axis.set_xticks(depths, [str(d) for d in depths])
    axis.set_xlabel("layers (depth)")
    axis.set_ylabel("test accuracy")
    axis.set_title(f"{result['dataset']}: accuracy against depth")
    axis.grid(alpha=0.3)
    axis.legend()


def _plot_collapse(axis, result):
    check = result["collapse"]
    deep, single = np.ravel(check["deep"]), np.ravel(check["single"])
    axis.plot(single, deep, ".", markersize=2, alpha=0.5)
    limits = [min(single.min(), deep.min()), max(single.max(), deep.max())]
    axis.plot(limits, limits, "k--", linewidth=0.8, label="equal")
    depth = max(result["depths"])
    axis.set_xlabel(f"one layer, W = W{depth}...W1 ({check['weight_shape'][0]}x{check['weight_shape'][1]})")
    axis.set_ylabel(f"the {depth}-layer linear stack")
    axis.set_title(f"{result['dataset']}: outputs agree to {check['max_difference']:.1e}")
    axis.legend()


def _explain(axis):
    axis.axis("off")
    axis.text(0.0, 0.5, "Why a linear stack collapses:\n\n"
              "  W2 (W1 x + b1) + b2\n  = (W2 W1) x + (W2 b1 + b2)\n\n"
              "one weight matrix, one bias:\nthe same straight boundary\nhowever many layers.\n\n"
              "A ReLU between the layers\nstops the product collapsing.", fontsize=11, va="center", family="monospace")


def _plot_boundary(axis, network, points, labels, title):
    grid = np.linspace(-2.6, 2.6, 160, dtype=np.float32)
    xs, ys = np.meshgrid(grid, grid)
    classes = predict(network, np.stack([xs.ravel(), ys.ravel()], axis=1)).argmax(axis=1).reshape(xs.shape)
    axis.contourf(xs, ys, classes, levels=[-0.5, 0.5, 1.5], colors=["#c6dbef", "#fdd0a2"])
    shown = slice(0, 400)
    axis.scatter(points[shown, 0], points[shown, 1], c=labels[shown], cmap="coolwarm", s=6, edgecolors="none")
    axis.set_title(title)
    axis.set_xlabel("x1")
    axis.set_ylabel("x2")
    axis.set_aspect("equal")
