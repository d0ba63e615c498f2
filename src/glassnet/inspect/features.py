"""What a network learned: its weights seen as pictures, its activations, and the inputs
that excite each unit.

A first Linear layer on flattened images holds one template per unit, the size of the
image; a Conv2d holds small filters that scan it. Every function takes a model or a
saved :class:`~glassnet.train.run.Run` (whose metadata gives the image shape) and
returns NumPy arrays; the ``plot_*`` functions draw those arrays as matplotlib figures.
"""
import math

import numpy as np

from .. import nn
from . import plots
from .layers import (as_images, capture, describe_layers, describe_model, get_layer, inspecting, layers_of_type,
                     unwrap)


# -- weights -----------------------------------------------------------------------------------


def first_layer_weights(model, input_shape=None):
    """The weights of the first Linear layer on flattened images, one row per unit,
    reshaped to the image: the pattern each hidden unit looks for.

    The image shape comes from ``input_shape``, from a Run's metadata, or, for a square
    one-channel image, from the number of inputs.

    Shape: (units, H, W) for one-channel images, (units, C, H, W) otherwise.

    >>> import glassnet as gn
    >>> first_layer_weights(gn.models.mlp((1, 8, 8), 10, hidden=(32,))).shape
    (32, 8, 8)
    """
    network, run_shape, name = unwrap(model)
    weighted = [(n, m) for n, m in network.named_modules()
                if n and isinstance(getattr(m, "weight", None), nn.Parameter)]
    if not weighted or not isinstance(weighted[0][1], nn.Linear):
        first = f"is {weighted[0][0]!r} ({type(weighted[0][1]).__name__})" if weighted else "does not exist"
        hint = "; help: for convolutions use conv_filters(model)" if layers_of_type(network, nn.Conv2d) else ""
        raise ValueError(f"first_layer_weights: {name}'s first weighted layer should be a Linear on flattened "
                         f"images, but it {first}{hint}")
    layer_name, layer = weighted[0]
    shape = tuple(input_shape or run_shape or ())
    if not shape:
        side = math.isqrt(layer.in_features)
        if side * side != layer.in_features:
            raise ValueError(f"first_layer_weights: layer {layer_name!r} takes {layer.in_features} inputs, not a "
                             f"square image; help: pass input_shape=(C, H, W)")
        shape = (1, side, side)
    if math.prod(shape) != layer.in_features:
        raise ValueError(f"first_layer_weights: layer {layer_name!r} takes {layer.in_features} inputs, but images "
                         f"of shape {shape} have {math.prod(shape)} pixels")
    weights = layer.weight.numpy().reshape(layer.out_features, *shape)
    return weights[:, 0].copy() if shape[0] == 1 else weights.copy()


def conv_filters(model, layer=None):
    """The filters of the first Conv2d (or of the one called ``layer``).

    Shape: (out_channels, in_channels, kh, kw).

    >>> import glassnet as gn
    >>> conv_filters(gn.models.cnn((1, 8, 8), 10)).shape
    (32, 1, 3, 3)
    """
    network, _, name = unwrap(model)
    convolutions = layers_of_type(network, nn.Conv2d)
    if not convolutions:
        raise ValueError(f"conv_filters: {describe_model(network, name)} has no Conv2d layer; its layers are: "
                         f"{describe_layers(network)}")
    if layer is None:
        layer = convolutions[0]
    module = get_layer(network, layer)
    if not isinstance(module, nn.Conv2d):
        raise ValueError(f"conv_filters: layer {layer!r} of {name} is a {type(module).__name__}, not a Conv2d; "
                         f"its Conv2d layers are: {', '.join(convolutions)}")
    return module.weight.numpy().copy()


def _edge_kernels(height, width, orientations=8):
    """Oriented edge detectors of one size, zero-mean and unit-norm: for each direction a
    gradient (a linear ramp, as Sobel's) and a step (dark on one side, light on the other).

    Shape: (2 * orientations, height, width).
    """
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float64)
    rows, columns = rows - rows.mean(), columns - columns.mean()
    kernels = []
    for angle in np.arange(orientations) * np.pi / orientations:
        ramp = np.cos(angle) * columns + np.sin(angle) * rows
        kernels += [ramp, np.sign(np.round(ramp, 9))]  # rounding: pixels on the edge's line are 0
    return _unit(np.array(kernels))


