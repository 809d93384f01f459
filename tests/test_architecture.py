"""The package's architecture, checked from its source and by counting what one call does.

* The import graph (drawn with ``ast`` from every module, package ``__init__`` files and the
  parent packages an import runs included) has no cycle, and no arrow runs back up the layers
  of :data:`LAYERS`.
* Function-local imports are only of optional or slow dependencies, each with a one-line
  reason on its line; no private name is imported from another module of the package.
* One call of the exact engine, of the spline detector or of a criterion walks the model's
  module tree once (``named_modules`` / ``modules`` / ``children`` called by the package).
"""

from __future__ import annotations

import ast
import collections
import importlib
import inspect
import pkgutil
import sys
import types
from pathlib import Path

import pytest
import torch
from torch import nn

import spline_utils as su

from .conftest import SmallResNet, random_bn_

PACKAGE = Path(su.__file__).resolve().parent

#: the layers of the package, from the ground floor up: a module may import from its own part
#: and from the parts below it, never from a part above
LAYERS = (
    ("checks", "records", "mode", "seeding", "statistics"),
    ("spline_view", "networks"),
    ("partition",),
    ("pruning",),
    ("early_bird",),
    ("experiments",),
    ("studies",),
    ("plotting",),
    ("chapter",),
    ("",),  # the package's own __init__ (it imports nothing at load time)
)
#: modules that sit in a higher layer than their folder, and why
MOVED_UP = {
    # the old import paths of the chapters' studies, kept as thin re-exports
    "spline_utils.experiments.fcnet_study": "studies",
    "spline_utils.experiments.digits_study": "studies",
}
#: the dependencies a function may import when called, not on import (optional, or slow)
LOCAL_IMPORTS_ALLOWED = {
    "IPython",
    "PIL",
    "ipywidgets",
    "myst_nb",
    "pandas",
    "scipy",
    "sklearn",
    "torch_pruning",
    "torchvision",
    "tqdm",
}


def _modules() -> dict[str, tuple[Path, bool]]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        modules[".".join(parts)] = (path, is_package)
    return modules


MODULES = _modules()


def _is_main_block(node: ast.AST) -> bool:
    """``if __name__ == "__main__":`` -- a script's code, which never runs on import."""
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
    )


def _imports(name: str):
    """``(node, targets, local)`` for every import statement of module ``name`` outside a
    ``__main__`` block: the package modules (or external top-level names) it imports, and
    whether it sits inside a function."""
    path, is_package = MODULES[name]
    tree = ast.parse(path.read_text())
    skipped, local = set(), set()
    for node in ast.walk(tree):
        if _is_main_block(node):
            skipped.update(id(n) for n in ast.walk(node))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            local.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in skipped or not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = []
            for alias in node.names:
                full = f"{module}.{alias.name}"
                targets.append(full if full in MODULES else module)
        yield node, targets, id(node) in local


def _graph() -> dict[str, set[str]]:
    """Module -> the package modules its imports run: each module imported, and the packages
    above it that are not the importer's own (Python runs their ``__init__`` first)."""
    graph = {name: set() for name in MODULES}
    for name in MODULES:
        for _, targets, _ in _imports(name):
            for target in targets:
                if target not in MODULES or target == name:
                    continue
                graph[name].add(target)
                parts = target.split(".")
                for cut in range(1, len(parts)):
                    parent = ".".join(parts[:cut])
                    if parent in MODULES and not (name + ".").startswith(parent + "."):
                        graph[name].add(parent)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def _layer(name: str) -> int:
    part = MOVED_UP.get(name, name.removeprefix("spline_utils").lstrip(".").split(".")[0])
    return next(i for i, parts in enumerate(LAYERS) if part in parts)


def test_import_graph_has_no_cycle():
    assert sys.getrecursionlimit() > len(MODULES)
    assert _cycles(_graph()) == []


def test_no_import_runs_back_up():
    upward = [
        f"{name} -> {target}"
        for name, targets in _graph().items()
        for target in targets
        if _layer(target) > _layer(name)
    ]
    assert upward == []


def test_every_module_has_a_layer():
    assert all(isinstance(_layer(name), int) for name in MODULES)


def test_function_local_imports_are_optional_dependencies_with_a_reason():
    offending = []
    for name, (path, _) in MODULES.items():
        lines = path.read_text().splitlines()
        for node, targets, local in _imports(name):
            if not local:
                continue
            top = {t.split(".")[0] for t in targets}
            reason = "#" in lines[node.lineno - 1]
            if not top <= LOCAL_IMPORTS_ALLOWED or not reason:
                offending.append(f"{name}:{node.lineno} {sorted(top)}")
    assert offending == []


def test_no_private_name_is_imported_across_modules():
    private = []
    for name in MODULES:
        for node, _, _ in _imports(name):
            if not isinstance(node, ast.ImportFrom):
                continue
            inside = node.level or (node.module or "").startswith("spline_utils")
            module_parts = [p for p in (node.module or "").split(".") if p]
            names = [a.name for a in node.names]
            bad = [n for n in names if n.startswith("_") and not n.startswith("__")]
            bad += [p for p in module_parts if p.startswith("_") and p != "__future__"]
            if inside and bad:
                private.append(f"{name}:{node.lineno} {bad}")
    assert private == []


