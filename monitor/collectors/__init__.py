"""Collectors: one module per upstream system, registered explicitly below.

Each collector translates its source's vocabulary and units at the boundary and emits
observations with canonical parameter names and units, the measured period (start and
end), the source and the ingest time (see ``shared/DESIGN.md``). A new source is one
module, one line in :data:`COLLECTORS`, one folder of recorded responses under
``tests/data/``, and one ``[[sources]]`` block in the settings file.

File imports (``envmon import``) are parsers rather than collectors: see
:mod:`monitor.collectors.long_csv`, :mod:`monitor.collectors.xlsx_import` and
:func:`monitor.collectors.cnemc_sites_archive.parse_sites_csv`.
"""

from __future__ import annotations

from typing import Final

from monitor.collectors.cnemc_air import CnemcAirCollector
from monitor.collectors.cnemc_sites_archive import CnemcSitesArchiveCollector
from monitor.collectors.cnemc_water import CnemcWaterCollector
from monitor.collectors.open_meteo import OpenMeteoCollector
from monitor.collectors.usgs_water import UsgsWaterCollector

#: Collector name → collector class. Explicit on purpose: no folder scanning.
COLLECTORS: Final[dict[str, type]] = {
    OpenMeteoCollector.name: OpenMeteoCollector,
    CnemcAirCollector.name: CnemcAirCollector,
    CnemcSitesArchiveCollector.name: CnemcSitesArchiveCollector,
    CnemcWaterCollector.name: CnemcWaterCollector,
    UsgsWaterCollector.name: UsgsWaterCollector,
}
