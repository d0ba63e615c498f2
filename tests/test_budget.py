"""A line budget, as tinygrad's CI keeps one: the engine stays small enough to read in an
afternoon, and no op hides its idea in a long function.

Lines are counted as *code lines*: not blank, not only a comment, not a docstring.

- The engine (``tensor.py`` and ``ops/``, the readable references excluded) stays under
  ENGINE_BUDGET code lines.
- No op's ``forward`` or ``backward`` is longer than OP_BUDGET code lines.
- Each readable reference is at most REFERENCE_BUDGET code lines: it is meant to be read.
"""
import ast
import io
import tokenize
from pathlib import Path

import pytest

from glassnet import ops
from glassnet.tensor import Function

SOURCE = Path(ops.__file__).resolve().parents[1]
ENGINE = [SOURCE / "tensor.py", *sorted((SOURCE / "ops").glob("*.py"))]
# 2500 until issue 11's compiled kernels: each fused op that has one (GELU, sigmoid, tanh,
# softmax, layer norm, the LSTM and GRU steps) now keeps its NumPy passes as a named twin
# of the kernel beside a line that chooses between them, about a hundred lines in all;
# 2600 until the direct convolution and the compiled max pooling, which kept im2col and
# the offset walk as their NumPy versions beside the calls into the kernels (about 60);
# 2650 until the cross-entropy kernel for class indices, beside the NumPy lines that stay
# the general case (weights, smoothing, probabilities, 'none'): about 20; the
# convolution whose windows tile the image (a patch embedding) as one product: about 25;
# and global average pooling as a mean, beside the adaptive windows' products: 7;
# 2710 until the attention core computed its scores in blocks, so that the quarter a
# causal mask hides is never computed (the blocks, and products that add up over them): 20;
# 2730 until the LSTM's and GRU's loops over time ran compiled, one call per thread
# without the GIL, beside the Python loops that stay (a choice and a call per loop): 14;
# 2744 until the Elman RNN's loops did the same, on the threads, as the LSTM's do: 12;
# 2756 until the direct convolution's sums started from the bias (no pass of its own): 1;
# 2757 until the attention core took compiled kernels, one head at a time, for long rows
# a mask hides a quarter of (a causal gpt's), beside its NumPy blocks: the choice, the
# groups' widths from the mask, the calls forward and backward: 29;
# q, k and v's gradients then came back in one buffer, which Unbind takes back without a
# copy (+4), and tensor.py's walk to a view's owner moved to backend.memory_owner, which
# that buffer's check shares (-4);
# 2786 until Linear's products of a gpt's size ran compiled, the bias in their sums, beside
# NumPy's product and bias pass that stay for the rest (the choice and the calls): 10;
# 2796 until the 3x3 convolutions at stride 1 went by Winograd's F(2x2, 3x3) beside the
# direct kernel (the choice, the padding and the calls, and the three transforms' matrices
# that the reference reads): 21;
# 2817 until the pool's jobs (glassnet.threads): the element-wise ops name their compiled
# kernel's job (+2), and the attention at inference takes rows of a few keys to a kernel
# with sixteen queries in the lanes, in blocks on the pool (the choice, the widths without
# a mask, the call: 15); layer norm's forward and Linear's bias pass as the pool's jobs
# of rows beside their blocks on the executor (the choice and the call: 7); the LSTM's
# loops over time as the pool's jobs, beside their blocks on the executor (3);
# 2844 until Linear's compiled products ran as the pool's jobs of rows from a vit's size
# on, beside their blocks on the executor from a gpt's (the threshold, the choice, the call: 8);
# 2852 until the convolutions' kernels ran as the pool's jobs beside their blocks on the
# executor (the choice and the call, once for the three kernels, and their arguments: 10);
# 2862 until batch norm's forward and backward ran as the pool's jobs of channels beside
# their blocks on the executor (the choice and the calls with their arguments: 10);
# 2872 until the GRU's backward turned x's gate gradients into h's in place, not keeping
# both (3); the recurrences' backward (RNN, LSTM, GRU) took x's and the weights' gradients
# inside the compiled loops, each block of rows its own sums, added after (the helper and
# the three calls: 11, less 2 where the loops in Python now call NumPy's cells); and
# Linear's forward of few rows ran as the pool's jobs of the output's columns (the
# thresholds, the choice, the call: 8);
# 2892 until large sums (Add's forward, a gradient's sum) ran on all threads, and a
# gradient was summed in place where the engine alone refers to it, as PyTorch's autograd
# does (the reference count's check, the choice and the calls: 13);
# 2905 until comparisons and bitwise logic became an op (ops.Logic) the ONNX export
# records, so that a graph computes a mask from its input rather than freezing the
# example's (a softplus's threshold, which both recordings might not cross): 4
# 2909 until the 3x3 convolutions took Winograd's F(4x4, 3x3) where its blocks waste no
# more than F(2x2, 3x3)'s (the choice, its kernels by name, and the reference's matrices,
# module-level constants the reference's budget does not count: 10), and im2col read an
# unpadded input as it lies, not through a padded copy (3)
# 2922 until a tiled convolution's tiles (a vision transformer's patches) were made
# compiled, in blocks of images on the pool, and multiplied as a Linear layer's rows (the
# choice, the call and its arrays: 9), and layer norm copied rows that are a strided view
# (the class tokens) into rows of their own for its kernels (2); the attention at
# inference on rows of a few keys no longer builds widths (-4)
ENGINE_BUDGET = 2929
OP_BUDGET = 25
REFERENCE_BUDGET = 18


