"""Converters between preference-data forms (``prefdata convert``).

* pairs in any layout prefdata reads (TRL, HH-RLHF transcripts, ShareGPT) -> the
  explicit-prompt ``text`` or ``conversational`` form;
* rated multi-completion data (UltraFeedback scores, Nectar ranks) and one-row-per-response
  ratings (HelpSteer2 attributes, ``--score``) -> pairs (``binarize``);
* pairs -> OpenAI's preference fine-tuning JSONL (``openai``), checked against its rules;
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
from prefdata.convert.openai import to_openai
from prefdata.convert.output import write_rows
from prefdata.convert.rated import Pairing, binarize, is_rated
from prefdata.convert.rated_rows import grouped, is_rated_row, parse_score
from prefdata.convert.shapes import to_shape
from prefdata.convert.unpaired import to_paired, to_unpaired, unpaired_row
from prefdata.errors import ConfigError, InputError
from prefdata.readers import read_pairs
from prefdata.readers.sources import detect_file_type, missing_message, read_chunks
from prefdata.schema import REASONS, SOURCE_FILE, SOURCE_ROW

Form = Literal["text", "conversational", "unpaired", "paired", "openai"]
FORMS: tuple[str, ...] = ("text", "conversational", "unpaired", "paired", "openai")
PAIR_FORMS = ("text", "conversational", "openai")

__all__ = ["FORMS", "ConvertResult", "binarize", "convert", "to_paired", "to_shape", "to_unpaired"]


@dataclass
class ConvertResult:
    """What a conversion read and wrote; ``skipped`` counts input rows per cause."""

    input_kind: str
    rows_written: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


def _records(path: Path) -> Iterator[Any]:
    for chunk in read_chunks(path, detect_file_type(path), 8192):
        yield from chunk.parsed()


def input_kind(path: Path) -> str:
    """``rated``, ``rated_rows``, ``unpaired`` or ``pairs``, from the first record."""
    first = next(_records(path), None)
    if first is None:
        raise InputError(f"no records in {path}")
    if is_rated(first):
        return "rated"
    if is_rated_row(first):
        return "rated_rows"
    return "unpaired" if unpaired_row(first) is not None else "pairs"


def _pairs(path: Path, options: ReadOptions, skipped: Counter[str]) -> Iterator[dict[str, Any]]:
    for item in read_pairs([path], options):
        if item.normalized.bad is not None:
            for codes in item.normalized.bad.column(REASONS).to_pylist():
                skipped.update(codes)
        good = item.normalized.good.drop_columns([SOURCE_FILE, SOURCE_ROW])
        yield from good.to_pylist()


def _to_form(
    pairs: Iterator[dict[str, Any]], to: str, skipped: Counter[str]
) -> Iterator[dict[str, Any]]:
    for pair in pairs:
        if to != "openai":
            yield to_shape(pair, to)
            continue
        row = to_openai(pair)
        if isinstance(row, str):
            skipped[row] += 1
        else:
            yield row


def convert(
    source: str | Path,
    to: str,
    out: str | Path,
    *,
    pairing: Pairing = "best_worst",
    seed: int = 0,
    read_options: ReadOptions | None = None,
    score: str = "helpfulness",
) -> ConvertResult:
    """Convert ``source`` into the form ``to`` and write it to ``out`` (.jsonl/.json/.parquet).

    ``score`` rates one-row-per-response input: an attribute or ``name=weight,...``.
    """
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
    if kind in ("rated", "rated_rows"):
        if to not in PAIR_FORMS:
            raise ConfigError(
                f"{path} holds rated completions: convert it --to text, conversational or openai"
            )
        records: Iterator[Any] = _records(path)
        if kind == "rated_rows":
            records = grouped(records, parse_score(score), skipped)
        pairs = binarize(records, pairing=pairing, seed=seed, skipped=skipped)
        rows = _to_form(pairs, to, skipped)
    elif kind == "unpaired":
        if to != "paired":
            raise ConfigError(
                f"{path} is unpaired (prompt, completion, label): convert it --to paired"
            )
        rows = to_paired(_records(path), skipped)
    elif to == "unpaired":
        rows = to_unpaired(_pairs(path, read_options or ReadOptions(), skipped))
    elif to == "paired":
        raise ConfigError(
            f"{path} is already paired: --to text, conversational, openai or unpaired"
        )
    else:
        rows = _to_form(_pairs(path, read_options or ReadOptions(), skipped), to, skipped)
    written = write_rows(rows, Path(out))
    return ConvertResult(kind, written, dict(skipped))
