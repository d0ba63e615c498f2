"""Each glassnet op written in ONNX operators (opset 17 and later).

One converter per op, registered for its op class with ``@converts``: it receives the
:class:`~glassnet.onnx.graph.Graph` and the recorded :class:`~glassnet.onnx.trace.Op`
and returns the name(s) of the op's output(s). Most ops have an ONNX twin (Linear is Gemm,
Conv2d is Conv, LSTM is LSTM with its gates reordered); the rest are composed from a few
ONNX operators (GELU from Erf, attention from MatMul and Softmax). An op missing here is
named, with its layer, in the error :func:`glassnet.onnx.export` raises.
"""
import math
import numbers

import numpy as np

from .. import ops
from .graph import ExportError, as_array

CONVERTERS = {}


def converts(*op_classes, sizes=()):
    """Register a converter for ``op_classes``; ``sizes`` names the options it writes
    through ``Graph.sizes`` (so they may grow with the batch, as a reshape's shape does)."""
    def register(converter):
        converter.sizes = frozenset(sizes)
        for op_class in op_classes:
            CONVERTERS[op_class] = converter
        return converter
    return register


def _dtype(op, index=0):
    return as_array(op.inputs[index]).dtype


def _shape(op, index=0):
    return as_array(op.inputs[index]).shape


# -- elementwise -------------------------------------------------------------------------------

BINARY = {ops.Add: "Add", ops.Sub: "Sub", ops.Mul: "Mul", ops.Div: "Div", ops.Pow: "Pow", ops.Maximum: "Max",
          ops.Minimum: "Min", ops.MatMul: "MatMul"}
UNARY = {ops.Neg: "Neg", ops.Exp: "Exp", ops.Log: "Log", ops.Sqrt: "Sqrt", ops.Abs: "Abs", ops.Sin: "Sin",
         ops.Cos: "Cos", ops.Erf: "Erf", ops.ReLU: "Relu", ops.Sigmoid: "Sigmoid", ops.Tanh: "Tanh",
         ops.Sign: "Sign", ops.Clone: "Identity", ops.Contiguous: "Identity"}
STEPS = {ops.Floor: "Floor", ops.Ceil: "Ceil", ops.Round: "Round", ops.Trunc: "Trunc"}


@converts(*BINARY, *UNARY)
def elementwise(g, op):
    # both sides already have one dtype (glassnet promotes first) and broadcast as in NumPy, as ONNX does
    return g.node(BINARY.get(type(op.fn)) or UNARY[type(op.fn)], g.inputs(op))


@converts(*STEPS)
def step(g, op):
    x = g.input(op, 0)
    if _dtype(op).kind in "iub":  # integers are whole already
        return g.node("Identity", [x])
    if type(op.fn) is ops.Trunc:  # ONNX has no Trunc: the whole part of |x|, with x's sign
        return g.node("Mul", [g.node("Sign", [x]), g.node("Floor", [g.node("Abs", [x])])])
    return g.node(STEPS[type(op.fn)], [x])  # Round: halves to even, as NumPy


@converts(ops.Cast)
def cast(g, op):
    return g.node("Cast", [g.input(op, 0)], to=g.helper.np_dtype_to_tensor_dtype(np.dtype(op.options["dtype"])))


@converts(ops.PowScalar)
def pow_scalar(g, op):
    return g.node("Pow", [g.input(op, 0), g.scalar(op.options["exponent"], _dtype(op), "exponent")])


@converts(ops.Log1p)
def log1p(g, op):
    return g.node("Log", [g.node("Add", [g.input(op, 0), g.scalar(1, _dtype(op), "one")])])


@converts(ops.Rsqrt)
def rsqrt(g, op):
    return g.node("Reciprocal", [g.node("Sqrt", [g.input(op, 0)])])


@converts(ops.Clip)
def clip(g, op):
    bounds = [g.scalar(op.options[k], _dtype(op), k) if op.options.get(k) is not None else "" for k in ("low", "high")]
    return g.node("Clip", [g.input(op, 0), *bounds])


@converts(ops.LeakyReLU)
def leaky_relu(g, op):
    return g.node("LeakyRelu", [g.input(op, 0)], alpha=float(op.options.get("negative_slope", 0.01)))


