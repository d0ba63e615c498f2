"""Export a trained network to ONNX, the file format that onnxruntime, TensorRT, OpenVINO
and the browsers' runtimes read.

    import glassnet as gn
    gn.onnx.export(model, example_input, "model.onnx")       # writes the file
    gn.onnx.verify("model.onnx", model, example_input)        # onnxruntime vs glassnet: the largest difference

glassnet builds no graph ahead of time: the network is its Python code. So the export
runs the model (in eval mode, without gradients) on the example input and records every
op it applies, with the layer it ran in (:mod:`~glassnet.onnx.trace`); each op is then
written as ONNX operators (:mod:`~glassnet.onnx.operators`). Parameters and buffers
become initializers under their ``state_dict`` names; what the forward pass made from
the input with NumPy instead of tensor ops is invisible to the record, so the model runs
a second time on other inputs (one row more, other values) and anything that changed
there without the graph seeing it is an :class:`ExportError` that names the op and the
layer, as is an op with no ONNX translation.

The batch axis (axis 0 of every input) is left open (``dynamic_batch=True``) where the
model allows it: the sizes that grow with the batch (a reshape's ``(N, -1)``, a row of
zeros per example) are computed from the input's size at run time. Where the model does
not allow it, the export warns and fixes the batch size to the example's.

The ``onnx`` package is needed (``pip install 'glassnet[onnx]'``), and ``onnxruntime``
for :func:`verify`; importing ``glassnet.onnx`` imports neither.
"""
import itertools
import os
import warnings

import numpy as np

from ..extras import require
from ..nn import Module
from ..tensor import Tensor, no_grad
from . import trace
from .derived import derived_values
from .graph import BatchDependence, ExportError, Graph, as_array, same
from .operators import CONVERTERS

__all__ = ["export", "verify", "ExportError"]


def export(model, example_input, path, opset=17, input_names=None, output_names=None, dynamic_batch=True):
    """Write ``model`` as an ONNX file at ``path`` and return the ``onnx.ModelProto``.

    Args:
        model: a :class:`glassnet.nn.Module`; exported as in eval mode (its mode is restored).
        example_input: a tensor or array (or a tuple of them for several inputs) of the
            shape and dtype the model takes, batch first: token ids (N, T) for a gpt, images
            (N, C, H, W) for a cnn. Its sizes other than the batch are fixed in the graph.
        path: the ``.onnx`` file to write.
        opset: the ONNX operator set, 17 (the first with LayerNormalization) or later.
        input_names, output_names: the graph's names of the inputs and outputs (default
            ``input`` and ``output``, numbered when there are several).
        dynamic_batch: leave axis 0 of the inputs and outputs open ("batch"), where the
            model allows it.

    Raises:
        ExportError (a ValueError): an op has no ONNX translation, or the forward pass
        computes something from the input outside glassnet's ops; the message names the
        op and the layer.

    >>> import numpy as np, glassnet as gn
    >>> model = gn.models.mlp((1, 8, 8), 3)
    >>> proto = gn.onnx.export(model, np.zeros((2, 1, 8, 8), "float32"), "mlp.onnx")  # doctest: +SKIP
    >>> [node.op_type for node in proto.graph.node]  # doctest: +SKIP
    ['Flatten', 'Gemm', 'Relu', 'Gemm', 'Relu', 'Gemm']
    """
    onnx = require("onnx", "ONNX export", extra="onnx")
    if not isinstance(model, Module):
        raise TypeError(f"glassnet.onnx.export: expected a glassnet.nn.Module, got {type(model).__name__}")
    inputs = _as_inputs(example_input)
    newest = onnx.defs.onnx_opset_version()
    if not isinstance(opset, int) or not 17 <= opset <= newest:
        raise ValueError(f"glassnet.onnx.export: opset must be an int from 17 (the first with LayerNormalization) "
                         f"to {newest} (the newest this onnx knows), got {opset!r}")
    names = (_names(input_names, len(inputs), "input", "input_names"), output_names)
    was_training = model.training
    model.eval()
    try:
        proto = _export(onnx, model, inputs, opset, names, dynamic_batch)
    finally:
        model.train(was_training)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, os.fspath(path))
    return proto


def verify(path, model, example_input):
    """Run the ONNX file at ``path`` in onnxruntime (on the CPU) on ``example_input`` and
    return the largest absolute difference from glassnet's outputs for the same input: a
    check that the export computes what the model does (a few 1e-7 for float32)."""
    ort = require("onnxruntime", "checking an ONNX export", extra="onnx")
    inputs = _as_inputs(example_input)
    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {arg.name: t.numpy() for arg, t in zip(session.get_inputs(), inputs)})
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            expected = trace.flat_outputs(model(*inputs))
    finally:
        model.train(was_training)
    if len(got) != len(expected):
        raise ValueError(f"glassnet.onnx.verify: {path} gives {len(got)} outputs, the model {len(expected)}")
    return max((float(np.abs(a - e.numpy()).max()) if a.size else 0.0 for a, e in zip(got, expected)), default=0.0)


