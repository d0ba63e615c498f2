"""Input checks at the entrance of layers, so that a wrong shape or dtype is reported
by the layer that received it, in words a learner can act on."""
import math

from ..backend import xp


def _layer(module):
    return module._label()


def shape_of(input):
    shape = getattr(input, "shape", None)  # not getattr(input, "shape", xp.shape(input)), which computes the default every call
    return tuple(xp.shape(input) if shape is None else shape)


def last_dim(module, input, expected):
    """The last dimension of ``input`` must be ``expected`` (features of a Linear)."""
    shape = shape_of(input)
    if shape and shape[-1] == expected:
        return
    hint = ""
    if len(shape) > 2 and math.prod(shape[1:]) == expected:
        hint = f"; help: the input is not flat — add Flatten() before this layer to turn {shape} into {(shape[0], expected)}"
    elif len(shape) > 2:
        hint = f"; help: flattened it would have {math.prod(shape[1:])} features, not {expected}"
    raise ValueError(
        f"{_layer(module)}: expected input of shape (*, {expected}), got {shape}{hint}"
    )


def floating(module, input, expected=None):
    """``input`` must hold floating-point numbers; ``expected`` is the dtype the layer
    computes in (its weights'), named in the error when given."""
    dtype = getattr(input, "dtype", None)
    if dtype is not None and xp.dtype(dtype).kind != "f":
        wanted = f" of dtype {expected} (as its weights)" if expected is not None else ""
        raise TypeError(
            f"{_layer(module)}: expected a floating-point input{wanted}, got dtype {dtype}; "
            f"help: convert it with .astype('{expected or 'float32'}')"
        )
