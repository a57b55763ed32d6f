"""Reason codes: stable snake_case names for why a pair was dropped.

Codes never change once released; the README lists them with their meaning.
"""

from __future__ import annotations

# Structural: the row could not be turned into a pair at all.
MALFORMED_RECORD = "malformed_record"  # unparseable line or row, invalid UTF-8, not an object
MISSING_FIELD = "missing_field"  # prompt/chosen/rejected absent or null
WRONG_TYPE = "wrong_type"  # a number, list or object where text or messages belong

# Per-pair checks (prefdata.checks).
EMPTY_RESPONSE = "empty_response"
IDENTICAL_PAIR = "identical_pair"
CHOSEN_TOO_SHORT = "chosen_too_short"
REJECTED_TOO_SHORT = "rejected_too_short"
TOO_SIMILAR = "too_similar"
RESPONSE_TOO_LONG = "response_too_long"

STRUCTURAL = (MALFORMED_RECORD, MISSING_FIELD, WRONG_TYPE)
