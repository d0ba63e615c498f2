"""Claim: a network is a black box, but it can be opened: which pixels made the decision.

Three ways to ask the lab's cnn (from :func:`claims.trained`) which pixels its answer
rests on (:mod:`glassnet.inspect.attribution`):

* saliency: how much the class's score would move if a pixel were nudged (|gradient|);
* integrated gradients: each pixel's share of the score, gathered along the way from a
  black image to this one (they add up to the score's rise: completeness);
* Grad-CAM: which regions of the last convolution's maps the class's score leans on.

A map is only worth something if it is right, so it is put to a test, the deletion test:
black out the pixels a method ranks highest (2%, 5%, 10%, 20%, ... of the image) and watch
the network's probability of the true class. If the map found the pixels that made the
decision, the probability falls much faster than when the same number of pixels, chosen
at random, are blacked out. (A stricter control is drawn too: random pixels of the object
itself, since blacking out background that is already black changes nothing.)

Each curve is summed up by its mean over the deletion steps (lower: the deleted pixels
mattered more), and each method's drop (the start minus that mean) is compared with the
random drop. The claim holds here when most of the methods (two of three) beat random
deletion and the best one makes the probability fall at least :data:`MUCH_FASTER` times as
fast as random deletion does; the verdict names any method that did not beat it.
"""
import numpy as np

from ..inspect import attribution
from ..train import predict
from . import claims

FRACTIONS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)  # shares of the pixels blacked out
METHODS = ("saliency", "integrated gradients", "grad-cam")
RANDOM, OBJECT = "random pixels", "random object pixels"
EXAMPLES = {True: 64, False: 300}  # test images the deletion test averages over (quick, full)
IG_STEPS = {True: 16, False: 32}  # points on integrated gradients' path from black to the image
MUCH_FASTER = 1.5  # how many times the random drop the best method's drop must reach


def attribution_maps(network, images, labels, steps=32):
    """Each method's score for every pixel of every image, for the class in ``labels``:
    {'saliency', 'integrated gradients', 'grad-cam': (N, H, W)}, higher meaning more
    responsible for that class (integrated gradients' are summed over the channels, and
    signed: a negative pixel spoke against the class)."""
    return {
        "saliency": attribution.saliency(network, images, labels),
        "integrated gradients": attribution.integrated_gradients(network, images, labels, steps=steps).sum(axis=1),
        "grad-cam": attribution.grad_cam(network, images, labels),
    }


def delete_top(images, scores, fraction, rng=None):
    """``images`` (N, C, H, W) with the ``fraction`` of each image's pixels that have the
    highest ``scores`` (N, H, W) set to black (0, in every channel). Ties are broken at
    random when ``rng`` is given (Grad-CAM's maps are flat in places), else by position.

    >>> images = np.ones((1, 1, 2, 2), dtype=np.float32)
    >>> delete_top(images, np.array([[[0.1, 0.9], [0.5, 0.2]]]), 0.5)[0, 0].tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    images, scores = np.asarray(images), np.asarray(scores, dtype=np.float64)
    if images.ndim != 4 or scores.shape != (len(images), *images.shape[2:]):
        raise ValueError(f"delete_top: expected images (N, C, H, W) and scores (N, H, W) of the same N, H, W; "
                         f"got {images.shape} and {scores.shape}")
    if not 0 <= fraction <= 1:
        raise ValueError(f"delete_top: fraction must be between 0 and 1, got {fraction}")
    flat = scores.reshape(len(scores), -1)
    count = int(round(fraction * flat.shape[1]))
    tiebreak = rng.random(flat.shape) if rng is not None else np.zeros_like(flat)
    order = np.lexsort((tiebreak, -flat), axis=1)[:, :count]  # highest score first
    keep = np.ones(flat.shape, dtype=images.dtype)
    np.put_along_axis(keep, order, 0, axis=1)
    return images * keep.reshape(len(images), 1, *images.shape[2:])


def true_class_probability(network, images, labels):
    """The network's probability of each image's class in ``labels`` (softmax of its
    logits), and whether it predicted that class. Shape: (N,) floats, (N,) bools."""
    logits = predict(network, np.asarray(images, dtype=np.float32)).astype(np.float64)
    exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities = exponentials / exponentials.sum(axis=1, keepdims=True)
    rows = np.arange(len(labels))
    return probabilities[rows, labels], logits.argmax(axis=1) == labels


def deletion_curve(network, images, labels, scores, fractions=FRACTIONS, seed=0):
    """The deletion test for one map: for each fraction, delete that share of every
    image's highest-scored pixels (:func:`delete_top`) and measure the mean probability
    of the true class and the accuracy. Returns ``(probabilities, accuracies)``, one
    value per fraction."""
    rng = np.random.default_rng(seed)
    probabilities, accuracies = [], []
    for fraction in fractions:
        probability, right = true_class_probability(network, delete_top(images, scores, fraction, rng), labels)
        probabilities.append(float(probability.mean()))
        accuracies.append(float(right.mean()))
    return probabilities, accuracies


def completeness_gap(network, images, labels, attributions, baseline=None):
    """How far integrated gradients' ``attributions`` (N, C, H, W) are from adding up to
    what they explain: |sum of attributions - (score(image) - score(baseline))|, divided
    by |score(image) - score(baseline)|, per image (the score is the logit of the class
    in ``labels``; the baseline defaults to black). Near 0 with enough steps."""
    images = np.asarray(images, dtype=np.float32)
    baseline = np.zeros_like(images) if baseline is None else np.broadcast_to(baseline, images.shape)
    rows = np.arange(len(labels))
    rise = predict(network, images)[rows, labels] - predict(network, np.ascontiguousarray(baseline))[rows, labels]
    total = np.asarray(attributions, dtype=np.float64).reshape(len(images), -1).sum(axis=1)
    return np.abs(total - rise) / np.maximum(np.abs(rise), 1e-6)


def background_share(images, scores, fraction=0.1):
    """The share of each map's top ``fraction`` of pixels that are already black in the
    image (background, on these data sets), averaged over the images: pixels that the
    deletion test cannot delete, since blacking them out changes nothing.

    >>> images = np.array([[[[0.0, 0.0], [1.0, 1.0]]]])
    >>> background_share(images, np.array([[[0.9, 0.1], [0.8, 0.2]]]), fraction=0.5)
    0.5
    """
    images = np.asarray(images)
    deleted = delete_top(np.ones_like(images[:, :1]), scores, fraction)[:, 0] == 0  # (N, H, W): the top pixels
    black = np.abs(images).max(axis=1) == 0
    return float(((deleted & black).sum(axis=(1, 2)) / np.maximum(deleted.sum(axis=(1, 2)), 1)).mean())


def _controls(images, seed):
    """The random maps the methods are measured against: random scores for every pixel,
    and random scores that rank the object's (non-black) pixels above the background."""
    rng = np.random.default_rng(seed)
    shape = (len(images), *images.shape[2:])
    anywhere = rng.random(shape)
    on_object = rng.random(shape) + (np.abs(images).max(axis=1) > 0)
    return {RANDOM: anywhere, OBJECT: on_object}


