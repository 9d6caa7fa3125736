"""`newsagg run` serves the web UI from a process of its own: the service's counters and
scheduler reach it through a pipe, a dead web process is started again, a killed service
takes its web process with it, and a taken port is a clear error."""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from aggregator.webprocess import _exited
from tests.support.cli import local_env
from tests.support.paths import REPO
from tests.support.webserver import free_port

pytestmark = pytest.mark.slow


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_for(check: object, timeout: float = 60.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()  # type: ignore[operator]
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"not true within {timeout} s: {check}")


def web_pids(log: Path) -> list[int]:
    text = log.read_text(encoding="utf-8", errors="replace")
    return [int(pid) for pid in re.findall(r"web\.spawned pid=(\d+)", text)]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")


@contextmanager
def service(tmp_path: Path, port: int) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """`newsagg run` on the real outlets file with no network (every fetch fails fast)."""
    env = local_env(f"sqlite:///{tmp_path / 'newsagg.db'}", REPO / "config" / "outlets.toml")
    env.pop("NEWSAGG_FETCH_ALLOW_HOSTS")
    env["NEWSAGG_POLL_TICK_SECONDS"] = "2"
    log = tmp_path / "service.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aggregator", "run", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield proc, log
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=90)


def metric(text: str, name: str) -> float:
    values = [float(m) for m in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M)]
    return sum(values)


def test_the_web_process_shows_the_services_counters_and_survives_its_own_death(
    tmp_path: Path,
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with service(tmp_path, port) as (proc, log):
        wait_for(lambda: get(f"{base}/healthz")[0] == 200)
        (first,) = web_pids(log)
        assert first != proc.pid  # the web app is not in the service's interpreter

        # the fetch counters move in the service; /metrics of the web process shows them
        def counted() -> str | None:
            text = get(f"{base}/metrics")[1]
            return text if metric(text, "newsagg_fetches_total") > 0 else None

        text = str(wait_for(counted))
        assert metric(text, "newsagg_service_metrics_up") == 1
        assert metric(text, "newsagg_http_request_seconds_count") > 0  # the web's own timings
        status, body = get(f"{base}/readyz")
        assert status == 200 and '"scheduler":true' in body.replace(" ", "")

        os.kill(first, signal.SIGKILL)  # the web process dies; the service starts another
        wait_for(lambda: len(web_pids(log)) == 2)
        wait_for(lambda: get(f"{base}/healthz")[0] == 200)
        second = web_pids(log)[1]
        assert proc.poll() is None and second != first
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=90) == 0
        assert not alive(second)
    text = log.read_text()
    assert "web.exited" in text
    assert "web.killed" not in text  # SIGTERM was enough; no thread took it for alive


def test_waiting_for_the_web_process_does_not_reap_it() -> None:
    """The supervisor alone reaps the child; the other threads and stop() look at its
    sentinel, which leaves an exited child a zombie (its pid still ours) until reaped."""
    context = multiprocessing.get_context("spawn")
    child = context.Process(target=time.sleep, args=(0.2,))
    child.start()
    assert not _exited(child)
    assert _exited(child, 30)
    wait_for(lambda: not alive(child.pid), timeout=10)  # it finishes exiting...
    time.sleep(0.2)
    assert Path(f"/proc/{child.pid}").exists()  # ...and stays a zombie: nobody reaped it
    child.join(5)
    assert child.exitcode == 0 and not Path(f"/proc/{child.pid}").exists()


def test_a_killed_service_takes_its_web_process_with_it(tmp_path: Path) -> None:
    port = free_port()
    with service(tmp_path, port) as (proc, log):
        wait_for(lambda: get(f"http://127.0.0.1:{port}/healthz")[0] == 200)
        (web,) = web_pids(log)
        proc.kill()
        proc.wait()
        wait_for(lambda: not alive(web), timeout=15)
    with socket.socket() as sock:  # nothing listens on the port: the next start can have it
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with service(tmp_path, port) as (proc, log):
            status = proc.wait(timeout=90)
    assert status == 1
    text = log.read_text()
    assert "newsagg: error: web: the web UI could not start" in text
    assert "address already in use" in text  # the reason, from the web process
    assert "service.stopped" in text  # the scheduler was stopped on the way out
