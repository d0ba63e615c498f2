"""Data: datasets (what the examples are) and the DataLoader (how they arrive in batches);
the data sets by name (:func:`load_dataset`).

>>> import numpy as np
>>> from glassnet.data import TensorDataset, DataLoader
>>> loader = DataLoader(TensorDataset(np.random.rand(100, 4), np.arange(100) % 3), batch_size=32, shuffle=True, seed=0)
>>> x, y = next(iter(loader))
>>> x.shape, y.dtype
((32, 4), dtype('int64'))
"""
from . import datasets
from .dataset import Dataset, Subset, TensorDataset, random_split, standard_dtype
from .datasets import DataNotFoundError, ImageDataset
from .idx import IDXError, read_idx, write_idx
from .loader import DataLoader, default_collate
from .registry import DATASETS, available, load_dataset

__all__ = [
    "Dataset",
    "TensorDataset",
    "Subset",
    "random_split",
    "standard_dtype",
    "DataLoader",
    "default_collate",
    "ImageDataset",
    "DataNotFoundError",
    "read_idx",
    "write_idx",
    "IDXError",
    "datasets",
    "DATASETS",
    "available",
    "load_dataset",
]
