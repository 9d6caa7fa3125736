"""CPU seconds of the processes on this machine, grouped by the part they play in a benchmark.

Read from ``/proc/<pid>/stat`` (Linux): user + system time of each live process, its
command name and parent. A pass is measured as the difference of two snapshots; a process
that exits between them (an autovacuum worker, say) is not in the second one and is counted
nowhere here: the machine's busy time (``/proc/stat``) minus the groups' is its share.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Proc:
    name: str
    parent: int
    cpu_s: float


def snapshot() -> dict[int, Proc]:
    """Every live process's command name, parent pid and CPU seconds so far."""
    hertz = os.sysconf("SC_CLK_TCK")
    procs: dict[int, Proc] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:  # gone since the listing
            continue
        # the name is in parentheses and may hold spaces: split after its closing one
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        procs[int(entry.name)] = Proc(name, int(fields[1]), ticks / hertz)
    return procs


def _descends(pid: int, ancestor: int, procs: Mapping[int, Proc]) -> bool:
    seen = 0
    while pid in procs and seen < 64:
        pid = procs[pid].parent
        if pid == ancestor:
            return True
        seen += 1
    return False


def group_of(pid: int, proc: Proc, procs: Mapping[int, Proc], roles: Mapping[str, int]) -> str:
    """The role of ``pid``: one named in ``roles`` (role -> pid), ``workers`` (a descendant of
    the ``pipeline`` process), ``database`` (a PostgreSQL process) or ``rest``."""
    for role, role_pid in roles.items():
        if pid == role_pid:
            return role
    if "pipeline" in roles and _descends(pid, roles["pipeline"], procs):
        return "workers"
    if proc.name.startswith("postgres"):
        return "database"
    return "rest"


def spent_by_group(
    before: Mapping[int, Proc], after: Mapping[int, Proc], roles: Mapping[str, int]
) -> dict[str, float]:
    """CPU seconds each group spent between the snapshots (processes alive at ``after``)."""
    spent: dict[str, float] = {}
    for pid, proc in after.items():
        earlier = before.get(pid)
        used = proc.cpu_s - (earlier.cpu_s if earlier and earlier.name == proc.name else 0.0)
        if used > 0:
            group = group_of(pid, proc, after, roles)
            spent[group] = spent.get(group, 0.0) + used
    return spent
