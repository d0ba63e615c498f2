"""Saving and loading, PyTorch's way (``gn.save(obj, path)``, ``obj = gn.load(path)``),
in the safetensors format: never pickle, so loading a file cannot run code from it.

``save`` takes what PyTorch code passes to ``torch.save``:

* a ``state_dict``: the file is then a plain safetensors file under PyTorch's names, so
  ``safetensors.torch.load_file`` gives PyTorch the same weights;
* a checkpoint: dicts, lists and tuples of tensors, numbers, strings and state dicts,
  e.g. ``{"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}``;
* a whole Module: its weights, and its architecture (its class and the arguments it was
  built with, which ``Module`` records) as JSON.

The arrays are the file's tensors, named by their path of keys (``model.0.weight``);
everything else (the structure, numbers, architectures) is JSON in the file's metadata.
A training checkpoint adds the state of the run (:func:`save`'s ``training``: the random
states, the loader's position, the scheduler, the callbacks...) the same way, its arrays
under ``training/``; :func:`load_training` reads it back.

``load`` rebuilds Modules only of glassnet's own classes and of classes the caller allows
with :func:`safe_globals` or :func:`add_safe_globals` (PyTorch's names for this guard),
and refuses pickle files (PyTorch's .pt/.pth) without unpickling them.
"""
import contextlib
import importlib
import json
import os
import pickle
import tempfile
from collections import OrderedDict

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from .dtypes import as_dtype
from .nn.module import Module
from .tensor import Tensor

FORMAT = "glassnet/1"
_OPTIMIZER = "optimizer/"
_TRAINING = "training/"
_SAFE_GLOBALS = []  # classes the caller allows load to build


class UnsafeLoadError(pickle.UnpicklingError, ValueError):
    """Loading would run code the caller did not allow: a pickle file, or a Module class
    that is neither glassnet's nor allowed with :func:`safe_globals`."""


def save(obj, path, optimizer=None, metadata=None, training=None):
    """Write ``obj`` (a state_dict, a checkpoint dict of tensors and numbers, or a whole
    Module) to ``path``. ``optimizer`` (its state, for resuming), ``metadata``
    (JSON-serializable, read back by :func:`load_metadata`) and ``training`` (the state of
    a training run: dicts and lists of arrays, numbers and strings, read back by
    :func:`load_training`) are stored along.

    A whole Module needs constructor arguments that JSON can hold (numbers, strings,
    bools, None, dtypes, Modules, and lists/tuples/dicts of those); for any other, save
    its ``state_dict()`` instead.

    The file is written to a temporary name and renamed into place, so a failed save
    never leaves a half-written file or destroys the previous checkpoint.
    """
    tensors = {}
    header = {"format": FORMAT, "object": _encode(obj, "", tensors), "metadata": metadata or {}}
    if optimizer is not None:
        header["optimizer"] = _encode(optimizer.state_dict(), _OPTIMIZER, tensors)
    if training is not None:
        header["training"] = _encode(training, _TRAINING, tensors)
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


def load(path, model=None, optimizer=None, strict=True, *, map_location=None, weights_only=True, mmap=None):
    """Read what :func:`save` wrote: the state_dict, the checkpoint or the rebuilt Module.

    With ``model``, load the saved weights (of a state_dict or a whole Module) into it
    instead and return it (a clear error lists missing/unexpected keys and shape
    mismatches); with ``optimizer``, restore its state too.

    ``map_location`` ("cpu" or None), ``weights_only`` and ``mmap`` are accepted for
    PyTorch code; glassnet computes on the CPU and always loads weights only (plus the
    architectures of glassnet's classes and the ones :func:`safe_globals` allows).
    """
    if isinstance(model, str):  # torch.load(path, "cpu"): there the second argument is map_location
        model, map_location = None, model
    _check_map_location(map_location)
    tensors, header = _read(path)
    decode = _Decoder(tensors, path)
    if optimizer is not None:
        if "optimizer" not in header:
            raise ValueError(f"{path} holds no optimizer state (it was saved without optimizer=)")
        optimizer.load_state_dict(decode(header["optimizer"]))
    if "object" not in header:  # a file of an older glassnet, or written by safetensors itself
        saved = {name: array for name, array in tensors.items() if not name.startswith((_OPTIMIZER, _TRAINING))}
    elif model is None:
        return decode(header["object"])
    else:
        saved = decode(_weights_node(header["object"], path))
    if model is None:
        return saved
    try:
        model.load_state_dict(saved, strict=strict)
    except RuntimeError as error:
        raise RuntimeError(f"cannot load {path} into this {type(model).__name__}: {error}") from None
    return model


def load_metadata(path):
    """The metadata stored with :func:`save` (e.g. the model's name and arguments)."""
    return _read(path)[1].get("metadata", {})


def load_training(path):
    """The state of the training run stored with :func:`save`'s ``training`` (arrays come
    back as NumPy arrays), or None when the file holds none."""
    tensors, header = _read(path)
    return _Decoder(tensors, path)(header["training"]) if "training" in header else None


