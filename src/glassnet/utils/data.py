"""``torch.utils.data`` by its PyTorch name, so that

    from glassnet.utils.data import DataLoader, TensorDataset

runs as it does with torch. The classes live in :mod:`glassnet.data`; these are the same
objects, not copies.

>>> import numpy as np
>>> from glassnet.utils.data import DataLoader, TensorDataset, random_split
>>> train, val = random_split(TensorDataset(np.zeros((10, 3)), np.arange(10)), [0.8, 0.2])
>>> [x.shape for x, y in DataLoader(train, batch_size=4, shuffle=True)]
[(4, 3), (4, 3)]
"""
from ..data.dataset import Dataset, Subset, TensorDataset, random_split
from ..data.loader import DataLoader, default_collate

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "DataLoader", "default_collate"]
