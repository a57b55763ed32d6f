"""Publishing a result: one run at a time per folder, and all of it at once.

How: the run builds its result in a staging folder beside OUT (same filesystem), with
report.json, report.html and the card, then swaps the staging folder and OUT in one
``renameat2(RENAME_EXCHANGE)`` call; the previous result, now at the staging name, is
deleted. A reader of OUT sees the previous result or the new one, never a mix, and a
run killed at any point leaves one of the two (a dead run's staging folder is cleared
by the next run). Chosen over versioned subfolders behind a replaced symlink because
OUT stays a plain folder with the names every user and consumer already reads
(``OUT/kept.parquet``), with no pointer to follow. Files that are not part of a result
(``labels.sqlite`` of ``prefdata app``, notes) are carried into the new folder as hard
links, so they survive; a folder that is not part of a result is refused, since it
could not be carried atomically.

Where the filesystem cannot exchange (not Linux, or a filesystem without
RENAME_EXCHANGE), OUT is moved aside and the new folder renamed in: two renames, so
for a moment OUT is absent (never mixed); the report says so in a warning, and a run
killed between the two renames is recovered by the next run.

Files are not fsynced: this covers a killed process, not a power cut.

A lock (``flock`` on ``.OUT.prefdata-lock`` beside OUT, removed after the run) makes a
second run into the same OUT fail at once with a one-line message.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from prefdata.errors import ConfigError, OutputError
from prefdata.results.atomic import can_exchange, exchange, output_error, set_modes
from prefdata.results.folder import REPORT, RESULT_NAMES, Layout
from prefdata.results.report import Report

STAGING_MARK, OLD_MARK, LOCK_MARK = ".prefdata-tmp-", ".prefdata-old-", ".prefdata-lock"

NOT_ATOMIC = (
    "this filesystem cannot swap folders atomically (no renameat2 RENAME_EXCHANGE): "
    "{out} was briefly absent while it was replaced"
)


def _boundary(step: str) -> None:
    """Called between the steps of ``publish``; the fault-injection tests stop runs here."""


def _ours(name: str) -> bool:
    return name in RESULT_NAMES or name.startswith(STAGING_MARK)


def _foreign_folders(out: Path) -> list[str]:
    if not out.is_dir():
        return []
    return sorted(p.name for p in out.iterdir() if not _ours(p.name) and p.is_dir())


class FolderLock:
    """One writer at a time per output folder: ``flock`` on ``.OUT.prefdata-lock`` beside
    it (beside, not inside: publishing replaces the folder itself). Taken by a run for
    the whole run and by ``prefdata report`` while it rewrites a result's extras; a
    second taker fails at once with a one-line message naming the holder's pid."""

    def __init__(
        self, out: Path, given: Path | None = None, then: str = "or choose another --out"
    ) -> None:
        self.out = out.resolve()
        self.given = given if given is not None else out
        self.then = then  # what the message tells the user to do besides waiting
        self.path = self.out.parent / f".{self.out.name}{LOCK_MARK}"
        self._fd: int | None = None

    def acquire(self) -> None:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
                os.close(fd)
                raise OutputError(
                    f"another prefdata run (pid {holder}) is writing {self.given}: wait for it "
                    f"to finish, {self.then}"
                ) from None
            # the holder before us may have removed the lock file after we opened it:
            # then our lock is on a dead file; take the one at the path now
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, str(os.getpid()).encode())
                self._fd = fd
                return
            os.close(fd)

    def release(self) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FolderLock:
        try:
            self.acquire()
        except OSError as exc:  # a parent that cannot hold the lock file
            raise output_error(exc, self.given) from exc
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class OutputFolder:
    """A run's hold on OUT: the lock, a staging folder beside OUT, and the swap.

    >>> with OutputFolder("curated", inputs=["pairs.jsonl"]) as out:  # doctest: +SKIP
    ...     (out.staging / "report.json").write_bytes(b"{}")
    ...     out.publish()
    """

    def __init__(self, out: str | Path, inputs: Sequence[str | Path] = ()) -> None:
        self.given = Path(out)
        self.out = self.given.resolve()
        self.inputs = [Path(p) for p in inputs]
        self.staging = Path()
        self.atomic = True
        self._lock = FolderLock(self.out, self.given)
        self._published = False

    def _sibling(self, mark: str) -> str:
        return f".{self.out.name}{mark}"

    def check(self) -> None:
        """Refuse an OUT that is a file, inside an input folder, or holds a folder of
        its own; raises before anything is written."""
        if self.out.exists() and not self.out.is_dir():
            raise OutputError(f"--out {self.given} is a file: name a folder (new or a result)")
        for path in self.inputs:
            real = path.resolve()
            if real.is_dir() and (self.out == real or self.out.is_relative_to(real)):
                raise ConfigError(
                    f"--out {self.given} is inside the input folder {path}: every run would "
                    f"read the previous outputs back in; choose a --out outside {path}"
                )
        if os.path.ismount(self.out):  # its folder entry cannot be swapped or renamed
            raise OutputError(
                f"--out {self.given} is a mount point, which a new result cannot replace in "
                f"one step: name a folder inside it, e.g. --out {self.given / 'curated'}"
            )
        cwd = Path.cwd().resolve()
        if cwd == self.out or cwd.is_relative_to(self.out):
            # the swap would leave this process (and a shell) in the deleted old folder
            raise OutputError(
                f"--out {self.given} is the current folder or holds it, and a new result "
                f"replaces it as a whole: name a subfolder, e.g. --out {self.given / 'curated'}"
            )
        foreign = _foreign_folders(self.out)
        if foreign:
            raise OutputError(
                f"--out {self.given} holds the folder {foreign[0]!r}, which is not part of a "
                "prefdata result and cannot be carried over when the result is replaced: "
                "move it, or choose an empty or new --out"
            )

    def __enter__(self) -> OutputFolder:
        self.check()
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self._take_lock()
            self._recover()
            self.staging = Path(
                tempfile.mkdtemp(
                    prefix=f"{self._sibling(STAGING_MARK)}{os.getpid()}-", dir=self.out.parent
                )
            )
            self.atomic = can_exchange(self.staging)
        except OSError as exc:
            self._release()
            raise output_error(exc, self.given) from exc
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._published and self.staging != Path():
            shutil.rmtree(self.staging, ignore_errors=True)
        self._release()

    def _take_lock(self) -> None:
        self._lock.acquire()

    def _release(self) -> None:
        self._lock.release()

    def _recover(self) -> None:
        """Clear what dead runs into OUT left beside it (we hold the lock, so no live run
        owns any of it); an OUT moved aside by a non-atomic publish is put back."""
        parent = self.out.parent
        if not self.out.exists():
            for old in sorted(parent.glob(f"{self._sibling(OLD_MARK)}*")):
                os.rename(old, self.out)
                break
        for mark in (STAGING_MARK, OLD_MARK):
            for stale in parent.glob(f"{self._sibling(mark)}*"):
                shutil.rmtree(stale, ignore_errors=True)

    def guard(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` with filesystem errors turned into one-line OutputErrors."""

        def guarded(*args: Any) -> Any:
            with self.writing():
                return fn(*args)

        return guarded

    @contextmanager
    def writing(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise output_error(exc, self.given) from exc

    def publish_result(self, report: Report, layout: Layout) -> None:
        """Write report.json, report.html and the dataset card beside the rows, then publish."""
        from prefdata.reporting import write_extras  # reporting reads results through here

        # an engine's scratch (signatures, rewritten parts) is not part of the result
        for entry in self.staging.iterdir():
            if entry.name not in RESULT_NAMES:
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        if not self.atomic:
            report.warnings.append(NOT_ATOMIC.format(out=self.given))
        data = report.to_json()
        with self.writing():
            (self.staging / REPORT).write_bytes(data)
            write_extras(self.staging, orjson.loads(data), layout)
        self.publish()

    def publish(self) -> None:
        """Make the staging folder OUT, in one step; the previous result is deleted."""
        with self.writing():
            _boundary("start")
            set_modes(self.staging)
            _boundary("modes")
            if self.out.exists():
                self._carry()
            _boundary("carried")
            if not self.out.exists():
                os.rename(self.staging, self.out)
                old = None
            elif self.atomic:
                exchange(self.staging, self.out)
                old = self.staging
            else:
                old = self.out.parent / f"{self._sibling(OLD_MARK)}{os.getpid()}"
                os.rename(self.out, old)
                _boundary("aside")
                os.rename(self.staging, self.out)
            self._published = True
            _boundary("swapped")
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            _boundary("cleaned")

    def _carry(self) -> None:
        """Hard-link the files in OUT that are not part of a result into the new one."""
        foreign = _foreign_folders(self.out)
        if foreign:
            raise OutputError(
                f"--out {self.given} now holds the folder {foreign[0]!r}, which cannot be "
                "carried over: move it and run again"
            )
        for entry in self.out.iterdir():
            if _ours(entry.name):
                continue
            try:
                os.link(entry, self.staging / entry.name, follow_symlinks=False)
            except OSError:  # a filesystem without hard links: a copy will do
                shutil.copy2(entry, self.staging / entry.name, follow_symlinks=False)
