"""glassnet.extras: an optional module that is missing is named in one clear message, with the
command that installs it."""
import importlib
import sys

import pytest

from glassnet.extras import MissingExtra, require

INSTALL = "pip install 'glassnet[inspect]'"


def test_an_installed_module_is_returned():
    assert require("json", "reading histories") is importlib.import_module("json")
    assert require("sklearn.metrics", "the confusion matrix") is importlib.import_module("sklearn.metrics")


def test_a_missing_module_says_what_needs_it_and_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # None in sys.modules makes the import fail
    monkeypatch.delitem(sys.modules, "sklearn.metrics", raising=False)  # imported by an earlier test
    with pytest.raises(MissingExtra) as caught:
        require("sklearn.metrics", "the confusion matrix")
    assert str(caught.value) == f"the confusion matrix needs sklearn, which is not installed: {INSTALL}"
    assert caught.value.name == "sklearn"
    # the usual handlers still catch it
    assert isinstance(caught.value, ModuleNotFoundError) and isinstance(caught.value, ImportError)


def test_the_message_names_the_module_that_is_absent_not_the_one_asked_for(monkeypatch):
    # scikit-learn present, its SciPy not: the message says scipy
    def import_module(name):
        raise ModuleNotFoundError("No module named 'scipy'", name="scipy")

    monkeypatch.setattr(importlib, "import_module", import_module)
    with pytest.raises(MissingExtra, match=r"^t-SNE needs scipy, which is not installed: pip install"):
        require("sklearn.manifold", "t-SNE")


def test_another_extra_can_be_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtra, match=r"pip install 'glassnet\[plots\]'$"):
        require("matplotlib", "drawing", extra="plots")


def test_extras_imports_nothing_from_glassnet():
    import ast
    import glassnet.extras

    tree = ast.parse(open(glassnet.extras.__file__, encoding="utf-8").read())
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    imported += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    relative = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level]
    assert not relative and not [name for name in imported if name.startswith("glassnet")]
