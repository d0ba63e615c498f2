"""The multi-layer perceptron: the classic 784-128-128-10 digit recognizer."""
import math

from .. import nn


def mlp(input_shape=(1, 28, 28), num_classes=10, hidden=(128, 128), dropout=0.0):
    """Flatten, then fully connected layers of ``hidden`` sizes with ReLU, then one
    output per class (raw scores: the loss applies the softmax).

    Shape: (N, *input_shape) -> (N, num_classes).

    >>> import glassnet as gn
    >>> gn.models.mlp((1, 28, 28), 10)
    Sequential(
      (0): Flatten(start_dim=1, end_dim=-1)
      (1): Linear(in_features=784, out_features=128, bias=True)
      (2): ReLU()
      (3): Linear(in_features=128, out_features=128, bias=True)
      (4): ReLU()
      (5): Linear(in_features=128, out_features=10, bias=True)
    )
    """
    layers = [nn.Flatten()]
    width = math.prod(input_shape)
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)
