"""HuggingFaceH4/ultrafeedback_binarized style: ``prompt`` is a string, ``chosen`` and
``rejected`` are whole conversations that start with that prompt as the user turn.

The prompt becomes the messages both conversations share (checked against the string);
``chosen`` and ``rejected`` become only the final assistant turn, as TRL expects. When
the lists hold only the assistant's answer, the prompt string is the user turn.
"""

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
    messages,
    require,
    shared_prefix,
    text,
)
from prefdata.readers.messages import is_text, message_lists, offsets_of, one_turn
from prefdata.readers.messages import messages as message_column


class H4(LayoutSpec):
    name = "h4"
    summary = "prompt (text), chosen and rejected: whole conversations starting with the prompt"
    keys = ("prompt", "chosen", "rejected")

    def detect(self, record: Mapping[str, Any], options: ReadOptions) -> bool:
        return (
            options.prompt_column is None
            and isinstance(record.get("prompt"), str)
            and isinstance(record.get("chosen"), list)
        )

    def pair(self, layout: Layout, record: Mapping[str, Any]) -> Triple:
        prompt_text, chosen, rejected = require(record, "prompt", "chosen", "rejected")
        prompt_text = text(prompt_text, "prompt")
        chosen, rejected = messages(chosen, "chosen"), messages(rejected, "rejected")
        n = shared_prefix(chosen, rejected)
        # the responses are the last turn: anything else the two sides do not share is a
        # different conversation, not a preference between two answers
        if n != len(chosen) - 1 or n != len(rejected) - 1:
            raise BadRecord(
                reasons.MALFORMED_RECORD,
                f"chosen and rejected differ before their last message ({n} shared of "
                f"{len(chosen)} and {len(rejected)})",
            )
        if chosen[-1]["role"] != "assistant" or rejected[-1]["role"] != "assistant":
            raise BadRecord(reasons.MALFORMED_RECORD, "the last message is not the assistant's")
        if n == 0:  # responses only: the prompt string is the user turn they answer
            return [{"role": "user", "content": prompt_text}], chosen, rejected
        users = [m["content"] for m in chosen[:n] if m["role"] == "user"]
        if not users or prompt_text.strip() not in (users[0].strip(), users[-1].strip()):
            raise BadRecord(reasons.MALFORMED_RECORD, "prompt is not the conversation's user turn")
        return chosen[:n], chosen[n:], rejected[n:]

    def columns(self, layout: Layout, batch: pa.RecordBatch) -> Columns | None:
        # The common shape only: every row a [user, ..., assistant] pair of conversations
        # of one length that share all but their last message, the first turn being the
        # user's and equal to ``prompt``. Any other row sends the chunk to ``pair``.
        if not all(k in batch.schema.names for k in self.keys):
            return None
        prompt = batch.column("prompt")
        chosen, rejected = (message_lists(batch.column(k)) for k in ("chosen", "rejected"))
        if chosen is None or rejected is None or not is_text(prompt.type) or prompt.null_count:
            return None
        offsets = offsets_of(chosen)
        lengths = np.diff(offsets)
        if not np.array_equal(offsets, offsets_of(rejected)) or (lengths < 2).any():
            return None
        c, r = chosen.values, rejected.values
        roles_c, roles_r = pc.struct_field(c, "role"), pc.struct_field(r, "role")
        texts_c, texts_r = pc.struct_field(c, "content"), pc.struct_field(r, "content")
        last = np.zeros(int(offsets[-1]), dtype=bool)
        last[offsets[1:] - 1] = True
        same = pc.and_(pc.equal(roles_c, roles_r), pc.equal(texts_c, texts_r))
        same = np.asarray(same.to_numpy(zero_copy_only=False), dtype=bool)
        firsts = pa.array(offsets[:-1])
        if (
            not same[~last].all()  # an earlier message differs
            or same[last].any()  # nothing to prefer between
            or not pc.all(pc.equal(roles_c.take(pa.array(offsets[1:] - 1)), "assistant")).as_py()
            or not pc.all(pc.equal(roles_r.take(pa.array(offsets[1:] - 1)), "assistant")).as_py()
            or not pc.all(pc.equal(roles_c.take(firsts), "user")).as_py()
            or not pc.all(pc.equal(texts_c.take(firsts), prompt)).as_py()
        ):
            return None
        keep = pa.array(np.flatnonzero(~last))
        head = np.zeros(len(offsets), np.int64)
        np.cumsum(lengths - 1, out=head[1:])
        ends = pa.array(offsets[1:] - 1)
        return (
            message_column(head, roles_c.take(keep), texts_c.take(keep)),
            one_turn("assistant", texts_c.take(ends)),
            one_turn("assistant", texts_r.take(ends)),
        )