@converts(ops.GELU)
def gelu(g, op):
    """x Φ(x) = x · ½ (1 + erf(x / √2)) (ONNX has a Gelu operator only from opset 20); or
    ½ x (1 + tanh(√(2/π) (x + 0.044715 x³))) with ``approximate="tanh"``."""
    x, dtype = g.input(op, 0), _dtype(op)
    half_x = g.node("Mul", [x, g.scalar(0.5, dtype, "half")])
    if op.options.get("approximate", "none") == "tanh":
        cube = g.node("Mul", [g.node("Mul", [x, x]), x])
        inner = g.node("Add", [x, g.node("Mul", [cube, g.scalar(0.044715, dtype, "coefficient")])])
        curve = g.node("Tanh", [g.node("Mul", [inner, g.scalar(math.sqrt(2 / math.pi), dtype, "sqrt_2_over_pi")])])
    else:
        curve = g.node("Erf", [g.node("Div", [x, g.scalar(math.sqrt(2), dtype, "sqrt_2")])])
    return g.node("Mul", [half_x, g.node("Add", [g.scalar(1, dtype, "one"), curve])])


LOGIC = {"greater": "Greater", "less": "Less", "equal": "Equal", "greater_equal": "GreaterOrEqual",
         "less_equal": "LessOrEqual", "not_equal": "Equal",  # then Not
         "bitwise_and": "And", "bitwise_or": "Or", "bitwise_xor": "Xor", "invert": "Not"}  # of bools


@converts(ops.Logic)
def logic(g, op):
    """A comparison, both sides in the dtype NumPy compared them in (a Python number takes
    the tensor's; ONNX compares operands of one type only), or the logic of bool masks."""
    ufunc, inputs = op.options["ufunc"], [x for x in op.inputs if x is not None]
    if ufunc.startswith(("bitwise", "invert")) and as_array(inputs[0]).dtype != np.bool_:
        raise ExportError(f"{g.where()}: {ufunc} of {as_array(inputs[0]).dtype} tensors: glassnet exports bitwise "
                          "logic of bool masks only; help: leave it out of the exported model")
    python = [isinstance(x, (numbers.Number, list, tuple)) for x in inputs]
    dtype = np.result_type(*[x if plain else as_array(x) for x, plain in zip(inputs, python)])
    sides = []
    for index, (x, plain) in enumerate(zip(inputs, python)):
        if plain:
            sides.append(g.scalar(x, dtype, "bound"))
        elif as_array(x).dtype != dtype:
            sides.append(g.node("Cast", [g.input(op, index)], to=g.helper.np_dtype_to_tensor_dtype(dtype)))
        else:
            sides.append(g.input(op, index))
    result = g.node(LOGIC[ufunc], sides)
    return g.node("Not", [result]) if ufunc == "not_equal" else result


@converts(ops.Where)
def where(g, op):
    return g.node("Where", [g.option(op, "condition"), g.input(op, 0), g.input(op, 1)])


# -- reductions ------------------------------------------------------------------------------------

REDUCTIONS = {ops.Sum: "ReduceSum", ops.Max: "ReduceMax", ops.Min: "ReduceMin", ops.Prod: "ReduceProd",
              ops.LogSumExp: "ReduceLogSumExp"}


@converts(*REDUCTIONS)
def reduction(g, op):
    return g.reduce(REDUCTIONS[type(op.fn)], g.input(op, 0), op.options.get("axis"), op.options.get("keepdims", False))


@converts(ops.Norm)
def norm(g, op):
    x, p = g.input(op, 0), op.options.get("p", 2)
    axis, keepdims = op.options.get("axis"), op.options.get("keepdims", False)
    if p in (1, 2):
        return g.reduce(f"ReduceL{int(p)}", x, axis, keepdims)
    powers = g.node("Pow", [g.node("Abs", [x]), g.scalar(p, _dtype(op), "p")])
    return g.node("Pow", [g.reduce("ReduceSum", powers, axis, keepdims), g.scalar(1 / p, _dtype(op), "one_over_p")])


@converts(ops.CumSum)
def cumsum(g, op):
    return g.node("CumSum", [g.input(op, 0), g.scalar(op.options["axis"], np.int64, "axis")])


@converts(ops.Softmax, ops.LogSoftmax)
def softmax(g, op):
    return g.node(type(op.fn).__name__, [g.input(op, 0)], axis=int(op.options.get("axis", -1)))


