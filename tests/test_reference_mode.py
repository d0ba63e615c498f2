"""Reference mode trains real models to the same numbers.

``with gn.reference_ops():`` swaps every fused kernel for its readable reference and
every optimizer step for its plain formula. A learner can then step through readable code
while a real network learns; this checks that nothing else changes: the digits MLP, CNN
and LSTM trained both ways from the same seed end with the same losses and weights.
"""
import numpy as np
import pytest

import glassnet as gn
from glassnet import models

STEPS = 12


# SGD for the CNN: the bias of a convolution followed by batch norm has a gradient of
# exactly zero in exact arithmetic, rounding noise in practice, which Adam would scale up
# to full-size steps in both versions, but in different directions.
OPTIMIZERS = {"mlp": ("Adam", dict(lr=3e-3, weight_decay=1e-4)), "lstm": ("Adam", dict(lr=3e-3)),
              "cnn": ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4))}


def _train(name, reference):
    gn.seed(0)
    data = gn.datasets.digits("train")
    model = models.build(name, (1, 8, 8), 10)
    optimizer_name, options = OPTIMIZERS[name]
    optimizer = getattr(gn.optim, optimizer_name)(model.parameters(), **options)
    loader = gn.data.DataLoader(data, batch_size=32, shuffle=True, seed=0)
    losses = []
    with gn.reference_ops(reference):
        for step, (images, labels) in zip(range(STEPS), loader):
            loss = gn.nn.functional.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        model.eval()
        logits = model(gn.from_numpy(gn.datasets.digits("test").images[:64])).numpy()
    return losses, model.state_dict(), logits


@pytest.mark.parametrize("name", ["mlp", "cnn", "lstm"])
def test_a_model_trains_to_the_same_numbers_with_fused_kernels_and_references(name):
    fused_losses, fused_weights, fused_logits = _train(name, reference=False)
    reference_losses, reference_weights, reference_logits = _train(name, reference=True)
    np.testing.assert_allclose(reference_losses, fused_losses, rtol=1e-4)
    assert fused_weights.keys() == reference_weights.keys()
    for key in fused_weights:
        np.testing.assert_allclose(np.asarray(reference_weights[key]), np.asarray(fused_weights[key]), rtol=1e-3, atol=1e-5,
                                   err_msg=key)
    np.testing.assert_allclose(reference_logits, fused_logits, rtol=1e-3, atol=1e-4)  # eval mode too
    assert np.mean(fused_losses[-4:]) < np.mean(fused_losses[:4])  # and it learned


def test_reference_mode_runs_the_references():
    """The switch is real: the graph built in reference mode has no fused node."""
    model = models.build("cnn", (1, 8, 8), 10)
    images = gn.randn(4, 1, 8, 8)

    def op_names(output):
        names, stack, seen = set(), [output.grad_fn], set()
        while stack:
            node = stack.pop()
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            names.add(node.name())
            stack.extend(fn for fn, _ in node.next_functions)
        return names

    fused = op_names(gn.nn.functional.cross_entropy(model(images), gn.tensor([0, 1, 2, 3])))
    with gn.reference_ops():
        reference = op_names(gn.nn.functional.cross_entropy(model(images), gn.tensor([0, 1, 2, 3])))
    assert {"Conv2dBackward", "CrossEntropyBackward"} <= fused
    assert not {"Conv2dBackward", "CrossEntropyBackward", "BatchNormBackward", "MaxPool2dBackward", "LinearBackward"} & reference
