"""The computation graph: what backpropagation walks, drawn without Graphviz.

Every tensor computed by an op remembers that op (``grad_fn``, a :class:`~glassnet.tensor.Function`),
and the op remembers its inputs (``parents``) and which op made each of them (``sources``).
:func:`graph` follows those links from a tensor, usually the loss, back to the leaves: one
node per op (its name and the shape of its output), one per parameter (named as in
``state_dict`` when ``params`` is given, as torchviz does) and one per input tensor. The
result prints as text (one line per node with its inputs), draws as a matplotlib figure
(:meth:`Graph.figure`) and as SVG (:meth:`Graph.to_svg`, which a web page embeds as it is),
both laid out here: no system program is needed.

>>> import glassnet as gn
>>> w = gn.tensor([1.0, 2.0], requires_grad=True)
>>> g = graph((w * w).sum(), params={"w": w})
>>> print(g)  # doctest: +NORMALIZE_WHITESPACE
computation graph: 2 ops, 1 parameter, 0 inputs; the output is node 2
0  w    (2,)  parameter
1  Mul  (2,)  <- 0 w, 0 w  saves a (2,), b (2,)
2  Sum  ()    <- 1 Mul  [output]

The layout is layered, as Graphviz's ``dot`` lays out a graph: every node in a row just above
the first op that uses it (so a parameter sits beside its layer), the output one row below its
deepest input; an edge that spans several rows passes through invisible waypoints, one per
row; the nodes of a row are ordered by the mean position of their neighbours (a few sweeps
down and up, keeping the order with the fewest crossings), then placed as near those
neighbours as the widths of their boxes allow, the leaves giving way to the ops.
"""
import collections
import dataclasses
import html
import textwrap

import numpy as np

from ..extras import require
from ..nn import Parameter
from ..nn import functional as F
from ..tensor import Tensor, enable_grad
from . import plots
from .layers import as_images, unwrap

MAX_NODES = 120  # ops drawn at most; those nearest the output are kept (see graph)
NAME_LENGTH = 32  # longer parameter names are shortened from the left in the boxes

# the layout, in inches: the figure draws it at this size and the SVG at 96 pixels per inch
CHAR = 0.072  # the width of one character of the 8-point labels
PAD = 0.16  # room around a box's text
HEIGHT = 0.42  # a box, for two lines
ROW = 0.78  # from one row to the next
SEP = 0.18  # between two boxes of a row
WAYPOINT = 0.06  # the width an edge passing through a row takes there
LIGHT = 0.05  # how much a leaf pulls the op it feeds towards itself, against 1 for an op
MARGIN = 0.15
LINE = 0.17  # a line of the caption
PIXELS = 96  # per inch, in the SVG

COLOURS = {"op": "#dce8f5", "output": "#c8e6c1", "parameter": "#fbdcb0", "leaf": "#e8dcf2", "input": "#eeeeee",
           "omitted": "#ffffff"}
EDGE = "#6b6b6b"


@dataclasses.dataclass
class Node:
    """One box of the graph.

    ``kind``: "op"; "parameter" (a leaf that requires grad and is an ``nn.Parameter`` or
    named in ``params``); "leaf" (another tensor that requires grad, e.g. an image whose
    saliency is wanted); "input" (a tensor without grad: the data, the targets); or
    "omitted" (one box standing for the ops beyond the cap). ``shapes`` are an op's output
    shapes (several for an op with several outputs; empty once ``backward`` freed it), a
    leaf's own shape. ``inputs`` are the nodes an op read, one per tensor argument, in
    order. ``saved``: the arrays the op kept for its backward, ``(name, shape)``.
    ``constants``: its arguments that are plain values (a number, a 0-d tensor), as text.
    """

    name: str
    kind: str
    shapes: tuple = ()
    inputs: list = dataclasses.field(default_factory=list)
    dtype: str = "float32"
    saved: list = dataclasses.field(default_factory=list)
    constants: list = dataclasses.field(default_factory=list)
    is_output: bool = False

    @property
    def shape(self):
        """The output shape (the first, for an op with several), or None if it is unknown."""
        return self.shapes[0] if self.shapes else None

    def shape_text(self):
        if not self.shapes:
            return "" if self.kind == "omitted" else "?"
        text = " | ".join(_shape(s) for s in self.shapes)
        return text + ("" if self.dtype == "float32" else f" {self.dtype}")