# -- which classes load may build ----------------------------------------------------------


def add_safe_globals(classes):
    """Allow :func:`load` to build these Module classes (your own, e.g. ``[MyNet]``) for
    the rest of the process. Building one runs its code: allow only what you trust."""
    for cls in classes:
        if not isinstance(cls, type):
            raise TypeError(f"safe_globals takes classes, e.g. [mypackage.MyNet]; got {cls!r}")
        if cls not in _SAFE_GLOBALS:
            _SAFE_GLOBALS.append(cls)


def get_safe_globals():
    return list(_SAFE_GLOBALS)


def clear_safe_globals():
    _SAFE_GLOBALS.clear()


@contextlib.contextmanager
def safe_globals(classes):
    """``with safe_globals([MyNet]): model = glassnet.load(path)``: allow these classes
    inside the block only."""
    before = list(_SAFE_GLOBALS)
    add_safe_globals(classes)
    try:
        yield
    finally:
        _SAFE_GLOBALS[:] = before


# -- writing: objects as JSON plus named arrays --------------------------------------------


class _NotJSON(TypeError):
    """A constructor argument that a file cannot hold."""


def _encode(value, name, tensors):
    """``value`` as JSON, its arrays moved into ``tensors`` under ``name``, the path of
    keys joined by dots (so a state_dict's arrays keep its names). ``tensors=None``
    encodes a constructor argument: no arrays, and a Module by its architecture alone."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return _encode(value.item(), name, tensors)
    if isinstance(value, np.dtype) or isinstance(value, type) and issubclass(value, np.generic):
        return {"__dtype__": np.dtype(value).name}
    if isinstance(value, Module):
        node = {"__nn_module__": _architecture(value)}
        if tensors is not None:
            node["state_dict"] = _encode(value.state_dict(), name, tensors)
            frozen = [n for n, p in value.named_parameters() if not p.requires_grad]
            if frozen:
                node["frozen"] = frozen
        return node
    if isinstance(value, (Tensor, np.ndarray)) and tensors is not None:
        key, count = name or "tensor", 1
        while key in tensors:  # two paths that join to the same name
            key, count = f"{name}#{count}", count + 1
        tensors[key] = np.asarray(value._data if isinstance(value, Tensor) else value, order="C")
        return {"__tensor__" if isinstance(value, Tensor) else "__array__": key}
    if isinstance(value, dict) and all(k is None or isinstance(k, (bool, int, float, str)) for k in value):
        items = [[k, _encode(v, _child(name, k), tensors)] for k, v in value.items()]
        return {"__OrderedDict__" if isinstance(value, OrderedDict) else "__dict__": items}
    if isinstance(value, (list, tuple)):
        items = [_encode(v, _child(name, i), tensors) for i, v in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    what = f"a {type(value).__name__}" + (f" (at {name!r})" if name else "")
    if tensors is None:
        raise _NotJSON(what)
    raise TypeError(f"glassnet.save cannot store {what}: a file holds tensors, numbers, strings, Modules, "
                    "and dicts, lists and tuples of them (no pickle)")


def _child(name, key):
    return f"{name}{key}" if not name or name.endswith("/") else f"{name}.{key}"


def _architecture(module):
    """The class of ``module`` and the arguments it was built with, as JSON."""
    cls = type(module)
    args, kwargs = module.__dict__.get("_init_args", ((), {}))
    try:
        return {"class": f"{cls.__module__}:{cls.__qualname__}", "training": module.training,
                "args": [_encode(a, "", None) for a in args],
                "kwargs": {k: _encode(v, "", None) for k, v in kwargs.items()}}
    except _NotJSON as error:
        raise TypeError(
            f"cannot save the whole {cls.__name__}: one of the arguments it was built with is {error}, which a "
            "file cannot hold (only numbers, strings, bools, None, dtypes, Modules and lists/tuples/dicts of "
            "those). Save its weights instead: glassnet.save(model.state_dict(), path), and load them into a "
            "model you build in code: glassnet.load(path, model)"
        ) from None


# -- reading -------------------------------------------------------------------------------


def _check_map_location(location):
    for target in location.values() if isinstance(location, dict) else [location]:
        if target is not None and str(target).split(":")[0] != "cpu":
            raise RuntimeError(f"map_location={location!r}: glassnet computes on the CPU (with NumPy); "
                               "use map_location='cpu' or leave it out")


def _read(path):
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a folder, not a checkpoint file")
    _refuse_pickle(path)
    try:
        with safe_open(path, framework="numpy") as f:  # one read: the arrays and the metadata
            tensors = {name: f.get_tensor(name) for name in f.keys()}
            header = json.loads((f.metadata() or {}).get("glassnet", "{}"))
    except (SafetensorError, ValueError, OSError) as error:
        raise ValueError(f"{path} is not a readable safetensors checkpoint: {error}") from None
    return tensors, header


def _refuse_pickle(path):
    """Tell a pickle file by its first bytes, and refuse it without unpickling."""
    with open(path, "rb") as f:
        start = f.read(9)
    length = int.from_bytes(start[:8], "little")
    if start[8:9] == b"{" and 8 + length <= os.path.getsize(path):
        return  # a safetensors file: its header length, then the JSON header
    convert = ("Convert it once in PyTorch, if you trust it: from safetensors.torch import save_file; "
               f"save_file(torch.load({str(path)!r}), 'model.safetensors') (for a state_dict), "
               "then glassnet.load('model.safetensors')")
    if start.startswith(b"PK\x03\x04"):
        raise UnsafeLoadError(f"{path} is a PyTorch .pt/.pth file (a zip of pickles); glassnet never unpickles, "
                              f"as unpickling can run any code. {convert}")
    if start[:1] == b"\x80":
        raise UnsafeLoadError(f"{path} is a pickle file; glassnet never unpickles, as unpickling can run any code. "
                              f"{convert}")


def _weights_node(node, path):
    """The part of a saved object that is one model's weights: a state_dict, or a whole
    Module's state_dict (read without building the Module)."""
    if isinstance(node, dict) and "__nn_module__" in node:
        return node["state_dict"]
    items = node.get("__OrderedDict__", node.get("__dict__")) if isinstance(node, dict) else None
    if items is None or not all(isinstance(v, dict) and ({"__array__", "__tensor__"} & set(v)) for _, v in items):
        keys = [k for k, _ in items] if items is not None else None
        raise ValueError(f"{path} holds a checkpoint" + (f" with keys {keys}" if keys else "") + ", not one model's "
                         "weights: load it without a model, ckpt = glassnet.load(path), and pass the state_dict "
                         "in it to model.load_state_dict(...)")
    return node