# -- the steps ----------------------------------------------------------------------------------


def _export(onnx, model, inputs, opset, names, dynamic):
    """The ModelProto, with an open batch axis if ``dynamic`` and the model allows it."""
    if not dynamic:
        return _build(onnx, model, inputs, opset, names, dynamic=False)
    try:
        return _build(onnx, model, inputs, opset, names, dynamic=True)
    except BatchDependence as error:
        proto = _build(onnx, model, inputs, opset, names, dynamic=False)  # raises if the values matter too
        warnings.warn(f"{error}; exported with the batch size fixed to the example's, {len(inputs[0])}", stacklevel=4)
        return proto


def _build(onnx, model, inputs, opset, names, dynamic):
    input_names, output_names = names
    others = _other_inputs(inputs, dynamic)
    versions = [t._version[0] for t in inputs]  # the inputs as given (the forward pass might change them in place)
    ops, output = trace.record(model, inputs)
    try:
        other_ops, other_output = trace.record(model, others)
    except Exception as error:  # the model's own error, e.g. a second input whose batch is not on axis 0
        raise (BatchDependence if dynamic else ExportError)(
            f"glassnet.onnx.export: the model fails on a second batch ({len(others[0])} examples, values drawn from "
            f"the example's), which the export runs to see what depends on the input: {error}") from error
    outputs, other_outputs = trace.flat_outputs(output), trace.flat_outputs(other_output)
    output_names = _names(output_names, len(outputs), "output", "output_names")
    _pair(ops, other_ops, dynamic)
    g = Graph(onnx, opset, model, (len(inputs[0]), len(others[0])), dynamic)
    g.derived = [[*entry, None] for entry in derived_values(model, inputs[0], others[0])]
    g.taken.update(output_names)  # reserved, so that no node takes them
    graph_inputs = [g.add_input(t, name, other.shape) for t, name, other in zip(inputs, input_names, others)]
    g.made.update((id(t), version) for t, version in zip(inputs, versions))
    for op in _needed(ops, outputs):
        _convert(g, op)
    g.op = None
    graph_outputs = _graph_outputs(g, outputs, other_outputs, output_names)
    g.prune(output_names)
    graph = onnx.helper.make_graph(g.nodes, type(model).__name__, graph_inputs, graph_outputs, g.initializers)
    opsets = [onnx.helper.make_opsetid("", opset)]
    proto = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="glassnet")
    proto.ir_version = onnx.helper.find_min_ir_version_for(opsets)  # the oldest that runtimes of this opset read
    return proto


def _as_inputs(example_input):
    """The example input(s) as a tuple of tensors, each with a batch axis."""
    items = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
    if not items or not all(isinstance(x, (Tensor, np.ndarray)) for x in items):
        raise TypeError("glassnet.onnx: example_input must be a tensor or an array (or a tuple of them), got "
                        f"{type(example_input).__name__}; help: e.g. gn.zeros(1, 1, 28, 28) for an image model")
    inputs = tuple(x if isinstance(x, Tensor) else Tensor(x) for x in items)
    for x in inputs:
        if x.ndim == 0 or len(x) == 0:
            raise ValueError(f"glassnet.onnx: every example input needs a batch axis of at least one example, got "
                             f"shape {x.shape}")
    return inputs


def _names(names, count, default, argument):
    if names is None:
        return [default] if count == 1 else [f"{default}_{k}" for k in range(count)]
    names = list(names)
    if len(names) != count or len(set(names)) != count or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"glassnet.onnx.export: {argument} must be {count} distinct non-empty names, one per "
                         f"{default}, got {names!r}")
    return names


def _other_inputs(inputs, dynamic):
    """The inputs of the second recording: values drawn at random from the example's own
    (so token ids stay valid ids, and a row's count of padding changes), with one row more
    when the batch axis is to be dynamic."""
    generator = np.random.default_rng(0)
    others = []
    for x in inputs:
        shape = (len(x) + dynamic, *x.shape[1:])
        others.append(Tensor(generator.choice(x.numpy().reshape(-1), size=shape)))
    return tuple(others)


