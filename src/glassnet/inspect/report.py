"""The report: one HTML page that shows a learner everything the inspection tools see in
a saved run, ``glassnet report RUN_DIR``.

The pictures come from *views*: small functions that take the run and its test images
(an :class:`Evidence`) and return named figures plus a few lines of text.
``glassnet inspect RUN_DIR --what NAME`` writes the figures of one view as PNG files;
:func:`report` puts them all on a page, every image embedded as a ``data:`` URI, so the
file stands alone (no other files, no network).
"""
import base64
import dataclasses
import functools
import html
import os

import numpy as np

from .. import nn
from ..train.run import HISTORY, REPORT, Run, load_run
from . import adversarial, attribution, embedding, errors, features, health, hints, layers, plots
from .curves import plot_curves
from .graph import model_graph

EXAMPLES = 8  # test images shown with their attributions
EPSILONS = (0.0, 0.02, 0.05, 0.1, 0.2)  # perturbation sizes of the robustness curve
DPI = 72  # small files, still legible
GRAPH_BATCH = 2  # test images the computation graph is drawn on


@dataclasses.dataclass
class View:
    """What one view shows: figures by file name (without .png) and text for the terminal."""

    figures: dict
    text: str = ""


class Evidence:
    """A run with its test set, and a fixed random sample of ``images`` test images for
    the expensive views (attacks, embeddings, transforms); the predictions on the whole
    test set are computed once, when first needed."""

    def __init__(self, run, images=300, data_root=None, seed=0):
        self.run = run
        test = run.dataset("test", data_root)
        if tuple(test.images.shape[1:]) != run.input_shape:
            raise ValueError(f"the model takes images of shape {run.input_shape}, but the "
                             f"{run.metadata['dataset']} test images are {tuple(test.images.shape[1:])}")
        self.images, self.labels = test.images, np.asarray(test.labels, dtype=np.int64)
        chosen = np.random.default_rng(seed).permutation(len(self.images))[:images]
        self.sample, self.sample_labels = self.images[chosen], self.labels[chosen]

    @property
    def classes(self):
        return self.run.classes

    @functools.cached_property
    def probabilities(self):
        return layers.predict_proba(self.run, self.images)

    @functools.cached_property
    def health(self):
        """The health record next to the checkpoint, or None if training did not keep one."""
        path = os.path.join(self.run.directory, health.HEALTH)
        return health.load_health(path) if os.path.exists(path) else None

    def has_conv(self):
        return any(isinstance(module, nn.Conv2d) for module in self.run.model.modules())

    def examples(self, index=0, count=EXAMPLES):
        """``count`` test images from ``index`` on, their labels, and one-line titles: the class when
        the prediction is right, 'true → predicted' when it is wrong."""
        if not 0 <= index < len(self.images):
            raise ValueError(f"--index {index} is outside the test set (0 to {len(self.images) - 1})")
        chosen = slice(index, min(index + count, len(self.images)))
        predicted = layers.predict_proba(self.run, self.images[chosen]).argmax(axis=1)
        titles = [self.classes[label] if label == guess else f"{self.classes[label]} → {self.classes[guess]}"
                  for label, guess in zip(self.labels[chosen], predicted)]
        return self.images[chosen], self.labels[chosen], titles


# -- the views -----------------------------------------------------------------------------


def view_curves(evidence, **_):
    history = evidence.run.history
    if not history:
        raise FileNotFoundError(f"run {evidence.run.directory!r} has no {HISTORY} to draw curves from")
    last = history[-1]
    text = f"epoch {last['epoch']}: " + ", ".join(f"{key} {last[key]:.4f}" for key in
                                                 ("train_loss", "train_acc", "val_loss", "val_acc") if last.get(key) is not None)
    return View({"curves": plot_curves(history, val_label="test")}, text)


def view_health(evidence, **_):
    record = evidence.health or health.load_health(evidence.run.directory)  # the latter explains what is missing
    return View({"gradient-norms": health.plot_gradient_norms(record), "dead-units": health.plot_dead_units(record),
                 "histograms": health.plot_histograms(record)})


def view_hints(evidence, **_):
    found = hints.diagnose(evidence.run.history, evidence.health, num_classes=len(evidence.classes))
    return View({}, hints.format_hints(found))


