"""glibc's allocator as the service sets it up: few arenas, a fixed mmap threshold, and the
operator's GLIBC_TUNABLES left alone. Each case runs in a fresh interpreter, since what
``mallopt`` sets lasts for the life of a process."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap

import pytest

from aggregator.errors import ConfigError
from aggregator.settings import load_settings
from tests.support.paths import REPO

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")

# Six threads malloc at the same time, then the process counts its arenas (malloc_info's
# <heap> elements); then a freed 4 MiB block, after which glibc's rising threshold would serve
# 512 KiB blocks from an arena, and the count of mmapped blocks (mallinfo2's hblks).
PROBE = textwrap.dedent(
    """
    import ctypes, json, sys, tempfile, threading
    from aggregator.allocator import tune
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    tuning = tune(int(sys.argv[1]), int(sys.argv[2]))
    barrier = threading.Barrier(6)
    def work():
        blocks = [libc.malloc(64) for _ in range(200)]
        barrier.wait()
        for block in blocks:
            libc.free(block)
    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads: t.start()
    for t in threads: t.join()
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    with tempfile.NamedTemporaryFile(suffix=".xml") as out:
        handle = libc.fopen(out.name.encode(), b"w")
        libc.malloc_info(0, handle)
        libc.fclose(handle)
        arenas = open(out.name).read().count("<heap nr=")
    class Info(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]
    libc.mallinfo2.restype = Info
    libc.free(libc.malloc(4 << 20))
    before = libc.mallinfo2().hblks
    held = [libc.malloc(512 << 10) for _ in range(4)]
    mapped = libc.mallinfo2().hblks - before
    for block in held: libc.free(block)
    print(json.dumps({"arenas": arenas, "mapped": mapped, "skipped": tuning.skipped,
                      "set": [tuning.arenas, tuning.mmap_threshold_kb]}))
    """
)


def probe(arenas: int, threshold_kb: int, tunables: str | None = None) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    env["PYTHONPATH"] = str(REPO)
    if tunables is not None:
        env["GLIBC_TUNABLES"] = tunables
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(arenas), str(threshold_kb)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_glibc_defaults_give_each_thread_an_arena_and_raise_the_threshold() -> None:
    """The baseline the tuning is measured against: it must differ from the tuned case, or the
    probe measures nothing."""
    untouched = probe(0, 0)
    assert untouched["set"] == [None, None]
    assert isinstance(untouched["arenas"], int) and untouched["arenas"] >= 4
    assert untouched["mapped"] == 0


def test_tuned_process_keeps_two_arenas_and_maps_large_blocks() -> None:
    tuned = probe(2, 128)
    assert tuned["set"] == [2, 128]
    assert tuned["arenas"] == 2
    assert tuned["mapped"] == 4


def test_operators_glibc_tunables_win() -> None:
    theirs = probe(2, 128, tunables="glibc.malloc.arena_max=3")
    assert theirs["skipped"] == "GLIBC_TUNABLES sets the allocator"
    assert theirs["set"] == [None, None]
    assert theirs["arenas"] == 3


@pytest.mark.parametrize(
    ("name", "value"), [("MALLOC_ARENAS", "-1"), ("MALLOC_MMAP_THRESHOLD_KB", "99999")]
)
def test_out_of_range_allocator_settings_are_config_errors(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=r"\[service\] malloc_"):
        load_settings(
            REPO / "config" / "settings.toml",
            env={f"NEWSAGG_SERVICE_{name}": value},
        )