def _area(curve):
    """The mean of a deletion curve over the deletion steps (after the 0% start): lower
    means the deleted pixels mattered more."""
    return float(np.mean(curve[1:]))


def speedups(curves, methods=METHODS):
    """How many times as fast each method's deletion lowers the true class's probability
    as random deletion: its drop (the start minus the curve's mean over the deletion
    steps) over the random drop. Above 1: its pixels mattered more than random ones.

    >>> curves = {"a": {"probability": [0.9, 0.5, 0.1]}, "random pixels": {"probability": [0.9, 0.7, 0.5]}}
    >>> speedups(curves, ["a"])
    {'a': 2.0}
    """
    def drop(name):
        probability = curves[name]["probability"]
        return probability[0] - _area(probability)

    random_drop = drop(RANDOM)
    if random_drop <= 0:
        raise ValueError(f"speedups: deleting random pixels did not lower the probability (drop {random_drop:.3f}); "
                         f"help: delete a larger share of the pixels")
    return {name: round(drop(name) / random_drop, 6) for name in methods}


def run(quick=False, seed=0, log=None):
    """Attribution maps of the cnn, and the deletion test of each. See the module's docstring."""
    log = claims.quiet(log)
    log("training the cnn (claims.trained: 2 epochs, shared with the other claims that look inside it)")
    network, data_name, train, test, history = claims.trained("cnn", quick=quick, seed=seed)
    examples = claims.subset(test, EXAMPLES[quick], seed=seed)
    images, labels = examples.images, np.asarray(examples.labels)
    steps = IG_STEPS[quick]

    log(f"computing saliency, integrated gradients ({steps} steps) and Grad-CAM for {len(images)} test images")
    maps = attribution_maps(network, images, labels, steps)
    gaps = completeness_gap(network, images, labels, maps["integrated gradients"][:, None])
    log("the deletion test: blacking out each map's top pixels, and random ones")
    curves, controls = {}, _controls(images, seed)
    for name, scores in {**maps, **controls}.items():
        probabilities, accuracies = deletion_curve(network, images, labels, scores, FRACTIONS, seed)
        curves[name] = {"probability": probabilities, "accuracy": accuracies, "area": _area(probabilities)}

    faster = speedups(curves)
    black = {name: background_share(images, scores) for name, scores in {**maps, **controls}.items()}
    beats_random = {name: faster[name] > 1 for name in METHODS}
    held = sum(beats_random.values()) >= 2 and max(faster.values()) >= MUCH_FASTER
    data = {"dataset": data_name, "examples": len(images), "test_accuracy": history.last.get("val_acc"),
            "fractions": list(FRACTIONS), "curves": curves, "speedup": faster,
            "beats_random": beats_random, "much_faster": MUCH_FASTER, "background_share_top10": black,
            "integrated_gradients": {"steps": steps, "completeness_gap_median": float(np.median(gaps)),
                                     "completeness_gap_max": float(gaps.max())}}
    tenth = FRACTIONS.index(0.1)
    number = (f"true-class probability after deleting the top 10% of pixels: "
              + ", ".join(f"{name} {curves[name]['probability'][tenth]:.2f}" for name in (*METHODS, RANDOM))
              + f" (from {curves[RANDOM]['probability'][0]:.2f})")
    figure = _figure(network, examples, maps, curves, data_name)
    return claims.Finding("black-box", bool(held), number, _verdict(faster, held), figure, data)