def view_weights(evidence, **_):
    return View({"weights": features.plot_weights(features.first_layer_weights(evidence.run))})


def view_filters(evidence, layer=None, **_):
    filters = features.conv_filters(evidence.run, layer)
    scores = [features.edge_score(kernel) for kernel in filters[:, 0]]
    text = f"{len(filters)} filters of shape {filters.shape[1:]}; mean edge score {np.mean(scores):.2f}"
    title = f"Conv filters of layer {layer}" if layer else "The first convolution's filters"
    return View({"filters": features.plot_filters(filters, title=title)}, text)


def view_features(evidence, index=0, layer=None, **_):
    image = evidence.examples(index, 1)[0][0]
    maps = features.feature_maps(evidence.run, image, None if layer is None else [layer])
    title = f"What the layers output for test image #{index}"
    return View({"feature-maps": features.plot_feature_maps(maps, image=image, title=title)})


def _last_activation(model):
    """The last non-linearity (ReLU, GELU, ...): its units are the features the classifier reads."""
    hidden = embedding.default_layers(model)[1:-1]  # without the input and the logits
    if not hidden:
        raise ValueError("the model has no activation layer to pick units from; help: choose a layer with --layer")
    return hidden[-1]


def view_top(evidence, layer=None, unit=0, **_):
    layer = layer or _last_activation(evidence.run.model)
    indices, values = features.top_activating(evidence.run, evidence.sample, layer, unit)
    title = f"The {len(indices)} of {len(evidence.sample)} test images that excite unit {unit} of layer {layer} most"
    figure = features.plot_top_activating(evidence.sample, indices, values, evidence.sample_labels, evidence.classes,
                                          title=title)
    return View({"top-activating": figure})


def _attribution_view(name, compute, title):
    def view(evidence, index=0, layer=None, **_):
        images, _, titles = evidence.examples(index)
        maps = compute(evidence.run, images, layer)
        return View({name: attribution.plot_attribution(images, maps, titles, title=title)})
    view.__doc__ = f"{title}, for {EXAMPLES} test images from --index on."
    return view


view_saliency = _attribution_view(
    "saliency", lambda run, images, _: attribution.saliency(run, images),
    "Saliency: |d score / d pixel| of the predicted class (titles: true → predicted where wrong)")
view_integrated_gradients = _attribution_view(
    "integrated-gradients", lambda run, images, _: attribution.integrated_gradients(run, images),
    "Integrated gradients (red raised the score, blue lowered it)")
view_gradcam = _attribution_view(
    "gradcam", lambda run, images, layer: attribution.grad_cam(run, images, layer=layer),
    "Grad-CAM: where the last convolution's maps drove the prediction")


def view_topk(evidence, index=0, **_):
    images, labels, _ = evidence.examples(index, 4)
    probabilities, indices = attribution.top_k(evidence.run, images, k=min(5, len(evidence.classes)))
    figure = attribution.plot_top_k(images, probabilities, indices, evidence.classes, labels,
                                    title="The five most probable classes")
    return View({"top-k": figure})


def view_attention(evidence, index=0, **_):
    """Where a ViT's class token looks, per layer and head, for one test image."""
    images, labels, titles = evidence.examples(index, 1)
    maps = attribution.attention_maps(evidence.run, images)
    figure = attribution.plot_attention(maps, image=images[0],
                                        title=f"Where the class token attends, per layer and head ({titles[0]})")
    return View({"attention": figure})


def view_embedding(evidence, method="pca", **_):
    points = embedding.layer_embeddings(evidence.run, evidence.sample, method=method)
    figure = embedding.plot_embeddings(points, evidence.sample_labels, evidence.classes, model=evidence.run)
    text = "\n".join(f"{name}: separation {embedding.separation(p, evidence.sample_labels):.2f}"
                     for name, p in points.items())
    return View({f"embedding-{method}": figure}, text)


def per_class(evidence):
    """:func:`.errors.per_class_report` of the whole test set."""
    return errors.per_class_report(evidence.labels, evidence.probabilities.argmax(axis=1), evidence.classes)


