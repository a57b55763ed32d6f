"""The local engine's parallel primitives: an ordered, bounded map, and read-ahead.

Threads, not processes: the heavy kernels (ISA-L inflate, Arrow's JSON parser and
compute functions, rapidfuzz's cpdist, Parquet encoding) release the GIL, so threads
overlap them with no copying between processes and one copy of everything in memory.
Even the row-by-row path of conversational records gained from two threads on 2 cores
(100k LLaMA-Factory pairs: 4.0k pairs/s against 2.9k inline).
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

K = TypeVar("K")
R = TypeVar("R")
T = TypeVar("T")


def ordered_map(
    fn: Callable[..., R],
    jobs: Iterator[tuple[K, tuple[Any, ...]]],
    workers: int,
) -> Iterator[tuple[K, R]]:
    """``(key, fn(*args))`` for each ``(key, args)`` job, in job order.

    With one worker everything runs inline; otherwise on ``workers`` threads. At most two
    jobs per worker are in flight, so memory stays bounded however long the input.
    """
    if workers <= 1:
        for key, args in jobs:
            yield key, fn(*args)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="prefdata-chunk") as pool:
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


_DONE = object()


def read_ahead(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """``items``, produced by a background thread up to ``depth`` ahead of the consumer.

    Reading (and inflating) the next chunk then overlaps the work on this one. An error
    in the producer is raised here; when the consumer stops early, the producer stops at
    its next item.
    """
    slots: queue.Queue[Any] = queue.Queue(depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slots.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            slots.put(exc)

    thread = threading.Thread(target=produce, name="prefdata-read", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # let the producer see the stop, then wait for it
            try:
                slots.get_nowait()
            except queue.Empty:
                thread.join(0.05)


class WriteBehind:
    """Calls run in submission order on one background thread, at most ``depth`` queued.

    For writing Parquet while the next chunk is checked: pyarrow encodes and compresses
    without the GIL. ``drain`` waits for everything and raises the first error.
    """

    def __init__(self, depth: int = 4) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="prefdata-write")
        self._pending: deque[Future[Any]] = deque()
        self._depth = depth

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self._pending.append(self._pool.submit(fn, *args))
        while len(self._pending) > self._depth:
            self._pending.popleft().result()

    def drain(self) -> None:
        while self._pending:
            self._pending.popleft().result()

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            for future in self._pending:
                future.cancel()
        self._pool.shutdown(wait=True)
