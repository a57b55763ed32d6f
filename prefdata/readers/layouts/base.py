"""The layout extension point: how one input record becomes (prompt, chosen, rejected).

A layout is a small ``LayoutSpec`` subclass: ``detect`` says from a record's keys whether
the record is in this layout, ``bind`` fixes the column names for one input, and ``pair``
turns one record into the three fields or raises ``BadRecord`` with a reason code and a
detail. The keys a layout consumed are left out of the carried columns. Adding a layout
is one module plus one line in ``layouts/__init__.py``'s registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa

from prefdata import reasons
from prefdata.config import ReadOptions
from prefdata.errors import InputError
from prefdata.schema import ID, Shape

Triple = tuple[Any, Any, Any]
Columns = tuple[pa.Array, pa.Array, pa.Array]
Messages = list[dict[str, str]]


class BadRecord(Exception):
    """A record that cannot be turned into a pair; ``reason`` is its reason code and the
    message (``detail``) says which field and what is wrong with it."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def detail(self) -> str:
        return str(self)


# Content-part types whose text is the message's text: OpenAI chat ("text"), the OpenAI
# Responses API ("input_text", "output_text") and LLaMA-Factory's v1 ("text" + "value").
TEXT_PART_TYPES = frozenset({"text", "input_text", "output_text"})


def content_text(content: Any, where: str) -> str:
    """A message content as text: a string, or typed text parts joined by newlines."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
                continue
            if not isinstance(part, Mapping) or part.get("type", "text") not in TEXT_PART_TYPES:
                kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
                raise BadRecord(reasons.WRONG_TYPE, f"{where} has a non-text content part ({kind})")
            text = part.get("text", part.get("value"))
            if not isinstance(text, str):
                raise BadRecord(reasons.WRONG_TYPE, f"{where} has a text part without text")
            texts.append(text)
        return "\n".join(texts)
    raise BadRecord(
        reasons.WRONG_TYPE, f"{where} content is {type(content).__name__}, not text or parts"
    )


def messages(value: Any, where: str) -> Messages:
    """A list of ``{role, content}`` messages (content as text or typed text parts)."""
    if not isinstance(value, list):
        raise BadRecord(
            reasons.WRONG_TYPE, f"{where} is {type(value).__name__}, not a list of messages"
        )
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, Mapping) or not isinstance(m.get("role"), str):
            raise BadRecord(reasons.WRONG_TYPE, f"{where}[{i}] is not a {{role, content}} message")
        out.append({"role": m["role"], "content": content_text(m.get("content"), f"{where}[{i}]")})
    return out


def text(value: Any, where: str) -> str:
    if value is None:
        raise BadRecord(reasons.MISSING_FIELD, f"no value for {where!r}")
    if not isinstance(value, str):
        raise BadRecord(reasons.WRONG_TYPE, f"{where} is {type(value).__name__}, not text")
    return value


def require(record: Mapping[str, Any], *keys: str) -> list[Any]:
    """The values of ``keys``; MISSING_FIELD naming those absent or null."""
    values = [record.get(k) for k in keys]
    missing = [k for k, v in zip(keys, values, strict=True) if v is None]
    if missing:
        raise BadRecord(reasons.MISSING_FIELD, f"no value for {missing}")
    return values


def assistant(content: str) -> Messages:
    return [{"role": "assistant", "content": content}]


def shared_prefix(chosen: list[Any], rejected: list[Any]) -> int:
    n = 0
    while n < min(len(chosen), len(rejected)) and chosen[n] == rejected[n]:
        n += 1
    return n


@dataclass(frozen=True)
class Layout:
    """A layout bound to one input's column names and shape."""

    name: str
    shape: Shape
    prompt_key: str
    chosen_key: str
    rejected_key: str
    id_key: str
    explicit_prompt: bool
    label_key: str = ""  # labelled layouts: the column saying which response won
    consumed: frozenset[str] = frozenset()
    # columnar: the text fast path in normalize applies (TRL text, HH transcripts)
    columnar: bool = False
    notes: tuple[str, ...] = ()  # said once per input (e.g. a likely prompt column unused)
    spec: LayoutSpec | None = field(default=None, compare=False, repr=False)

    @property
    def vectorised(self) -> bool:
        """Whether the layout has a column-wise path for whole Arrow batches."""
        return self.spec is not None and type(self.spec).columns is not LayoutSpec.columns

    def pair(self, record: Any) -> Triple:
        """The (prompt, chosen, rejected) of a record, or BadRecord."""
        if not isinstance(record, Mapping):
            raise BadRecord(reasons.MALFORMED_RECORD, "record is not a JSON object")
        assert self.spec is not None
        return self.spec.pair(self, record)


class LayoutSpec:
    """One record layout; subclasses set ``name`` and implement ``detect`` and ``pair``."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""  # one line for ``inspect --formats`` and the README
    keys: ClassVar[tuple[str, ...]] = ()  # the keys it needs (consumed from the record)
    optional: ClassVar[tuple[str, ...]] = ()  # keys it reads when present (also consumed)
    shape: ClassVar[Shape] = "conversational"
    id_key: ClassVar[str] = ID

    def detect(self, record: Mapping[str, Any], options: ReadOptions) -> bool:
        """Whether a record in an input of unknown layout is in this one."""
        return all(k in record for k in self.keys)

    def bind(self, record: Mapping[str, Any], options: ReadOptions, source: str) -> Layout:
        """This layout for one input whose first record is ``record``."""
        missing = [k for k in self.keys if k not in record]
        if missing:
            raise InputError(
                f"{source} is not in the {self.name} layout: no column(s) {missing}; "
                f"found {list(record)}"
            )
        return Layout(
            name=self.name,
            shape=self.shape,
            prompt_key="",
            chosen_key="",
            rejected_key="",
            id_key=options.id_column or self.id_key,
            explicit_prompt=True,
            consumed=frozenset({*self.keys, *self.optional, options.id_column or self.id_key}),
            spec=self,
        )

    def pair(self, layout: Layout, record: Mapping[str, Any]) -> Triple:
        raise NotImplementedError

    def columns(self, layout: Layout, batch: pa.RecordBatch) -> Columns | None:
        """Optionally, ``pair`` for a whole Arrow batch at once: the three canonical
        columns, or None when any row needs ``pair`` (a null, a type the fast path does
        not handle). It must give exactly what ``pair`` gives row by row."""
        return None
