"""Fixtures shared by the collector tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.settings import Settings, load_settings
from tests.conftest import HUNNAN_LEDGER as CONFIG


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The settings of :data:`tests.conftest.HUNNAN_LEDGER` (a module may define its own)."""
    path = tmp_path / "envmon.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return load_settings(path, {})
