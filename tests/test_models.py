"""The ready-made models: shapes, PyTorch-twin parity (same weights, same outputs and
gradients), and the causal property of the character transformer."""
import importlib.util
import pathlib

import numpy as np
import pytest
import torch

import glassnet as gn

_spec = importlib.util.spec_from_file_location("torch_twins", pathlib.Path(__file__).parents[1] / "bench" / "torch_twins.py")
torch_twins = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(torch_twins)


@pytest.mark.parametrize("name", ["mlp", "cnn", "lstm", "vit"])
def test_image_models_match_their_pytorch_twins(name):
    gn.seed(0)
    model = gn.models.build(name, (1, 28, 28), 10)
    twin = torch_twins.twin_of(name, model, (1, 28, 28), 10)  # strict load: same names and shapes
    model.eval()
    twin.eval()
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    ours = model(gn.tensor(x))
    theirs = twin(torch.from_numpy(x))
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-4, atol=1e-5)
    ours.sum().backward()
    theirs.sum().backward()
    grads = dict(twin.named_parameters())
    for key, parameter in model.named_parameters():
        np.testing.assert_allclose(parameter.grad, grads[key].grad.numpy(), rtol=1e-3, atol=1e-5, err_msg=key)


def test_gpt_matches_its_pytorch_twin():
    gn.seed(0)
    model = gn.models.gpt(30, context=16, dim=32, depth=2, heads=4)
    twin = torch_twins.twin_of("gpt", model, 30, 16, 32, 2, 4)
    tokens = np.random.default_rng(0).integers(0, 30, (2, 16))
    np.testing.assert_allclose(model(gn.tensor(tokens)).data, twin(torch.from_numpy(tokens)).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_gpt_is_causal_and_generates_from_its_vocabulary():
    gn.seed(0)
    model = gn.models.gpt(20, context=8, dim=16, depth=1, heads=2)
    tokens = np.random.default_rng(1).integers(0, 20, (1, 8))
    changed = tokens.copy()
    changed[0, -1] = (changed[0, -1] + 1) % 20
    before, after = model(gn.tensor(tokens)).data, model(gn.tensor(changed)).data
    np.testing.assert_array_equal(before[:, :-1], after[:, :-1])  # the past never sees the future
    assert not np.allclose(before[:, -1], after[:, -1])
    sample = model.generate(np.array([1, 2, 3]), 20, temperature=0.8, top_k=5)
    assert sample.shape == (23,) and sample.min() >= 0 and sample.max() < 20
    assert (sample[:3] == [1, 2, 3]).all()


def test_models_adapt_to_the_input_size_and_refuse_what_they_cannot_take():
    for name in ["mlp", "cnn", "lstm", "gru", "vit"]:
        assert gn.models.build(name, (1, 8, 8), 10)(gn.tensor(np.zeros((2, 1, 8, 8), np.float32))).shape == (2, 10)
    with pytest.raises(ValueError, match="lenet5"):
        gn.models.build("lenet5", (1, 8, 8), 10)
    with pytest.raises(ValueError, match="unknown image model 'resnet1000'"):
        gn.models.build("resnet1000", (1, 8, 8), 10)
    with pytest.raises(ValueError, match="longer than the context"):
        gn.models.gpt(10, context=4, dim=8, depth=1, heads=2)(gn.tensor(np.zeros((1, 5), np.int64)))
