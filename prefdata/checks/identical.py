"""identical_pair: chosen and rejected are the same text, so there is nothing to prefer."""

from __future__ import annotations

from prefdata import reasons
from prefdata.checks.base import Masks, PairView
from prefdata.config import FilterConfig


def identical_pair(view: PairView, config: FilterConfig) -> Masks:
    return {reasons.IDENTICAL_PAIR: view.identical}