class _Decoder:
    """Inverse of :func:`_encode`: JSON and named arrays back to objects, Modules rebuilt
    only of allowed classes."""

    def __init__(self, tensors, path):
        self.tensors, self.path = tensors, path

    def __call__(self, node):
        if isinstance(node, list):
            return [self(v) for v in node]
        if not isinstance(node, dict):
            return node
        if "__array__" in node:
            return self.tensors[node["__array__"]]
        if "__tensor__" in node:
            return Tensor(self.tensors[node["__tensor__"]])
        if "__dtype__" in node:
            return as_dtype(node["__dtype__"])
        if "__tuple__" in node:
            return tuple(self(v) for v in node["__tuple__"])
        if "__list__" in node:  # files of older glassnet versions
            return [self(v) for v in node["__list__"]]
        if "__dict__" in node:
            return {self(k): self(v) for k, v in node["__dict__"]}
        if "__OrderedDict__" in node:
            return OrderedDict((self(k), self(v)) for k, v in node["__OrderedDict__"])
        if "__nn_module__" in node:
            return self.module(node)
        raise ValueError(f"{self.path} is not a readable glassnet checkpoint: unknown entry {sorted(node)}")

    def module(self, node):
        spec = node["__nn_module__"]
        cls = self.allowed_class(spec["class"])
        module = cls(*self(spec["args"]), **{k: self(v) for k, v in spec["kwargs"].items()})
        if "state_dict" in node:
            try:
                module.load_state_dict(self(node["state_dict"]))
            except RuntimeError as error:
                raise RuntimeError(
                    f"the {cls.__name__} rebuilt from {self.path} with the arguments it was built with does not fit "
                    f"the saved weights (was it changed after it was built?): {error}\nThe weights are intact: build "
                    "the model in code and load them into it with glassnet.load(path, model)"
                ) from None
            parameters = dict(module.named_parameters())
            for name in node.get("frozen", []):
                parameters[name].requires_grad = False
        return module.train(spec.get("training", True))

    def allowed_class(self, name):
        module_name, _, qualname = name.partition(":")
        for cls in _SAFE_GLOBALS:
            if (cls.__module__, cls.__qualname__) == (module_name, qualname):
                return cls
        dotted = f"{module_name}.{qualname}"
        if module_name != "glassnet" and not module_name.startswith("glassnet."):
            raise UnsafeLoadError(
                f"{self.path} holds a {dotted}, which is not a glassnet class; building it runs its code, so "
                f"glassnet.load builds only the classes you allow. If you trust this file: "
                f"with glassnet.serialization.safe_globals([{dotted}]): model = glassnet.load(path) "
                f"(or glassnet.serialization.add_safe_globals([{dotted}]) once for the whole program). "
                "Or build the model in code and load the weights into it: glassnet.load(path, model)"
            )
        try:
            cls = importlib.import_module(module_name)
            for part in qualname.split("."):
                cls = getattr(cls, part)
        except (ImportError, AttributeError):
            cls = None
        if not (isinstance(cls, type) and issubclass(cls, Module) and (cls.__module__, cls.__qualname__) == (module_name, qualname)):
            raise ValueError(f"{self.path} holds a {dotted}, which is not a Module class of this glassnet version")
        return cls
