"""A total deadline for one network exchange, whatever the server does.

Socket timeouts bound each wait for the next byte, not the exchange: a server dripping one
byte every few seconds holds a client for ever. :func:`watched` bounds the whole exchange:
a watchdog timer shuts down the sockets the exchange opened when ``seconds`` have passed
(a thread blocked in ``recv``/``send`` returns at once), and :func:`abort_requests` does the
same at once for every exchange started with a given ``cancel`` event (the daemon's stop).
``scope.reason`` then says why (``"deadline"`` or ``"stopped"``); the caller turns that into
its own clear error.

Connections opened through urllib3 pools built from :class:`Pool`/:class:`TlsPool` (used by
``requests`` sessions and ``influxdb-client``) join the exchange running in their thread by
themselves; anything else with a ``sock`` attribute (``smtplib.SMTP``) is added with
:meth:`Scope.add`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class _HasSocket(Protocol):
    sock: Any


class Scope:
    """The connections of one exchange, and why it was aborted (None while it runs)."""

    def __init__(self, cancel: threading.Event | None) -> None:
        self.cancel = cancel
        self.reason: str | None = None
        self._connections: list[_HasSocket] = []
        self._lock = threading.RLock()

    def add(self, connection: _HasSocket) -> None:
        """Watch a connection (anything whose ``sock`` is a socket once connected)."""
        with self._lock:
            self._connections.append(connection)
            aborted = self.reason is not None
        if aborted:
            _shut(connection)

    def abort(self, reason: str) -> bool:
        """Shut the exchange's connections; whether this call was the one that aborted it."""
        with self._lock:
            first = self.reason is None
            if first:
                self.reason = reason
            connections = list(self._connections)
        for connection in connections:
            _shut(connection)
        return first


def _shut(connection: _HasSocket) -> None:
    """Wake a thread blocked reading or writing this connection (it returns at once)."""
    sock = getattr(connection, "sock", None)
    if sock is None:
        return
    with contextlib.suppress(OSError):  # already closed, or detached in a TLS handshake
        sock.shutdown(socket.SHUT_RDWR)


_current = threading.local()
_inflight: set[Scope] = set()
_inflight_lock = threading.RLock()  # re-entrant: a signal handler may abort


def abort_requests(cancel: threading.Event) -> int:
    """Abandon at once every exchange in flight started with ``cancel`` (call after setting
    it); the number abandoned by this call."""
    with _inflight_lock:
        scopes = [s for s in _inflight if s.cancel is cancel]
    return sum(scope.abort("stopped") for scope in scopes)


@contextlib.contextmanager
def watched(seconds: float, cancel: threading.Event | None = None) -> Iterator[Scope]:
    """Run the body as one exchange with a total deadline of ``seconds``; on leaving,
    ``scope.reason`` is ``"deadline"`` or ``"stopped"`` when it was cut off."""
    scope = Scope(cancel)
    watchdog = threading.Timer(seconds, scope.abort, ("deadline",))
    watchdog.daemon = True
    with _inflight_lock:
        _inflight.add(scope)
    previous = getattr(_current, "scope", None)
    _current.scope = scope
    watchdog.start()
    try:
        yield scope
    finally:
        _current.scope = previous
        watchdog.cancel()
        with _inflight_lock:
            _inflight.discard(scope)


def _register(connection: HTTPConnection) -> None:
    scope: Scope | None = getattr(_current, "scope", None)
    if scope is not None:
        scope.add(connection)


class _Connection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _register(self)
        super().request(*args, **kwargs)


class _TlsConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _register(self)
        super().request(*args, **kwargs)


class Pool(HTTPConnectionPool):
    """urllib3's HTTP pool whose connections join the exchange of their thread."""

    ConnectionCls = _Connection


class TlsPool(HTTPSConnectionPool):
    """urllib3's HTTPS pool whose connections join the exchange of their thread."""

    ConnectionCls = _TlsConnection


#: ``PoolManager.pool_classes_by_scheme`` for watched connections.
POOL_CLASSES: dict[str, type[HTTPConnectionPool]] = {"http": Pool, "https": TlsPool}


class WatchedAdapter(HTTPAdapter):
    """requests' adapter whose connections join the exchange of their thread."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(POOL_CLASSES)


def watched_session() -> requests.Session:
    """A ``requests`` session whose requests :func:`watched` can cut off."""
    session = requests.Session()
    adapter = WatchedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
