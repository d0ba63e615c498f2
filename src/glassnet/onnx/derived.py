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
    return [(compute(first, pad), compute(second, pad), _builder(build, pad, first.shape[1]))
            for compute, build in VALUES]


def _builder(build, pad, length):
    def add_nodes(g):
        ids = g.graph_inputs[0]
        return build(g, _Text(g, ids, pad, length))
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

    def __init__(self, g, ids, pad, length):
        self.g, self.ids, self.pad, self.length = g, ids, pad, length
        key = ("text", ids)
        if key not in g.shared:
            g.shared[key] = self._pieces()
        self.lengths, self.real, self.steps = g.shared[key]

    def _pieces(self):
        g = self.g
        tokens = g.node("Not", [g.node("Equal", [self.ids, g.scalar(self.pad, np.int64, "padding_idx")])])
        count = g.reduce("ReduceSum", g.node("Cast", [tokens], to=g.helper.np_dtype_to_tensor_dtype(np.dtype("int64"))),
                         1, keepdims=False)
        lengths = g.node("Max", [count, g.scalar(1, np.int64, "one")])
        steps = g.initializer(np.arange(self.length, dtype=np.int64)[None, :], "steps")
        real = g.node("Less", [steps, g.unsqueeze(lengths, [1])])
        return lengths, real, steps


def _float(g, x):
    return g.node("Cast", [x], to=g.helper.np_dtype_to_tensor_dtype(np.dtype("float32")))


def _rows(g):
    batch = g.squeeze(g.batch(), [0])
    return g.node("Range", [g.scalar(0, np.int64, "start"), batch, g.scalar(1, np.int64, "step")])


VALUES = [
    (lambda ids, pad: np.arange(len(ids)), lambda g, t: _rows(g)),
    (lambda ids, pad: np.arange(len(ids))[:, None], lambda g, t: g.unsqueeze(_rows(g), [1])),
    (lambda ids, pad: _lengths(ids, pad) - 1, lambda g, t: g.node("Sub", [t.lengths, g.scalar(1, np.int64, "one")])),
    (_key_padding_mask, lambda g, t: g.unsqueeze(
        g.node("Where", [t.real, g.scalar(0, np.float32, "zero"), g.scalar(-np.inf, np.float32, "minus_inf")]), [1, 2])),
    (_mean_weights, lambda g, t: g.unsqueeze(
        g.node("Div", [_float(g, t.real), _float(g, g.unsqueeze(t.lengths, [1]))]), [2])),
    (_reversed_order, lambda g, t: g.node("Where", [t.real, g.node(
        "Sub", [g.node("Sub", [g.unsqueeze(t.lengths, [1]), g.scalar(1, np.int64, "one")]), t.steps]), t.steps])),
]
