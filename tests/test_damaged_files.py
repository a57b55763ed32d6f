"""A file damaged partway through (a broken download, a disk error) stops the run with
one line naming the file and what failed, exit 2, on either engine; the previous result
stays as it was. Reading is the only step that may say so: the rows read before the
damage are not published as if they were the file."""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prefdata.config import FilterConfig
from prefdata.errors import InputError
from prefdata.pipeline import filter_pairs

ROWS = 4000
GROUP = 1000  # rows per row group: the damage below is in the third one (index 2)


def _pairs(codec: str = "none") -> bytes:
    """Parquet bytes of ROWS pairs; prompts repeat (13 of them), so pyarrow writes that
    column dictionary-encoded, as it does for any column of few distinct values."""
    table = pa.table(
        {
            "prompt": [f"question {i % 13} about the topic" for i in range(ROWS)],
            "chosen": [
                f"A careful answer, number {i}, that explains it in full." for i in range(ROWS)
            ],
            "rejected": [
                f"No idea, ask someone else about question {i}, sorry." for i in range(ROWS)
            ],
        }
    )
    out = io.BytesIO()
    pq.write_table(table, out, row_group_size=GROUP, compression=codec)
    return out.getvalue()


def _damaged(path: Path, into: str) -> Path:
    """The pairs with 20 bytes of row group 2's prompt column overwritten with 0xFF:
    ``into`` "indices", the last of the data page's dictionary indices (pyarrow:
    ArrowInvalid, a ValueError), or "header", over the page header (pyarrow: OSError
    without an errno)."""
    data = bytearray(_pairs())
    chunk = pq.ParquetFile(io.BytesIO(bytes(data))).metadata.row_group(2).column(0)
    end = chunk.dictionary_page_offset + chunk.total_compressed_size
    at = end - 20 if into == "indices" else chunk.data_page_offset
    data[at : at + 20] = b"\xff" * 20
    path.write_bytes(bytes(data))
    return path


def _read_all(path: Path) -> None:
    pf = pq.ParquetFile(path)
    for i in range(pf.num_row_groups):
        for _ in pf.iter_batches(row_groups=[i]):
            pass


@pytest.mark.parametrize(("into", "raised"), [("indices", pa.ArrowInvalid), ("header", OSError)])
@pytest.mark.parametrize("workers", [1, 2])
def test_a_damaged_row_group_is_one_line_and_keeps_the_previous_result(
    tmp_path: Path, into: str, raised: type[Exception], workers: int
) -> None:
    path = tmp_path / "pairs.parquet"
    path.write_bytes(_pairs())
    out = tmp_path / "out"
    filter_pairs([path], out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    _damaged(path, into)
    with pytest.raises(raised):  # what pyarrow itself raises for this damage
        _read_all(path)
    with pytest.raises(InputError) as caught:
        filter_pairs([path], out, config=FilterConfig(workers=workers))
    said = str(caught.value)
    assert said.startswith(f"cannot read {path} (row group 2): ")
    assert said.endswith("the file looks damaged or cut short: download or write it again")
    assert "\n" not in said and said.isprintable()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed CLI as a user runs it in a script: stdout and stderr are pipes."""
    env = {**os.environ, "COLUMNS": "80", "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "prefdata", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_the_cli_says_a_damaged_file_on_one_line_and_nothing_else_on_success(
    tmp_path: Path,
) -> None:
    # a path longer than the 80 columns rich assumes when stderr is not a terminal
    folder = tmp_path / ("a-folder-with-a-long-name-" * 3)
    folder.mkdir()
    path = folder / "pairs.parquet"
    path.write_bytes(_pairs())
    done = _cli("filter", str(path), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no progress bar (nor the blank line it leaves) in a log
    assert f"wrote {tmp_path / 'out' / 'kept.parquet'}," in done.stdout  # one line, unbroken
    _damaged(path, "header")
    failed = _cli("filter", str(path), "--out", str(tmp_path / "out"))
    assert failed.returncode == 2
    lines = failed.stderr.splitlines()
    assert len(lines) == 1, failed.stderr
    assert lines[0].startswith(f"error: cannot read {path} (row group 2): Couldn't deserialize")
    assert "Traceback" not in failed.stderr


def test_a_damaged_row_group_is_one_line_on_ray_too(ray_local, tmp_path: Path) -> None:
    path = _damaged(tmp_path / "pairs.parquet", "indices")
    with pytest.raises(InputError) as caught:
        filter_pairs([path], tmp_path / "out", engine="ray")
    said = str(caught.value)
    assert said.startswith(f"cannot read {path} (row group 2): Index not in dictionary bounds")
    assert "\n" not in said
    assert not (tmp_path / "out").exists() and list(tmp_path.glob(".out.*")) == []


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    codec=st.sampled_from(["none", "snappy", "zstd"]),
    seed=st.integers(0, 2**32 - 1),
    spans=st.integers(1, 5),
)
def test_random_damage_is_read_or_one_line(tmp_path_factory, codec, seed, spans) -> None:
    """Bytes overwritten anywhere before the footer (whose damage the open already
    says): the file reads, with every row accounted for, or the run stops with one
    printable line. (300 such files by hand, snappy and plain: 257 stopped, 43 read.)"""
    rng = random.Random(seed)
    data = bytearray(_pairs(codec))
    footer = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    for _ in range(spans):
        at = rng.randrange(4, footer - 1)
        for k in range(at, min(at + rng.randint(1, 40), footer)):
            data[k] = rng.randrange(256)
    folder = tmp_path_factory.mktemp("damaged")
    path = folder / "pairs.parquet"
    path.write_bytes(bytes(data))
    try:
        report = filter_pairs([path], folder / "out", config=FilterConfig(workers=1))
    except InputError as exc:
        assert "\n" not in str(exc) and str(exc).isprintable()
        assert str(exc).startswith(f"cannot read {path}")
        return
    assert report.input_rows == ROWS == report.kept_rows + report.dropped_rows
