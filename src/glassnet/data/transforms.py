"""Image transforms with torchvision's names, arguments and meaning, so that a PyTorch
tutorial's pipeline runs with only its imports changed::

    from glassnet.data import transforms          # was: from torchvision import transforms

    train_transform = transforms.Compose([
        transforms.RandomCrop(32, padding=4),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize((0.4914, 0.4822, 0.4465), (0.247, 0.243, 0.261)),
    ])

**What ToTensor returns.** A glassnet :class:`~glassnet.Tensor` (float32, ``(C, H, W)``,
in ``[0, 1]`` from 8-bit pixels), as torchvision returns a ``torch.Tensor``: a tutorial's
``image.unsqueeze(0)``, ``image.permute(1, 2, 0)`` or ``model(image[None])`` work on it,
and :func:`~glassnet.data.default_collate` stacks such tensors into the ``(B, C, H, W)``
float32 Tensor batch that glassnet's models take (it stacks NumPy arrays just the same,
so a dataset that hands out arrays gives the same batches). It shares no memory with the
picture and does not require gradients.

**What each transform accepts** (a PIL Image, or an array: a NumPy array or a glassnet
Tensor, always laid out ``(..., C, H, W)`` as after ``ToTensor``; an array comes back as
the same kind, a Tensor as a Tensor):

- ToTensor: a PIL Image (any mode) or a NumPy array ``(H, W, C)`` / ``(H, W)``; not a Tensor.
- Normalize: a float array or Tensor ``(..., C, H, W)``; not a PIL Image.
- Resize, CenterCrop, RandomCrop, RandomHorizontalFlip, RandomVerticalFlip: a PIL Image,
  or a float or uint8 array ``(..., H, W)``.
- RandomRotation, RandomAffine: the same; arrays with NEAREST or BILINEAR only.
- ColorJitter, Grayscale: a PIL Image, or a float array in ``[0, 1]`` or a uint8 array
  ``(..., C, H, W)`` with ``C`` 1 or 3.
- Lambda, Compose: anything their functions take.

They change values, not graphs: no gradient flows through a transform.

As in torchvision, an array with leading dimensions (a batch) gets one random draw for
the whole of it; :func:`augmentation` draws per image, for batches already in memory.
Float arrays hold pixels in ``[0, 1]`` and their ``fill`` is in those units; a PIL
image's ``fill`` is in its own (0..255 for 'L' and 'RGB'). A NumPy array that looks like
``(H, W, C)`` (last axis 1, 3 or 4, first axis not) is refused with a hint to put
``ToTensor()`` first, rather than cut along the wrong axes.

**Randomness** comes from glassnet's generator (:func:`glassnet.random.generator`, the one
:func:`glassnet.seed` resets), drawn when a transform is called: after
``glassnet.seed(n)`` the same calls give the same images. Python's ``random`` and NumPy's
global state are never touched.

**Where it differs from torchvision**: float arrays (other than float32) come out of
``ToTensor`` as float32, glassnet's float; ``antialias=False`` changes nothing for PIL
images (Pillow always antialiases, as in torchvision); on arrays, rotations and affine
maps blend the ``fill`` into border pixels by the share of their bilinear weight that
falls outside the image (torchvision multiplies by that share twice); uint8 arrays are
computed in float and rounded back (torchvision truncates in some colour operations).
As in torchvision, NEAREST resizes a PIL image Pillow's way (the pixel under each new
pixel's centre, what NEAREST_EXACT does to arrays) and an array PyTorch's way.

Pillow is needed only for PIL images; it is imported on first use
(``pip install 'glassnet[data]'``).

>>> import numpy as np
>>> from glassnet.data import transforms
>>> pipeline = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
>>> pipeline
Compose(
    ToTensor()
    Normalize(mean=(0.5,), std=(0.5,))
)
>>> image = pipeline(np.array([[0, 255], [255, 0]], dtype=np.uint8))  # an (H, W) 8-bit picture
>>> image.shape, image.dtype, image.tolist()
((1, 2, 2), dtype('float32'), [[[-1.0, 1.0], [1.0, -1.0]]])
"""
import enum
import functools
import math
import numbers
import sys
from collections.abc import Sequence

import numpy as np

from ..extras import require
from ..random import generator as _generator
from ..tensor import Tensor

__all__ = [
    "InterpolationMode",
    "Compose",
    "ToTensor",
    "Normalize",
    "Resize",
    "CenterCrop",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomVerticalFlip",
    "RandomRotation",
    "RandomAffine",
    "ColorJitter",
    "Grayscale",
    "Lambda",
    "augmentation",
    "BatchAugmentation",
]


class InterpolationMode(enum.Enum):
    """How a resize or a rotation picks the value between pixels (torchvision's names).

    NEAREST, NEAREST_EXACT, BILINEAR and BICUBIC work on PIL images and arrays (rotations
    and affine maps of arrays: NEAREST and BILINEAR); BOX, HAMMING and LANCZOS on PIL
    images only.
    """

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


# Pillow's resampling filters, by number (Image.Resampling's values since Pillow 2)
_PIL_FILTERS = {
    InterpolationMode.NEAREST: 0,
    InterpolationMode.NEAREST_EXACT: 0,
    InterpolationMode.LANCZOS: 1,
    InterpolationMode.BILINEAR: 2,
    InterpolationMode.BICUBIC: 3,
    InterpolationMode.BOX: 4,
    InterpolationMode.HAMMING: 5,
}
_FROM_PIL_NUMBER = {0: InterpolationMode.NEAREST, 1: InterpolationMode.LANCZOS, 2: InterpolationMode.BILINEAR,
                    3: InterpolationMode.BICUBIC, 4: InterpolationMode.BOX, 5: InterpolationMode.HAMMING}


def _interpolation(value, name):
    """An InterpolationMode from itself, its value ('bilinear') or Pillow's number (old tutorials'
    ``Image.BILINEAR``)."""
    if isinstance(value, InterpolationMode):
        return value
    if isinstance(value, str):
        try:
            return InterpolationMode(value.lower())
        except ValueError:
            pass
    elif isinstance(value, numbers.Integral) and int(value) in _FROM_PIL_NUMBER:
        return _FROM_PIL_NUMBER[int(value)]
    names = ", ".join(m.name for m in InterpolationMode)
    raise TypeError(f"{name}: interpolation must be an InterpolationMode ({names}), got {value!r}")


# -- what an image is ---------------------------------------------------------------------


def _pil_image():
    return require("PIL.Image", "image transforms", extra="data")


def _is_pil(img):
    # no PIL.Image module loaded means no PIL image can exist: nothing to import
    module = sys.modules.get("PIL.Image")
    return module is not None and isinstance(img, module.Image)


