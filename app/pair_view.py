"""Showing a pair: the prompt, then the two responses side by side as A and B.

All dataset text is untrusted. Markdown goes through ``st.markdown`` without
``unsafe_allow_html`` (raw HTML is not rendered); the diff view is HTML built by
``prefdata.annotate.text_diff``, which escapes every token, and shown with ``st.html``
(sanitised again by Streamlit).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from prefdata.annotate.label_store import Pair
from prefdata.annotate.text_diff import as_pre_html, word_diff_html

VIEW_MODES = ("Markdown", "Word diff", "Plain text")


def message_text(value: Any) -> str:
    """A response's text: the string, or its messages' contents joined."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return "\n\n".join(str(m.get("content") or "") for m in value if isinstance(m, dict))


def show_prompt(pair: Pair) -> None:
    st.markdown("##### Prompt")
    with st.container(border=True):
        if isinstance(pair.prompt, list):
            for message in pair.prompt:
                known = message if isinstance(message, dict) else {"content": str(message)}
                st.caption(str(known.get("role") or "?").upper()[:20])
                st.text(str(known.get("content") or ""))
        else:
            st.text(message_text(pair.prompt))


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
                st.markdown(f"#### Response {name}")
                with st.container(border=True, key=f"response_{name}"):
                    st.html(body)
        return
    for column, name, side in ((col_a, "A", left), (col_b, "B", right)):
        with column:
            st.markdown(f"#### Response {name}")
            with st.container(border=True, key=f"response_{name}"):
                if mode == "Markdown":
                    st.markdown(texts[side])
                else:
                    st.text(texts[side])
