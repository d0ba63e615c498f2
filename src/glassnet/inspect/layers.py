"""What every inspection tool starts from: finding layers by name and by type, recording
what they output, checking the model, images and labels it is given, and the model's class
probabilities.

The inspect modules share these helpers and take them from here, never from one another.
"""
import contextlib

import numpy as np

from .. import nn
from ..tensor import Tensor, no_grad
from ..train import predict

# the non-linearities: after each of them a layer's representation is complete
ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.GELU, nn.Tanh, nn.Sigmoid, nn.ELU, nn.SELU, nn.CELU, nn.SiLU, nn.Mish,
               nn.Softplus, nn.Hardtanh, nn.Hardsigmoid, nn.Hardswish, nn.PReLU, nn.LogSigmoid, nn.Softsign,
               nn.Tanhshrink, nn.Softshrink, nn.Hardshrink, nn.Threshold, nn.GLU)  # Hardtanh: ReLU6 too


# -- layers, by name and by type ---------------------------------------------------------

def layer_names(model):
    """The names of every sub-module, as ``model.named_modules()`` gives them ('0', '3', 'blocks.1.attn', ...)."""
    return [name for name, _ in model.named_modules() if name]


def get_layer(model, name):
    """The sub-module called ``name``; the error lists the valid names."""
    modules = dict(model.named_modules())
    if name not in modules or not name:
        raise KeyError(f"{type(model).__name__} has no layer {name!r}; its layers are: {describe_layers(model)}")
    return modules[name]


def layers_of_type(network, kind):
    """The names of the sub-modules that are a ``kind`` (a class, or a tuple of them), in order.

    >>> import glassnet as gn
    >>> layers_of_type(gn.nn.Sequential(gn.nn.Linear(4, 3), gn.nn.ReLU(), gn.nn.Linear(3, 2)), gn.nn.Linear)
    ['0', '2']
    """
    return [name for name, module in network.named_modules() if name and isinstance(module, kind)]


def describe_layers(network):
    """Every layer's name and type, for an error to list: '0 (Linear), 1 (ReLU), 2 (Linear)'."""
    return ", ".join(f"{name} ({type(module).__name__})" for name, module in network.named_modules() if name)


def describe_model(network, name):
    """The model as an error names it: 'mlp (Sequential)' for a run's model (``name`` as
    :func:`unwrap` gives it), 'Sequential' for a bare one."""
    kind = type(network).__name__
    return name if name == kind else f"{name} ({kind})"


# -- what layers output ------------------------------------------------------------------

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
        with out_of_place(model):
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


# -- the model, images and labels a tool is given -----------------------------------------

def check_images(model_name, images, input_shape):
    """``images`` as float32 (N, *input_shape), or a clear error naming the expected shape."""
    images = np.asarray(images, dtype=np.float32)
    if images.shape == tuple(input_shape):
        images = images[None]
    if images.shape[1:] != tuple(input_shape):
        raise ValueError(f"{model_name} takes images of shape (N, {', '.join(map(str, input_shape))}), "
                         f"got an array of shape {images.shape}")
    return images


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


def check_labels(labels, count):
    """``labels`` as int64 class indices, one per image, or a clear error naming the shape
    expected. Shape: (count,) integers -> (count,) int64."""
    labels = np.asarray(labels)
    if labels.shape != (count,) or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be {count} class indices (integers, shape ({count},)), "
                         f"got {labels.dtype} of shape {labels.shape}")
    return labels.astype(np.int64)


def predict_proba(model, images, batch_size=512):
    """Class probabilities: the softmax of the model's logits, in eval mode, without a graph.

    Shape: images (N, C, H, W) -> (N, classes) float32, each row summing to 1.
    ``model`` is a module or a :class:`Run`.
    """
    model, images = model_and_images(model, images)
    logits = predict(model, images, batch_size)  # eval mode and no_grad, batch by batch
    with no_grad():
        return Tensor(logits).softmax(axis=1).numpy().astype(np.float32)


# -- the state a tool runs in ------------------------------------------------------------

@contextlib.contextmanager
def inspecting(network):
    """Evaluation mode (no dropout, BatchNorm's running statistics), frozen weights
    (gradients flow to the inputs only, and no parameter's ``.grad`` is touched) and no
    layer in place (see :func:`out_of_place`); all restored afterwards."""
    was_training = network.training
    trainable = [p for p in network.parameters() if p.requires_grad]
    network.eval()
    for parameter in trainable:
        parameter.requires_grad = False
    try:
        with out_of_place(network):
            yield network
    finally:
        for parameter in trainable:
            parameter.requires_grad = True
        network.train(was_training)


@contextlib.contextmanager
def out_of_place(network):
    """Layers built with ``inplace=True`` (ReLU, Dropout, ...) compute out of place in the
    block: in place, they would overwrite the output of the layer before them, which a tool
    has recorded, or refuse it when a tool made it a leaf that requires grad."""
    in_place = [module for module in network.modules() if getattr(module, "inplace", False) is True]
    for module in in_place:
        module.inplace = False
    try:
        yield network
    finally:
        for module in in_place:
            module.inplace = True
