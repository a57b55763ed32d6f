"""sha256 of an input's on-disk bytes, taken while the readers read them.

``report.inputs[].sha256`` is the digest of a file, or of a folder's files in name order.
Reading every input a second time after the pass just to hash it cost a full extra read
(and a hash on the main thread) per run; here the bytes are hashed as they go by:

- streams (JSONL, JSON, CSV, gzipped or not) through ``HashingFile``, a thin wrapper of
  the raw file, so the compressed bytes on disk are what is hashed;
- Parquet, which pyarrow reads by ranges (footer first), in file order alongside the
  reader: after each row group, the bytes up to its end (``upto``), just read by pyarrow
  and so in the page cache;
- memory-mapped Arrow files from their mapping (``mapped``).

Files of a folder that no reader opens (``state.json``, ``_SUCCESS``) are hashed when
the reader moves past them, so the digest equals ``sha256_files`` of the same path. A
reader that opens files out of name order cannot be hashed in one pass: ``hexdigest``
then reads the input again, and ``reread`` says so.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any, BinaryIO

BLOCK = 1 << 20


def files_of(path: Path) -> list[Path]:
    """The files a digest covers: the file, or a folder's files in name order."""
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]


def sha256_files(path: Path) -> str:
    """sha256 of a file, or of a folder's files in name order, read from disk."""
    digest = hashlib.sha256()
    for file in files_of(path):
        with open(file, "rb") as f:
            while block := f.read(BLOCK):
                digest.update(block)
    return digest.hexdigest()


class InputDigest:
    """The digest of one input, fed in file order as its reader reads it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reread = False  # True: the reader left name order; hexdigest reads again
        self._files = files_of(path)
        self._at = 0  # index of the file being hashed
        self._pos = 0  # its bytes hashed so far
        self._sha = hashlib.sha256()
        self._handle: BinaryIO | None = None  # our own handle on it, to hash what is left

    def _drop_handle(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _read_to(self, end: int | None) -> None:
        """Hash the current file from where hashing stopped up to ``end`` (None: its end)."""
        if self._at >= len(self._files) or (end is not None and end <= self._pos):
            return
        if self._handle is None:
            # unbuffered: blocks go straight into our buffer
            self._handle = open(self._files[self._at], "rb", buffering=0)  # noqa: SIM115
            self._handle.seek(self._pos)
        buffer = memoryview(bytearray(BLOCK))  # one buffer: no new bytes per block
        while end is None or self._pos < end:
            want = BLOCK if end is None else min(BLOCK, end - self._pos)
            n = self._handle.readinto(buffer[:want])  # type: ignore[attr-defined]
            if not n:
                break
            self._sha.update(buffer[:n])
            self._pos += n

    def _next_file(self) -> None:
        self._read_to(None)
        self._drop_handle()
        self._at += 1
        self._pos = 0

    def start(self, file: Path) -> bool:
        """The reader opens ``file``: hash what comes before it. False: out of order."""
        if self.reread:
            return False
        if self._at < len(self._files) and self._files[self._at] == file:
            return True
        later = self._files[self._at + 1 :]
        if file not in later:  # a file read twice, or out of name order
            self.reread = True
            self._drop_handle()
            return False
        while self._files[self._at] != file:
            self._next_file()
        return True

    def feed(self, data: Any) -> None:
        """Bytes of the current file, in order, as the reader read them."""
        self._sha.update(data)
        self._pos += len(data)

    def upto(self, file: Path, end: int) -> None:
        """Hash ``file`` up to byte ``end`` (a reader that reads by ranges, as Parquet)."""
        if self.start(file):
            self._read_to(end)

    def mapped(self, file: Path, buffer: Any) -> None:
        """Hash ``file`` from its memory mapping: the whole file, as one buffer."""
        if self.start(file) and self._pos == 0:
            self.feed(memoryview(buffer))

    def open(self, file: Path) -> io.BufferedReader | HashingFile:
        """``file`` opened for reading, its bytes hashed as they are read."""
        if self.start(file) and self._pos == 0:
            return HashingFile(file, self)
        return open(file, "rb")

    def hexdigest(self) -> str:
        """The digest, once the reader is done: what it did not read is hashed now."""
        if self.reread:
            return sha256_files(self.path)
        while self._at < len(self._files):
            self._next_file()
        return self._sha.hexdigest()


class HashingFile:
    """A file opened for reading whose bytes go to an ``InputDigest`` as they are read.

    Only forward reads: a seek would hash bytes twice or skip some, so it hands the
    digest over to a second read (``InputDigest.reread``). What the reader leaves unread
    (a JSON array's trailing bytes) is hashed by the digest at the end.
    """

    def __init__(self, file: Path, digest: InputDigest) -> None:
        self._raw = open(file, "rb")  # noqa: SIM115 - closed by close()
        self._digest: InputDigest | None = digest
        self.name = str(file)

    def _fed(self, data: bytes) -> bytes:
        if self._digest is not None:
            self._digest.feed(data)
        return data

    def read(self, size: int = -1) -> bytes:
        return self._fed(self._raw.read(size))

    def read1(self, size: int = -1) -> bytes:
        return self._fed(self._raw.read1(size))

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer)
        if self._digest is not None and n:
            self._digest.feed(memoryview(buffer)[:n])
        return n

    def peek(self, size: int = 0) -> bytes:
        return self._raw.peek(size)  # does not move: nothing to hash

    def tell(self) -> int:
        return self._raw.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 0 and offset == self._raw.tell():
            return offset  # where it is: nothing skipped, nothing read twice
        if self._digest is not None:
            self._digest.reread = True
            self._digest = None
        return self._raw.seek(offset, whence)

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return self._raw.closed

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> HashingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
