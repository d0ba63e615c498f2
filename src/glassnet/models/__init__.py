"""Ready-made networks, by name, for the CLI and for quick experiments.

Each image model takes the input shape (without the batch axis) and the number of
classes, so the same name works on 8x8 digits and on 28x28 MNIST. ``gpt`` takes a
vocabulary size instead.
"""
from .cnn import cnn, lenet5
from .gpt import GPT, gpt
from .mlp import mlp
from .recurrent import RowClassifier, gru, lstm
from .vit import ViT, vit

IMAGE_MODELS = {"mlp": mlp, "cnn": cnn, "lenet5": lenet5, "lstm": lstm, "gru": gru, "vit": vit}
TEXT_MODELS = {"gpt": gpt}


def available():
    return sorted(IMAGE_MODELS) + sorted(TEXT_MODELS)


def build(name, input_shape, num_classes, **options):
    """Build the image model called ``name`` for inputs of ``input_shape`` (e.g. (1, 28, 28))."""
    if name not in IMAGE_MODELS:
        raise ValueError(f"unknown image model {name!r}; available: {', '.join(sorted(IMAGE_MODELS))}")
    return IMAGE_MODELS[name](input_shape, num_classes, **options)


__all__ = ["available", "build", "mlp", "cnn", "lenet5", "lstm", "gru", "vit", "gpt", "ViT", "GPT", "RowClassifier"]
