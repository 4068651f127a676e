"""CPU-heavy parsing (files, feeds) in worker processes, each job with a time limit.

Why processes and not ``asyncio.to_thread``: pypdf, trafilatura and feedparser are pure Python, and
some of their steps are single C calls over a whole document (a regex, a Unicode normalisation)
that hold the GIL for seconds. In a thread they stalled the event loop: loop lag reached 2.7 s
while a slow PDF was parsed, ask p95 rose from 46 ms to 341 ms, and a feed of 100,000 entries
froze the loop for 74.6 s. In a process they share no GIL with the loop, and a job past its time
limit can be stopped, which a thread cannot: the pool's processes are killed and the pool is
started anew (jobs that were queued behind it are run again once).

One pool per process, started on first use and shared by every ``KnowledgeBase``. Workers are
started with ``spawn``: forking a process that holds aiosqlite and torch threads could copy a
held lock into the child. Where processes cannot be started at all (a sandbox without
``/dev/shm``), jobs run in a thread as before, logged once.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import multiprocessing
import os
import sys
import threading
import time
import types
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# Two workers: a second upload is not queued behind a long PDF, and on the 2-core machines this
# runs on, more would compete with embedding for the cores.
WORKERS = max(1, min(2, (os.cpu_count() or 1)))


# Parsing is background work: a worker yields the cores to the process answering questions.
_WORKER_NICENESS = 10
_PARENT_CHECK_S = 1.0


def _start_worker(parent: int) -> None:
    """In each worker, first: a lower priority, and an end when the parent process ends. A worker
    outlives a parent that was killed (SIGKILL leaves it no time to stop its pool), keeping the
    parent's inherited stdout and stderr open, so whoever reads them waits for ever (a test of
    killed shard processes hung on exactly that)."""
    try:
        os.nice(_WORKER_NICENESS)
    except OSError:
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="newsdesk-parent-watch", daemon=True).start()


class JobTimeout(Exception):
    """A job ran past its time limit; its worker was stopped."""


class _Pool:
    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._in_thread = False
        self._loop_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def _current(self) -> ProcessPoolExecutor | None:
        with self._lock:
            if self._in_thread:
                return None
            if self._executor is None:
                try:
                    self._executor = ProcessPoolExecutor(
                        self._workers,
                        mp_context=multiprocessing.get_context("spawn"),
                        initializer=_start_worker,
                        initargs=(os.getpid(),),
                    )
                except (OSError, NotImplementedError) as e:
                    log.warning("cannot start worker processes (%s): parsing runs in threads", e)
                    self._in_thread = True
            return self._executor

    def _restart(self, broken: ProcessPoolExecutor) -> None:
        """Stop every process of ``broken`` (a job in it overran) and start afresh at the next job."""
        with self._lock:
            if self._executor is broken:
                self._executor = None
        # The executor has no way to cancel a running job; killing its processes is the only stop.
        # Its jobs then fail with BrokenProcessPool, and ``run`` retries the innocent ones.
        for process in list((getattr(broken, "_processes", None) or {}).values()):
            try:
                process.kill()
            except (OSError, ValueError):
                pass
        broken.shutdown(wait=False, cancel_futures=True)

    def _slots(self) -> asyncio.Semaphore:
        """Jobs wait here, not in the executor's queue, so a job's time limit counts from when a
        worker takes it: a file queued behind a slow one is not timed out for waiting."""
        loop = asyncio.get_running_loop()
        slots = self._loop_slots.get(loop)
        if slots is None:
            slots = self._loop_slots[loop] = asyncio.Semaphore(self._workers)
        return slots

    async def run(self, fn: Callable[..., T], *args: Any, timeout_s: float) -> T:
        async with self._slots():
            return await self._run(fn, *args, timeout_s=timeout_s)

    async def _run(self, fn: Callable[..., T], *args: Any, timeout_s: float) -> T:
        for attempt in range(2):
            executor = self._current()
            if executor is None:
                try:
                    return await asyncio.wait_for(asyncio.to_thread(fn, *args), timeout_s)
                except TimeoutError:  # the thread runs on (a thread cannot be stopped); its result is dropped
                    raise JobTimeout(f"over {timeout_s:g} s") from None
            try:
                with _main_hidden():
                    future = asyncio.wrap_future(executor.submit(fn, *args))
            except (BrokenProcessPool, RuntimeError):  # shut down by another job's timeout meanwhile
                self._restart(executor)
                continue
            try:
                return await asyncio.wait_for(future, timeout_s)
            except TimeoutError:
                self._restart(executor)
                raise JobTimeout(f"over {timeout_s:g} s") from None
            except BrokenProcessPool:
                # Another job's timeout stopped the pool under this one (or a worker died): once more.
                self._restart(executor)
                if attempt:
                    raise
        raise BrokenProcessPool("the worker processes stopped twice")

    def shutdown(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


_hiding = threading.Lock()


@contextlib.contextmanager
def _main_hidden() -> Iterator[None]:
    """While a worker may be started (``submit`` starts them as needed): ``__main__`` as a blank
    module. A spawned child imports the parent's main script otherwise, and a script without an
    ``if __name__ == "__main__":`` guard would run again in every worker (each reader then "crashed").
    The jobs are functions of ``knowledge``, never of ``__main__``."""
    with _hiding:
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            if main is not None:
                sys.modules["__main__"] = main


_pool = _Pool(WORKERS)
atexit.register(_pool.shutdown)


@contextlib.contextmanager
def in_threads() -> Iterator[None]:
    """Jobs started inside run in this process's threads (no time limit can stop them there): for
    tests that patch a reader, which a worker process would not see, and for the bench's comparison."""
    before, _pool._in_thread = _pool._in_thread, True
    try:
        yield
    finally:
        _pool._in_thread = before


async def run_in_worker(fn: Callable[..., T], *args: Any, timeout_s: float) -> T:
    """``fn(*args)`` in a worker process (``fn`` and its arguments and result are pickled: a module-level
    function), raising ``JobTimeout`` when it runs past ``timeout_s``; its own exceptions come back
    as raised there."""
    return await _pool.run(fn, *args, timeout_s=timeout_s)
