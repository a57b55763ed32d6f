"""Column-wise ids of message-list pairs are ``schema.derive_id``'s, byte for byte."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefdata.readers.message_ids import message_list_ids
from prefdata.schema import MESSAGES, derive_id

# what JSON escapes (quote, backslash, \b \t \n \f \r), what it must not (DEL, U+2028,
# non-ASCII, the slash), and plain text
_PIECES = [
    '"',
    "\\",
    "\b",
    "\t",
    "\n",
    "\f",
    "\r",
    "\x7f",
    "\u2028",
    "é",
    "字",
    "🙂",
    "a",
    " ",
    "/",
]
_TEXT = st.lists(st.sampled_from(_PIECES), max_size=12).map("".join)
_MESSAGE = st.fixed_dictionaries({"role": _TEXT, "content": _TEXT})
_ROW = st.tuples(*[st.lists(_MESSAGE, max_size=4)] * 3)


def _columns(rows: list[Any]) -> list[pa.Array]:
    return [pa.array([row[k] for row in rows], MESSAGES) for k in range(3)]


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(_ROW, min_size=1, max_size=6), start=st.integers(0, 2))
def test_ids_equal_derive_id_on_any_text_json_escapes(rows: list[Any], start: int) -> None:
    padded = [([], [], [])] * start + rows  # a slice: offsets that do not start at 0
    columns = [c.slice(start) for c in _columns(padded)]
    got = message_list_ids(*columns)
    assert got is not None
    read_back = zip(*(c.to_pylist() for c in columns), strict=True)  # as the readers see them
    assert got.to_pylist() == [derive_id(*row) for row in read_back]


def test_rows_json_writes_as_u00xx_or_null_take_the_row_path() -> None:
    message = {"role": "user", "content": "fine"}
    ok = ([message], [message], [message])
    assert message_list_ids(*_columns([ok])) is not None
    for odd in ({"role": "user", "content": "bell \x07"}, {"role": "user", "content": None}):
        assert message_list_ids(*_columns([([odd], [message], [message])])) is None
    assert message_list_ids(pa.array([None], MESSAGES), *_columns([ok])[1:]) is None


def test_chunks_past_int32_string_offsets_take_the_row_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefdata.readers import message_ids

    message = {"role": "user", "content": "x" * 1000}
    columns = _columns([([message], [message], [message])])
    assert message_ids.message_list_ids(*columns) is not None
    monkeypatch.setattr(message_ids, "_MAX_BYTES", 6000)  # as if the chunk were 2 GiB
    assert message_ids.message_list_ids(*columns) is None
