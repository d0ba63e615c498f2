"""How brittle a classifier is: adversarial examples, and small rotations and shifts.

A network that is 98% right can be made wrong by changing every pixel a little, in the
direction that raises its loss the most. That direction is the gradient of the loss with
respect to the *image* (backpropagation all the way to the input, the weights held
still). The fast gradient sign method (FGSM, Goodfellow et al., 2015) takes one step of
size epsilon along its sign; projected gradient descent (PGD, Madry et al., 2018) takes
several smaller steps, each time pulled back to within epsilon of the original image.
Random noise of the same size barely matters: the attack's power is in the direction.

>>> import numpy as np, glassnet as gn
>>> model = gn.models.mlp((1, 8, 8), 10)
>>> images, labels = np.full((2, 1, 8, 8), 0.5, dtype=np.float32), np.array([3, 7])
>>> round(float(np.abs(fgsm(model, images, labels, epsilon=0.1) - images).max()), 4)
0.1
"""

import numpy as np

from ..nn import functional as F
from ..tensor import Tensor
from . import plots
from ..extras import require
from .layers import check_labels, inspecting, model_and_images, predict_proba


# -- the gradient with respect to the image ---------------------------------------------

def input_gradient(model, images, labels, batch_size=256):
    """The gradient of the cross-entropy loss with respect to each image, in eval mode.

    Each image's gradient is that of its own loss (the losses are summed, not averaged,
    so it does not shrink with the batch size).

    Shape: images (N, C, H, W), labels (N,) -> (N, C, H, W) float32.
    """
    model, images = model_and_images(model, images)
    labels = check_labels(labels, len(images))
    gradients = []
    with inspecting(model):
        for start in range(0, len(images), batch_size):
            x = Tensor(images[start:start + batch_size], requires_grad=True)
            loss = F.cross_entropy(model(x), labels[start:start + batch_size], reduction="sum")
            loss.backward()
            gradients.append(x.grad.numpy())
    return np.concatenate(gradients) if gradients else np.zeros_like(images)


def _check_epsilon(epsilon):
    if not 0 <= epsilon <= 1:
        raise ValueError(f"epsilon is the largest change of a pixel of images in [0, 1], "
                         f"so it must lie in [0, 1]; got {epsilon}")


# -- attacks ------------------------------------------------------------------------------

def fgsm(model, images, labels, epsilon, batch_size=256):
    """Fast gradient sign method: every pixel moves by ``epsilon`` in the direction that
    raises the loss, ``x + epsilon * sign(grad_x loss)``, then is clipped to [0, 1].

    Shape: images (N, C, H, W) in [0, 1], labels (N,) -> adversarial images (N, C, H, W)
    float32, each pixel within ``epsilon`` of the original.
    """
    _check_epsilon(epsilon)
    _, images = model_and_images(model, images)
    gradient = input_gradient(model, images, labels, batch_size)
    return np.clip(images + np.float32(epsilon) * np.sign(gradient), 0, 1).astype(np.float32)


def pgd(model, images, labels, epsilon, steps=10, step_size=None, random_start=True, seed=0, batch_size=256):
    """Projected gradient descent (on the loss, so ascent): ``steps`` signed-gradient steps
    of ``step_size`` (default ``2.5 * epsilon / steps``, so the walk can reach the edge of
    the epsilon-box and move along it), each followed by projection back into the box
    ``|x' - x| <= epsilon`` and into [0, 1]. ``random_start`` begins at a random point of
    the box (``seed`` fixes it), which escapes the flat spots where FGSM's one step stalls.

    Shape: images (N, C, H, W) in [0, 1], labels (N,) -> (N, C, H, W) float32.
    """
    _check_epsilon(epsilon)
    if steps < 1:
        raise ValueError(f"pgd needs at least one step, got steps={steps}")
    _, images = model_and_images(model, images)
    epsilon = np.float32(epsilon)
    step_size = np.float32(2.5 * epsilon / steps if step_size is None else step_size)
    adversarial = images.copy()
    if random_start:
        rng = np.random.default_rng(seed)
        adversarial += rng.uniform(-epsilon, epsilon, size=images.shape).astype(np.float32)
        adversarial = np.clip(adversarial, 0, 1)
    for _ in range(steps):
        gradient = input_gradient(model, adversarial, labels, batch_size)
        adversarial = adversarial + step_size * np.sign(gradient)
        adversarial = np.clip(adversarial, images - epsilon, images + epsilon)  # the projection
        adversarial = np.clip(adversarial, 0, 1)
    return adversarial.astype(np.float32)


