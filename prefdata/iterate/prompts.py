"""The prompts an iterate run samples from, and their split into one part per round."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from prefdata.errors import ConfigError, InputError
from prefdata.schema import Shape

Prompt = str | list[dict[str, str]]


def load_prompts(path: str | Path) -> tuple[list[Prompt], Shape]:
    """Prompts from a JSONL or Parquet file's ``prompt`` column: all strings (text) or all
    lists of ``{role, content}`` messages (conversational)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"prompts file not found: {path}")
    if path.suffix == ".parquet":
        try:
            table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"cannot read {path} as Parquet: {exc}") from exc
        if "prompt" not in table.column_names:
            raise InputError(f"no column 'prompt' in {path}; found {table.column_names}")
        values: list[Any] = table.column("prompt").to_pylist()
    else:
        values = [_jsonl_prompt(line, path, n) for n, line in _lines(path)]
    if not values:
        raise InputError(f"no prompts in {path}")
    if all(isinstance(v, str) and v for v in values):
        return values, "text"
    if all(_is_messages(v) for v in values):
        return [[{"role": m["role"], "content": m["content"]} for m in v] for v in values], (
            "conversational"
        )
    bad = next(
        i for i, v in enumerate(values) if not (isinstance(v, str) and v) and not _is_messages(v)
    )
    raise InputError(
        f"prompt {bad} of {path} is {values[bad]!r}: every prompt must be non-empty text, or "
        "every prompt a list of {role, content} messages"
    )


def _lines(path: Path) -> list[tuple[int, str]]:
    text = path.read_text(encoding="utf-8")
    return [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _jsonl_prompt(line: str, path: Path, number: int) -> Any:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} line {number} is not JSON: {exc}") from exc
    if not isinstance(record, dict) or "prompt" not in record:
        raise InputError(f"{path} line {number} has no 'prompt' key")
    return record["prompt"]


def _is_messages(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(m, dict) and {"role", "content"} <= set(m) for m in value)
    )


def split_parts(prompts: list[Prompt], parts: int) -> list[list[Prompt]]:
    """``parts`` contiguous, disjoint parts in file order (sizes differ by at most one), so
    each round sees prompts no earlier round trained on, as in Pang et al. 2024."""
    if parts > len(prompts):
        raise ConfigError(
            f"rounds={parts} needs at least {parts} prompts (one part each), got {len(prompts)}"
        )
    size, extra = divmod(len(prompts), parts)
    out, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        out.append(prompts[start:end])
        start = end
    return out
