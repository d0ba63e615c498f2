"""Checkpoints: safetensors files that PyTorch can read, atomic writes, clear errors."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet import nn


def small_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))


def test_round_trip_restores_identical_weights(tmp_path):
    gn.seed(1)
    model = small_model()
    path = tmp_path / "model.safetensors"
    gn.save(model, path, metadata={"model": "small"})
    gn.seed(2)
    other = small_model()
    assert not np.array_equal(other[1].weight.data, model[1].weight.data)
    gn.load(path, other)
    for (name, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert gn.serialization.load_metadata(path) == {"model": "small"}


def test_file_is_plain_safetensors_with_pytorch_names(tmp_path):
    from safetensors.numpy import load_file

    model = small_model()
    gn.save(model, tmp_path / "m.safetensors")
    tensors = load_file(tmp_path / "m.safetensors")
    assert set(tensors) == {"1.weight", "1.bias", "3.weight", "3.bias"}
    assert tensors["1.weight"].shape == (16, 64) and tensors["1.weight"].dtype == np.float32


def test_pytorch_loads_the_weights_and_computes_the_same_outputs(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    model = small_model()
    gn.save(model, tmp_path / "m.safetensors")
    reference = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10)
    )
    reference.load_state_dict(load_file(tmp_path / "m.safetensors"))
    x = np.random.default_rng(0).random((4, 1, 8, 8), dtype=np.float32)
    np.testing.assert_allclose(model(gn.tensor(x)).data, reference(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_optimizer_state_resumes_the_same_trajectory(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 1, 8, 8), dtype=np.float32), rng.integers(0, 10, 32)

    def steps(model, optimizer, n):
        for _ in range(n):
            loss = nn.functional.cross_entropy(model(gn.tensor(x)), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    gn.seed(0)
    straight = small_model()
    straight_opt = gn.optim.Adam(straight.parameters(), lr=1e-2)
    steps(straight, straight_opt, 10)

    gn.seed(0)
    first = small_model()
    first_opt = gn.optim.Adam(first.parameters(), lr=1e-2)
    steps(first, first_opt, 5)
    gn.save(first, tmp_path / "ckpt.safetensors", optimizer=first_opt)
    resumed = small_model()
    resumed_opt = gn.optim.Adam(resumed.parameters(), lr=1e-2)
    gn.load(tmp_path / "ckpt.safetensors", resumed, optimizer=resumed_opt)
    steps(resumed, resumed_opt, 5)
    for a, b in zip(straight.parameters(), resumed.parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-6, atol=1e-7)


def test_loading_a_different_architecture_names_the_keys_and_shapes(tmp_path):
    gn.save(small_model(), tmp_path / "m.safetensors")
    wider = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10), nn.ReLU(), nn.Linear(10, 2))
    with pytest.raises(RuntimeError) as error:
        gn.load(tmp_path / "m.safetensors", wider)
    message = str(error.value)
    assert "m.safetensors" in message and "missing keys" in message and "5.weight" in message
    assert "1.weight" in message and "(16, 64)" in message and "(32, 64)" in message


def test_failed_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    model = small_model()
    gn.save(model, path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(gn.serialization, "save_file", broken)
    with pytest.raises(OSError):
        gn.save(small_model(), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.safetensors"]  # no temporary file left behind


def test_missing_and_corrupt_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        gn.load(tmp_path / "absent.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="not a readable safetensors checkpoint"):
        gn.load(bad)


def test_buffers_and_scalars_keep_their_shapes(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
    model(gn.tensor(np.random.default_rng(0).random((2, 1, 5, 5), dtype=np.float32)))  # updates running stats
    gn.save(model, tmp_path / "bn.safetensors")
    loaded = gn.load(tmp_path / "bn.safetensors")
    assert loaded["1.num_batches_tracked"].shape == () and loaded["1.num_batches_tracked"].dtype == np.int64
    other = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
    gn.load(tmp_path / "bn.safetensors", other)
    np.testing.assert_array_equal(other[1].running_mean.data, model[1].running_mean.data)