def _unit(kernels):
    """Each (H, W) kernel minus its mean, divided by its norm (a flat one stays all zero)."""
    kernels = kernels - kernels.mean(axis=(-2, -1), keepdims=True)
    norms = np.sqrt((kernels**2).sum(axis=(-2, -1), keepdims=True))
    return np.divide(kernels, norms, out=np.zeros_like(kernels), where=norms > 1e-12)


def edge_score(filters):
    """How much filters look like edge detectors, from 0 to 1: for each 2-D kernel, the
    largest absolute correlation with a bank of oriented gradient and step kernels of
    its size (both zero-mean, so brightness does not count), averaged over the kernels.

    A Sobel filter scores about 0.94; random 3x3 filters average about 0.53.

    Shape: filters (..., kh, kw), e.g. (out_channels, in_channels, kh, kw) -> a float.

    >>> sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    >>> round(edge_score(sobel), 2), edge_score(np.ones((3, 3)))
    (0.94, 0.0)
    """
    filters = np.asarray(filters, dtype=np.float64)
    if filters.ndim < 2 or min(filters.shape[-2:]) < 2:
        raise ValueError(f"edge_score: expected filters of shape (..., kh, kw) with kh, kw >= 2, got {filters.shape}")
    kernels = _unit(filters.reshape(-1, *filters.shape[-2:]))
    bank = _edge_kernels(*filters.shape[-2:])
    correlations = np.einsum("fhw,bhw->fb", kernels, bank)
    return float(np.abs(correlations).max(axis=1).mean())


# -- activations -------------------------------------------------------------------------------


def _leaf_layers(network):
    """The layers that compute something themselves (no sub-modules): '0', '1', ...,
    'encoder.layers.0.linear1'; containers would repeat their last layer's output."""
    return [name for name, module in network.named_modules() if name and next(module.children(), None) is None]


def feature_maps(model, image, layers=None):
    """What every layer (or each of ``layers``) outputs for one image.

    Shape: image (C, H, W) or (1, C, H, W) -> {layer name: its output without the batch
    axis}, e.g. (32, 8, 8) for a Conv2d, (128,) for a Linear.

    >>> import glassnet as gn
    >>> maps = feature_maps(gn.models.cnn((1, 8, 8), 10), np.zeros((1, 8, 8)))
    >>> maps["0"].shape, maps["13"].shape
    ((32, 8, 8), (10,))
    """
    network, _, name = unwrap(model)
    images = as_images(model, image)
    if len(images) != 1:
        raise ValueError(f"feature_maps: expected one image (C, H, W), got {len(images)} images {images.shape}")
    layers = _leaf_layers(network) if layers is None else list(layers)
    with inspecting(network):
        _, found = capture(network, images, layers)
    # a layer returning several values (attention: output and weights) is shown by its first
    return {layer: np.asarray(value[0] if isinstance(value, tuple) else value)[0] for layer, value in found.items()}


def _unit_activations(network, images, layer, unit, batch_size=256):
    """The activation of ``unit`` of ``layer`` for each image; a conv channel's is its
    mean over positions, a token layer's (N, L, D) the mean over tokens. Shape: (N,)."""
    values = []
    with inspecting(network):
        for start in range(0, len(images), batch_size):
            _, found = capture(network, images[start:start + batch_size], [layer])
            output = found[layer][0] if isinstance(found[layer], tuple) else found[layer]
            count = output.shape[1] if output.ndim in (2, 4) else output.shape[-1]
            if not 0 <= unit < count:
                kind = "channels" if output.ndim == 4 else "units"
                raise ValueError(f"top_activating: layer {layer!r} ({type(get_layer(network, layer)).__name__}) has "
                                 f"{count} {kind} (output {output.shape[1:]} per image), got unit {unit}")
            if output.ndim == 2:
                values.append(output[:, unit])
            elif output.ndim == 4:
                values.append(output[:, unit].mean(axis=(1, 2)))
            else:
                values.append(output[..., unit].reshape(len(output), -1).mean(axis=1))
    return np.concatenate(values).astype(np.float32)


