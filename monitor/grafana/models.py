"""Typed models the Grafana SDK lacks, and how SDK objects become JSON.

``grafana-foundation-sdk`` (pinned to its Grafana 11.6 build) types dashboards, panels,
alert rules, expressions, contact points and policies, but has no InfluxDB query model.
:class:`InfluxQLQuery` is that model, shaped as Grafana's InfluxDB backend reads a raw
InfluxQL target (``grafana/grafana:pkg/tsdb/influxdb/models/model_parser.go``: ``query``,
``rawQuery``, ``resultFormat``; reference §1.6), and :class:`InfluxQL` its builder, so
panels and alert queries take it like any SDK query.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

#: Datasource plugin type of InfluxDB.
INFLUXDB_TYPE = "influxdb"
#: Datasource uid of server-side expressions (reduce, threshold, math).
EXPRESSION_UID = "__expr__"


@dataclass
class InfluxQLQuery(cogvariants.Dataquery):
    """A raw InfluxQL target of a panel or an alert rule."""

    ref_id: str
    query: str
    datasource_uid: str
    result_format: Literal["time_series", "table"] = "time_series"
    alias: str | None = None
    hide: bool = False
    #: Alert rules: the interval Grafana uses for ``$__interval`` (the UI writes 1000).
    interval_ms: int | None = None
    max_data_points: int | None = None

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "datasource": {"type": INFLUXDB_TYPE, "uid": self.datasource_uid},
            "query": self.query,
            "rawQuery": True,
            "resultFormat": self.result_format,
        }
        if self.alias is not None:
            payload["alias"] = self.alias
        if self.hide:
            payload["hide"] = True
        if self.interval_ms is not None:
            payload["intervalMs"] = self.interval_ms
        if self.max_data_points is not None:
            payload["maxDataPoints"] = self.max_data_points
        return payload


class InfluxQL(cogbuilder.Builder[InfluxQLQuery]):
    """Builder of :class:`InfluxQLQuery`, in the SDK's style."""

    def __init__(self, ref_id: str, query: str, datasource_uid: str) -> None:
        self._internal = InfluxQLQuery(ref_id, query, datasource_uid)

    def build(self) -> InfluxQLQuery:
        return self._internal

    def result_format(self, result_format: Literal["time_series", "table"]) -> Self:
        self._internal.result_format = result_format
        return self

    def alias(self, alias: str) -> Self:
        self._internal.alias = alias
        return self

    def for_alerting(self) -> Self:
        """The interval and data points Grafana's rule editor writes."""
        self._internal.interval_ms = 1000
        self._internal.max_data_points = 43200
        return self


def datasource_ref(uid: str) -> DataSourceRef:
    """Reference to the InfluxDB datasource with ``uid``."""
    return DataSourceRef(type_val=INFLUXDB_TYPE, uid=uid)


def to_data(obj: object) -> Any:
    """An SDK object (or a structure holding them) as plain JSON data.

    >>> to_data(datasource_ref("envmon-influxdb"))
    {'type': 'influxdb', 'uid': 'envmon-influxdb'}
    """
    return json.loads(json.dumps(obj, cls=JSONEncoder, ensure_ascii=False))
