"""Build report.html and README.md for an output folder (or its staging folder)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from prefdata.reporting.card import render_card
from prefdata.reporting.html import render_html
from prefdata.results.folder import CARD, HTML, Layout, Result, open_result
from prefdata.writer import write_json_atomic

SAMPLES_PER_REASON = 5


def _batches(files: list[Path], wanted: tuple[str, ...]) -> Iterator[pa.RecordBatch]:
    for path in files:
        parquet = pq.ParquetFile(path)  # one footer read per file, for its schema and rows
        columns = [c for c in wanted if c in parquet.schema_arrow.names]
        yield from parquet.iter_batches(batch_size=2048, columns=columns)


def dropped_samples(
    files: list[Path], wanted: list[str], per_reason: int = SAMPLES_PER_REASON
) -> dict[str, list[dict[str, Any]]]:
    """The first few dropped rows of each reason, reading batches only until all are found."""
    samples: dict[str, list[dict[str, Any]]] = {code: [] for code in wanted}
    if not files or not wanted:
        return {}
    columns = ("prompt", "chosen", "rejected", "reasons", "source_row", "raw")
    for batch in _batches(files, columns):
        # only rows with a reason still short of samples become Python objects: turning
        # every dropped conversation into dicts took a second per 30k long pairs
        missing = [code for code, rows in samples.items() if len(rows) < per_reason]
        codes = batch.column("reasons")
        hits = pc.is_in(pc.list_flatten(codes), value_set=pa.array(missing, pa.string()))
        parents = pc.list_parent_indices(codes).filter(hits)
        wanted_rows = np.unique(parents.to_numpy(zero_copy_only=False))
        for row in batch.take(pa.array(wanted_rows, pa.int64())).to_pylist():
            for code in row.get("reasons") or []:
                if code in samples and len(samples[code]) < per_reason:
                    samples[code].append(row)
        if all(len(v) >= per_reason for v in samples.values()):
            break
    return {code: rows for code, rows in samples.items() if rows}


def build_report(
    folder: Path, report: dict[str, Any] | None = None, layout: Layout | None = None
) -> tuple[str, str]:
    """(report.html, README.md) texts for a result folder, in either layout.

    With ``report`` and ``layout`` (a run's staging folder, before report.json is
    final), nothing is looked up; otherwise the folder must be a finished result.
    """
    if report is None or layout is None:
        result = open_result(folder)
        report = report if report is not None else result.report_dict()
    else:
        result = Result(folder, layout)
    wanted = [code for code, count in report.get("reasons", {}).items() if count]
    html = render_html(report, dropped_samples(result.files("dropped"), wanted))
    kept = result.files("kept")
    schema = pq.read_schema(kept[0]) if kept else pa.schema([])
    card = render_card(report, schema, result.size("kept"), result.layout)
    return html, card


def write_extras(
    folder: Path, report: dict[str, Any] | None = None, layout: Layout | None = None
) -> list[str]:
    """Write report.html and README.md into ``folder`` (each atomically); their names."""
    html, card = build_report(folder, report, layout)
    write_json_atomic(folder / HTML, html.encode("utf-8"))
    write_json_atomic(folder / CARD, card.encode("utf-8"))
    return [HTML, CARD]
