"""An ordered, bounded map over worker processes: the local engine's one parallel primitive."""

from __future__ import annotations

import signal
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, TypeVar

K = TypeVar("K")
R = TypeVar("R")


def _ignore_interrupts() -> None:
    # Ctrl-C is the parent's to handle: it cancels the pool and removes the staging
    # folder; workers printing their own tracebacks would only bury that message
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def ordered_map(
    fn: Callable[..., R], jobs: Iterator[tuple[K, tuple[Any, ...]]], workers: int
) -> Iterator[tuple[K, R]]:
    """``(key, fn(*args))`` for each ``(key, args)`` job, in job order.

    With one worker everything runs inline. Otherwise at most two jobs per worker are in
    flight, so memory stays bounded however long the input.
    """
    if workers == 1:
        for key, args in jobs:
            yield key, fn(*args)
        return
    # spawn, not fork: the parent holds Arrow thread pools that fork would copy broken
    with ProcessPoolExecutor(
        workers, mp_context=get_context("spawn"), initializer=_ignore_interrupts
    ) as pool:
        window: deque[tuple[K, Future[R]]] = deque()
        try:
            for key, args in jobs:
                window.append((key, pool.submit(fn, *args)))
                if len(window) >= 2 * workers:
                    done_key, future = window.popleft()
                    yield done_key, future.result()
            while window:
                done_key, future = window.popleft()
                yield done_key, future.result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
