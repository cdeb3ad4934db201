"""Where the per-file tasks run: a local process pool, or an existing Dask cluster.

Both engines take a picklable task function and its arguments and yield each
argument with its result (or the exception the task raised) as soon as it is done,
in completion order. The local engine needs no server; the Dask engine connects to a
running ``dask scheduler`` (``tcp://HOST:PORT``) whose workers see the inputs at the
same paths (shared storage). The cluster itself is Dask's business: nothing here
starts or manages one.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import Any, Protocol, TypeVar

from analyzer.errors import UsageError, require_extra

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
Item = TypeVar("Item")
Result = TypeVar("Result")


class Engine(Protocol):
    """Runs tasks; the context manager frees the workers or the cluster connection."""

    description: str

    def run(
        self, task: Callable[[Item], Result], items: Sequence[Item]
    ) -> Iterator[tuple[Item, Result | BaseException]]: ...

    def __enter__(self) -> Engine: ...

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None: ...


class LocalEngine:
    """A pool of worker processes on this machine (default: one per CPU core)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.description = f"{self.workers} local worker process(es)"
        # fork: the workers start without importing the main module again (spawn and
        # forkserver would rerun an unguarded `python -m analyzer`); the driver has no
        # threads of its own yet when the pool starts.
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        context = multiprocessing.get_context(method)
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context,
                                         initializer=end_with_driver, initargs=(os.getpid(),))

    def run(
        self, task: Callable[[Item], Result], items: Sequence[Item]
    ) -> Iterator[tuple[Item, Result | BaseException]]:
        futures: dict[Future[Result], Item] = {}
        for item in items:
            futures[self._pool.submit(task, item)] = item
        for future in as_completed(futures):
            # popped: a result is freed once taken, not kept until the job ends
            yield futures.pop(future), _outcome(future)

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            return
        # Interrupted (Ctrl-C) or failed: do not wait for tasks that may never end (a
        # worker stuck on a hung file system); stop the workers.
        processes = list(getattr(self._pool, "_processes", {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()


def end_with_driver(driver: int) -> None:
    """In each worker: end when the driver ends, however it ends (kill -9 included), not
    linger blocked on the task queue. Linux sends the worker SIGKILL then
    (PR_SET_PDEATHSIG); elsewhere the pool's own shutdown is all there is."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != driver:  # the driver ended before the line above
        os._exit(1)


class DaskEngine:
    """A client of a running Dask distributed scheduler."""

    def __init__(self, address: str) -> None:
        require_extra("distributed", "dask", "--scheduler")
        from distributed import Client

        try:
            self._client = Client(address, timeout="10s", set_as_default=False)
        except OSError as exc:
            raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
        workers = len(self._client.scheduler_info().get("workers", {}))
        self.description = f"Dask cluster at {address} ({workers} worker(s))"

    def run(
        self, task: Callable[[Item], Result], items: Sequence[Item]
    ) -> Iterator[tuple[Item, Result | BaseException]]:
        from distributed import as_completed as dask_as_completed

        futures = self._client.map(task, items, pure=False)
        by_key: dict[Any, Item] = dict(zip((f.key for f in futures), items, strict=True))
        pending = {future.key: future for future in futures}
        done: Any = dask_as_completed(futures, loop=self._client.loop)
        del futures
        try:
            for future in done:
                outcome = _outcome(future)
                # Let the cluster forget the result at once: its memory holds only the
                # results not yet taken, not every input's flows until the job ends.
                pending.pop(future.key, None)
                future.release()
                yield by_key[future.key], outcome
        finally:
            if pending:
                self._client.cancel(list(pending.values()))

    def __enter__(self) -> DaskEngine:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self._client.close()


def _outcome(future: Any) -> Any:
    """The future's result, or the exception it raised (the caller decides what it means)."""
    try:
        return future.result()
    except Exception as exc:
        return exc


def make_engine(workers: int | None, scheduler: str | None) -> Engine:
    if scheduler is not None:
        if workers is not None:
            raise UsageError("--workers is for the local engine; a Dask cluster has its own")
        return DaskEngine(scheduler)
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1, not {workers}")
    return LocalEngine(workers)