def _shape(shape):
    return "(" + ", ".join(map(str, shape)) + (",)" if len(shape) == 1 else ")")


# -- the walk ----------------------------------------------------------------------------------


def graph(output, params=None, max_nodes=MAX_NODES):
    """The computation graph behind ``output`` (a tensor, or a list of them): a :class:`Graph`.

    ``params``: ``{name: parameter}``, e.g. ``dict(model.named_parameters())`` (or the model
    itself), to name the parameter nodes. ``max_nodes``: a larger graph keeps only the
    ``max_nodes`` ops nearest the output (where backward starts), and one box stands for
    the earlier ops it leaves out. Draw the graph before ``backward()``: backward frees
    what the ops saved, and their output shapes with it (use ``retain_graph=True`` to keep them).

    >>> import glassnet as gn
    >>> model = gn.nn.Sequential(gn.nn.Linear(4, 3), gn.nn.ReLU())
    >>> g = graph(model(gn.ones(2, 4)).sum(), params=model)
    >>> [node.name for node in g.nodes]
    ['input', '0.weight', '0.bias', 'Linear', 'ReLU', 'Sum']
    """
    if max_nodes < 1:
        raise ValueError(f"max_nodes must be at least 1, got {max_nodes}")
    outputs = list(output) if isinstance(output, (list, tuple)) else [output]
    for t in outputs:
        if not isinstance(t, Tensor):
            raise TypeError(f"graph() takes a tensor (or a list of them), got {type(t).__name__}")
        if t.grad_fn is None and not t.requires_grad:
            raise ValueError(
                f"the tensor of shape {tuple(t.shape)} has no graph: it was computed without gradients "
                "(under no_grad, or from tensors none of which requires grad); help: compute it outside "
                "no_grad, from parameters with requires_grad=True")
    if hasattr(params, "named_parameters"):
        params = dict(params.named_parameters())
    names = {id(p): name for name, p in (params or {}).items()}
    roots = list({id(t.grad_fn): t.grad_fn for t in outputs if t.grad_fn is not None}.values())
    kept, omitted = _last_ops(roots, max_nodes)
    return _Builder(names, kept).build(outputs, omitted)


def _last_ops(roots, count):
    """The ``count`` ops nearest the output, by id in forward order, and how many were left
    out. Near counts the steps of the longest path to the output, so every op between a kept
    one and the output is kept too: the end of the forward pass, where backward starts."""
    order = _forward_order(roots)
    steps = {id(fn): 0 for fn in roots}
    for fn in reversed(order):  # an op's users come before it
        for source in fn.sources:
            if source is not None:
                steps[id(source[0])] = max(steps.get(id(source[0]), 0), steps[id(fn)] + 1)
    nearest = sorted(range(len(order)), key=lambda k: (steps[id(order[k])], -k))[:count]
    return {id(order[k]): order[k] for k in sorted(nearest)}, len(order) - len(nearest)


def _forward_order(roots):
    """Every op behind ``roots``, each after the ops that made its inputs: the walk backward
    makes (tensor.py), depth-first and iterative, so a long chain needs no recursion."""
    order, visited, stack = [], set(), [(fn, False) for fn in roots]
    while stack:
        fn, inputs_done = stack.pop()
        if inputs_done:
            order.append(fn)
        elif id(fn) not in visited:
            visited.add(id(fn))
            stack.append((fn, True))
            stack.extend((source[0], False) for source in fn.sources if source is not None)
    return order


