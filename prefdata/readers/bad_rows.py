"""Rows that could not be read: their provenance, raw text, reason code and detail."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import pyarrow as pa

from prefdata.readers.chunk import Malformed
from prefdata.schema import DETAIL, ID, RAW, REASONS, SOURCE_FILE, SOURCE_ROW


def json_text(value: Any) -> str:
    """A record as JSON text, for the ``raw`` column of rows that could not be read."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return repr(value)


def bad_batch(
    source: str,
    rows: list[int],
    raws: list[str],
    codes: list[str],
    ids: list[str | None] | None = None,
    details: list[str | None] | None = None,
) -> pa.RecordBatch:
    """The structural-drop rows of a chunk (with their input id where one could be read)."""
    return pa.RecordBatch.from_arrays(
        [
            pa.array(ids if ids is not None else [None] * len(rows), pa.string()),
            pa.array([source] * len(rows), pa.string()),
            pa.array(rows, pa.int64()),
            pa.array(raws, pa.string()),
            pa.array([[c] for c in codes], pa.list_(pa.string())),
            pa.array(details if details is not None else [None] * len(rows), pa.string()),
        ],
        names=[ID, SOURCE_FILE, SOURCE_ROW, RAW, REASONS, DETAIL],
    )


class BadRows:
    """Collects a chunk's structurally bad rows."""

    def __init__(self, id_key: str) -> None:
        self.id_key = id_key
        self.rows: list[int] = []
        self.raws: list[str] = []
        self.codes: list[str] = []
        self.ids: list[str | None] = []
        self.details: list[str | None] = []

    def add(self, row: int, record: Any, code: str, detail: str | None = None) -> None:
        """Record a bad row; ``record`` is the parsed record, or Malformed."""
        given = record.get(self.id_key) if isinstance(record, Mapping) else None
        self.rows.append(row)
        self.raws.append(record.raw if isinstance(record, Malformed) else json_text(record))
        self.codes.append(code)
        self.ids.append(given if given is None or isinstance(given, str) else json_text(given))
        if detail is None and isinstance(record, Malformed):
            detail = record.error
        self.details.append(detail)

    def batch(self, source: str) -> pa.RecordBatch | None:
        if not self.rows:
            return None
        return bad_batch(source, self.rows, self.raws, self.codes, self.ids, self.details)
