"""The fetcher's connection pool: idle connections kept under its limit, none closed under a
request, and a request the server drops on a reused connection sent again.

httpcore 1.0.9 counts *all* the pool's connections against ``max_keepalive_connections``
(``len([c.is_idle() for c in connections])``), so above that many connections it closes every
idle one on each pass, including one it has just given to a waiting request: closed outside
the pool's lock, the socket can go while that request uses it (encode/httpcore#1110). With as
many keep-alive connections as connections, that path never runs. The soaks' rare ``[Errno 9]
Bad file descriptor`` came from the same issue's other path: a connection given to one
thread's request and, before that thread started it, found expired by another thread's pass
and closed (``bench/pool_race.py`` counts them: 9 in 60,000 requests with httpcore's pool, 0
with ``HeldConnectionPool``).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler

import httpcore
import httpx
import pytest
from httpcore._sync.connection_pool import PoolRequest

from aggregator._transport import GuardedTransport, HeldConnectionPool
from aggregator.errors import FetchError
from aggregator.fetch import Fetcher
from tests.support.fetchkit import settings
from tests.support.httpserver import LocalServer, Request, Response, serve

THREADS = 30  # more than httpcore's default of 20 keep-alive connections


def test_idle_connections_are_kept_and_reused_above_twenty() -> None:
    ports: set[int] = set()
    lock = threading.Lock()

    def slow(_r: Request, handler: BaseHTTPRequestHandler) -> Response:
        with lock:
            ports.add(handler.client_address[1])
        time.sleep(0.3)  # every thread holds its connection at once
        return Response(200, b"ok")

    with serve("127.0.0.1") as server:
        url = server.route("/slow", handler=slow)
        transport = GuardedTransport(httpcore.SyncBackend(), httpx.create_ssl_context())
        with httpx.Client(transport=transport) as client, ThreadPoolExecutor(THREADS) as pool:
            for _ in range(3):
                codes = list(pool.map(lambda _: client.get(url).status_code, range(THREADS)))
                assert codes == [200] * THREADS
    # the first round opened THREADS connections; the next two reused them
    assert len(ports) == THREADS, f"{len(ports)} connections for {3 * THREADS} requests"


def test_a_connection_given_to_a_request_is_not_closed_by_another_pass() -> None:
    """The interleaving of encode/httpcore#1110, step by step on a real connection: a pass
    gives the idle connection to a waiting request; its keep-alive runs out before that
    request's thread starts it; another thread's pass must leave it alone."""
    with serve("127.0.0.1") as server, HeldConnectionPool(keepalive_expiry=0.5) as pool:
        url = server.route("/a", b"first")
        assert pool.request("GET", url).content == b"first"  # one idle connection now
        host = {"Host": f"{server.host}:{server.port}"}
        waiting = PoolRequest(httpcore.Request("GET", url, headers=host))
        with pool._optional_thread_lock:
            pool._requests.append(waiting)
            assert pool._assign_requests_to_connections() == []
        given = waiting.connection
        assert given is not None and given.is_idle()
        time.sleep(0.6)  # past its keep-alive expiry, its thread not yet started
        with pool._optional_thread_lock:  # another thread's pass
            closing = pool._assign_requests_to_connections()
        assert given not in closing and not given.is_closed()
        response = given.handle_request(waiting.request)
        assert response.status == 200 and response.read() == b"first"
        response.close()


def _drops_second_request(server: LocalServer, path: str) -> list[int]:
    """Answer the first request on each connection; close the connection, unanswered, on
    its second (a server whose keep-alive timeout ran out as the request went out). Returns
    the list the answered connections are counted in."""
    answered: list[int] = []

    def handle(_r: Request, handler: BaseHTTPRequestHandler) -> Response | None:
        if getattr(handler, "answered_once", False):  # one handler object per connection
            handler.close_connection = True
            return None
        handler.answered_once = True  # type: ignore[attr-defined]
        answered.append(1)
        return Response(200, b"fresh")

    server.route(path, handler=handle)
    return answered


def test_a_request_dropped_on_a_reused_connection_is_sent_again(
    http_server: LocalServer,
) -> None:
    answered = _drops_second_request(http_server, "/kept")
    with Fetcher(settings(respect_robots=False)) as fetcher:
        bodies = [fetcher.fetch(http_server.url("/kept")).body for _ in range(3)]
    assert bodies == [b"fresh"] * 3
    # each later fetch went out on the kept connection, was dropped, and went again on a new one
    assert http_server.hits["/kept"] == 5 and len(answered) == 3


def test_a_request_dropped_on_a_new_connection_is_not_repeated(
    http_server: LocalServer,
) -> None:
    def drop(_r: Request, handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True

    http_server.route("/dropped", handler=drop)
    with Fetcher(settings(respect_robots=False)) as fetcher, pytest.raises(FetchError):
        fetcher.fetch(http_server.url("/dropped"))
    assert http_server.hits["/dropped"] == 1
