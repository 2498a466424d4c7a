"""The folders are layers: imports go down them only, without cycles, and the training engine is a sub-layer
below the rest of training (module-level imports; an import inside a function is a deliberate late one)."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mnist1d"
# Lower layers first; a module may import its own layer and those before it. The engine (the speed
# machinery) is below the training core, which reads as a plain Lightning program on top of it.
LAYERS = ("dataset", "config", "models", "training.engine", "training", "sweeps", "reports", "apps", "cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imported(name: str) -> set[str]:
    """The project modules `name` imports at module level (`from package import module` names the module)."""
    found = set()
    for node in ast.parse(MODULES[name].read_text()).body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & set(MODULES)
            found |= submodules or {node.module}
    return (found & set(MODULES)) - {name, "mnist1d"}


def layer(name: str) -> str:
    if name == "mnist1d.cli":
        return "cli"
    for candidate in sorted(LAYERS, key=len, reverse=True):
        if name.startswith(f"mnist1d.{candidate}.") or name == f"mnist1d.{candidate}":
            return candidate
    return "dataset"  # the top-level modules: the reference's API and what every layer shares


GRAPH = {name: imported(name) for name in MODULES}


def test_no_module_imports_itself_back():
    graphlib.TopologicalSorter(GRAPH).prepare()  # raises CycleError naming the cycle


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_go_down_the_layers(name):
    upward = [other for other in GRAPH[name] if LAYERS.index(layer(other)) > LAYERS.index(layer(name))]
    assert not upward, f"{name} ({layer(name)}) imports a higher layer: {upward}"
