"""Recording a forward pass: every op it applies, in order, with its inputs, its options,
its outputs and the layer it ran in.

glassnet builds no graph ahead of time (define-by-run), and under ``no_grad`` not even
the autograd graph: the record comes from :func:`glassnet.tensor.observe_ops`, which
``Function.apply`` calls after every op whatever the grad mode. Walking ``grad_fn``
backwards instead would miss the ops on tensors that need no gradient (the input's own
reshapes, anything under ``no_grad``) and never see an op's options. The layer of each op
comes from wrapping every sub-module's ``forward`` while the pass runs, so that an error
can say "op X in layer blocks.layers.0.self_attn (MultiheadAttention)".
"""
import contextlib

from ..tensor import Tensor, no_grad, observe_ops


class Op:
    """One op of a recorded pass: ``fn`` (the Function instance, with whatever it saved),
    ``inputs`` and ``options`` as given to ``apply``, ``outputs`` (tensors), ``path`` (the
    module path of the innermost layer running, "" for the model itself) and ``layer``
    (that path with the layer's class, for messages). ``other`` is the same op in the
    second recording, on another batch of inputs (see :func:`glassnet.onnx.export`).
    ``read`` and ``made`` are the version counters of the input and output tensors when the
    op ran: an input changed in place since it was made shows as a newer version."""

    def __init__(self, fn, inputs, options, outputs, path, layer):
        self.fn, self.inputs, self.options, self.outputs = fn, inputs, options, outputs
        self.path, self.layer, self.other = path, layer, None
        self.read = [t._version[0] if isinstance(t, Tensor) else None for t in inputs]
        self.made = [t._version[0] for t in outputs]

    @property
    def name(self):
        return type(self.fn).__name__

    def where(self):
        return f"op {self.name} in layer {self.layer}"

    def __repr__(self):
        return f"<{self.where()}>"


def record(model, inputs):
    """Run ``model(*inputs)`` without gradients and return ``(ops, output)``: the list of
    :class:`Op` it applied, in order, and what the model returned."""
    ops, layers = [], []

    def observer(fn, op_inputs, options, outputs):
        path, layer = layers[-1] if layers else ("", type(model).__name__)
        ops.append(Op(fn, op_inputs, options, outputs, path, layer))

    previous = observe_ops(observer)
    try:
        with _tracking_layers(model, layers), no_grad():
            output = model(*inputs)
    finally:
        observe_ops(previous)
    return ops, output


@contextlib.contextmanager
def _tracking_layers(model, stack):
    """While in the block, every module of ``model`` pushes ``(path, "path (Class)")`` on
    ``stack`` for as long as its forward runs."""
    modules = list(model.named_modules())
    saved = [module.__dict__.get("forward") for _, module in modules]
    for path, module in modules:
        label = f"{path} ({type(module).__name__})" if path else type(module).__name__
        object.__setattr__(module, "forward", _entering(module.forward, stack, (path, label)))
    try:
        yield
    finally:
        for (_, module), forward in zip(modules, saved):
            if forward is None:
                del module.__dict__["forward"]
            else:
                object.__setattr__(module, "forward", forward)


def _entering(forward, stack, entry):
    def forward_in_layer(*args, **kwargs):
        stack.append(entry)
        try:
            return forward(*args, **kwargs)
        finally:
            stack.pop()

    return forward_in_layer


def flat_outputs(output, who="the model"):
    """The tensors a model returned, in order: one, or those of nested tuples and lists."""
    if isinstance(output, Tensor):
        return [output]
    if isinstance(output, (tuple, list)):
        return [t for item in output for t in flat_outputs(item, who)]
    raise TypeError(f"glassnet.onnx.export: {who} returned a {type(output).__name__}; an exported model must "
                    "return tensors (one, or a tuple or list of them)")
