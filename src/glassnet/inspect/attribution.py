"""Why this prediction: which pixels the score depends on, which regions the last
convolutions looked at, where attention went, and how sure the network is.

* saliency: |d score / d pixel|, the pixels whose change would move the score most.
* integrated gradients: the gradient averaged along a straight path from a baseline
  (black) image to the input, times (input - baseline), so the attributions add up to
  score(input) - score(baseline).
* Grad-CAM: the last convolution's maps, each weighted by how much the score rises with
  it (its gradient, averaged over positions), summed and kept where positive.

The score is the raw logit of the ``target`` class (by default the predicted one), not
its probability, whose gradient vanishes once the network is sure. Every function takes
a model or a saved :class:`~glassnet.train.run.Run`, and computes in evaluation mode
with the weights frozen, restoring both afterwards.
"""
import math

import numpy as np

from .. import nn
from ..tensor import Tensor, enable_grad, no_grad
from . import plots
from .layers import (ACTIVATIONS, as_images, describe_layers, describe_model, get_layer, inspecting, layer_names,
                     layers_of_type, unwrap)

# -- scores and their gradients ----------------------------------------------------------------


def _targets(logits, target):
    """The class whose score is explained, per image: the predicted one by default."""
    count = logits.shape[1]
    if target is None:
        return logits.argmax(axis=1)
    target = np.asarray(target, dtype=np.int64)
    if target.ndim == 0:
        target = np.full(len(logits), target)
    if target.shape != (len(logits),):
        raise ValueError(f"target: expected one class or one per image ({len(logits)},), got shape {target.shape}")
    if ((target < 0) | (target >= count)).any():
        raise ValueError(f"target: classes are 0..{count - 1}, got {target.tolist()}")
    return target


def _logits(network, images, batch_size=512):
    """The network's raw scores for every image, in batches. Shape: (N, classes)."""
    with inspecting(network), no_grad():
        return np.concatenate([network(Tensor(images[start:start + batch_size])).numpy()
                               for start in range(0, len(images), batch_size)])


def _input_gradient(network, images, target):
    """The gradient of each image's ``target`` score with respect to that image.

    One backward pass serves the whole batch: in evaluation mode an image's score
    depends on that image alone, so seeding the backward with a one-hot row per image
    gives each image the gradient of its own score.

    Shape: images (N, C, H, W) -> (gradient (N, C, H, W), logits (N, classes), target (N,)).
    """
    inputs = Tensor(images, requires_grad=True)
    with inspecting(network), enable_grad():
        logits = network(inputs)
        target = _targets(logits.numpy(), target)
        logits.backward(np.eye(logits.shape[1], dtype=logits.dtype)[target])
    return inputs.grad.numpy(), logits.numpy(), target


def saliency(model, images, target=None):
    """|d score_target / d pixel|, the largest over the colour channels: how strongly
    each pixel, nudged, would move the score.

    Shape: images (N, C, H, W) or one (C, H, W) -> (N, H, W).

    >>> import glassnet as gn
    >>> saliency(gn.models.mlp((1, 8, 8), 10), np.ones((3, 1, 8, 8))).shape
    (3, 8, 8)
    """
    network, _, _ = unwrap(model)
    gradient, _, _ = _input_gradient(network, as_images(model, images), target)
    return np.abs(gradient).max(axis=1)


