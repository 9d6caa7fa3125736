"""The fetcher's connection layer (private to ``aggregator.fetch``).

``GuardedBackend`` is the httpcore network backend that opens every socket of the fetcher: it
asks the ``AddressGuard`` (``aggregator._netguard``) which checked addresses a host may be
reached at, connects to one of them, and bounds every read, write and TLS handshake by the
current request's deadline. ``GuardedTransport`` is an httpx transport over an httpcore pool
that uses that backend, so no connection of the fetcher bypasses the guard.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpcore
import httpx

from aggregator._netguard import AddressGuard

MAX_CONNECTIONS = 100
STALE_RETRIES = MAX_CONNECTIONS
"""Times a request may be sent again after failing, unanswered, on a reused connection (each
such failure closes that connection, so the pool runs out of stale ones first)."""
# what a reused connection the server has closed, or is closing, fails with
_STALE_ERRORS = (httpcore.RemoteProtocolError, httpcore.ReadError, httpcore.WriteError)
_IDEMPOTENT = (b"GET", b"HEAD")
Remaining = Callable[[], float | None]
"""Seconds left before the current request's deadline (None: no deadline)."""


def _clamp(timeout: float | None, remaining: Remaining, error: type[Exception]) -> float | None:
    left = remaining()
    if left is None:
        return timeout
    if left <= 0:
        raise error("deadline exceeded")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """Every read and write waits at most until the request's deadline."""

    def __init__(self, inner: httpcore.NetworkStream, remaining: Remaining) -> None:
        self._inner = inner
        self._remaining = remaining

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, self._remaining, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, self._remaining, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        limit = _clamp(timeout, self._remaining, httpcore.ConnectTimeout)
        inner = self._inner.start_tls(ssl_context, server_hostname, limit)
        return _DeadlineStream(inner, self._remaining)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """Resolves and checks at connect time, then connects to a checked address."""

    def __init__(
        self,
        guard: AddressGuard,
        remaining: Remaining,
        inner: httpcore.NetworkBackend | None = None,
    ) -> None:
        self._guard = guard
        self._remaining = remaining
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        lookup_limit = _clamp(timeout, self._remaining, httpcore.ConnectTimeout)
        addresses = self._guard.addresses(host, port, lookup_limit)
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            limit = _clamp(timeout, self._remaining, httpcore.ConnectTimeout)
            try:
                stream = self._inner.connect_tcp(
                    address, port, limit, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                failure = exc
                continue
            return _DeadlineStream(stream, self._remaining)
        raise failure or httpcore.ConnectError(f"cannot connect to {host!r}")

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not used by the fetcher")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _OpenedRecorder(httpcore.NetworkBackend):
    """Notes, for the current thread, whether its request opened a connection."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner
        self._local = threading.local()

    def begin(self) -> None:
        self._local.opened = False

    def opened(self) -> bool:
        return bool(getattr(self._local, "opened", False))

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        self._local.opened = True
        return self._inner.connect_tcp(host, port, timeout, local_address, socket_options)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        self._local.opened = True
        return self._inner.connect_unix_socket(path, timeout, socket_options)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


# httpcore's exceptions turned into httpx's, most specific first (as httpx's own transport does).
_ERROR_MAP: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for source, target in _ERROR_MAP:
            if isinstance(exc, source):
                raise target(str(exc)) from exc
        raise


class _CoreStream(httpx.SyncByteStream):
    def __init__(self, inner: Iterable[bytes]) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        with _httpx_errors():
            yield from self._inner

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


class HeldConnectionPool(httpcore.ConnectionPool):
    """httpcore's pool, except that it never closes a connection a request has been given.

    Each pass of httpcore 1.0.9's pool (``_assign_requests_to_connections``, under the pool's
    lock) may hand an idle connection to a queued request and wake its thread; the connection
    stays idle until that thread starts its request. A pass of another thread in between may
    find the connection expired (its keep-alive ran out, or the server's FIN made it readable)
    or surplus, take it out and close it after releasing the lock: if the first thread has
    started meanwhile, its socket is closed under it (``[Errno 9] Bad file descriptor`` on
    the next send or receive, or a read that waits out its timeout; encode/httpcore#1110).
    Here such a connection goes back into the pool: its request uses it (a connection the
    server closed fails that request as any keep-alive race does), and a later pass closes
    it once no request holds it. Closing one nobody holds stays safe: connections are only
    handed out under the same lock.
    """

    def _assign_requests_to_connections(self) -> list[httpcore.ConnectionInterface]:
        closing = super()._assign_requests_to_connections()
        held = {id(request.connection) for request in self._requests if request.connection}
        kept = [connection for connection in closing if id(connection) in held]
        self._connections.extend(kept)
        return [connection for connection in closing if id(connection) not in held]


class GuardedTransport(httpx.BaseTransport):
    """An HTTP/1.1 connection pool whose sockets all go through a ``GuardedBackend``."""

    def __init__(self, backend: httpcore.NetworkBackend, ssl_context: ssl.SSLContext) -> None:
        self._backend = _OpenedRecorder(backend)
        self._pool = HeldConnectionPool(
            ssl_context=ssl_context,
            max_connections=MAX_CONNECTIONS,
            # as many as connections: httpcore 1.0.9 counts every connection against this
            # limit and, above it, closes each idle one on every pass, even one just given
            # to a waiting request, outside its lock (encode/httpcore#1110): a socket can be
            # closed under a request
            max_keepalive_connections=MAX_CONNECTIONS,
            keepalive_expiry=5.0,
            http1=True,
            http2=False,
            retries=0,
            network_backend=self._backend,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, Iterable):
            raise TypeError("the fetcher sends synchronous requests only")
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            response = self._send(core_request)
        if not isinstance(response.stream, Iterable):
            raise TypeError("httpcore returned an asynchronous stream")
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_CoreStream(response.stream),
            extensions=response.extensions,
        )

    def _send(self, request: httpcore.Request) -> httpcore.Response:
        """The pool's answer; a request that failed, unanswered, on a reused connection is
        sent again (as browsers and urllib3 do for an idempotent request): the server closed
        that idle connection as the request went out (its keep-alive timeout). One that fails
        on a connection it opened itself is the server's answer and is not repeated."""
        retries = STALE_RETRIES if request.method in _IDEMPOTENT else 0
        for _ in range(retries):
            self._backend.begin()
            try:
                return self._pool.handle_request(request)
            except _STALE_ERRORS:
                if self._backend.opened():
                    raise
        return self._pool.handle_request(request)

    def close(self) -> None:
        self._pool.close()
