"""Specification of Embedding: a lookup whose gradient adds back onto the rows it read,
the padding row that never trains, parity with PyTorch, and clear errors for bad indices."""
import numpy as np
import pytest
import torch

import glassnet as gn
from glassnet.nn.functional import embedding
from glassnet.nn.sparse import Embedding

# (name, constructor arguments, indices): repeated indices must accumulate
CASES = [
    ("vector", dict(num_embeddings=6, embedding_dim=3), [1, 4, 1, 0]),
    ("batch_of_sequences", dict(num_embeddings=6, embedding_dim=3), [[0, 5, 5], [2, 2, 2]]),
    ("padding_idx", dict(num_embeddings=6, embedding_dim=3, padding_idx=0), [[0, 1, 0], [3, 0, 1]]),
    ("negative_padding_idx", dict(num_embeddings=6, embedding_dim=3, padding_idx=-1), [[5, 1], [5, 2]]),
    ("scalar_index", dict(num_embeddings=6, embedding_dim=3), 4),
]
IDS = [case[0] for case in CASES]


@pytest.mark.parametrize("name, kwargs, indices", CASES, ids=IDS)
def test_embedding_matches_pytorch(name, kwargs, indices, load_torch_weights):
    torch.manual_seed(0)
    theirs = torch.nn.Embedding(**kwargs)
    mine = load_torch_weights(Embedding(**kwargs), theirs)
    assert mine.padding_idx == theirs.padding_idx
    index_array = np.asarray(indices, dtype=np.int64)
    out, expected = mine(gn.tensor(index_array)), theirs(torch.from_numpy(index_array))
    assert out.shape == tuple(expected.shape) and out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy(), expected.detach().numpy())

    upstream = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(mine.weight.grad, theirs.weight.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_embedding_gradcheck():
    # without padding_idx: the padding row is read like any other but, by design, never trained
    layer = Embedding(5, 3).double()
    indices = gn.tensor([[0, 2, 4], [4, 4, 1]])
    assert gn.gradcheck(lambda weight: layer(indices), [layer.weight])


def test_embedding_gradient_adds_up_repeated_rows_and_skips_padding():
    layer = Embedding(4, 2, padding_idx=3)
    layer(gn.tensor([1, 1, 3, 0, 1])).sum().backward()
    np.testing.assert_array_equal(layer.weight.grad, [[1, 1], [3, 3], [0, 0], [0, 0]])


def test_embedding_init_is_standard_normal_with_a_zero_padding_row():
    gn.seed(0)
    layer = Embedding(1000, 64, padding_idx=7)
    weight = layer.weight.numpy()
    assert weight.shape == (1000, 64) and weight.dtype == np.float32 and layer.weight.requires_grad
    np.testing.assert_array_equal(weight[7], 0)
    assert abs(weight.mean()) < 0.01 and weight.std() == pytest.approx(1.0, abs=0.01)


def test_embedding_state_dict_and_repr_as_pytorch():
    for kwargs in [dict(num_embeddings=10, embedding_dim=3), dict(num_embeddings=10, embedding_dim=3, padding_idx=-2)]:
        mine, theirs = Embedding(**kwargs), torch.nn.Embedding(**kwargs)
        assert repr(mine) == repr(theirs)
        assert {k: v.shape for k, v in mine.state_dict().items()} == {k: tuple(v.shape) for k, v in theirs.state_dict().items()}


def test_functional_embedding():
    weight = gn.tensor(np.arange(12, dtype=np.float32).reshape(4, 3), requires_grad=True)
    out = embedding(np.array([[3, 0]]), weight, padding_idx=0)
    np.testing.assert_array_equal(out.numpy(), [[[9, 10, 11], [0, 1, 2]]])
    out.sum().backward()
    np.testing.assert_array_equal(weight.grad, [[0, 0, 0], [0, 0, 0], [0, 0, 0], [1, 1, 1]])


def test_embedding_index_out_of_range_names_layer_index_and_size():
    layer = Embedding(10, 3)
    with pytest.raises(ValueError, match=r"Embedding\(10, 3\): index 10 is out of range .* 10 rows .*0\.\.9"):
        layer(gn.tensor([[1, 10, 2]]))
    with pytest.raises(ValueError, match=r"index -1 is out of range"):
        layer(gn.tensor([-1, 0]))
    with pytest.raises(ValueError, match=r"embedding: index 4 is out of range .* 4 rows"):
        embedding(np.array([4]), gn.tensor(np.zeros((4, 2), np.float32)))


def test_embedding_bad_arguments():
    with pytest.raises(TypeError, match=r"Embedding\(10, 3\): indices must be integers.*float32.*astype"):
        Embedding(10, 3)(gn.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="padding_idx 10 must be within the 10 rows"):
        Embedding(10, 3, padding_idx=10)
    with pytest.raises(ValueError, match="positive"):
        Embedding(0, 3)