def random_sign_noise(images, epsilon, seed=0):
    """The control: every pixel moves by ``epsilon`` up or down at random (the same
    L-infinity size as an attack, without its direction), clipped to [0, 1].

    Shape: (N, C, H, W) -> (N, C, H, W) float32.
    """
    _check_epsilon(epsilon)
    images = np.asarray(images, dtype=np.float32)
    signs = np.random.default_rng(seed).choice(np.array([-1, 1], dtype=np.float32), size=images.shape)
    return np.clip(images + np.float32(epsilon) * signs, 0, 1)


def _accuracy(model, images, labels, batch_size):
    return float((predict_proba(model, images, batch_size).argmax(axis=1) == labels).mean())


def robustness_curve(model, images, labels, epsilons=(0.0, 0.05, 0.1, 0.15, 0.2, 0.3), steps=10, seed=0,
                     batch_size=256):
    """Accuracy as the perturbation grows, under FGSM, PGD (``steps`` steps) and random
    sign noise of the same L-infinity size.

    Returns a dict of arrays of shape (len(epsilons),): ``epsilon``, ``fgsm``, ``pgd``,
    ``noise``, and ``clean``, the accuracy on the untouched images (a float).
    """
    _, images = model_and_images(model, images)
    labels = check_labels(labels, len(images))
    curve = {"epsilon": np.asarray(epsilons, dtype=np.float64), "fgsm": [], "pgd": [], "noise": []}
    for epsilon in epsilons:
        attacked = {
            "fgsm": fgsm(model, images, labels, epsilon, batch_size),
            "pgd": pgd(model, images, labels, epsilon, steps, seed=seed, batch_size=batch_size),
            "noise": random_sign_noise(images, epsilon, seed),
        }
        for name, adversarial in attacked.items():
            curve[name].append(_accuracy(model, adversarial, labels, batch_size))
    for name in ("fgsm", "pgd", "noise"):
        curve[name] = np.array(curve[name])
    curve["clean"] = _accuracy(model, images, labels, batch_size)
    return curve


# -- rotations and shifts ----------------------------------------------------------------

def rotate(images, angle):
    """Images turned by ``angle`` degrees (counter-clockwise) about their centre, the
    corners filled with 0 (background). Shape: (N, C, H, W) -> (N, C, H, W)."""
    ndimage = require("scipy.ndimage", "rotating images")
    # order=1 (bilinear) never overshoots, so pixels stay in [0, 1]
    turned = ndimage.rotate(np.asarray(images, dtype=np.float32), angle, axes=(-1, -2), reshape=False, order=1,
                            mode="constant", cval=0.0)
    return np.clip(turned, 0, 1).astype(np.float32)


def shift(images, pixels, axis="x"):
    """Images moved by ``pixels`` (right for x, down for y), what moves out is lost and
    what moves in is 0. Shape: (N, C, H, W) -> (N, C, H, W)."""
    ndimage = require("scipy.ndimage", "shifting images")
    offsets = [0, 0, 0, pixels] if axis == "x" else [0, 0, pixels, 0]
    moved = ndimage.shift(np.asarray(images, dtype=np.float32), offsets, order=1, mode="constant", cval=0.0)
    return np.clip(moved, 0, 1).astype(np.float32)


