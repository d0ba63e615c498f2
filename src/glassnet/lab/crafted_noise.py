"""Claim ``crafted-noise``: crafted noise invisible to people fools the model.

The lab's trained CNN (:func:`glassnet.lab.claims.trained`) is attacked on test images it
has never seen. Every pixel (in [0, 1]) may move by at most epsilon, up or down:

- FGSM moves every pixel by epsilon in the direction that raises the loss the most (the
  sign of the gradient of the loss with respect to the image: one backward pass);
- PGD takes several smaller such steps, each time pulled back to within epsilon;
- the control, random noise of the same size, moves every pixel by epsilon up or down at
  random.

At epsilon = 0.1 (10% of the pixel range: 26 of 255 grey levels; the mean change of a
pixel is smaller, since pixels already at 0 or 1 cannot move further) the change is
slight, yet the crafted perturbations cut the accuracy far below what the random noise
does: the power of the attack is in its direction, not its size. (The tools are those of
:mod:`glassnet.inspect.adversarial`.)

The claim holds on a run when, at ``SMALL_EPSILON``, both attacks leave the accuracy at
least ``MARGIN`` (25 percentage points) below random noise of the same size.
"""
import numpy as np

from ..inspect import adversarial
from ..inspect.layers import predict_proba
from . import claims

SMALL_EPSILON = 0.1  # "invisible": 10% of the pixel range
MARGIN = 0.25  # "far below": 25 percentage points of accuracy
EPSILONS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2)
QUICK_EPSILONS = (0.0, 0.05, 0.1, 0.2)
ATTACKED = 1000  # test images attacked in the full run
QUICK_ATTACKED = 200
PGD_STEPS, QUICK_PGD_STEPS = 10, 5


def run(quick=False, seed=0, log=None):
    """Attack the lab's trained CNN with FGSM, PGD and random noise at growing epsilons, find
    one image that a small crafted change misleads, and return the
    :class:`~glassnet.lab.claims.Finding` (figure: accuracy against epsilon, and that image
    with its perturbation)."""
    log = claims.quiet(log)
    log("crafted-noise: the lab's CNN, trained now for 2 epochs unless another claim of this run already did...")
    network, data_name, _, test, _ = claims.trained("cnn", quick=quick, seed=seed)
    images, labels = attack_set(test, QUICK_ATTACKED if quick else ATTACKED, seed)
    epsilons = QUICK_EPSILONS if quick else EPSILONS
    steps = QUICK_PGD_STEPS if quick else PGD_STEPS
    data = experiment(network, images, labels, test.classes, epsilons, steps, seed, log)
    data["dataset"] = data_name
    judged = judge(data)
    data.update(judged)
    return claims.Finding(name="crafted-noise", held=judged["held"], number=headline(data), verdict=verdict(data),
                          figure=plot(data, images), data=data)


def attack_set(test, count, seed=0):
    """``count`` test images and labels, drawn at random (seeded): ``(images, labels)``."""
    chosen = claims.subset(test, count, seed)
    return chosen.images.astype(np.float32), np.asarray(chosen.labels, dtype=np.int64)


def experiment(network, images, labels, classes, epsilons=EPSILONS, steps=PGD_STEPS, seed=0, log=None,
               small_epsilon=SMALL_EPSILON):
    """The measurements: accuracy under FGSM, PGD (``steps`` steps) and random sign noise at
    each epsilon (:func:`glassnet.inspect.adversarial.robustness_curve`), and one example
    image misled at ``small_epsilon`` (:func:`find_example`).

    Returns a JSON-able dict: ``epsilon``, ``fgsm``, ``pgd``, ``noise`` (lists, one
    accuracy per epsilon), ``clean``, ``attacked`` (images), ``pgd_steps``,
    ``small_epsilon``, ``seed`` and ``example``.
    """
    log = claims.quiet(log)
    if small_epsilon not in epsilons:
        raise ValueError(f"experiment: small_epsilon {small_epsilon} must be one of the epsilons {tuple(epsilons)}")
    log(f"attacking {len(images)} test images at epsilon {', '.join(f'{e:g}' for e in epsilons)} "
        f"(FGSM, PGD with {steps} steps, random noise)...")
    curve = adversarial.robustness_curve(network, images, labels, epsilons, steps=steps, seed=seed)
    data = {"epsilon": [float(e) for e in curve["epsilon"]], "clean": float(curve["clean"]),
            "attacked": len(images), "pgd_steps": steps, "small_epsilon": small_epsilon, "seed": seed}
    for name in ("fgsm", "pgd", "noise"):
        data[name] = [float(value) for value in curve[name]]
        log(f"  {name:<5} accuracy: " + ", ".join(f"{e:g}: {a:.0%}" for e, a in zip(data["epsilon"], data[name])))
    data["example"] = find_example(network, images, labels, classes, small_epsilon, steps, seed)
    return data


