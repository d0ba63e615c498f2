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
    gn.save(model.state_dict(), tmp_path / "bn.safetensors")
    loaded = gn.load(tmp_path / "bn.safetensors")
    assert loaded["1.num_batches_tracked"].shape == () and loaded["1.num_batches_tracked"].dtype == np.int64
    other = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
    gn.load(tmp_path / "bn.safetensors", other)
    np.testing.assert_array_equal(other[1].running_mean.data, model[1].running_mean.data)


# -- PyTorch's way: gn.save(obj, path), obj = gn.load(path) ----------------------------------


def outputs(model, shape=(3, 1, 8, 8)):
    model.eval()
    return model(gn.tensor(np.random.default_rng(0).random(shape, dtype=np.float32))).numpy()


def test_state_dict_round_trips_as_the_same_dict(tmp_path):
    model = small_model()
    gn.save(model.state_dict(), tmp_path / "sd.safetensors")
    loaded = gn.load(tmp_path / "sd.safetensors")
    assert list(loaded) == list(model.state_dict())
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(np.asarray(loaded[name]), np.asarray(array), err_msg=name)
    other = small_model()
    other.load_state_dict(loaded)  # as torch code does: model.load_state_dict(torch.load(path))
    np.testing.assert_array_equal(outputs(other), outputs(model))


def test_nested_checkpoint_round_trips(tmp_path):
    model = small_model()
    optimizer = gn.optim.Adam(model.parameters(), lr=1e-3)
    (model(gn.tensor(np.ones((2, 1, 8, 8), dtype=np.float32))) ** 2).mean().backward()
    optimizer.step()
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3, "best": 0.25,
                  "note": "after warm-up", "done": False, "history": [1.5, 1.25], "pair": (1, None),
                  "tensor": gn.tensor([1.0, 2.0])}
    gn.save(checkpoint, tmp_path / "ckpt.safetensors")
    loaded = gn.load(tmp_path / "ckpt.safetensors", map_location="cpu", weights_only=True)
    assert set(loaded) == set(checkpoint)
    assert (loaded["epoch"], loaded["best"], loaded["note"], loaded["done"]) == (3, 0.25, "after warm-up", False)
    assert loaded["history"] == [1.5, 1.25] and loaded["pair"] == (1, None)
    assert isinstance(loaded["tensor"], gn.Tensor) and loaded["tensor"].numpy().tolist() == [1.0, 2.0]
    assert loaded["optimizer"]["param_groups"] == optimizer.state_dict()["param_groups"]
    assert set(loaded["optimizer"]["state"]) == {0, 1, 2, 3}  # integer keys stay integers
    resumed = small_model()
    resumed.load_state_dict(loaded["model"])
    resumed_optimizer = gn.optim.Adam(resumed.parameters(), lr=1e-3)
    resumed_optimizer.load_state_dict(loaded["optimizer"])
    np.testing.assert_array_equal(outputs(resumed), outputs(model))
    # its arrays are plain safetensors tensors, named by their path of keys
    from safetensors.numpy import load_file
    assert "model.1.weight" in load_file(tmp_path / "ckpt.safetensors")


def test_whole_sequential_round_trips_with_its_architecture(tmp_path):
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10, bias=False))
    model[1].weight.requires_grad = False  # a frozen layer stays frozen, as with torch.save(model)
    model.eval()  # and the mode stays
    gn.save(model, tmp_path / "whole.safetensors")
    loaded = gn.load(tmp_path / "whole.safetensors")
    assert type(loaded) is nn.Sequential and repr(loaded) == repr(model)
    assert not loaded.training and not loaded[1].weight.requires_grad and loaded[3].weight.requires_grad
    np.testing.assert_array_equal(outputs(loaded), outputs(model))
    # the weights alone load into a model built in code, and PyTorch reads them by their names
    np.testing.assert_array_equal(outputs(gn.load(tmp_path / "whole.safetensors", small_model_without_bias())), outputs(model))


def small_model_without_bias():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10, bias=False))


@pytest.mark.parametrize("build", [
    lambda: gn.models.cnn((1, 8, 8), 10, channels=(4, 8), hidden=16),
    lambda: gn.models.vit((1, 8, 8), 10, patch_size=4, dim=16, depth=1, heads=2, mlp_dim=16),
    lambda: gn.models.lstm((1, 8, 8), 10),
], ids=["cnn", "vit", "lstm"])
def test_whole_model_networks_round_trip(build, tmp_path):
    gn.seed(0)
    model = build()
    gn.save(model, tmp_path / "model.safetensors")
    loaded = gn.load(tmp_path / "model.safetensors")
    assert type(loaded) is type(model) and repr(loaded) == repr(model)
    np.testing.assert_allclose(outputs(loaded), outputs(model), rtol=1e-6)


class UserNet(nn.Module):
    """A user's own network: keyword arguments, a dtype, a nested module."""

    def __init__(self, hidden, head, scale=1.0, dtype=gn.dtypes.float32):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.Tanh())
        self.head, self.scale, self.dtype = head, scale, dtype

    def forward(self, x):
        return self.head(self.body(x)) * self.scale


