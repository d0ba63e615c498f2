"""PyTorch twins of glassnet's ready-made models, for benchmarks and parity checks.

Each twin has the same layers under the same names, so glassnet's state_dict loads into
it with ``strict=True``: that load is the proof that both benchmarks run the same
architecture. PyTorch is only ever imported here, outside the library.
"""
import numpy as np
import torch
from torch import nn


def mlp(input_shape=(1, 28, 28), num_classes=10, hidden=(128, 128)):
    layers, width = [nn.Flatten()], int(torch.tensor(input_shape).prod())
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    return nn.Sequential(*layers, nn.Linear(width, num_classes))


def cnn(input_shape=(1, 28, 28), num_classes=10, channels=(32, 64), hidden=128, dropout=0.25):
    in_channels, height, width = input_shape
    layers = []
    for out_channels in channels:
        layers += [nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.BatchNorm2d(out_channels), nn.ReLU(), nn.MaxPool2d(2)]
        in_channels, height, width = out_channels, height // 2, width // 2
    layers += [nn.Flatten(), nn.Dropout(dropout), nn.Linear(in_channels * height * width, hidden), nn.ReLU(),
               nn.Dropout(dropout), nn.Linear(hidden, num_classes)]
    return nn.Sequential(*layers)


def lenet5(input_shape=(1, 28, 28), num_classes=10):
    channels, height, width = input_shape
    flat_height, flat_width = (height // 2 - 4) // 2, (width // 2 - 4) // 2
    return nn.Sequential(
        nn.Conv2d(channels, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(16 * flat_height * flat_width, 120), nn.Tanh(),
        nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, num_classes),
    )


class RowClassifier(nn.Module):
    def __init__(self, input_shape=(1, 28, 28), num_classes=10, cell="lstm", hidden_size=128):
        super().__init__()
        channels, _, width = input_shape
        self.rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell](channels * width, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, images):
        n, channels, height, width = images.shape
        output, _ = self.rnn(images.permute(0, 2, 1, 3).reshape(n, height, channels * width))
        return self.head(output[:, -1])


class ViT(nn.Module):
    def __init__(self, input_shape=(1, 28, 28), num_classes=10, patch_size=None, dim=64, depth=2, heads=4, mlp_dim=128):
        super().__init__()
        channels, height, width = input_shape
        patch_size = patch_size or height // 4
        patches = (height // patch_size) * (width // patch_size)
        self.patch_embed = nn.Conv2d(channels, dim, patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, patches + 1, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, mlp_dim, 0.0, activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, images):
        tokens = self.patch_embed(images).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(len(images), -1, -1), tokens], dim=1) + self.pos_embed
        return self.head(self.norm(self.encoder(x)[:, 0]))


class BasicBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(out_channels))

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + shortcut)


class ResNet(nn.Module):
    def __init__(self, input_shape=(1, 28, 28), num_classes=10, width=16, blocks=2):
        super().__init__()
        blocks = (blocks,) * 3 if isinstance(blocks, int) else tuple(blocks)
        self.conv1 = nn.Conv2d(input_shape[0], width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        in_width = width
        for stage, count in enumerate(blocks):
            out_width = width * 2 ** stage
            layer = [BasicBlock(in_width, out_width, 1 if stage == 0 else 2)]
            layer += [BasicBlock(out_width, out_width) for _ in range(count - 1)]
            setattr(self, f"layer{stage + 1}", nn.Sequential(*layer))
            in_width = out_width
        self.stages = len(blocks)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_width, num_classes)

    def forward(self, images):
        x = self.relu(self.bn1(self.conv1(images)))
        for stage in range(self.stages):
            x = getattr(self, f"layer{stage + 1}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


class LearnedPositionalEmbedding(nn.Module):
    def __init__(self, max_len, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(max_len, dim))

    def forward(self, x):
        return x + self.weight[: x.shape[1]]


class GPT(nn.Module):
    def __init__(self, vocab_size, context=128, dim=128, depth=4, heads=4):
        super().__init__()
        self.token_embed = nn.Embedding(vocab_size, dim)
        self.pos_embed = LearnedPositionalEmbedding(context, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, 0.0, activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab_size)

    def forward(self, tokens):
        length = tokens.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(length)
        return self.head(self.norm(self.blocks(self.pos_embed(self.token_embed(tokens)), mask=mask, is_causal=True)))


def lstm(input_shape=(1, 28, 28), num_classes=10, hidden_size=128):
    return RowClassifier(input_shape, num_classes, "lstm", hidden_size)


def gru(input_shape=(1, 28, 28), num_classes=10, hidden_size=128):
    return RowClassifier(input_shape, num_classes, "gru", hidden_size)


TWINS = {"mlp": mlp, "cnn": cnn, "lenet5": lenet5, "lstm": lstm, "gru": gru, "vit": ViT, "resnet": ResNet, "gpt": GPT}


def twin_from_state(name, state, *args, **options):
    """The PyTorch twin of glassnet model ``name`` built with ``args`` and ``options``,
    holding the weights in ``state`` (a dict of NumPy arrays, as glassnet's
    ``state_dict()`` returns or an ``.npz`` file of it holds), loaded strictly."""
    model = TWINS[name](*args, **options)
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()}, strict=True)
    return model


def twin_of(name, gn_model, *args, **options):
    """The PyTorch twin of glassnet model ``name``, with ``gn_model``'s weights."""
    return twin_from_state(name, gn_model.state_dict(), *args, **options)