def _array(img, name, min_ndim=2, channels=False):
    """The NumPy array of an array image (a Tensor's own array, not a copy), checked."""
    if isinstance(img, Tensor):
        array = img._data
    elif isinstance(img, np.ndarray):
        array = img
        if array.ndim == 3 and array.shape[-1] in (1, 3, 4) and array.shape[0] not in (1, 2, 3, 4):
            raise ValueError(
                f"{name}: this array looks like (H, W, C) {array.shape}; transforms take arrays as (C, H, W): "
                "help: put ToTensor() first (it turns (H, W, C) into (C, H, W)), or pass a PIL Image"
            )
    else:
        raise TypeError(f"{name}: expects a PIL Image, a NumPy array or a glassnet Tensor, got {type(img).__name__}")
    if array.ndim < min_ndim:
        layout = "(..., C, H, W)" if channels else "(..., H, W)"
        raise ValueError(f"{name}: expects an image of shape {layout}, got shape {array.shape}")
    if array.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expects an image of numbers, got dtype {array.dtype}")
    return array


def _like(img, array):
    """``array`` as the same kind of image as ``img``: a Tensor for a Tensor."""
    return Tensor._wrap(array, False) if isinstance(img, Tensor) else array


def _size(img, name):
    """(height, width) of a PIL image or an array image."""
    if _is_pil(img):
        width, height = img.size
        return height, width
    return tuple(_array(img, name).shape[-2:])


def _back_to(dtype, array):
    """A float result in the dtype of the input: integers rounded and clipped to their range."""
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.clip(np.rint(array), info.min, info.max).astype(dtype)
    return array.astype(dtype, copy=False)


def _float(array):
    return array if array.dtype.kind == "f" else array.astype(np.float32)


def _bound(array):
    """The largest pixel value of an image of this dtype: 1 for floats, 255 for uint8."""
    return 1.0 if array.dtype.kind == "f" else float(np.iinfo(array.dtype).max)


# -- checking arguments -------------------------------------------------------------------


def _positive_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0


def _setup_size(size, name):
    """(h, w) from an int (a square) or a sequence of one or two ints, as torchvision."""
    if _positive_int(size):
        return int(size), int(size)
    if isinstance(size, Sequence) and not isinstance(size, str) and len(size) in (1, 2) \
            and all(_positive_int(s) for s in size):
        return (int(size[0]), int(size[0])) if len(size) == 1 else (int(size[0]), int(size[1]))
    raise ValueError(f"{name}: size must be a positive int or a sequence (h, w) of two positive ints, got {size!r}")


def _setup_angle(value, name, what="degrees", sizes=(2,)):
    """[-x, x] from a non-negative number, or the floats of a sequence of ``sizes`` numbers."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{name}: if {what} is a single number, it must be non-negative, got {value}")
        return [-float(value), float(value)]
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) in sizes \
            and all(isinstance(v, numbers.Real) for v in value):
        return [float(v) for v in value]
    counts = " or ".join(str(n) for n in sizes)
    raise ValueError(f"{name}: {what} must be a number or a sequence of {counts} numbers, got {value!r}")


def _check_fill(fill, name):
    if fill is None or isinstance(fill, numbers.Real):
        return fill
    if isinstance(fill, Sequence) and not isinstance(fill, str) and all(isinstance(v, numbers.Real) for v in fill):
        return tuple(fill)
    raise TypeError(f"{name}: fill must be a number or a sequence of numbers (one per channel), got {fill!r}")


def _parse_padding(padding, name):
    """(left, top, right, bottom) from an int or a sequence of 1, 2 (left/right, top/bottom) or 4."""
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        padding = (int(padding),)
    if not (isinstance(padding, Sequence) and not isinstance(padding, str)
            and all(isinstance(p, numbers.Integral) and not isinstance(p, bool) for p in padding)):
        raise TypeError(f"{name}: padding must be an int or a sequence of ints, got {padding!r}")
    if len(padding) not in (1, 2, 4):
        raise ValueError(f"{name}: padding must be an int or a 1, 2 or 4 element sequence, "
                         f"not a {len(padding)} element one")
    if any(p < 0 for p in padding):
        raise ValueError(f"{name}: padding must be non-negative, got {tuple(padding)}")
    if len(padding) == 1:
        return (int(padding[0]),) * 4
    if len(padding) == 2:
        return int(padding[0]), int(padding[1]), int(padding[0]), int(padding[1])
    return tuple(int(p) for p in padding)


_PADDING_MODES = ("constant", "edge", "reflect", "symmetric")


# -- geometry on arrays ---------------------------------------------------------------------


def _channel_fill(fill, array, name):
    """``fill`` shaped to broadcast against an array ``(..., C, H, W)``: a number, or one per channel."""
    if fill is None:
        fill = 0
    if isinstance(fill, tuple):
        if len(fill) == 1:
            return float(fill[0])
        if array.ndim < 3 or array.shape[-3] != len(fill):
            channels = array.shape[-3] if array.ndim >= 3 else 1
            raise ValueError(f"{name}: fill has {len(fill)} values but the image has {channels} channels")
        return np.asarray(fill, dtype=np.float64).reshape(-1, 1, 1)
    return float(fill)


def _pad_array(array, ltrb, fill, mode, name):
    left, top, right, bottom = ltrb
    if not any(ltrb):
        return array
    if mode != "constant":
        width = [(0, 0)] * (array.ndim - 2) + [(top, bottom), (left, right)]
        return np.pad(array, width, mode=mode)
    *lead, h, w = array.shape
    out = np.empty((*lead, h + top + bottom, w + left + right), dtype=array.dtype)
    out[...] = _channel_fill(fill, array, name)
    out[..., top:top + h, left:left + w] = array
    return out


def _pad_pil(img, ltrb, fill, mode, name):
    if not any(ltrb):
        return img
    left, top, right, bottom = ltrb
    if mode == "constant":
        image_ops = require("PIL.ImageOps", "image transforms", extra="data")
        return image_ops.expand(img, border=ltrb, fill=_pil_fill(fill, img, name))
    Image = _pil_image()
    palette = img.getpalette() if img.mode == "P" else None
    array = np.asarray(img)
    width = [(top, bottom), (left, right)] + [(0, 0)] * (array.ndim - 2)
    out = Image.fromarray(np.ascontiguousarray(np.pad(array, width, mode=mode)))
    if palette is not None:
        out.putpalette(palette)
    return out


def _pil_fill(fill, img, name):
    """torchvision's rule for a PIL fill: one number per band, integers unless the mode is 'F'."""
    bands = len(img.getbands())
    if fill is None:
        fill = 0
    if isinstance(fill, numbers.Real) and bands > 1:
        fill = (fill,) * bands
    if isinstance(fill, tuple):
        if len(fill) == 1:
            fill = fill * bands
        elif len(fill) != bands:
            raise ValueError(f"{name}: fill has {len(fill)} values but the image has {bands} channels")
    if img.mode != "F":
        fill = tuple(int(v) for v in fill) if isinstance(fill, tuple) else int(fill)
    return fill


