"""One Parquet file encoded by several threads (``prefdata.parallel_parquet``): the file
is the one a single writer makes, byte for byte, and what it cannot move it refuses."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefdata import writer
from prefdata.parallel_parquet import ParallelParquet, read_footer, stitch
from prefdata.schema import canonical_fields
from prefdata.thrift_compact import STRUCT, decode, encode
from prefdata.writer import ParquetSink, parquet_writer


def _footer_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    size = int.from_bytes(raw[-8:-4], "little")
    return raw[-8 - size : -8]


def _pairs(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    words = np.array(["alpha", "beta", "gamma", "délta", "漢字", "", " ", "end"])
    text = [" ".join(rng.choice(words, rng.integers(0, 30))) for _ in range(n)]
    return pa.table(
        {
            "id": [f"{i:016x}" for i in range(n)],
            "prompt": text,
            "chosen": text[::-1],
            "rejected": [t + " no" for t in text],
            "source_row": pa.array(np.arange(n), pa.int64()),
            "score": pa.array(rng.random(n)),
            "flag": pa.array(rng.random(n) < 0.5),
            "tags": pa.array([["a"] * int(k) for k in rng.integers(0, 3, n)]),
        }
    )


def _conversations(n: int) -> pa.Table:
    schema = pa.schema(canonical_fields("conversational"))
    turn = {"role": "user", "content": "hi"}
    rows = {
        f.name: [[turn] if pa.types.is_list(f.type) else f"r{i}" for i in range(n)] for f in schema
    }
    return pa.Table.from_pydict(rows, schema=schema)


@pytest.mark.parametrize("workers", [1, 2, 3, 5])
@pytest.mark.parametrize("make", [_pairs, _conversations])
def test_same_bytes_as_one_writer(tmp_path: Path, workers: int, make) -> None:
    """Whatever the threads, the file equals ParquetSink's, footer and all; read back, the
    rows are the rows written, in their order."""
    table = make(200_000 if make is _pairs else 70_000)
    batches = table.to_batches(max_chunksize=8192)
    one = ParquetSink(tmp_path / "one.parquet")
    many = ParallelParquet(tmp_path / "many.parquet", table.schema, workers)
    for batch in batches:
        one.write(batch)
        many.write(batch)
    one.close(table.schema)
    many.close(table.schema)
    assert pq.ParquetFile(tmp_path / "many.parquet").metadata.num_row_groups > 1
    assert (tmp_path / "many.parquet").read_bytes() == (tmp_path / "one.parquet").read_bytes()
    assert pq.read_table(tmp_path / "many.parquet").equals(table)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["many.parquet", "one.parquet"]


@pytest.mark.parametrize("rows", [0, 5, 70_000])
def test_few_rows(tmp_path: Path, rows: int) -> None:
    """No row: an empty file with no row group; one row group: that thread's file."""
    table = _pairs(rows)
    out = ParallelParquet(tmp_path / "out.parquet", table.schema, 3)
    for batch in table.to_batches(max_chunksize=8192):
        out.write(batch)
    out.close(table.schema)
    assert pq.read_table(tmp_path / "out.parquet").equals(table)
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=25), st.integers(1, 4), st.integers(5, 60))
def test_same_bytes_for_any_batches(
    tmp_path_factory: pytest.TempPathFactory, sizes: list[int], workers: int, group: int
) -> None:
    """Batches of any sizes, row groups of any size, any number of threads: the same
    bytes as ParquetSink."""
    folder = tmp_path_factory.mktemp("any")
    table = _pairs(sum(sizes), seed=len(sizes))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(writer, "ROW_GROUP_ROWS", group)  # the one rule both sinks follow
        one = ParquetSink(folder / "one.parquet")
        many = ParallelParquet(folder / "many.parquet", table.schema, workers)
        start = 0
        for size in sizes:
            one.write(table.slice(start, size).to_batches()[0])
            many.write(table.slice(start, size).to_batches()[0])
            start += size
        one.close(table.schema)
        many.close(table.schema)
    assert (folder / "many.parquet").read_bytes() == (folder / "one.parquet").read_bytes()
    assert pq.read_table(folder / "many.parquet").equals(table)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.integers(0, 5), min_size=1, max_size=12),
    st.randoms(use_true_random=False),
)
def test_stitch_any_order(tmp_path_factory: pytest.TempPathFactory, sizes: list[int], rnd) -> None:
    """Row groups taken from several files in any order read back as those rows."""
    folder = tmp_path_factory.mktemp("stitch")
    table = _pairs(sum(sizes) + len(sizes), seed=len(sizes))
    parts = [folder / f"part{k}.parquet" for k in range(3)]
    writers = [parquet_writer(p, table.schema) for p in parts]
    order, counts, pieces, start = [], [0, 0, 0], [], 0
    for size in sizes:
        piece = table.slice(start, size + 1)
        start += size + 1
        k = rnd.randrange(3)
        writers[k].write_table(piece, row_group_size=piece.num_rows)
        order.append((k, counts[k]))
        counts[k] += 1
        pieces.append(piece)
    for part_writer in writers:
        part_writer.close()
    stitch(parts, order, folder / "out.parquet")
    assert pq.read_table(folder / "out.parquet").equals(pa.concat_tables(pieces))


