"""Figures as pictures: matplotlib without a display, saved as PNG files or bytes."""
import io

import matplotlib

matplotlib.use("Agg")  # no display needed; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def figure(width=6.0, height=4.0, **options):
    """A new figure and axes (``plt.subplots``) sized in inches."""
    return plt.subplots(figsize=(width, height), **options)


def to_png(fig, dpi=100):
    """The figure as PNG bytes; the figure is closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
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
    fig, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows + (0.4 if title else 0)), squeeze=False)
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