class _Builder:
    """Turns the kept ops into nodes: leaves first met are added just before their op."""

    def __init__(self, names, ops):
        self.names, self.ops = names, ops
        self.nodes, self.index = [], {}  # id(fn or tensor) -> position in nodes

    def build(self, outputs, omitted):
        for fn in self.ops.values():
            inputs = [self.input_of(fn, parent, source)
                      for parent, source in zip(fn.parents, fn.sources)]
            node = Node(type(fn).__name__, "op", tuple(shape for shape, _ in fn.outputs),
                        [i for i in inputs if isinstance(i, int)], _dtype(fn), _saved(fn),
                        [i for i in inputs if isinstance(i, str)])
            self.add(id(fn), node)
        for t in outputs:
            self.nodes[self.index[id(t.grad_fn)] if t.grad_fn is not None else self.leaf(t)].is_output = True
        if "omitted" in self.index:
            self.nodes[self.index["omitted"]].name = f"{omitted} earlier ops"
        return Graph(self.nodes, omitted)

    def add(self, key, node):
        self.index[key] = len(self.nodes)
        self.nodes.append(node)
        return self.index[key]

    def input_of(self, fn, parent, source):
        """The node an argument came from (a position), its text if it is a constant, or None."""
        if source is not None:
            if id(source[0]) in self.ops:
                return self.index[id(source[0])]
            if "omitted" not in self.index:
                self.add("omitted", Node("earlier ops", "omitted"))
            return self.index["omitted"]
        if isinstance(parent, Tensor):
            if not parent.requires_grad and parent.ndim == 0:
                return _constant(parent.numpy())
            return self.leaf(parent)
        return None if parent is None else _constant(parent)

    def leaf(self, t):
        if id(t) in self.index:
            return self.index[id(t)]
        if id(t) in self.names:
            name, kind = self.names[id(t)], "parameter"
        elif t.requires_grad:
            name, kind = ("parameter", "parameter") if isinstance(t, Parameter) else ("leaf", "leaf")
        else:
            name, kind = "input", "input"
        return self.add(id(t), Node(name, kind, (tuple(t.shape),), dtype=str(t.dtype).replace("glassnet.", "")))


def _dtype(fn):
    dtypes = {str(dtype) for _, dtype in fn.outputs}
    return dtypes.pop() if len(dtypes) == 1 else "float32"


def _saved(fn):
    """The arrays ``fn`` keeps for its backward (its own attributes), as ``(name, shape)``."""
    return [(name, value.shape) for name, value in vars(fn).items()
            if isinstance(value, np.ndarray) and value.ndim and not name.startswith("_")]


def _constant(value):
    if isinstance(value, np.ndarray):
        return f"{value.item():g}" if value.size == 1 else f"an array {_shape(value.shape)}"
    return f"{value:g}" if isinstance(value, float) else str(value)


# -- the graph -----------------------------------------------------------------------------------


class Graph:
    """The nodes (``nodes``, inputs before the ops that use them) and edges (``edges``,
    ``(from, to)`` positions in ``nodes``, once per pair) of a computation graph; ``omitted``:
    how many ops the cap left out. ``print`` it for the text form, draw it with
    :meth:`figure` or :meth:`to_svg`; a notebook shows the SVG."""

    def __init__(self, nodes, omitted=0):
        self.nodes, self.omitted = nodes, omitted
        self.edges = list(dict.fromkeys((i, j) for j, node in enumerate(nodes) for i in node.inputs))

    def count(self, kind):
        return sum(node.kind == kind for node in self.nodes)

    def summary(self):
        """One line: what the graph holds, where its output is, and what the cap left out."""
        ops, parameters, inputs = self.count("op"), self.count("parameter"), self.count("input")
        outputs = [str(i) for i, node in enumerate(self.nodes) if node.is_output]
        line = (f"computation graph: {ops} op{'s' * (ops != 1)}, {parameters} parameter{'s' * (parameters != 1)}, "
                f"{inputs} input{'s' * (inputs != 1)}; the output is node {', '.join(outputs)}")
        if self.omitted:
            line += (f"; capped: the {ops} ops nearest the output are shown, the {self.omitted} earlier ones "
                     "are one box (raise max_nodes to see them)")
        if any(node.kind == "op" and not node.shapes for node in self.nodes):
            line += "; backward freed this graph, so the shapes are unknown (draw it before backward)"
        return line

    def __str__(self):
        """The text form: one line per node, an op followed by the nodes it read."""
        name_width = max(len(node.name) for node in self.nodes)
        shape_width = max(len(node.shape_text()) for node in self.nodes)
        lines, number_width = [self.summary()], len(str(len(self.nodes) - 1))
        for i, node in enumerate(self.nodes):
            if node.kind == "op":
                what = "<- " + ", ".join(self.reads(node))
            else:
                what = {"leaf": "leaf, requires grad", "omitted": "not shown (see max_nodes)"}.get(node.kind, node.kind)
            extras = ("  [output]" if node.is_output else "") + (
                "  saves " + ", ".join(f"{name} {_shape(shape)}" for name, shape in node.saved) if node.saved else "")
            lines.append(f"{i:<{number_width}}  {node.name:<{name_width}}  {node.shape_text():<{shape_width}}  "
                         f"{what}{extras}".rstrip())
        return "\n".join(lines)

    def reads(self, node):
        """What an op read, as the text form says it: '3 Linear' (node 3), 'constant 2'."""
        return [f"{j} {self.nodes[j].name}" for j in node.inputs] + [f"constant {c}" for c in node.constants]

    def __repr__(self):
        return f"<Graph: {len(self.nodes)} nodes, {len(self.edges)} edges>"

    def figure(self, title=None):
        """The graph drawn as a matplotlib Figure (:func:`plot_graph`)."""
        return plot_graph(self, title)

    def to_svg(self, title=None, inline=False):
        """The graph as an SVG document (a string); ``inline=True`` for the inside of an HTML
        page, which needs no XML namespace (:func:`graph_svg`)."""
        return graph_svg(self, title, inline)

    def _repr_svg_(self):  # how Jupyter shows it
        return self.to_svg()

    def save(self, path):
        """Write the drawing to ``path``: SVG if it ends in .svg, else PNG. Returns the path."""
        if str(path).lower().endswith(".svg"):
            with open(path, "w", encoding="utf-8") as stream:
                stream.write(self.to_svg())
            return path
        return plots.save(self.figure(), path)


