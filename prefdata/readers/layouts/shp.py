"""Stanford SHP: ``history`` (the post), ``human_ref_A``, ``human_ref_B`` and ``labels``,
which is 1 when A is preferred and 0 when B is (SHP's dataset card)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prefdata.readers.layouts.base import Layout, LayoutSpec, Triple, require, text
from prefdata.readers.layouts.labelled import Winner, index_label, ordered


class SHP(LayoutSpec):
    name = "shp"
    summary = "history, human_ref_A, human_ref_B, labels (1: A preferred, 0: B preferred)"
    keys = ("history", "human_ref_A", "human_ref_B", "labels")
    shape = "text"

    def pair(self, layout: Layout, record: Mapping[str, Any]) -> Triple:
        history, a, b, label = require(record, *self.keys)
        prompt = text(history, "history")
        won: Winner = "a" if index_label(label, "labels") == 1 else "b"
        return ordered(prompt, text(a, "human_ref_A"), text(b, "human_ref_B"), won)
