"""Record layouts: the registry of ``LayoutSpec``s and the choice of one per input.

Auto-detection tries the layouts in registry order on an input's first record, most
specific first; ``trl`` (chosen and rejected, with or without a prompt) comes last.
To add a layout, write one module with a ``LayoutSpec`` subclass and add one line here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prefdata.config import ReadOptions
from prefdata.errors import InputError
from prefdata.readers.layouts.alpaca import Alpaca
from prefdata.readers.layouts.arena import Arena
from prefdata.readers.layouts.base import BadRecord, Layout, LayoutSpec, Triple
from prefdata.readers.layouts.h4 import H4
from prefdata.readers.layouts.hh import HH, HH_ASSISTANT, HH_HUMAN, split_hh
from prefdata.readers.layouts.labelled import Labelled
from prefdata.readers.layouts.openai import OpenAI
from prefdata.readers.layouts.orca import Orca
from prefdata.readers.layouts.pku import PKU
from prefdata.readers.layouts.sharegpt import SHAREGPT_ROLES, ShareGPT
from prefdata.readers.layouts.shp import SHP
from prefdata.readers.layouts.trl import Trl

__all__ = [
    "HH_ASSISTANT",
    "HH_HUMAN",
    "LAYOUTS",
    "SHAREGPT_ROLES",
    "BadRecord",
    "Layout",
    "LayoutSpec",
    "Triple",
    "detect_layout",
    "split_hh",
]

LAYOUTS: dict[str, LayoutSpec] = {
    spec.name: spec
    for spec in (
        Labelled(),  # only when --response-a-column is given
        OpenAI(),
        ShareGPT(),
        Alpaca(),
        Orca(),
        SHP(),
        Arena(),
        PKU(),
        H4(),
        HH(),
        Trl(),
    )
}

# With these flags the user has said where prompt, chosen and rejected are: auto-detection
# then only decides between the layouts that take those flags.
_COLUMN_LAYOUTS = ("sharegpt", "hh", "trl")


def detect_layout(record: Mapping[str, Any], options: ReadOptions, *, source: str) -> Layout:
    """Choose the layout from the first parseable record (or the one the options force)."""
    name = options.layout
    if name == "auto":
        columns_given = any((options.prompt_column, options.chosen_column, options.rejected_column))
        candidates = [
            spec
            for spec in LAYOUTS.values()
            if not columns_given or spec.name in _COLUMN_LAYOUTS or spec.name == "labelled"
        ]
        name = next((s.name for s in candidates if s.detect(record, options)), "trl")
    if name not in LAYOUTS:
        raise InputError(f"unknown format {name!r}; one of {sorted(LAYOUTS)}")
    return LAYOUTS[name].bind(record, options, source)
