"""``glassnet export --load RUN --out model.onnx``: a saved network as an ONNX file.

The network is rebuilt from the checkpoint's metadata as ``glassnet evaluate`` and
``glassnet predict`` rebuild it, exported on an example batch of the shape it takes
(:func:`glassnet.onnx.export`), and the file is run in onnxruntime on that batch to check
that it computes what glassnet computes (:func:`glassnet.onnx.verify`).
"""
import os

import numpy as np

from .. import models
from ..extras import MissingExtra
from ..onnx import export, verify
from ..serialization import load, load_metadata
from ..train.run import CHECKPOINT

ONNX_FILE = "model.onnx"  # beside the checkpoint, when --out is not given
TOLERANCE = 1e-4  # float32 arithmetic in another order; a wrong translation is off by far more


def export_command(args):
    path = os.path.join(args.load, CHECKPOINT) if os.path.isdir(args.load) else args.load
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--load {args.load}: no run folder or checkpoint there; help: give the folder or "
                                f"the {CHECKPOINT} that 'glassnet train --save' wrote")
    metadata = load_metadata(path)
    if "model" not in metadata:
        raise ValueError(f"{path} does not say which model it holds (it was not saved by 'glassnet train')")
    model, example = _rebuild(path, metadata)
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(path)), ONNX_FILE)
    proto = export(model, example, out, opset=args.opset)
    graph = proto.graph
    print(f"wrote {out} ({os.path.getsize(out) / 1e6:.2f} MB): {metadata['model']} as {len(graph.node)} ONNX nodes, "
          f"opset {args.opset}; {_describe(graph.input[0])} -> {_describe(graph.output[0])}")
    try:
        difference = verify(out, model, example)
    except MissingExtra as error:
        print(f"not checked in onnxruntime: {error}")
        return 0
    if difference > TOLERANCE:
        raise RuntimeError(f"onnxruntime's outputs for {out} differ from glassnet's by up to {difference:.2e} on an "
                           "example batch: the export is wrong; please report it")
    print(f"onnxruntime (CPU): the outputs match glassnet's on an example batch of {len(example)} "
          f"(largest difference {difference:.1e})")
    return 0


def _rebuild(path, metadata):
    """The network the checkpoint holds, with its weights, and an example batch for it."""
    generator = np.random.default_rng(0)
    if metadata["model"] in models.TEXT_MODELS:
        from . import _load_gpt

        model, tokenizer = _load_gpt(path)
        return model, generator.integers(0, tokenizer.vocab_size, (2, model.context))
    from .own_data import _rebuild as rebuild

    model = rebuild(metadata)
    load(path, model)
    if metadata.get("kind") == "texts":  # token ids, the second text padded at its end
        ids = generator.integers(1, metadata["vocab_size"], (2, metadata["max_length"]))
        ids[1, metadata["max_length"] // 2 + 1:] = 0
        return model, ids
    return model, generator.random((2, *metadata["input_shape"]), dtype=np.float32)


def _describe(value):
    """``input [batch, 1, 8, 8]``: a graph input's or output's name and dims."""
    dims = [d.dim_param or str(d.dim_value) for d in value.type.tensor_type.shape.dim]
    return f"{value.name} [{', '.join(dims)}]"
