"""What prefdata makes of an input: type, layout, shape, rows, columns and samples."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from prefdata.config import ReadOptions
from prefdata.readers import read_pairs
from prefdata.readers.normalize import Warnings
from prefdata.schema import CANONICAL, DETAIL, SOURCE_FILE, SOURCE_ROW


@dataclass
class Inspection:
    path: str
    file_type: str
    layout: str | None
    shape: str | None
    rows: int = 0
    readable_rows: int = 0
    unreadable: dict[str, int] = field(default_factory=dict)
    details: dict[str, list[str]] = field(default_factory=dict)  # a few per reason
    carried_columns: list[str] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def inspect_input(
    path: str | Path, options: ReadOptions | None = None, *, samples: int = 3
) -> Inspection:
    """Read one input through and describe it; no check runs and nothing is written.

    >>> inspect_input("sample_data/pairs.jsonl").layout  # doctest: +SKIP
    'trl'
    """
    warnings = Warnings()
    result: Inspection | None = None
    for item in read_pairs([path], options, warnings=warnings):
        info = item.info
        if result is None:
            result = Inspection(str(path), info.file_type, info.layout, info.shape)
        good, bad = item.normalized.good, item.normalized.bad
        result.layout, result.shape = info.layout, info.shape
        result.rows += item.rows
        result.readable_rows += good.num_rows
        if bad is not None:
            codes_per_row = bad.column("reasons").to_pylist()
            details = bad.column(DETAIL).to_pylist()  # every bad batch has one (bad_batch)
            for codes, detail in zip(codes_per_row, details, strict=True):
                for code in codes:
                    result.unreadable[code] = result.unreadable.get(code, 0) + 1
                    shown = result.details.setdefault(code, [])
                    if detail and len(shown) < 3 and detail not in shown:
                        shown.append(detail)
        for name in good.schema.names:
            if (
                name not in CANONICAL
                and name not in (SOURCE_FILE, SOURCE_ROW)
                and name not in result.carried_columns
            ):
                result.carried_columns.append(name)
        if len(result.samples) < samples and good.num_rows:
            take = good.slice(0, samples - len(result.samples))
            result.samples.extend(pa.Table.from_batches([take]).select(list(CANONICAL)).to_pylist())
    if result is None:
        from prefdata.readers.sources import detect_file_type

        result = Inspection(str(path), detect_file_type(Path(path)), None, None)
    result.warnings = list(warnings)
    return result
