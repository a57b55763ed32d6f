"""The prompts an iterate run samples from, and their split into one part per round."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefdata.errors import ConfigError, InputError
from prefdata.readers.prompt_records import iter_records
from prefdata.readers.sources import Malformed
from prefdata.schema import Shape

Prompt = str | list[dict[str, str]]


@dataclass
class PromptSet:
    """The prompts, their shape, and the file's other columns per prompt (e.g. a gold
    ``answer``), which scorers may ask for by name."""

    prompts: list[Prompt]
    shape: Shape
    columns: dict[str, list[Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.prompts)

    def part(self, start: int, end: int) -> PromptSet:
        columns = {name: values[start:end] for name, values in self.columns.items()}
        return PromptSet(self.prompts[start:end], self.shape, columns)


def load_prompts(path: str | Path) -> PromptSet:
    """Prompts from the ``prompt`` column of any file prefdata reads (JSONL, JSON, CSV,
    Parquet, gzipped or not): all strings (text) or all lists of ``{role, content}``
    messages (conversational)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"prompts file not found: {path}")
    records = [_record(r, path, n + 1) for n, r in iter_records(path)]
    if not records:
        raise InputError(f"no prompts in {path}")
    values: list[Any] = [r.get("prompt") for r in records]
    names = [k for k in records[0] if k != "prompt"]
    columns = {name: [r.get(name) for r in records] for name in names}
    if all(_is_text(v) for v in values):
        return PromptSet(values, "text", columns)
    if all(_is_messages(v) for v in values):
        messages: list[Prompt] = [
            [{"role": str(m["role"]), "content": str(m["content"])} for m in v] for v in values
        ]
        return PromptSet(messages, "conversational", columns)
    text_first = isinstance(values[0], str)
    bad = next(
        i for i, v in enumerate(values) if not (_is_text(v) if text_first else _is_messages(v))
    )
    raise InputError(
        f"prompt {bad} of {path} is {values[bad]!r}: every prompt must be non-empty text, or "
        "every prompt a list of {role, content} messages"
    )


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _record(record: Any, path: Path, number: int) -> dict[str, Any]:
    if isinstance(record, Malformed):
        raise InputError(f"{path} line {number} is not JSON: {record.error}")
    if not isinstance(record, dict) or "prompt" not in record:
        found = sorted(record) if isinstance(record, dict) else type(record).__name__
        raise InputError(f"{path} line {number} has no 'prompt' key; found {found}")
    return record


def _is_messages(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(m, dict) and {"role", "content"} <= set(m) for m in value)
    )


def split_parts(prompts: PromptSet, parts: int) -> list[PromptSet]:
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
        out.append(prompts.part(start, end))
        start = end
    return out
