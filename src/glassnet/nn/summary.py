"""``summary``: each layer's output shape and parameter count, Keras-style."""
import numpy as np

from ..tensor import Tensor, no_grad


class ModelSummary:
    """The table that :func:`summary` builds: ``rows`` of (layer, output shape, params)
    and the totals. ``str()`` gives the printed table."""

    def __init__(self, model_name, rows, total, trainable):
        self.model_name, self.rows = model_name, rows
        self.total_params, self.trainable_params = total, trainable

    def __str__(self):
        header = ("Layer (type)", "Output shape", "Params")
        body = [(name, str(shape), f"{count:,}") for name, shape, count in self.rows]
        widths = [max(len(r[i]) for r in [header] + body) + 2 for i in range(3)]
        rule = "-" * sum(widths)
        line = lambda r: r[0].ljust(widths[0]) + r[1].ljust(widths[1]) + r[2].rjust(widths[2])  # noqa: E731
        return "\n".join(
            [self.model_name, rule, line(header), "=" * sum(widths)]
            + [line(r) for r in body]
            + [
                "=" * sum(widths),
                f"Total params: {self.total_params:,}",
                f"Trainable params: {self.trainable_params:,}",
                f"Non-trainable params: {self.total_params - self.trainable_params:,}",
            ]
        )

    __repr__ = __str__


def summary(model, input_shape, dtype=np.float32):
    """Run one example of ``input_shape`` (without the batch axis) through ``model`` and
    tabulate every layer that has no sub-layers: its name, type, output shape and number
    of parameters. The batch axis is shown as -1.

    >>> import glassnet as gn
    >>> model = gn.nn.Sequential(gn.nn.Flatten(), gn.nn.Linear(64, 128), gn.nn.ReLU(), gn.nn.Linear(128, 10))
    >>> print(gn.summary(model, (1, 8, 8)).total_params)
    9610
    """
    rows, handles = [], []
    for name, module in model.named_modules():
        if any(True for _ in module.children()):
            continue
        count = sum(p.numel() for p in module.parameters())

        def record(module, inputs, output, name=name, count=count):
            shape = (-1,) + tuple(output.shape[1:]) if isinstance(output, Tensor) else type(output).__name__
            rows.append((f"{name} ({type(module).__name__})", shape, count))

        handles.append(module.register_forward_hook(record))
    was_training = model.training
    model.eval()  # one example: batch statistics and dropout would only add noise
    try:
        with no_grad():
            model(Tensor(np.zeros((1,) + tuple(input_shape), dtype=dtype)))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    parameters = list(model.parameters())
    total = sum(p.numel() for p in parameters)
    trainable = sum(p.numel() for p in parameters if p.requires_grad)
    return ModelSummary(type(model).__name__, rows, total, trainable)
