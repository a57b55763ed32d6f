"""Chunks of raw records -> canonical Arrow batches plus structurally bad rows.

``good`` has the canonical columns, the carried columns and the row's provenance
(``source_file``, ``source_row``); ``bad`` has provenance, ``raw`` and ``reasons`` for
rows no check can look at. Every record of a chunk lands in exactly one of the two.

Columnar layouts (TRL text, HH transcripts) are reshaped column-wise; the others go
row by row through ``Layout.pair``. Bad rows carry a ``detail`` (which field, what is
wrong) next to their reason code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from prefdata import reasons
from prefdata.hashing import hex_digests
from prefdata.readers.arrow_json import parse_with_arrow
from prefdata.readers.bad_rows import BadRows, json_text
from prefdata.readers.chunk import Malformed, RawChunk
from prefdata.readers.hh_split import split_hh_columns
from prefdata.readers.layouts import BadRecord, Layout
from prefdata.readers.message_ids import message_list_ids
from prefdata.readers.messages import is_text
from prefdata.readers.utf8 import is_valid, merge_bad, split_invalid_utf8
from prefdata.schema import (
    CHOSEN,
    DETAIL,
    ID,
    MESSAGES,
    PROMPT,
    RAW,
    REASONS,
    REJECTED,
    SOURCE_FILE,
    SOURCE_ROW,
    derive_id,
    field_type,
)

_RESERVED = (ID, PROMPT, CHOSEN, REJECTED, SOURCE_FILE, SOURCE_ROW, REASONS, RAW, DETAIL)


@dataclass
class Normalized:
    good: pa.RecordBatch
    bad: pa.RecordBatch | None


@dataclass
class Warnings:
    """Messages said once per cause, however many rows share it."""

    seen: dict[str, None] = field(default_factory=dict)

    def add(self, message: str) -> None:
        self.seen.setdefault(message, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self.seen)


def derive_ids(prompt: pa.Array, chosen: pa.Array, rejected: pa.Array) -> pa.Array:
    """``schema.derive_id`` for whole text columns (same ids, fewer Python steps)."""
    return hex_digests(pc.binary_join_element_wise(prompt, chosen, rejected, "\x1f"))


def _carried(values: list[Any], name: str, warnings: Warnings) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        # Mixed types in one carried column (e.g. numbers and text): keep every value,
        # as JSON text, rather than lose the column or the row.
        warnings.add(f"column {name!r} mixes types; carried as JSON text")
        return pa.array(
            [v if v is None or isinstance(v, str) else json_text(v) for v in values], pa.string()
        )


def _assemble(
    columns: dict[str, pa.Array],
    carried: dict[str, pa.Array],
    source: str,
    rows: pa.Array,
    warnings: Warnings,
) -> pa.RecordBatch:
    for name, values in carried.items():
        if name in _RESERVED:
            warnings.add(
                f"input column {name!r} clashes with an output column; dropped from output"
            )
            continue
        columns[name] = values
    columns[SOURCE_FILE] = pa.repeat(pa.scalar(source, pa.string()), len(rows))
    columns[SOURCE_ROW] = rows
    return pa.RecordBatch.from_pydict(columns)


def _text_triples(
    layout: Layout,
    texts: list[pa.Array],
    record_at: Callable[[int], Any],
    bad: BadRows,
    rows: pa.Array,
) -> tuple[list[pa.Array], np.ndarray]:
    """Reshape text columns into (prompt, chosen, rejected); returns them and a keep mask.

    ``texts`` holds the layout's prompt/chosen/rejected inputs (prompt absent for HH and
    implicit-prompt data). Rows that fail go to ``bad``.
    """
    keep = np.ones(len(rows), dtype=bool)
    if layout.name == "hh":
        prompt, chosen, rejected, ok = split_hh_columns(texts[1], texts[2])
        retry = np.flatnonzero(~ok)
        if len(retry):
            fixed: list[tuple[Any, Any, Any]] = []
            for i in retry.tolist():
                record = record_at(i)
                try:
                    fixed.append(layout.pair(record))
                except BadRecord as exc:
                    keep[i] = False
                    bad.add(rows[i].as_py(), record, exc.reason, exc.detail)
                    fixed.append(("", "", ""))
            mask = pa.array(~ok)
            prompt, chosen, rejected = (
                pc.replace_with_mask(col, mask, pa.array([f[k] for f in fixed], pa.string()))
                for k, col in enumerate((prompt, chosen, rejected))
            )
        return [prompt, chosen, rejected], keep
    if layout.explicit_prompt:
        return texts, keep
    split = [layout.pair(record_at(i)) for i in range(len(rows))]  # implicit prompt: per row
    return [pa.array([t[k] for t in split], pa.string()) for k in range(3)], keep


def normalize_records(chunk: RawChunk, layout: Layout, warnings: Warnings) -> Normalized:
    """The row path: JSON records (or Arrow rows that need per-row reshaping)."""
    records = chunk.parsed()
    row_numbers = chunk.row_numbers()
    bad = BadRows(layout.id_key)
    good: list[Any] = []
    good_rows: list[int] = []
    triples: list[tuple[Any, Any, Any]] = []
    text = layout.columnar
    keys = (layout.prompt_key, layout.chosen_key, layout.rejected_key)
    needed = keys if layout.explicit_prompt else keys[1:]
    for row, record in zip(row_numbers, records, strict=True):
        if isinstance(record, Malformed):
            bad.add(row, record, reasons.MALFORMED_RECORD)
            continue
        if not isinstance(record, Mapping):
            bad.add(row, record, reasons.MALFORMED_RECORD, "record is not a JSON object")
            continue
        if text:  # cheap type screen here; the reshaping happens column-wise below
            values = [record.get(k) for k in needed]
            if any(v is None for v in values):
                absent = [k for k, v in zip(needed, values, strict=True) if v is None]
                bad.add(row, record, reasons.MISSING_FIELD, f"no value for {absent}")
                continue
            if not all(isinstance(v, str) for v in values):
                wrong = [
                    f"{k} is {type(v).__name__}"
                    for k, v in zip(needed, values, strict=True)
                    if not isinstance(v, str)
                ]
                bad.add(row, record, reasons.WRONG_TYPE, ", ".join(wrong) + ", not text")
                continue
        else:
            try:
                triples.append(layout.pair(record))
            except BadRecord as exc:
                bad.add(row, record, exc.reason, exc.detail)
                continue
        good.append(record)
        good_rows.append(row)

    if text:
        texts = [pa.array([r[k] for r in good], pa.string()) if k in needed else None for k in keys]
        triple_cols, keep = _text_triples(
            layout, texts, good.__getitem__, bad, pa.array(good_rows, pa.int64())
        )
    else:
        ftype = field_type(layout.shape)
        triple_cols = [pa.array([t[k] for t in triples], ftype) for k in range(3)]
        keep = np.ones(len(good), dtype=bool)
    if not keep.all():
        mask = pa.array(keep)
        triple_cols = [c.filter(mask) for c in triple_cols]
        good = [r for r, k in zip(good, keep, strict=True) if k]
        good_rows = [r for r, k in zip(good_rows, keep, strict=True) if k]

    given = [r.get(layout.id_key) for r in good]
    ids = _ids(given, triple_cols, layout.shape == "text")
    extra_keys: dict[str, None] = {}
    consumed = layout.consumed
    for record in good:
        extra_keys.update(dict.fromkeys(k for k in record if k not in consumed))
    carried = {key: _carried([r.get(key) for r in good], key, warnings) for key in extra_keys}
    columns = {ID: ids, PROMPT: triple_cols[0], CHOSEN: triple_cols[1], REJECTED: triple_cols[2]}
    batch = _assemble(columns, carried, chunk.source, pa.array(good_rows, pa.int64()), warnings)
    return Normalized(batch, bad.batch(chunk.source))


def _derived_ids(triple: list[pa.Array], text: bool) -> pa.Array:
    if text:
        return derive_ids(*triple)
    if all(c.type == MESSAGES for c in triple):
        fast = message_list_ids(*triple)  # the whole chunk at once (message_ids.py)
        if fast is not None:
            return fast
    cols = [c.to_pylist() for c in triple]
    if all(c.type == MESSAGES for c in triple):
        # Message lists hold only strings and nulls, which orjson writes byte for byte
        # as schema.derive_id's json.dumps does (tested).
        return pa.array(
            [xxhash.xxh3_64_hexdigest(orjson.dumps(t)) for t in zip(*cols, strict=True)],
            pa.string(),
        )
    return pa.array([derive_id(*t) for t in zip(*cols, strict=True)], pa.string())


def _ids(given: list[Any], triple: list[pa.Array], text: bool) -> pa.Array:
    """Ids from the input where it has them, derived from content where not."""
    if all(g is None for g in given):
        return _derived_ids(triple, text)
    ids = [g if g is None or isinstance(g, str) else json_text(g) for g in given]
    missing = [i for i, g in enumerate(ids) if g is None]
    if missing:
        picked = pa.array(missing, pa.int64())
        derived = _derived_ids([c.take(picked) for c in triple], text).to_pylist()
        for i, value in zip(missing, derived, strict=True):
            ids[i] = value
    return pa.array(ids, pa.string())


def normalize_arrow(chunk: RawChunk, layout: Layout, warnings: Warnings) -> Normalized:
    """The columnar path for Arrow input in a text layout; others go row-wise."""
    batch = chunk.batch
    assert batch is not None
    names = batch.schema.names
    keys = (layout.prompt_key, layout.chosen_key, layout.rejected_key)
    needed = keys if layout.explicit_prompt else keys[1:]
    if not (
        layout.columnar
        and (layout.name == "hh" or layout.explicit_prompt)
        and all(k in names and is_text(batch.schema.field(k).type) for k in needed)
    ):
        return normalize_records(chunk, layout, warnings)
    rows = chunk.row_array()
    valid = pa.array(np.ones(batch.num_rows, dtype=bool))
    for k in needed:
        valid = pc.and_(valid, pc.is_valid(batch.column(k)))
    bad = BadRows(layout.id_key)
    if not pc.all(valid).as_py():
        invalid = pc.invert(valid)
        for row, record in zip(
            rows.filter(invalid).to_pylist(), batch.filter(invalid).to_pylist(), strict=True
        ):
            absent = [k for k in needed if record.get(k) is None]
            bad.add(row, record, reasons.MISSING_FIELD, f"no value for {absent}")
        batch, rows = batch.filter(valid), rows.filter(valid)
    texts = [batch.column(k).cast(pa.string()) if k in needed else None for k in keys]
    current = batch

    def record_at(i: int) -> Any:
        return current.slice(i, 1).to_pylist()[0]

    triple, keep = _text_triples(layout, texts, record_at, bad, rows)
    if not keep.all():
        mask = pa.array(keep)
        triple, batch, rows = (
            [c.filter(mask) for c in triple],
            batch.filter(mask),
            rows.filter(mask),
        )
    if layout.id_key in names:
        ids = _ids(batch.column(layout.id_key).to_pylist(), triple, True)
    else:
        ids = derive_ids(*triple)
    carried = {n: batch.column(n) for n in names if n not in layout.consumed}
    columns = {ID: ids, PROMPT: triple[0], CHOSEN: triple[1], REJECTED: triple[2]}
    return Normalized(
        _assemble(columns, carried, chunk.source, rows, warnings), bad.batch(chunk.source)
    )


def normalize_columns(chunk: RawChunk, layout: Layout, warnings: Warnings) -> Normalized | None:
    """The layout's column-wise path for a whole batch, or None when a row needs ``pair``."""
    batch = chunk.batch
    assert batch is not None and layout.spec is not None
    triple = layout.spec.columns(layout, batch)
    if triple is None:
        return None
    columns = list(triple)
    names = batch.schema.names
    given = (
        batch.column(layout.id_key).to_pylist()
        if layout.id_key in names
        else [None] * batch.num_rows
    )
    ids = _ids(given, columns, layout.shape == "text")
    carried = {n: batch.column(n) for n in names if n not in layout.consumed}
    out = {ID: ids, PROMPT: columns[0], CHOSEN: columns[1], REJECTED: columns[2]}
    rows = chunk.row_array()
    return Normalized(_assemble(out, carried, chunk.source, rows, warnings), None)


