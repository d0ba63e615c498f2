"""Ready-made networks, by name, for the CLI and for quick experiments.

Each builder takes the input shape (without the batch axis) and the number of classes,
so the same name works on 8x8 digits and on 28x28 MNIST.
"""
from .mlp import mlp

_BUILDERS = {"mlp": mlp}


def available():
    return sorted(_BUILDERS)


def build(name, input_shape, num_classes, **options):
    """Build the model called ``name`` for inputs of ``input_shape`` (e.g. (1, 28, 28))."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; available models: {', '.join(available())}")
    return _BUILDERS[name](input_shape, num_classes, **options)


__all__ = ["available", "build", "mlp"]
