"""Figures as pictures: matplotlib without a display, saved as PNG files or bytes.

Every figure is a bare :class:`matplotlib.figure.Figure`, not one made by pyplot: it needs
no backend and no display, is registered nowhere (nothing to close, nothing kept alive),
and leaves the backend of a notebook or GUI that imports glassnet as it was.

>>> fig, axis = figure(2, 1)
>>> _ = axis.plot([0, 1], [1, 0])
>>> to_png(fig)[1:4]
b'PNG'
"""
import io

import numpy as np

from ..extras import require

DRAWING = "drawing glassnet.inspect's figures"
Figure = require("matplotlib.figure", DRAWING).Figure
colormaps = require("matplotlib", DRAWING).colormaps  # colormaps['viridis'](0.5) is an RGBA colour


def figure(width=6.0, height=4.0, **options):
    """A new figure and its axes, sized in inches: ``(fig, axes)`` as ``plt.subplots`` gives
    them (``options`` are those of ``fig.subplots``: nrows, ncols, squeeze, ...)."""
    fig = Figure(figsize=(width, height))
    return fig, fig.subplots(**options)


def to_png(fig, dpi=100):
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def save(fig, path, dpi=100):
    """Write the figure as a PNG file to ``path`` and return the path."""
    with open(path, "wb") as stream:
        stream.write(to_png(fig, dpi))
    return path


def image_grid(images, titles=None, columns=8, title=None, cmap="gray", symmetric=False, size=1.2):
    """A grid of 2-D images (N, H, W), each with an optional title; returns the figure.

    ``symmetric`` centres the colour map on zero (for weights and gradients: red is
    positive, blue negative) instead of stretching each image from black to white.
    """
    images = np.asarray(images)
    count = len(images)
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    fig, axes = figure(size * columns, size * rows + (0.4 if title else 0), nrows=rows, ncols=columns, squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index >= count:
            continue
        image = images[index]
        if symmetric:
            limit = float(np.abs(image).max()) or 1.0
            axis.imshow(image, cmap="bwr", vmin=-limit, vmax=limit)
        else:
            axis.imshow(image, cmap=cmap)
        if titles is not None:
            axis.set_title(str(titles[index]), fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def displayable(images):
    """(N, C, H, W) images as what ``imshow`` draws: (N, H, W) grey or (N, H, W, C) colour."""
    images = np.asarray(images)
    return images[:, 0] if images.shape[1] == 1 else images.transpose(0, 2, 3, 1)