def transform_accuracy(model, images, labels, angles=(-30, -20, -10, 0, 10, 20, 30), shifts=(-2, -1, 0, 1, 2),
                       batch_size=512):
    """Accuracy on rotated and on shifted copies of the images: changes a person would
    not notice, which a network sees as new inputs unless it learned to ignore them.

    Returns a dict: ``angles`` and ``rotation`` (accuracy at each angle), ``shifts``,
    ``shift_x`` and ``shift_y`` (accuracy at each horizontal / vertical shift, in pixels).
    """
    _, images = model_and_images(model, images)
    labels = check_labels(labels, len(images))
    return {
        "angles": np.asarray(angles, dtype=np.float64),
        "rotation": np.array([_accuracy(model, rotate(images, a), labels, batch_size) for a in angles]),
        "shifts": np.asarray(shifts, dtype=np.float64),
        "shift_x": np.array([_accuracy(model, shift(images, s, "x"), labels, batch_size) for s in shifts]),
        "shift_y": np.array([_accuracy(model, shift(images, s, "y"), labels, batch_size) for s in shifts]),
    }


# -- pictures -----------------------------------------------------------------------------

def plot_robustness(curve, title=None):
    """Accuracy against epsilon (from :func:`robustness_curve`), one line for each attack
    and one for random noise. Returns the figure."""
    fig, axis = plots.figure(6, 4)
    styles = {"fgsm": ("FGSM (one gradient-sign step)", "o-"), "pgd": ("PGD (projected gradient steps)", "s-"),
              "noise": ("random ±ε noise", "^--")}
    for name, (label, style) in styles.items():
        axis.plot(curve["epsilon"], 100 * np.asarray(curve[name]), style, label=label)
    axis.set(xlabel="ε (largest change of a pixel, images in [0, 1])", ylabel="accuracy (%)", ylim=(0, 102),
             title=title or "Accuracy under attack and under noise of the same size")
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8)
    return fig


def plot_transform_accuracy(result, title=None):
    """Accuracy against rotation angle (left) and shift (right), from :func:`transform_accuracy`."""
    fig, (turn, move) = plots.figure(10, 3.8, ncols=2)
    turn.plot(result["angles"], 100 * result["rotation"], "o-")
    turn.set(xlabel="rotation (degrees)", ylabel="accuracy (%)", ylim=(0, 102), title="Rotated")
    move.plot(result["shifts"], 100 * result["shift_x"], "o-", label="horizontal")
    move.plot(result["shifts"], 100 * result["shift_y"], "s--", label="vertical")
    move.set(xlabel="shift (pixels)", ylabel="accuracy (%)", ylim=(0, 102), title="Shifted")
    move.legend(fontsize=8)
    for axis in (turn, move):
        axis.grid(True, alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig


def plot_adversarial_example(model, image, adversarial, label, classes):
    """One image, the perturbation an attack added, and the adversarial image, each
    titled with the model's prediction and confidence. The perturbation is stretched to
    the full range of a diverging colour map (red up, blue down), since at its true
    size it would be nearly invisible.

    Shape: image, adversarial (C, H, W). Returns the figure.
    """
    pair = np.stack([np.asarray(image, dtype=np.float32), np.asarray(adversarial, dtype=np.float32)])
    probabilities = predict_proba(model, pair)
    (before, after), (p_before, p_after) = probabilities.argmax(axis=1), probabilities.max(axis=1)
    perturbation = pair[1] - pair[0]
    size = float(np.abs(perturbation).max())
    shown = plots.displayable(pair)
    fig, axes = plots.figure(9, 3.4, ncols=3)
    axes[0].imshow(shown[0], cmap="gray", vmin=0, vmax=1)
    axes[0].set_title(f"original (true {classes[label]})\npredicted {classes[before]} ({p_before:.0%})")
    # one colour scale for every channel: the perturbation's sign is what matters
    difference = perturbation.mean(axis=0) if perturbation.shape[0] > 1 else perturbation[0]
    limit = size or 1.0
    picture = axes[1].imshow(difference, cmap="RdBu_r", vmin=-limit, vmax=limit)
    axes[1].set_title(f"perturbation, ε = {size:.2f}\n(stretched to full colour)")
    fig.colorbar(picture, ax=axes[1], fraction=0.046, pad=0.04)
    axes[2].imshow(shown[1], cmap="gray", vmin=0, vmax=1)
    axes[2].set_title(f"adversarial\npredicted {classes[after]} ({p_after:.0%})")
    for axis in axes:
        axis.axis("off")
    return fig