@converts(ops.MaxWithIndices, ops.MinWithIndices)
def extreme_with_index(g, op):
    x, axis, keepdims = g.input(op, 0), int(op.options["axis"]), op.options.get("keepdims", False)
    largest = type(op.fn) is ops.MaxWithIndices
    values = g.reduce("ReduceMax" if largest else "ReduceMin", x, axis, keepdims)
    # ArgMax picks the first of equal values, as NumPy does
    return values, g.node("ArgMax" if largest else "ArgMin", [x], axis=axis, keepdims=int(keepdims))


@converts(ops.TopK)
def topk(g, op):
    o = op.options
    return g.node("TopK", [g.input(op, 0), g.ints([o["k"]], "k")], outputs=2, axis=int(o.get("axis", -1)),
                  largest=int(o.get("largest", True)), sorted=1)


# -- products ---------------------------------------------------------------------------------------


@converts(ops.Linear)
def linear(g, op):
    """x W^T + b: Gemm for a matrix of rows; MatMul and Add for more axes (Gemm takes 2-D only)."""
    x, weight, *bias = g.inputs(op)
    if len(_shape(op)) == 2:
        return g.node("Gemm", [x, weight, *bias], transB=1)
    out = g.node("MatMul", [x, g.node("Transpose", [weight], perm=[1, 0])])
    return g.node("Add", [out, *bias]) if bias else out


@converts(ops.Einsum)
def einsum(g, op):
    return g.node("Einsum", g.inputs(op), equation=op.options["equation"].replace(" ", ""))


# -- movement ----------------------------------------------------------------------------------------


@converts(ops.Reshape, sizes=("shape",))
def reshape(g, op):
    shape = list(op.options["shape"])
    other = list(op.other.options["shape"]) if op.other is not None else shape
    before, other_before = _shape(op), (as_array(op.other.inputs[0]).shape if op.other is not None else _shape(op))
    # a size that follows the batch where the input has it too: 0, ONNX's "as the input's axis"
    for i, (v, w) in enumerate(zip(shape, other)):
        if v != w and i < len(before) and (before[i], other_before[i]) == (v, w):
            shape[i] = other[i] = 0
    if shape == other == [0, -1]:
        return g.node("Flatten", [g.input(op, 0)], axis=1)
    return g.node("Reshape", [g.input(op, 0), g.sizes(shape, other)])


@converts(ops.Transpose)
def transpose(g, op):
    return g.node("Transpose", [g.input(op, 0)], perm=[int(a) % len(_shape(op)) for a in op.options["axes"]])


@converts(ops.Expand, sizes=("shape",))
def expand(g, op):
    other = op.other.options["shape"] if op.other is not None else op.options["shape"]
    return g.node("Expand", [g.input(op, 0), g.sizes(op.options["shape"], other)])


@converts(ops.Repeat)
def repeat(g, op):
    x, repeats, ndim = g.input(op, 0), op.options["repeats"], len(_shape(op))
    if len(repeats) > ndim:  # extra repeats add leading axes
        x = g.unsqueeze(x, list(range(len(repeats) - ndim)))
    return g.node("Tile", [x, g.ints(repeats, "repeats")])


@converts(ops.Concatenate)
def concatenate(g, op):
    return g.node("Concat", g.inputs(op), axis=int(op.options.get("axis", 0)))


@converts(ops.Split)
def split(g, op):
    sizes, axis = op.options["sizes"], int(op.options.get("axis", 0))
    if len(sizes) == 1:
        return [g.node("Identity", [g.input(op, 0)])]
    return g.node("Split", [g.input(op, 0), g.ints(sizes, "split")], outputs=len(sizes), axis=axis)


@converts(ops.Unbind)
def unbind(g, op):
    axis = int(op.options.get("axis", 0)) % len(_shape(op))
    count = _shape(op)[axis]
    pieces = [g.input(op, 0)] if count == 1 else g.node("Split", [g.input(op, 0), g.ints([1] * count, "split")],
                                                         outputs=count, axis=axis)
    return [g.squeeze(piece, [axis]) for piece in pieces]


@converts(ops.Gather)
def gather(g, op):
    return g.node("GatherElements", [g.input(op, 0), g.option(op, "index")], axis=int(op.options["axis"]))


@converts(ops.Embedding)
def embedding(g, op):
    return g.node("Gather", [g.input(op, 0), g.option(op, "indices")], axis=0)


