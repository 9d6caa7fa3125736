"""The benchmark's split of CPU time by process (bench/proc_cpu.py), on real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench import proc_cpu

BURN = "import time\nend = time.process_time() + {s}\nwhile time.process_time() < end: pass\n"


def _burning(seconds: float) -> subprocess.Popen[bytes]:
    """A child that spends ``seconds`` of CPU, says so, then waits to be killed."""
    code = BURN.format(s=seconds) + "print('done', flush=True)\ntime.sleep(60)\n"
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)


def test_a_child_of_the_pipeline_counts_as_a_worker_and_a_named_pid_as_its_role() -> None:
    before = proc_cpu.snapshot()
    worker, server = _burning(0.4), _burning(0.2)
    try:
        for child in (worker, server):
            assert child.stdout is not None and child.stdout.readline() == b"done\n"
        spent = proc_cpu.spent_by_group(
            before, proc_cpu.snapshot(), {"pipeline": os.getpid(), "server": server.pid}
        )
    finally:
        for child in (worker, server):
            child.kill()
            child.wait()
            if child.stdout is not None:
                child.stdout.close()
    assert 0.35 <= spent["workers"] < 1.5
    assert 0.15 <= spent["server"] < 1.0


def test_the_snapshot_reads_this_process_and_its_parent() -> None:
    end = time.process_time() + 0.05
    while time.process_time() < end:
        pass
    procs = proc_cpu.snapshot()
    me = procs[os.getpid()]
    assert me.parent == os.getppid()
    assert me.cpu_s >= 0.05
    assert me.name.startswith(("python", "pytest"))
