"""Converters between preference-data forms (``prefdata convert``).

* pairs in any layout prefdata reads (TRL, HH-RLHF transcripts, ShareGPT) -> the
  explicit-prompt ``text`` or ``conversational`` form;
* rated multi-completion data (UltraFeedback style) -> pairs (``binarize``);
* pairs -> ``unpaired`` (KTO: prompt, completion, label) and unpaired -> ``paired``.

>>> convert("hh.jsonl.gz", "conversational", "hh_conv.jsonl")  # doctest: +SKIP
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from prefdata.config import ReadOptions
from prefdata.convert.output import write_rows
from prefdata.convert.rated import Pairing, binarize, is_rated
from prefdata.convert.shapes import to_shape
from prefdata.convert.unpaired import to_paired, to_unpaired, unpaired_row
from prefdata.errors import ConfigError, InputError
from prefdata.readers import read_pairs
from prefdata.readers.sources import READERS, detect_file_type, missing_message
from prefdata.schema import REASONS, SOURCE_FILE, SOURCE_ROW

Form = Literal["text", "conversational", "unpaired", "paired"]
FORMS: tuple[str, ...] = ("text", "conversational", "unpaired", "paired")

__all__ = ["FORMS", "ConvertResult", "binarize", "convert", "to_paired", "to_shape", "to_unpaired"]


@dataclass
class ConvertResult:
    """What a conversion read and wrote; ``skipped`` counts input rows per cause."""

    input_kind: str
    rows_written: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


def _records(path: Path) -> Iterator[Any]:
    for chunk in READERS[detect_file_type(path)](path, 8192):
        yield from chunk.parsed()


def input_kind(path: Path) -> str:
    """``rated``, ``unpaired`` or ``pairs``, from the first record."""
    first = next(_records(path), None)
    if first is None:
        raise InputError(f"no records in {path}")
    if is_rated(first):
        return "rated"
    return "unpaired" if unpaired_row(first) is not None else "pairs"


def _pairs(path: Path, options: ReadOptions, skipped: Counter[str]) -> Iterator[dict[str, Any]]:
    for item in read_pairs([path], options):
        if item.normalized.bad is not None:
            for codes in item.normalized.bad.column(REASONS).to_pylist():
                skipped.update(codes)
        good = item.normalized.good.drop_columns([SOURCE_FILE, SOURCE_ROW])
        yield from good.to_pylist()


def convert(
    source: str | Path,
    to: str,
    out: str | Path,
    *,
    pairing: Pairing = "best_worst",
    seed: int = 0,
    read_options: ReadOptions | None = None,
) -> ConvertResult:
    """Convert ``source`` into the form ``to`` and write it to ``out`` (.jsonl/.json/.parquet)."""
    if to not in FORMS:
        raise ConfigError(f"--to must be one of {list(FORMS)}, got {to!r}")
    if pairing not in ("best_worst", "best_random"):
        raise ConfigError(f"pairing must be best_worst or best_random, got {pairing!r}")
    path = Path(source)
    if not path.exists():
        raise InputError(missing_message(path))
    kind = input_kind(path)
    skipped: Counter[str] = Counter()
    rows: Iterator[dict[str, Any]]
    if kind == "rated":
        if to not in ("text", "conversational"):
            raise ConfigError(
                f"{path} holds rated completions: convert it --to text or conversational"
            )
        rows = (
            to_shape(r, to)
            for r in binarize(_records(path), pairing=pairing, seed=seed, skipped=skipped)
        )
    elif kind == "unpaired":
        if to != "paired":
            raise ConfigError(
                f"{path} is unpaired (prompt, completion, label): convert it --to paired"
            )
        rows = to_paired(_records(path), skipped)
    elif to == "unpaired":
        rows = to_unpaired(_pairs(path, read_options or ReadOptions(), skipped))
    elif to == "paired":
        raise ConfigError(f"{path} is already paired: --to text, conversational or unpaired")
    else:
        rows = (to_shape(r, to) for r in _pairs(path, read_options or ReadOptions(), skipped))
    written = write_rows(rows, Path(out))
    return ConvertResult(kind, written, dict(skipped))
