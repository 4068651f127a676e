"""knowledge.workers: jobs run in another process, a job past its time limit is stopped (its
worker killed) and the pool goes on; jobs that were running beside it are run again, not lost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from knowledge.workers import JobTimeout, run_in_worker


async def test_a_job_runs_in_another_process():
    assert await run_in_worker(os.getpid, timeout_s=300) != os.getpid()


async def test_a_job_past_its_limit_is_stopped_and_the_pool_goes_on():
    with pytest.raises(JobTimeout):
        await run_in_worker(time.sleep, 600, timeout_s=0.5)  # killed, not waited for: the test ends
    assert await run_in_worker(sum, [1, 2, 3], timeout_s=300) == 6


async def test_a_job_beside_a_stopped_one_is_run_again_not_lost():
    slow = asyncio.create_task(run_in_worker(time.sleep, 600, timeout_s=1.0))
    other = asyncio.create_task(run_in_worker(sum, [4, 5], timeout_s=300))
    with pytest.raises(JobTimeout):
        await slow
    assert await other == 9


async def test_a_jobs_own_error_comes_back_as_raised():
    with pytest.raises(ValueError, match="invalid literal"):
        await run_in_worker(int, "not a number", timeout_s=300)


def test_workers_end_when_their_parent_is_killed(tmp_path):
    # A parent killed outright cannot stop its pool; its workers must not live on holding its
    # stdout open (a reader of that pipe would wait for ever).
    code = (
        "import asyncio, os, sys\n"
        "from knowledge.workers import run_in_worker\n"
        "pid = asyncio.run(run_in_worker(os.getpid, timeout_s=600))\n"
        "print(pid, flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=300,  # returns once the pipe closes: the worker ended too
    )
    assert result.returncode == -signal.SIGKILL
    worker = int(result.stdout.split()[0])
    # It notices within a second or so; a bound of minutes, for a busy machine, not a speed.
    deadline = time.monotonic() + 300
    while Path(f"/proc/{worker}").exists() and not _is_zombie(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{worker}").exists() or _is_zombie(worker)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True
