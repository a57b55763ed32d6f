"""Build report.html and README.md for an output folder (or its staging folder)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from prefdata.errors import InputError
from prefdata.reporting.card import render_card
from prefdata.reporting.html import render_html
from prefdata.writer import write_json_atomic

HTML, CARD = "report.html", "README.md"
KEPT, DROPPED, REPORT = "kept.parquet", "dropped.parquet", "report.json"
SAMPLES_PER_REASON = 5


def dropped_samples(
    path: Path, wanted: list[str], per_reason: int = SAMPLES_PER_REASON
) -> dict[str, list[dict[str, Any]]]:
    """The first few dropped rows of each reason, reading batches only until all are found."""
    samples: dict[str, list[dict[str, Any]]] = {code: [] for code in wanted}
    if not path.exists() or not wanted:
        return {}
    columns = [
        c
        for c in ("prompt", "chosen", "rejected", "reasons", "source_row", "raw")
        if c in pq.read_schema(path).names
    ]
    for batch in pq.ParquetFile(path).iter_batches(batch_size=2048, columns=columns):
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


def build_report(folder: Path, report: dict[str, Any] | None = None) -> tuple[str, str]:
    """(report.html, README.md) texts for a folder holding kept/dropped Parquet."""
    if report is None:
        if not (folder / REPORT).exists():
            raise InputError(f"no {REPORT} in {folder}: is it a prefdata filter output folder?")
        report = json.loads((folder / REPORT).read_text(encoding="utf-8"))
    wanted = [code for code, count in report.get("reasons", {}).items() if count]
    html = render_html(report, dropped_samples(folder / DROPPED, wanted))
    kept = folder / KEPT
    card = render_card(report, pq.read_schema(kept), kept.stat().st_size)
    return html, card


def write_extras(folder: Path, report: dict[str, Any] | None = None) -> list[str]:
    """Write report.html and README.md into ``folder`` (each atomically); their names."""
    html, card = build_report(folder, report)
    write_json_atomic(folder / HTML, html.encode("utf-8"))
    write_json_atomic(folder / CARD, card.encode("utf-8"))
    return [HTML, CARD]
