"""The public surface of ``monitor.domain`` and the architecture rules of DESIGN.md."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

import monitor.domain

PACKAGE = Path(monitor.domain.__file__).parent.parent
DOMAIN_MODULES = [
    "pollutants",
    "aqi",
    "daily",
    "statistics",
    "water_quality",
    "units",
    "quality",
    "targets",
]


def _defined_public_names(path: Path) -> set[str]:
    """Functions, classes and UPPER_CASE constants defined at a module's top level."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper()}
    return {n for n in names if not n.startswith("_")}


@pytest.mark.parametrize("name", DOMAIN_MODULES)
def test_every_public_name_of_a_domain_module_is_in_its_all(name: str) -> None:
    """A domain module's ``__all__`` lists exactly its public functions, classes, constants."""
    module = importlib.import_module(f"monitor.domain.{name}")
    assert set(module.__all__) == _defined_public_names(PACKAGE / "domain" / f"{name}.py")


def test_domain_package_reexports_every_module_name() -> None:
    """``monitor.domain.__all__`` is the union of its modules' ``__all__``."""
    union = set()
    for name in DOMAIN_MODULES:
        union |= set(importlib.import_module(f"monitor.domain.{name}").__all__)
    assert set(monitor.domain.__all__) == union
    assert all(hasattr(monitor.domain, n) for n in union)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


ALLOWED_IN_DOMAIN = {"numpy", "numpy.typing", "pandas", "__future__"}
FORBIDDEN_IN_DOMAIN = {"logging", "os", "time", "socket", "requests", "sqlite3", "subprocess"}
#: The one exception, and why: the column thread pool asks ``os`` for nothing but the core
#: count and a hook that gives a forked child a pool of its own (no I/O, no environment).
OS_FOR_THE_THREAD_POOL = ("_threads.py", "os")


@pytest.mark.parametrize("path", sorted((PACKAGE / "domain").glob("*.py")), ids=lambda p: p.name)
def test_domain_imports_nothing_of_the_project_but_itself(path: Path) -> None:
    """Domain modules import only the standard library, numpy, pandas and monitor.domain."""
    for name in _imports(path):
        top = name.split(".")[0]
        if top == "monitor":
            assert name.startswith("monitor.domain"), f"{path.name} imports {name}"
        if (path.name, name) == OS_FOR_THE_THREAD_POOL:
            continue
        assert name not in FORBIDDEN_IN_DOMAIN, f"{path.name} imports {name} (no I/O in domain)"


def test_the_thread_pool_uses_os_only_for_the_core_count_and_the_fork_hook() -> None:
    """What ``OS_FOR_THE_THREAD_POOL`` allows is all ``_threads.py`` takes from ``os``."""
    tree = ast.parse((PACKAGE / "domain" / "_threads.py").read_text(encoding="utf-8"))
    used = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    }
    assert used == {"cpu_count", "register_at_fork"}


def test_collectors_registry_is_explicit() -> None:
    """The collector registry is a plain mapping declared in monitor.collectors."""
    from monitor.collectors import COLLECTORS

    assert isinstance(COLLECTORS, dict)
    assert all(isinstance(k, str) and inspect.isclass(v) for k, v in COLLECTORS.items())
