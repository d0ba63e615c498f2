"""The health of training: do gradients reach every layer, are the units alive, where do
the weights go?

:class:`HealthMonitor` is a callback (opt-in: it costs a little time) that records, for
every layer with parameters (named as ``model.named_modules()`` names them):

- the norm of the layer's gradient every ``every`` steps: vanishing gradients shrink
  towards the first layers, exploding ones grow without bound;
- the mean, standard deviation and norm of its weights (its ``weight``, or all its
  parameters for a layer without one) at the end of each epoch;
- the mean and standard deviation of its output on a fixed sample batch at the end of each
  epoch and, for ReLU layers, the fraction of dead units (zero for every example: a dead
  unit passes no gradient back, so it never comes alive again);
- histograms of weights, gradients and outputs at chosen epochs (first, middle, last).

Everything is plain JSON (``health.json`` next to the checkpoint; :func:`load_health` reads
it back), and the ``plot_*`` functions draw it.

>>> import numpy as np
>>> dead_fraction(np.array([[0.0, 1.0, 0.0], [0.0, 2.0, 3.0]]))  # unit 0 is zero for both examples
0.3333333333333333
"""
import json
import math
import os

import numpy as np

from .. import nn
from ..backend import xp
from ..data.dataset import standard_dtype
from ..train.callbacks import Callback
from ..train.run import HEALTH, health_path_for  # the run folder's file names live in train.run
from . import plots
from .layers import capture


def load_health(path):
    """The record a :class:`HealthMonitor` saved: a ``health.json`` file or the run folder holding it."""
    if os.path.isdir(path):
        path = os.path.join(path, HEALTH)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no health record at {path!r}; help: train with "
                                "callbacks=[HealthMonitor()] (or 'glassnet train --health') to write one")
    with open(path) as stream:
        return json.load(stream)


