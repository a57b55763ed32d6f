"""Anthropic HH-RLHF transcripts: ``chosen`` and ``rejected`` are whole conversations
(``\\n\\nHuman: ...\\n\\nAssistant: ...``) that differ only in the last assistant turn."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prefdata import reasons
from prefdata.config import ReadOptions
from prefdata.readers.layouts.base import BadRecord, Layout, LayoutSpec, Triple, text
from prefdata.readers.layouts.trl import check_columns, column_keys
from prefdata.schema import CHOSEN, ID, PROMPT

HH_ASSISTANT = "\n\nAssistant:"
HH_HUMAN = "\n\nHuman:"


def _strip_one_space(value: str) -> str:
    return value[1:] if value.startswith(" ") else value


def split_hh(chosen: str, rejected: str) -> Triple:
    """Split HH-RLHF transcripts at the last ``\\n\\nAssistant:`` both sides share.

    The prompt keeps that marker (TRL's explicit-prompt convention); each response is
    the rest with its single leading space removed. Splitting at whole turns, not at the
    longest common prefix of characters, keeps prompts from ending mid-word when both
    responses happen to start alike.

    >>> split_hh("\\n\\nHuman: hi\\n\\nAssistant: Hello!", "\\n\\nHuman: hi\\n\\nAssistant: Go away")
    ('\\n\\nHuman: hi\\n\\nAssistant:', 'Hello!', 'Go away')
    """
    at = chosen.rfind(HH_ASSISTANT)
    while at >= 0:
        end = at + len(HH_ASSISTANT)
        if rejected.startswith(chosen[:end]):
            return chosen[:end], _strip_one_space(chosen[end:]), _strip_one_space(rejected[end:])
        at = chosen.rfind(HH_ASSISTANT, 0, at)
    raise BadRecord(
        reasons.MALFORMED_RECORD, "chosen and rejected share no '\\n\\nAssistant:' turn"
    )


class HH(LayoutSpec):
    name = "hh"
    summary = "chosen, rejected: whole '\\n\\nHuman: ... \\n\\nAssistant: ...' transcripts"
    keys = ("chosen", "rejected")
    shape = "text"

    def detect(self, record: Mapping[str, Any], options: ReadOptions) -> bool:
        chosen = record.get(options.chosen_column or CHOSEN)
        return (
            options.prompt_column is None
            and PROMPT not in record
            and isinstance(chosen, str)
            and HH_ASSISTANT in chosen
        )

    def bind(self, record: Mapping[str, Any], options: ReadOptions, source: str) -> Layout:
        keys = column_keys(options)
        check_columns(record, keys, source)
        id_key = options.id_column or ID
        return Layout(
            name=self.name,
            shape="text",
            id_key=id_key,
            explicit_prompt=False,
            consumed=frozenset({keys["chosen_key"], keys["rejected_key"], id_key}),
            columnar=True,
            spec=self,
            prompt_key=keys["prompt_key"],
            chosen_key=keys["chosen_key"],
            rejected_key=keys["rejected_key"],
        )

    def pair(self, layout: Layout, record: Mapping[str, Any]) -> Triple:
        chosen = text(record.get(layout.chosen_key), layout.chosen_key)
        rejected = text(record.get(layout.rejected_key), layout.rejected_key)
        return split_hh(chosen, rejected)
