"""Claim ``nudging``: training nudges the weights.

Backpropagation gives every weight a gradient: how much the loss would grow if that
weight grew a little. Plain gradient descent (SGD) then moves every weight a small step
against its gradient, ``w <- w - lr * gradient``, and the loss goes down a little. Training
is nothing but that step, repeated.

The experiment makes one step visible. A tiny network (2 inputs, 3 hidden units with tanh,
2 outputs: 9 weights and 5 biases) takes one SGD step on eight points; every weight's value,
gradient and step is recorded (:func:`sgd_step`), the steps are checked against
``-lr * gradient``, two gradients against a finite-difference estimate
(:func:`finite_difference`), and the loss before and after the step is compared. Then a
real model, the MLP on the embedded digits, is trained for several epochs while the
distance each layer's weights have travelled from where they started,
``||W_t - W_0|| / ||W_0||``, is recorded at every step (:class:`WeightTravel`).

The claim holds on a run when every weight of the tiny network got a non-zero gradient,
every step equals ``-lr * gradient`` to float32 rounding, the checked gradients agree with
finite differences to 1e-3 (relative), the loss went down after the step, and in the MLP's
run no single step moved a layer by more than 10% of its size while the whole run moved each
layer at least ten times as far as its median step.
"""
import copy
import io

import numpy as np

from .. import nn
from .. import random as gn_random
from ..data import DataLoader, load_dataset
from ..models import mlp
from ..nn import functional as F
from ..optim import SGD
from ..tensor import Tensor, no_grad
from ..train import evaluate, fit
from ..train.callbacks import Callback
from . import claims

LEARNING_RATE = 0.5  # for the tiny network: big enough that the steps show
STEP_TOLERANCE = 1e-6  # |step - (-lr * gradient)| allowed: float32 rounding of weights about 1 in size
GRADIENT_TOLERANCE = 1e-3  # relative disagreement allowed between backprop and finite differences
SMALL_STEP = 0.10  # "a little": no step moves a layer by more than 10% of its norm
TRAVEL_FACTOR = 10  # a whole run moves each layer at least this many median steps' worth


# -- the tiny network and its one step ---------------------------------------------------------

def tiny_network(seed=0):
    """The 2-3-2 network of the picture: Linear(2, 3), tanh, Linear(3, 2).

    >>> tiny_network()
    Sequential(
      (0): Linear(in_features=2, out_features=3, bias=True)
      (1): Tanh()
      (2): Linear(in_features=3, out_features=2, bias=True)
    )
    """
    gn_random.seed(seed)
    return nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2))


def tiny_data():
    """Eight points in the plane and their classes: class 1 where the two coordinates
    have the same sign (an XOR pattern, which needs the hidden layer)."""
    points = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0],
                       [0.5, 0.8], [-0.7, -0.4], [0.6, -0.9], [-0.8, 0.3]], dtype=np.float32)
    labels = (np.sign(points[:, 0]) == np.sign(points[:, 1])).astype(np.int64)
    return points, labels


def loss_of(network, inputs, targets):
    """The cross-entropy loss of ``network`` on one batch, as a float, without a graph."""
    with no_grad():
        return F.cross_entropy(network(Tensor(inputs)), Tensor(targets)).item()


def sgd_step(network, inputs, targets, lr=LEARNING_RATE):
    """One step of plain SGD on one batch, recorded: forward, loss, backward, step.

    Returns a dict: ``loss_before`` and ``loss_after`` (on the same batch), and under
    ``parameters`` one entry per parameter name (``'0.weight'``, ...) with the arrays
    ``before``, ``gradient``, ``after`` and ``step`` (``after - before``: what SGD did,
    to be compared with ``-lr * gradient``).
    """
    if lr <= 0:
        raise ValueError(f"sgd_step: the learning rate must be positive, got {lr}")
    optimizer = SGD(network.parameters(), lr=lr)
    before = {name: p.numpy().copy() for name, p in network.named_parameters()}
    loss = F.cross_entropy(network(Tensor(inputs)), Tensor(targets))
    optimizer.zero_grad()
    loss.backward()
    gradients = {name: p.grad.numpy().copy() for name, p in network.named_parameters()}
    optimizer.step()
    parameters = {}
    for name, p in network.named_parameters():
        after = p.numpy().copy()
        parameters[name] = {"before": before[name], "gradient": gradients[name], "after": after,
                            "step": after - before[name]}
    return {"loss_before": loss.item(), "loss_after": loss_of(network, inputs, targets), "lr": lr,
            "parameters": parameters}


