"""A saved run: the folder ``glassnet train --save RUN_DIR/model.safetensors`` writes.

It holds the checkpoint (weights plus metadata naming the model, its input shape, the
data set and the class names, and the state to resume training from), ``history.jsonl``
(one JSON record per epoch), ``history.csv`` (the same rows' numbers, for a spreadsheet)
and, with ``--health``, ``health.json``; ``glassnet report`` and ``glassnet inspect`` add their page
and pictures. Their names are spelled here and only here. Every inspection tool starts
from one: ``run = load_run("runs/cnn")``.

>>> history_path_for("runs/cnn/model.safetensors").endswith(os.path.join("runs", "cnn", "history.jsonl"))
True
"""
import dataclasses
import json
import os

import numpy as np

from .. import models
from ..data.registry import load_dataset
from ..serialization import load, load_metadata

CHECKPOINT = "model.safetensors"  # the weights and the metadata
HISTORY = "history.jsonl"  # one JSON record per epoch (glassnet.train.fit)
HISTORY_CSV = "history.csv"  # the same epoch rows, their numbers only (glassnet.train.fit)
HEALTH = "health.json"  # per-layer statistics (glassnet.inspect.HealthMonitor)
REPORT = "report.html"  # the page of glassnet.inspect.report
PICTURES = "inspect"  # the folder of the PNG files of `glassnet inspect`
METRICS = "metrics.json"  # held-out scores beside the baselines' (`glassnet train --data`)
VOCABULARY = "vocabulary.json"  # a text classifier's tokenizer (glassnet.data.texts.Tokenizer.save)


def plain_json(value):
    """``json.dump``'s ``default`` for the run's files: NumPy numbers as Python numbers,
    arrays as lists.

    >>> json.dumps({"acc": np.float32(0.5), "counts": np.arange(3)}, default=plain_json)
    '{"acc": 0.5, "counts": [0, 1, 2]}'
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _beside(checkpoint_path, name):
    return os.path.join(os.path.dirname(os.path.abspath(checkpoint_path)), name)


def history_path_for(checkpoint_path):
    """The JSON-lines history that lives next to a checkpoint."""
    return _beside(checkpoint_path, HISTORY)


def history_csv_path_for(checkpoint_path):
    """The CSV history that lives next to a checkpoint, beside ``history.jsonl``."""
    return _beside(checkpoint_path, HISTORY_CSV)


def checkpoint_path_for(run):
    """The checkpoint of ``run``: a run folder (its ``model.safetensors``) or the
    checkpoint file itself."""
    path = os.path.join(run, CHECKPOINT) if os.path.isdir(run) else run
    if not os.path.isfile(path):
        where = f"{run!r} has no {CHECKPOINT}" if os.path.isdir(run) else f"no checkpoint at {run!r}"
        raise FileNotFoundError(f"cannot resume: {where}; help: give the run folder or checkpoint that "
                                "'glassnet train --save' (or fit(..., save_path=...)) wrote")
    return path


def health_path_for(checkpoint_path):
    """The ``health.json`` that lives next to a checkpoint (as ``history.jsonl`` does)."""
    return _beside(checkpoint_path, HEALTH)


@dataclasses.dataclass
class Run:
    """A trained model with what is needed to look inside it.

    Attributes:
        directory: the run folder.
        model: the network with the saved weights, in eval mode.
        metadata: what ``glassnet train`` stored (``model``, ``input_shape``, ``dataset``, ``classes``, ...).
        history: the epoch records of ``history.jsonl`` (empty if the run has none).
    """

    directory: str
    model: object
    metadata: dict
    history: list

    @property
    def classes(self):
        return list(self.metadata.get("classes") or [str(i) for i in range(self.metadata.get("num_classes", 0))])

    @property
    def input_shape(self):
        return tuple(self.metadata["input_shape"])

    def dataset(self, split="test", root=None):
        """The data set the model was trained on (``split`` 'train' or 'test'); a
        ``ValueError`` if it is not one that :func:`~glassnet.data.load_dataset` knows."""
        if self.metadata.get("kind") == "images":  # trained on the user's own folder (glassnet train --data)
            return self._image_folder_split(split)
        if "dataset" not in self.metadata:
            raise ValueError(f"the run in {self.directory} does not say which data set it was trained on (its "
                             "checkpoint's metadata has no 'dataset'); help: train it with 'glassnet train --save'")
        return load_dataset(self.metadata["dataset"], split, root)


    def _image_folder_split(self, split):
        from ..data.images import training_splits

        meta = self.metadata
        train, val, _ = training_splits(meta["data"], tuple(meta["input_shape"][1:]), meta["mode"],
                                        meta.get("val_split", 0.2), meta.get("seed", 0), progress=False,
                                        on_error="skip" if meta.get("bad_images") == "skip" else "raise")
        if split == "train":
            return train
        if val is None:
            raise ValueError(f"the run in {self.directory} held no images out of {meta['data']} (--val-split 0)")
        return val


def read_history(path):
    """The epoch records of a ``history.jsonl`` file, in order."""
    with open(path) as stream:
        return [json.loads(line) for line in stream if line.strip()]


def load_run(directory, checkpoint=CHECKPOINT):
    """Load the run saved in ``directory`` (or the checkpoint file itself)."""
    if os.path.isfile(directory):
        directory, checkpoint = os.path.dirname(directory) or ".", os.path.basename(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"run directory {directory!r} does not exist")
    path = os.path.join(directory, checkpoint)
    if not os.path.exists(path):
        present = ", ".join(sorted(os.listdir(directory))) or "nothing"
        raise FileNotFoundError(
            f"run directory {directory!r} has no checkpoint {checkpoint!r} (it holds: {present}); "
            f"train one with 'glassnet train --save {os.path.join(directory, CHECKPOINT)}'"
        )
    metadata = load_metadata(path)
    name = metadata.get("model")
    if metadata.get("kind") in ("table", "texts"):
        raise ValueError(f"{path} holds a {name} trained on the {metadata['kind'].rstrip('s')} data in "
                         f"{metadata.get('data')}: the views inside a network are drawn for image models; "
                         f"its held-out scores are in {os.path.join(directory, METRICS)}, and "
                         f"'glassnet predict --load {directory} ...' answers for new inputs")
    if name not in models.IMAGE_MODELS:
        raise ValueError(f"{path} holds {name!r}, not an image model saved by 'glassnet train' "
                         f"(inspection works on: {', '.join(sorted(models.IMAGE_MODELS))})")
    model = models.build(name, tuple(metadata["input_shape"]), metadata["num_classes"])
    load(path, model)
    model.eval()
    history_path = os.path.join(directory, HISTORY)
    history = read_history(history_path) if os.path.exists(history_path) else []
    return Run(directory, model, metadata, history)
