"""A stand-in extraction task for pool tests: real extraction, except for planted pages.

Pages whose URL ends in ``/hang`` sleep far past any limit, ``/crash`` kill their worker
process, ``/raise`` raise; every other page goes to the real ``run_extraction``.
"""

from __future__ import annotations

import os
import signal
import time

from aggregator.extract_pool import ExtractJob, run_extraction
from aggregator.types import ExtractedPage


def planted_faults(job: ExtractJob) -> ExtractedPage:
    if job.url.endswith("/hang"):
        time.sleep(600)
    if job.url.endswith("/crash"):
        os.kill(os.getpid(), signal.SIGKILL)
    if job.url.endswith("/raise"):
        raise RuntimeError("planted failure")
    return run_extraction(job)
