"""What the inspect modules share: figures that leave matplotlib's backend alone, helpers
taken from one module by their public names, and one clear message when an extra is missing."""
import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet.extras import MissingExtra
from glassnet.inspect import adversarial, embedding, errors, layers, plots

INSPECT = Path(layers.__file__).parent
INSTALL = "pip install 'glassnet[inspect]'"


def _python(code, **env):
    """Run ``code`` in a fresh interpreter (the environment's, plus ``env``); its stdout."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, **env})
    assert result.returncode == 0, result.stderr
    return result.stdout


# -- figures ------------------------------------------------------------------------------------

def test_drawing_leaves_the_users_backend_alone_and_never_imports_pyplot():
    code = """if True:
        import json, sys
        import numpy as np
        import matplotlib
        before = matplotlib.get_backend()
        from glassnet.inspect import errors, plots
        fig = errors.plot_confusion(np.array([[3, 1], [0, 4]]), ["cat", "dog"])
        png = plots.to_png(fig)
        grid = plots.image_grid(np.zeros((3, 4, 4)), titles="abc")
        print(json.dumps({"pyplot": "matplotlib.pyplot" in sys.modules, "before": before,
                          "after": matplotlib.get_backend(), "png": png[1:4].decode()}))
    """
    seen = json.loads(_python(code, MPLBACKEND="svg"))
    assert seen == {"pyplot": False, "before": "svg", "after": "svg", "png": "PNG"}


def test_a_figure_and_its_axes_as_subplots_gives_them(tmp_path):
    fig, axis = plots.figure(3, 2)
    assert tuple(fig.get_size_inches()) == (3, 2) and axis in fig.axes
    fig, axes = plots.figure(4, 2, nrows=2, ncols=3, squeeze=False)
    assert axes.shape == (2, 3) and len(fig.axes) == 6
    path = plots.save(fig, tmp_path / "grid.png")
    assert Path(path).read_bytes()[1:4] == b"PNG"


# -- helpers, shared by their public names -------------------------------------------------------

def _private_imports(path):
    """``from .x import _name`` (or ``from glassnet.inspect.x import _name``) in one file, and
    ``x._name`` on a sibling module ``x`` bound by ``from . import x``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found, siblings = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("glassnet")):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"from {'.' * node.level}{node.module or ''} import {alias.name}")
                if node.level == 1 and node.module is None:
                    siblings.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in siblings
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            found.append(f"{node.value.id}.{node.attr}")
    return found


def test_no_inspect_module_takes_a_private_name_from_another():
    offenders = {path.name: _private_imports(path) for path in sorted(INSPECT.glob("*.py"))}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_checker_sees_a_private_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from .errors import _labels, predict_proba\nfrom . import features\nfeatures._called(1, 2)\n")
    assert _private_imports(sample) == ["from .errors import _labels", "features._called"]


def test_the_shared_helpers_describe_layers_and_check_labels():
    model = gn.nn.Sequential(gn.nn.Conv2d(1, 2, 3), gn.nn.ReLU(), gn.nn.Flatten(), gn.nn.Linear(72, 3))
    assert layers.layers_of_type(model, gn.nn.Conv2d) == ["0"]
    assert layers.layers_of_type(model, layers.ACTIVATIONS) == ["1"]
    mobile = gn.nn.Sequential(gn.nn.Linear(4, 4), gn.nn.Hardswish(), gn.nn.Linear(4, 4), gn.nn.ReLU6(inplace=True))
    assert layers.layers_of_type(mobile, layers.ACTIVATIONS) == ["1", "3"]  # every activation, not only ReLU's kin
    assert layers.describe_layers(model) == "0 (Conv2d), 1 (ReLU), 2 (Flatten), 3 (Linear)"
    assert layers.describe_model(model, "Sequential") == "Sequential"
    assert layers.describe_model(model, "cnn") == "cnn (Sequential)"
    assert layers.check_labels([2, 0], 2).dtype == np.int64
    with pytest.raises(ValueError, match=r"labels must be 3 class indices \(integers, shape \(3,\)\), got float64"):
        layers.check_labels(np.zeros(3), 3)
    # predict_proba is also where it was (errors.predict_proba) and in glassnet.inspect
    assert errors.predict_proba is layers.predict_proba is gn.inspect.predict_proba


# -- the extras ---------------------------------------------------------------------------------

def test_without_matplotlib_importing_inspect_is_one_clear_error():
    code = """if True:
        import sys
        sys.modules["matplotlib"] = None  # as if it were not installed
        import glassnet as gn
        gn.nn.Linear(2, 2)  # the core works without it
        try:
            import glassnet.inspect
        except ImportError as error:
            print(type(error).__module__, type(error).__name__, error, sep="|")
    """
    module, kind, message = _python(code).strip().split("|")
    assert (module, kind) == ("glassnet.extras", "MissingExtra")
    assert message == f"drawing glassnet.inspect's figures needs matplotlib, which is not installed: {INSTALL}"


def test_layers_built_in_place_do_not_overwrite_what_a_tool_recorded():
    model = gn.nn.Sequential(gn.nn.Linear(3, 4), gn.nn.ReLU(inplace=True), gn.nn.Linear(4, 2))
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    _, found = layers.capture(model, x, ["0"])
    np.testing.assert_array_equal(found["0"], model[0](gn.tensor(x)).detach().numpy())  # negatives kept
    assert model[1].inplace  # restored
    with layers.inspecting(model):
        assert not model[1].inplace
    assert model[1].inplace


def _without(monkeypatch, package):
    """Make ``package`` (and every submodule of it) fail to import until the test ends."""
    for name in [name for name in sys.modules if name.startswith(package + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, package, None)


def test_without_scikit_learn_the_tools_that_use_it_say_so(monkeypatch):
    _without(monkeypatch, "sklearn")
    message = f"the confusion matrix needs sklearn, which is not installed: {INSTALL}"
    with pytest.raises(MissingExtra, match=f"^{re.escape(message)}$"):
        errors.confusion([0, 1], [1, 1], num_classes=2)
    with pytest.raises(MissingExtra, match=r"^per-class precision and recall needs sklearn"):
        errors.per_class_report([0, 1], [1, 1], ["a", "b"])
    with pytest.raises(MissingExtra, match=r"^PCA needs sklearn"):
        embedding.embed(np.zeros((4, 3)))
    with pytest.raises(MissingExtra, match=r"^the separation score needs sklearn"):
        embedding.separation(np.zeros((4, 2)), np.array([0, 0, 1, 1]))
    # the tools that need no scikit-learn still work
    assert errors.confident_mistakes(np.array([[0.9, 0.1]]), [1])[0].tolist() == [0]


def test_without_scipy_rotations_and_shifts_say_so(monkeypatch):
    _without(monkeypatch, "scipy")
    with pytest.raises(MissingExtra, match=r"^rotating images needs scipy, which is not installed"):
        adversarial.rotate(np.zeros((1, 1, 4, 4)), 10)
    with pytest.raises(MissingExtra, match=r"^shifting images needs scipy"):
        adversarial.shift(np.zeros((1, 1, 4, 4)), 1)