def step_error(record):
    """The largest difference between the step SGD took and ``-lr * gradient``, over every
    weight and bias of a :func:`sgd_step` record."""
    lr = record["lr"]
    return max(float(np.abs(p["step"] + lr * p["gradient"]).max()) for p in record["parameters"].values())


def finite_difference(network, inputs, targets, name, index, epsilon=1e-5):
    """The gradient of the loss with respect to one weight (parameter ``name``, element
    ``index``), estimated without backpropagation: nudge the weight up and down by
    ``epsilon`` and see how the loss changes, ``(L(w + e) - L(w - e)) / 2e``. Computed on a
    float64 copy of the network, so that rounding does not swamp the small difference."""
    copied = copy.deepcopy(network).double()
    parameters = dict(copied.named_parameters())
    if name not in parameters:
        raise ValueError(f"finite_difference: no parameter {name!r}; the network has {', '.join(parameters)}")
    weight = parameters[name]
    values = weight.numpy().copy()
    inputs = np.asarray(inputs, dtype=np.float64)
    losses = []
    for sign in (1, -1):
        nudged = values.copy()
        nudged[index] += sign * epsilon
        weight.data = nudged
        losses.append(loss_of(copied, inputs, targets))
    weight.data = values
    return (losses[0] - losses[1]) / (2 * epsilon)


def gradient_checks(network, inputs, targets, gradients, picks):
    """Backprop's gradient against :func:`finite_difference` for each ``(name, index)`` in
    ``picks``, on the network as it was when ``gradients`` were taken: a list of dicts."""
    checks = []
    for name, index in picks:
        estimate = finite_difference(network, inputs, targets, name, index)
        backprop = float(gradients[name][index])
        error = abs(backprop - estimate) / max(abs(estimate), 1e-8)
        checks.append({"parameter": name, "index": list(index), "backprop": backprop, "finite_difference": estimate,
                       "relative_error": error})
    return checks


def tiny_experiment(seed=0, steps=60, lr=LEARNING_RATE):
    """The shown step (the first) with its checks, then ``steps`` more steps of the same
    kind for the loss curve. Returns a dict of numbers and the network before the step."""
    network = tiny_network(seed)
    inputs, targets = tiny_data()
    start = copy.deepcopy(network)
    record = sgd_step(network, inputs, targets, lr)
    gradients = {name: p["gradient"] for name, p in record["parameters"].items()}
    checks = gradient_checks(start, inputs, targets, gradients, [("0.weight", (1, 0)), ("2.weight", (0, 2))])
    losses = [record["loss_before"], record["loss_after"]]
    for _ in range(steps - 1):
        losses.append(sgd_step(network, inputs, targets, lr)["loss_after"])
    with no_grad():
        accuracy = float((network(Tensor(inputs)).numpy().argmax(axis=1) == targets).mean())
    return {"step": record, "step_error": step_error(record), "gradient_checks": checks, "losses": losses,
            "final_accuracy": accuracy, "inputs": inputs, "targets": targets}


# -- how far a real model's weights travel -----------------------------------------------------