def top_activating(model, images, layer, unit, k=9):
    """The ``k`` images that excite ``unit`` of ``layer`` most (a channel of a conv
    layer: its mean over positions), strongest first.

    Shape: images (N, C, H, W) -> (indices (k,) int64, values (k,) float32).

    >>> import glassnet as gn
    >>> images = np.random.default_rng(0).random((20, 1, 8, 8))
    >>> indices, values = top_activating(gn.models.cnn((1, 8, 8), 10), images, "2", unit=5, k=3)
    >>> indices.shape, bool(values[0] >= values[1] >= values[2])
    ((3,), True)
    """
    network, _, _ = unwrap(model)
    images = as_images(model, images)
    get_layer(network, layer)  # an unknown name fails here, listing the valid ones
    values = _unit_activations(network, images, layer, unit)
    indices = np.argsort(-values, kind="stable")[:k]
    return indices.astype(np.int64), values[indices]


# -- figures -----------------------------------------------------------------------------------


def plot_weights(weights, title="First-layer weights: the pattern each unit looks for", max_units=64, columns=8):
    """The templates of :func:`first_layer_weights` (units, H, W) as a grid of images:
    red where a bright pixel raises the unit's input, blue where it lowers it."""
    weights = np.asarray(weights)
    if weights.ndim != 3:
        raise ValueError(f"plot_weights: expected weights of shape (units, H, W), got {weights.shape}; "
                         f"help: for C channels plot one, weights[:, c]")
    shown = weights[:max_units]
    return plots.image_grid(shown, titles=[f"unit {i}" for i in range(len(shown))], columns=columns,
                            title=title, symmetric=True)


def plot_filters(filters, title="Conv filters", in_channel=0, max_filters=64, columns=8):
    """The filters of :func:`conv_filters` (out, in, kh, kw) as a grid, one per output
    channel, each showing its kernel on input channel ``in_channel``, titled with its
    edge score (red positive, blue negative)."""
    filters = np.asarray(filters)
    if filters.ndim != 4:
        raise ValueError(f"plot_filters: expected filters of shape (out_channels, in_channels, kh, kw), "
                         f"got {filters.shape}")
    shown = filters[:max_filters, in_channel]
    titles = [f"{i}: edge {edge_score(kernel):.2f}" for i, kernel in enumerate(shown)]
    if filters.shape[1] > 1:
        title = f"{title} (input channel {in_channel} of {filters.shape[1]})"
    return plots.image_grid(shown, titles=titles, columns=columns, title=title, symmetric=True)


def plot_feature_maps(maps, image=None, channels=8, title="Feature maps"):
    """One row per layer of ``maps`` (from :func:`feature_maps`) that outputs images
    (C, H, W): its first ``channels`` channels, after the input image (top left) if given."""
    spatial = {name: value for name, value in maps.items() if np.ndim(value) == 3}
    if not spatial:
        shapes = ", ".join(f"{name} {np.shape(value)}" for name, value in maps.items())
        raise ValueError(f"plot_feature_maps: no layer outputs images (C, H, W); the outputs are: {shapes}")
    first = 1 if image is not None else 0
    columns = first + min(channels, max(value.shape[0] for value in spatial.values()))
    fig, axes = plots.figure(1.3 * columns, 1.4 * len(spatial) + 0.5, nrows=len(spatial), ncols=columns, squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    if image is not None:
        axes[0, 0].imshow(plots.displayable(np.asarray(image).reshape(1, *np.shape(image)[-3:]))[0], cmap="gray")
        axes[0, 0].set_title("input", fontsize=8)
    for row, (name, value) in zip(axes, spatial.items()):
        for channel in range(min(channels, value.shape[0])):
            axis = row[first + channel]
            axis.imshow(value[channel], cmap="viridis")
            label = f"{name}: {tuple(value.shape)} ch {channel}" if channel == 0 else f"ch {channel}"
            axis.set_title(label, fontsize=7)
    fig.suptitle(title)
    return fig


def plot_top_activating(images, indices, values, labels=None, classes=None,
                        title="The inputs that excite this unit most"):
    """The images of :func:`top_activating` in order, each titled with its activation
    and, given ``labels`` (of all images) and ``classes``, its class name."""
    images = np.asarray(images)[np.asarray(indices)]
    titles = []
    for index, value in zip(indices, values):
        label = "" if labels is None else labels[index]
        if labels is not None and classes is not None:
            label = classes[label]
        titles.append(f"{value:.2f}" + (f" ({label})" if labels is not None else ""))
    return plots.image_grid(plots.displayable(images), titles=titles, columns=min(len(images), 9), title=title)
