"""LLaMA-Factory's ShareGPT preference layout: ``conversations`` (``{from, value}`` turns),
``chosen`` and ``rejected`` (one ``{from, value}`` turn each), optional ``system``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from prefdata import reasons
from prefdata.config import ReadOptions
from prefdata.readers.layouts.base import (
    BadRecord,
    Columns,
    Layout,
    LayoutSpec,
    Triple,
    assistant,
    content_text,
    require,
)
from prefdata.readers.layouts.trl import check_columns, column_keys
from prefdata.readers.messages import is_text, messages, one_turn, prepend, text_fields
from prefdata.schema import ID

# LLaMA-Factory's ShareGPT roles mapped onto chat-template roles.
SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
    "observation": "tool",
    "tool": "tool",
    "function_call": "assistant",
}


class ShareGPT(LayoutSpec):
    name = "sharegpt"
    summary = "conversations [{from, value}], chosen {from, value}, rejected, system (optional)"
    keys = ("conversations", "chosen", "rejected")

    def bind(self, record: Mapping[str, Any], options: ReadOptions, source: str) -> Layout:
        keys = column_keys(options, "conversations")
        check_columns(record, keys, source)
        id_key = options.id_column or ID
        return Layout(
            name=self.name,
            shape="conversational",
            id_key=id_key,
            explicit_prompt=True,
            consumed=frozenset({*keys.values(), id_key, "system"}),
            spec=self,
            prompt_key=keys["prompt_key"],
            chosen_key=keys["chosen_key"],
            rejected_key=keys["rejected_key"],
        )

    def pair(self, layout: Layout, record: Mapping[str, Any]) -> Triple:
        turns, chosen, rejected = require(
            record, layout.prompt_key, layout.chosen_key, layout.rejected_key
        )
        if not isinstance(turns, list) or not all(isinstance(t, Mapping) for t in turns):
            raise BadRecord(
                reasons.WRONG_TYPE, f"{layout.prompt_key} is not a list of {{from, value}}"
            )
        prompt = [
            {
                "role": SHAREGPT_ROLES.get(str(t.get("from")), str(t.get("from"))),
                "content": content_text(t.get("value"), f"{layout.prompt_key}[{i}]"),
            }
            for i, t in enumerate(turns)
        ]
        system = record.get("system")
        if isinstance(system, str) and system:
            prompt.insert(0, {"role": "system", "content": system})
        responses = []
        for key, value in ((layout.chosen_key, chosen), (layout.rejected_key, rejected)):
            turn = value.get("value") if isinstance(value, Mapping) else value
            responses.append(assistant(content_text(turn, key)))
        return prompt, responses[0], responses[1]

    def columns(self, layout: Layout, batch: pa.RecordBatch) -> Columns | None:
        names = batch.schema.names
        keys = (layout.prompt_key, layout.chosen_key, layout.rejected_key)
        if not all(k in names for k in keys):
            return None
        turns = text_fields(batch.column(layout.prompt_key), "from", "value")
        if turns is None:
            return None
        offsets, sender, text = turns
        known = pa.array(list(SHAREGPT_ROLES), pa.string())
        at = pc.index_in(sender, value_set=known)
        mapped = pa.array(list(SHAREGPT_ROLES.values()), pa.string()).take(pc.fill_null(at, 0))
        roles = pc.if_else(pc.is_null(at), sender, mapped)
        if "system" in names and batch.schema.field("system").type != pa.null():
            system = batch.column("system")
            if not is_text(system.type):
                return None
            has = pc.fill_null(pc.greater(pc.utf8_length(system), 0), False)
            has_np = np.asarray(has.to_numpy(zero_copy_only=False), dtype=np.int64)
            if has_np.any():
                offsets, roles, text = prepend(
                    offsets, roles, text, pc.fill_null(system, ""), has_np
                )
        responses = []
        for key in keys[1:]:
            column = batch.column(key)
            if pa.types.is_struct(column.type):
                if not is_text({f.name: f.type for f in column.type}.get("value", pa.null())):
                    return None
                column = pc.struct_field(column, "value")
            elif not is_text(column.type):
                return None
            if column.null_count:
                return None
            responses.append(one_turn("assistant", column))
        return messages(offsets, roles, text), responses[0], responses[1]
