"""Exception types raised by the prefdata library.

The CLI maps each to a one-line message and an exit status; library callers can catch
``PrefdataError`` to handle them all.
"""

from __future__ import annotations

from typing import Any


class PrefdataError(Exception):
    """Base class for every error prefdata raises on purpose."""


class ConfigError(PrefdataError, ValueError):
    """A setting is invalid: the message names the key and the value."""


class InputError(PrefdataError):
    """An input cannot be read at all (missing file, unknown layout, no records)."""


class MissingExtraError(PrefdataError, ImportError):
    """An optional dependency is not installed; the message names the pip extra."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"{package} is not installed: pip install 'prefdata[{extra}]'")
        self.package = package
        self.extra = extra


def require(module: str, extra: str) -> Any:
    """Import an optional dependency, or raise MissingExtraError naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtraError(module.split(".")[0], extra) from exc


class OutputError(PrefdataError):
    """The output folder cannot be written (a file, not writable, full, or in use)."""
