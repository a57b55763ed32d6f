"""A word-level diff of two responses as safe HTML.

Dataset text is untrusted: every token is HTML-escaped before it is wrapped in the
``<del>``/``<ins>`` markup, so a response holding ``<script>`` or
``<img onerror=...>`` shows as text.
"""

from __future__ import annotations

import html
import re
from difflib import SequenceMatcher

# Words, runs of whitespace and single punctuation marks, so whitespace survives the
# round trip and "word," and "word" still share their word.
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)

LEFT_STYLE = "background:#fdd;text-decoration:line-through"
RIGHT_STYLE = "background:#dfd;text-decoration:none"


def tokens(text: str) -> list[str]:
    """Split text into diff tokens; joining them gives the text back.

    >>> "".join(tokens("a, b")) == "a, b"
    True
    """
    return _TOKEN.findall(text)


def word_diff_html(left: str, right: str) -> tuple[str, str]:
    """HTML for the left and right text with the words each does not share highlighted.

    >>> word_diff_html("a <b>", "a c")[0]
    'a <del style="background:#fdd;text-decoration:line-through">&lt;b&gt;</del>'
    """
    a, b = tokens(left), tokens(right)
    # autojunk off: its popularity heuristic hides common words in long texts.
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    out_left: list[str] = []
    out_right: list[str] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        left_part = html.escape("".join(a[i1:i2]))
        right_part = html.escape("".join(b[j1:j2]))
        if op == "equal":
            out_left.append(left_part)
            out_right.append(right_part)
            continue
        if left_part:
            out_left.append(f'<del style="{LEFT_STYLE}">{left_part}</del>')
        if right_part:
            out_right.append(f'<ins style="{RIGHT_STYLE}">{right_part}</ins>')
    return "".join(out_left), "".join(out_right)


def as_pre_html(fragment: str) -> str:
    """Wrap diff HTML so line breaks and spaces show as in the text."""
    return f'<div style="white-space:pre-wrap;font-family:inherit">{fragment}</div>'
