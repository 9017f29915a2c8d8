"""Air pollutants, the indicators the standards rate, and their canonical units.

The six pollutants of HJ 633 are named by canonical codes (``so2``, ``no2``, ``co``, ``o3``,
``pm10``, ``pm2_5``). An :class:`Indicator` is a pollutant together with the averaging period a
breakpoint column of HJ 633 Table 1 (2012) / Table 3 (2026) refers to.

Units: µg/m³ for every pollutant except CO, which is in **mg/m³** (HJ 633, Table 1 note).
Gas concentrations are at the reference state 298.15 K / 1013.25 hPa, particulates at actual
conditions (GB 3095-2026 §4.3).
"""

from __future__ import annotations

from enum import Enum, StrEnum

__all__ = [
    "POLLUTANTS",
    "Averaging",
    "Indicator",
    "Pollutant",
]


class Pollutant(StrEnum):
    """The six pollutants of the AQI, in the order the outputs list them."""

    SO2 = "so2"
    NO2 = "no2"
    CO = "co"
    O3 = "o3"
    PM10 = "pm10"
    PM2_5 = "pm2_5"

    @property
    def unit(self) -> str:
        """Canonical unit: ``mg/m³`` for CO, ``µg/m³`` otherwise."""
        return "mg/m³" if self is Pollutant.CO else "µg/m³"

    @property
    def label(self) -> str:
        """Display name as the national platform writes it, e.g. ``PM2.5``."""
        return _LABELS[self]

    @property
    def name_zh(self) -> str:
        """Chinese name as bulletins write it (HJ 633 Table 1 items), e.g. ``二氧化硫``;
        particulate matter as ``PM2.5``."""
        return _NAMES_ZH[self]


_LABELS = {
    Pollutant.SO2: "SO2",
    Pollutant.NO2: "NO2",
    Pollutant.CO: "CO",
    Pollutant.O3: "O3",
    Pollutant.PM10: "PM10",
    Pollutant.PM2_5: "PM2.5",
}

_NAMES_ZH = {
    Pollutant.SO2: "二氧化硫",
    Pollutant.NO2: "二氧化氮",
    Pollutant.CO: "一氧化碳",
    Pollutant.O3: "臭氧",
    Pollutant.PM10: "PM10",
    Pollutant.PM2_5: "PM2.5",
}

#: Pollutants in canonical order (the order of ``primary_pollutants`` lists).
POLLUTANTS: tuple[Pollutant, ...] = tuple(Pollutant)


class Averaging(Enum):
    """Averaging period of a concentration."""

    HOUR_1 = "1h"
    HOUR_8 = "8h"
    HOUR_24 = "24h"


class Indicator(StrEnum):
    """A pollutant with the averaging period of one breakpoint column of HJ 633.

    ``SO2_24H`` … ``PM2_5_24H`` are the ten columns of HJ 633-2012 Table 1 / HJ 633-2026
    Table 3. The PM columns are 24-hour columns in both versions; HJ 633-2026 §4.2.4 rates
    1-hour PM on them too.
    """

    SO2_24H = "so2_24h"
    SO2_1H = "so2_1h"
    NO2_24H = "no2_24h"
    NO2_1H = "no2_1h"
    CO_24H = "co_24h"
    CO_1H = "co_1h"
    O3_1H = "o3_1h"
    O3_8H = "o3_8h"
    PM10_24H = "pm10_24h"
    PM2_5_24H = "pm2_5_24h"

    @property
    def pollutant(self) -> Pollutant:
        """The pollutant this indicator measures."""
        return Pollutant(self.value.rsplit("_", 1)[0])

    @property
    def averaging(self) -> Averaging:
        """The averaging period of the breakpoint column."""
        return Averaging(self.value.rsplit("_", 1)[1])

    @property
    def unit(self) -> str:
        """Canonical unit of the concentration."""
        return self.pollutant.unit