@converts(ops.GetItem)
def get_item(g, op):
    """Basic indexing: the slices in one Slice, each int a Gather that drops its axis, each
    None an Unsqueeze; one index array (``x[:, ids]``) a Gather along its axis, and index
    arrays on the first axes (``x[rows, columns]``) a GatherND."""
    shape, index = _shape(op), _as_tuple(op.options["index"])
    other = _as_tuple(op.other.options["index"]) if op.other is not None else index
    arrays = [k for k, item in enumerate(index) if isinstance(item, (np.ndarray, list))]
    integer = all(np.asarray(index[k]).dtype.kind in "iu" for k in arrays)
    if len(arrays) > 1 and integer and arrays == list(range(len(arrays))) and all(
            isinstance(item, slice) for item in index[len(arrays):]):
        return _pick(g, op, index, other, len(arrays))
    if arrays and (len(arrays) > 1 or not integer
                   or any(item is None or isinstance(item, (int, np.integer)) for item in index)):
        g.fail("indexing with a boolean mask, with index arrays apart or after other indices, or with an index "
               "array beside ints or None has no ONNX translation here; help: index with slices and ints, one "
               "integer array, or integer arrays on the first axes")
    slices, ints, nones, gather = [], [], [], None
    axis = position = 0  # the input's axis, the output's axis
    for k, item in _expand_ellipsis(index, len(shape)):
        if item is None:
            nones.append(position)
            position += 1
            continue
        if isinstance(item, slice):
            if item != slice(None):
                slices.append((axis, item))
            position += 1
        elif k in arrays:
            gather = (axis, g.value(np.asarray(item), np.asarray(other[k]), "index"))
            position += 1
        else:
            ints.append((axis, int(item)))
        axis += 1
    return _index(g, g.input(op, 0), slices, ints, nones, gather)


def _pick(g, op, index, other, count):
    """``x[a_0, ..., a_k-1, slices]``: the index arrays, broadcast together, pick elements
    of the first k axes (the rest sliced first): ONNX's GatherND of the stacked indices."""
    x = g.input(op, 0)
    slices = [(axis, item) for axis, item in enumerate(index) if axis >= count and item != slice(None)]
    if slices:
        x = _index(g, x, slices, [], [], None)
    arrays = [g.value(np.asarray(index[k]), np.asarray(other[k]), "index") for k in range(count)]
    together = arrays[0]
    for array in arrays[1:]:
        together = g.node("Add", [together, array])  # just for its broadcast shape
    shape = g.node("Shape", [together])
    columns = [g.unsqueeze(g.node("Expand", [array, shape]), [-1]) for array in arrays]
    return g.node("GatherND", [x, g.node("Concat", columns, axis=-1)])


def _as_tuple(index):
    return index if isinstance(index, tuple) else (index,)


def _expand_ellipsis(index, ndim):
    """(position in ``index``, item) with ``...`` replaced by as many full slices as it stands for."""
    given = sum(1 for item in index if item is not None and item is not Ellipsis)
    for k, item in enumerate(index):
        if item is Ellipsis:
            yield from ((k, slice(None)) for _ in range(ndim - given))
        else:
            yield k, item


def _index(g, x, slices, ints, nones, gather):
    big = 2**63 - 1  # "to the end" for ONNX's Slice, which clamps like Python
    if slices:
        starts = [(0 if (s.step or 1) > 0 else big) if s.start is None else s.start for _, s in slices]
        ends = [(big if (s.step or 1) > 0 else -big - 1) if s.stop is None else s.stop for _, s in slices]
        x = g.node("Slice", [x, g.ints(starts, "starts"), g.ints(ends, "ends"), g.ints([a for a, _ in slices], "axes"),
                             g.ints([s.step or 1 for _, s in slices], "steps")])
    if gather is not None:
        x = g.node("Gather", [x, gather[1]], axis=gather[0])
    for axis, value in reversed(ints):  # from the last axis, so that the earlier ones keep their numbers
        x = g.node("Gather", [x, g.scalar(value, np.int64, "index")], axis=axis)
    if nones:
        x = g.unsqueeze(x, nones)
    return x if slices or ints or nones or gather else g.node("Identity", [x])


# -- convolution and pooling -------------------------------------------------------------------------


@converts(ops.Conv2d)
def conv2d(g, op):
    o = op.options
    (top, bottom), (left, right) = o.get("padding", ((0, 0), (0, 0)))
    return g.node("Conv", g.inputs(op), kernel_shape=list(_shape(op, 1)[2:]), strides=list(o.get("stride", (1, 1))),
                  pads=[top, left, bottom, right], dilations=list(o.get("dilation", (1, 1))),
                  group=int(o.get("groups", 1)))


