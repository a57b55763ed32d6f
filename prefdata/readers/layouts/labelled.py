"""Two responses and a label saying which won (``--response-a-column``,
``--response-b-column``, ``--label-column``); also the shared rule of the SHP, Arena
and PKU layouts.

Generic label values (case and surrounding spaces ignored):

* A won: ``a``, ``model_a``, ``response_a``, ``0`` (the index of the better response)
* B won: ``b``, ``model_b``, ``response_b``, ``1``
* no preference: ``tie``, ``tie (bothbad)``, ``both_bad``, ``none``, or null

Anything else drops the row as ``wrong_type``: a guessed direction would silently
reverse pairs. Ties and "both bad" never become a preference: they are dropped as
``no_preference`` and counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from prefdata import reasons
from prefdata.config import ReadOptions
from prefdata.errors import InputError
from prefdata.readers.layouts.base import (
    BadRecord,
    Layout,
    LayoutSpec,
    Triple,
    messages,
    text,
)
from prefdata.schema import ID, PROMPT, Shape

Winner = Literal["a", "b"]

A_WON = frozenset({"a", "model_a", "response_a", "0"})
B_WON = frozenset({"b", "model_b", "response_b", "1"})
NO_PREFERENCE = frozenset({"tie", "tie (bothbad)", "both_bad", "bothbad", "none", ""})


def winner(label: Any, where: str) -> Winner:
    """``a`` or ``b`` for a generic label value; NO_PREFERENCE for ties (see module doc)."""
    if label is None:
        raise BadRecord(reasons.NO_PREFERENCE, f"{where} is null")
    if isinstance(label, float) and label.is_integer():
        # 0/1 labels with nulls for ties come back as floats from pandas-written Parquet
        label = int(label)
    if isinstance(label, bool) or not isinstance(label, str | int):
        raise BadRecord(reasons.WRONG_TYPE, f"{where} is {type(label).__name__}: {label!r}")
    value = str(label).strip().lower()
    if value in A_WON:
        return "a"
    if value in B_WON:
        return "b"
    if value in NO_PREFERENCE:
        raise BadRecord(reasons.NO_PREFERENCE, f"{where} is {label!r}")
    raise BadRecord(reasons.WRONG_TYPE, f"{where} is {label!r}, not a known label value")


def index_label(label: Any, where: str) -> int:
    """0 or 1 from a dataset's own index label (SHP ``labels``, PKU ``*_response_id``):
    a number, or its text, since CSV input reads every column as text."""
    value = label.strip() if isinstance(label, str) else label
    if isinstance(value, bool) or value not in (0, 1, "0", "1"):
        raise BadRecord(reasons.WRONG_TYPE, f"{where} is {label!r}, not 0 or 1")
    return int(value)


def ordered(prompt: Any, a: Any, b: Any, won: Winner) -> Triple:
    return (prompt, a, b) if won == "a" else (prompt, b, a)


def _field(value: Any, where: str, shape: Shape, role: str) -> Any:
    """A prompt (``role`` user) or response (assistant) in the input's shape; a bare
    string in conversational input becomes one message of that role."""
    if value is None:
        raise BadRecord(reasons.MISSING_FIELD, f"no value for {where!r}")
    if shape == "text":
        return text(value, where)
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    return messages(value, where)


class Labelled(LayoutSpec):
    name = "labelled"
    summary = (
        "prompt, two responses and a label: --response-a-column, --response-b-column, "
        "--label-column"
    )

    def detect(self, record: Mapping[str, Any], options: ReadOptions) -> bool:
        return options.response_a_column is not None

    def bind(self, record: Mapping[str, Any], options: ReadOptions, source: str) -> Layout:
        a, b, label = options.response_a_column, options.response_b_column, options.label_column
        if a is None or b is None or label is None:
            raise InputError(
                "the labelled layout needs --response-a-column, --response-b-column "
                "and --label-column"
            )
        prompt = options.prompt_column or PROMPT
        missing = [k for k in (prompt, a, b, label) if k not in record]
        if missing:
            raise InputError(f"no column(s) {missing} in {source}; found {list(record)}")
        shape: Shape = "conversational" if isinstance(record[a], list) else "text"
        id_key = options.id_column or ID
        return Layout(
            name=self.name,
            shape=shape,
            prompt_key=prompt,
            chosen_key=a,
            rejected_key=b,
            id_key=id_key,
            explicit_prompt=True,
            label_key=label,
            consumed=frozenset({prompt, a, b, label, id_key}),
            spec=self,
        )

    def pair(self, layout: Layout, record: Mapping[str, Any]) -> Triple:
        won = winner(record.get(layout.label_key), layout.label_key)
        prompt = _field(record.get(layout.prompt_key), layout.prompt_key, layout.shape, "user")
        a = _field(record.get(layout.chosen_key), layout.chosen_key, layout.shape, "assistant")
        b = _field(record.get(layout.rejected_key), layout.rejected_key, layout.shape, "assistant")
        return ordered(prompt, a, b, won)
