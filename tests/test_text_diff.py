"""The word diff: escaped, lossless, and marking only what differs."""

from __future__ import annotations

import html
import re

from hypothesis import given
from hypothesis import strategies as st

from prefdata.annotate.text_diff import tokens, word_diff_html
from tests.annotate_data import XSS

_TAGS = re.compile(r"</?(?:del|ins)[^>]*>")


def _text_of(fragment: str) -> str:
    return html.unescape(_TAGS.sub("", fragment))


def test_markup_in_responses_is_escaped() -> None:
    left, right = word_diff_html(f"safe {XSS}", "safe text")
    for fragment in (left, right):
        assert "<script" not in fragment
        assert "<img" not in fragment
    assert "&lt;script&gt;" in left
    assert "onerror=&quot;" in left


def test_only_differing_words_are_marked() -> None:
    left, right = word_diff_html("the cat sat", "the dog sat")
    assert ">cat</del>" in left
    assert ">dog</ins>" in right
    assert left.startswith("the ") and left.endswith(" sat")


@given(st.text(), st.text())
def test_diff_keeps_both_texts(a: str, b: str) -> None:
    assert "".join(tokens(a)) == a
    left, right = word_diff_html(a, b)
    assert _text_of(left) == a
    assert _text_of(right) == b
