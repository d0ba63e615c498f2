"""The ONNX graph under construction: its nodes and initializers, and the ONNX name of
every value a recorded op reads.

A value an op reads is one of four things, looked up in this order: a graph input, the
output of an earlier op, a parameter or buffer of the model (an initializer named by its
``state_dict`` name, added when first read), or else a constant made during the forward
pass (an initializer named after the op that read it). A constant is only safe if it
does not depend on the input: it is compared with its twin in the second recording,
which ran on another batch (one row more, other values). The same: a constant. Different
only in having one row per example, all rows alike (``zeros(batch, ...)``): a row expanded
to the batch size at run time. Anything else was computed from the input outside
glassnet's ops (with NumPy), where no graph can follow it: an :class:`ExportError`.
"""
import numpy as np

from ..tensor import Tensor


class ExportError(ValueError):
    """A model that cannot be written as ONNX; the message names the op and the layer."""


class BatchDependence(ExportError):
    """Something changes with the batch size in a way that a dynamic batch axis cannot hold."""


def as_array(x):
    return x._data if isinstance(x, Tensor) else np.asarray(x)


def same(a, b):
    """Whether two arrays have the same shape, dtype and values (NaN equal to NaN)."""
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")


class Graph:
    """Nodes and initializers, and the names of the values of a recorded forward pass.

    ``batch_sizes`` are the batch sizes of the two recordings; ``dynamic`` whether the
    batch axis is left open. ``op`` is the op being converted: new nodes take their names
    from its layer, and errors name it.
    """

    def __init__(self, onnx, opset, model, batch_sizes, dynamic):
        self.onnx, self.helper, self.opset = onnx, onnx.helper, opset
        self.batch_sizes, self.dynamic = batch_sizes, dynamic
        self.nodes, self.initializers, self.graph_inputs = [], [], []
        self.names = {}  # id(tensor or array) -> its ONNX name
        self.constants = {}  # id(array) -> the initializer of a constant read before
        self.made = {}  # id(tensor) -> its version counter when an op made it
        self.alive = []  # the objects whose ids are keys above: alive, so that no other object takes their id
        self.taken = set()
        self.parameters = {}  # id(tensor or array) -> (state_dict name, tensor), initializers once read
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
            self.parameters[id(tensor)] = self.parameters[id(tensor._data)] = (name, tensor)
        self.derived = []  # [value in the first recording, in the second, build, its name once built]
        self.shared = {}  # nodes that several derived values use, added once
        self.op, self._batch = None, None

    # -- names --------------------------------------------------------------------------------

    def unique(self, name):
        candidate, k = name, 1
        while candidate in self.taken:
            candidate, k = f"{name}_{k}", k + 1
        self.taken.add(candidate)
        return candidate

    def remember(self, obj, name):
        """``obj`` (a tensor: also its array) is called ``name`` from now on; the first
        name an array gets stays (an op may hand its input's array on unchanged)."""
        self.alive.append(obj)
        self.names[id(obj)] = name
        if isinstance(obj, Tensor) and id(obj._data) not in self.names:
            self.alive.append(obj._data)
            self.names[id(obj._data)] = name

    def name(self, obj):
        """The ONNX name of a graph input, an op's output or a parameter; None for others."""
        found = self.names.get(id(obj))
        if found is None and isinstance(obj, Tensor):
            found = self.names.get(id(obj._data))
        if found is None:
            parameter = self.parameters.get(id(obj)) or (isinstance(obj, Tensor) and self.parameters.get(id(obj._data)))
            if parameter:
                name, tensor = parameter
                found = self.initializer(tensor._data, name)
                self.remember(tensor, found)
        return found

    def add_input(self, tensor, name, other_shape):
        """A graph input: its value info, axis 0 named "batch" where it is dynamic."""
        name = self.unique(name)
        self.remember(tensor, name)
        self.graph_inputs.append(name)
        return self.value_info(name, tensor._data, other_shape)

    def value_info(self, name, array, other_shape):
        dims = [n if n == m else "batch" for n, m in zip(array.shape, other_shape)]
        return self.helper.make_tensor_value_info(name, self.helper.np_dtype_to_tensor_dtype(array.dtype), dims)

    # -- values -------------------------------------------------------------------------------

    def value(self, obj, other=None, what="a constant"):
        """The name of what an op reads (``other``: the same in the second recording); a
        constant becomes an initializer ("" for None, an absent optional input)."""
        if obj is None:
            return ""
        found = self.name(obj)
        if found is not None:
            return found
        return self.constant(as_array(obj), None if other is None else as_array(other), what)

    def input(self, op, index, what=None):
        other = op.other.inputs[index] if op.other is not None else None
        return self.value(op.inputs[index], other, what or f"input {index}")

    def inputs(self, op):
        """The names of all positional inputs, absent trailing ones left out."""
        names = [self.input(op, i) for i in range(len(op.inputs))]
        while names and names[-1] == "":
            names.pop()
        return names

    def option(self, op, key):
        other = op.other.options.get(key) if op.other is not None else None
        return self.value(op.options[key], other, key)

    def constant(self, array, other, what):
        derived = self.derived_value(array, other)
        if derived is not None:
            return derived
        if other is None or same(array, other):
            if id(array) not in self.constants:
                self.alive.append(array)
                self.constants[id(array)] = self.initializer(array, self._here(what))
            return self.constants[id(array)]
        if self.dynamic and self._one_row_per_example(array, other):
            row = self.initializer(array[:1], self._here(what))
            return self.node("Expand", [row, self.sizes(array.shape, other.shape)])
        # with a dynamic batch, a size or a count may be what changed: the export tries again
        # with the batch fixed, and there only a value that depends on the input's values fails
        raise (BatchDependence if self.dynamic else ExportError)(
            f"{self.where()}: {what} of shape {array.shape} was computed outside glassnet's ops (with NumPy?) and "
            f"changes with the input's {'batch size or ' if self.dynamic else ''}values; an ONNX graph can only hold "
            "it as a constant, which would be wrong for other inputs; help: compute it from the input with tensor "
            "operations"
        )

    def derived_value(self, array, other):
        """The name of a value known to be computed from the input this way in both
        recordings (see :mod:`glassnet.onnx.derived`), its nodes added on first use; else None."""
        if other is None:
            return None
        for entry in self.derived:
            first, second, build, name = entry
            if same(array, first) and same(other, second):
                if name is None:
                    entry[3] = name = build(self)
                return name
        return None

    def _one_row_per_example(self, array, other):
        b1, b2 = self.batch_sizes
        if array.ndim == 0 or array.shape[1:] != other.shape[1:] or (array.shape[0], other.shape[0]) != (b1, b2):
            return False
        row = array[:1]
        return same(array, np.broadcast_to(row, array.shape)) and same(other, np.broadcast_to(row, other.shape))

    def initializer(self, array, name):
        name = self.unique(name)
        array = np.asarray(array, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def scalar(self, value, dtype, what="scalar"):
        """A 0-d constant (``value`` as ``dtype``): a number in an op's formula."""
        return self.initializer(np.asarray(value, dtype=dtype), self._here(what))

    def ints(self, values, what="sizes"):
        return self.initializer(np.asarray(values, dtype=np.int64).reshape(-1), self._here(what))

    def _here(self, what):
        op = self.op
        if op is None:
            return what
        return f"{op.path}/{op.name}.{what}" if op.path else f"{op.name}.{what}"

    # -- sizes that grow with the batch -----------------------------------------------------------

    def batch(self):
        """The batch size at run time, a 1-element int64 value (axis 0 of the first input)."""
        if self._batch is None:
            self._batch = self.node("Shape", [self.graph_inputs[0]], start=0, end=1)
        return self._batch

    def sizes(self, values, others):
        """A 1-D int64 value holding the sizes ``values`` (an op's shape, say) of the first
        recording; an entry that is ``others``' for the second batch is a multiple of the
        batch size, computed at run time."""
        values, others = [int(v) for v in values], [int(v) for v in others]
        if values == others:
            return self.ints(values)
        (b1, b2), pieces, run = self.batch_sizes, [], []
        for v, w in zip(values, others):
            if v == w:
                run.append(v)
                continue
            if not (self.dynamic and v % b1 == 0 and v // b1 * b2 == w):
                self.fail(f"the size {v} (for a batch of {b1}; {w} for {b2}) is no multiple of the batch size",
                          batch=True)
            pieces += [self.ints(run)] if run else []
            pieces.append(self.batch() if v == b1 else self.node("Mul", [self.batch(), self.ints([v // b1])]))
            run = []
        pieces += [self.ints(run)] if run else []
        return pieces[0] if len(pieces) == 1 else self.node("Concat", pieces, axis=0)

    # -- nodes --------------------------------------------------------------------------------

    def node(self, op_type, inputs, outputs=1, **attributes):
        """Add a node; returns the name of its output (a list of ``outputs`` names if > 1).
        Nodes and values are named after the layer: ``blocks.layers.0.self_attn/MatMul``."""
        op = self.op
        name = self.unique(f"{op.path}/{op_type}" if op is not None and op.path else op_type)
        names = [name] if outputs == 1 else [f"{name}:{i}" for i in range(outputs)]
        self.taken.update(names)
        inputs = list(inputs)
        while inputs and inputs[-1] == "":  # absent optional inputs at the end are left out
            inputs.pop()
        self.nodes.append(self.helper.make_node(op_type, inputs, names, name=name, **attributes))
        return names[0] if outputs == 1 else names

    def reduce(self, op_type, x, axis, keepdims):
        """A Reduce* node over ``axis`` (an int, a tuple, or None for all axes); the axes are
        an input of ReduceSum (and of every Reduce* from opset 18), else an attribute."""
        if axis == ():
            return self.node("Identity", [x])
        axes = None if axis is None else [int(a) for a in (axis if isinstance(axis, (tuple, list)) else [axis])]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.node(op_type, [x] + ([self.ints(axes, "axes")] if axes else []), keepdims=int(keepdims))
        return self.node(op_type, [x], keepdims=int(keepdims), **({"axes": axes} if axes else {}))

    def squeeze(self, x, axes):
        return self.node("Squeeze", [x, self.ints(axes, "axes")])

    def unsqueeze(self, x, axes):
        return self.node("Unsqueeze", [x, self.ints(axes, "axes")])

    def prune(self, outputs):
        """Drop the nodes and initializers that no output depends on (an LSTM's final cell
        state that the model ignores, say)."""
        needed, kept = set(outputs), []
        for node in reversed(self.nodes):
            if needed.intersection(node.output):
                kept.append(node)
                needed.update(node.input)
        self.nodes = kept[::-1]
        self.initializers = [i for i in self.initializers if i.name in needed]

    # -- errors -------------------------------------------------------------------------------

    def where(self):
        return f"glassnet.onnx.export: {self.op.where()}" if self.op is not None else "glassnet.onnx.export"

    def fail(self, problem, batch=False):
        raise (BatchDependence if batch else ExportError)(f"{self.where()}: {problem}")
