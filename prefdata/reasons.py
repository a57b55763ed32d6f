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

# A labelled comparison with no winner (a tie, "both bad"): never turned into a pair.
NO_PREFERENCE = "no_preference"

STRUCTURAL = (MALFORMED_RECORD, MISSING_FIELD, WRONG_TYPE, NO_PREFERENCE)

# Dataset-level checks (prefdata.dataset): decided over the whole input, from row hashes.
DUPLICATE_PAIR = "duplicate_pair"  # same prompt, chosen and rejected as an earlier row
CONTRADICTORY_PAIR = "contradictory_pair"  # same prompt and responses, preference reversed
NEAR_DUPLICATE_PROMPT = "near_duplicate_prompt"  # MinHash-near an earlier prompt (opt-in drop)
CONTAMINATED_PROMPT = "contaminated_prompt"  # prompt found in an --eval-set
LENGTH_BALANCE = "length_balance"  # subsampled by --balance-length to remove length bias

# Tokenizer-aware checks (on with --tokenizer and --max-length).
PROMPT_TOO_LONG = "prompt_too_long"
RESPONSE_TRUNCATED = "response_truncated"
IDENTICAL_AFTER_TRUNCATION = "identical_after_truncation"
PROMPT_BOUNDARY_MERGE = "prompt_boundary_merge"

DATASET_LEVEL = (
    DUPLICATE_PAIR,
    CONTRADICTORY_PAIR,
    NEAR_DUPLICATE_PROMPT,
    CONTAMINATED_PROMPT,
    LENGTH_BALANCE,
)