@converts(ops.ConvTranspose2d)
def conv_transpose2d(g, op):
    # glassnet takes PyTorch's output_padding off the bottom and right padding (which may
    # then be negative); ONNX keeps the two apart, each non-negative
    o = op.options
    (top, bottom), (left, right) = o.get("padding", ((0, 0), (0, 0)))
    return g.node("ConvTranspose", g.inputs(op), kernel_shape=list(_shape(op, 1)[2:]),
                  strides=list(o.get("stride", (1, 1))), dilations=list(o.get("dilation", (1, 1))),
                  group=int(o.get("groups", 1)), pads=[top, left, max(bottom, 0), max(right, 0)],
                  output_padding=[max(-bottom, 0), max(-right, 0)])


def _pool_pads(op):
    """[top, left, bottom, right]: glassnet's pooling pads the bottom and right as far as its
    windows reach (ceil_mode's last window may hang over the edge); ONNX wants that explicit."""
    o = op.options
    after = [max((out - 1) * s + d * (k - 1) + 1 - size - p, 0)
             for size, k, s, p, d, out in zip(_shape(op)[2:], o["kernel_size"], o["stride"], o["padding"],
                                              o["dilation"], o["out_size"])]
    return [int(p) for p in (*o["padding"], *after)]


@converts(ops.MaxPool2d)
def max_pool2d(g, op):
    o = op.options
    return g.node("MaxPool", [g.input(op, 0)], kernel_shape=list(o["kernel_size"]), strides=list(o["stride"]),
                  pads=_pool_pads(op), dilations=list(o["dilation"]))


@converts(ops.AvgPool2d)
def avg_pool2d(g, op):
    o = op.options
    if any(d != 1 for d in o["dilation"]):
        g.fail("average pooling with dilation has no ONNX AveragePool before opset 19")
    area = math.prod(o["kernel_size"])
    out = g.node("AveragePool", [g.input(op, 0)], kernel_shape=list(o["kernel_size"]), strides=list(o["stride"]),
                 pads=_pool_pads(op), count_include_pad=1)  # every window sum / its area
    divisor = np.asarray(o["divisor"])
    if divisor.ndim == 0 and divisor == area:
        return out
    # PyTorch's divisor is another (padding left out, or divisor_override): rescale
    return g.node("Mul", [out, g.initializer((area / divisor).astype(_dtype(op)), g._here("rescale"))])


@converts(ops.AdaptiveAvgPool2d)
def adaptive_avg_pool2d(g, op):
    if tuple(op.options["out_size"]) == (1, 1):
        return g.node("GlobalAveragePool", [g.input(op, 0)])
    # the op's own averaging matrices: out = rows @ x @ cols^T, for the input size recorded
    rows = g.initializer(op.fn.rows, g._here("rows"))
    cols = g.initializer(op.fn.cols.T, g._here("columns"))
    return g.node("MatMul", [g.node("MatMul", [rows, g.input(op, 0)]), cols])


# -- normalization -----------------------------------------------------------------------------------


@converts(ops.BatchNorm)
def batch_norm(g, op):
    o, channels, dtype = op.options, _shape(op)[1], _dtype(op)
    if o.get("training", True) or o.get("running_mean") is None:
        g.fail("batch normalization with the batch's own statistics (training mode or track_running_stats=False) "
               "has no ONNX translation here; help: export a model in eval mode that keeps running statistics")
    x, *affine = g.inputs(op)
    weight, bias = affine or [g.initializer(np.ones(channels, dtype), g._here("weight")),
                              g.initializer(np.zeros(channels, dtype), g._here("bias"))]
    return g.node("BatchNormalization", [x, weight, bias, g.option(op, "running_mean"), g.option(op, "running_var")],
                  epsilon=float(o.get("eps", 1e-5)))


@converts(ops.LayerNorm)
def layer_norm(g, op):
    o, count = op.options, op.options["normalized_ndim"]
    x, *affine = g.inputs(op)
    if o["has_weight"]:
        weight = affine[0]
    else:  # ONNX's scale is not optional
        weight = g.initializer(np.ones(_shape(op)[-count:], _dtype(op)), g._here("weight"))
    bias = affine[-1:] if o["has_bias"] else []
    return g.node("LayerNormalization", [x, weight, *bias], axis=-count, epsilon=float(o["eps"]))


