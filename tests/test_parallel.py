"""The local engine's threads: read-ahead, ordered map and write-behind keep order,
surface errors where the caller looks, and stop when the caller stops."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from prefdata.parallel import WriteBehind, ordered_map, read_ahead


def test_read_ahead_keeps_order_and_raises_the_producers_error() -> None:
    assert list(read_ahead(iter(range(100)), depth=3)) == list(range(100))

    def broken() -> Iterator[int]:
        yield 1
        raise ValueError("bad block")

    got = []
    with pytest.raises(ValueError, match="bad block"):
        for item in read_ahead(broken()):
            got.append(item)
    assert got == [1]


def test_read_ahead_stops_its_thread_when_the_consumer_stops() -> None:
    produced = []

    def endless() -> Iterator[int]:
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    before = threading.active_count()
    for item in read_ahead(endless(), depth=2):
        if item == 5:
            break
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before
    assert len(produced) <= 5 + 1 + 2 + 1  # at most the queue's depth ahead


def test_ordered_map_on_threads_keeps_job_order() -> None:
    def slow_square(x: int) -> int:
        time.sleep(0.001 * (x % 3))
        return x * x

    jobs = ((i, (i,)) for i in range(50))
    assert list(ordered_map(slow_square, jobs, 4)) == [(i, i * i) for i in range(50)]


def test_write_behind_runs_in_order_and_reports_the_first_error() -> None:
    seen: list[int] = []
    with WriteBehind(depth=2) as writes:
        for i in range(20):
            writes.submit(seen.append, i)
        writes.drain()
    assert seen == list(range(20))

    def fail(_: int) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"), WriteBehind(depth=1) as writes:
        for i in range(5):
            writes.submit(fail, i)
        writes.drain()