def model_graph(model, inputs, targets=None, max_nodes=MAX_NODES):
    """The graph of one forward pass of ``model`` (a module or a saved run) on ``inputs``,
    and of the cross-entropy loss against ``targets`` when they are given, with the
    parameters named. It runs in eval mode, so that drawing changes no BatchNorm
    statistic (dropout, doing nothing there, is absent).

    >>> import glassnet as gn
    >>> model = gn.nn.Sequential(gn.nn.Linear(4, 3))
    >>> [node.name for node in model_graph(model, gn.ones(2, 4), [0, 2]).nodes]
    ['input', '0.weight', '0.bias', 'Linear', 'input', 'CrossEntropy']
    """
    network, shape, _ = unwrap(model)
    inputs = as_images(model, inputs) if shape is not None else inputs
    was_training = network.training
    network.eval()
    try:
        with enable_grad():
            output = network(_as_tensor(inputs))
            if targets is not None:
                output = F.cross_entropy(output, _as_tensor(targets))
    finally:
        network.train(was_training)
    return graph(output, dict(network.named_parameters()), max_nodes)


def _as_tensor(value):
    return value if isinstance(value, Tensor) else Tensor(np.asarray(value))


def _as_graph(value):
    return value if isinstance(value, Graph) else graph(value)


# -- the layout ----------------------------------------------------------------------------------


@dataclasses.dataclass
class _Layout:
    """Where everything goes, in inches, y growing upwards: a box's centre and width per
    node, and per edge the points it passes through (from the bottom of one box to the
    top of the other)."""

    x: list
    y: list
    width: list
    routes: list
    size: tuple  # the width and height of the whole drawing, caption included
    caption: str


def _box_width(node):
    return max(len(_label(node)) * CHAR * 1.1, len(node.shape_text()) * CHAR) + 2 * PAD


def _label(node):
    """The name in a box: a long parameter name loses its first components ('…layers.1.norm1.weight')."""
    parts = node.name.split(".")
    while len(parts) > 1 and len(".".join(parts)) + 1 > NAME_LENGTH:
        parts.pop(0)
    name = ".".join(parts)
    return name if name == node.name else "…" + name


def _rows(graph):
    """The row of each node: as low as its first user allows (one above it), so that a
    parameter, and an op that only reshapes or slices parameters, sits beside the layer that
    uses it; the outputs in the row after their deepest input."""
    row = [0] * len(graph.nodes)
    for i, node in enumerate(graph.nodes):
        if node.inputs:
            row[i] = 1 + max(row[j] for j in node.inputs)
    users = collections.defaultdict(list)
    for i, j in graph.edges:
        users[i].append(j)
    for i in reversed(range(len(graph.nodes))):  # users come after the nodes they read
        if users[i]:
            row[i] = min(row[j] for j in users[i]) - 1
    return row


