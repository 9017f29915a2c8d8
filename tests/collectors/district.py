"""The district the stream-import tests import into (one area, the ledger in the test's
folder)."""

CONFIG = """\
[district]
name = "Hunnan District"
name_zh = "浑南区"

[ledger]
path = "ledger.sqlite"

[[areas]]
id = "hunnan"
name = "Hunnan District"
name_zh = "浑南区"
"""
