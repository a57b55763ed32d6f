"""Opening inputs that may be gzipped, and reading them in blocks that keep every byte a
truncated file holds (the rows read are then curated and counted, and the run says so).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

from prefdata.errors import InputError
from prefdata.readers.digest import InputDigest

BUFFER_BYTES = 4 << 20


def open_binary(path: Path, digest: InputDigest | None = None) -> tuple[BinaryIO, BinaryIO]:
    """Open a possibly gzipped file; returns (decompressed stream, raw file for progress).

    With ``digest``, the raw (compressed) bytes are hashed as they are read.
    """
    opened = digest.open(path) if digest is not None else open(path, "rb")  # noqa: SIM115
    magic = opened.peek(2)[:2]  # peek: a read and a seek back would hash the bytes twice
    raw = cast(BinaryIO, opened)
    if magic == b"\x1f\x8b":
        return io.BufferedReader(_gzip_reader(raw), BUFFER_BYTES), raw
    return raw, raw


def _gzip_reader(raw: BinaryIO) -> Any:
    # ISA-L's inflate is about 3x faster than zlib's; decompression is the one part of
    # reading that cannot be spread over threads
    try:
        from isal import isal_zlib as zlib_module
    except ImportError:  # pragma: no cover - isal ships wheels for the common platforms
        import zlib as zlib_module  # type: ignore[no-redef]
    return _GzipStream(raw, zlib_module)


class _GzipStream(io.RawIOBase):
    """Gzip (all members) decompressed as a stream that keeps every byte it could
    decompress: a truncated file gives all its data, then EOFError. (GzipFile and
    IGzipFile raise at the end and drop what that read had decompressed.)"""

    def __init__(self, raw: BinaryIO, zlib_module: Any) -> None:
        self._raw, self._zlib = raw, zlib_module
        self._inflate = zlib_module.decompressobj(31)
        self._pending = memoryview(b"")  # decompressed, not yet handed out
        self._truncated = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not len(self._pending):
            if self._truncated:
                raise EOFError("Compressed file ended before the end-of-stream marker")
            data = self._raw.read(1 << 20)
            if not data:
                if not self._inflate.eof:
                    self._truncated = True
                    continue
                return 0
            parts = []
            while data:
                parts.append(self._inflate.decompress(data))
                data = self._inflate.unused_data
                if self._inflate.eof and data:  # the next member of a multi-member file
                    self._inflate = self._zlib.decompressobj(31)
            self._pending = memoryview(b"".join(parts))
        # hand out a view: slicing bytes would copy the rest on every call
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def truncated_note(path: Path, rows: int) -> str:
    return (
        f"{path} is truncated: its compressed stream ends early, after {rows:,} rows; "
        "the rows read are curated and counted, the rest are missing: download or "
        "compress the file again"
    )


# read1's size per call: a decompressor that hits the end of a truncated stream raises
# and drops what the call had decompressed, so calls are kept small
READ_BYTES = 256 << 10


def blocks(stream: BinaryIO, path: Path, block_bytes: int) -> Iterator[bytes | None]:
    """The stream's blocks of about ``block_bytes``; None (once, last) when a gzip stream
    ends early, after the data read before that point."""
    # read1 hands over what was decompressed so far: a single read() of a truncated
    # stream would raise and lose the whole block
    read = getattr(stream, "read1", stream.read)
    while True:
        parts: list[bytes] = []
        size = 0
        try:
            while size < block_bytes:
                part = read(min(block_bytes - size, READ_BYTES))
                if not part:
                    break
                parts.append(part)
                size += len(part)
        except EOFError:  # gzip and ISA-L both say "ended before the end-of-stream marker"
            if parts:
                yield b"".join(parts)
            yield None
            return
        except Exception as exc:  # zlib.error, IsalError, BadGzipFile: corrupt, not short
            raise InputError(
                f"cannot read {path}: its compressed data is corrupt ({exc}); "
                "download or compress the file again"
            ) from exc
        if not parts:
            return
        yield b"".join(parts)
