"""Keep-alive races in the fetcher's connection pool, counted (a benchmark, not a test).

    .venv/bin/python -m bench.pool_race --requests 100000
    .venv/bin/python -m bench.pool_race --requests 100000 --pool httpcore   # upstream pool
    .venv/bin/python -m bench.pool_race --requests 100000 --retries 0       # no resend

Threads send GETs through ``GuardedTransport`` to a local server that, after about half of
its responses, closes the connection a few milliseconds later without saying so (as a server
whose keep-alive timeout runs out does). Each close makes an idle connection "expired" in
httpcore's eyes while another thread may just have been given it. Results, by kind of
outcome, go to ``bench/results/pool_race.json``. The resets and "Server disconnected" are
the ordinary keep-alive race (a request sent on a connection the server is closing); ``[Errno
9] Bad file descriptor`` is the pool closing a connection under a request (encode/httpcore
#1110), which ``HeldConnectionPool`` must never do; with the transport's resend of a request
dropped on a reused connection (``--retries``, default ``STALE_RETRIES``) none should fail.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpcore
import httpx

from aggregator import _transport
from aggregator._transport import GuardedTransport

RESULTS = Path(__file__).parent / "results"
BODY = b"x" * 200
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY


def _serve_connection(conn: socket.socket, close_share: float) -> None:
    with conn:
        pending = b""
        while data := conn.recv(65536):
            pending += data
            while b"\r\n\r\n" in pending:
                _, pending = pending.split(b"\r\n\r\n", 1)
                conn.sendall(ANSWER)
                if random.random() < close_share:
                    time.sleep(random.uniform(0, 0.005))
                    return


def _serve(listener: socket.socket, close_share: float) -> None:
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_serve_connection, args=(conn, close_share), daemon=True).start()


def _outcome(client: httpx.Client, url: str) -> str:
    try:
        client.get(url).read()
    except httpx.TransportError as exc:
        return f"{type(exc).__name__}: {exc}"[:90]
    return "ok"


def run(requests: int, threads: int, close_share: float) -> Counter[str]:
    listener = socket.create_server(("127.0.0.1", 0), backlog=512)
    threading.Thread(target=_serve, args=(listener, close_share), daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    transport = GuardedTransport(httpcore.SyncBackend(), httpx.create_ssl_context())
    client = httpx.Client(transport=transport, timeout=5)
    with client, ThreadPoolExecutor(threads) as pool:
        return Counter(pool.map(lambda _: _outcome(client, url), range(requests)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=30)
    parser.add_argument("--close-share", type=float, default=0.5)
    parser.add_argument("--pool", choices=["held", "httpcore"], default="held")
    parser.add_argument("--retries", type=int, default=_transport.STALE_RETRIES)
    args = parser.parse_args()
    _transport.STALE_RETRIES = args.retries
    if args.pool == "httpcore":
        _transport.HeldConnectionPool = httpcore.ConnectionPool  # type: ignore[misc,assignment]
    started = time.perf_counter()
    outcomes = run(args.requests, args.threads, args.close_share)
    seconds = time.perf_counter() - started
    bad_fd = sum(n for kind, n in outcomes.items() if "Errno 9" in kind)
    print(f"{args.pool} pool, {args.retries} retries: {args.requests} requests in {seconds:.1f} s")
    for kind, n in outcomes.most_common():
        print(f"{n:8d}  {kind}")
    print(f"bad file descriptor: {bad_fd}")
    RESULTS.mkdir(exist_ok=True)
    record = {
        **vars(args),
        "seconds": round(seconds, 1),
        "bad_file_descriptor": bad_fd,
        "outcomes": dict(outcomes),
    }
    name = f"pool_race_{args.pool}_{args.retries}.json"
    (RESULTS / name).write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