def _pad(img, ltrb, fill, mode, name):
    if _is_pil(img):
        return _pad_pil(img, ltrb, fill, mode, name)
    return _like(img, _pad_array(_array(img, name), ltrb, fill, mode, name))


def _crop(img, top, left, height, width, name):
    if _is_pil(img):
        return img.crop((left, top, left + width, top + height))
    array = _array(img, name)
    return _like(img, array[..., top:top + height, left:left + width].copy())


def _flip(img, horizontal, name):
    if _is_pil(img):
        Image = _pil_image()
        methods = getattr(Image, "Transpose", Image)
        return img.transpose(methods.FLIP_LEFT_RIGHT if horizontal else methods.FLIP_TOP_BOTTOM)
    array = _array(img, name)
    return _like(img, (array[..., ::-1] if horizontal else array[..., ::-1, :]).copy())


@functools.lru_cache(maxsize=256)
def _resize_weights(n_in, n_out, mode, antialias):
    """The (n_out, n_in) matrix that resizes one axis, as PyTorch's ``interpolate`` does
    (align_corners=False): with antialias, Pillow's separable filter (support widened by the
    scale when shrinking, bicubic a = -0.5); without, the 2 or 4 nearest pixels (bicubic
    a = -0.75, indices clamped to the edge)."""
    scale = n_in / n_out
    weights = np.zeros((n_out, n_in))
    if antialias:
        support = (1.0 if mode is InterpolationMode.BILINEAR else 2.0) * max(scale, 1.0)
        inverse = 1.0 / max(scale, 1.0)
        for i in range(n_out):
            center = scale * (i + 0.5)
            low = max(int(center - support + 0.5), 0)
            high = min(int(center + support + 0.5), n_in)
            x = np.abs((np.arange(low, high) - center + 0.5) * inverse)
            if mode is InterpolationMode.BILINEAR:
                w = np.maximum(0.0, 1.0 - x)
            else:
                w = _cubic(x, -0.5)
            total = w.sum()
            weights[i, low:high] = w / total if total else w
        weights.flags.writeable = False
        return weights
    for i in range(n_out):
        source = scale * (i + 0.5) - 0.5
        if mode is InterpolationMode.BILINEAR:
            source = max(source, 0.0)
            i0 = int(math.floor(source))
            t = source - i0
            i1 = i0 + 1 if i0 < n_in - 1 else i0
            weights[i, i0] += 1.0 - t
            weights[i, i1] += t
        else:
            i0 = int(math.floor(source))
            t = source - i0
            taps = _cubic(np.array([t + 1.0, t, 1.0 - t, 2.0 - t]), -0.75)
            for k, w in zip(range(i0 - 1, i0 + 3), taps):
                weights[i, min(max(k, 0), n_in - 1)] += w
    weights.flags.writeable = False
    return weights


def _cubic(x, a):
    x = np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    far = ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def _nearest_indices(n_in, n_out, exact):
    # PyTorch's float32 arithmetic, so that the same pixels are picked
    scale = np.float32(n_in / n_out)
    i = np.arange(n_out, dtype=np.float32)
    source = np.floor((i + np.float32(0.5)) * scale if exact else i * scale).astype(np.int64)
    return np.minimum(source, n_in - 1)


def _resize_array(array, size, mode, antialias, name):
    h, w = array.shape[-2:]
    oh, ow = size
    if mode in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT):
        exact = mode is InterpolationMode.NEAREST_EXACT
        rows, cols = _nearest_indices(h, oh, exact), _nearest_indices(w, ow, exact)
        return array[..., rows[:, None], cols]
    if mode not in (InterpolationMode.BILINEAR, InterpolationMode.BICUBIC):
        raise ValueError(f"{name}: {mode.name} works on PIL images only; arrays take NEAREST, NEAREST_EXACT, "
                         "BILINEAR or BICUBIC")
    values = _float(array)
    dtype = values.dtype
    rows = _resize_weights(h, oh, mode, bool(antialias)).astype(dtype)
    cols = _resize_weights(w, ow, mode, bool(antialias)).astype(dtype)
    return _back_to(array.dtype, np.matmul(np.matmul(rows, values), cols.T))


def _inverse_affine_matrix(center, angle, translate, scale, shear):
    """torchvision's ``_get_inverse_affine_matrix``: the map from output to input
    coordinates of a rotation by ``angle`` degrees (clockwise on screen) about ``center``,
    a scale, a shear (x, y degrees) and a translation; 6 numbers (a, b, c, d, e, f)."""
    rot = math.radians(angle)
    sx, sy = math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    matrix = [x / scale for x in (d, -b, 0.0, -c, a, 0.0)]
    matrix[2] += matrix[0] * (-cx - tx) + matrix[1] * (-cy - ty)
    matrix[5] += matrix[3] * (-cx - tx) + matrix[4] * (-cy - ty)
    matrix[2] += cx
    matrix[5] += cy
    return matrix


def _expanded_size(matrix, w, h):
    """The (width, height) that holds the whole image after the map (torchvision's rule)."""
    corners = np.array([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0],
                        [0.5 * w, 0.5 * h, 1.0], [0.5 * w, -0.5 * h, 1.0]])
    moved = corners @ np.asarray(matrix, dtype=np.float64).reshape(2, 3).T
    low, high = moved.min(axis=0) + (w * 0.5, h * 0.5), moved.max(axis=0) + (w * 0.5, h * 0.5)
    tolerance = 1e-4  # 1e-15 above an integer is that integer, not the next one
    size = np.ceil(np.trunc(high / tolerance) * tolerance) - np.floor(np.trunc(low / tolerance) * tolerance)
    return int(size[0]), int(size[1])


