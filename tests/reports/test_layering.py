"""Reports sit below the service: the service computes the figures and hands them over.

Issue 18 ("one home per concern"): ``monitor/reports`` must not import ``monitor.service``
(the import that ran up the house was ``monitor.service.progress_targets``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import monitor.reports

REPORTS = Path(monitor.reports.__file__).parent


def _imported_modules(source: str, package: str = "monitor.reports") -> list[str]:
    """Every module an ``import`` / ``from … import`` in the source names (at any depth,
    function-level imports included), relative imports resolved against ``package``."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0]
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.append(module)
            names.extend(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_the_parser_sees_imports_of_the_service() -> None:
    # The check itself must be able to fail: the import this issue removed is caught,
    # also inside a function, as a relative import that climbs, and as a plain import.
    assert "monitor.service.progress_targets" in _imported_modules(
        "def f():\n    from monitor.service.progress_targets import TargetProgress\n"
    )
    assert "monitor.service.progress_targets" in _imported_modules(
        "from ..service import progress_targets\n"
    )
    assert "monitor.service" in _imported_modules("import monitor.service\n")


def test_no_report_module_imports_the_service() -> None:
    modules = sorted(REPORTS.rglob("*.py"))
    assert len(modules) >= 6  # content, charts, terms, render, mail, __init__
    climbing = {
        str(path.relative_to(REPORTS)): name
        for path in modules
        for name in _imported_modules(path.read_text(encoding="utf-8"))
        if name == "monitor.service" or name.startswith("monitor.service.")
    }
    assert climbing == {}


#: The packages below the service: the domain and the adapters (the service is the one place
#: where they meet; the CLI sits on top).
BELOW_THE_SERVICE = ("domain", "collectors", "ledger", "influxdb", "grafana", "hj212", "reports")


@pytest.mark.parametrize("package", BELOW_THE_SERVICE)
def test_no_package_below_the_service_imports_it(package: str) -> None:
    """The same rule for every adapter (grafana's alert rules once took the data-health
    window from ``monitor.service.publish``; it lives with the data_health measurement)."""
    folder = REPORTS.parent / package
    modules = sorted(folder.rglob("*.py"))
    assert modules, folder
    climbing = {
        str(path.relative_to(folder.parent)): name
        for path in modules
        for name in _imported_modules(path.read_text(encoding="utf-8"), f"monitor.{package}")
        if name.split(".")[:2] in (["monitor", "service"], ["monitor", "cli"])
    }
    assert climbing == {}


def test_no_collector_imports_the_calculator() -> None:
    """``monitor.calculator`` is the CLI's ``envmon calc``; an import adapter reaching into
    it tied the two boundaries together (the long-CSV and xlsx imports took the missing
    markers, the problem separator and the local-time readers from its table module).
    What both read lives in neutral modules: :mod:`monitor.csvfile`, :mod:`monitor.cells`."""
    folder = REPORTS.parent / "collectors"
    modules = sorted(folder.rglob("*.py"))
    assert len(modules) >= 10, folder
    reaching = {
        str(path.relative_to(folder.parent)): name
        for path in modules
        for name in _imported_modules(path.read_text(encoding="utf-8"), "monitor.collectors")
        if name.split(".")[:2] == ["monitor", "calculator"]
    }
    assert reaching == {}


def test_the_moved_names_are_still_those_of_the_calculator_table() -> None:
    """Moved to :mod:`monitor.cells`, still importable where they were (the same objects)."""
    import monitor.calculator.table
    import monitor.cells

    for name in (
        "LOCAL_TZ",
        "MISSING_MARKERS",
        "PROBLEM_SEPARATOR",
        "parse_local_times",
        "local_time_problems",
    ):
        assert getattr(monitor.calculator.table, name) is getattr(monitor.cells, name), name
