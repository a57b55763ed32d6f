"""Inputs hashed while they are read: report.inputs[].sha256 equals hashing the bytes on
disk afterwards, for every reader, without the second read."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from unittest import mock

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prefdata.config import FilterConfig, ReadOptions
from prefdata.pipeline import filter_pairs
from prefdata.readers import iter_chunks
from prefdata.readers.digest import InputDigest, sha256_files

from .conftest import shared_file


def _rows(n: int) -> list[dict[str, str]]:
    return [
        {"prompt": f"question {i}?", "chosen": f"a good answer {i}", "rejected": f"bad {i}"}
        for i in range(n)
    ]


def _by_hand(path: Path) -> str:
    """The digest as a user would take it: the file, or a folder's files in name order."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()


def _no_second_read(_: Path) -> str:
    raise AssertionError("the input was read a second time to hash it")


def _read_digest(path: Path) -> str | None:
    """The digest the reader took, failing if it fell back to a second read."""
    with mock.patch("prefdata.readers.digest.sha256_files", _no_second_read):
        infos = [info for info, _, _ in iter_chunks([path], ReadOptions(), chunk_rows=100)]
    return infos[-1].sha256


def _jsonl(path: Path, n: int = 1000) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in _rows(n)))
    return path


def test_jsonl(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "pairs.jsonl")
    assert _read_digest(path) == _by_hand(path) == sha256_files(path)


def test_gzipped_jsonl_hashes_the_compressed_bytes(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl.gz"
    path.write_bytes(gzip.compress(_jsonl(tmp_path / "plain.jsonl").read_bytes()))
    assert _read_digest(path) == _by_hand(path)
    assert _read_digest(path) != _by_hand(tmp_path / "plain.jsonl")


def test_truncated_gzip_still_hashes_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(_jsonl(tmp_path / "plain.jsonl").read_bytes())[:-300])
    assert _read_digest(path) == _by_hand(path)


def test_parquet_with_many_row_groups(tmp_path: Path) -> None:
    path = tmp_path / "pairs.parquet"
    pq.write_table(pa.Table.from_pylist(_rows(5000)), path, row_group_size=700)
    assert pq.ParquetFile(path).num_row_groups > 5
    assert _read_digest(path) == _by_hand(path)


def test_folder_of_parquet_with_files_no_reader_opens(tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    (folder / "sub").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(_rows(300)), folder / "b.parquet")
    pq.write_table(pa.Table.from_pylist(_rows(200)), folder / "sub" / "a.parquet")
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / "a_notes.txt").write_text("not read, still hashed")
    (folder / "z.crc").write_bytes(b"\x00\x01")
    assert _read_digest(folder) == _by_hand(folder)


def test_json_array_with_bytes_after_it(tmp_path: Path) -> None:
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps(_rows(400)) + "\n\n   \n")
    assert _read_digest(path) == _by_hand(path)


def test_csv(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    path.write_text("prompt,chosen,rejected\n" + "".join(f"q{i},a{i},b{i}\n" for i in range(900)))
    assert _read_digest(path) == _by_hand(path)


def test_datasets_save_to_disk_folder(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    folder = tmp_path / "hf"
    datasets.Dataset.from_list(_rows(300)).save_to_disk(str(folder))
    assert _read_digest(folder) == _by_hand(folder)


def test_a_seek_falls_back_to_a_second_read_and_says_so(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "pairs.jsonl", 50)
    digest = InputDigest(path)
    with digest.open(path) as f:
        f.read(10)
        f.seek(0)
        f.read()
    assert digest.reread
    assert digest.hexdigest() == _by_hand(path)


def test_a_file_read_out_of_name_order_falls_back(tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    for name in ("a.bin", "b.bin"):
        (folder / name).write_bytes(name.encode() * 1000)
    digest = InputDigest(folder)
    with digest.open(folder / "b.bin") as f:
        f.read()
    with digest.open(folder / "a.bin") as f:  # behind: cannot be hashed in order
        f.read()
    assert digest.reread
    assert digest.hexdigest() == _by_hand(folder)


def test_the_report_holds_the_digest_taken_while_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "pairs.jsonl.gz"
    path.write_bytes(gzip.compress(_jsonl(tmp_path / "plain.jsonl").read_bytes()))
    # no second read: the driver's fallback must not run for a local run
    import prefdata.pipeline

    monkeypatch.setattr(prefdata.pipeline, "sha256_files", _no_second_read)
    monkeypatch.setattr("prefdata.readers.digest.sha256_files", _no_second_read)
    report = filter_pairs([path, path], tmp_path / "out", config=FilterConfig(workers=2))
    assert [i["sha256"] for i in report.inputs] == [_by_hand(path)] * 2
    assert all("sha256_read" not in i for i in report.inputs)


def test_hh_test_set_digest() -> None:
    path = shared_file("hh-rlhf/harmless-base-test.jsonl.gz")
    assert _read_digest(path) == _by_hand(path)


def test_an_input_read_elsewhere_is_hashed_again_and_says_so(tmp_path: Path) -> None:
    """Ray's tasks read inputs on other nodes: the driver hashes them with a second read,
    and report.inputs says which digests cost one."""
    from prefdata.pipeline import _digests
    from prefdata.readers import InputInfo

    path = _jsonl(tmp_path / "pairs.jsonl", 20)
    read_here = InputInfo(str(path), "jsonl", sha256="ab" * 32)
    read_there = InputInfo(str(path), "jsonl")
    here, there = _digests([read_here, read_there])
    assert here["sha256"] == "ab" * 32 and "sha256_read" not in here
    assert there["sha256"] == _by_hand(path) and there["sha256_read"] == "again"