def _warp_array(array, matrix, out_hw, mode, fill, name):
    """Sample ``array`` (..., H, W) at ``matrix`` (output -> input, coordinates about the
    image centre, as torchvision's tensor path) for every output pixel; what falls outside
    the input is ``fill``."""
    if mode not in (InterpolationMode.NEAREST, InterpolationMode.BILINEAR):
        raise ValueError(f"{name}: arrays are rotated with NEAREST or BILINEAR, got {mode.name}; "
                         "help: use a PIL Image for the others")
    h, w = array.shape[-2:]
    oh, ow = out_hw
    xs = np.arange(ow) - ow * 0.5 + 0.5
    ys = (np.arange(oh) - oh * 0.5 + 0.5)[:, None]
    source_x = matrix[0] * xs + matrix[1] * ys + matrix[2] + (w - 1) * 0.5  # (oh, ow)
    source_y = matrix[3] * xs + matrix[4] * ys + matrix[5] + (h - 1) * 0.5
    fill = _channel_fill(fill, array, name)
    values = _float(array)
    if mode is InterpolationMode.NEAREST:
        ix, iy = np.rint(source_x).astype(np.int64), np.rint(source_y).astype(np.int64)
        inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
        picked = values[..., np.clip(iy, 0, h - 1), np.clip(ix, 0, w - 1)]
        return _back_to(array.dtype, np.where(inside, picked, fill))
    x0, y0 = np.floor(source_x), np.floor(source_y)
    fx, fy = (source_x - x0).astype(values.dtype), (source_y - y0).astype(values.dtype)
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    total = np.zeros(values.shape[:-2] + (oh, ow), dtype=values.dtype)
    inside_weight = np.zeros((oh, ow), dtype=values.dtype)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            ix, iy = x0 + dx, y0 + dy
            weight = wy * wx * ((ix >= 0) & (ix < w) & (iy >= 0) & (iy < h))
            total += values[..., np.clip(iy, 0, h - 1), np.clip(ix, 0, w - 1)] * weight
            inside_weight += weight
    if np.any(fill):
        total += (1 - inside_weight) * np.asarray(fill, dtype=values.dtype)
    return _back_to(array.dtype, total)


# -- colour on arrays ----------------------------------------------------------------------


def _colour_array(img, name):
    array = _array(img, name, min_ndim=3, channels=True)
    if array.shape[-3] not in (1, 3):
        raise ValueError(f"{name}: expects images with 1 or 3 channels, got {array.shape[-3]} (shape {array.shape})")
    return array


def _grey(values):
    """Luma (ITU-R 601-2, torchvision's weights) of (..., 3, H, W) -> (..., 1, H, W)."""
    r, g, b = values[..., 0, :, :], values[..., 1, :, :], values[..., 2, :, :]
    return (0.2989 * r + 0.587 * g + 0.114 * b)[..., None, :, :].astype(values.dtype, copy=False)


def _blend(one, other, ratio, bound):
    return np.clip(ratio * one + (1 - ratio) * other, 0, bound)


def _adjust_array(array, which, factor):
    values = _float(array)
    bound = _bound(array)
    if which == "brightness":
        out = _blend(values, 0, factor, bound)
    elif which == "contrast":
        grey = _grey(values) if values.shape[-3] == 3 else values
        out = _blend(values, grey.mean(axis=(-3, -2, -1), keepdims=True), factor, bound)
    elif which == "saturation":
        if values.shape[-3] == 1:
            return array
        out = _blend(values, _grey(values), factor, bound)
    else:  # hue
        if values.shape[-3] == 1:
            return array
        h, s, v = _rgb_to_hsv(values / bound)
        out = _hsv_to_rgb((h + factor) % 1.0, s, v) * bound
    return _back_to(array.dtype, out.astype(values.dtype, copy=False))


