"""Which response is shown on the left (as "A"), per annotator and pair.

The order is random across pairs but deterministic from a hash, so an annotator who
comes back to a pair sees it the same way, two annotators usually see it differently,
and nothing needs storing until a label is written (which records ``left_response``).
Because the left side is chosen or rejected with probability 1/2 independent of
content, a preference for the left side averages out of the majority vote and can
be measured (``agreement.position_bias``).
"""

from __future__ import annotations

import hashlib
from typing import Literal

Side = Literal["chosen", "rejected"]
Screen = Literal["A", "B", "tie", "both_bad", "skip"]


def left_response(pair_id: str, annotator: str) -> Side:
    """The response shown on the left for this annotator and pair.

    >>> left_response("p1", "ann") == left_response("p1", "ann")
    True
    """
    digest = hashlib.sha256(f"{annotator}\x00{pair_id}".encode()).digest()
    return "chosen" if digest[0] & 1 else "rejected"


def screen_to_choice(screen: Screen, left: Side) -> str:
    """Translate a click ("A" = left, "B" = right) into the label stored: the response.

    >>> screen_to_choice("A", "rejected")
    'rejected'
    >>> screen_to_choice("B", "rejected")
    'chosen'
    """
    if screen == "A":
        return left
    if screen == "B":
        return "rejected" if left == "chosen" else "chosen"
    return screen


def choice_to_screen(choice: str, left: Side) -> str:
    """The inverse of ``screen_to_choice``: which button a stored label corresponds to."""
    if choice in ("chosen", "rejected"):
        return "A" if choice == left else "B"
    return choice