# --------------------------------------------------------------------------- the public surface
def _defines(module: types.ModuleType, name: str) -> bool:
    for node in ast.parse(inspect.getsource(module)).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name == name:
                return True
        elif isinstance(node, ast.Assign):
            if any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                return True
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if node.target.id == name:
                return True
    return False


def expected_top_level() -> tuple[dict[str, str], dict[str, str]]:
    """The top-level tables the sub-packages' ``__all__`` give: public name -> the module that
    defines it, and public module name -> module (both relative to the package)."""
    everything = [
        info.name
        for info in pkgutil.walk_packages(su.__path__, "spline_utils.")
        if not info.name.endswith("__main__")
    ]
    names, modules = {}, {}
    for source in su.SOURCES:
        package = importlib.import_module(f"spline_utils.{source}")
        for name in package.__all__:
            value = getattr(package, name, None)
            if value is None or isinstance(value, types.ModuleType):
                value = value or importlib.import_module(f"spline_utils.{source}.{name}")
                modules[name] = value.__name__.removeprefix("spline_utils.")
                continue
            where = [getattr(value, "__module__", None)] + everything
            home = next(
                m
                for m in where
                if isinstance(m, str)
                and m.startswith("spline_utils")
                and getattr(importlib.import_module(m), name, None) is value
                and _defines(importlib.import_module(m), name)
            ).removeprefix("spline_utils.")
            assert names.get(name, home) == home, f"{name} is two things at the top level"
            names[name] = home
    return names, modules


def test_top_level_is_the_sub_packages_public_names():
    names, modules = expected_top_level()
    by_module = collections.defaultdict(list)
    for name, module in names.items():
        by_module[module].append(name)
    table = "\n".join(
        f"    {m!r}: {tuple(sorted(v, key=str.lower))!r}," for m, v in sorted(by_module.items())
    )
    assert su.NAMES == names, f"paste into spline_utils/__init__.py:\n_NAMES = {{\n{table}\n}}"
    assert {k: v for k, v in su.MODULES.items() if k not in su.SUBMODULES} == modules
    assert set(su.__all__) == set(names) | set(su.MODULES) | {"__version__"}


def test_the_chapters_top_level_names_still_resolve():
    # names the chapters and the old top level used, among them the module aliases
    for name in (
        "load_network",
        "train_network",
        "digits_tensors",
        "train_classifier",
        "criteria",
        "costs",
        "physical",
        "masks",
        "models",
        "pretrained",
        "explorer",
        "interactive",
        "results_files",
        "provenance",
        "fcnet_study",
        "digits_study",
        "statistics",
        "chapter",
        "split_labels",
    ):
        assert getattr(su, name) is not None
    from spline_utils import costs, criteria, digits_study, fcnet_study, physical  # noqa: F401
    from spline_utils.experiments.fcnet_study import x_data_split
    from spline_utils.experiments.provenance import read_json  # noqa: F401

    assert x_data_split is su.studies.fcnet_study.x_data_split


# --------------------------------------------------------------------------- walks of the model
class _WalkCounter:
    """Counts the calls of ``named_modules`` / ``modules`` / ``children`` made by the package."""

    def __init__(self, monkeypatch):
        self.calls = 0
        for method in ("named_modules", "modules", "children", "named_children"):
            original = getattr(nn.Module, method)
            monkeypatch.setattr(nn.Module, method, self._wrap(original))

    def _wrap(self, original):
        def counted(module, *args, **kwargs):
            if sys._getframe(1).f_code.co_filename.startswith(str(PACKAGE)):
                self.calls += 1
            return original(module, *args, **kwargs)

        return counted

    def count(self, fn) -> int:
        before = self.calls
        fn()
        return self.calls - before


def test_one_walk_per_call(monkeypatch):
    toy = su.load_network("toy_mlp")
    resnet = random_bn_(SmallResNet())
    plane = su.PlaneSlice.through([torch.randn(1, 8, 8) for _ in range(3)], seed=1)
    net = su.load_network("digits_convnet")
    detector = su.early_bird.SplineEBDetector(torch.rand(600, 1, 8, 8), window=2, batch_size=128)
    vgg = random_bn_(su.vgg((8, "M", 16, "M", 16)))
    counter = _WalkCounter(monkeypatch)
    assert counter.count(lambda: su.exact_partition(toy, (-5, 5, -5, 5))) == 1
    assert counter.count(lambda: su.exact_partition(resnet, (0, 1, 0, 1), slice=plane)) == 1
    for epoch in (1, 2):  # the first call checks the model; both walk it once
        assert counter.count(lambda epoch=epoch: detector(net, epoch)) == 1
    assert counter.count(lambda: su.unit_scores(vgg, "spline")) == 1


@pytest.mark.parametrize("name", ["spline_view", "pruning", "partition.exact"])
def test_sub_package_all_names_exist(name):
    package = importlib.import_module(f"spline_utils.{name}")
    for entry in package.__all__:
        assert hasattr(package, entry), f"{name}.__all__ names {entry}, which it lacks"