def _rgb_to_hsv(rgb):
    r, g, b = rgb[..., 0, :, :], rgb[..., 1, :, :], rgb[..., 2, :, :]
    high, low = rgb.max(axis=-3), rgb.min(axis=-3)
    flat = high == low
    spread = high - low
    s = spread / np.where(flat, 1, high)
    divisor = np.where(flat, 1, spread)
    rc, gc, bc = (high - r) / divisor, (high - g) / divisor, (high - b) / divisor
    h = np.where(high == r, bc - gc, np.where(high == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = np.fmod(h / 6.0 + 1.0, 1.0)
    return h, s, high


def _hsv_to_rgb(h, s, v):
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.int64) % 6
    p = np.clip(v * (1.0 - s), 0.0, 1.0)
    q = np.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = np.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    r = np.choose(i, (v, q, p, p, t, v))
    g = np.choose(i, (t, v, v, q, p, p))
    b = np.choose(i, (p, p, t, v, v, q))
    return np.stack([r, g, b], axis=-3)


def _adjust_pil(img, which, factor):
    if which == "hue":
        if img.mode in ("L", "1", "I", "F"):
            return img
        Image = _pil_image()
        h, s, v = img.convert("HSV").split()
        shifted = ((np.asarray(h, dtype=np.int64) + int(factor * 255)) % 256).astype(np.uint8)
        return Image.merge("HSV", (Image.fromarray(shifted, "L"), s, v)).convert(img.mode)
    enhance = require("PIL.ImageEnhance", "image transforms", extra="data")
    kind = {"brightness": enhance.Brightness, "contrast": enhance.Contrast, "saturation": enhance.Color}[which]
    return kind(img).enhance(factor)


# -- the transforms ------------------------------------------------------------------------


class Transform:
    """What every transform is: a callable from an image to an image (``forward``)."""

    def __call__(self, img):
        return self.forward(img)

    def forward(self, img):
        raise NotImplementedError(f"{type(self).__name__} must define forward")

    def __repr__(self):
        return f"{type(self).__name__}()"


class Compose:
    """Apply ``transforms`` one after the other, in the order given.

    >>> Compose([Lambda(lambda x: x + 1), Lambda(lambda x: x * 2)])(3)
    8
    """

    def __init__(self, transforms):
        self.transforms = list(transforms)
        for i, t in enumerate(self.transforms):
            if not callable(t):
                raise TypeError(f"Compose: transform {i} is not callable: {t!r}")

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        lines = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({lines}\n)"


class Lambda(Transform):
    """Apply a function of your own as a transform.

    >>> Lambda(lambda x: x * 10)(2)
    20
    """

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Lambda: argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def forward(self, img):
        return self.lambd(img)


class ToTensor(Transform):
    """A PIL Image or an ``(H, W, C)`` / ``(H, W)`` NumPy array -> a glassnet Tensor ``(C, H, W)``.

    8-bit pixels (PIL modes 'L', 'RGB', 'RGBA', 'P', ...; uint8 arrays) are scaled from
    0..255 to float32 in ``[0, 1]``; mode '1' gives 0 or 1; float pixels (mode 'F', float
    arrays) are kept as they are, in float32; other integers (modes 'I', 'I;16', int
    arrays) keep their values and integer dtype, as in torchvision.

    >>> import numpy as np
    >>> ToTensor()(np.full((2, 3, 3), 255, dtype=np.uint8)).shape  # (H, W, C) -> (C, H, W)
    (3, 2, 3)
    """

    def forward(self, pic):
        if _is_pil(pic):
            array = np.array(pic)
            if array.dtype == bool:  # mode '1'
                array = array.astype(np.uint8) * np.uint8(255)
        elif isinstance(pic, np.ndarray):
            array = pic
        else:
            hint = "; it already is one: help: drop ToTensor()" if isinstance(pic, Tensor) else ""
            raise TypeError(f"ToTensor: expects a PIL Image or a NumPy array (H, W, C), got {type(pic).__name__}{hint}")
        if array.ndim not in (2, 3):
            raise ValueError(f"ToTensor: expects a picture of shape (H, W) or (H, W, C), got shape {array.shape}")
        if array.ndim == 2:
            array = array[:, :, None]
        chw = array.transpose(2, 0, 1)
        if chw.dtype == np.uint8:
            chw = chw.astype(np.float32) / np.float32(255)
        elif chw.dtype == bool:
            chw = chw.astype(np.float32)
        elif chw.dtype.kind == "f":
            chw = chw.astype(np.float32)
        return Tensor._wrap(np.ascontiguousarray(chw), False)


class Normalize(Transform):
    """``(image - mean) / std`` per channel, for float images ``(..., C, H, W)`` (after ToTensor).

    ``mean`` and ``std`` give one value per channel (or one for all). With
    ``inplace=True`` the image itself is overwritten (and returned).

    >>> import numpy as np
    >>> Normalize((0.5, 0.0), (0.5, 2.0))(np.ones((2, 1, 1), dtype=np.float32)).ravel().tolist()
    [1.0, 0.5]
    """

    def __init__(self, mean, std, inplace=False):
        self.mean, self.std, self.inplace = mean, std, inplace
        means, stds = np.atleast_1d(np.asarray(mean, dtype=np.float64)), np.atleast_1d(np.asarray(std, dtype=np.float64))
        if means.ndim != 1 or stds.ndim != 1:
            raise ValueError(f"Normalize: mean and std must be numbers or sequences of numbers, got {mean!r} and {std!r}")
        if np.any(stds == 0):
            raise ValueError(f"Normalize: std must not be zero (it divides), got {std!r}")
        self._means, self._stds = means, stds

    def forward(self, tensor):
        if _is_pil(tensor):
            raise TypeError("Normalize: expects a float array or Tensor (C, H, W), got a PIL Image; "
                            "help: put ToTensor() before Normalize")
        array = _array(tensor, "Normalize", min_ndim=3, channels=True)
        if array.dtype.kind != "f":
            raise TypeError(f"Normalize: expects a float image (after ToTensor), got dtype {array.dtype}")
        channels = array.shape[-3]
        if len(self._means) not in (1, channels) or len(self._stds) not in (1, channels):
            raise ValueError(
                f"Normalize: the image has {channels} channels (shape {array.shape}) but mean has "
                f"{len(self._means)} values and std {len(self._stds)}; give one per channel, or a single value"
            )
        mean = self._means.astype(array.dtype).reshape(-1, 1, 1)
        std = self._stds.astype(array.dtype).reshape(-1, 1, 1)
        if not self.inplace:
            return _like(tensor, (array - mean) / std)
        if not array.flags.writeable:
            raise ValueError("Normalize(inplace=True): the image is read-only (a dataset's shared array?); "
                             "help: use inplace=False")
        array -= mean
        array /= std
        return tensor

    def __repr__(self):
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


class Resize(Transform):
    """Resize to ``size``: an int makes the smaller edge that long (keeping the aspect
    ratio; the longer edge is truncated to an int), ``(h, w)`` gives both.

    ``max_size`` caps the longer edge when ``size`` is an int. ``antialias`` smooths
    before shrinking (Pillow always does; arrays follow PyTorch's ``interpolate``).

    >>> import numpy as np
    >>> Resize(2)(np.zeros((1, 4, 6), dtype=np.float32)).shape
    (1, 2, 3)
    """

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
        if _positive_int(size):
            pass
        elif not (isinstance(size, Sequence) and not isinstance(size, str) and len(size) in (1, 2)
                  and all(_positive_int(s) for s in size)):
            raise ValueError(f"Resize: size must be a positive int (the smaller edge) or a sequence (h, w) of "
                             f"positive ints, got {size!r}")
        if max_size is not None:
            if not (_positive_int(size) or len(size) == 1):
                raise ValueError(f"Resize: max_size is only for an int size (the smaller edge), got size={size!r}")
            smaller = size if _positive_int(size) else size[0]
            if max_size <= smaller:
                raise ValueError(f"Resize: max_size = {max_size} must be greater than the smaller edge's size = {smaller}")
        self.size, self.max_size, self.antialias = size, max_size, antialias
        self.interpolation = _interpolation(interpolation, "Resize")

    def output_size(self, height, width):
        """The (height, width) an image of this size is resized to."""
        size = self.size
        if not _positive_int(size) and len(size) == 2:
            return int(size[0]), int(size[1])
        wanted = int(size if _positive_int(size) else size[0])
        short, long = (width, height) if width <= height else (height, width)
        new_short, new_long = wanted, int(wanted * long / short)
        if self.max_size is not None and new_long > self.max_size:
            new_short, new_long = int(self.max_size * new_short / new_long), self.max_size
        return (new_long, new_short) if width <= height else (new_short, new_long)

    def forward(self, img):
        height, width = _size(img, "Resize")
        out_h, out_w = self.output_size(height, width)
        if (out_h, out_w) == (height, width):
            return img
        if _is_pil(img):
            return img.resize((out_w, out_h), _PIL_FILTERS[self.interpolation])
        array = _array(img, "Resize")
        return _like(img, _resize_array(array, (out_h, out_w), self.interpolation, self.antialias, "Resize"))

    def __repr__(self):
        return (f"{type(self).__name__}(size={self.size}, interpolation={self.interpolation.value}, "
                f"max_size={self.max_size}, antialias={self.antialias})")


class CenterCrop(Transform):
    """The middle ``size`` (an int for a square, or ``(h, w)``) of the image; an image
    smaller than that is first padded with zeros.

    >>> import numpy as np
    >>> CenterCrop(1)(np.arange(9).reshape(3, 3)).tolist()
    [[4]]
    """

    def __init__(self, size):
        self.size = _setup_size(size, "CenterCrop")

    def forward(self, img):
        height, width = _size(img, "CenterCrop")
        crop_h, crop_w = self.size
        if crop_h > height or crop_w > width:
            ltrb = ((crop_w - width) // 2 if crop_w > width else 0, (crop_h - height) // 2 if crop_h > height else 0,
                    (crop_w - width + 1) // 2 if crop_w > width else 0,
                    (crop_h - height + 1) // 2 if crop_h > height else 0)
            img = _pad(img, ltrb, 0, "constant", "CenterCrop")
            height, width = _size(img, "CenterCrop")
        top, left = int(round((height - crop_h) / 2.0)), int(round((width - crop_w) / 2.0))
        return _crop(img, top, left, crop_h, crop_w, "CenterCrop")

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size})"