def find_example(network, images, labels, classes, epsilon, steps=PGD_STEPS, seed=0, candidates=64):
    """Of the first ``candidates`` images, the one the network is most sure of among those
    it gets right and a crafted change of ``epsilon`` makes it get wrong (FGSM if one step
    is enough for some image, else PGD; None if neither misleads any), with what the change
    was. The most confident one, because a sure answer overturned shows the point best.

    Returns a dict: ``index`` (into ``images``), ``attack``, ``label``, ``before`` and
    ``after`` (class names), ``p_before``, ``p_after`` (the model's confidence in each),
    ``epsilon``, ``largest_change`` and ``mean_change`` (the largest and mean absolute change
    of a pixel, images in [0, 1]), ``adversarial`` (the changed image, as nested lists), and
    ``noise`` (the prediction ``after`` and confidence ``p_after`` for random sign noise of
    the same size on the same image, the control).
    """
    images, labels = images[:candidates], labels[:candidates]
    probabilities = predict_proba(network, images)
    right = probabilities.argmax(axis=1) == labels
    for attack in ("fgsm", "pgd"):
        if attack == "fgsm":
            changed = adversarial.fgsm(network, images, labels, epsilon)
        else:
            changed = adversarial.pgd(network, images, labels, epsilon, steps, seed=seed)
        after = predict_proba(network, changed)
        fooled = np.flatnonzero(right & (after.argmax(axis=1) != labels))
        if len(fooled):
            index = int(fooled[np.argmax(probabilities[fooled].max(axis=1))])
            example = describe_change(network, images[index], changed[index], int(labels[index]), classes,
                                      index=index, attack=attack, epsilon=epsilon)
            noisy = adversarial.random_sign_noise(images[index:index + 1], epsilon, seed)[0]
            control = describe_change(network, images[index], noisy, int(labels[index]), classes)
            example["noise"] = {key: control[key] for key in ("after", "p_after", "mean_change")}
            return example
    return None


def describe_change(network, image, changed, label, classes, **about):
    """What a change did to one image: the predictions and confidences before and after, and
    the size of the change (largest and mean absolute change of a pixel, in [0, 1] units)."""
    probabilities = predict_proba(network, np.stack([image, changed]))
    before, after = probabilities.argmax(axis=1)
    difference = np.abs(changed.astype(np.float64) - image)
    return {**about, "label": classes[label], "before": classes[before], "after": classes[after],
            "p_before": float(probabilities[0, before]), "p_after": float(probabilities[1, after]),
            "largest_change": float(difference.max()), "mean_change": float(difference.mean()),
            "adversarial": np.round(changed.astype(np.float64), 5).tolist()}


# -- the verdict ------------------------------------------------------------------------------

def judge(data, margin=MARGIN):
    """At ``data['small_epsilon']``: each attack's accuracy and its gap below the random
    noise's (fractions of the test images), and ``held``: both gaps at least ``margin``."""
    at = data["epsilon"].index(data["small_epsilon"])
    small = {name: data[name][at] for name in ("fgsm", "pgd", "noise")}
    gaps = {name: small["noise"] - small[name] for name in ("fgsm", "pgd")}
    return {"at_small_epsilon": small, "gap_below_noise": gaps,
            "held": bool(min(gaps.values()) >= margin)}


def size_in_words(epsilon):
    """An epsilon in pixel-intensity terms.

    >>> size_in_words(0.1)
    '10% of the pixel range (26 of 255 grey levels)'
    """
    return f"{epsilon:.0%} of the pixel range ({epsilon * 255:.0f} of 255 grey levels)"


def headline(data):
    small = data["at_small_epsilon"]
    return (f"at ε={data['small_epsilon']:g}: FGSM {small['fgsm']:.0%}, PGD {small['pgd']:.0%}, "
            f"random noise {small['noise']:.0%} (clean {data['clean']:.0%})")


