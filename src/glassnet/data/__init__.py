"""Data: datasets (what the examples are) and the DataLoader (how they arrive in batches);
the data sets by name (:func:`load_dataset`); your own CSV/TSV/Parquet tables as training
data (:func:`prepare_table`, in :mod:`glassnet.data.tables`); your own images, one folder
per class (:class:`ImageFolder`, :func:`load_image_folder`, in :mod:`glassnet.data.images`);
labelled texts for classification, from a table or one folder per class, with their
tokenizers (:func:`read_text_table`, :func:`read_text_folder`, :func:`prepare_texts`, in
:mod:`glassnet.data.texts`).

>>> import numpy as np
>>> from glassnet.data import TensorDataset, DataLoader
>>> loader = DataLoader(TensorDataset(np.random.rand(100, 4), np.arange(100) % 3), batch_size=32, shuffle=True, seed=0)
>>> x, y = next(iter(loader))
>>> x.shape, y.dtype
((32, 4), dtype('int64'))
"""
from . import datasets, texts, transforms
from .dataset import Dataset, Subset, TensorDataset, random_split, standard_dtype
from .datasets import DataNotFoundError, ImageDataset
from .idx import IDXError, read_idx, write_idx
from .images import ImageFolder, ImageFolderError, load_image_folder, write_image_folder
from .loader import DataLoader, default_collate
from .registry import DATASETS, available, load_dataset
from .tables import TableData, TableError, TablePreprocessor, infer_task, prepare_table, read_table
from .texts import (
    CharacterTokenizer, LabelledTexts, TextDataset, TextSplits, Tokenizer, WordTokenizer, prepare_texts,
    read_text_folder, read_text_table, read_texts,
)

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
    "ImageFolder",
    "ImageFolderError",
    "load_image_folder",
    "write_image_folder",
    "datasets",
    "transforms",
    "DATASETS",
    "available",
    "load_dataset",
    "read_table",
    "infer_task",
    "prepare_table",
    "TablePreprocessor",
    "TableData",
    "TableError",
    "texts",
    "Tokenizer",
    "WordTokenizer",
    "CharacterTokenizer",
    "LabelledTexts",
    "TextDataset",
    "TextSplits",
    "read_text_table",
    "read_text_folder",
    "read_texts",
    "prepare_texts",
]
