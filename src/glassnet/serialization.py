"""Saving and loading models (and optimizer state) in the safetensors format.

A checkpoint is a plain safetensors file: the model's ``state_dict`` under PyTorch's
names (so ``safetensors.torch.load_file`` gives PyTorch the same weights), the
optimizer's arrays under ``optimizer/...``, and everything else (architecture,
hyperparameters, optimizer scalars) as JSON in the file's metadata. No pickle, ever:
loading a file cannot run code.
"""
import json
import os
import tempfile

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

FORMAT = "glassnet/1"
_OPTIMIZER = "optimizer/"


def save(model, path, optimizer=None, metadata=None):
    """Write ``model``'s weights (a Module or a state dict), and optionally the optimizer
    state for resuming, to ``path``. ``metadata`` (JSON-serializable) is stored along,
    e.g. how to rebuild the architecture.

    The file is written to a temporary name and renamed into place, so a failed save
    never leaves a half-written file or destroys the previous checkpoint.
    """
    state = model.state_dict() if hasattr(model, "state_dict") else dict(model)
    # order="C", not ascontiguousarray: that one turns 0-d arrays (num_batches_tracked) into 1-d
    tensors = {name: np.asarray(array, order="C") for name, array in state.items()}
    header = {"format": FORMAT, "metadata": metadata or {}}
    if optimizer is not None:
        optimizer_json, optimizer_arrays = _split_arrays(optimizer.state_dict(), _OPTIMIZER)
        tensors.update(optimizer_arrays)
        header["optimizer"] = optimizer_json
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".safetensors")
    os.close(handle)
    try:
        save_file(tensors, temporary, metadata={"glassnet": json.dumps(header)})
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def load(path, model=None, optimizer=None, strict=True):
    """Read a checkpoint. With ``model``, load the weights into it (a clear error lists
    missing/unexpected keys and shape mismatches, e.g. for a different architecture) and
    return it; with ``optimizer``, restore its state too. Without a model, return the
    state dict (name -> array)."""
    tensors, header = _read(path)
    state = {name: array for name, array in tensors.items() if not name.startswith(_OPTIMIZER)}
    if optimizer is not None:
        if "optimizer" not in header:
            raise ValueError(f"{path} holds no optimizer state (it was saved without optimizer=)")
        optimizer.load_state_dict(_join_arrays(header["optimizer"], tensors))
    if model is None:
        return state
    try:
        model.load_state_dict(state, strict=strict)
    except RuntimeError as error:
        raise RuntimeError(f"cannot load {path} into this {type(model).__name__}: {error}") from None
    return model


def load_metadata(path):
    """The metadata stored with :func:`save` (e.g. the model's name and arguments)."""
    return _read(path)[1].get("metadata", {})


def _read(path):
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        tensors = load_file(path)
        with open(path, "rb") as f:
            length = int.from_bytes(f.read(8), "little")
            raw_metadata = json.loads(f.read(length)).get("__metadata__", {})
    except (SafetensorError, ValueError, OSError) as error:
        raise ValueError(f"{path} is not a readable safetensors checkpoint: {error}") from None
    header = json.loads(raw_metadata.get("glassnet", "{}"))
    return tensors, header


def _split_arrays(obj, prefix):
    """Replace every NumPy array inside nested dicts/lists by a reference, returning the
    JSON-able skeleton and the arrays by name."""
    arrays = {}

    def walk(value, key):
        if isinstance(value, np.ndarray):
            arrays[key] = np.asarray(value, order="C")
            return {"__array__": key}
        if isinstance(value, dict):
            return {"__dict__": [[walk(k, f"{key}/k{i}"), walk(v, f"{key}/{i}")] for i, (k, v) in enumerate(value.items())]}
        if isinstance(value, (list, tuple)):
            return {"__tuple__" if isinstance(value, tuple) else "__list__": [walk(v, f"{key}/{i}") for i, v in enumerate(value)]}
        if isinstance(value, np.generic):
            return value.item()
        return value

    return walk(obj, prefix.rstrip("/")), arrays


def _join_arrays(skeleton, arrays):
    """Inverse of :func:`_split_arrays`."""
    if isinstance(skeleton, dict):
        if "__array__" in skeleton:
            return arrays[skeleton["__array__"]]
        if "__dict__" in skeleton:
            return {_join_arrays(k, arrays): _join_arrays(v, arrays) for k, v in skeleton["__dict__"]}
        if "__tuple__" in skeleton:
            return tuple(_join_arrays(v, arrays) for v in skeleton["__tuple__"])
        if "__list__" in skeleton:
            return [_join_arrays(v, arrays) for v in skeleton["__list__"]]
    return skeleton