def test_footer_round_trip(tmp_path: Path) -> None:
    """The Thrift reader and writer give back the bytes pyarrow wrote, statistics,
    dictionaries, nested types and key-value metadata included."""
    table = _pairs(3000).replace_schema_metadata({"made_by": "a test"})
    variants: dict[str, dict[str, Any]] = {
        "plain": {},
        "dictionary": {"use_dictionary": True},
        "zstd": {"compression": "zstd"},
        "no statistics": {"write_statistics": False},
    }
    for name, options in variants.items():
        path = tmp_path / f"{name}.parquet"
        pq.write_table(table, path, row_group_size=1000, **options)
        assert encode(read_footer(path)) == _footer_bytes(path), name


def test_refuses_what_it_cannot_move(tmp_path: Path) -> None:
    """A part with a page index (its offsets live past the row groups) is refused, and
    nothing half-written is left looking like a result."""
    table = _pairs(100)
    parts = []
    for k in range(2):
        path = tmp_path / f"part{k}.parquet"
        pq.write_table(table, path, write_page_index=True)
        parts.append(path)
    with pytest.raises(ValueError, match="cannot move"):
        stitch(parts, [(0, 0), (1, 0)], tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


def test_not_parquet(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(ValueError, match="not a Parquet file"):
        read_footer(path)


def test_abort_leaves_nothing(tmp_path: Path) -> None:
    """After a failure elsewhere: no output, no part file, its threads stopped."""
    table = _pairs(150_000)
    out = ParallelParquet(tmp_path / "out.parquet", table.schema, 2)
    for batch in table.to_batches(max_chunksize=8192):
        out.write(batch)
    out.abort()
    assert list(tmp_path.iterdir()) == []
    assert not any(t.name.startswith("prefdata-encode") for t in threading.enumerate())


_LEAF = st.one_of(
    st.tuples(st.sampled_from([1, 2]), st.booleans()).map(lambda t: (1 if t[1] else 2, t[1])),
    st.tuples(st.just(3), st.integers(0, 255)),
    st.tuples(st.sampled_from([4, 5, 6]), st.integers(-(2**63), 2**63 - 1)),
    st.tuples(st.just(7), st.floats(allow_nan=False)),
    st.tuples(st.just(8), st.binary(max_size=20)),
    st.tuples(st.just(9), st.tuples(st.just(6), st.lists(st.integers(-5, 2**40), max_size=20))),
    st.tuples(st.just(10), st.tuples(st.just(8), st.lists(st.binary(max_size=3), max_size=3))),
    st.tuples(
        st.just(11),
        st.tuples(
            st.just(8), st.just(5), st.lists(st.tuples(st.binary(), st.integers(0, 9)), min_size=1)
        ),  # an empty map carries no types
    ),
)


def _struct(children: st.SearchStrategy[Any]) -> st.SearchStrategy[list[list[Any]]]:
    fields = st.lists(st.tuples(st.integers(1, 40), children), max_size=6)

    def numbered(items: list[tuple[int, tuple[int, Any]]]) -> list[list[Any]]:
        out, fid = [], 0
        for step, (kind, value) in items:
            fid += step
            out.append([fid, kind, value])
        return out

    return fields.map(numbered)


_TREE = st.recursive(_LEAF, lambda inner: _struct(inner).map(lambda f: (STRUCT, f)), max_leaves=30)


@settings(max_examples=200, deadline=None)
@given(_struct(_TREE))
def test_thrift_round_trip(fields: list[list[Any]]) -> None:
    """Any tree of fields (bools, every integer width, doubles, binaries, lists past 15
    elements, sets, maps, nested structs, field ids that jump past 15) reads back as
    written."""
    assert decode(encode(fields)) == fields
