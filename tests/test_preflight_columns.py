"""The per-pair reason columns and the ledger's id list are built with Arrow/numpy kernels
(no Python loop over pairs): they must say what the row-by-row definition says."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from prefdata.preflight import codes
from prefdata.preflight.ledger import _ids_with


def _row_by_row(flags: dict[str, np.ndarray], n: int) -> tuple[list[list[str]], list[str | None]]:
    reasons = [[c for c in flags if flags[c][i]] for i in range(n)]
    drop = [next((c for c in r if c in codes.DROPS), None) for r in reasons]
    return reasons, drop


def test_reason_columns_equal_the_row_by_row_definition() -> None:
    rng = np.random.default_rng(7)
    for n in (0, 1, 5, 300):
        names = list(rng.permutation(codes.ALL))  # any order: each row keeps the flags' order
        flags = {c: rng.random(n) < 0.3 for c in names}
        reasons, drop = codes.columns(flags, n)
        expected_reasons, expected_drop = _row_by_row(flags, n)
        assert reasons.to_pylist() == expected_reasons
        assert drop.to_pylist() == expected_drop
        assert reasons.type == pa.list_(pa.string()) and drop.type == pa.string()
    # no drop code among the flags: every drop_reason is null
    only = {codes.EOS_MISMATCH: np.array([True, False])}
    assert codes.columns(only, 2)[1].to_pylist() == [None, None]


def test_ids_with_a_code_in_input_order_up_to_the_limit() -> None:
    code = codes.IDENTICAL_AFTER_TRUNCATION
    reasons = [[], [code], [codes.EOS_MISMATCH, code], [codes.EOS_MISMATCH], [code], [code]]
    table = pa.table(
        {"id": ["a", "b", "c", "d", "e", "f"], "reasons": pa.array(reasons, pa.list_(pa.string()))}
    )
    assert _ids_with(table, code, 100) == ["b", "c", "e", "f"]
    assert _ids_with(table, code, 2) == ["b", "c"]
    assert _ids_with(table, codes.PROMPT_TRUNCATED, 100) == []
    chunked = pa.concat_tables([table.slice(0, 3), table.slice(3)])  # ids split over chunks
    assert _ids_with(chunked, code, 100) == ["b", "c", "e", "f"]
    assert _ids_with(table.slice(0, 0), code, 100) == []