class HealthMonitor(Callback):
    """Record the health of every layer while training (see the module's description).

    Args:
        path: where to write the JSON record, after every epoch; by default ``health.json``
            next to the trainer's checkpoint (``save_path``), or nowhere without one.
        every: record gradient norms at steps 1, 1 + every, 1 + 2 * every, ...
        histogram_epochs: the epochs whose histograms are kept; default the first, the
            middle and the last.
        sample: the inputs (N, ...) whose activations are measured; default the first
            ``sample_size`` examples of the first training batch.
        bins: the number of bins of each histogram.

    The record, ``monitor.health``, is a dict of JSON values; a statistic that was not
    finite (NaN or infinite), or of a layer the forward pass did not call, is ``None``::

        layers              {layer: type name}, the layers with trainable parameters
        activation_layers   {layer: type name}, those layers and every ReLU
        gradient_norms      {"step": [...], "epoch": [...], "norm": {layer: [...]}}
        weights             {"epoch": [...], "mean"|"std"|"norm": {layer: [...]}}
        activations         {"epoch": [...], "sample_size": N, "mean"|"std": {layer: [...]},
                             "dead": {relu layer: [...]}, "units": {relu layer: count}}
        histograms          [{"epoch": e, "weights"|"gradients"|"activations":
                              {layer: {"counts": [...], "edges": [...]}}}, ...]

    Gradient histograms are of the first step of their epoch; the others of its end.
    """

    def __init__(self, path=None, every=10, histogram_epochs=None, sample=None, sample_size=64, bins=30):
        if every < 1:
            raise ValueError(f"HealthMonitor: every must be a positive number of steps, got {every}")
        self.path, self.every, self.bins = path, every, bins
        self.histogram_epochs, self.sample_size = histogram_epochs, sample_size
        self.sample = None if sample is None else standard_dtype(getattr(sample, "data", sample))
        self.health = None

    # -- the callback ----------------------------------------------------------------------

    def on_train_begin(self, trainer):
        model = trainer.model
        # The root module is named "" by named_modules; it only holds parameters of its own in
        # models that keep, say, a positional embedding outside any layer.
        self._layers = {name or "(model)": module for name, module in model.named_modules()
                        if any(p.requires_grad for p in module.parameters(recurse=False))}
        self._watched = {name: module for name, module in model.named_modules()
                         if name and (name in self._layers or isinstance(module, nn.ReLU))}
        relus = [name for name, module in self._watched.items() if isinstance(module, nn.ReLU)]
        epochs = trainer.epochs or 1
        self._histogram_epochs = set(self.histogram_epochs or {1, (epochs + 1) // 2, epochs})
        self._gradient_histograms = {}
        self._path = self.path or (health_path_for(trainer.save_path) if trainer.save_path else None)
        self.health = {
            "every": self.every,
            "layers": {name: type(module).__name__ for name, module in self._layers.items()},
            "activation_layers": {name: type(module).__name__ for name, module in self._watched.items()},
            "gradient_norms": {"step": [], "epoch": [], "norm": _per_layer(self._layers)},
            "weights": {"epoch": [], **{stat: _per_layer(self._layers) for stat in ("mean", "std", "norm")}},
            "activations": {"epoch": [], "sample_size": 0, "mean": _per_layer(self._watched),
                            "std": _per_layer(self._watched), "dead": _per_layer(relus), "units": {}},
            "histograms": [],
        }

    def on_after_backward(self, trainer, step):
        record_norms = (step - 1) % self.every == 0
        histogram = trainer.epoch in self._histogram_epochs and trainer.epoch not in self._gradient_histograms
        if not (record_norms or histogram):
            return
        # A parameter without a gradient got none from this loss: a gradient of zero.
        grads = {name: _flat(p.grad.numpy() for p in module.parameters(recurse=False) if p.grad is not None)
                 for name, module in self._layers.items()}
        if record_norms:
            record = self.health["gradient_norms"]
            record["step"].append(step)
            record["epoch"].append(trainer.epoch)
            for name, values in grads.items():
                record["norm"][name].append(_number(xp.linalg.norm(values)))
        if histogram:
            self._gradient_histograms[trainer.epoch] = {
                name: _histogram(_flat(p.grad.numpy() for p in _weights(module) if p.grad is not None), self.bins)
                for name, module in self._layers.items()}

    def on_batch_end(self, trainer, step, logs):
        if self.sample is None:
            inputs = logs["inputs"]
            self.sample = np.array(inputs.numpy() if hasattr(inputs, "numpy") else inputs[: self.sample_size])  # a copy

    def on_epoch_end(self, trainer, epoch, logs):
        weights = {name: _flat(p.numpy() for p in _weights(module)) for name, module in self._layers.items()}
        record = self.health["weights"]
        record["epoch"].append(epoch)
        for name, values in weights.items():
            record["mean"][name].append(_number(values.mean()) if values.size else 0.0)
            record["std"][name].append(_number(values.std()) if values.size else 0.0)
            record["norm"][name].append(_number(xp.linalg.norm(values)))
        outputs = self._activations(trainer.model) if self.sample is not None else None
        if outputs is not None:
            self._record_activations(epoch, outputs)
        if epoch in self._histogram_epochs:
            self.health["histograms"].append({
                "epoch": epoch,
                "weights": {name: _histogram(values, self.bins) for name, values in weights.items()},
                "gradients": self._gradient_histograms.pop(epoch, {}),
                "activations": {name: _histogram(_flat([value]), self.bins) for name, value in (outputs or {}).items()},
            })
        if self._path:  # every epoch, so that a run that crashes later leaves its record
            self.save(self._path)

    def on_train_end(self, trainer):
        if self._path:
            self.save(self._path)

    # -- measuring ---------------------------------------------------------------------------

    def _activations(self, model):
        """{layer: its output (N, ...) on the sample}, in eval mode (dropout off, batch norm on
        its running statistics) so that epochs compare like with like."""
        was_training = model.training
        model.eval()
        try:
            # A diverging network overflows; its statistics then say so (as None).
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                _, outputs = capture(model, self.sample, list(self._watched))
        finally:
            model.train(was_training)
        return {name: _first_array(value) for name, value in outputs.items()}

    def _record_activations(self, epoch, outputs):
        record = self.health["activations"]
        record["epoch"].append(epoch)
        record["sample_size"] = len(self.sample)
        for name in self._watched:
            if name not in outputs:  # a layer the forward pass did not call: nothing to measure
                for stat in ("mean", "std", "dead"):
                    record[stat].get(name, []).append(None)
                continue
            values = _flat([outputs[name]])
            record["mean"][name].append(_number(values.mean()))
            record["std"][name].append(_number(values.std()))
            if name in record["dead"]:
                record["dead"][name].append(dead_fraction(outputs[name]))
                record["units"][name] = _unit_count(outputs[name])

    def save(self, path):
        """Write the record as JSON to ``path``; returns the path."""
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        with open(path, "w") as stream:
            json.dump(self.health, stream, allow_nan=False)  # strict JSON: non-finite values are None
        return path


def _weights(module):
    """The parameters whose statistics describe a layer: its ``weight`` (a batch norm's
    scale and shift mixed in one histogram would show two unrelated bumps), or all its own
    parameters when it has none by that name."""
    weight = getattr(module, "weight", None)
    if isinstance(weight, nn.Parameter):
        return [weight]
    return list(module.parameters(recurse=False))


def _per_layer(names):
    return {name: [] for name in names}


def dead_fraction(activations):
    """The fraction of units whose output is zero for every example of the batch.

    A unit is a channel of an image batch (N, C, H, W) (zero at every position too) and a
    feature on the last axis otherwise: (N, D) or (N, T, D).
    """
    activations = np.asarray(activations)
    axis = _unit_axis(activations)
    others = tuple(a for a in range(activations.ndim) if a != axis)
    alive = (activations != 0).any(axis=others)
    return float((~alive).mean())


def _unit_axis(activations):
    return 1 if activations.ndim == 4 else activations.ndim - 1


def _unit_count(activations):
    return int(np.shape(activations)[_unit_axis(np.asarray(activations))])


def _first_array(value):
    """A layer's output as an array: the first element of a tuple output (an LSTM's
    ``(output, (h, c))``, attention's ``(output, weights)``)."""
    while isinstance(value, (tuple, list)):
        value = value[0]
    return getattr(value, "data", value)


def _flat(arrays):
    """The arrays raveled into one float64 vector (float64 so that sums of squares of large
    values do not overflow)."""
    arrays = [xp.asarray(a, dtype=xp.float64).ravel() for a in arrays]
    return xp.concatenate(arrays) if arrays else xp.zeros(0)


def _number(value):
    """A float for JSON, or None where it is NaN or infinite."""
    value = float(value)
    return value if math.isfinite(value) else None


def _histogram(values, bins):
    """{"counts": [bins ints], "edges": [bins + 1 floats]} of the finite values, or None if none is."""
    values = values[xp.isfinite(values)]
    if values.size == 0:
        return None
    counts, edges = xp.histogram(values, bins=bins)
    return {"counts": counts.tolist(), "edges": edges.tolist()}


# -- pictures ------------------------------------------------------------------------------

def _series(values):
    """Stored numbers (None where not finite) as a float array with NaN gaps, for plotting."""
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _depth_colours(count):
    # first layers dark, last layers bright: depth reads as colour
    return plots.colormaps["viridis"](np.linspace(0.0, 0.9, max(count, 1)))


def plot_gradient_norms(health, layers=None):
    """The gradient norm of each layer over the training steps, on a log scale: vanishing
    gradients show as the first layers' lines far below the last ones'."""
    record = health["gradient_norms"]
    layers = list(layers or health["layers"])
    fig, axis = plots.figure(8, 4.5)
    steps = np.array(record["step"])
    for name, colour in zip(layers, _depth_colours(len(layers))):
        norms = _series(record["norm"][name])
        norms[norms <= 0] = np.nan  # nothing to draw for a zero on a log scale
        axis.plot(steps, norms, color=colour, linewidth=1.2, label=f"{name} ({health['layers'][name]})")
    axis.set_yscale("log")
    axis.set_xlabel("training step")
    axis.set_ylabel("gradient norm (L2, log scale)")
    axis.set_title(f"Gradient norm per layer (every {health['every']} steps; first layers dark, last bright)")
    axis.grid(True, which="major", alpha=0.3)
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="layer")
    return fig


def plot_dead_units(health):
    """The percentage of dead units (zero for every sample example) of each ReLU layer, per epoch."""
    record = health["activations"]
    fig, axis = plots.figure(7, 4)
    axis.set_title(f"Dead ReLU units (zero for all {record['sample_size']} sample inputs)")
    if not record["dead"]:
        axis.text(0.5, 0.5, "the model has no ReLU layers", ha="center", va="center", transform=axis.transAxes)
        axis.set_axis_off()
        return fig
    for name, colour in zip(record["dead"], _depth_colours(len(record["dead"]))):
        units = record["units"].get(name, "?")
        percent = 100 * _series(record["dead"][name])
        axis.plot(record["epoch"], percent, "o-", color=colour, label=f"ReLU {name} ({units} units)")
    axis.set_ylim(-3, 103)
    axis.set_xlabel("epoch")
    axis.set_ylabel("dead units (%)")
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8)
    return fig


