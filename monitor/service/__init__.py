"""The service layer: the only place that knows every adapter.

``evaluate`` turns stored observations into derived figures, ``pipeline`` runs one
collection (fetch → ledger → evaluate), ``sources`` builds collectors from the settings,
``reporting`` gathers a report's figures from the ledger (target progress included),
writes it and keeps the send log, ``daemon`` schedules it all and serves /healthz and
/metrics.
"""