class RandomCrop(Transform):
    """A window of ``size`` at a random place, after ``padding`` the image (an int for all
    sides, ``(left/right, top/bottom)`` or ``(left, top, right, bottom)``).

    ``pad_if_needed`` pads an image smaller than ``size`` (by the shortfall on both sides,
    as torchvision). ``padding_mode``: 'constant' (with ``fill``), 'edge', 'reflect' (the
    edge pixel not repeated) or 'symmetric' (repeated).

    >>> import numpy as np
    >>> RandomCrop(28, padding=4)(np.zeros((1, 28, 28), dtype=np.float32)).shape
    (1, 28, 28)
    """

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.size = _setup_size(size, "RandomCrop")
        self.padding = padding
        self._ltrb = None if padding is None else _parse_padding(padding, "RandomCrop")
        self.pad_if_needed = pad_if_needed
        self.fill = _check_fill(fill, "RandomCrop")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"RandomCrop: padding_mode must be one of {', '.join(_PADDING_MODES)}, got {padding_mode!r}")
        self.padding_mode = padding_mode

    @staticmethod
    def get_params(img, output_size):
        """(top, left, height, width) of a random window of ``output_size`` in ``img``."""
        height, width = _size(img, "RandomCrop")
        th, tw = output_size
        if height < th or width < tw:
            raise ValueError(f"RandomCrop: the crop size {(th, tw)} is larger than the image's size {(height, width)}; "
                             "help: pass padding= or pad_if_needed=True")
        if (height, width) == (th, tw):
            return 0, 0, height, width
        rng = _generator()
        top = int(rng.integers(0, height - th + 1))
        left = int(rng.integers(0, width - tw + 1))
        return top, left, th, tw

    def forward(self, img):
        if self._ltrb is not None:
            img = _pad(img, self._ltrb, self.fill, self.padding_mode, "RandomCrop")
        height, width = _size(img, "RandomCrop")
        if self.pad_if_needed and width < self.size[1]:
            short = self.size[1] - width
            img = _pad(img, (short, 0, short, 0), self.fill, self.padding_mode, "RandomCrop")
        if self.pad_if_needed and height < self.size[0]:
            short = self.size[0] - height
            img = _pad(img, (0, short, 0, short), self.fill, self.padding_mode, "RandomCrop")
        top, left, h, w = self.get_params(img, self.size)
        return _crop(img, top, left, h, w, "RandomCrop")

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip(Transform):
    """Mirror left-right (reverse the columns) with probability ``p``.

    >>> import numpy as np
    >>> RandomHorizontalFlip(p=1.0)(np.array([[1, 2, 3]])).tolist()
    [[3, 2, 1]]
    """

    def __init__(self, p=0.5):
        self.p = p

    def forward(self, img):
        if _generator().random() < self.p:
            return _flip(img, True, type(self).__name__)
        return img

    def __repr__(self):
        return f"{type(self).__name__}(p={self.p})"


class RandomVerticalFlip(RandomHorizontalFlip):
    """Flip upside down (reverse the rows) with probability ``p``.

    >>> import numpy as np
    >>> RandomVerticalFlip(p=1.0)(np.array([[1], [2]])).tolist()
    [[2], [1]]
    """

    def forward(self, img):
        if _generator().random() < self.p:
            return _flip(img, False, type(self).__name__)
        return img


class RandomRotation(Transform):
    """Rotate by an angle drawn uniformly from ``degrees`` (a number d for ``(-d, d)``, or
    ``(min, max)``), counter-clockwise for positive angles.

    ``expand`` grows the output to hold the whole rotated image; ``center`` is the pivot
    ``(x, y)`` in pixels (default: the image's centre); ``fill`` is what the uncovered
    corners get. A whole number of quarter turns about the centre is done exactly (a
    transpose, as Pillow does).

    >>> import numpy as np
    >>> RandomRotation((90, 90))(np.array([[1, 2], [3, 4]])).tolist()  # a quarter turn to the left
    [[2, 4], [1, 3]]
    """

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand=False, center=None, fill=0):
        self.degrees = _setup_angle(degrees, "RandomRotation")
        self.interpolation = _interpolation(interpolation, "RandomRotation")
        self.expand = expand
        if center is not None and not (isinstance(center, Sequence) and len(center) == 2):
            raise ValueError(f"RandomRotation: center must be a sequence (x, y), got {center!r}")
        self.center = center
        self.fill = _check_fill(fill, "RandomRotation")

    @staticmethod
    def get_params(degrees):
        """An angle drawn uniformly from ``degrees`` = (min, max)."""
        return float(_generator().uniform(float(degrees[0]), float(degrees[1])))

    def forward(self, img):
        angle = self.get_params(self.degrees)
        if _is_pil(img):
            return img.rotate(angle, _PIL_FILTERS[self.interpolation], self.expand, self.center,
                              fillcolor=_pil_fill(self.fill, img, "RandomRotation"))
        array = _array(img, "RandomRotation")
        h, w = array.shape[-2:]
        quarter_turns = _quarter_turns(angle, self.center, self.expand, h, w)
        if quarter_turns is not None:  # exact, as Pillow does: a transpose, not a resampling
            return _like(img, np.rot90(array, quarter_turns, axes=(-2, -1)).copy())
        center = (0.0, 0.0) if self.center is None else (self.center[0] - w * 0.5, self.center[1] - h * 0.5)
        matrix = _inverse_affine_matrix(center, -angle, (0.0, 0.0), 1.0, (0.0, 0.0))
        out_w, out_h = _expanded_size(matrix, w, h) if self.expand else (w, h)
        return _like(img, _warp_array(array, matrix, (out_h, out_w), self.interpolation, self.fill, "RandomRotation"))

    def __repr__(self):
        text = f"{type(self).__name__}(degrees={self.degrees}, interpolation={self.interpolation.value}, " \
               f"expand={self.expand}"
        if self.center is not None:
            text += f", center={self.center}"
        if self.fill is not None:
            text += f", fill={self.fill}"
        return text + ")"