# -- attention ----------------------------------------------------------------------------------------


@converts(ops.Attention)
def attention(g, op):
    """softmax(q k^T * scale + mask) v from MatMul, Softmax and Add; a query the mask
    blocks from every key gets zero weights, as in glassnet (ONNX's Softmax gives NaN)."""
    o, dtype, ndim = op.options, _dtype(op), len(_shape(op, 1))
    if o.get("dropout_p", 0.0) > 0:
        g.fail("dropout on the attention weights runs only in training; help: call model.eval() before exporting")
    query, key, value = (g.input(op, i) for i in range(3))
    keys_t = g.node("Transpose", [key], perm=[*range(ndim - 2), ndim - 1, ndim - 2])
    scores = g.node("MatMul", [g.node("Mul", [query, g.scalar(o.get("scale", 1.0), dtype, "scale")]), keys_t])
    mask = o.get("mask")
    if mask is not None:
        scores = g.node("Add", [scores, g.option(op, "mask")])
    weights = g.node("Softmax", [scores], axis=-1)
    if mask is not None and (g.name(mask) is not None or np.isneginf(as_array(mask)).all(axis=-1).any()):
        weights = g.node("Where", [g.node("IsNaN", [weights]), g.scalar(0, dtype, "zero"), weights])
    return g.node("MatMul", [weights, value])


# -- recurrent layers ---------------------------------------------------------------------------------
# ONNX orders the gates of LSTM i, o, f, c and of GRU z, r, h, where glassnet (as PyTorch)
# has i, f, g, o and r, z, n: the blocks of rows of every weight and bias are reordered.
# Its B is the input and hidden biases concatenated; W, R, B and the states have a leading
# direction axis, and Y is (steps, directions, batch, hidden).


@converts(ops.RNN)
def rnn(g, op):
    activation = "Relu" if op.options.get("nonlinearity", "tanh") == "relu" else "Tanh"
    return _recurrent(g, op, "RNN", [0], states=1, activations=[activation])[0]


@converts(ops.LSTM)
def lstm(g, op):
    output, final_c = _recurrent(g, op, "LSTM", [0, 3, 1, 2], states=2)
    return output, final_c


@converts(ops.GRU)
def gru(g, op):
    # linear_before_reset: r multiplies (h W_hn^T + b_hn), as in glassnet and PyTorch
    return _recurrent(g, op, "GRU", [1, 0, 2], states=1, linear_before_reset=1)[0]


def _recurrent(g, op, onnx_op, order, states, **attributes):
    """The ONNX node of one layer in one direction; returns (outputs (L, N, H), final cell state or None)."""
    first = 1 + states  # x, the states, then weight_ih, weight_hh, bias_ih, bias_hh
    hidden = _shape(op, first + 1)[1]
    rows = g.ints(np.concatenate([np.arange(k * hidden, (k + 1) * hidden) for k in order]), "gate_order")

    def gates(index):  # a weight or bias with its gate blocks in ONNX's order
        return g.node("Gather", [g.input(op, index), rows], axis=0) if len(order) > 1 else g.input(op, index)

    weight_ih, weight_hh = g.unsqueeze(gates(first), [0]), g.unsqueeze(gates(first + 1), [0])
    bias = ""
    if len(op.inputs) > first + 2 and op.inputs[first + 2] is not None:
        bias = g.unsqueeze(g.node("Concat", [gates(first + 2), gates(first + 3)], axis=0), [0])
    initial = [_initial_state(g, op, k) for k in range(1, first)]
    direction = "reverse" if op.options.get("reverse", False) else "forward"
    outputs = g.node(onnx_op, [g.input(op, 0), weight_ih, weight_hh, bias, "", *initial], outputs=1 + states,
                     hidden_size=int(hidden), direction=direction, **attributes)
    final_c = g.squeeze(outputs[2], [0]) if states == 2 else None
    return g.squeeze(outputs[0], [1]), final_c


def _initial_state(g, op, index):
    """A state (N, H) as ONNX's (1, N, H); left out ("", zeros) when it is the layers' zeros."""
    state = op.inputs[index]
    if g.name(state) is None and not as_array(state).any():
        return ""
    return g.unsqueeze(g.input(op, index), [0])
