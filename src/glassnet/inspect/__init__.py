"""Look inside a network: what it learned, why it predicts, where it fails.

Every tool takes a model (or a saved run, :func:`load_run`) and returns numbers as NumPy
arrays; the ``plot_*`` functions draw them as matplotlib figures (write them with
:func:`save`, or as PNG bytes with :func:`to_png`). The groups below follow the questions
a learner asks:

- **A saved run and its layers**: the checkpoint and history that ``glassnet train`` writes;
  layers found by name, their outputs recorded.
- **How training went**: loss and accuracy per epoch and per step; the health of every
  layer (gradient norms, weight and activation statistics, dead ReLU units) recorded by the
  :class:`HealthMonitor` callback; hints that read problems off both, naming the evidence.
- **What it learned**: first-layer weights as images, conv filters, the feature maps of one
  input, the inputs that excite a unit most.
- **Why this prediction**: saliency, integrated gradients, Grad-CAM, attention maps, the
  top-k probabilities.
- **What the layers represent**: each layer's activations in 2-D (PCA, t-SNE), coloured by
  class, with a number for how well the classes separate.
- **Where it fails**: the confusion matrix, per-class precision and recall, the most
  confident mistakes.
- **How brittle it is**: FGSM and PGD adversarial examples against random noise of the same
  size; accuracy under small rotations and shifts.
- **What backpropagation walks**: the computation graph behind a loss, one box per op with
  the shape it gave, parameters named (:func:`graph`: text, a figure, SVG).
- **The report**: all of the above on one self-contained HTML page (:func:`report.report`).

The saved run itself (:func:`load_run`, :class:`Run`) is defined in :mod:`glassnet.train.run`,
next to the loop that writes it; comparing deep and traditional learning, which trains
several models, is an experiment of :mod:`glassnet.lab`.
"""
# a saved run and its layers
from .layers import capture, get_layer, layer_names
from .plots import image_grid, save, to_png
from ..train.run import Run, load_run, read_history

# how training went
from .curves import plot_curves
from .health import HealthMonitor, health_path_for, load_health, plot_dead_units, plot_gradient_norms, plot_histograms
from .hints import Hint, diagnose, format_hints

# what it learned
from .features import (conv_filters, edge_score, feature_maps, first_layer_weights, plot_feature_maps, plot_filters,
                       plot_top_activating, plot_weights, top_activating)

# why this prediction
from .attribution import (attention_maps, grad_cam, integrated_gradients, plot_attention, plot_attribution,
                          plot_top_k, saliency, top_k)

# what the layers represent
from .embedding import activations, embed, layer_embeddings, plot_embeddings, separation

# where it fails
from .errors import (confident_mistakes, confusion, per_class_report, plot_confusion, plot_mistakes, plot_per_class,
                     predict_proba)

# how brittle it is
from .adversarial import (fgsm, pgd, plot_adversarial_example, plot_robustness, plot_transform_accuracy,
                          random_sign_noise, robustness_curve, rotate, shift, transform_accuracy)

# what backpropagation walks (gn.inspect.graph is the function; its module is inspect/graph.py)
from .graph import Graph, graph, graph_svg, model_graph, plot_graph

# the report (report.report): the module, as its main function shares its name
from . import report

__all__ = [
    "Run", "load_run", "read_history", "capture", "get_layer", "layer_names", "image_grid", "save", "to_png",
    "plot_curves", "HealthMonitor", "health_path_for", "load_health", "plot_dead_units", "plot_gradient_norms",
    "plot_histograms", "Hint", "diagnose", "format_hints",
    "conv_filters", "edge_score", "feature_maps", "first_layer_weights", "plot_feature_maps", "plot_filters",
    "plot_top_activating", "plot_weights", "top_activating",
    "attention_maps", "grad_cam", "integrated_gradients", "plot_attention", "plot_attribution", "plot_top_k",
    "saliency", "top_k",
    "activations", "embed", "layer_embeddings", "plot_embeddings", "separation",
    "confident_mistakes", "confusion", "per_class_report", "plot_confusion", "plot_mistakes", "plot_per_class",
    "predict_proba",
    "fgsm", "pgd", "plot_adversarial_example", "plot_robustness", "plot_transform_accuracy", "random_sign_noise",
    "robustness_curve", "rotate", "shift", "transform_accuracy",
    "Graph", "graph", "graph_svg", "model_graph", "plot_graph",
    "report",
]