def verdict(data):
    """One sentence: whether the crafted changes beat random ones of the same size, and the example."""
    small, epsilon = data["at_small_epsilon"], data["small_epsilon"]
    size = f"a change of at most {size_in_words(epsilon)}"
    example = data["example"]
    shown = (f"; one {example['label']} (mean change {example['mean_change']:.3f}) became a "
             f"{example['after']} at {example['p_after']:.0%} confidence" if example else "")
    if data["held"]:
        return (f"{size} cuts accuracy from {data['clean']:.0%} to {small['fgsm']:.0%} (FGSM) and "
                f"{small['pgd']:.0%} (PGD) when crafted, but only to {small['noise']:.0%} when random{shown}")
    return (f"at {size} the crafted attacks (FGSM {small['fgsm']:.0%}, PGD {small['pgd']:.0%}) did not "
            f"fall {MARGIN:.0%} below random noise of the same size ({small['noise']:.0%}){shown}")


# -- the figure -------------------------------------------------------------------------------

def plot(data, images):
    """Accuracy against epsilon for the two attacks and the noise (left), and the example:
    the image, its perturbation (stretched to full colour, its true size on the scale), the
    changed image, and the image under random noise of the same size instead, each with
    the network's prediction. ``images`` are the attacked images ``data`` describes."""
    from ..inspect import plots

    fig = plots.Figure(figsize=(18, 4.2))
    grid = fig.add_gridspec(1, 5, width_ratios=(1.6, 1, 1, 1, 1), wspace=0.35)
    _plot_curve(fig.add_subplot(grid[0, 0]), data)
    example = data["example"]
    panels = [fig.add_subplot(grid[0, column]) for column in (1, 2, 3, 4)]
    if example is None:
        panels[1].text(0.5, 0.5, f"no image of the first 64 was misled\nat ε = {data['small_epsilon']:g}",
                       ha="center", va="center")
    else:
        _plot_example(fig, panels, images[example["index"]], np.asarray(example["adversarial"], dtype=np.float32),
                      example, data["seed"])
    for axis in panels:
        axis.axis("off")
    fig.suptitle(f"Crafted noise against random noise of the same size: the lab's CNN on {data['dataset']}")
    return fig


def _plot_curve(axis, data):
    styles = {"fgsm": ("FGSM (one gradient-sign step)", "o-"), "pgd": (f"PGD ({data['pgd_steps']} steps)", "s-"),
              "noise": ("random ±ε noise (control)", "^--")}
    for name, (label, style) in styles.items():
        axis.plot(data["epsilon"], 100 * np.asarray(data[name]), style, label=label)
    axis.axvline(data["small_epsilon"], color="grey", linestyle=":", linewidth=1)
    axis.annotate(f"ε = {data['small_epsilon']:g}\n({data['small_epsilon']:.0%} of the range)",
                  (data["small_epsilon"], 50), textcoords="offset points", xytext=(4, 0), fontsize=8)
    axis.set(xlabel="ε: largest change of a pixel (pixels in [0, 1])", ylabel="test accuracy (%)", ylim=(0, 102),
             title=f"Accuracy on {data['attacked']} test images")
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8, loc="lower left")


def _plot_example(fig, panels, image, changed, example, seed=0):
    noisy = adversarial.random_sign_noise(image[None], example["epsilon"], seed)[0]  # what find_example scored
    shown = np.stack([image, changed, noisy])
    shown = shown[:, 0] if shown.shape[1] == 1 else shown.transpose(0, 2, 3, 1)
    original, perturbation, result, control = panels
    original.imshow(shown[0], cmap="gray", vmin=0, vmax=1)
    original.set_title(f"original: {example['label']}\npredicted {example['before']} ({example['p_before']:.0%})",
                       fontsize=9)
    difference = (changed - image).mean(axis=0)
    limit = example["epsilon"]
    picture = perturbation.imshow(difference, cmap="RdBu_r", vmin=-limit, vmax=limit)
    perturbation.set_title(f"{example['attack'].upper()} perturbation (stretched)\n"
                           f"±{limit:g} at most, mean |change| {example['mean_change']:.3f}", fontsize=9)
    colorbar = fig.colorbar(picture, ax=perturbation, fraction=0.046, pad=0.04)
    colorbar.set_label("change of the pixel (0-1 scale)", fontsize=8)
    result.imshow(shown[1], cmap="gray", vmin=0, vmax=1)
    result.set_title(f"original + perturbation\npredicted {example['after']} ({example['p_after']:.0%})", fontsize=9)
    noise = example["noise"]
    control.imshow(shown[2], cmap="gray", vmin=0, vmax=1)
    control.set_title(f"random ±{limit:g} noise instead (control)\n"
                      f"predicted {noise['after']} ({noise['p_after']:.0%})", fontsize=9)
