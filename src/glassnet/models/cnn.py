"""Convolutional networks: filters that scan the image for local patterns."""
from .. import nn


def cnn(input_shape=(1, 28, 28), num_classes=10, channels=(32, 64), hidden=128, dropout=0.25):
    """The classic small CNN: two conv blocks (3x3 conv, batch norm, ReLU, 2x2 max-pool),
    then a classifier (dropout, a hidden fully connected layer, the output layer).

    Each block halves the image and widens the channels: (1, 28, 28) -> (32, 14, 14)
    -> (64, 7, 7) -> 128 -> num_classes.

    Shape: (N, *input_shape) -> (N, num_classes).
    """
    in_channels, height, width = input_shape
    layers = []
    for out_channels in channels:
        layers += [nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.BatchNorm2d(out_channels), nn.ReLU(), nn.MaxPool2d(2)]
        in_channels, height, width = out_channels, height // 2, width // 2
    if height == 0 or width == 0:
        raise ValueError(f"cnn: images of {input_shape[1:]} are too small for {len(channels)} pooling steps")
    layers += [
        nn.Flatten(), nn.Dropout(dropout), nn.Linear(in_channels * height * width, hidden), nn.ReLU(),
        nn.Dropout(dropout), nn.Linear(hidden, num_classes),
    ]
    return nn.Sequential(*layers)


def lenet5(input_shape=(1, 28, 28), num_classes=10):
    """LeNet-5 (LeCun et al., 1998): 5x5 convolutions with tanh and average pooling,
    then 120-84-classes fully connected layers. The first convolution pads by 2, so
    28x28 digits see the 32x32 field of the original.

    Shape: (N, *input_shape) -> (N, num_classes); images need at least 12x12 pixels.
    """
    channels, height, width = input_shape
    if min(height, width) < 12:
        raise ValueError(f"lenet5: images need at least 12x12 pixels for its two 5x5 convolutions and poolings, got {height}x{width}")
    flat_height, flat_width = (height // 2 - 4) // 2, (width // 2 - 4) // 2
    return nn.Sequential(
        nn.Conv2d(channels, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(16 * flat_height * flat_width, 120), nn.Tanh(),
        nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, num_classes),
    )