class WeightTravel(Callback):
    """Records, after every optimizer step, how far each weight matrix has moved from where
    it started, relative to its starting size (``||W_t - W_0|| / ||W_0||``), and how far the
    last step alone moved it (``||W_t - W_{t-1}|| / ||W_{t-1}||``).

    ``names``: the parameters to follow (default: every weight matrix, not the biases).
    After training, ``travel[name]`` and ``steps_moved[name]`` are lists, one value a step.
    """

    def __init__(self, names=None):
        self.names = names
        self.start, self.previous, self.travel, self.steps_moved = {}, {}, {}, {}

    def on_train_begin(self, trainer):
        parameters = dict(trainer.model.named_parameters())
        names = self.names or [n for n, p in parameters.items() if n.endswith("weight") and p.ndim >= 2]
        missing = [n for n in names if n not in parameters]
        if missing:
            raise ValueError(f"WeightTravel: no parameter {missing[0]!r}; the model has {', '.join(parameters)}")
        self.names = names
        for name in names:
            self.start[name] = parameters[name].numpy().copy()
            self.previous[name] = self.start[name]
            self.travel[name], self.steps_moved[name] = [], []

    def on_batch_end(self, trainer, step, logs):
        parameters = dict(trainer.model.named_parameters())
        for name in self.names:
            now = parameters[name].numpy().copy()
            self.travel[name].append(relative_distance(now, self.start[name]))
            self.steps_moved[name].append(relative_distance(now, self.previous[name]))
            self.previous[name] = now


def relative_distance(now, start):
    """``||now - start|| / ||start||`` (Frobenius norms): how far a weight matrix has moved,
    as a fraction of its size.

    >>> relative_distance(np.array([3.0, 4.0]), np.array([0.0, 5.0]))
    0.6324555320336759
    """
    size = float(np.linalg.norm(start))
    if size == 0:
        raise ValueError("relative_distance: the starting weights are all zero; the distance has no scale")
    return float(np.linalg.norm(np.asarray(now, dtype=np.float64) - start)) / size


def travel_experiment(epochs, seed=0, lr=0.1, batch_size=32, log=None):
    """Train the MLP (64-128-128-10) on the digits with plain SGD, following each
    layer's weights with :class:`WeightTravel`. Returns a dict of numbers."""
    log = claims.quiet(log)
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    gn_random.seed(seed)
    network = mlp(train.images.shape[1:], len(train.classes))
    untrained = evaluate(network, test)["acc"]
    travel = WeightTravel()
    log(f"digits: training the MLP with SGD for {epochs} epochs, following how far each layer's weights move")
    fit(network, DataLoader(train, batch_size=batch_size, shuffle=True, seed=seed),
        SGD(network.parameters(), lr=lr), epochs=epochs, callbacks=[travel], progress=False,
        out=io.StringIO())
    accuracy = evaluate(network, test)["acc"]
    log(f"  test accuracy {untrained:.1%} before, {accuracy:.1%} after {len(travel.travel[travel.names[0]])} steps")
    layers = {}
    for name in travel.names:
        moved = np.array(travel.steps_moved[name])
        layers[name] = {"shape": list(travel.start[name].shape), "travel": travel.travel[name],
                        "steps_moved": travel.steps_moved[name], "final_travel": travel.travel[name][-1],
                        "largest_step": float(moved.max()), "median_step": float(np.median(moved))}
    return {"epochs": epochs, "lr": lr, "batch_size": batch_size, "steps": len(travel.travel[travel.names[0]]),
            "untrained_accuracy": untrained, "accuracy": accuracy, "layers": layers}


# -- the verdict -------------------------------------------------------------------------------

def judge(tiny, travel):
    """Whether the claim held, part by part (see the module docstring)."""
    gradients = [p["gradient"] for p in tiny["step"]["parameters"].values()]
    layers = travel["layers"].values()
    parts = {
        "every_weight_has_a_gradient": all(bool(np.all(g != 0)) for g in gradients),
        "step_is_minus_lr_gradient": tiny["step_error"] <= STEP_TOLERANCE,
        "backprop_matches_finite_differences": all(c["relative_error"] <= GRADIENT_TOLERANCE
                                                   for c in tiny["gradient_checks"]),
        "loss_went_down": tiny["step"]["loss_after"] < tiny["step"]["loss_before"],
        "steps_are_small": all(layer["largest_step"] <= SMALL_STEP for layer in layers),
        "steps_add_up": all(layer["final_travel"] >= TRAVEL_FACTOR * layer["median_step"] for layer in layers),
    }
    return parts, all(parts.values())


