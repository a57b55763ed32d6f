"""Pre-flight: what a trainer will really train on, pair by pair, before any GPU hour.

``preflight(table, tokenizer)`` returns the per-pair plan (one row per input pair: kept
or dropped and why in the trainer's terms, token counts before and after its cut,
tokens lost per side, EOS, the prompt boundary) and the ledger that sums it up with
suggested settings. A trainer is one module with a ``plan`` function plus one line in
``TRAINERS``.

>>> TRAINERS
('trl', 'llamafactory')
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from prefdata.errors import ConfigError
from prefdata.preflight import codes, llamafactory, trl
from prefdata.preflight.ledger import ledger
from prefdata.results.folder import PREFLIGHT_LEDGER, PREFLIGHT_PAIRS

TRAINERS = ("trl", "llamafactory")
# the trainers' own defaults: TRL's DPOConfig.max_length, LLaMA-Factory's cutoff_len
DEFAULT_MAX_LENGTH = {"trl": 1024, "llamafactory": 2048}
# the same names in a `filter` result folder, where they are part of the result
PER_PAIR_FILE, LEDGER_FILE = PREFLIGHT_PAIRS, PREFLIGHT_LEDGER


@dataclass
class Preflight:
    per_pair: pa.Table
    ledger: dict[str, Any]


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def preflight(
    table: pa.Table,
    tokenizer: Any,
    *,
    trainer: str = "trl",
    max_length: int | None = 1024,
    truncation_mode: str = "keep_start",
    unreadable: dict[str, int] | None = None,
    template: str | None = None,
) -> Preflight:
    """Plan every pair of ``table`` as ``trainer`` would, and the ledger of what is lost.

    ``table`` holds ``chosen`` and ``rejected`` and, for explicit prompts, ``prompt``
    (strings, or lists of ``{role, content}`` messages). Without ``prompt`` the trainer's
    own prompt extraction is applied, as it would be to such a file. ``unreadable``
    counts input rows that never became pairs, by reason, so the ledger accounts for
    every row. ``template`` names a LLaMA-Factory template (``llama3``, ``qwen``); None
    parses the tokenizer's chat template, as LLaMA-Factory does without one.
    """
    if trainer not in TRAINERS:
        raise ConfigError(f"trainer must be one of {list(TRAINERS)}, got {trainer!r}")
    if truncation_mode not in trl.TRUNCATION_MODES:
        raise ConfigError(
            f"truncation_mode must be one of {list(trl.TRUNCATION_MODES)}, got {truncation_mode!r}"
        )
    if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
        raise ConfigError(f"max_length must be an integer >= 1, got {max_length!r}")
    missing = [c for c in ("chosen", "rejected") if c not in table.column_names]
    if missing:
        raise ConfigError(f"no column {missing} in the data; found {table.column_names}")
    nulls = {
        c: table.column(c).null_count
        for c in ("prompt", "chosen", "rejected")
        if c in table.column_names
    }
    if any(nulls.values()):
        raise ConfigError(
            f"null values in {nulls}: the trainer cannot tokenize them; "
            "run `prefdata filter` first (it drops them as missing_field)"
        )
    if template is not None and trainer != "llamafactory":
        raise ConfigError(
            "--template names a LLaMA-Factory template; TRL uses the tokenizer's chat "
            "template: leave out --template, or pass --trainer llamafactory"
        )
    if trainer == "llamafactory":
        if max_length is None:
            raise ConfigError("LLaMA-Factory always applies cutoff_len: pass --max-length N")
        per_pair = llamafactory.plan(
            table, tokenizer, cutoff_len=max_length, template_name=template
        )
    else:
        per_pair = trl.plan(
            table, tokenizer, max_length=max_length, truncation_mode=truncation_mode
        )
    conversational = not pa.types.is_string(
        table.column("chosen").type
    ) and not pa.types.is_large_string(table.column("chosen").type)
    settings = {
        "trainer": trainer,
        "trainer_version": _version(trainer) if trainer == "trl" else "0.9.5 (modelled)",
        "max_length": max_length,
        "truncation_mode": truncation_mode,
        "implicit_prompt": "prompt" not in table.column_names,
        "conversational": conversational,
    }
    if trainer == "llamafactory":  # None: parsed from the tokenizer's chat template
        settings["template"] = template
    summary = ledger(per_pair, settings)
    lost = sum((unreadable or {}).values())
    summary["rows_in"] += lost
    summary["dropped"] += lost
    summary["dropped_by_reason"].update(unreadable or {})
    return Preflight(per_pair, summary)


def write(result: Preflight, out: str | Path) -> Path:
    """The per-pair Parquet and the ledger JSON into folder ``out``."""
    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(result.per_pair, folder / PER_PAIR_FILE)
        (folder / LEDGER_FILE).write_text(json.dumps(result.ledger, indent=2) + "\n")
    except OSError as exc:
        raise ConfigError(
            f"cannot write the pre-flight into {folder}: {exc.strerror or exc}"
        ) from exc
    return folder


__all__ = ["LEDGER_FILE", "PER_PAIR_FILE", "TRAINERS", "Preflight", "codes", "preflight", "write"]
