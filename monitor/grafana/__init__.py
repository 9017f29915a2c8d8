"""Grafana: the indicator catalogue, dashboards and alert rules generated from it, the
provisioning files and the HTTP provisioning of an existing Grafana.

* :mod:`monitor.grafana.catalogue` — each indicator once (labels, unit, official colours,
  target) with the query it is shown by;
* :mod:`monitor.grafana.models` — the InfluxQL query model the Grafana SDK lacks;
* :mod:`monitor.grafana.dashboards` — the four dashboards;
* :mod:`monitor.grafana.alerts` — alert rules, contact point and notification policy;
* :mod:`monitor.grafana.files` — ``envmon grafana build`` (dashboards/*.json, provisioning
  YAML);
* :mod:`monitor.grafana.api` — ``envmon grafana provision`` and ``check`` over the HTTP API.
"""