def _verdict(faster, held):
    best = max(faster, key=faster.get)
    summary = ", ".join(f"{name} {faster[name]:.1f}x" for name in METHODS)
    losers = [name for name in METHODS if faster[name] <= 1]
    caveat = f"; {' and '.join(losers)} did no better than random pixels" if losers else ""
    if held:
        return (f"the maps found the pixels that made the decision: deleting their top pixels lowers the true "
                f"class's probability faster than deleting random ones ({summary} the random drop){caveat}")
    if faster[best] < MUCH_FASTER:
        return (f"not here: no map singled out the pixels that matter ({summary} the random drop; the best, {best}, "
                f"is short of the {MUCH_FASTER}x asked){caveat}")
    return f"not here: most maps did no better than random pixels ({summary} the random drop){caveat}"


# -- the figure -------------------------------------------------------------------------------

COLOURS = {"saliency": "tab:blue", "integrated gradients": "tab:red", "grad-cam": "tab:green", RANDOM: "black",
           OBJECT: "grey"}


def _figure(network, examples, maps, curves, data_name, columns=6):
    from ..inspect import plots

    fig = plots.Figure(figsize=(15, 6.8), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1.35, 1])
    _draw_maps(left, network, examples, maps, columns)
    _draw_curves(right, curves)
    fig.suptitle(f"Opening the black box: which pixels made the cnn's decision ({data_name}), and does deleting "
                 f"them matter?", fontsize=12)
    return fig


def _shown(examples, count):
    """Up to ``count`` examples of different classes (the first of each)."""
    return np.unique(np.asarray(examples.labels), return_index=True)[1][:count]


def _draw_maps(subfig, network, examples, maps, columns):
    from ..inspect import plots

    chosen = _shown(examples, columns)
    probabilities, right = true_class_probability(network, examples.images[chosen],
                                                  np.asarray(examples.labels)[chosen])
    axes = subfig.subplots(4, len(chosen), squeeze=False)
    pictures = plots.displayable(examples.images[chosen])
    for column, index in enumerate(chosen):
        picture = pictures[column]
        axes[0, column].imshow(picture, cmap="gray")
        name = examples.classes[examples.labels[index]]
        axes[0, column].set_title(f"{name}\np = {probabilities[column]:.2f}{'' if right[column] else ' (missed)'}",
                                  fontsize=8)
        saliency, cam = maps["saliency"][index], maps["grad-cam"][index]
        for row, heat in ((1, saliency), (3, cam)):
            axes[row, column].imshow(picture, cmap="gray")
            axes[row, column].imshow(heat, cmap="jet", alpha=0.55, vmin=0, vmax=float(heat.max()) or 1.0)
        signed = maps["integrated gradients"][index]
        limit = float(np.abs(signed).max()) or 1.0
        axes[2, column].imshow(signed, cmap="bwr", vmin=-limit, vmax=limit)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    for row, label in enumerate(["image", "saliency", "integrated\ngradients\n(red for, blue against)", "Grad-CAM"]):
        axes[row, 0].set_ylabel(label, fontsize=8)
    subfig.suptitle("Each map explains the true class (p: the cnn's probability of it)", fontsize=10)


def _draw_curves(subfig, curves):
    probability_axis, accuracy_axis = subfig.subplots(2, 1, sharex=True)
    percent = 100 * np.asarray(FRACTIONS)
    for name, curve in curves.items():
        style = dict(color=COLOURS[name], label=f"{name} (mean {curve['area']:.2f})", marker="o", markersize=3)
        if name == RANDOM:
            style.update(linestyle="--", linewidth=2)
        elif name == OBJECT:
            style.update(linestyle=":", label=f"{name}: a stricter control (mean {curve['area']:.2f})")
        probability_axis.plot(percent, curve["probability"], **style)
        accuracy_axis.plot(percent, curve["accuracy"], **{**style, "label": None})
    probability_axis.set_ylabel("probability of the true class")
    probability_axis.set_title("The deletion test: black out each map's top pixels", fontsize=10)
    probability_axis.legend(fontsize=7)
    accuracy_axis.set_ylabel("accuracy")
    accuracy_axis.set_xlabel("pixels blacked out (%), the most attributed first")
    for axis in (probability_axis, accuracy_axis):
        axis.set_ylim(0, 1)
        axis.grid(alpha=0.3)
