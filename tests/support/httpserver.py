"""A real HTTP server on a loopback address, started by the test that needs it.

Routes are registered per path; each answers with a fixed response or a handler function that
gets the request and writes whatever it likes (slow drips, bombs, redirects ...). Every request
is counted, so a test can assert that a server was never hit.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Request:
    method: str
    path: str
    headers: Mapping[str, str]


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request, BaseHTTPRequestHandler], Response | None]


class LocalServer:
    """ThreadingHTTPServer with a route table and hit counters."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Response | Handler] = {}
        self.hits: Counter[str] = Counter()
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), self._make_handler())
        self._server.daemon_threads = True
        self.host = host
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(
        self,
        path: str,
        body: bytes | str = b"",
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        handler: Handler | None = None,
    ) -> str:
        """Serve ``path``; returns its full URL."""
        if handler is not None:
            self.routes[path] = handler
        else:
            data = body.encode("utf-8") if isinstance(body, str) else body
            self.routes[path] = Response(status, data, dict(headers or {}))
        return self.url(path)

    @property
    def total_hits(self) -> int:
        return sum(self.hits.values())

    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _record(self, request: Request) -> None:
        with self._lock:
            self.hits[request.path] += 1
            self.requests.append(request)

    def _make_handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                request = Request("GET", self.path, dict(self.headers.items()))
                server._record(request)
                route = server.routes.get(self.path) or server.routes.get(self.path.split("?")[0])
                if route is None:
                    self._send(Response(404, b"not found"))
                    return
                response = route(request, self) if callable(route) else route
                if response is not None:
                    self._send(response)

            def _send(self, response: Response) -> None:
                try:
                    self.send_response(response.status)
                    for name, value in response.headers.items():
                        self.send_header(name, value)
                    if "Content-Length" not in response.headers:
                        self.send_header("Content-Length", str(len(response.body)))
                    self.end_headers()
                    self.wfile.write(response.body)
                except (BrokenPipeError, ConnectionResetError):
                    return

        return _Handler


@contextmanager
def serve(host: str = "127.0.0.1") -> Iterator[LocalServer]:
    server = LocalServer(host).start()
    try:
        yield server
    finally:
        server.stop()
