"""The data sets by name: what ``glassnet train --dataset NAME`` and a saved run's
metadata (``"dataset": "fashion-mnist"``) refer to.

>>> from glassnet.data import load_dataset
>>> test = load_dataset("digits", "test")
>>> test.images.shape, test.classes[:3]
((359, 1, 8, 8), ['0', '1', '2'])
"""
from . import datasets

DATASETS = {
    "digits": datasets.digits,
    "mnist": datasets.mnist,
    "fashion-mnist": datasets.fashion_mnist,
    "cifar10": datasets.cifar10,
}


def available():
    """The names :func:`load_dataset` knows, in the order they are listed.

    >>> available()
    ['digits', 'mnist', 'fashion-mnist', 'cifar10']
    """
    return list(DATASETS)


def load_dataset(name, split="train", root=None):
    """The ``split`` ('train' or 'test') of the data set called ``name``, an
    :class:`~glassnet.data.ImageDataset`. ``root`` is the folder holding the files of
    mnist and fashion-mnist (IDX) or cifar10 (the binary version) (see
    :mod:`glassnet.data.datasets` for where else they are looked for); digits is embedded
    and needs none.

    >>> load_dataset("imagenet")
    Traceback (most recent call last):
    ...
    ValueError: unknown dataset 'imagenet'; choose one of: digits, mnist, fashion-mnist, cifar10
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    if name == "digits":
        return DATASETS[name](split)
    return DATASETS[name](split, root=root)
