"""The Vision Transformer (Dosovitskiy et al., 2020): an image as a sequence of patches,
and attention between every pair of them."""
from .. import nn
from ..backend import xp
from ..ops import concatenate
from ..tensor import Tensor


class ViT(nn.Module):
    """Cut the image into ``patch_size`` squares, embed each as a vector (one strided
    convolution), prepend a learned class token, add learned position embeddings, run a
    transformer encoder (pre-norm, GELU), and classify from the class token.

    Shape: (N, C, H, W) -> (N, num_classes). H and W must be multiples of ``patch_size``
    (default: a quarter of the image side, 7 for 28x28).
    """

    def __init__(self, input_shape=(1, 28, 28), num_classes=10, patch_size=None, dim=64, depth=2, heads=4,
                 mlp_dim=128, dropout=0.0):
        super().__init__()
        channels, height, width = input_shape
        patch_size = patch_size or height // 4
        if height % patch_size or width % patch_size:
            raise ValueError(f"ViT: the image {height}x{width} is not a whole number of {patch_size}x{patch_size} patches")
        self.num_patches = (height // patch_size) * (width // patch_size)
        self.patch_embed = nn.Conv2d(channels, dim, patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(xp.zeros((1, 1, dim), dtype=xp.float32))
        self.pos_embed = nn.Parameter(xp.zeros((1, self.num_patches + 1, dim), dtype=xp.float32))
        nn.init.normal_(self.cls_token, std=0.02)
        nn.init.normal_(self.pos_embed, std=0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, mlp_dim, dropout, activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, images):
        patches = self.patch_embed(images)  # (N, dim, H/p, W/p)
        tokens = patches.flatten(2).transpose(1, 2)  # (N, patches, dim)
        cls = self.cls_token + Tensor(xp.zeros((len(images), 1, tokens.shape[-1]), dtype=tokens.dtype))
        x = concatenate([cls, tokens], axis=1) + self.pos_embed
        x = self.encoder(x)
        return self.head(self.norm(x[:, 0]))


def vit(input_shape=(1, 28, 28), num_classes=10, **options):
    return ViT(input_shape, num_classes, **options)