def integrated_gradients(model, images, target=None, baseline=None, steps=32):
    """Integrated gradients (Sundararajan et al., 2017): (x - baseline) times the mean
    gradient of the target score at ``steps`` points along the straight line from
    ``baseline`` (default: black) to x. Their sum over pixels approximates
    score(x) - score(baseline) (completeness), better with more steps.

    The target defaults to the class predicted for x (not for the points on the path).

    Shape: images (N, C, H, W), baseline (C, H, W) or (N, C, H, W) -> (N, C, H, W).

    >>> import glassnet as gn
    >>> integrated_gradients(gn.models.mlp((1, 8, 8), 10), np.ones((2, 1, 8, 8)), steps=8).shape
    (2, 1, 8, 8)
    """
    network, _, _ = unwrap(model)
    images = as_images(model, images)
    baseline = np.zeros_like(images) if baseline is None else np.asarray(baseline, dtype=np.float32)
    if baseline.shape not in (images.shape, images.shape[1:]):
        raise ValueError(f"integrated_gradients: baseline of shape {baseline.shape}; expected {images.shape[1:]} "
                         f"or {images.shape}, as the images")
    baseline = np.broadcast_to(baseline, images.shape)
    target = _targets(_logits(network, images), target)
    # the midpoints of ``steps`` equal slices of the path: a Riemann sum of the integral
    alphas = ((np.arange(steps) + 0.5) / steps).astype(np.float32).reshape(steps, 1, 1, 1, 1)
    chunk = max(1, 256 // steps)  # images per backward pass, each with its whole path
    attributions = []
    for start in range(0, len(images), chunk):
        x, base, classes = images[start:start + chunk], baseline[start:start + chunk], target[start:start + chunk]
        path = (base + alphas * (x - base)).reshape(-1, *images.shape[1:])  # (steps * n, C, H, W)
        gradient, _, _ = _input_gradient(network, path, np.tile(classes, steps))
        attributions.append(gradient.reshape(steps, *x.shape).mean(axis=0) * (x - base))
    return np.concatenate(attributions).astype(np.float32)


# -- Grad-CAM ----------------------------------------------------------------------------------


def _default_cam_layer(network, name):
    """The last Conv2d, or the activation just after it (past a BatchNorm): the last
    maps that still have positions, as the classifier sees them."""
    convolutions = layers_of_type(network, nn.Conv2d)
    if not convolutions:
        raise ValueError(f"grad_cam: {describe_model(network, name)} has no Conv2d layer, so no maps with "
                         f"positions to weigh; its layers are: {describe_layers(network)}; "
                         f"help: use saliency or integrated_gradients")
    names = layer_names(network)
    chosen = convolutions[-1]
    for following in names[names.index(chosen) + 1:]:
        module = get_layer(network, following)
        if isinstance(module, nn.BatchNorm2d):
            continue
        if isinstance(module, ACTIVATIONS):
            chosen = following
        break
    return chosen


def _activation_and_gradient(network, images, layer, target):
    """The output of ``layer`` and the gradient of the target score with respect to it.

    The layer's output is swapped (by a forward hook) for a fresh leaf tensor holding the
    same values: the rest of the network computes from it, and backward, stopping there,
    leaves the gradient in its ``.grad``.
    """
    found = {}

    def cut(module, inputs, output):
        if not isinstance(output, Tensor):
            raise ValueError(f"grad_cam: layer {layer!r} ({type(module).__name__}) returns a {type(output).__name__}, "
                             f"not one tensor of maps")
        found["maps"] = Tensor(output.numpy(), requires_grad=True)
        return found["maps"]

    handle = get_layer(network, layer).register_forward_hook(cut)
    try:
        with inspecting(network), enable_grad():
            logits = network(Tensor(images))
            target = _targets(logits.numpy(), target)
            logits.backward(np.eye(logits.shape[1], dtype=logits.dtype)[target])
    finally:
        handle.remove()
    maps = found["maps"]
    gradient = maps.grad.numpy() if maps.grad is not None else np.zeros_like(maps.numpy())
    return maps.numpy(), gradient, target


def _interpolation(size_out, size_in):
    """The (size_out, size_in) matrix of bilinear weights that resamples a line of
    ``size_in`` pixels to ``size_out``, pixel centres aligned."""
    positions = np.clip((np.arange(size_out) + 0.5) * size_in / size_out - 0.5, 0, size_in - 1)
    return np.stack([np.interp(positions, np.arange(size_in), column) for column in np.eye(size_in)], axis=1)


def _resize(maps, height, width):
    """(N, h, w) maps resampled to (N, height, width), bilinearly: rows, then columns."""
    return _interpolation(height, maps.shape[1]) @ maps @ _interpolation(width, maps.shape[2]).T


def _scaled_to_one(maps):
    """Each (H, W) map divided by its maximum (an all-zero map stays zero)."""
    peaks = maps.max(axis=(1, 2), keepdims=True)
    return np.divide(maps, peaks, out=np.zeros_like(maps), where=peaks > 0)


def grad_cam(model, images, target=None, layer=None):
    """Grad-CAM (Selvaraju et al., 2017): the maps of ``layer`` (default: the last
    Conv2d, after its ReLU), each weighted by the mean gradient of the target score over
    its positions, summed over channels, kept where positive, resized to the image and
    scaled so that each image's largest value is 1.

    Shape: images (N, C, H, W) -> (N, H, W) in [0, 1].

    >>> import glassnet as gn
    >>> heat = grad_cam(gn.models.cnn((1, 8, 8), 10), np.ones((2, 1, 8, 8)))
    >>> heat.shape, bool(heat.min() >= 0 and heat.max() <= 1)
    ((2, 8, 8), True)
    """
    network, _, name = unwrap(model)
    images = as_images(model, images)
    layer = _default_cam_layer(network, name) if layer is None else layer
    maps, gradient, _ = _activation_and_gradient(network, images, layer, target)
    if maps.ndim != 4:
        raise ValueError(f"grad_cam: layer {layer!r} ({type(get_layer(network, layer)).__name__}) outputs "
                         f"{maps.shape}, not maps (N, C, h, w); help: choose a convolution layer: "
                         f"{', '.join(layers_of_type(network, nn.Conv2d)) or 'there is none'}")
    channel_weights = gradient.mean(axis=(2, 3), keepdims=True)  # (N, C, 1, 1)
    heat = np.maximum((channel_weights * maps).sum(axis=1), 0).astype(np.float64)  # (N, h, w)
    heat = _resize(heat, *images.shape[2:])
    return _scaled_to_one(heat).astype(np.float32)


# -- attention ---------------------------------------------------------------------------------


def _recording_weights(attention, name, found):
    """A stand-in for ``attention.forward`` that asks for the weights of every head (the
    encoder layer asks for none, so that the faster fused core runs) and records them."""
    forward = attention.forward

    def forward_with_weights(query, key, value, **options):
        options.update(need_weights=True, average_attn_weights=False)
        output, weights = forward(query, key, value, **options)
        found[name] = weights.numpy()
        return output, None  # what the caller, which asked for no weights, expects

    return forward_with_weights


def attention_maps(model, inputs):
    """The attention weights of every head of every attention layer (a ``vit`` on
    images, a ``gpt`` on token ids): row i of a head's (L, S) matrix says how position i
    shared its attention among the positions (the ViT's position 0 is the class token).
    Every row sums to 1 (for a gpt, over the positions up to i only).

    Shape: inputs (N, C, H, W) images or (N, T) token ids -> {layer name: (N, heads, L, S)}.

    >>> import glassnet as gn
    >>> maps = attention_maps(gn.models.vit((1, 8, 8), 10, depth=2, heads=4), np.zeros((3, 1, 8, 8)))
    >>> {name: weights.shape for name, weights in maps.items()}
    {'encoder.layers.0.self_attn': (3, 4, 17, 17), 'encoder.layers.1.self_attn': (3, 4, 17, 17)}
    """
    network, _, name = unwrap(model)
    attentions = layers_of_type(network, nn.MultiheadAttention)
    if not attentions:
        raise ValueError(f"attention_maps: {describe_model(network, name)} has no MultiheadAttention layer; "
                         f"its layers are: {describe_layers(network)}")
    inputs = np.asarray(inputs)
    if inputs.dtype.kind == "f":  # images
        inputs = as_images(model, inputs)
    elif inputs.ndim == 1:  # one sequence of token ids
        inputs = inputs[None]
    found = {}
    for layer in attentions:
        module = get_layer(network, layer)
        module.forward = _recording_weights(module, layer, found)  # an instance attribute, shadowing the method
    try:
        with inspecting(network), no_grad():
            network(Tensor(inputs))
    finally:
        for layer in attentions:
            del get_layer(network, layer).forward
    return {layer: found[layer] for layer in attentions}


# -- how sure ----------------------------------------------------------------------------------


def top_k(model, images, k=5, classes=None):
    """The ``k`` most probable classes of each image (softmax of the logits), most
    probable first: their probabilities and their indices, or their names from
    ``classes`` when given.

    Shape: images (N, C, H, W) -> (probabilities (N, k) float32, classes (N, k)).

    >>> import glassnet as gn
    >>> probabilities, indices = top_k(gn.models.mlp((1, 8, 8), 10), np.zeros((2, 1, 8, 8)), k=3)
    >>> probabilities.shape, indices.shape, bool((np.diff(probabilities) <= 0).all())
    ((2, 3), (2, 3), True)
    """
    network, _, _ = unwrap(model)
    logits = _logits(network, as_images(model, images)).astype(np.float64)
    count = logits.shape[1]
    if not 1 <= k <= count:
        raise ValueError(f"top_k: k must be between 1 and the number of classes ({count}), got {k}")
    if classes is not None and len(classes) != count:
        raise ValueError(f"top_k: {len(classes)} class names for a model with {count} outputs")
    exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))  # shifted: no overflow
    probabilities = exponentials / exponentials.sum(axis=1, keepdims=True)
    indices = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(probabilities, indices, axis=1).astype(np.float32)
    return top, (indices if classes is None else np.asarray(classes)[indices])


