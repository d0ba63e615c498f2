"""Finding layers by name, recording what they output, and the model/image checks that
every inspection tool starts with."""
import contextlib

import numpy as np

from ..tensor import Tensor, no_grad


def layer_names(model):
    """The names of every sub-module, as ``model.named_modules()`` gives them ('0', '3', 'blocks.1.attn', ...)."""
    return [name for name, _ in model.named_modules() if name]


def get_layer(model, name):
    """The sub-module called ``name``; the error lists the valid names."""
    modules = dict(model.named_modules())
    if name not in modules or not name:
        described = ", ".join(f"{n} ({type(m).__name__})" for n, m in modules.items() if n)
        raise KeyError(f"{type(model).__name__} has no layer {name!r}; its layers are: {described}")
    return modules[name]


def check_images(model_name, images, input_shape):
    """``images`` as float32 (N, *input_shape), or a clear error naming the expected shape."""
    images = np.asarray(images, dtype=np.float32)
    if images.shape == tuple(input_shape):
        images = images[None]
    if images.shape[1:] != tuple(input_shape):
        raise ValueError(f"{model_name} takes images of shape (N, {', '.join(map(str, input_shape))}), "
                         f"got an array of shape {images.shape}")
    return images


def capture(model, inputs, names, grad=False):
    """Run ``model`` on ``inputs`` and return ``(output, {name: output of that layer})``.

    Without ``grad`` the activations are NumPy arrays computed under ``no_grad``; with
    ``grad=True`` they are the Tensors of the graph, so a caller can backpropagate to them.
    """
    found, handles = {}, []
    for name in names:
        def record(module, args, output, name=name):
            found[name] = output
        handles.append(get_layer(model, name).register_forward_hook(record))
    try:
        if grad:
            output = model(inputs if isinstance(inputs, Tensor) else Tensor(inputs))
        else:
            with no_grad():
                output = model(Tensor(np.asarray(inputs)))
    finally:
        for handle in handles:
            handle.remove()
    if not grad:
        output = output.numpy()
        found = {name: value.numpy() if isinstance(value, Tensor) else value for name, value in found.items()}
    return output, found


def unwrap(model):
    """``(network, input shape or None, name)`` for a model or a saved :class:`~.run.Run`."""
    from ..train.run import Run

    if isinstance(model, Run):
        return model.model, model.input_shape, model.metadata.get("model", type(model.model).__name__)
    return model, None, type(model).__name__


def as_images(model, images):
    """``images`` as float32 (N, C, H, W), one (C, H, W) image becoming a batch of one:
    checked against a run's input shape when it is known; a bare model checks its own
    inputs as it runs."""
    _, shape, name = unwrap(model)
    if shape is not None:
        return check_images(name, images, shape)
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4:
        raise ValueError(f"{name} takes images of shape (N, C, H, W) or one image (C, H, W), got {images.shape}")
    return images


def model_and_images(model, images):
    """``(network, images as float32 (N, C, H, W))`` for a model or a run. Unlike
    :func:`as_images`, a batch must be 4-D: (N, H, W) digits without their channel axis
    would otherwise pass for one image of N channels."""
    network, shape, name = unwrap(model)
    if shape is None and np.ndim(images) != 4:
        raise ValueError(f"{name} takes images of shape (N, C, H, W), got an array of shape {np.shape(images)}; "
                         "help: add the channel axis with images[:, None], or the batch axis with image[None]")
    return network, as_images(model, images)


@contextlib.contextmanager
def inspecting(network):
    """Evaluation mode (no dropout, BatchNorm's running statistics) and frozen weights
    (gradients flow to the inputs only, and no parameter's ``.grad`` is touched); both
    restored afterwards."""
    was_training = network.training
    trainable = [p for p in network.parameters() if p.requires_grad]
    network.eval()
    for parameter in trainable:
        parameter.requires_grad = False
    try:
        yield network
    finally:
        for parameter in trainable:
            parameter.requires_grad = True
        network.train(was_training)