def run(quick=False, seed=0, log=None):
    """One visible SGD step of the 2-3-2 network, then the MLP on the digits for 4 (quick)
    or 20 epochs with every layer's travel recorded; see the module docstring for the
    criterion."""
    log = claims.quiet(log)
    log("the 2-3-2 network: one SGD step, every weight's gradient and step, then 60 more steps")
    tiny = tiny_experiment(seed)
    travel = travel_experiment(4 if quick else 20, seed, log=log)
    parts, held = judge(tiny, travel)
    step = tiny["step"]
    first_layer, last_layer = list(travel["layers"].values())[0], list(travel["layers"].values())[-1]
    number = (f"one step: loss {step['loss_before']:.4f} -> {step['loss_after']:.4f}, step = -lr*gradient to "
              f"{tiny['step_error']:.0e}; MLP weights travelled {first_layer['final_travel']:.0%} (first layer) "
              f"and {last_layer['final_travel']:.0%} (last) in {travel['steps']} steps")
    travels = [layer["final_travel"] for layer in travel["layers"].values()]
    if held:
        verdict = (f"every weight got a gradient (backprop agreed with finite differences to "
                   f"{max(c['relative_error'] for c in tiny['gradient_checks']):.0e}), each SGD step moved it by "
                   f"exactly -lr*gradient and lowered the loss, and on the MLP no step moved a layer by more than "
                   f"{max(l['largest_step'] for l in travel['layers'].values()):.1%} of its size, while over the "
                   f"{travel['steps']} steps the layers travelled {min(travels):.0%}-{max(travels):.0%} of theirs")
    else:
        failed = ", ".join(name.replace("_", " ") for name, ok in parts.items() if not ok)
        verdict = f"these parts did not hold: {failed}"
    data = {"tiny": _tiny_numbers(tiny), "mlp_on_digits": travel, "parts": parts,
            "criterion": (f"held when every weight of the tiny network had a non-zero gradient, its step equalled "
                          f"-lr*gradient to {STEP_TOLERANCE:g}, backprop matched finite differences to "
                          f"{GRADIENT_TOLERANCE:g} (relative), the loss went down, and on the MLP no step moved a "
                          f"layer by more than {SMALL_STEP:.0%} of its norm while the run moved each layer at least "
                          f"{TRAVEL_FACTOR} median steps' worth")}
    return claims.Finding("nudging", held, number, verdict, plot(tiny, travel), data)


def _tiny_numbers(tiny):
    step = tiny["step"]
    return {"lr": step["lr"], "loss_before": step["loss_before"], "loss_after": step["loss_after"],
            "step_error": tiny["step_error"], "gradient_checks": tiny["gradient_checks"], "losses": tiny["losses"],
            "final_accuracy": tiny["final_accuracy"], "inputs": tiny["inputs"], "targets": tiny["targets"],
            "parameters": step["parameters"]}


# -- the figure --------------------------------------------------------------------------------

def plot(tiny, travel):
    """The tiny network with every weight's value, gradient and step; its loss over the
    steps; and how far each of the MLP's layers travelled."""
    from ..inspect import plots

    fig = plots.Figure(figsize=(15, 10.5))
    grid = fig.add_gridspec(2, 3, height_ratios=[1.5, 1])
    _draw_network(fig.add_subplot(grid[0, :]), tiny["step"])
    _plot_losses(fig.add_subplot(grid[1, 0]), tiny["losses"])
    _plot_travel(fig.add_subplot(grid[1, 1]), travel, "travel", "distance from the start, ||W_t - W_0|| / ||W_0||",
                 f"MLP on the digits: how far each layer travelled\n(test accuracy {travel['untrained_accuracy']:.0%} "
                 f"-> {travel['accuracy']:.1%})")
    _plot_travel(fig.add_subplot(grid[1, 2]), travel, "steps_moved", "one step's move, ||W_t - W_t-1|| / ||W_t-1||",
                 "...made of many small steps", log_scale=True)
    fig.suptitle("Training nudges the weights: backpropagation gives each weight a gradient, "
                 "SGD moves it by -lr x gradient")
    fig.tight_layout()
    return fig


