"""The seed's claims, each one an experiment a learner runs: ``glassnet lab NAME``.

glassnet grew from a text that explains deep learning ("What is Deep Learning? Neural
Networks Explained Simply"). The text makes claims (accuracy climbs from chance; depth needs
non-linearity; early layers learn edges; ...). Each claim here is a module of
``glassnet.lab`` with one function, ``run(quick=False, seed=0, log=None)``, that trains what
it needs on this machine and returns a :class:`Finding`: the number, a one-line verdict that
says whether the claim held *here*, a figure, and every number behind it. A claim that did
not hold says so plainly; the lab reports what happened.

``quick=True`` runs the same experiment on less data and fewer steps (seconds, for the tests,
which assert the direction of each effect); the full run takes at most a few minutes on two
cores.

>>> [claim.name for claim in CLAIMS.values()][:3]
['accuracy-climb', 'linear-depth', 'feature-hierarchy']
>>> CLAIMS["linear-depth"].module
'linear_depth'
"""
import dataclasses
import functools
import importlib
import io
import json
import os
import time

import numpy as np

from .. import random as gn_random
from ..data import DataLoader
from ..data.registry import DATASETS, load_dataset
from ..train.run import plain_json


@dataclasses.dataclass
class Finding:
    """What one claim's experiment found on this machine.

    Attributes:
        name: the claim's name, e.g. ``'linear-depth'``.
        held: whether the claim held on this run (the direction of its effect).
        number: the headline figure, one short line (``'deep linear 0.91, one layer 0.92,
            deep ReLU 0.97'``).
        verdict: one sentence that says whether and how the claim held here.
        figure: a matplotlib Figure that shows it (written as NAME.png).
        data: every number behind the verdict, JSON-able (written as NAME.json).
        seconds: wall time of the experiment.
        settings: how it was run (``quick``, ``seed``), set by :func:`run`.
    """

    name: str
    held: bool
    number: str
    verdict: str
    figure: object = None
    data: dict = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    settings: dict = dataclasses.field(default_factory=dict)

    def line(self):
        """The one line ``glassnet lab NAME`` prints last."""
        return f"{self.name}: {'held' if self.held else 'did NOT hold'} here: {self.verdict} ({self.number})"


@dataclasses.dataclass(frozen=True)
class Claim:
    """One of the seed's claims: its name, the claim in words, the section of the text it
    belongs to, and the module of ``glassnet.lab`` whose ``run`` tests it."""

    name: str
    statement: str
    section: str
    module: str


# The sections of the seed text, in its order: the lab's page follows them.
SECTIONS = {
    "what": "What deep learning is",
    "neuron": "The neuron",
    "training": "Training",
    "depth": "Why depth matters",
    "traditional": "Deep versus traditional learning",
    "digits": "The digits example",
    "families": "The four families",
    "limitations": "The limitations",
}

CLAIMS = {claim.name: claim for claim in [
    Claim("accuracy-climb", "Accuracy climbs from chance: about 10% before training, about 90% after one pass over "
          "the data, above 99% for a well-designed network after several.", "digits", "accuracy_climb"),
    Claim("linear-depth", "Without activations, depth adds nothing: a deep stack of linear layers is one linear map "
          "and learns no better than one layer; the same depth with ReLU does.", "depth", "linear_depth"),
    Claim("feature-hierarchy", "Early layers learn edges, middle layers shapes, later layers objects.", "depth",
          "feature_hierarchy"),
    Claim("nudging", "Training nudges the weights: backpropagation gives every weight a gradient, and each step "
          "moves it a little.", "training", "nudging"),
    Claim("data-hunger", "Deep learning needs more data than traditional methods.", "traditional", "data_hunger"),
    Claim("learned-features", "Learned features beat hand-made ones.", "what", "learned_features"),
    Claim("long-range", "Recurrent networks forget long sequences; LSTMs and transformers do not.", "families",
          "long_range"),
    Claim("bias", "Models learn the biases of their data.", "limitations", "bias"),
    Claim("crafted-noise", "Crafted noise invisible to people fools the model.", "limitations", "crafted_noise"),
    Claim("black-box", "A network is a black box, but it can be opened: which pixels made the decision.",
          "limitations", "black_box"),
    Claim("transfer", "Transfer learning needs less data.", "limitations", "transfer"),
    Claim("matrix-math", "The matrix math is what costs: a network's time goes to multiply-adds.", "neuron",
          "matrix_math"),
]}


def claim(name):
    """The :class:`Claim` called ``name``, or a ValueError that lists the names."""
    if name not in CLAIMS:
        raise ValueError(f"unknown claim {name!r}; choose one of: {', '.join(CLAIMS)}")
    return CLAIMS[name]