def normalize(chunk: RawChunk, layout: Layout, warnings: Warnings) -> Normalized:
    for note in layout.notes:
        warnings.add(note)
    if chunk.text is not None and (layout.columnar or layout.vectorised):
        parsed = parse_with_arrow(chunk)
        # Arrow's JSON reader lets invalid UTF-8 through; orjson, on the row path, does not
        if parsed is not None and parsed.batch is not None and is_valid(parsed.batch):
            fast = (
                normalize_arrow(parsed, layout, warnings)
                if layout.columnar
                else normalize_columns(parsed, layout, warnings)
            )
            if fast is not None:
                _warn_empty_prompts(fast.good, layout, chunk.source, warnings)
                return fast
    if chunk.batch is not None:
        chunk, invalid = split_invalid_utf8(chunk)
        fast = normalize_columns(chunk, layout, warnings) if layout.vectorised else None
        result = fast if fast is not None else normalize_arrow(chunk, layout, warnings)
        result = Normalized(result.good, merge_bad(result.bad, invalid))
    else:
        result = normalize_records(chunk, layout, warnings)
    _warn_empty_prompts(result.good, layout, chunk.source, warnings)
    return result


def _warn_empty_prompts(
    good: pa.RecordBatch, layout: Layout, source: str, warnings: Warnings
) -> None:
    """Say so when most prompts came out empty while a text column went unused."""
    if not good.num_rows:
        return
    prompt = good.column(PROMPT)
    lengths = pc.list_value_length(prompt) if layout.shape != "text" else pc.binary_length(prompt)
    empty = pc.sum(pc.equal(pc.fill_null(lengths, 0), 0)).as_py() or 0
    if empty * 2 <= good.num_rows:
        return
    unused = [f.name for f in good.schema if f.name not in _RESERVED and is_text(f.type)]
    if unused:
        warnings.add(
            f"{source}: most prompts are empty while text column "
            f"{unused[0]!r} is unused: pass --prompt-column {unused[0]} or a --format that "
            "reads it (prefdata inspect --formats lists them)"
        )
