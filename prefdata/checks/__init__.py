"""The per-pair checks, in the order they run. A new check is a new file plus one line here.

Each check returns ``{reason_code: mask}`` for a batch; a row is dropped when any mask
applies, and every reason that applied is recorded.
"""

from __future__ import annotations

from prefdata.checks.base import Check, Masks, PairView
from prefdata.checks.identical import identical_pair
from prefdata.checks.length import empty_response, too_long, too_short
from prefdata.checks.similarity import too_similar
from prefdata.checks.tokens import token_limits

CHECKS: dict[str, Check] = {
    "empty_response": empty_response,
    "identical_pair": identical_pair,
    "too_short": too_short,
    "too_long": too_long,
    "too_similar": too_similar,
    "token_limits": token_limits,
}

__all__ = ["CHECKS", "Check", "Masks", "PairView"]
