"""knowledge.workers: jobs run in another process, a job past its time limit is stopped (its
worker killed) and the pool goes on; jobs that were running beside it are run again, not lost."""

from __future__ import annotations

import asyncio
import os
import time

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
