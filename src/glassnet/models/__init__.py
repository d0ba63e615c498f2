"""Ready-made networks, by name, for the CLI and for quick experiments.

Each image model takes the input shape (without the batch axis) and the number of
classes, so the same name works on 8x8 digits and on 28x28 MNIST. ``gpt`` takes a
vocabulary size instead. The text classifiers (:data:`TEXT_CLASSIFIERS`, built by
:func:`text_classifier`) take a vocabulary size and the number of classes.
"""
from .cnn import cnn, lenet5
from .gpt import GPT, gpt
from .mlp import mlp
from .recurrent import RowClassifier, gru, lstm
from .resnet import BasicBlock, ResNet, resnet
from .text import RecurrentTextClassifier, TransformerTextClassifier, gru_text, lstm_text, transformer_text
from .vit import ViT, vit

IMAGE_MODELS = {"mlp": mlp, "cnn": cnn, "lenet5": lenet5, "lstm": lstm, "gru": gru, "vit": vit, "resnet": resnet}
TEXT_MODELS = {"gpt": gpt}
TEXT_CLASSIFIERS = {"lstm": lstm_text, "gru": gru_text, "transformer": transformer_text}


def available():
    return sorted(IMAGE_MODELS) + sorted(TEXT_MODELS)


def build(name, input_shape, num_classes, **options):
    """Build the image model called ``name`` for inputs of ``input_shape`` (e.g. (1, 28, 28))."""
    if name not in IMAGE_MODELS:
        raise ValueError(f"unknown image model {name!r}; available: {', '.join(sorted(IMAGE_MODELS))}")
    return IMAGE_MODELS[name](input_shape, num_classes, **options)


def text_classifier(kind, vocab_size, num_classes, max_length=None, **options):
    """Build the text classifier ``kind`` ("lstm", "gru" or "transformer") for ids below
    ``vocab_size``; ``max_length`` (the texts' length) sizes the transformer's positions and
    is not needed by the recurrent ones. ``options`` go to the model's constructor.

    >>> text_classifier("gru", vocab_size=100, num_classes=4, hidden_size=32).head
    Linear(in_features=32, out_features=4, bias=True)
    """
    if kind not in TEXT_CLASSIFIERS:
        raise ValueError(f"unknown text classifier {kind!r}; available: {', '.join(TEXT_CLASSIFIERS)}")
    if kind == "transformer" and max_length is not None:
        options["max_length"] = max_length
    return TEXT_CLASSIFIERS[kind](vocab_size, num_classes, **options)


__all__ = ["available", "build", "mlp", "cnn", "lenet5", "lstm", "gru", "vit", "resnet", "gpt", "ViT", "GPT",
           "RowClassifier", "ResNet", "BasicBlock",
           "TEXT_CLASSIFIERS", "text_classifier", "RecurrentTextClassifier", "TransformerTextClassifier"]
