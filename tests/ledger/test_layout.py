"""One home per concern (issue 18): the ledger is split into modules per concern over one
connection, and ``store.py`` only combines them.

The issue: ``ledger/store.py`` (1,200 lines) held observations, derived tables, the outbox,
quarantine, indicators and the report log in one class.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import monitor.ledger
from monitor.ledger.connection import LedgerConnection
from monitor.ledger.store import Ledger

LEDGER = Path(monitor.ledger.__file__).parent

#: Longest a concern module may grow before it is split again [lines].
MAX_LINES = 400

#: Not a concern module: the append-only list of migrations (it grows with every one).
NOT_A_CONCERN = {"schema.py"}

#: Where the Ledger methods of each concern live (a sample per concern, not every method).
HOMES = {
    "connection": ["open", "close", "transaction", "query", "schema_version"],
    "sources": ["register_source", "adopt_site_aliases", "watermark"],
    "observations": ["write_observations", "write_hj212", "observations", "revisions"],
    "fetch_log": ["log_failure", "fetch_log"],
    "evaluation": ["dirty_days", "clear_dirty", "evaluation_observations", "evaluation_failures"],
    "derived": ["replace_derived", "write_official_daily", "delete_qc_flags"],
    "outbox": ["outbox_batch", "outbox_done", "outbox_stats", "quarantine", "quarantined"],
    "indicators": ["add_indicator_value"],
    "report_log": ["report_entry", "record_report", "claim_report", "reports_to_send"],
}


def _modules() -> list[Path]:
    return sorted(LEDGER.glob("*.py"))


def _defined_in(name: str) -> str:
    """The module (last part of its name) that defines the Ledger attribute ``name``."""
    attribute = inspect.getattr_static(Ledger, name)
    function = attribute.fget if isinstance(attribute, property) else attribute
    function = getattr(function, "__func__", function)  # classmethod
    return str(function.__module__).rsplit(".", 1)[-1]


def _functions(source: str) -> list[str]:
    """Names of every function or method defined in the source, at any depth."""
    return [
        node.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def _connects(source: str) -> bool:
    """Whether the source calls ``sqlite3.connect`` (opens a connection of its own)."""
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "connect"
        for node in ast.walk(ast.parse(source))
    )


def test_the_checks_can_fail() -> None:
    # What the checks below look for is seen where it is: a method in a class, a connect.
    assert _functions("class Ledger:\n    def outbox_batch(self):\n        pass\n") == [
        "outbox_batch"
    ]
    assert _connects("import sqlite3\nc = sqlite3.connect(':memory:')\n")
    assert not _connects("import sqlite3\nc = sqlite3.Connection\n")


@pytest.mark.parametrize(
    "path", [p for p in _modules() if p.name not in NOT_A_CONCERN], ids=lambda p: p.name
)
def test_each_ledger_module_stays_small(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines: split it by concern"


def test_store_only_combines_the_concerns() -> None:
    source = (LEDGER / "store.py").read_text(encoding="utf-8")
    assert _functions(source) == []
    tree = ast.parse(source)
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    assert [c.name for c in classes] == ["Ledger"]
    # The class body is its docstring only: every method comes from a concern module.
    assert len(classes[0].body) == 1
    assert isinstance(classes[0].body[0], ast.Expr)


@pytest.mark.parametrize("module", sorted(HOMES))
def test_each_concern_lives_in_its_module(module: str) -> None:
    assert {name: _defined_in(name) for name in HOMES[module]} == dict.fromkeys(
        HOMES[module], module
    )


def test_no_public_ledger_method_is_defined_in_store() -> None:
    public = [name for name in dir(Ledger) if not name.startswith("_")]
    assert len(public) >= 30  # the API callers use (see HOMES for a sample)
    assert [name for name in public if _defined_in(name) == "store"] == []


def test_every_part_works_over_the_one_connection() -> None:
    # One connection: only connection.py opens one (and the read-only one an evaluation run
    # reads ahead on, issue 17), and every part is a LedgerConnection without a
    # constructor of its own (so none can hold another connection).
    opening = [p.name for p in _modules() if _connects(p.read_text(encoding="utf-8"))]
    assert opening == ["connection.py"]
    parts = Ledger.__mro__[1 : Ledger.__mro__.index(LedgerConnection)]
    assert len(parts) == len(HOMES) - 1  # every concern but the connection itself
    for part in parts:
        assert issubclass(part, LedgerConnection)
        assert "__init__" not in vars(part), part.__name__
