"""Records of any input prefdata reads, for readers of prompts alone (eval sets, the
prompts of an iterate run): the same containers, gzip, streaming and bad-byte handling
as the pair readers, and the same message and content-part rules as the layouts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from prefdata.errors import InputError
from prefdata.readers.layouts.base import BadRecord, content_text
from prefdata.readers.sources import detect_file_type, missing_message, read_chunks

# where prompts stand in prompt-only files, most specific first
PROMPT_KEYS = ("prompt", "question", "instruction", "input", "problem", "query", "text")


def iter_records(path: str | Path) -> Iterator[tuple[int, Any]]:
    """(row number, record) of every record; unparseable ones come as ``Malformed``."""
    path = Path(path)
    if not path.exists():
        raise InputError(missing_message(path))
    for chunk in read_chunks(path, detect_file_type(path), 8192):
        yield from zip(chunk.row_numbers(), chunk.parsed(), strict=True)


def last_user_text(messages: Any) -> str | None:
    """The text of the last user (or ShareGPT ``human``) turn of a message list."""
    if not isinstance(messages, list):
        return None
    for i, m in reversed(list(enumerate(messages))):
        if isinstance(m, Mapping) and m.get("role", m.get("from")) in ("user", "human"):
            try:
                return content_text(m.get("content", m.get("value")), f"message {i}")
            except BadRecord:
                return None
    return None


def prompt_text(record: Any) -> str | None:
    """A prompt-only record's prompt as text: the first of ``PROMPT_KEYS`` it has as
    text, else the last user turn of its ``messages`` or ``conversations``."""
    if not isinstance(record, Mapping):  # Malformed included
        return None
    for key in PROMPT_KEYS:
        if isinstance(record.get(key), str):
            return str(record[key])
    return last_user_text(record.get("messages") or record.get("conversations"))
