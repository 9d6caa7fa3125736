"""The fetcher's connection pool keeps its idle connections while it is under its limit.

httpcore 1.0.9 counts *all* the pool's connections against ``max_keepalive_connections``
(``len([c.is_idle() for c in connections])``), so above that many connections it closes every
idle one on each pass, including one it has just given to a waiting request: closed outside
the pool's lock, the socket can go while that request uses it (encode/httpcore#1110). With as
many keep-alive connections as connections, that path never runs. (It was a suspect for the
soaks' rare ``[Errno 9] Bad file descriptor``; a soak after this change still had two.)
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler

import httpcore
import httpx

from aggregator._transport import GuardedTransport
from tests.support.httpserver import Request, Response, serve

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
