"""Running the ``newsagg`` command against local servers, as tests and benchmarks do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO


def local_env(db_url: str, outlets: Path, **settings: str) -> dict[str, str]:
    """The environment of a ``newsagg`` process: no ``NEWSAGG_*`` inherited, the repository's
    settings and lexicons, 127.0.0.1 let through the SSRF guard, no per-host delay; each of
    ``settings`` becomes ``NEWSAGG_<NAME>`` (``LOG_LEVEL="DEBUG"``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSAGG_")}
    env.update(
        {
            "NEWSAGG_DATABASE_URL": db_url,
            "NEWSAGG_OUTLETS": str(outlets),
            "NEWSAGG_SETTINGS": str(REPO / "config" / "settings.toml"),
            "NEWSAGG_LEXICONS": str(REPO / "config" / "lexicons.toml"),
            "NEWSAGG_FETCH_ALLOW_HOSTS": "127.0.0.1",
            "NEWSAGG_FETCH_PER_HOST_DELAY_S": "0",
            "PYTHONPATH": str(REPO),
        }
    )
    env.update({f"NEWSAGG_{name}": value for name, value in settings.items()})
    return env


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path, *, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``python -m aggregator ARGS``, output captured, never raising on a failure."""
    return subprocess.run(
        [sys.executable, "-m", "aggregator", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
