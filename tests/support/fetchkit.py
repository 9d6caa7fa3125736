"""Helpers for the fetcher's tests: settings with short limits, handler functions for the local
HTTP server (drips, chained redirects, endless bodies) and a small TLS server."""

from __future__ import annotations

import dataclasses
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from aggregator.settings import FetchSettings
from tests.support.httpserver import Handler, LocalServer, Request, Response

TEST_SETTINGS = FetchSettings(
    allow_hosts=("127.0.0.1",),
    per_host_delay_s=0.0,
    per_host_concurrency=8,
    timeout_s=1.0,
    deadline_s=3.0,
    max_bytes=1_000_000,
    max_redirects=5,
    user_agent="newsagg-test/1.0 (+https://example.invalid/newsagg)",
    respect_robots=True,
    robots_ttl_s=60.0,
)


def settings(**changes: Any) -> FetchSettings:
    return dataclasses.replace(TEST_SETTINGS, **changes)


def reset(server: LocalServer) -> LocalServer:
    """Forget the routes, hits and requests of a server shared by several tests."""
    server.routes.clear()
    server.hits.clear()
    server.requests.clear()
    return server


def hits_under(server: LocalServer, prefix: str) -> int:
    """Requests to paths starting with ``prefix`` (query strings included in the path)."""
    return sum(n for path, n in server.hits.items() if path.startswith(prefix))


def _quiet(write: Any) -> Any:
    """Run a handler body, ignoring the client going away."""

    def run(request: Request, h: BaseHTTPRequestHandler) -> None:
        h.close_connection = True
        try:
            write(request, h)
        except OSError:
            return

    return run


def drip_body(interval_s: float, count: int) -> Handler:
    """Headers at once, then one byte of body every ``interval_s``."""

    def write(request: Request, h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(count))
        h.end_headers()
        for _ in range(count):
            h.wfile.write(b"x")
            time.sleep(interval_s)

    return _quiet(write)


def drip_headers(interval_s: float, count: int) -> Handler:
    """The status line, then a header that never ends, one byte every ``interval_s``."""

    def write(request: Request, h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(count):
            h.wfile.write(b"a")
            time.sleep(interval_s)

    return _quiet(write)


def endless_body(chunk: bytes, max_seconds: float = 5.0) -> Handler:
    """A chunked body with no Content-Length that goes on until the client leaves."""

    def write(request: Request, h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        stop = time.monotonic() + max_seconds
        frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        while time.monotonic() < stop:
            h.wfile.write(frame)

    return _quiet(write)


def redirect_chain(base: str, path: str, length: int, delay_s: float = 0.0) -> Handler:
    """``path?n=i`` redirects to ``path?n=i+1`` until ``n == length``, which answers 200."""

    def handle(request: Request, h: BaseHTTPRequestHandler) -> Response:
        n = int(request.path.partition("n=")[2] or 0)
        time.sleep(delay_s)
        if n >= length:
            return Response(200, f"end of chain at {n}".encode())
        return Response(302, headers={"Location": f"{base}{path}?n={n + 1}"})

    return handle


@dataclass
class InFlight:
    """Counts requests being served at once, and when each started (server side)."""

    hold_s: float = 0.0
    body: bytes = b"ok"
    current: int = 0
    peak: int = 0
    starts: list[float] = dataclasses.field(default_factory=list)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def __call__(self, request: Request, h: BaseHTTPRequestHandler) -> Response:
        with self.lock:
            self.starts.append(time.monotonic())
            self.current += 1
            self.peak = max(self.peak, self.current)
        time.sleep(self.hold_s)
        with self.lock:
            self.current -= 1
        return Response(200, self.body)

    def answering(self, response: Response) -> Handler:
        """A handler counted here too, that answers ``response``."""

        def handle(request: Request, h: BaseHTTPRequestHandler) -> Response:
            self(request, h)
            return response

        return handle


@contextmanager
def silent_listener() -> Iterator[int]:
    """A port that accepts TCP connections (the kernel does) but never answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=8) as sock:
        yield sock.getsockname()[1]


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return int(sock.getsockname()[1])


def make_certificate(folder: Path, name: str) -> tuple[Path, Path] | None:
    """A self-signed certificate for ``name`` (cert, key), or None without the openssl tool."""
    tool = shutil.which("openssl")
    if tool is None:
        return None
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = [tool, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    command += ["-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2"]
    command += ["-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"]
    subprocess.run(
        command,
        check=True,
        capture_output=True,
    )
    return cert, key


class TLSServer:
    """A one-route HTTPS server on 127.0.0.1 that records the SNI names it was offered."""

    def __init__(self, cert: Path, key: Path, body: bytes = b"secure hello") -> None:
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(cert, key)
        self._context.sni_callback = self._note_sni
        self.server_names: list[str | None] = []
        self.handshake_failures = 0
        self._body = body
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _note_sni(self, sock: Any, name: str | None, context: Any) -> None:
        self.server_names.append(name)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            with conn:
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(2.0)
        try:
            with self._context.wrap_socket(conn, server_side=True) as tls:
                data = b""
                while b"\r\n\r\n" not in data:
                    part = tls.recv(4096)
                    if not part:
                        return
                    data += part
                head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(self._body)}\r\n"
                tls.sendall(head.encode() + b"Connection: close\r\n\r\n" + self._body)
        except (OSError, ssl.SSLError):
            self.handshake_failures += 1

    def __enter__(self) -> TLSServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()
