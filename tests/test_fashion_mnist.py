"""The seed's network on real data: 784-128-128-10 on Fashion-MNIST."""
import io

import pytest

import glassnet as gn
from glassnet.data import DataLoader


def fashion_mnist_or_skip():
    try:
        return gn.datasets.fashion_mnist("train", download=False), gn.datasets.fashion_mnist("test", download=False)
    except FileNotFoundError as error:
        pytest.skip(f"Fashion-MNIST is not on this machine ({error.__class__.__name__}); "
                    "`apt-get install dataset-fashion-mnist` or set GLASSNET_DATA")


@pytest.mark.data
def test_seed_mlp_reaches_86_percent_in_5_epochs():
    train, test = fashion_mnist_or_skip()
    gn.seed(0)
    model = gn.models.mlp((1, 28, 28), 10, hidden=(128, 128))
    optimizer = gn.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(train, batch_size=128, shuffle=True, seed=0)
    history = gn.train.fit(model, loader, optimizer, epochs=5, val=test, out=io.StringIO(), progress=False)
    assert history["val_acc"][0] > 0.80  # one epoch already far above chance
    assert history["val_acc"][-1] >= 0.86


def train_on_png_files(tmp_path, capsys, epochs):
    """The user's-own-data path end to end on real images: Fashion-MNIST written out as 70,000
    PNG files in the ImageFolder layout, read back by `glassnet train --data DIR`; returns the
    held-out accuracy of the run."""
    import json

    from glassnet import cli
    from glassnet.data.images import write_image_folder

    pytest.importorskip("PIL.Image")
    train, test = fashion_mnist_or_skip()
    root = write_image_folder({"train": train, "test": test}, tmp_path / "fashion", progress=False)
    assert sum(1 for _ in (root / "test").rglob("*.png")) == 10000
    save = tmp_path / "run" / "model.safetensors"
    assert cli.main(["train", "--data", str(root), "--model", "cnn", "--epochs", str(epochs), "--batch-size", "128",
                     "--save", str(save), "--progress", "off", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert "60000 train / 10000 test images of (1, 28, 28), 10 classes" in out
    return json.loads((tmp_path / "run" / "metrics.json").read_text())["model"]["accuracy"]


@pytest.mark.data
def test_fashion_mnist_as_a_folder_of_png_files_trains_through_the_cli(tmp_path, capsys):
    assert train_on_png_files(tmp_path, capsys, epochs=1) >= 0.85  # one pass over the 60,000 files


@pytest.mark.data
@pytest.mark.slow
def test_fashion_mnist_as_png_files_reaches_90_percent_in_4_epochs(tmp_path, capsys):
    assert train_on_png_files(tmp_path, capsys, epochs=4) >= 0.90
