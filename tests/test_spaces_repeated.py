"""Hashing a column of few distinct values once per value gives the same hashes."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from prefdata.dataset.spaces import normalized_hashes, repeated_hashes

_VALUE = st.one_of(
    st.none(),
    st.sampled_from(["user", " user", "user \n", "assistant", "a\u00a0b", "a b", ""]),
    st.text(max_size=8),
)


@given(st.lists(_VALUE, max_size=30), st.integers(0, 3))
def test_repeated_hashes_are_normalized_hashes(values: list[str | None], start: int) -> None:
    column = pa.array(values, pa.string()).slice(min(start, len(values)))
    assert repeated_hashes(column).tolist() == normalized_hashes(column).tolist()
