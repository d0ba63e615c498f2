"""Every fused kernel against its readable reference, in values and gradients.

A fused op (``ops.LSTM``, ``ops.Conv2d``...) is fast because it hides the maths in array
tricks; its ``reference`` (``ops.LSTM.reference``) is the same maths composed from small
ops, the code a learner reads. This table ties each pair; ``with gn.reference_ops():``
routes the layers to the references (tested by training real models both ways).
"""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from glassnet.tensor import Function


def _tensor(rng, *shape, grad=True):
    """A float64 tensor of standard normal values: float64 so that the two versions may
    differ only by rounding far below the tolerances."""
    return gn.tensor(rng.standard_normal(shape), requires_grad=grad)


# name -> (op, make(rng) -> (positional arguments, options))
CASES = {
    "attention": (ops.Attention, lambda rng: ((_tensor(rng, 2, 3, 4, 5), _tensor(rng, 2, 3, 6, 5), _tensor(rng, 2, 3, 6, 7)),
                                              dict(scale=0.3))),
    "attention_masked_dropout": (ops.Attention, lambda rng: (
        (_tensor(rng, 2, 4, 5), _tensor(rng, 2, 6, 5), _tensor(rng, 2, 6, 3)),
        dict(mask=np.where(rng.random((4, 6)) < 0.3, -np.inf, 0.0), scale=0.5, dropout_p=0.25))),
    # -- recurrent, normalization, linear, cross-entropy ------------------------------------
    # -- convolution, pooling, GELU ---------------------------------------------------------
}


def _outputs(result):
    return result if isinstance(result, tuple) else (result,)


def _run(run, make):
    """Outputs and input gradients of one version, from the same inputs and random state."""
    args, options = make(np.random.default_rng(0))
    gn.seed(0)  # dropout draws the same mask in both versions
    outputs = _outputs(run(*args, **options))
    upstream = np.random.default_rng(1)
    differentiable = [o for o in outputs if o.requires_grad]
    if differentiable:
        sum((o * gn.tensor(upstream.standard_normal(o.shape))).sum() for o in differentiable).backward()
    inputs = [a for a in args if isinstance(a, gn.Tensor) and a.requires_grad]
    return [o.numpy() for o in outputs], [None if a.grad is None else a.grad.numpy() for a in inputs]


@pytest.mark.parametrize("name", CASES)
def test_fused_op_equals_its_reference(name):
    op, make = CASES[name]
    assert op.reference is not None, f"{op.__name__} has no reference"
    (fused_out, fused_grads), (ref_out, ref_grads) = _run(op.apply, make), _run(op.reference, make)
    assert len(fused_out) == len(ref_out)
    for i, (mine, want) in enumerate(zip(fused_out, ref_out)):
        assert mine.shape == want.shape and mine.dtype == want.dtype, f"output {i}"
        np.testing.assert_allclose(mine, want, rtol=1e-7, atol=1e-9, err_msg=f"output {i}")
    for i, (mine, want) in enumerate(zip(fused_grads, ref_grads)):
        assert (mine is None) == (want is None), f"gradient of input {i}"
        if mine is not None:
            np.testing.assert_allclose(mine, want, rtol=1e-7, atol=1e-9, err_msg=f"gradient of input {i}")


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_fused_op_has_a_tested_reference():
    with_reference = {cls.__name__ for cls in _subclasses(Function) if cls.reference is not None}
    assert with_reference == {op.__name__ for op, _ in CASES.values()}


def test_the_switch_routes_apply_to_the_reference_and_back():
    q = gn.randn(1, 2, 3, requires_grad=True)
    assert gn.nn.functional.scaled_dot_product_attention(q, q, q).grad_fn.name() == "AttentionBackward"
    with gn.reference_ops():
        assert gn.reference_ops_enabled()
        assert gn.nn.functional.scaled_dot_product_attention(q, q, q).grad_fn.name() != "AttentionBackward"
    assert not gn.reference_ops_enabled()