def format_per_class(report):
    """The per-class report as a text table."""
    width = max(len(name) for name in report["classes"]) + 2
    lines = [f"{'class':<{width}}precision  recall     f1  images"]
    for row in zip(report["classes"], report["precision"], report["recall"], report["f1"], report["support"]):
        lines.append(f"{row[0]:<{width}}{row[1]:9.3f} {row[2]:7.3f} {row[3]:6.3f} {row[4]:7d}")
    lines.append(f"accuracy {report['accuracy']:.2%} on {sum(report['support'])} test images")
    return "\n".join(lines)


def view_confusion(evidence, **_):
    predicted = evidence.probabilities.argmax(axis=1)
    matrix = errors.confusion(evidence.labels, predicted, len(evidence.classes))
    report = per_class(evidence)
    return View({"confusion": errors.plot_confusion(matrix, evidence.classes), "per-class": errors.plot_per_class(report)},
                format_per_class(report))


def view_mistakes(evidence, **_):
    figure = errors.plot_mistakes(evidence.images, evidence.labels, evidence.probabilities, evidence.classes)
    return View({"mistakes": figure})


def view_adversarial(evidence, index=0, epsilon=0.1, **_):
    images, labels, _ = evidence.examples(index, 1)
    attacked = adversarial.fgsm(evidence.run, images, labels, epsilon)
    figure = adversarial.plot_adversarial_example(evidence.run, images[0], attacked[0], labels[0], evidence.classes)
    return View({"adversarial": figure})


def view_robustness(evidence, **_):
    curve = adversarial.robustness_curve(evidence.run, evidence.sample, evidence.sample_labels, EPSILONS, steps=7)
    lines = [f"epsilon {e:.2f}: FGSM {f:.1%}, PGD {p:.1%}, noise {n:.1%}"
             for e, f, p, n in zip(curve["epsilon"], curve["fgsm"], curve["pgd"], curve["noise"])]
    title = f"Accuracy under attack and under noise ({len(evidence.sample)} test images)"
    return View({"robustness": adversarial.plot_robustness(curve, title=title)}, "\n".join(lines))


def view_transforms(evidence, **_):
    result = adversarial.transform_accuracy(evidence.run, evidence.sample, evidence.sample_labels)
    title = f"Accuracy on rotated and shifted test images ({len(evidence.sample)} images)"
    return View({"transforms": adversarial.plot_transform_accuracy(result, title=title)})


def computation_graph(evidence):
    """The :class:`.graph.Graph` of the model's forward pass and loss on a few test images."""
    return model_graph(evidence.run, evidence.images[:GRAPH_BATCH], evidence.labels[:GRAPH_BATCH])


def view_graph(evidence, **_):
    """The computation graph that backpropagation walks, drawn and as text."""
    found = computation_graph(evidence)
    return View({"graph": found.figure()}, str(found))


VIEWS = {
    "curves": view_curves, "health": view_health, "hints": view_hints, "weights": view_weights,
    "filters": view_filters, "features": view_features, "top": view_top, "saliency": view_saliency,
    "integrated-gradients": view_integrated_gradients, "gradcam": view_gradcam, "topk": view_topk,
    "attention": view_attention,
    "embedding": view_embedding, "confusion": view_confusion, "mistakes": view_mistakes,
    "adversarial": view_adversarial, "robustness": view_robustness, "transforms": view_transforms,
    "graph": view_graph,
}


def show(run, what, images=300, data_root=None, **options):
    """Compute the view ``what`` (a name of :data:`VIEWS`) of a run (or run folder)."""
    if what not in VIEWS:
        raise ValueError(f"unknown view {what!r}; choose one of: {', '.join(VIEWS)}")
    run = run if isinstance(run, Run) else load_run(run)
    return VIEWS[what](Evidence(run, images, data_root), **options)


# -- the page ------------------------------------------------------------------------------


def _image(figure, alt):
    encoded = base64.b64encode(plots.to_png(figure, dpi=DPI)).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


def _images(view):
    return "\n".join(_image(figure, name) for name, figure in view.figures.items())


def _attempt(make, *args, **options):
    """The view's images, or a note saying why this model has none (e.g. no convolution)."""
    try:
        return _images(make(*args, **options))
    except (ValueError, KeyError) as error:
        return f'<p class="note">Not shown for this model: {html.escape(message(error))}</p>'


