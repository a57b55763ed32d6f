"""Filesystem steps of publishing: swapping two folders in one step, one file mode, and
filesystem errors as one line."""

from __future__ import annotations

import ctypes
import errno
import os
import re
from pathlib import Path

from prefdata.errors import OutputError
from prefdata.writer import file_modes

_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def exchange(a: Path, b: Path) -> None:
    """Swap two paths atomically (Linux renameat2); OSError where it cannot."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(a))


def can_exchange(scratch: Path) -> bool:
    a, b = scratch / ".probe-a", scratch / ".probe-b"
    a.mkdir()
    b.mkdir()
    try:
        exchange(a, b)
        return True
    except OSError as exc:
        if exc.errno in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
            return False
        raise
    finally:
        a.rmdir()
        b.rmdir()


def _errno(exc: OSError) -> int | None:
    # pyarrow raises OSError without errno; its message carries "[errno 28]"
    if exc.errno is not None:
        return exc.errno
    found = re.search(r"errno (\d+)", str(exc))
    return int(found.group(1)) if found else None


_FIXES = {
    errno.ENOSPC: "free some space or choose another --out",
    errno.EDQUOT: "free some space or choose another --out",
    errno.EFBIG: "the file grew past this system's size limit; choose another --out",
    errno.EACCES: "make it writable or choose another --out",
    errno.EPERM: "make it writable or choose another --out",
    errno.EROFS: "the filesystem is read-only; choose another --out",
}


def _reason(exc: OSError) -> str:
    code = _errno(exc)
    return os.strerror(code) if code else str(exc).splitlines()[0]


def output_error(exc: OSError, out: Path) -> OutputError:
    """One line for a filesystem error while writing the result for ``out``."""
    where = exc.filename or out
    fix = _FIXES.get(_errno(exc) or 0, "choose another --out")
    return OutputError(f"cannot write {where}: {_reason(exc)}; {fix} ({out} is unchanged)")


def write_error(exc: OSError, path: Path) -> OutputError:
    """One line for a filesystem error while writing ``path``, a file outside any --out
    (``validate --report``, ``prefdata report``'s extras)."""
    return OutputError(f"cannot write {exc.filename or path}: {_reason(exc)}")


# Errors only writing can cause: a task that failed with one of these failed writing its
# part of the result, not reading the input.
WRITE_ONLY = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS)


def remote_write_error(exc: BaseException) -> OSError | None:
    """The write error behind an error raised by a distributed task, if that is what it
    is: found in the exception chain, or in the text of a remote traceback (Ray sends
    its causes as text)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and _errno(current) in WRITE_ONLY:
            return current
        current = getattr(current, "cause", None) or current.__cause__ or current.__context__
    for code in WRITE_ONLY:
        if f"[Errno {code}]" in str(exc) or f"[errno {code}]" in str(exc):
            return OSError(code, os.strerror(code))
    return None


def set_modes(root: Path) -> None:
    file_mode, dir_mode = file_modes()
    os.chmod(root, dir_mode)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(os.path.join(folder, name), dir_mode)
        for name in files:
            os.chmod(os.path.join(folder, name), file_mode)
