"""Collectors: one module per upstream system, registered explicitly below.

Each collector translates its source's vocabulary and units at the boundary and emits
observations with canonical parameter names and units, the measured period (start and
end), the source and the ingest time (see ``shared/DESIGN.md``). A new source is one
module, one line in :data:`COLLECTORS`, one folder of recorded responses under
``tests/data/``, and one block in the settings file.

No collector exists yet: they arrive with the issue "Collectors, the ledger and the
scheduled daemon".
"""

from __future__ import annotations

#: Collector name → collector class. Explicit on purpose: no folder scanning.
COLLECTORS: dict[str, type] = {}