# -- figures -----------------------------------------------------------------------------------


def _grey(images):
    """(N, C, H, W) or (N, H, W) images as what ``imshow`` draws."""
    images = np.asarray(images)
    return images if images.ndim == 3 else plots.displayable(images)


def plot_attribution(images, maps, titles=None, columns=8, alpha=0.55, title=None):
    """Each image (top) and its heat map (below). Maps of :func:`saliency` and
    :func:`grad_cam` (N, H, W) are laid over the image, from dark blue to hot red; signed
    ones, as :func:`integrated_gradients` (N, C, H, W, summed over channels), are drawn
    red where a pixel raised the score and blue where it lowered it, with the outline of
    the image's bright part (a grey image's 0.5 level) on top."""
    pictures, maps = _grey(images), np.asarray(maps)
    if maps.ndim == 4:
        maps = maps.sum(axis=1)  # a pixel's attribution, over its channels
    if maps.shape != (len(pictures), *pictures.shape[1:3]):
        raise ValueError(f"plot_attribution: maps of shape {maps.shape} for images of shape {np.shape(images)}; "
                         f"expected ({len(pictures)}, {pictures.shape[1]}, {pictures.shape[2]})")
    count = len(maps)
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    fig, axes = plots.figure(1.4 * columns, 2.9 * rows + (0.4 if title else 0), nrows=2 * rows, ncols=columns,
                             squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for index, (picture, heat) in enumerate(zip(pictures, maps)):
        row, column = 2 * (index // columns), index % columns
        image_axis, overlay_axis = axes[row, column], axes[row + 1, column]
        image_axis.imshow(picture, cmap="gray")
        if (heat < 0).any():  # signed: at full strength (white is zero), the digit's outline on top
            limit = float(np.abs(heat).max()) or 1.0
            overlay_axis.imshow(heat, cmap="bwr", vmin=-limit, vmax=limit)
            if picture.ndim == 2 and picture.min() < 0.5 < picture.max():
                overlay_axis.contour(picture, levels=[0.5], colors="black", linewidths=0.6)
        else:
            overlay_axis.imshow(picture, cmap="gray")
            overlay_axis.imshow(heat, cmap="jet", vmin=0, vmax=float(heat.max()) or 1.0, alpha=alpha)
        if titles is not None:
            image_axis.set_title(str(titles[index]), fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_attention(maps, index=0, tokens=None, image=None, title=None):
    """The attention of example ``index`` in ``maps`` (from :func:`attention_maps`):
    one row per layer, one column per head.

    Without ``image`` each panel is the (L, S) matrix of weights, queries down, keys
    across, labelled with ``tokens`` when given (a gpt's characters). With the ViT's
    ``image`` (C, H, W) each panel shows where the class token looked: its weights on the
    patches, laid over the image.
    """
    layers = list(maps)
    heads = maps[layers[0]].shape[1]
    fig, axes = plots.figure(1.6 * heads + 0.5, 1.7 * len(layers) + 0.5, nrows=len(layers), ncols=heads, squeeze=False)
    for row, layer in zip(axes, layers):
        for head, axis in enumerate(row):
            weights = maps[layer][index, head]  # (L, S)
            if image is None:
                axis.imshow(weights, cmap="viridis", vmin=0)
                _label_tokens(axis, tokens, weights.shape)
            else:
                _draw_class_attention(axis, weights[0, 1:], image)
            axis.set_title(f"{layer.replace('.self_attn', '')} head {head}", fontsize=7)
    default = "Where the class token looks" if image is not None else "Attention weights (query rows, key columns)"
    fig.suptitle(title or default)
    return fig


def _label_tokens(axis, tokens, shape):
    if tokens is None or max(shape) > 40:  # beyond that, the labels overlap
        axis.set_xticks([])
        axis.set_yticks([])
        return
    axis.set_xticks(range(shape[1]), [repr(t)[1:-1] for t in tokens[:shape[1]]], fontsize=6, rotation=90)
    axis.set_yticks(range(shape[0]), [repr(t)[1:-1] for t in tokens[:shape[0]]], fontsize=6)


def _draw_class_attention(axis, weights, image):
    """The class token's weights on the (g * g) patches, on a g x g grid over the image."""
    side = math.isqrt(len(weights))
    if side * side != len(weights):
        raise ValueError(f"plot_attention: {len(weights)} patches do not form a square grid over the image")
    picture = _grey(np.asarray(image, dtype=np.float32)[None])[0]
    heat = _resize(weights.reshape(1, side, side).astype(np.float64), *picture.shape[:2])[0]
    axis.imshow(picture, cmap="gray")
    axis.imshow(heat, cmap="jet", alpha=0.55, vmin=0)
    axis.axis("off")


def plot_top_k(images, probabilities, indices, classes=None, labels=None, title="Top predictions"):
    """Each image beside a bar chart of its ``k`` most probable classes (from
    :func:`top_k`), named by ``classes``: the true class (from ``labels``) in green, the
    other bars blue for the prediction and grey for the rest."""
    pictures, probabilities, indices = _grey(images), np.asarray(probabilities), np.asarray(indices)
    count, k = probabilities.shape
    fig, axes = plots.figure(5.0, 1.1 * max(k, 3) / 3 * count + 0.5, nrows=count, ncols=2, squeeze=False,
                             gridspec_kw={"width_ratios": [1, 2.5]})
    for row, (picture, chances, chosen) in enumerate(zip(pictures, probabilities, indices)):
        image_axis, bar_axis = axes[row]
        image_axis.imshow(picture, cmap="gray")
        image_axis.axis("off")
        names = [str(classes[c]) if classes is not None and indices.dtype.kind in "iu" else str(c) for c in chosen]
        truth = None
        if labels is not None:
            truth = str(classes[labels[row]]) if classes is not None else str(labels[row])
            image_axis.set_title(f"true: {truth}", fontsize=8)
        colours = ["tab:green" if name == truth else ("tab:blue" if place == 0 else "lightgrey")
                   for place, name in enumerate(names)]
        positions = np.arange(k)[::-1]  # the most probable at the top
        bar_axis.barh(positions, chances, color=colours)
        bar_axis.set_yticks(positions, names, fontsize=8)
        bar_axis.set_xlim(0, 1)
        for position, chance in zip(positions, chances):
            bar_axis.text(min(chance + 0.02, 0.85), position, f"{chance:.0%}", va="center", fontsize=7)
        bar_axis.tick_params(axis="x", labelsize=7, labelbottom=row == count - 1)  # one scale, under the last
    axes[-1, 1].set_xlabel("probability", fontsize=8)
    fig.suptitle(title)
    return fig
