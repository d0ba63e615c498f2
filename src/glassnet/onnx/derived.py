"""What the text classifiers compute from their token ids with NumPy, and the ONNX nodes
that compute the same.

:mod:`glassnet.models.text` finds each text's length (its ids before the padding) with
NumPy, and from it the masks that skip the padding: the attention's key padding mask, the
weights of the mean over the real tokens, the index of the last real token. The record of
the forward pass sees only the arrays that result, as constants. For these models the
export knows how they are made: each value below is computed here from the ids of both
recordings; a constant of the record that equals one of them in both is written as the
nodes that compute it from the graph's input. (A value made otherwise stays an error: a
mismatch can only refuse the export, never write a wrong graph.)
"""
import numpy as np

from ..models.text import RecurrentTextClassifier, TransformerTextClassifier


def derived_values(model, first, second):
    """``[(value for the first recording's ids, for the second's, build)]`` for a text
    classifier (else none); ``build(g)`` adds the nodes and returns the value's name."""
    if not isinstance(model, (RecurrentTextClassifier, TransformerTextClassifier)):
        return []
    pad = model.padding_idx
    first, second = first.numpy(), second.numpy()
    return [(compute(first, pad), compute(second, pad), _builder(build, pad, first)) for compute, build in VALUES]


def _builder(build, pad, ids):
    def add_nodes(g):
        return build(g, _Text(g, g.graph_inputs[0], pad, ids.dtype, ids.shape[1]))
    return add_nodes


# -- the values, with NumPy ------------------------------------------------------------------------------


def _lengths(ids, pad):
    return np.maximum((ids != pad).sum(axis=1), 1)  # as glassnet.models.text._lengths


def _real(ids, pad):
    return np.arange(ids.shape[1])[None, :] < _lengths(ids, pad)[:, None]


def _key_padding_mask(ids, pad):  # what MultiheadAttention makes of the padding: -inf there, (N, 1, 1, T)
    return np.where(_real(ids, pad), 0, -np.inf).astype(np.float32).reshape(len(ids), 1, 1, -1)


def _mean_weights(ids, pad):  # 1 / length at the real tokens: (N, T, 1)
    return (_real(ids, pad) / _lengths(ids, pad)[:, None]).astype(np.float32)[:, :, None]


def _reversed_order(ids, pad):  # each text read backwards within its length, the padding in place
    steps, lengths = np.arange(ids.shape[1])[None, :], _lengths(ids, pad)[:, None]
    return np.where(steps < lengths, lengths - 1 - steps, steps)


# -- the same values, as ONNX nodes -----------------------------------------------------------------------


class _Text:
    """The nodes of the shared pieces, each added once: lengths (N,), real (N, T), steps (1, T)."""

    def __init__(self, g, ids, pad, dtype, length):
        self.g, self.ids, self.pad, self.dtype, self.length = g, ids, pad, dtype, length
        key = ("text", ids)
        if key not in g.shared:
            g.shared[key] = self._pieces()
        self.lengths, self.real, self.steps = g.shared[key]

    def _pieces(self):
        g = self.g
        tokens = g.node("Not", [g.node("Equal", [self.ids, g.scalar(self.pad, self.dtype, "padding_idx")])])
        int64 = g.helper.np_dtype_to_tensor_dtype(np.dtype("int64"))
        count = g.reduce("ReduceSum", g.node("Cast", [tokens], to=int64), 1, keepdims=False)
        lengths = g.node("Max", [count, _one(g)])
        steps = g.initializer(np.arange(self.length, dtype=np.int64)[None, :], "steps")
        real = g.node("Less", [steps, g.unsqueeze(lengths, [1])])
        return lengths, real, steps


def _float(g, x):
    return g.node("Cast", [x], to=g.helper.np_dtype_to_tensor_dtype(np.dtype("float32")))


def _one(g):
    return g.scalar(1, np.int64, "one")


def _rows_nodes(g, text):  # 0, 1, ..., N - 1 for the batch at run time
    batch = g.squeeze(g.batch(), [0])
    return g.node("Range", [g.scalar(0, np.int64, "start"), batch, _one(g)])


def _row_column_nodes(g, text):
    return g.unsqueeze(_rows_nodes(g, text), [1])


def _last_index_nodes(g, text):
    return g.node("Sub", [text.lengths, _one(g)])


def _key_padding_mask_nodes(g, text):
    blocked = g.scalar(-np.inf, np.float32, "minus_inf")
    return g.unsqueeze(g.node("Where", [text.real, g.scalar(0, np.float32, "zero"), blocked]), [1, 2])


def _mean_weights_nodes(g, text):
    return g.unsqueeze(g.node("Div", [_float(g, text.real), _float(g, g.unsqueeze(text.lengths, [1]))]), [2])


def _reversed_order_nodes(g, text):
    last = g.node("Sub", [g.unsqueeze(text.lengths, [1]), _one(g)])
    return g.node("Where", [text.real, g.node("Sub", [last, text.steps]), text.steps])


VALUES = [  # (with NumPy from the ids and padding_idx, with ONNX nodes)
    (lambda ids, pad: np.arange(len(ids)), _rows_nodes),
    (lambda ids, pad: np.arange(len(ids))[:, None], _row_column_nodes),
    (lambda ids, pad: _lengths(ids, pad) - 1, _last_index_nodes),
    (_key_padding_mask, _key_padding_mask_nodes),
    (_mean_weights, _mean_weights_nodes),
    (_reversed_order, _reversed_order_nodes),
]