def message(error):
    """An exception's message; a KeyError's without the quotes ``str`` adds around it."""
    return str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)


def _section(heading, intro, *parts):
    return f"<section>\n<h2>{heading}</h2>\n<p>{intro}</p>\n" + "\n".join(parts) + "\n</section>"


def _per_class_table(report):
    rows = "".join(f"<tr><td>{html.escape(name)}</td><td>{p:.3f}</td><td>{r:.3f}</td><td>{f:.3f}</td><td>{s}</td></tr>"
                   for name, p, r, f, s in zip(report["classes"], report["precision"], report["recall"],
                                                report["f1"], report["support"]))
    return ("<table><tr><th>class</th><th>precision</th><th>recall (accuracy on the class)</th><th>F1</th>"
            f"<th>test images</th></tr>{rows}</table>")


def _hints_list(evidence):
    found = hints.diagnose(evidence.run.history, evidence.health, num_classes=len(evidence.classes))
    if not found:
        return "<p><b>Hints:</b> no problems found; the training looks healthy.</p>"
    items = "".join(f"<li><b>{html.escape(h.name.replace('_', ' '))}</b>: {html.escape(h.message)}</li>" for h in found)
    return f"<p><b>Hints</b> (rules of thumb read off the curves and the health record):</p><ul>{items}</ul>"


def _summary(evidence):
    run = evidence.run
    parameters = sum(p.numel() for p in run.model.parameters())
    accuracy = float((evidence.probabilities.argmax(axis=1) == evidence.labels).mean())
    epochs = max((record.get("epoch", 0) for record in run.history), default=0)
    facts = {"model": f"{run.metadata['model']} ({parameters:,} parameters)",
             "data set": f"{run.metadata['dataset']}, {len(evidence.classes)} classes, images {run.input_shape}",
             "trained": f"{epochs} epochs" if epochs else "no history found",
             "test accuracy": f"{accuracy:.2%} on {len(evidence.images)} test images (chance: "
                              f"{1 / len(evidence.classes):.0%})"}
    rows = "".join(f"<tr><th>{name}</th><td>{html.escape(value)}</td></tr>" for name, value in facts.items())
    return _section("The run", f"What was trained, and how well it does on images it never saw "
                               f"(the run folder <code>{html.escape(run.directory)}</code>).",
                    f"<table>{rows}</table>")


