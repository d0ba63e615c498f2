"""Residual networks (He et al., 2015): each block learns a correction that is added to its
input, so the signal and its gradient can skip straight through a deep stack of layers.

This is the small ResNet of the paper's CIFAR-10 experiments: a 3x3 stem, then stages of
BasicBlocks whose widths double while the image halves, global average pooling and one
linear layer. ``blocks=3`` over three stages is ResNet-20 (6 * 3 + 2 layers with weights).
The parameter names are torchvision's (``conv1``, ``bn1``, ``layer1.0.conv1``,
``layer2.0.downsample.0``, ``fc``), so weights map over name for name.
"""
from .. import nn


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm, added to a shortcut, then ReLU:
    ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``.

    The shortcut is the input itself, unless the block changes the width or (with
    ``stride=2``) halves the image: then a 1x1 convolution with batch norm (``downsample``)
    projects the input to the output's shape. The convolutions have no bias: the batch
    norm after each one would cancel it.

    Shape: (N, in_channels, H, W) -> (N, out_channels, ceil(H / stride), ceil(W / stride)).

    >>> import numpy as np
    >>> import glassnet as gn
    >>> gn.models.BasicBlock(16, 32, stride=2)(gn.tensor(np.zeros((2, 16, 28, 28), "float32"))).shape
    (2, 32, 14, 14)
    """

    expansion = 1  # output channels per ``out_channels``, as torchvision's blocks say

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )
        else:
            self.downsample = None
        self.stride = stride

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + shortcut)


class ResNet(nn.Module):
    """A residual network for small images: stem (3x3 conv to ``width`` channels, batch
    norm, ReLU), one stage of BasicBlocks per entry of ``blocks`` (``layer1``, ``layer2``,
    ...) with widths ``width``, 2 ``width``, 4 ``width``, ..., each stage after the first
    starting with a stride-2 block, then global average pooling and ``fc``.

    Args:
        input_shape: (channels, height, width) of one image; each side at least
            2 ** stages pixels (8 for three stages), so the last stage still sees 2x2.
        num_classes: outputs of ``fc``.
        width: channels of the stem and of the first stage.
        blocks: BasicBlocks per stage: an int for three stages (3: ResNet-20, 9: ResNet-56),
            or one count per stage, e.g. (2, 2, 2, 2).

    Shape: (N, *input_shape) -> (N, num_classes). Any image size the model was not built
    for works too (the pooling is global), as long as it has the same channels.

    >>> import numpy as np
    >>> import glassnet as gn
    >>> model = gn.models.ResNet((3, 32, 32), 10, width=8, blocks=1)
    >>> model(gn.tensor(np.zeros((2, 3, 32, 32), "float32"))).shape
    (2, 10)
    """

    def __init__(self, input_shape=(1, 28, 28), num_classes=10, width=16, blocks=2):
        super().__init__()
        channels, height, image_width = input_shape
        blocks = (blocks,) * 3 if isinstance(blocks, int) else tuple(blocks)
        if not blocks or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in blocks):
            raise ValueError(f"ResNet: blocks must be a positive int or a sequence of them (one per stage), "
                             f"got {blocks!r}")
        if not isinstance(width, int) or isinstance(width, bool) or width < 1:
            raise ValueError(f"ResNet: width must be a positive int, got {width!r}")
        smallest = 2 ** len(blocks)
        if min(height, image_width) < smallest:
            raise ValueError(
                f"ResNet: images of {height}x{image_width} are too small for {len(blocks)} stages, each after the first "
                f"halving the image; help: use images of at least {smallest}x{smallest} or fewer stages (blocks=(n, n))"
            )
        self.in_channels, self.blocks = channels, blocks
        self.conv1 = nn.Conv2d(channels, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        in_width = width
        for stage, count in enumerate(blocks):
            out_width, stride = width * 2 ** stage, 1 if stage == 0 else 2
            layer = [BasicBlock(in_width, out_width, stride)]
            layer += [BasicBlock(out_width, out_width) for _ in range(count - 1)]
            setattr(self, f"layer{stage + 1}", nn.Sequential(*layer))
            in_width = out_width
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_width, num_classes)
        self.reset_parameters()

    def reset_parameters(self):
        # He initialization for the convolutions, which each feed a ReLU (torchvision's too)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, images):
        shape = tuple(images.shape)
        if len(shape) == 4 and shape[1] != self.in_channels and shape[3] != self.in_channels:
            raise ValueError(
                f"ResNet: its first layer conv1 ({self.conv1._label()}) expects images with {self.in_channels} "
                f"channel{'s' * (self.in_channels != 1)}, got input of shape {shape}; help: build the model for these "
                f"images with input_shape={(shape[1], *shape[2:])}"
            )
        x = self.relu(self.bn1(self.conv1(images)))
        for stage in range(len(self.blocks)):
            x = getattr(self, f"layer{stage + 1}")(x)
        return self.fc(self.avgpool(x).flatten(1))


def resnet(input_shape=(1, 28, 28), num_classes=10, **options):
    """A :class:`ResNet`; the default (width 16, two blocks in each of three stages) is
    ResNet-14, about 0.17 M parameters."""
    return ResNet(input_shape, num_classes, **options)