def run(name, quick=False, seed=0, log=None):
    """Run the experiment of the claim ``name`` and return its :class:`Finding`, timed."""
    module = importlib.import_module(f"{__package__}.{claim(name).module}")
    start = time.perf_counter()
    finding = module.run(quick=quick, seed=seed, log=log)
    finding.seconds = time.perf_counter() - start
    finding.settings = {"quick": bool(quick), "seed": seed}
    return finding


def save(finding, out):
    """Write ``finding``'s figure as ``out/NAME.png`` and its numbers as ``out/NAME.json``;
    return the two paths (the PNG is None when the finding has no figure)."""
    from ..inspect import plots

    os.makedirs(out, exist_ok=True)
    png = None
    if finding.figure is not None:
        png = plots.save(finding.figure, os.path.join(out, f"{finding.name}.png"))
    record = {"name": finding.name, "claim": CLAIMS[finding.name].statement, "held": bool(finding.held),
              "number": finding.number, "verdict": finding.verdict, "seconds": round(finding.seconds, 2),
              **finding.settings, "data": finding.data}
    return png, _write_record(record, out)


def save_failure(name, error, out, quick=False, seed=0):
    """Record that the claim ``name`` could not run (``error``, an exception) as
    ``out/NAME.json``, removing the picture of an earlier run; return the JSON's path."""
    os.makedirs(out, exist_ok=True)
    stale = os.path.join(out, f"{name}.png")
    if os.path.exists(stale):
        os.remove(stale)
    record = {"name": name, "claim": CLAIMS[name].statement, "error": str(error), "quick": bool(quick), "seed": seed}
    return _write_record(record, out)


def load_record(name, out):
    """The JSON record :func:`save` or :func:`save_failure` wrote for ``name`` in ``out``, or None."""
    path = os.path.join(out, f"{name}.json")
    if not os.path.exists(path):
        return None
    with open(path) as stream:
        return json.load(stream)


def _write_record(record, out):
    path = os.path.join(out, f"{record['name']}.json")
    with open(path, "w") as stream:
        json.dump(record, stream, indent=1, default=plain_json)
        stream.write("\n")
    return path


def quiet(log):
    """``log``, or a function that says nothing."""
    return log if log is not None else (lambda text: None)


# -- what several claims share --------------------------------------------------------------

def image_data(prefer="fashion-mnist", quick=False, data_root=None):
    """The lab's image data set: ``prefer`` when its files are on this machine (or, for a
    full run, can be downloaded), else the embedded digits. Returns ``(name, train, test)``;
    ``quick`` keeps 2000 training and 500 test images of a large set (the digits stay whole)
    and never downloads, so the tests need no network."""
    if prefer not in DATASETS:
        raise ValueError(f"image_data: unknown data set {prefer!r}; choose one of: {', '.join(DATASETS)}")
    name = prefer
    if name != "digits":
        try:
            load = functools.partial(DATASETS[name], root=data_root, download=not quick)
            train, test = load("train"), load("test")
        except OSError:  # not on this machine (nor fetched: a quick run never downloads)
            name = "digits"
    if name == "digits":
        train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    if quick and len(train) > 2000:
        train, test = subset(train, 2000, seed=0), subset(test, 500, seed=1)
    return name, train, test


def subset(dataset, size, seed=0):
    """A random subset of ``size`` examples of an ImageDataset (all of it when smaller), in
    their order in ``dataset``: :func:`compare.training_subset`'s choice under ``seed``."""
    from .compare import _subset, training_subset

    if size >= len(dataset):
        return dataset
    return _subset(dataset, np.sort(training_subset(len(dataset), size, seed)))


@functools.lru_cache(maxsize=4)
def trained(model="cnn", dataset="fashion-mnist", epochs=2, quick=False, seed=0, lr=1e-3, batch_size=64):
    """A network of ``glassnet.models`` trained on :func:`image_data` (Adam), shared by the
    claims that look at a trained network (features, attributions, attacks), so that
    ``glassnet lab --all`` trains it once. Returns ``(network, data_name, train, test,
    history)``; the network is in eval mode. Do not train it further: copy it first."""
    from ..models import build
    from ..optim import Adam
    from ..train import fit

    name, train, test = image_data(dataset, quick)
    gn_random.seed(seed)
    network = build(model, train.images.shape[1:], len(train.classes))
    loader = DataLoader(train, batch_size=batch_size, shuffle=True, seed=seed)
    history = fit(network, loader, Adam(network.parameters(), lr=lr), epochs=epochs, val=test, progress=False,
                  out=io.StringIO())
    network.eval()
    return network, name, train, test, history