def _layout(graph, title):
    nodes = graph.nodes
    row = _rows(graph)
    # an edge spanning rows passes through one waypoint per row between; waypoints are items too
    width = [_box_width(node) for node in nodes]
    # leaves, and the edges from them, follow the ops: a chain of ops stays straight
    weight = [LIGHT if not node.inputs else 1.0 for node in nodes]
    item_row, above, below, chains = list(row), collections.defaultdict(list), collections.defaultdict(list), []
    for i, j in graph.edges:
        chain = [i]
        for r in range(row[i] + 1, row[j]):
            item_row.append(r)
            width.append(WAYPOINT)
            weight.append(weight[i])
            chain.append(len(item_row) - 1)
        chain.append(j)
        for a, b in zip(chain, chain[1:]):
            below[a].append(b)
            above[b].append(a)
        chains.append(chain)
    rows = [[] for _ in range(max(item_row) + 1)]
    for item, r in enumerate(item_row):
        rows[r].append(item)
    rows = _order(rows, above, below)
    x = _place(rows, width, weight, above, below)
    shift = min(x[item] - width[item] / 2 for item in range(len(x)))
    x = [value - shift + MARGIN for value in x]
    drawing_width = max(max(x[item] + width[item] / 2 for item in range(len(x))) + MARGIN, 4.0)
    caption = _caption(graph, title, drawing_width)
    caption_height = LINE * (caption.count("\n") + 1) + 0.25
    height = (len(rows) - 1) * ROW + HEIGHT + 2 * MARGIN + caption_height
    y = [height - caption_height - MARGIN - HEIGHT / 2 - r * ROW for r in item_row]
    routes = _routes(chains, nodes, x, y)
    return _Layout(x[:len(nodes)], y[:len(nodes)], width[:len(nodes)], routes, (drawing_width, height), caption)


def _order(rows, above, below, sweeps=6):
    """The items of each row reordered, sweep by sweep, by the mean position of their
    neighbours in the row before; the order with the fewest crossings is kept."""
    best, fewest = [list(r) for r in rows], _crossings(rows, below)
    for sweep in range(sweeps):
        downwards = sweep % 2 == 0
        neighbours = above if downwards else below
        order = range(1, len(rows)) if downwards else range(len(rows) - 2, -1, -1)
        for r in order:
            position = {item: p for p, item in enumerate(rows[r - 1 if downwards else r + 1])}
            now = {item: p for p, item in enumerate(rows[r])}

            def key(item):
                near = [position[n] for n in neighbours[item]]
                return sum(near) / len(near) if near else now[item]
            rows[r] = sorted(rows[r], key=key)
        crossings = _crossings(rows, below)
        if crossings < fewest:
            best, fewest = [list(r) for r in rows], crossings
    return best


def _crossings(rows, below):
    count = 0
    for upper, lower in zip(rows, rows[1:]):
        position = {item: p for p, item in enumerate(lower)}
        edges = [(p, position[b]) for p, a in enumerate(upper) for b in below[a]]
        count += sum(1 for k, (a1, b1) in enumerate(edges) for a2, b2 in edges[k + 1:] if (a1 - a2) * (b1 - b2) < 0)
    return count


def _place(rows, width, weight, above, below, passes=8):
    """The x of every item: each row in its order, as near the weighted mean x of the items'
    neighbours as the gaps between them allow, alternately looking up and down."""
    x = [0.0] * len(width)
    for items in rows:
        _pack(items, [0.0] * len(items), width, weight, x)
    for sweep in range(passes):
        neighbours = above if sweep % 2 == 0 else below
        for items in rows if sweep % 2 == 0 else reversed(rows):
            wanted = [np.average([x[n] for n in neighbours[item]], weights=[weight[n] for n in neighbours[item]])
                      if neighbours[item] else x[item] for item in items]
            _pack(items, wanted, width, weight, x)
    return x


