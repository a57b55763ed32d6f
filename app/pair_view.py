"""Showing a pair: the prompt as turns, then the two responses side by side as A and B.

All dataset text is untrusted. Markdown goes through ``st.markdown`` without
``unsafe_allow_html`` (raw HTML is not rendered) and with images turned into links
(``inert_markdown``: nothing is fetched); ids and names are escaped wherever they
appear in Markdown. The diff view is HTML built by ``prefdata.annotate.text_diff``,
which escapes every token, and shown with ``st.html`` (sanitised again by Streamlit).

The prompt box and the response boxes have fixed heights and scroll, so that at
1440x900 both responses and the answer buttons are on the first screen. The prompt box
holds the final turn alone; every earlier turn sits in a collapsed "earlier turns"
section.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from prefdata.annotate.display_text import (
    escape_markdown,
    inert_markdown,
    prompt_turns,
    split_recent,
)
from prefdata.annotate.label_store import Pair
from prefdata.annotate.text_diff import as_pre_html, word_diff_html

__all__ = ["VIEW_MODES", "escape_markdown", "message_text", "show_prompt", "show_responses"]

VIEW_MODES = ("Markdown", "Word diff", "Plain text")
PROMPT_HEIGHT_PX = 160
RESPONSE_HEIGHT_PX = 320
# Words, not emoji: a browser without an emoji font shows boxes.
_ROLE_MARKS = {"user": "USER", "assistant": "ASSISTANT", "system": "SYSTEM"}


def message_text(value: Any) -> str:
    """A response's text: the string, or its messages' contents joined."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return "\n\n".join(str(m.get("content") or "") for m in value if isinstance(m, dict))


def _turn(role: str, text: str) -> None:
    mark = _ROLE_MARKS.get(role.lower(), role.upper()[:20])
    st.caption(escape_markdown(mark))
    st.text(text)


def show_prompt(pair: Pair, *, key: str = "prompt") -> None:
    # Only the final turn goes in the box: it is the one both responses answer, and a box
    # opens at its top, so a turn above it (often a long reply) pushed it out of sight.
    earlier, recent = split_recent(prompt_turns(pair.prompt), last=1)
    if earlier:
        with st.expander(f"Earlier turns ({len(earlier)})", expanded=False):
            for role, text in earlier:
                _turn(role, text)
    with st.container(border=True, height=PROMPT_HEIGHT_PX, key=key):
        for role, text in recent:
            _turn(role, text)


def show_responses(pair: Pair, *, left: str, mode: str) -> None:
    """Response A (the one named by ``left``) beside response B."""
    right = "rejected" if left == "chosen" else "chosen"
    texts = {"chosen": message_text(pair.chosen), "rejected": message_text(pair.rejected)}
    col_a, col_b = st.columns(2)
    if mode == "Word diff":
        html_a, html_b = word_diff_html(texts[left], texts[right])
        bodies = [("A", as_pre_html(html_a)), ("B", as_pre_html(html_b))]
        for column, (name, body) in zip((col_a, col_b), bodies, strict=True):
            with column:
                st.markdown(f"**Response {name}**")
                with st.container(border=True, height=RESPONSE_HEIGHT_PX, key=f"response_{name}"):
                    st.html(body)
        return
    for column, name, side in ((col_a, "A", left), (col_b, "B", right)):
        with column:
            st.markdown(f"**Response {name}**")
            with st.container(border=True, height=RESPONSE_HEIGHT_PX, key=f"response_{name}"):
                if mode == "Markdown":
                    st.markdown(inert_markdown(texts[side]))
                else:
                    st.text(texts[side])