def test_user_module_loads_only_when_allowed(tmp_path):
    model = UserNet(12, nn.Linear(12, 3), scale=2.0, dtype=gn.dtypes.float64)
    gn.save(model, tmp_path / "user.safetensors")
    with pytest.raises(ValueError) as error:
        gn.load(tmp_path / "user.safetensors")
    message = str(error.value)
    assert f"{UserNet.__module__}.UserNet" in message and "safe_globals([" in message
    assert isinstance(error.value, __import__("pickle").UnpicklingError)  # what torch.load raises for it
    with gn.serialization.safe_globals([UserNet]):
        loaded = gn.load(tmp_path / "user.safetensors")
    assert type(loaded) is UserNet and loaded.scale == 2.0 and loaded.dtype == gn.dtypes.float64
    np.testing.assert_array_equal(outputs(loaded), outputs(model))
    with pytest.raises(ValueError, match="safe_globals"):  # the permission ended with the block
        gn.load(tmp_path / "user.safetensors")
    # the weights alone need no permission
    other = gn.load(tmp_path / "user.safetensors", UserNet(12, nn.Linear(12, 3), scale=2.0))
    np.testing.assert_array_equal(outputs(other), outputs(model))
    try:
        gn.serialization.add_safe_globals([UserNet])
        assert type(gn.load(tmp_path / "user.safetensors")) is UserNet
    finally:
        gn.serialization.clear_safe_globals()


def test_module_with_arguments_a_file_cannot_hold_says_to_save_the_state_dict(tmp_path):
    class WithArray(nn.Module):
        def __init__(self, table):
            super().__init__()
            self.linear = nn.Linear(2, 2)

    with pytest.raises(TypeError, match=r"save\(model.state_dict\(\), path\)"):
        gn.save(WithArray(np.zeros(3)), tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="cannot store a function .at 'fn'.*no pickle"):
        gn.save({"fn": lambda x: x}, tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


def test_class_names_outside_glassnet_are_never_imported(tmp_path, monkeypatch):
    # a file claiming os.system as a "module": refused before anything is imported or called
    from safetensors.numpy import save_file
    import json
    node = {"__nn_module__": {"class": "os:system", "args": ["touch pwned"], "kwargs": {}}}
    save_file({}, tmp_path / "evil.safetensors",
              metadata={"glassnet": json.dumps({"format": "glassnet/1", "object": node})})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="not a glassnet class"):
        gn.load(tmp_path / "evil.safetensors")
    node["__nn_module__"]["class"] = "glassnet.serialization:os.system"  # reached through a glassnet module
    save_file({}, tmp_path / "evil.safetensors",
              metadata={"glassnet": json.dumps({"format": "glassnet/1", "object": node})})
    with pytest.raises(ValueError, match="not a Module class"):
        gn.load(tmp_path / "evil.safetensors")
    assert not (tmp_path / "pwned").exists()


def _make_marker(path):
    open(path, "w").close()


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return _make_marker, (self.marker,)


def test_pickle_file_is_refused_without_running_it(tmp_path):
    import pickle
    # the trap is real: unpickling the file creates the marker
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(_Payload(str(probe))))
    assert probe.exists()

    marker = tmp_path / "marker"
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        path = tmp_path / f"model{protocol}.pth"
        path.write_bytes(pickle.dumps({"weights": _Payload(str(marker))}, protocol=protocol))
        with pytest.raises(pickle.UnpicklingError, match="is a pickle file; glassnet never unpickles"):
            gn.load(path)
        with pytest.raises(ValueError, match="never unpickles"):
            gn.load(path, small_model())
    assert not marker.exists()


def test_pytorch_pt_zip_is_refused(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(ValueError, match=r"PyTorch \.pt/\.pth file .*safetensors\.torch import save_file"):
        gn.load(path)


def test_safetensors_written_by_pytorch_loads_as_a_state_dict(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file
    reference = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))
    save_file(reference.state_dict(), tmp_path / "torch.safetensors")
    model = small_model()
    model.load_state_dict(gn.load(tmp_path / "torch.safetensors"))
    x = np.random.default_rng(0).random((3, 1, 8, 8), dtype=np.float32)
    np.testing.assert_allclose(outputs(model), reference(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_map_location_cuda_and_a_checkpoint_into_a_model_are_clear_errors(tmp_path):
    gn.save({"model": small_model().state_dict(), "epoch": 1}, tmp_path / "ckpt.safetensors")
    assert gn.load(tmp_path / "ckpt.safetensors", "cpu")["epoch"] == 1  # torch.load(path, "cpu")
    with pytest.raises(RuntimeError, match="map_location='cuda'.*CPU"):
        gn.load(tmp_path / "ckpt.safetensors", map_location="cuda")
    with pytest.raises(ValueError, match=r"holds a checkpoint with keys \['model', 'epoch'\]"):
        gn.load(tmp_path / "ckpt.safetensors", small_model())


def test_building_modules_records_their_arguments_and_nothing_else():
    layer = nn.Linear(3, 4, bias=False)
    assert layer._init_args == ((3, 4), {"bias": False})
    model = UserNet(5, layer)
    assert model._init_args == ((5, layer), {})  # the outermost constructor's, not Module.__init__'s
    assert "_init_args" not in dict(model.named_parameters()) and "_init_args" not in model.state_dict()