def plot_histograms(health, layers=None, kinds=("weights", "gradients", "activations")):
    """One row per layer, one column per kind (weights, gradients, outputs); each panel
    overlays the histograms of the chosen epochs, as fractions of the values."""
    entries = health["histograms"]
    names = {**health["layers"], **health["activation_layers"]}
    layers = list(layers or health["layers"])
    fig, axes = plots.figure(3.4 * len(kinds), 2.3 * len(layers) + 0.6, nrows=len(layers), ncols=len(kinds),
                             squeeze=False)
    colours = plots.colormaps["plasma"](np.linspace(0.0, 0.8, max(len(entries), 1)))
    titles = {"weights": "weights", "gradients": "gradients", "activations": "outputs"}
    for row, name in enumerate(layers):
        for column, kind in enumerate(kinds):
            axis = axes[row, column]
            axis.set_title(f"{name} ({names.get(name, '?')}): {titles[kind]}", fontsize=9)
            drawn = False
            for entry, colour in zip(entries, colours):
                histogram = entry[kind].get(name)
                if histogram is None:
                    continue
                counts = np.array(histogram["counts"], dtype=np.float64)
                fractions = counts / max(counts.sum(), 1)
                axis.stairs(fractions, histogram["edges"], color=colour, label=f"epoch {entry['epoch']}")
                drawn = True
            if not drawn:
                axis.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=axis.transAxes, fontsize=8)
            axis.tick_params(labelsize=7)
            if column == 0:
                axis.set_ylabel("fraction", fontsize=8)
            if row == len(layers) - 1:
                axis.set_xlabel("value", fontsize=8)
    if entries:
        axes[0, 0].legend(fontsize=7)
    epochs = ", ".join(str(entry["epoch"]) for entry in entries) or "none recorded"
    fig.suptitle(f"Histograms per layer at epochs {epochs}")
    fig.tight_layout()
    return fig
