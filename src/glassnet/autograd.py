"""``gn.autograd``: gradients on request, PyTorch's ``torch.autograd`` names.

``Function`` is the base of every op (see ``glassnet.ops``); ``grad`` returns gradients
instead of adding them to ``.grad``; ``backward`` runs backpropagation from several
tensors at once.
"""
from .tensor import Function, Tensor, _initial_grad, enable_grad, inference_mode, is_grad_enabled  # noqa: F401
from .tensor import no_grad, run_backward, set_grad_enabled  # noqa: F401
from .tensor import detect_anomaly  # noqa: F401


def _as_list(x):
    return [x] if isinstance(x, Tensor) else list(x)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """The gradients of ``outputs`` with respect to each of ``inputs``, as a tuple of
    tensors; no ``.grad`` changes.

    >>> import glassnet as gn
    >>> x = gn.tensor([1.0, 2.0], requires_grad=True)
    >>> gn.autograd.grad((x ** 2).sum(), x)
    (tensor([2., 4.]),)
    """
    if create_graph:
        raise NotImplementedError("autograd.grad(create_graph=True): gradients of gradients are not available")
    outputs, inputs = _as_list(outputs), _as_list(inputs)
    grad_outputs = [None] * len(outputs) if grad_outputs is None else _as_list(grad_outputs)
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"autograd.grad: input {i} does not require grad")
    keys = [id(t) if t._ctx is None else (id(t._ctx), t._index) for t in inputs]
    capture = dict.fromkeys(keys)
    grads = [_initial_grad(t, g, "autograd.grad") for t, g in zip(outputs, grad_outputs)]
    run_backward(outputs, grads, retain_graph=bool(retain_graph), capture=capture)
    result = []
    for i, (t, key) in enumerate(zip(inputs, keys)):
        if capture[key] is None and not allow_unused:
            raise RuntimeError(
                f"autograd.grad: input {i} was not used to compute the outputs; help: pass allow_unused=True"
            )
        result.append(None if capture[key] is None else Tensor._wrap(capture[key], False))
    return tuple(result)


def backward(tensors, grad_tensors=None, retain_graph=None):
    """Backpropagate from several tensors at once (their gradients sum at shared leaves)."""
    tensors = _as_list(tensors)
    grad_tensors = [None] * len(tensors) if grad_tensors is None else _as_list(grad_tensors)
    grads = [_initial_grad(t, g, "autograd.backward") for t, g in zip(tensors, grad_tensors)]
    run_backward(tensors, grads, retain_graph=bool(retain_graph))