def _pair(ops, others, dynamic):
    """Give every op its twin of the second recording, which must apply the same ops."""
    for k, (op, other) in enumerate(itertools.zip_longest(ops, others)):
        if op is None or other is None or op.name != other.name:
            first = op or other
            raise (BatchDependence if dynamic else ExportError)(
                f"glassnet.onnx.export: the forward pass applies other ops for another "
                f"{'batch' if dynamic else 'input'} (from its op number {k}, {first.where()}): it branches on the "
                "input's values or sizes, which a graph cannot follow; help: keep the forward pass the same for "
                "every input"
            )
        op.other = other


def _operands(op):
    """The tensors and arrays an op reads: its inputs, and the arrays among its options."""
    stack = [*op.inputs, *op.options.values()]
    while stack:
        item = stack.pop()
        if isinstance(item, (tuple, list)):
            stack.extend(item)
        elif isinstance(item, (Tensor, np.ndarray)):
            yield item


def _needed(ops, outputs):
    """The ops the outputs depend on, in the order they ran (the rest, such as an LSTM's
    final states that the model ignores, are left out)."""
    producer = {}
    for k, op in enumerate(ops):
        for tensor in op.outputs:
            producer.setdefault(id(tensor), k)
            producer.setdefault(id(tensor._data), k)

    def made_by(x):
        k = producer.get(id(x))
        return producer.get(id(x._data)) if k is None and isinstance(x, Tensor) else k

    needed, stack = set(), [made_by(t) for t in outputs]
    while stack:
        k = stack.pop()
        if k is not None and k not in needed:
            needed.add(k)
            stack.extend(made_by(x) for x in _operands(ops[k]))
    return [op for k, op in enumerate(ops) if k in needed]


def _convert(g, op):
    g.op = op
    converter = CONVERTERS.get(type(op.fn))
    if converter is None:
        g.fail(f"glassnet has no ONNX translation of {op.name} (glassnet.onnx.operators.CONVERTERS lists the ops it "
               "translates); help: write the layer with those ops, or leave it out of the exported model")
    for index, (tensor, version) in enumerate(zip(op.inputs, op.read)):
        if version is not None and g.made.get(id(tensor), version) != version:
            g.fail(f"its input {index} was changed in place (x += ..., x[...] = ..., a layer built with "
                   "inplace=True) after the op that made it; the record cannot follow that; help: write the forward "
                   "pass out of place (x = x + ..., inplace=False)")
    for key, value in op.options.items():
        # sizes and arrays are checked where the converter reads them (Graph.sizes, Graph.value)
        if key not in converter.sizes and not isinstance(value, (Tensor, np.ndarray)):
            if _differs(g, value, op.other.options.get(key)):
                g.fail(f"its option {key}={_short(value)} is {_short(op.other.options.get(key))} for another "
                       f"{'batch' if g.dynamic else 'input'}: it depends on the input, and ONNX holds options as "
                       "constants; help: compute it with tensor operations", batch=g.dynamic)
    names = converter(g, op)
    for tensor, name, version in zip(op.outputs, [names] if isinstance(names, str) else names, op.made):
        if name is not None:
            g.remember(tensor, name)
            g.made[id(tensor)] = version


def _short(value, limit=80):
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _differs(g, a, b):
    """Whether option values differ between the two recordings (values of the graph aside)."""
    if isinstance(a, (Tensor, np.ndarray)):
        if g.name(a) is not None or g.derived_value(as_array(a), as_array(b)) is not None:
            return False
        return not isinstance(b, (Tensor, np.ndarray)) or not same(as_array(a), as_array(b))
    if isinstance(a, (tuple, list)):
        return not isinstance(b, (tuple, list)) or len(a) != len(b) or any(_differs(g, x, y) for x, y in zip(a, b))
    if isinstance(a, slice):
        return not isinstance(b, slice) or _differs(g, (a.start, a.stop, a.step), (b.start, b.stop, b.step))
    try:
        return bool(a != b)
    except (TypeError, ValueError):
        return a is not b


def _graph_outputs(g, outputs, others, names):
    """The outputs' value infos; each output's value renamed to its graph name (or passed
    through an Identity: a graph input, a parameter, or a value returned twice)."""
    produced = {value for node in g.nodes for value in node.output}
    renamed, infos = {}, []
    for tensor, other, name in zip(outputs, others, names):
        value = g.value(tensor)
        if value in produced and value not in renamed:
            for node in g.nodes:
                for values in (node.input, node.output):
                    for i, v in enumerate(values):
                        if v == value:
                            values[i] = name
            renamed[value] = name
        else:
            g.nodes.append(g.helper.make_node("Identity", [renamed.get(value, value)], [name], name=name))
        if tensor.ndim != other.ndim:
            raise ExportError(f"glassnet.onnx.export: output {name} has shape {tensor.shape}, and {other.shape} for "
                              "another batch; help: return outputs whose number of axes does not depend on the batch")
        infos.append(g.value_info(name, tensor.numpy(), other.shape))
    return infos
