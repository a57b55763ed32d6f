"""OpenAI preference fine-tuning JSONL: ``input.messages``, ``preferred_output`` and
``non_preferred_output`` (each a list holding one assistant message)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from prefdata import reasons
from prefdata.readers.layouts.base import (
    BadRecord,
    Columns,
    Layout,
    LayoutSpec,
    Triple,
    messages,
    require,
)
from prefdata.readers.messages import message_lists


class OpenAI(LayoutSpec):
    name = "openai"
    summary = "input {messages}, preferred_output, non_preferred_output (OpenAI preference JSONL)"
    keys = ("input", "preferred_output", "non_preferred_output")

    def pair(self, layout: Layout, record: Mapping[str, Any]) -> Triple:
        given, preferred, other = require(record, *self.keys)
        if not isinstance(given, Mapping) or "messages" not in given:
            raise BadRecord(reasons.WRONG_TYPE, "input is not an object with messages")
        prompt = messages(given["messages"], "input.messages")
        return (
            prompt,
            messages(preferred, "preferred_output"),
            messages(other, "non_preferred_output"),
        )

    def columns(self, layout: Layout, batch: pa.RecordBatch) -> Columns | None:
        if not all(k in batch.schema.names for k in self.keys):
            return None
        given = batch.column("input")
        if not pa.types.is_struct(given.type) or given.type.get_field_index("messages") < 0:
            return None
        if given.null_count:
            return None
        out = [
            message_lists(column)
            for column in (
                pc.struct_field(given, "messages"),
                batch.column("preferred_output"),
                batch.column("non_preferred_output"),
            )
        ]
        if any(lists is None for lists in out):
            return None
        return out[0], out[1], out[2]
