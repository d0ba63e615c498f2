"""The differentiable operations: every ``Function`` of glassnet, each a forward and its
local backward side by side.

Every backward receives ``grad``, the gradient of the final output with respect to this
op's output, and returns the gradient with respect to each input (the chain rule, one
link at a time). Ops with broadcasting inputs send gradients through ``unbroadcast``.

Where each op lives:

===============  =======================================================================
``elementwise``  Add, Sub, Mul, Div, Pow, PowScalar, Maximum, Minimum, Neg, Cast, Exp, Log,
                 Log1p, Sqrt, Rsqrt, Abs, Sin, Cos, Erf, Clip, ReLU, LeakyReLU, Sigmoid, Tanh,
                 GELU (and ``gelu_reference``, the formula from Erf), Step (Sign, Floor,
                 Ceil, Round, Trunc: zero gradient), Where (and ``where``)
``reduce``       Sum, Max, Min, Prod, Norm, LogSumExp, CumSum, Softmax, LogSoftmax; Selection
                 (values with their indices as a second output): MaxWithIndices,
                 MinWithIndices, Sort, TopK
``movement``     Reshape, Transpose, GetItem, SetItem, Clone, Expand, Repeat, Contiguous,
                 Split, Unbind, Gather, Concatenate (and ``concatenate``, ``stack``)
``matmul``       MatMul, Linear, Einsum (and ``linear_reference``)
``conv``         Conv2d (and ``im2col``, ``col2im``, the unfolding it multiplies, or with
                 numba the direct kernels that never unfold, and Winograd's for 3x3;
                 ``conv2d_reference``, a loop over kernel offsets, and
                 ``conv2d_winograd_reference``), ConvTranspose2d (its
                 gradient as a forward, and ``conv_transpose2d_reference``)
``pool``         MaxPool2d (and ``max_pool2d_reference``, a running maximum of tensors),
                 AvgPool2d, AdaptiveAvgPool2d
``norm``         BatchNorm, LayerNorm (and ``batch_norm_reference``, ``layer_norm_reference``)
``embedding``    Embedding
``loss``         CrossEntropy, NLLLoss, BCEWithLogits (and ``cross_entropy_reference``)
``attention``    Attention (and ``attention_reference``, the same from tensor ops)
``recurrent``    RNN, LSTM, GRU: one layer, one direction, a whole sequence each (and
                 ``rnn_reference``, ``lstm_reference``, ``gru_reference``, loops over time)
===============  =======================================================================

Naming: an op class is named for what it computes, in CamelCase with no suffix (``Add``,
``MatMul``, ``Conv2d``, ``LSTM``). The op behind a layer shares the layer's name:
``ops.Conv2d`` is the differentiable convolution, ``nn.Conv2d`` the layer that owns its
weights. Code outside ``ops`` always writes the prefix (``from .. import ops``, then
``ops.Conv2d.apply(...)``) and never imports op classes bare, so the two never meet in
one namespace.

The ops are the lowest layer above ``tensor``: they import nothing from ``glassnet.nn``.
Argument checks and PyTorch's signatures are in ``glassnet.nn.functional``, whose
functions check, then call ``ops.X.apply``; ``Tensor``'s methods call the ops directly.
"""
from .attention import Attention, attention_reference
from .conv import Conv2d, ConvTranspose2d, conv2d_reference, conv2d_winograd_reference, conv_transpose2d_reference
from .elementwise import (
    GELU, Abs, Add, Cast, Ceil, Clip, Cos, Div, Erf, Exp, Floor, LeakyReLU, Log, Log1p, Logic, Maximum, Minimum, Mul,
    Neg, Pow, PowScalar, ReLU, Round, Rsqrt, Sigmoid, Sign, Sin, Sqrt, Step, Sub, Tanh, Trunc, Where, gelu_reference,
    where,
)
from .embedding import Embedding
from .loss import BCEWithLogits, CrossEntropy, NLLLoss, cross_entropy_reference
from .matmul import Einsum, Linear, MatMul, linear_reference
from .movement import (
    Clone, Concatenate, Contiguous, Expand, Gather, GetItem, Repeat, Reshape, SetItem, Split, Transpose, Unbind,
    concatenate, stack,
)
from .norm import BatchNorm, LayerNorm, batch_norm_reference, layer_norm_reference
from .pool import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d, max_pool2d_reference
from .recurrent import GRU, LSTM, RNN, gru_reference, lstm_reference, rnn_reference
from .reduce import (
    CumSum, LogSoftmax, LogSumExp, Max, MaxWithIndices, Min, MinWithIndices, Norm, Prod, Selection, Softmax, Sort, Sum,
    TopK, stable_argsort,
)

__all__ = [
    # elementwise
    "Add", "Sub", "Mul", "Div", "Pow", "PowScalar", "Maximum", "Minimum", "Neg", "Cast", "Exp", "Log", "Log1p",
    "Sqrt", "Rsqrt", "Abs", "Sin", "Cos", "Erf", "Clip", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU",
    "gelu_reference", "Step", "Sign", "Floor", "Ceil", "Round", "Trunc", "Logic", "Where", "where",
    # reduce
    "Sum", "Max", "Min", "Prod", "Norm", "LogSumExp", "CumSum", "Softmax", "LogSoftmax",
    "Selection", "MaxWithIndices", "MinWithIndices", "Sort", "TopK", "stable_argsort",
    # movement
    "Reshape", "Transpose", "GetItem", "SetItem", "Clone", "Expand", "Repeat", "Contiguous", "Split", "Unbind",
    "Gather", "Concatenate", "concatenate", "stack",
    # matmul, conv, pool, norm, embedding
    "MatMul", "Linear", "Conv2d", "conv2d_reference", "conv2d_winograd_reference", "ConvTranspose2d",
    "conv_transpose2d_reference", "MaxPool2d", "max_pool2d_reference", "AvgPool2d", "AdaptiveAvgPool2d",
    "BatchNorm", "LayerNorm", "Embedding",
    # loss, attention, recurrent
    "CrossEntropy", "NLLLoss", "BCEWithLogits", "Attention", "attention_reference", "RNN", "LSTM", "GRU",
    # the readable references beside fused ops
    "linear_reference", "batch_norm_reference", "layer_norm_reference", "cross_entropy_reference",
    "rnn_reference", "lstm_reference", "gru_reference",
]
