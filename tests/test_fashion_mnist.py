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
