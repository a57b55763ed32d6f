"""PKU-SafeRLHF: ``prompt``, ``response_0``, ``response_1`` and the index of the better
(``better_response_id``) and the safer (``safer_response_id``) response. The better one
is chosen unless ``--prefer safer``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from prefdata.config import ReadOptions
from prefdata.readers.layouts.base import Layout, LayoutSpec, Triple, require, text
from prefdata.readers.layouts.labelled import Winner, index_label, ordered


class PKU(LayoutSpec):
    name = "pku"
    summary = "prompt, response_0, response_1, better_response_id / safer_response_id (--prefer)"
    keys = ("prompt", "response_0", "response_1")
    shape = "text"

    def detect(self, record: Mapping[str, Any], options: ReadOptions) -> bool:
        return super().detect(record, options) and (
            "better_response_id" in record or "safer_response_id" in record
        )

    def bind(self, record: Mapping[str, Any], options: ReadOptions, source: str) -> Layout:
        layout = super().bind(record, options, source)
        label = f"{options.prefer}_response_id"
        return replace(layout, consumed=layout.consumed | {label}, label_key=label)

    def pair(self, layout: Layout, record: Mapping[str, Any]) -> Triple:
        label_key = layout.label_key
        prompt, first, second, label = require(record, *self.keys, label_key)
        won: Winner = "a" if index_label(label, label_key) == 0 else "b"
        return ordered(
            text(prompt, "prompt"), text(first, "response_0"), text(second, "response_1"), won
        )
