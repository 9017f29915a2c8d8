"""pandas, imported when first used: ``envmon calc aqi --scale hour`` rates with numpy alone
and should not pay pandas' start-up (0.3–0.7 s) for functions it never calls."""

from __future__ import annotations

import importlib
import types


class _Deferred(types.ModuleType):
    """A stand-in for a module that imports it on the first attribute looked up, then holds
    the module's names itself (later look-ups cost what a module's do)."""

    def __getattr__(self, attr: str) -> object:
        module = importlib.import_module(self.__name__)
        self.__dict__.update(module.__dict__)
        return getattr(module, attr)


pandas = _Deferred("pandas")