def _sections(evidence, tsne):
    conv = evidence.has_conv()
    training = [_attempt(view_curves, evidence)]
    if evidence.health is not None:
        training.append(_attempt(view_health, evidence))
    training.append(_hints_list(evidence))
    yield _section(
        "How training went",
        "Loss and accuracy per epoch, on the training images and on the test images. The two curves "
        "should fall (loss) and rise (accuracy) together; a test curve that turns while the training "
        "curve keeps improving is overfitting." + (
            " Below, the health record: gradients should reach every layer (no line far below the others) "
            "and few ReLU units should be dead." if evidence.health is not None else
            " (Train with <code>--health</code> to record gradient norms, dead units and histograms too.)"),
        *training)
    learned = _attempt(view_filters, evidence) if conv else _attempt(view_weights, evidence)
    yield _section(
        "What it learned",
        ("The first convolution's filters: small patterns scanned across the image, red where a bright pixel "
         "excites the filter and blue where it inhibits it. Trained filters look like edge and stroke detectors. "
         "Below, what each layer outputs for one test image: early maps keep the shape, later ones are coarser "
         "and more abstract." if conv else
         "The first layer's weights, one image per hidden unit: red where a bright pixel raises the unit's input, "
         "blue where it lowers it. Each unit is a template the network matches against the image."),
        learned, _attempt(view_features, evidence) if conv else "", _attempt(view_top, evidence))
    yield _section(
        "Why this prediction",
        "Which pixels the predicted class's score depends on. Saliency is the size of the gradient of the score "
        "with respect to each pixel; integrated gradients add up the gradient along a path from a black image. "
        "A good model looks at the object, not the background." +
        (" Grad-CAM shows which regions of the last convolution's maps drove the prediction." if conv else ""),
        _attempt(view_saliency, evidence), _attempt(view_integrated_gradients, evidence),
        _attempt(view_gradcam, evidence) if conv else "",
        _attempt(view_attention, evidence) if evidence.run.metadata.get("model") == "vit" else "",
        _attempt(view_topk, evidence))
    embeddings = [_attempt(view_embedding, evidence)] + ([_attempt(view_embedding, evidence, method="tsne")]
                                                         if tsne else [])
    yield _section(
        "What the layers represent",
        f"Each layer's activations for {len(evidence.sample)} test images, squeezed to two dimensions by PCA and "
        "coloured by true class. At the input the classes overlap; layer by layer they pull apart, and the "
        "separation score (from -1 to 1) rises.", *embeddings)
    yield _section(
        "Where it fails",
        "The confusion matrix counts, for each true class (rows), what the model predicted (columns): the "
        "diagonal is right, everything else a mistake. Look for the pairs of classes it mixes up, then at the "
        "mistakes it was surest of: are some of them mislabelled, or truly ambiguous?",
        _attempt(view_confusion, evidence), _per_class_table(per_class(evidence)), _attempt(view_mistakes, evidence))
    yield _section(
        "How brittle it is",
        "A change to every pixel too small to notice, chosen along the gradient of the loss (FGSM: one step, "
        "PGD: several), can make the network wrong; random noise of the same size barely matters. Small "
        "rotations and shifts, which a person ignores, also cost accuracy.",
        _attempt(view_robustness, evidence), _attempt(view_adversarial, evidence),
        _attempt(view_transforms, evidence))
    yield _section(
        "What backpropagation walks",
        f"The computation graph of the forward pass and the loss on {GRAPH_BATCH} test images: every op the model "
        "ran, with the shape of what it gave, the parameters (named as in the checkpoint) and the inputs. "
        "Training calls <code>loss.backward()</code>, which walks these arrows back from the loss, each op "
        "turning the gradient of its output into gradients of its inputs, until every parameter has its "
        "<code>.grad</code>. Hover over a box for what the op kept for its backward.", _graph_figure(evidence))


def _graph_figure(evidence):
    """The graph as inline SVG (it stays sharp at any zoom), and as text under a fold."""
    try:
        found = computation_graph(evidence)
    except (ValueError, KeyError) as error:
        return f'<p class="note">Not shown for this model: {html.escape(message(error))}</p>'
    return (f'<div class="graph">{found.to_svg(inline=True)}</div>\n<details><summary>The graph as text</summary>'
            f"<pre>{html.escape(str(found))}</pre></details>")


# A browser sets these once the page has loaded: a test reads them to check every image decoded.
COUNT_IMAGES = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  document.body.dataset.imagesTotal = images.length;
  document.body.dataset.imagesLoaded = images.filter(function (image) {
    return image.complete && image.naturalWidth > 0;
  }).length;
});
</script>"""

STYLE = """<style>
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
img { display: block; max-width: 100%; margin: 1em 0; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.7em; text-align: left; }
.note { color: #777; font-style: italic; }
.graph { overflow-x: auto; }
</style>"""


def report(run_or_dir, path=None, images=300, tsne=False, data_root=None):
    """Write the HTML report of a saved image-model run and return its path.

    ``run_or_dir``: a :class:`.Run` or a run folder; ``path``: default ``RUN_DIR/report.html``;
    ``images``: how many test images the expensive parts (attacks, embeddings, transforms)
    use; ``tsne``: add t-SNE embeddings (slower) to the PCA ones.
    """
    run = run_or_dir if isinstance(run_or_dir, Run) else load_run(run_or_dir)
    evidence = Evidence(run, images, data_root)
    path = path or os.path.join(run.directory, REPORT)
    title = f"Inside {run.metadata['model']} on {run.metadata['dataset']}"
    body = "\n".join([_summary(evidence), *_sections(evidence, tsne)])
    page = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
            f"{STYLE}\n{COUNT_IMAGES}\n</head>\n<body>\n<h1>{html.escape(title)}</h1>\n{body}\n"
            "<p class=\"note\">Made by <code>glassnet report</code>.</p>\n</body>\n</html>\n")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(page)
    return path
