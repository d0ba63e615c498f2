"""Shared test helpers.

PyTorch is the oracle for parity tests: it is imported here, lazily, and never by
glassnet itself. Helpers are fixtures because the suite runs with
``--import-mode=importlib``, where test modules cannot import ``conftest``.
"""
import numpy as np
import pytest

import glassnet as gn

# float32 tolerances for parity with PyTorch: both compute in float32, so results
# differ only by rounding order.
RTOL, ATOL = 1e-5, 1e-6


def _torch():
    import torch

    torch.set_num_threads(1)  # tiny tensors: threads only add overhead and nondeterminism
    return torch


def check_torch_parity(gn_fn, torch_fn, *arrays, rtol=RTOL, atol=ATOL, grad_rtol=None, grad_atol=None, seed=0):
    """Run ``gn_fn`` on glassnet tensors and ``torch_fn`` on torch tensors made from the same
    arrays; compare the outputs, then backpropagate the same random upstream gradient
    through both and compare the gradient of every floating-point input.

    Returns the glassnet inputs and output, for further checks.
    """
    torch = _torch()
    gn_inputs = [gn.tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in arrays]
    torch_inputs = [torch.tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in arrays]
    out = gn_fn(*gn_inputs)
    expected = torch_fn(*torch_inputs)

    assert out.shape == tuple(expected.shape)
    assert out.dtype == np.dtype(str(expected.dtype).removeprefix("torch."))
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=rtol, atol=atol, err_msg="forward")

    if not expected.requires_grad:
        return gn_inputs, out
    upstream = np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    for i, (mine, theirs) in enumerate(zip(gn_inputs, torch_inputs)):
        if not theirs.requires_grad:
            continue
        assert mine.grad is not None, f"input {i} received no gradient"
        assert mine.grad.shape == mine.shape and mine.grad.dtype == mine.dtype
        np.testing.assert_allclose(
            mine.grad, theirs.grad.numpy(), rtol=grad_rtol or rtol, atol=grad_atol or atol,
            err_msg=f"gradient of input {i}",
        )
    return gn_inputs, out


@pytest.fixture
def torch_parity():
    """``torch_parity(gn_fn, torch_fn, *arrays, rtol=..., atol=...)``: see :func:`check_torch_parity`."""
    return check_torch_parity


def copy_weights(gn_module, torch_module):
    """Load a torch module's weights into the glassnet module with the same architecture."""
    gn_module.load_state_dict({k: v.detach().numpy() for k, v in torch_module.state_dict().items()})
    return gn_module


@pytest.fixture
def load_torch_weights():
    """``load_torch_weights(gn_module, torch_module)``: copy torch's weights into glassnet's."""
    return copy_weights


def _train_on_digits(model_name, epochs, tmp_path_factory):
    """Train ``model_name`` on the 8x8 digits through the CLI's code path and return the run
    folder (checkpoint + history.jsonl), as a user's ``glassnet train --save`` leaves it."""
    from glassnet import cli

    directory = tmp_path_factory.mktemp(f"run-{model_name}")
    code = cli.main(["train", "--model", model_name, "--dataset", "digits", "--epochs", str(epochs),
                     "--batch-size", "32", "--seed", "0", "--progress", "off",
                     "--save", str(directory / "model.safetensors")])
    assert code == 0
    return directory


@pytest.fixture(scope="session")
def digits_cnn_run(tmp_path_factory):
    """A run folder with the ``cnn`` trained 10 epochs on the 8x8 digits (about 97% test accuracy)."""
    return _train_on_digits("cnn", 10, tmp_path_factory)


@pytest.fixture(scope="session")
def digits_mlp_run(tmp_path_factory):
    """A run folder with the ``mlp`` trained 10 epochs on the 8x8 digits."""
    return _train_on_digits("mlp", 10, tmp_path_factory)


@pytest.fixture
def offline_data(tmp_path, monkeypatch):
    """The data-set loaders see no real $GLASSNET_DATA, an empty cache, and no network
    (a download attempt fails the test)."""
    from glassnet.data import datasets

    monkeypatch.delenv("GLASSNET_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def no_network(url):
        raise AssertionError(f"a test tried to download {url}")

    monkeypatch.setattr(datasets, "_open_url", no_network)
    monkeypatch.setattr(datasets, "_decoded", {})


_lab_findings = {}


@pytest.fixture(scope="session")
def lab_finding():
    """``lab_finding(name)``: the :class:`glassnet.lab.claims.Finding` of that claim's quick
    run, computed once a session (each claim's test and the lab page's test share it)."""
    from glassnet.lab.claims import run  # the real one, even where a test patches claims.run

    def finding(name):
        if name not in _lab_findings:
            _lab_findings[name] = run(name, quick=True, seed=0)
        return _lab_findings[name]

    return finding


@pytest.fixture
def lab_on_digits(monkeypatch):
    """The lab's shared network (``claims.trained``) trained on the 8x8 digits, as on a
    machine without Fashion-MNIST."""
    from glassnet.lab import claims

    original = claims.trained
    monkeypatch.setattr(claims, "trained", lambda model="cnn", dataset="fashion-mnist", **options:
                        original(model, "digits", **options))


@pytest.fixture
def split_threads(monkeypatch):
    """Call it to make glassnet.threads split even the smallest work: blocks of one byte at
    least, over three threads, so that the blocks come out uneven (undone after the test)."""
    import glassnet.threads

    def split():
        monkeypatch.setattr(glassnet.threads, "MIN_BLOCK_BYTES", 1)
        monkeypatch.setattr(glassnet.threads, "MIN_JOB_BYTES", 1)
        monkeypatch.setattr(glassnet.threads, "_threads", 3)
        monkeypatch.setattr(glassnet.threads, "_pool", None)
    return split
