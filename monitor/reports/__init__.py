"""Daily digest and monthly report: contents, charts, HTML/plain text, email.

* :mod:`monitor.reports.content` — the typed report model, built from ledger frames (pure);
* :mod:`monitor.reports.charts` — PNG charts (matplotlib, Agg, a CJK font, official colours);
* :mod:`monitor.reports.terms` — the reports' words, Chinese (official terms) and English;
* :mod:`monitor.reports.render` — HTML (print-friendly) and plain text, Chinese or English;
* :mod:`monitor.reports.mail` — the SMTP adapter (multipart message, sending).

Reading the ledger (target progress included), writing the files and keeping the send log
is the service's job: :mod:`monitor.service.reporting`. Nothing here imports the service.
"""
