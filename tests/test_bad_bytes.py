"""Bad bytes and shapes: every container drops what it cannot read, with a reason and a
detail, never a traceback, and never writes a file that pandas or ``datasets`` refuses."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from prefdata.cli.main import app
from prefdata.config import FilterConfig
from prefdata.errors import InputError
from prefdata.pipeline import filter_pairs
from prefdata.readers import compressed, json_array, read_pairs, sources
from prefdata.readers.json_array import ArraySplitter
from prefdata.readers.sources import read_json_array, read_jsonl

A = "Paris is the capital of France, and it has been for a very long time now."
B = "I think that it is Lyon, but I am really not sure about that one at all."


def _row(i: int, prompt: bytes = b"", chosen: bytes = b"") -> bytes:
    """One JSON object with raw bytes spliced into its strings (possibly invalid UTF-8)."""
    return (
        b'{"prompt": "question '
        + str(i).encode()
        + prompt
        + b'", "chosen": "'
        + A.encode()
        + chosen
        + b'", "rejected": "'
        + B.encode()
        + str(i).encode()
        + b'"}'
    )


def _load_outputs(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    import datasets

    kept = pd.read_parquet(out / "kept.parquet")
    dropped = pd.read_parquet(out / "dropped.parquet")
    for name, frame in (("kept.parquet", kept), ("dropped.parquet", dropped)):
        if len(frame):  # datasets 5 refuses any empty split ("corresponds to no data")
            loaded = datasets.Dataset.from_parquet(str(out / name))
            assert loaded.num_rows == len(frame)
        pq.read_table(out / name).validate(full=True)  # includes every string's UTF-8
    return kept, dropped


def _write_container(path: Path, rows: list[bytes]) -> None:
    """``rows`` (JSON objects as bytes) in the container the suffix names."""
    if path.suffix == ".json":
        path.write_bytes(b"[\n" + b",\n".join(rows) + b"\n]")
    elif path.name.endswith(".jsonl.gz"):
        path.write_bytes(gzip.compress(b"\n".join(rows) + b"\n"))
    elif path.suffix == ".jsonl":
        path.write_bytes(b"\n".join(rows) + b"\n")
    else:  # parquet / csv: columns of raw bytes, so invalid UTF-8 survives into the file
        columns: dict[str, list[bytes]] = {"prompt": [], "chosen": [], "rejected": []}
        for raw in rows:
            record = json.loads(raw.decode("utf-8", "surrogateescape"), strict=False)
            for key in columns:
                columns[key].append(record[key].encode("utf-8", "surrogateescape"))
        table = pa.table(
            {k: pa.array(v, pa.binary()).view(pa.string()) for k, v in columns.items()}
        )
        if path.suffix == ".parquet":
            pq.write_table(table, path)
        elif path.suffix == ".hf":  # a datasets save_to_disk folder (Arrow stream files)
            path.mkdir()
            arrow = str(path / "data-00000-of-00001.arrow")
            with pa.OSFile(arrow, "wb") as sink, pa.ipc.new_stream(sink, table.schema) as out:
                out.write_table(table)
            state = {"_data_files": [{"filename": "data-00000-of-00001.arrow"}]}
            (path / "state.json").write_text(json.dumps(state))
        else:
            lines = [b"prompt,chosen,rejected"]
            lines += [
                b",".join(b'"' + c[i] + b'"' for c in columns.values()) for i in range(len(rows))
            ]
            path.write_bytes(b"\n".join(lines) + b"\n")


CONTAINERS = ["d.jsonl", "d.jsonl.gz", "d.json", "d.csv", "d.parquet", "d.hf"]


@pytest.mark.parametrize("name", CONTAINERS)
def test_invalid_utf8_in_prompt_or_response_is_malformed(tmp_path: Path, name: str) -> None:
    rows = [_row(0), _row(1, prompt=b" caf\xe9"), _row(2), _row(3, chosen=b" \xff\xfe"), _row(4)]
    path = tmp_path / name
    _write_container(path, rows)
    report = filter_pairs([path], tmp_path / "out", config=FilterConfig(workers=1))
    kept, dropped = _load_outputs(tmp_path / "out")
    assert report.input_rows == 5 and len(kept) == 3
    assert sorted(dropped["source_row"]) == [1, 3]
    assert all(list(r) == ["malformed_record"] for r in dropped["reasons"])
    assert all(d for d in dropped["detail"])  # says why (which column / what the parser said)


def test_invalid_utf8_in_large_string_columns_keeps_the_raw_text(tmp_path: Path) -> None:
    # large_string is what polars (and datasets' large_string) write; the dropped row's
    # raw text must survive as it does for plain string columns
    def column(values: list[bytes]) -> pa.Array:
        return pa.array(values, pa.large_binary()).view(pa.large_string())

    path = tmp_path / "large.parquet"
    table = pa.table(
        {
            "prompt": column([b"Hi", b"Hey"]),
            "chosen": column([b"Hello th\xe9re", b"Hello, a longer answer"]),
            "rejected": column([b"Go", b"Bye now, another answer"]),
        }
    )
    pq.write_table(table, path)
    filter_pairs([path], tmp_path / "out", config=FilterConfig(workers=1))
    _, dropped = _load_outputs(tmp_path / "out")
    bad = dropped[dropped["source_row"] == 0].iloc[0]
    assert list(bad["reasons"]) == ["malformed_record"]
    assert json.loads(bad["raw"]) == {"prompt": "Hi", "chosen": "Hello th\\xe9re", "rejected": "Go"}


def test_truncated_gzip_counts_rows_read_and_names_the_file(tmp_path: Path) -> None:
    rows = b"".join(_row(i) + b"\n" for i in range(3000))
    data = gzip.compress(rows)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["filter", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    [warning] = [w for w in report["warnings"] if "truncated" in w]
    assert "cut.jsonl.gz" in warning
    read = report["input_rows"]
    assert 0 < read < 3000 and f"after {read - 1:,} rows" in warning  # + the cut-off line
    kept, dropped = _load_outputs(out)
    assert len(kept) + len(dropped) == read
    assert list(dropped["reasons"].iloc[-1]) == ["malformed_record"]  # the cut-off line


@pytest.mark.parametrize("name", ["cut.json.gz", "cut.gz"])
def test_small_truncated_gzip_without_a_json_lines_suffix(tmp_path: Path, name: str) -> None:
    # the container is sniffed from the first bytes: fewer than that survive the cut
    data = gzip.compress(b"".join(_row(i) + b"\n" for i in range(20)))
    path = tmp_path / name
    path.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["filter", str(path), "-o", str(out)])
    # 3: nothing kept (the one row read is the cut-off line); 1 was "Aborted." on EOFError
    assert result.exit_code == 3 and "Aborted" not in result.output, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["input_rows"] > 0 and any("truncated" in w for w in report["warnings"])


def test_corrupt_gzip_is_one_line(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(b"".join(_row(i) + b"\n" for i in range(3000))))
    data[200:240] = b"x" * 40
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(bytes(data))
    result = CliRunner().invoke(app, ["filter", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "bad.jsonl.gz" in result.output and "corrupt" in result.output
    assert "Traceback" not in result.output


def test_symlink_loop_has_its_own_message(tmp_path: Path) -> None:
    os.symlink(tmp_path / "b", tmp_path / "a")
    os.symlink(tmp_path / "a", tmp_path / "b")
    result = CliRunner().invoke(app, ["filter", str(tmp_path / "a"), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "symlink loop" in result.output


def test_json_array_bad_elements_are_counted_drops(tmp_path: Path) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    rows = [
        _row(0),
        b'{"prompt": "lone \\ud800", "chosen": "' + A.encode() + b'", "rejected": "x"}',
        _row(2),
        b'{"prompt": "bad \\q escape", "chosen": "' + A.encode() + b'", "rejected": "x"}',
        b'{"prompt": "deep", "chosen": ' + deep + b', "rejected": "x"}',
        _row(5),
    ]
    path = tmp_path / "arr.json"
    _write_container(path, rows)
    report = filter_pairs([path], tmp_path / "out", config=FilterConfig(workers=1))
    kept, dropped = _load_outputs(tmp_path / "out")
    assert report.input_rows == 6 and len(kept) == 3
    assert sorted(dropped["source_row"]) == [1, 3, 4]
    assert all(list(r) == ["malformed_record"] for r in dropped["reasons"])


def test_json_array_raw_line_break_inside_a_string_is_malformed(tmp_path: Path) -> None:
    # invalid JSON (a raw control character in a string) must not become a space
    path = tmp_path / "nl.json"
    path.write_bytes(b"[\n  " + _row(0) + b",\n  " + _row(1, prompt=b"a\nb") + b"\n]")
    items = list(read_pairs([path]))
    good = [g for i in items for g in i.normalized.good.to_pylist()]
    bad = [b for i in items if i.normalized.bad is not None for b in i.normalized.bad.to_pylist()]
    assert [g["source_row"] for g in good] == [0]
    assert [(b["source_row"], b["reasons"]) for b in bad] == [(1, ["malformed_record"])]


def test_json_array_streams_in_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_array, "BUFFER_BYTES", 64)
    monkeypatch.setattr(compressed, "READ_BYTES", 64)
    records = [
        {"prompt": f'p{i} \\ "q" [x] {{y}}', "chosen": "c" * i, "rejected": "r"} for i in range(50)
    ]
    path = tmp_path / "a.json"
    path.write_text(json.dumps(records, indent=2))
    chunks = list(read_json_array(path, 7))
    assert max(len(c.text or b"") for c in chunks) < 400  # never the whole file at once
    parsed = [r for c in chunks for r in c.parsed()]
    assert parsed == records
    assert [r for c in chunks for r in c.row_numbers()] == list(range(50))


def test_unclosed_json_array_counts_what_it_read(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_bytes(b"[" + b",".join(_row(i) for i in range(5)) + b', {"prompt": "cut')
    report = filter_pairs([path], tmp_path / "out", config=FilterConfig(workers=1))
    assert report.input_rows == 6 and report.reasons["malformed_record"] == 1
    assert any("ends before its JSON array closes" in w for w in report.warnings)


def test_long_line_spanning_many_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "BLOCK_BYTES", 1024)
    monkeypatch.setattr(compressed, "READ_BYTES", 1024)
    long_chosen = "word " * 20_000  # 100 kB: about a hundred blocks
    path = tmp_path / "long.jsonl"
    lines = [
        {"prompt": "p", "chosen": long_chosen, "rejected": "r"},
        {"prompt": "q", "chosen": "c", "rejected": "r"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    parsed = [r for c in read_jsonl(path, 100) for r in c.parsed()]
    assert parsed == lines


def test_json_object_file_still_says_what_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "obj.json"
    path.write_text(json.dumps({"data": [{"prompt": "p", "chosen": "c", "rejected": "r"}]}))
    with pytest.raises(InputError, match="may hold the records"):
        list(read_json_array(path, 10))


# ---- properties: arbitrary bytes through every container ----

TEXT = st.binary(max_size=30).map(
    lambda b: b.replace(b'"', b"").replace(b"\\", b"").replace(b"\n", b"")
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(CONTAINERS),
    spliced=st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=12),
)
def test_every_row_accounted_and_outputs_readable(tmp_path_factory, name, spliced) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("bytes")
    path = folder / name
    rows = [_row(i, prompt=p, chosen=c) for i, (p, c) in enumerate(spliced)]
    if name.endswith(".csv"):  # CSV cells cannot hold raw control bytes reliably
        rows = [r.replace(b"\r", b"") for r in rows]
    _write_container(path, rows)
    report = filter_pairs([path], folder / "out", config=FilterConfig(workers=1))
    kept, dropped = _load_outputs(folder / "out")
    assert report.input_rows == len(rows) == len(kept) + len(dropped)
    assert all(len(r) for r in dropped["reasons"])


@settings(max_examples=60, deadline=None)
@given(
    records=st.lists(
        st.dictionaries(
            st.text(max_size=5),
            st.one_of(
                st.text(max_size=20), st.integers(), st.lists(st.text(max_size=3), max_size=3)
            ),
            max_size=4,
        ),
        max_size=8,
    ),
    cuts=st.lists(st.integers(1, 40), max_size=10),
    indent=st.sampled_from([None, 1]),
)
def test_array_splitter_matches_json(records, cuts, indent) -> None:  # type: ignore[no-untyped-def]
    data = json.dumps(records, indent=indent).encode()
    splitter = ArraySplitter()
    elements: list[bytes] = []
    start = 0
    for size in cuts:
        elements += splitter.feed(data[start : start + size])
        start += size
    elements += splitter.feed(data[start:])
    assert splitter.closed and splitter.finish() is None
    assert [json.loads(e) for e in elements] == records


def test_prompt_only_readers_share_the_containers(tmp_path: Path) -> None:
    from prefdata.dataset.eval_sets import _prompts_only
    from prefdata.iterate.prompts import load_prompts

    gz = tmp_path / "p.jsonl.gz"
    gz.write_bytes(gzip.compress(b'{"prompt": "What is 2+2?", "answer": "4"}\n'))
    prompts = load_prompts(gz)
    assert prompts.prompts == ["What is 2+2?"] and prompts.columns == {"answer": ["4"]}
    arr = tmp_path / "e.json"
    arr.write_text(
        json.dumps(
            [
                {"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi?"}]}]},
                {"question": "Why?"},
            ]
        )
    )
    assert _prompts_only(arr) == ["Hi?", "Why?"]


def test_multi_member_gzip_reads_every_member(tmp_path: Path) -> None:
    rows = b"".join(_row(i) + b"\n" for i in range(300))
    cut = rows.index(b"\n", len(rows) // 2) + 1
    path = tmp_path / "multi.jsonl.gz"
    path.write_bytes(gzip.compress(rows[:cut]) + gzip.compress(rows[cut:]))
    assert sum(len(c) for c in read_jsonl(path, 100)) == 300


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(["a.json", "a.jsonl", "a.jsonl.gz"]),
    junk=st.lists(st.binary(max_size=30), max_size=6),
)
def test_arbitrary_bytes_never_crash(tmp_path_factory, name, junk) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("junk")
    path = folder / name
    first = _row(0)
    body = b"[" + b",".join([first, *junk]) if name == "a.json" else b"\n".join([first, *junk])
    path.write_bytes(gzip.compress(body) if name.endswith(".gz") else body)
    try:
        report = filter_pairs([path], folder / "out", config=FilterConfig(workers=1))
    except InputError as exc:  # a one-line message is allowed, a traceback is not
        assert "\n" not in str(exc)
        return
    kept, dropped = _load_outputs(folder / "out")
    assert report.input_rows == len(kept) + len(dropped) >= 1


def test_a_disk_error_mid_read_is_one_line_and_keeps_the_previous_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    path = tmp_path / "pairs.jsonl"
    path.write_bytes(b"".join(_row(i) + b"\n" for i in range(50)))
    out = tmp_path / "out"
    assert CliRunner().invoke(app, ["filter", str(path), "-o", str(out)]).exit_code == 0
    before = (out / "report.json").read_bytes()
    real = sources.READERS["jsonl"]

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        yield next(iter(real(*args, **kwargs)))  # the first chunk reads, then the disk fails
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setitem(sources.READERS, "jsonl", failing)
    result = CliRunner().invoke(app, ["filter", str(path), "-o", str(out)])
    assert result.exit_code == 2, result.output
    said = "".join(result.output.split("\n")).strip()  # one message, wrapped to the terminal
    assert "Traceback" not in said and said.startswith("error: cannot read")
    assert said.endswith(f"{path}: Input/output error")
    assert (out / "report.json").read_bytes() == before
