"""Finding layers by name and recording what they output."""
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
        output = output.data
        found = {name: value.data if isinstance(value, Tensor) else value for name, value in found.items()}
    return output, found