def _quarter_turns(angle, center, expand, h, w):
    """How many quarter turns to the left ``angle`` is, when it is a whole number of them
    that Pillow's ``rotate`` does as a transpose (no centre given; 90 or 270 only if the
    image is square or expands); else None."""
    angle = angle % 360.0
    if center is not None or angle not in (0.0, 90.0, 180.0, 270.0):
        return None
    if angle in (90.0, 270.0) and not (expand or h == w):
        return None
    return int(angle // 90)


class RandomAffine(Transform):
    """A random rotation, translation, scale and shear that keeps the image's size.

    Args:
        degrees: the rotation angle's range: d for ``(-d, d)``, or ``(min, max)``;
            positive angles turn clockwise (torchvision's ``affine``; 0 for none).
        translate: ``(a, b)``: shift by up to ``a * width`` horizontally and
            ``b * height`` vertically (a whole number of pixels).
        scale: ``(min, max)`` of the zoom factor.
        shear: x-shear's range in degrees (a number s for ``(-s, s)``, or ``(min, max)``),
            or ``(xmin, xmax, ymin, ymax)`` to shear along y too.
        interpolation, fill, center: as for :class:`RandomRotation`.

    >>> import numpy as np
    >>> RandomAffine(0)(np.ones((1, 2, 2))).tolist()  # no rotation, nothing else asked: unchanged
    [[[1.0, 1.0], [1.0, 1.0]]]
    """

    def __init__(self, degrees, translate=None, scale=None, shear=None, interpolation=InterpolationMode.NEAREST,
                 fill=0, center=None):
        name = "RandomAffine"
        self.degrees = _setup_angle(degrees, name)
        if translate is not None:
            if not (isinstance(translate, Sequence) and len(translate) == 2
                    and all(isinstance(t, numbers.Real) and 0.0 <= t <= 1.0 for t in translate)):
                raise ValueError(f"{name}: translate must be a pair of fractions in [0, 1], got {translate!r}")
        if scale is not None:
            if not (isinstance(scale, Sequence) and len(scale) == 2
                    and all(isinstance(s, numbers.Real) and s > 0 for s in scale)):
                raise ValueError(f"{name}: scale must be a pair (min, max) of positive numbers, got {scale!r}")
        self.translate, self.scale = translate, scale
        self.shear = None if shear is None else _setup_angle(shear, name, "shear", sizes=(2, 4))
        self.interpolation = _interpolation(interpolation, name)
        self.fill = _check_fill(fill, name)
        if center is not None and not (isinstance(center, Sequence) and len(center) == 2):
            raise ValueError(f"{name}: center must be a sequence (x, y), got {center!r}")
        self.center = center

    @staticmethod
    def get_params(degrees, translate, scale_ranges, shears, img_size):
        """(angle, (tx, ty), scale, (shear_x, shear_y)) drawn from the ranges, for an image of
        ``img_size`` = (width, height)."""
        rng = _generator()
        angle = float(rng.uniform(float(degrees[0]), float(degrees[1])))
        if translate is not None:
            max_dx, max_dy = float(translate[0] * img_size[0]), float(translate[1] * img_size[1])
            translations = (int(round(rng.uniform(-max_dx, max_dx))), int(round(rng.uniform(-max_dy, max_dy))))
        else:
            translations = (0, 0)
        scale = float(rng.uniform(scale_ranges[0], scale_ranges[1])) if scale_ranges is not None else 1.0
        shear_x = shear_y = 0.0
        if shears is not None:
            shear_x = float(rng.uniform(shears[0], shears[1]))
            if len(shears) == 4:
                shear_y = float(rng.uniform(shears[2], shears[3]))
        return angle, translations, scale, (shear_x, shear_y)

    def forward(self, img):
        height, width = _size(img, "RandomAffine")
        angle, translate, scale, shear = self.get_params(self.degrees, self.translate, self.scale, self.shear,
                                                         (width, height))
        if _is_pil(img):
            Image = _pil_image()
            center = (width * 0.5, height * 0.5) if self.center is None else self.center
            matrix = _inverse_affine_matrix(center, angle, translate, scale, shear)
            method = getattr(Image, "Transform", Image).AFFINE
            return img.transform(img.size, method, matrix, _PIL_FILTERS[self.interpolation],
                                 fillcolor=_pil_fill(self.fill, img, "RandomAffine"))
        array = _array(img, "RandomAffine")
        center = (0.0, 0.0) if self.center is None else (self.center[0] - width * 0.5, self.center[1] - height * 0.5)
        matrix = _inverse_affine_matrix(center, angle, (float(translate[0]), float(translate[1])), scale, shear)
        return _like(img, _warp_array(array, matrix, (height, width), self.interpolation, self.fill, "RandomAffine"))

    def __repr__(self):
        text = f"{type(self).__name__}(degrees={self.degrees}"
        if self.translate is not None:
            text += f", translate={self.translate}"
        if self.scale is not None:
            text += f", scale={self.scale}"
        if self.shear is not None:
            text += f", shear={self.shear}"
        if self.interpolation is not InterpolationMode.NEAREST:
            text += f", interpolation={self.interpolation.value}"
        if self.fill != 0:
            text += f", fill={self.fill}"
        if self.center is not None:
            text += f", center={self.center}"
        return text + ")"


class ColorJitter(Transform):
    """Change brightness, contrast, saturation and hue by random factors, in a random order.

    Each of ``brightness``, ``contrast`` and ``saturation`` is a number x for factors in
    ``[max(0, 1 - x), 1 + x]`` or a range ``(min, max)``; a factor of 1 leaves the image
    as it is, 0 makes it black, grey (its mean) or greyscale. ``hue`` is a number h
    (``0 <= h <= 0.5``) for shifts in ``[-h, h]`` of a turn of the colour wheel, or a range
    within ``[-0.5, 0.5]``. Float images are clipped to ``[0, 1]``: jitter before Normalize.

    >>> import numpy as np
    >>> ColorJitter(brightness=(0.5, 0.5))(np.full((1, 1, 1), 0.8, dtype=np.float32)).ravel().tolist()
    [0.4000000059604645]
    """

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0):
        self.brightness = self._check_input(brightness, "brightness")
        self.contrast = self._check_input(contrast, "contrast")
        self.saturation = self._check_input(saturation, "saturation")
        self.hue = self._check_input(hue, "hue", center=0, bound=(-0.5, 0.5), clip_first_on_zero=False)

    @staticmethod
    def _check_input(value, name, center=1, bound=(0, float("inf")), clip_first_on_zero=True):
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            if value < 0:
                raise ValueError(f"ColorJitter: if {name} is a single number, it must be non-negative, got {value}")
            value = [center - float(value), center + float(value)]
            if clip_first_on_zero:
                value[0] = max(value[0], 0.0)
        elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2 \
                and all(isinstance(v, numbers.Real) for v in value):
            value = [float(value[0]), float(value[1])]
        else:
            raise TypeError(f"ColorJitter: {name} should be a single number or a sequence (min, max), got {value!r}")
        if not bound[0] <= value[0] <= value[1] <= bound[1]:
            raise ValueError(f"ColorJitter: {name} values should be between {bound[0]} and {bound[1]} "
                             f"(min first), got {value}")
        if value[0] == value[1] == center:
            return None
        return value

    @staticmethod
    def get_params(brightness, contrast, saturation, hue):
        """(order, brightness, contrast, saturation, hue): the order the four are applied in
        (a permutation of 0..3) and each factor (None where that one is off)."""
        rng = _generator()
        order = [int(i) for i in rng.permutation(4)]
        factors = [None if r is None else float(rng.uniform(r[0], r[1])) for r in (brightness, contrast, saturation, hue)]
        return (order, *factors)

    def forward(self, img):
        order, *factors = self.get_params(self.brightness, self.contrast, self.saturation, self.hue)
        kinds = ("brightness", "contrast", "saturation", "hue")
        pil = _is_pil(img)
        array = None if pil else _colour_array(img, "ColorJitter")
        for i in order:
            if factors[i] is None:
                continue
            if pil:
                img = _adjust_pil(img, kinds[i], factors[i])
            else:
                array = _adjust_array(array, kinds[i], factors[i])
        return img if pil else _like(img, array)

    def __repr__(self):
        return (f"{type(self).__name__}(brightness={self.brightness}, contrast={self.contrast}, "
                f"saturation={self.saturation}, hue={self.hue})")


