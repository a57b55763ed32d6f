"""Write converted rows as JSON Lines, a JSON array or Parquet, streamed and atomic."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from prefdata.errors import ConfigError
from prefdata.writer import ParquetSink

BATCH_ROWS = 8192


def output_format(path: Path) -> str:
    name = path.name.lower()
    for suffix, kind in (
        (".jsonl", "jsonl"),
        (".ndjson", "jsonl"),
        (".json", "json"),
        (".parquet", "parquet"),
    ):
        if name.endswith(suffix):
            return kind
    raise ConfigError(f"cannot tell the output format of {path}: name it .jsonl, .json or .parquet")


def write_rows(rows: Iterable[dict[str, Any]], path: Path) -> int:
    """Write ``rows`` to ``path`` (format from its name); nothing appears until complete."""
    kind = output_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    count = 0
    try:
        rows = iter(rows)
        if kind == "parquet":
            sink = ParquetSink(tmp)
            while batch := list(islice(rows, BATCH_ROWS)):
                sink.write(pa.RecordBatch.from_pylist(batch))
                count += len(batch)
            sink.close(pa.schema([]))
        else:
            with open(tmp, "wb") as f:
                f.write(b"[\n" if kind == "json" else b"")
                for row in rows:
                    if count and kind == "json":
                        f.write(b",\n")
                    f.write(orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS))
                    f.write(b"\n" if kind == "jsonl" else b"")
                    count += 1
                f.write(b"\n]\n" if kind == "json" else b"")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        for part in tmp.parent.glob(f"{tmp.name}.part*"):
            part.unlink()
        raise
    return count