def _draw_network(axis, record):
    """Nodes in three columns; each edge labelled with its weight w, gradient g and step,
    drawn thicker the bigger its step, red where the weight grows and blue where it shrinks."""
    parameters = record["parameters"]
    sizes = [parameters["0.weight"]["before"].shape[1], *(parameters[f"{i}.weight"]["before"].shape[0]
                                                          for i in (0, 2))]
    columns = [0.0, 1.0, 2.0]
    heights = [np.linspace(1, -1, size) * (0.45 if size == 2 else 0.9) for size in sizes]
    largest = max(float(np.abs(p["step"]).max()) for p in parameters.values()) or 1.0
    for layer, name in enumerate(("0", "2")):
        weights = parameters[f"{name}.weight"]
        for target, source in np.ndindex(weights["before"].shape):
            start = (columns[layer], heights[layer][source])
            end = (columns[layer + 1], heights[layer + 1][target])
            step = float(weights["step"][target, source])
            axis.plot([start[0], end[0]], [start[1], end[1]], color="#d62728" if step > 0 else "#1f77b4",
                      linewidth=0.6 + 4 * abs(step) / largest, alpha=0.7, zorder=1)
            where = 0.28 + 0.44 * (source / max(sizes[layer] - 1, 1))  # spread the labels along the edges
            x, y = start[0] + where * (end[0] - start[0]), start[1] + where * (end[1] - start[1])
            axis.text(x, y, _edge_label(weights, (target, source)), fontsize=7, ha="center", va="center",
                      family="monospace", zorder=3,
                      bbox=dict(boxstyle="round,pad=0.2", facecolor="white", edgecolor="#bbbbbb", alpha=0.9))
    names = (["x1", "x2"], [f"h{i + 1}" for i in range(sizes[1])], [f"out {i}" for i in range(sizes[2])])
    for layer, (column, ys) in enumerate(zip(columns, heights)):
        for index, y in enumerate(ys):
            axis.scatter([column], [y], s=1300, color="#f2f2f2", edgecolors="black", zorder=2)
            axis.text(column, y, names[layer][index], ha="center", va="center", fontsize=9, zorder=4)
            if layer > 0:  # the node's bias: below a hidden unit, right of an output
                bias = parameters[f"{'0' if layer == 1 else '2'}.bias"]
                x, y, align = (column, y - 0.13, "center") if layer == 1 else (column + 0.1, y, "left")
                axis.text(x, y, "bias\n" + _edge_label(bias, (index,)), fontsize=7, family="monospace", ha=align,
                          va="top" if layer == 1 else "center", zorder=4,
                          bbox=dict(boxstyle="round,pad=0.2", facecolor="#fff8dc", edgecolor="#bbbbbb"))
    axis.set_xlim(-0.25, 2.75)
    axis.set_ylim(-1.2, 1.2)
    axis.axis("off")
    axis.set_title(f"One SGD step of a 2-3-2 network on 8 points (lr = {record['lr']}): each weight w, its gradient g, "
                   f"and its step -lr*g\nloss {record['loss_before']:.4f} before the step, "
                   f"{record['loss_after']:.4f} after (thick red: the weight grew; thick blue: it shrank)")


def _edge_label(parameter, index):
    return (f"w {parameter['before'][index]:+.3f}\ng {parameter['gradient'][index]:+.3f}\n"
            f"step {parameter['step'][index]:+.4f}")


def _plot_losses(axis, losses):
    axis.plot(range(len(losses)), losses, "o-", markersize=3)
    axis.plot([0, 1], losses[:2], "o-", color="#d62728", label="the step shown above")
    axis.set_xlabel("SGD steps")
    axis.set_ylabel("loss on the 8 points")
    axis.set_title("2-3-2 network: step after step")
    axis.grid(alpha=0.3)
    axis.legend()


def _plot_travel(axis, travel, key, ylabel, title, log_scale=False):
    for name, layer in travel["layers"].items():
        rows, columns = layer["shape"]
        axis.plot(range(1, len(layer[key]) + 1), layer[key], linewidth=1,
                  label=f"{name} ({columns}->{rows})")
    if log_scale:
        axis.set_yscale("log")
    axis.set_xlabel("optimizer steps")
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