class Grayscale(Transform):
    """Convert to grey (luma: 0.299 R + 0.587 G + 0.114 B), with 1 or 3 (equal) output channels.

    >>> import numpy as np
    >>> Grayscale()(np.ones((3, 1, 1), dtype=np.float32)).shape
    (1, 1, 1)
    """

    def __init__(self, num_output_channels=1):
        if num_output_channels not in (1, 3):
            raise ValueError(f"Grayscale: num_output_channels should be 1 or 3, got {num_output_channels!r}")
        self.num_output_channels = num_output_channels

    def forward(self, img):
        if _is_pil(img):
            grey = img.convert("L")
            if self.num_output_channels == 1:
                return grey
            return _pil_image().merge("RGB", (grey, grey, grey))
        array = _colour_array(img, "Grayscale")
        grey = _back_to(array.dtype, _grey(_float(array))) if array.shape[-3] == 3 else array.copy()
        if self.num_output_channels == 3:
            grey = np.repeat(grey, 3, axis=-3)
        return _like(img, grey)

    def __repr__(self):
        return f"{type(self).__name__}(num_output_channels={self.num_output_channels})"


# -- augmentation of whole batches -----------------------------------------------------------


class BatchAugmentation:
    """Random shifts (and, if asked, left-right flips) of a whole batch at once, each image
    its own: the training augmentation of :func:`augmentation`.

    Called on a batch ``(N, C, H, W)`` (a NumPy array or a Tensor; one image ``(C, H, W)``
    works too), it returns a new batch of the same shape, kind and dtype: every image is a
    ``H x W`` window at a random offset of itself padded by ``padding`` pixels of ``fill``
    on each side (RandomCrop(size, padding) per image), then mirrored with probability
    ``flip_p`` when ``flip`` is set. Random numbers come from ``generator`` (a NumPy
    Generator) or, by default, glassnet's (see :func:`glassnet.seed`); two draws per image
    (three with flips), with no Python loop over the images.
    """

    def __init__(self, image_shape, padding, flip=False, fill=0.0, flip_p=0.5, generator=None):
        self.image_shape = tuple(int(n) for n in image_shape)
        self.padding = int(padding)
        if self.padding < 0:
            raise ValueError(f"augmentation: padding must be non-negative, got {padding}")
        self.flip, self.fill, self.flip_p = bool(flip), fill, flip_p
        self.generator = generator

    def __call__(self, batch):
        array = batch._data if isinstance(batch, Tensor) else np.asarray(batch)
        single = array.ndim == 3
        if single:
            array = array[None]
        if array.ndim != 4 or array.shape[4 - len(self.image_shape):] != self.image_shape:
            raise ValueError(f"augmentation: expects a batch (N, {', '.join(map(str, self.image_shape))}) "
                             f"or one image, got shape {array.shape}")
        rng = self.generator if self.generator is not None else _generator()
        n, _, h, w = array.shape
        p = self.padding
        out = array
        if p:
            offsets = rng.integers(0, 2 * p + 1, size=(2, n))
            padded = np.full(array.shape[:2] + (h + 2 * p, w + 2 * p), self.fill, dtype=array.dtype)
            padded[:, :, p:p + h, p:p + w] = array
            windows = np.lib.stride_tricks.sliding_window_view(padded, (h, w), axis=(2, 3))
            out = windows[np.arange(n), :, offsets[0], offsets[1]]  # (N, C, H, W): image i's window
        if self.flip:
            flipped = rng.random(n) < self.flip_p
            if out is array:
                out = array.copy()
            out[flipped] = out[flipped][..., ::-1]
        if out is array:
            out = array.copy()
        if single:
            out = out[0]
        return Tensor._wrap(out, False) if isinstance(batch, Tensor) else out

    def __repr__(self):
        text = f"{type(self).__name__}(image_shape={self.image_shape}, padding={self.padding}"
        if self.flip:
            text += f", flip=True, flip_p={self.flip_p}"
        if self.fill:
            text += f", fill={self.fill}"
        return text + ")"


def default_padding(height, width):
    """The shift :func:`augmentation` uses for images of this size: about an eighth of the
    smaller side, at least 1 and at most 4 pixels (8 px: 1, 16: 2, 28: 3, 32: 4)."""
    return min(4, max(1, min(height, width) // 8))


def augmentation(image_shape, flip=False, padding=None, fill=0.0, *, generator=None):
    """A sensible default training augmentation for small images already in memory as
    float32 batches ``(N, C, H, W)``: shift each image by up to ``padding`` pixels in x
    and y (a random crop of the image padded with ``fill``, the background of digits in
    ``[0, 1]``), and mirror it left-right with probability 0.5 only if ``flip`` is set
    (for photos such as CIFAR-10: digits and letters must not be mirrored).

    Args:
        image_shape: ``(C, H, W)`` (or ``(H, W)``) of one image.
        flip: also mirror left-right, half the time.
        padding: the largest shift in pixels; default :func:`default_padding` (28x28: 3,
            32x32: 4, 8x8: 1).
        fill: the value the shift brings in at the borders.
        generator: a NumPy Generator to draw from (default: glassnet's, see
            :func:`glassnet.seed`).

    Returns a :class:`BatchAugmentation`: call it on each training batch (an array or a
    Tensor; the result is of the same kind), e.g. ``inputs = augment(inputs)`` before the
    forward pass. Test batches are not augmented. It is vectorized over the batch (one
    padded copy and one strided gather per batch): 60,000 images of 28x28 took about
    0.2 s in all (batches of 128; 0.25 s with flips), a small part of an epoch.

    >>> import numpy as np
    >>> augment = augmentation((1, 28, 28))
    >>> augment
    BatchAugmentation(image_shape=(1, 28, 28), padding=3)
    >>> augment(np.zeros((64, 1, 28, 28), dtype=np.float32)).shape
    (64, 1, 28, 28)
    """
    shape = tuple(int(n) for n in image_shape)
    if len(shape) not in (2, 3) or any(n < 1 for n in shape):
        raise ValueError(f"augmentation: image_shape must be (C, H, W) or (H, W), got {image_shape!r}")
    height, width = shape[-2:]
    if padding is None:
        padding = default_padding(height, width)
    return BatchAugmentation(shape, padding, flip=flip, fill=fill, generator=generator)
