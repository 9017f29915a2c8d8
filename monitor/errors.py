"""Errors envmon raises on purpose, and what each one means for the caller.

======================  ==================================================================
Error                   When
======================  ==================================================================
``EnvmonError``         base of every error below; the CLI prints its message on one line
``ConfigError``         the settings file or environment is wrong; carries *all* problems
                        found, so an operator fixes them in one go (CLI exit code 2)
``InputError``          a file given on the command line cannot be used as it is (unknown
                        columns only, bad header, empty file …); exit code 2
``SourceError``         an upstream source failed; ``retryable`` tells whether to retry
``SourceUnavailable``   timeout, connection error, HTTP 429/5xx (retryable)
``SourceFormatChanged`` the answer is not in the known format (not retryable)
``StorageError``        the ledger cannot be opened or written
======================  ==================================================================

Domain functions (``monitor.domain``) raise plain :class:`ValueError` with a message that
names the value and what was expected; they never log.
"""

from __future__ import annotations

from collections.abc import Iterable


class EnvmonError(Exception):
    """Base of the errors envmon raises on purpose."""

    exit_code = 1


class ConfigError(EnvmonError, ValueError):
    """The configuration is unusable; ``problems`` lists every problem found."""

    exit_code = 2

    def __init__(self, problems: Iterable[str], source: str = "configuration") -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        self.source = source
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s):\n{lines}")


class InputError(EnvmonError, ValueError):
    """An input file cannot be used; the message says which value and what was expected."""

    exit_code = 2


class SourceError(EnvmonError):
    """An upstream source could not be read. ``retryable`` says whether trying later may help.

    The scheduler records it per source and keeps the other sources running.
    """

    def __init__(
        self, source: str, message: str, *, retryable: bool, status: int | None = None
    ) -> None:
        self.source = source
        self.retryable = retryable
        self.status = status  # the HTTP status, when the source answered with one
        super().__init__(f"{source}: {message}")


class SourceUnavailable(SourceError):
    """Timeout, connection failure, HTTP 429 or 5xx: try again later."""

    def __init__(self, source: str, message: str, *, status: int | None = None) -> None:
        super().__init__(source, message, retryable=True, status=status)


class SourceFormatChanged(SourceError):
    """The source answered, but not in the format the collector knows (changed field names,
    an HTML error page, truncated JSON): the collector needs attention, retrying won't help.
    """

    def __init__(self, source: str, message: str, *, status: int | None = None) -> None:
        super().__init__(source, message, retryable=False, status=status)


class StorageError(EnvmonError):
    """The ledger cannot be opened or written (disk full, locked, newer schema)."""


class PublishError(EnvmonError):
    """InfluxDB did not take a write (or a check failed).

    ``kind`` says what to do about it:

    * ``unavailable`` — down, overloaded (429/5xx), slow or the connection broke: keep the
      points queued and try again later (``retry_after`` seconds if the server said);
    * ``rejected`` — the server refused the data itself (400, 422, 413): isolate and
      quarantine the bad points, publish the rest;
    * ``refused`` — the request was refused as a whole (401, 403, 404: token, permission,
      bucket): nothing can be written until the settings or the server are fixed.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
