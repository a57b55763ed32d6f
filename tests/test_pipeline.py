"""The pipeline: row accounting, outputs, atomic publishing and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prefdata import writer
from prefdata.config import FilterConfig
from prefdata.errors import InputError
from prefdata.pipeline import filter_pairs, validate_pairs

GOOD = {
    "prompt": "How do I centre a div?",
    "chosen": "Use a flex container: display: flex; "
    "justify-content: center; align-items: center on the parent element.",
    "rejected": "You can't really, CSS is broken and nobody knows how to do it.",
}


def _write(path: Path, lines: list[bytes | str | dict]) -> Path:
    with open(path, "wb") as f:
        for line in lines:
            if isinstance(line, dict):
                line = json.dumps(line)
            f.write(line if isinstance(line, bytes) else line.encode())
            f.write(b"\n")
    return path


def _outputs(out: Path) -> tuple[pa.Table, pa.Table, dict]:
    return (
        pq.read_table(out / "kept.parquet"),
        pq.read_table(out / "dropped.parquet"),
        json.loads((out / "report.json").read_text()),
    )


def test_every_kind_of_bad_input_is_accounted_for(tmp_path: Path) -> None:
    huge = "x" * 5_000_000
    path = _write(
        tmp_path / "messy.jsonl",
        [
            GOOD,
            b'{"prompt": "truncated", "chosen": "abc',
            {**GOOD, "chosen": None},
            {**GOOD, "chosen": 12},
            {**GOOD, "rejected": ["a", "list"]},
            b'{"prompt": "\xff\xfe bad bytes", "chosen": "x", "rejected": "y"}',
            {**GOOD, "chosen": huge, "rejected": huge[:-1] + "y"},
            {"prompt": "only a prompt"},
            "[1, 2, 3]",
        ],
    )
    report = filter_pairs([path], tmp_path / "out")
    kept, dropped, data = _outputs(tmp_path / "out")
    assert report.input_rows == 9 == data["input_rows"]
    assert kept.num_rows + dropped.num_rows == 9
    assert kept.num_rows == report.kept_rows == 1
    by_row = {r["source_row"]: r["reasons"] for r in dropped.to_pylist()}
    assert by_row == {
        1: ["malformed_record"],
        2: ["missing_field"],
        3: ["wrong_type"],
        4: ["wrong_type"],
        5: ["malformed_record"],
        6: ["response_too_long"],
        7: ["missing_field"],
        8: ["malformed_record"],
    }
    raw = {r["source_row"]: r["raw"] for r in dropped.to_pylist()}
    assert (
        raw[1] == '{"prompt": "truncated", "chosen": "abc'
    )  # nothing lost, not even the broken line
    assert "12" in raw[3]


def test_report_contents(tmp_path: Path, sample_data: Path) -> None:
    report = filter_pairs([sample_data / "bad_pairs.jsonl"], tmp_path)
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["input_rows"] == data["kept_rows"] + data["dropped_rows"]
    assert data["reasons"] == report.reasons and data["reasons"]["malformed_record"] == 3
    assert len(data["inputs"][0]["sha256"]) == 64
    assert data["config"]["max_similarity"] == 0.9
    assert data["prefdata_version"]
    assert data["timings"]["seconds"] > 0
    hist = data["stats"]["histograms"]["chosen_chars"]
    assert sum(hist["counts"]) == data["stats"]["pairs_checked"]


def test_empty_and_missing_inputs(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="no records"):
        filter_pairs([empty], tmp_path / "out")
    assert not (tmp_path / "out" / "report.json").exists()
    with pytest.raises(InputError, match="no such file"):
        validate_pairs([tmp_path / "missing.jsonl"])


def test_all_lines_malformed_still_adds_up(tmp_path: Path) -> None:
    path = _write(tmp_path / "junk.jsonl", ["not json", "{also not", "[]"])
    report = filter_pairs([path], tmp_path / "out")
    kept, dropped, _ = _outputs(tmp_path / "out")
    assert (report.input_rows, kept.num_rows, dropped.num_rows) == (3, 0, 3)
    assert kept.schema.names[:4] == ["id", "prompt", "chosen", "rejected"]


def test_carried_columns_survive_type_surprises(tmp_path: Path) -> None:
    # 'tag' is null throughout the first chunk and text later; 'score' mixes types in a chunk
    lines = [{**GOOD, "tag": None, "score": 1} for _ in range(3)]
    lines += [{**GOOD, "tag": "late", "score": "high", "new": [1, 2]} for _ in range(3)]
    path = _write(tmp_path / "t.jsonl", lines)
    # the rows repeat one pair: duplicate_pair is off so that all of them reach kept
    config = FilterConfig(batch_size=3, workers=1, disable=["duplicate_pair"])
    filter_pairs([path], tmp_path / "out", config=config)
    kept = pq.read_table(tmp_path / "out" / "kept.parquet")
    assert kept.num_rows == 6
    assert kept.column("tag").to_pylist() == [None] * 3 + ["late"] * 3
    assert kept.column("new").to_pylist() == [None] * 3 + [[1, 2]] * 3
    assert [str(v) for v in kept.column("score").to_pylist()] == ["1"] * 3 + ["high"] * 3


def test_inputs_of_different_shapes_are_refused(tmp_path: Path) -> None:
    text = _write(tmp_path / "t.jsonl", [GOOD])
    conv = _write(
        tmp_path / "c.jsonl",
        [
            {
                "prompt": [{"role": "user", "content": "q"}],
                "chosen": [{"role": "assistant", "content": "a"}],
                "rejected": [{"role": "assistant", "content": "b"}],
            }
        ],
    )
    with pytest.raises(InputError, match="separate runs"):
        filter_pairs([text, conv], tmp_path / "out")


def test_a_crash_midway_publishes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "d.jsonl", [GOOD] * 10)
    filter_pairs([path], tmp_path / "out")  # a complete earlier run
    calls = {"n": 0}
    real = writer.ParquetSink.write

    def failing(self, batch):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] > 2:
            raise KeyboardInterrupt
        return real(self, batch)

    monkeypatch.setattr(writer.ParquetSink, "write", failing)
    with pytest.raises(KeyboardInterrupt):
        filter_pairs([path], tmp_path / "out", config=FilterConfig(batch_size=2, workers=1))
    leftovers = sorted(p.name for p in (tmp_path / "out").iterdir())
    # the earlier complete outputs stand; no staging folder is left behind
    assert leftovers == [
        "README.md",
        "dropped.parquet",
        "kept.parquet",
        "report.html",
        "report.json",
    ]
    assert json.loads((tmp_path / "out" / "report.json").read_text())["input_rows"] == 10
    # staging folders and the lock live beside OUT now: none is left there either
    assert list(tmp_path.glob(".out.*")) == []


def test_rerun_gives_the_same_result(tmp_path: Path, sample_data: Path) -> None:
    first = filter_pairs([sample_data / "bad_pairs.jsonl"], tmp_path / "a")
    second = filter_pairs([sample_data / "bad_pairs.jsonl"], tmp_path / "b")
    assert first.reasons == second.reasons
    for name in ("kept.parquet", "dropped.parquet"):
        assert pq.read_table(tmp_path / "a" / name).equals(pq.read_table(tmp_path / "b" / name))


@pytest.mark.slow
def test_worker_threads_give_the_same_output(tmp_path: Path) -> None:
    lines = []
    for i in range(3000):
        rejected = GOOD["chosen"] if i % 7 == 0 else f"{GOOD['rejected']} ({i})"
        lines.append({**GOOD, "id": str(i), "rejected": rejected} if i % 11 else "{bad")
    path = _write(tmp_path / "w.jsonl", lines)
    one = filter_pairs([path], tmp_path / "one", config=FilterConfig(workers=1, batch_size=500))
    two = filter_pairs([path], tmp_path / "two", config=FilterConfig(workers=2, batch_size=500))
    assert one.reasons == two.reasons and two.timings["workers"] == 2
    for name in ("kept.parquet", "dropped.parquet"):
        assert pq.read_table(tmp_path / "one" / name).equals(pq.read_table(tmp_path / "two" / name))


def test_validate_writes_nothing(tmp_path: Path, sample_data: Path) -> None:
    report = validate_pairs([sample_data / "bad_pairs.jsonl"])
    assert report.input_rows == 14
    assert list(tmp_path.iterdir()) == []


def test_an_input_given_twice_is_listed_twice(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.jsonl", [{**GOOD, "prompt": f"Question {i}?"} for i in range(6)])
    report = filter_pairs([path, path], tmp_path / "out")
    # every row read is counted under the input it came from, as the Ray engine lists them
    assert [(i["path"], i["rows"]) for i in report.inputs] == [(str(path), 6), (str(path), 6)]
    assert sum(i["rows"] for i in report.inputs) == report.input_rows == 12


def _text_encodings(path: Path, column: str) -> set[str]:
    meta = pq.ParquetFile(path).metadata
    return {
        encoding
        for g in range(meta.num_row_groups)
        for c in range(meta.num_columns)
        if meta.row_group(g).column(c).path_in_schema == column
        for encoding in meta.row_group(g).column(c).encodings
    }


def test_dropped_text_is_dictionary_encoded_kept_text_plain(tmp_path: Path) -> None:
    # dropped rows repeat one another (duplicates, identical pairs): each distinct text
    # is stored once per row group; kept pairs are distinct, their text plain
    long = "a long enough answer to pass the length check, " * 3
    rows = [{"prompt": f"q{i}", "chosen": long + str(i), "rejected": "no " * 20} for i in range(50)]
    path = _write(tmp_path / "in.jsonl", rows * 4)
    report = filter_pairs([path], tmp_path / "out")
    assert report.kept_rows == 50 and report.dropped_rows == 150
    assert "RLE_DICTIONARY" in _text_encodings(tmp_path / "out" / "dropped.parquet", "chosen")
    assert "RLE_DICTIONARY" not in _text_encodings(tmp_path / "out" / "kept.parquet", "chosen")
    dropped = pq.read_table(tmp_path / "out" / "dropped.parquet")
    assert dropped.column("chosen").to_pylist() == [r["chosen"] for r in rows] * 3


def test_a_run_puts_the_memory_pool_back(tmp_path: Path, sample_data: Path) -> None:
    """A run allocates Arrow's buffers from glibc (prefdata.memory) and, failed or not,
    leaves the caller's default pool as it found it."""
    before = pa.default_memory_pool().backend_name
    filter_pairs([sample_data / "pairs.jsonl"], tmp_path / "out")
    assert pa.default_memory_pool().backend_name == before

    def stop(*_: object) -> None:
        raise RuntimeError("stopped mid-run")

    with pytest.raises(RuntimeError, match="stopped mid-run"):
        filter_pairs([sample_data / "pairs.jsonl"], tmp_path / "out2", progress=stop)
    assert pa.default_memory_pool().backend_name == before