def code_lines(source):
    """The numbers of the lines of ``source`` that hold code."""
    tree = ast.parse(source)
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and ast.get_docstring(node) is not None:
            first = node.body[0]
            docstrings.update(range(first.lineno, first.end_lineno + 1))
    lines = set()
    skip = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skip:
            lines.update(range(token.start[0], token.end[0] + 1))
    return lines - docstrings


def _functions(path):
    """(qualified name, node) of every function in a file, methods as Class.method."""
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    yield f"{node.name}.{item.name}", item


def _reference_names():
    """The functions that fused ops name as their readable reference."""
    names = set()
    for op in vars(ops).values():
        if isinstance(op, type) and issubclass(op, Function) and op.reference is not None:
            names.add(op.reference.__name__)
    return names | {name for name in dir(ops) if name.endswith("_reference")}


def _lines_of(path, node):
    return {n for n in code_lines(path.read_text()) if node.lineno <= n <= node.end_lineno}


def test_the_engine_stays_within_its_line_budget():
    references = _reference_names()
    total = 0
    for path in ENGINE:
        lines = code_lines(path.read_text())
        for name, node in _functions(path):
            if name in references:
                lines -= _lines_of(path, node)
        total += len(lines)
    assert total <= ENGINE_BUDGET, (
        f"the engine (tensor.py and ops/, references excluded) has {total} code lines, over its budget of "
        f"{ENGINE_BUDGET}: compose new ops from existing ones, or raise the budget with a reason")


OPS = [(path, name, node) for path in ENGINE for name, node in _functions(path)
       if name.endswith((".forward", ".backward"))]


@pytest.mark.parametrize("path, name, node", OPS, ids=[f"{p.stem}.{n}" for p, n, _ in OPS])
def test_no_forward_or_backward_is_longer_than_the_op_budget(path, name, node):
    count = len(_lines_of(path, node))
    assert count <= OP_BUDGET, f"{path.name}: {name} has {count} code lines (budget {OP_BUDGET}): split out a helper"


def test_every_reference_is_short_enough_to_read():
    found = set()
    references = _reference_names()
    for path in ENGINE:
        for name, node in _functions(path):
            if name in references:
                found.add(name)
                count = len(_lines_of(path, node))
                assert count <= REFERENCE_BUDGET, f"{path.name}: {name} has {count} code lines (budget {REFERENCE_BUDGET})"
    assert found == references  # every reference lives beside its kernel, in the engine's files
