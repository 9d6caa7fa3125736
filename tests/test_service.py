"""The service: `newsagg run` serves health and polls the real outlets file; with no network it
shows each outlet's error and keeps running; SIGTERM stops it cleanly; jobs never stack."""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from aggregator.service import Service
from storage.store import Store
from tests.support.paths import REPO
from tests.test_poll_e2e import cli_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.slow
def test_run_serves_health_and_keeps_polling_without_network(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'newsagg.db'}"
    env = cli_env(db_url, REPO / "config" / "outlets.toml")
    env.pop("NEWSAGG_FETCH_ALLOW_HOSTS")
    env["NEWSAGG_POLL_TICK_SECONDS"] = "2"
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "run", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        status = 0
        while time.monotonic() < deadline:
            try:
                status, _body = get_json(f"http://127.0.0.1:{port}/healthz")
                if status == 200:
                    break
            except OSError:
                time.sleep(0.3)
        assert status == 200
        errored: list[str] = []
        while time.monotonic() < deadline:
            with Store.open(db_url) as store:
                feeds = store.feeds.feeds()
            errored = [f.outlet_id for f in feeds if f.last_error_code]
            if feeds and len(errored) == len(feeds):
                break
            time.sleep(0.5)
        assert feeds and len(errored) == len(feeds)  # every outlet shows its fetch error
        assert {f.last_error_code for f in feeds} <= {"network", "timeout"}
        assert all("feed" in (f.last_error or "") for f in feeds)
        assert proc.poll() is None  # still running
        status, ready = get_json(f"http://127.0.0.1:{port}/readyz")
        assert status == 200, ready
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    assert "outlet=latimes" in err  # structured logs name the outlet
    if platform.libc_ver()[0] == "glibc" and "glibc.malloc." not in env.get("GLIBC_TUNABLES", ""):
        # the service and its web process both set up the allocator (aggregator/allocator.py)
        tuned = [line for line in err.splitlines() if "allocator.tuned" in line]
        assert len(tuned) == 2 and all("arenas=2" in line for line in tuned), tuned
    # the service froze its start-up heap once, before its jobs began (allocator.freeze_start_up)
    frozen = [int(m) for m in re.findall(r"gc\.frozen.*?objects=(\d+)", err)]
    assert len(frozen) == 1 and frozen[0] > 10_000, frozen


FREEZE_PROBE = """
import gc, json, weakref
from aggregator.allocator import freeze_start_up
class Node:
    pass
kept, dropped = Node(), Node()
kept.me, dropped.me = kept, dropped  # two cycles: one still referenced, one garbage
gone = weakref.ref(dropped)
del dropped
gc.disable()  # no collection but the one freeze_start_up makes
frozen = freeze_start_up()
tracked = any(o is kept for o in gc.get_objects())
print(json.dumps({"frozen": frozen, "garbage_kept": gone() is not None, "tracked": tracked}))
"""


def test_freezing_the_start_up_heap_collects_its_garbage_first() -> None:
    """What start-up left as garbage is freed, not frozen for the life of the process; what
    it keeps is out of the collector's reach (``gc.get_objects`` no longer sees it)."""
    done = subprocess.run(
        [sys.executable, "-c", FREEZE_PROBE],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"frozen": result["frozen"], "garbage_kept": False, "tracked": False}
    assert result["frozen"] > 1_000


def test_jobs_never_stack() -> None:
    running = 0
    peak = 0
    runs = 0
    lock = threading.Lock()

    def slow_job() -> None:
        nonlocal running, peak, runs
        with lock:
            running += 1
            runs += 1
            peak = max(peak, running)
        time.sleep(1.0)
        with lock:
            running -= 1

    service = Service({"slow": (slow_job, 0.1)})
    service.start()
    time.sleep(2.5)
    service.stop(wait=True)
    assert peak == 1
    assert 1 <= runs <= 4  # a 1 s job on a 0.1 s interval ran back to back, never 25 times
    assert not service.running


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread priority is Linux's")
def test_jobs_run_below_the_priority_of_the_rest_of_the_process() -> None:
    """The web UI's process gets the CPU first: the scheduler's job threads, and the threads
    they start, run ``nice`` steps lower; the process's other threads keep theirs."""
    seen: dict[str, int] = {}
    done = threading.Event()

    def priority() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def job() -> None:
        seen.setdefault("job", priority())
        child = threading.Thread(target=lambda: seen.setdefault("started", priority()))
        child.start()
        child.join()
        done.set()

    base = priority()
    service = Service({"job": (job, 0.1)}, nice=3)
    service.start()
    try:
        assert done.wait(10)
    finally:
        service.stop(wait=True)
    expected = min(19, base + 3)
    assert seen == {"job": expected, "started": expected}
    assert priority() == base
