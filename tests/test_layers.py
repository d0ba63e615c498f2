"""glassnet's layers stand in one order, and a lower layer never imports a higher one.

The order (STYLE.md, LAYOUT.md), from the bottom:

0. the core: tensor, ops, autograd and the modules beside them;
1. nn, optim, models (built on nn) and serialization;
2. data, and utils (``utils.data`` is ``data`` by PyTorch's name);
3. train;
4. inspect;
5. lab (experiments that train and compare models);
6. cli.

``glassnet/__init__.py`` may import anything. Every import counts, at module level or
inside a function: a lazy import against the order is still an inversion, it only fails
later. Cycles are looked for among module-level imports, the ones that run on import;
the core alone may have them (tensor and ops need each other).
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

import glassnet

ROOT = Path(glassnet.__file__).parent
LAYERS = [
    ("core", ["tensor", "ops", "autograd", "dtypes", "creation", "functions", "device", "size", "backend", "random",
              "return_types", "gradcheck", "threads",
              "compiled",  # the numba kernels beside ops' NumPy passes; it imports only backend
              "extras"]),  # optional third-party imports with a clear error; it imports nothing of glassnet
    ("nn and optim", ["nn", "optim", "models", "serialization"]),
    ("data", ["data", "utils"]),
    ("train", ["train", "onnx", "distributed"]),
    ("inspect", ["inspect"]),
    ("lab", ["lab"]),
    ("cli", ["cli"]),
]
LAYER_OF = {part: (level, name) for level, (name, parts) in enumerate(LAYERS) for part in parts}
HEAVY = ["matplotlib", "sklearn", "scipy", "pandas", "PIL"]  # what only drawing, the baselines and own data need


def module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def is_package(module):
    return MODULES[module].name == "__init__.py"


def layer(module):
    """(level, name) of a glassnet module; the root package stands above every layer."""
    parts = module.split(".")
    if len(parts) == 1:
        return len(LAYERS), "glassnet/__init__"
    if parts[1] not in LAYER_OF:
        raise AssertionError(f"{module} is in no layer: add {parts[1]!r} to LAYERS in {__file__}")
    return LAYER_OF[parts[1]]


def resolve(importer, node):
    """The glassnet modules an import statement loads (with the packages above them that
    lie outside the importer's own package, whose __init__ runs first)."""
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        if node.level:
            package = importer if is_package(importer) else importer.rpartition(".")[0]
            base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
            source = f"{base}.{node.module}" if node.module else base
        else:
            source = node.module
        # `from . import x` loads the submodule x when there is one, else it reads a name of the package
        targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in MODULES else source
                   for alias in node.names]
    found = []
    for target in targets:
        if target.split(".")[0] != "glassnet":
            continue
        parts = target.split(".")
        for end in range(2, len(parts) + 1):
            module = ".".join(parts[:end])
            if module in MODULES and not importer.startswith(module + ".") and module != importer:
                found.append(module)
        if target == "glassnet":
            found.append(target)
    return list(dict.fromkeys(found))


def imports(module):
    """[(imported module, line, at module level?)] for every glassnet import in ``module``."""
    found = []

    def walk(node, top_level):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.extend((target, child.lineno, top_level) for target in resolve(module, child))
            inside_function = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            walk(child, top_level and not inside_function)

    walk(ast.parse(MODULES[module].read_text(), str(MODULES[module])), True)
    return found


GRAPH = {module: imports(module) for module in MODULES}


def test_every_module_is_in_a_layer():
    for module in MODULES:
        layer(module)


def test_no_module_imports_a_higher_layer():
    inversions = []
    for module, found in GRAPH.items():
        if module == "glassnet":
            continue
        for target, line, top_level in found:
            (mine, my_name), (theirs, their_name) = layer(module), layer(target)
            if theirs > mine:
                where = "at module level" if top_level else "inside a function"
                inversions.append(f"{module} (layer {my_name}) imports {target} (layer {their_name}) "
                                  f"{where}, line {line}")
    assert not inversions, "imports against the order of the layers:\n" + "\n".join(inversions)


def cycles(graph):
    """One cycle from each strongly connected component with more than one module (or
    a module importing itself), found with Tarjan's algorithm, iteratively."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(graph[successor])))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in graph[node]:
                        components.append(component)
    return [path_back(graph, min(component), component) for component in components]


def path_back(graph, start, component):
    """The shortest path start -> ... -> start inside ``component`` (breadth first)."""
    previous, frontier = {}, [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in graph[node]:
                if successor not in component or successor in previous:
                    continue
                previous[successor] = node
                if successor == start:
                    path = [start]
                    while path[-1] != start or len(path) == 1:
                        path.append(previous[path[-1]])
                    return list(reversed(path))
                following.append(successor)
        frontier = following
    raise AssertionError(f"no cycle through {start}")


def test_the_cycle_finder_finds_cycles():
    graph = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": [], "e": ["e"]}
    assert sorted(cycles(graph)) == [["a", "b", "c", "a"], ["e", "e"]]
    assert cycles({"a": ["b"], "b": []}) == []


def test_no_import_cycle_outside_the_core():
    graph = {module: sorted({target for target, _, top_level in found if top_level})
             for module, found in GRAPH.items()}
    bad = [cycle for cycle in cycles(graph) if any(layer(module)[1] != "core" for module in cycle)]
    assert not bad, "module-level import cycles outside the core:\n" + "\n".join(" -> ".join(c) for c in bad)


@pytest.mark.parametrize("module", ["glassnet", "glassnet.cli"])
def test_importing_does_not_load_the_heavy_libraries(module):
    """The command line starts without matplotlib, scikit-learn, pandas and Pillow: only the
    commands that draw, fit baselines or read the user's own data import them."""
    code = f"import sys, {module}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == [], f"import {module} loads {', '.join(loaded)}"
