"""The CSV calculators behind ``envmon calc``: files in, official figures out.

This is a boundary: it reads what officers export (headers in any case, UTF-8 or GBK,
empty cells, ``NA`` and ``/`` for missing values) into typed frames, calls the pure
functions of :mod:`monitor.domain`, and writes the results. Rows it cannot use are kept
and flagged in an ``input_problems`` column, never dropped silently.
"""
