"""The lean core, installed for real: a fresh virtual environment with ``pip install
glassnet`` and none of the extras (no matplotlib, scikit-learn or SciPy) trains the
digits MLP, saves and evaluates it, and asking it for a picture is one clear error that
names the ``pip install`` command."""
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def core_env(tmp_path_factory):
    """A virtual environment holding glassnet's core install only (about 15 s: pip
    installs NumPy, safetensors, tqdm and threadpoolctl from the registry or its cache)."""
    home = tmp_path_factory.mktemp("core-venv")
    venv.create(home, with_pip=True)
    python = home / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    installed = subprocess.run([python, "-m", "pip", "install", "-q", "-e", str(REPO)], capture_output=True, text=True,
                               env=env, timeout=600)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return python, env


def _run(core_env, *args, cwd):
    python, env = core_env
    return subprocess.run([python, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def test_the_core_install_has_no_extras(core_env, tmp_path):
    result = _run(core_env, "-c", "import importlib.util as u; print([m for m in ('matplotlib', 'sklearn', 'scipy', "
                  "'torch', 'numba') if u.find_spec(m)])", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_without_numba_the_numpy_kernels_run(core_env, tmp_path):
    """The ops that have compiled kernels (the ``fast`` extra) fall back to NumPy's passes."""
    script = ("import numpy as np, glassnet as gn\n"
              "from glassnet import compiled\n"
              "x = gn.tensor(np.linspace(-3, 3, 24, dtype=np.float32).reshape(2, 3, 4), requires_grad=True)\n"
              "out, _ = gn.nn.LSTM(4, 5)(gn.nn.functional.gelu(x).tanh().sigmoid())\n"
              "out.sum().backward()\n"
              "print(compiled.enabled(), out.dtype, bool(np.isfinite(x.grad.numpy()).all()))")
    result = _run(core_env, "-c", script, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "float32", "True"]


def test_the_core_install_trains_saves_and_evaluates_the_digits_mlp(core_env, tmp_path):
    script = Path(core_env[0]).parent / "glassnet"
    trained = _run(core_env, str(script), "train", "--model", "mlp", "--dataset", "digits", "--epochs", "5",
                   "--batch-size", "32", "--seed", "0", "--save", "run/model.safetensors", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    accuracy = float(re.search(r"final test accuracy: ([\d.]+)%", trained.stdout).group(1))
    assert accuracy > 90
    evaluated = _run(core_env, str(script), "evaluate", "--load", "run/model.safetensors", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    assert f"accuracy {accuracy:.2f}%" in evaluated.stdout
    pictures = _run(core_env, str(script), "inspect", "run", "--what", "filters", cwd=tmp_path)
    assert pictures.returncode == 1
    assert pictures.stderr.strip().splitlines() == [
        "glassnet: error: drawing glassnet.inspect's figures needs matplotlib, which is not installed: "
        "pip install 'glassnet[inspect]'"]