def _pack(items, wanted, width, weight, x):
    """Set ``x`` of a row's items, kept in order and apart by their widths, as near ``wanted``
    as possible (weighted least squares: a leaf gives way to an op). With ``offset`` the least
    room before each item, the positions minus their offsets must not decrease: isotonic
    regression, solved by pooling adjacent violators."""
    offsets = [0.0]
    for a, b in zip(items, items[1:]):
        offsets.append(offsets[-1] + (width[a] + width[b]) / 2 + (SEP if max(width[a], width[b]) > WAYPOINT else 0.04))
    blocks = []  # [weighted mean, total weight, count] of pooled items
    for item, target, offset in zip(items, wanted, offsets):
        blocks.append([target - offset, weight[item], 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, total, count = blocks.pop()
            before = blocks[-1]
            blocks[-1] = [(before[0] * before[1] + mean * total) / (before[1] + total), before[1] + total,
                          before[2] + count]
    values = [mean for mean, _, count in blocks for _ in range(count)]
    for item, value, offset in zip(items, values, offsets):
        x[item] = value + offset


def _routes(chains, nodes, x, y):
    """Each edge's points: it leaves the bottom of its source box and enters the top of its
    target box at ports spread along the edge, in the order of where the edges come from."""
    leaving, entering = collections.defaultdict(list), collections.defaultdict(list)
    for k, chain in enumerate(chains):
        leaving[chain[0]].append((x[chain[1]], k))
        entering[chain[-1]].append((x[chain[-2]], k))
    start, end = {}, {}
    for ports, where, sign in ((leaving, start, -1), (entering, end, 1)):
        for node, edges in ports.items():
            spread = min(_box_width(nodes[node]) * 0.6, 0.22 * (len(edges) - 1))
            for p, (_, k) in enumerate(sorted(edges)):
                offset = spread * (p / (len(edges) - 1) - 0.5) if len(edges) > 1 else 0.0
                where[k] = (x[node] + offset, y[node] + sign * HEIGHT / 2)
    return [[start[k]] + [(x[item], y[item]) for item in chain[1:-1]] + [end[k]] for k, chain in enumerate(chains)]


def _curves(points):
    """The route as cubic Bézier pieces: each leaves and enters its points vertically."""
    pieces = []
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        middle = (y0 + y1) / 2
        pieces.append(((x0, middle), (x1, middle), (x1, y1)))
    return pieces


def _caption(graph, title, width):
    lines = [title] if title else []
    note = ("Data flows down, from the inputs (grey) and parameters (orange) through the ops (blue) "
            "to the output (green); backpropagation walks the arrows back up.")
    if graph.omitted:
        note += (f" Capped: the {graph.count('op')} ops nearest the output are shown; the {graph.omitted} "
                 "before them are one box.")
    lines += textwrap.wrap(note, max(int(width / (CHAR * 1.05)), 40))
    return "\n".join(lines)


# -- drawing -------------------------------------------------------------------------------------


def _colour(node):
    return COLOURS["output"] if node.is_output else COLOURS[node.kind]


def plot_graph(graph, title=None):
    """The graph drawn as a bare matplotlib Figure, one box per node (its name and output
    shape), arrows from inputs to the ops that read them; ``graph`` is a :class:`Graph` or a
    tensor (then drawn as :func:`graph` finds it)."""
    graph = _as_graph(graph)
    patches = require("matplotlib.patches", plots.DRAWING)
    Path = require("matplotlib.path", plots.DRAWING).Path
    layout = _layout(graph, title)
    width, height = layout.size
    fig = plots.Figure(figsize=(width, height))
    axis = fig.add_axes((0, 0, 1, 1))
    axis.set_xlim(0, width)
    axis.set_ylim(0, height)
    axis.axis("off")
    axis.text(MARGIN, height - MARGIN, layout.caption, ha="left", va="top", fontsize=8, color="#333333")
    for route in layout.routes:
        vertices, codes = [route[0]], [Path.MOVETO]
        for piece in _curves(route):
            vertices += piece
            codes += [Path.CURVE4] * 3
        axis.add_patch(patches.FancyArrowPatch(path=Path(vertices, codes), arrowstyle="-|>", mutation_scale=8,
                                               color=EDGE, linewidth=0.8, shrinkA=0, shrinkB=0))
    for node, x, y, w in zip(graph.nodes, layout.x, layout.y, layout.width):
        axis.add_patch(patches.FancyBboxPatch(
            (x - w / 2, y - HEIGHT / 2), w, HEIGHT, boxstyle="round,pad=0,rounding_size=0.07",
            facecolor=_colour(node), edgecolor="#444444", linewidth=0.8,
            linestyle="--" if node.kind == "omitted" else "-"))
        axis.text(x, y + 0.07, _label(node), ha="center", va="center", fontsize=8, weight="bold")
        axis.text(x, y - 0.09, node.shape_text(), ha="center", va="center", fontsize=7, color="#333333")
    return fig


def graph_svg(graph, title=None, inline=False):
    """The graph as an SVG document: the layout of :func:`plot_graph`, drawn in SVG by hand
    (boxes, text and paths), each box with a tooltip listing the node's inputs and what it saved.

    ``inline=True`` leaves out the XML namespace, which an ``<svg>`` inside an HTML page takes
    from the page (a file of its own, or XHTML, needs it), so the page names no URL at all."""
    graph = _as_graph(graph)
    layout = _layout(graph, title)
    width, height = layout.size

    def at(x, y):  # inches, y up -> pixels, y down
        return x * PIXELS, (height - y) * PIXELS

    def point(x, y):
        return "{:.1f},{:.1f}".format(*at(x, y))

    namespace = "" if inline else ' xmlns="http://www.w3.org/2000/svg"'
    parts = [f'<svg{namespace} width="{width * PIXELS:.0f}" height="{height * PIXELS:.0f}" '
             f'viewBox="0 0 {width * PIXELS:.0f} {height * PIXELS:.0f}" font-family="DejaVu Sans, Verdana, sans-serif" '
             'class="glassnet-graph">',
             '<defs><marker id="glassnet-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
             f'markerHeight="7" orient="auto"><path d="M0,1 L10,5 L0,9 z" fill="{EDGE}"/></marker></defs>']
    for k, line in enumerate(layout.caption.split("\n")):
        parts.append(f'<text x="{MARGIN * PIXELS:.1f}" y="{(MARGIN + (k + 0.8) * LINE) * PIXELS:.1f}" font-size="10.7" '
                     f'fill="#333333">{html.escape(line)}</text>')
    for route in layout.routes:
        path = f"M{point(*route[0])}" + "".join(" C" + " ".join(point(*p) for p in piece) for piece in _curves(route))
        parts.append(f'<path d="{path}" fill="none" stroke="{EDGE}" stroke-width="1.1" '
                     'marker-end="url(#glassnet-arrow)"/>')
    for i, (node, x, y, w) in enumerate(zip(graph.nodes, layout.x, layout.y, layout.width)):
        left, top = at(x - w / 2, y + HEIGHT / 2)
        dash = ' stroke-dasharray="4,3"' if node.kind == "omitted" else ""
        parts += [f"<g><title>{html.escape(_tooltip(graph, i))}</title>",
                  f'<rect x="{left:.1f}" y="{top:.1f}" width="{w * PIXELS:.1f}" height="{HEIGHT * PIXELS:.1f}" '
                  f'rx="6.7" fill="{_colour(node)}" stroke="#444444"{dash}/>',
                  _svg_text(at(x, y + 0.07), _label(node), 'font-size="10.7" font-weight="bold"'),
                  _svg_text(at(x, y - 0.09), node.shape_text(), 'font-size="9.3" fill="#333333"'), "</g>"]
    parts.append("</svg>")
    return "\n".join(parts)


def _svg_text(at, text, style):
    x, y = at
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle" dominant-baseline="central" {style}>'
            f"{html.escape(text)}</text>")


def _tooltip(graph, i):
    """The node's line of the text form, with what it saved on its own lines."""
    node = graph.nodes[i]
    lines = [f"{i} {node.name} {node.shape_text()}".rstrip()]
    if node.kind == "op":
        lines.append("reads: " + (", ".join(graph.reads(node)) or "nothing kept"))
        lines += [f"saves {name} {_shape(shape)} for backward" for name, shape in node.saved]
    else:
        lines.append({"leaf": "a leaf that requires grad", "omitted": "ops the cap left out"}.get(node.kind, node.kind))
    return "\n".join(lines)
