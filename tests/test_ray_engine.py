"""The Ray engine gives the local engine's rows, reasons and figures, and publishes atomically."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from prefdata.cli.main import app
from prefdata.config import FilterConfig, ReadOptions
from prefdata.engines import ray_engine, work_units
from prefdata.engines.ray_engine import run_ray
from prefdata.errors import ConfigError, MissingExtraError
from prefdata.pipeline import filter_pairs, validate_pairs

# the Ray engine runs the per-pair checks only (the dataset-level pass is local-only)
PER_PAIR = ["duplicate_pair", "contradictory_pair"]

GOOD = {
    "prompt": "How do I centre a div?",
    "chosen": "Use a flex container: display: flex; justify-content: center; align-items: "
    "center on the parent element.",
    "rejected": "You can't really, CSS is broken and nobody knows how to do it.",
}


def _lines(n: int) -> list[str]:
    """Good pairs, near-duplicates, broken lines and carried columns that change type."""
    lines = []
    for i in range(n):
        if i % 97 == 5:
            lines.append('{"prompt": "cut off", "chosen": "abc')
            continue
        rejected = GOOD["chosen"] if i % 7 == 0 else f"{GOOD['rejected']} ({i})"
        record = {**GOOD, "rejected": rejected, "n": i}
        if i % 13 == 0:
            record["chosen"] = "too short"
        if i > n // 2:  # appears only in later units: parts must be widened to one schema
            record["tag"] = "late" if i % 2 else None
        lines.append(json.dumps(record))
    return lines


def _inputs(folder: Path) -> dict[str, Path]:
    lines = _lines(3000)
    plain = folder / "pairs.jsonl"
    plain.write_text("\n".join(lines) + "\n", encoding="utf-8")
    zipped = folder / "pairs.jsonl.gz"
    with gzip.open(zipped, "wt", encoding="utf-8") as f:
        f.write("\n".join(lines[:700]) + "\n")
    rows = [json.loads(line) for line in lines if not line.startswith('{"prompt": "cut')]
    table = pa.Table.from_pylist(
        [{k: r[k] for k in ("prompt", "chosen", "rejected", "n")} for r in rows]
    )
    pq_dir = folder / "pq"
    pq_dir.mkdir()
    pq.write_table(table.slice(0, 1500), pq_dir / "a.parquet", row_group_size=400)
    pq.write_table(table.slice(1500), pq_dir / "b.parquet", row_group_size=700)
    return {"jsonl": plain, "gz": zipped, "parquet": pq_dir}


def _same_outputs(local: Path, ray: Path) -> None:
    for name in ("kept", "dropped"):
        expected = pq.read_table(local / f"{name}.parquet")
        got = pq.read_table(ray / name)  # the parts, in name order
        assert got.schema.equals(expected.schema), name
        assert got.equals(expected), name
    a, b = (json.loads((d / "report.json").read_text()) for d in (local, ray))
    for key in ("input_rows", "kept_rows", "dropped_rows", "reasons", "stats", "warnings"):
        assert a[key] == b[key], key
    assert [i["rows"] for i in a["inputs"]] == [i["rows"] for i in b["inputs"]]
    assert b["engine"] == "ray" and b["input_rows"] == b["kept_rows"] + b["dropped_rows"]


@pytest.mark.slow
def test_ray_engine_matches_the_local_engine(
    ray_local, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(work_units, "UNIT_BYTES", 64 << 10)  # several units per input
    inputs = _inputs(tmp_path)
    config = FilterConfig(disable=PER_PAIR, batch_size=256, workers=1)
    for kind, path in inputs.items():
        local, ray = tmp_path / f"local-{kind}", tmp_path / f"ray-{kind}"
        filter_pairs([path], local, config=config)
        if kind == "jsonl":  # once through the command line
            settings = tmp_path / "settings.yaml"
            settings.write_text(
                "batch_size: 256\nworkers: 1\ndisable: [duplicate_pair, contradictory_pair]\n"
            )
            args = ["filter", str(path), "-o", str(ray), "-c", str(settings), "--engine", "ray"]
            result = CliRunner().invoke(app, [*args, "-q"])
            assert result.exit_code == 0, result.output
        else:
            filter_pairs([path], ray, config=config, engine="ray")
        _same_outputs(local, ray)
    parts = sorted(p.name for p in (tmp_path / "ray-jsonl" / "kept").iterdir())
    assert len(parts) > 3 and parts[0] == "part-000000.parquet"
    checked = validate_pairs([inputs["jsonl"]], config=config, engine="ray")  # writes nothing
    assert (
        checked.reasons
        == json.loads((tmp_path / "local-jsonl" / "report.json").read_text())["reasons"]
    )


@pytest.mark.slow
def test_a_crash_midway_publishes_nothing_and_a_rerun_matches(
    ray_local, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(work_units, "UNIT_BYTES", 64 << 10)
    path = _inputs(tmp_path)["jsonl"]
    out = tmp_path / "out"
    config = FilterConfig(disable=PER_PAIR, batch_size=256)
    real = ray_engine._summaries

    def dies_after_two(*args, **kwargs):  # type: ignore[no-untyped-def]
        for i, summary in enumerate(real(*args, **kwargs)):
            if i == 1:  # parts of finished units are already on disk by now
                raise KeyboardInterrupt
            yield summary

    monkeypatch.setattr(ray_engine, "_summaries", dies_after_two)
    with pytest.raises(KeyboardInterrupt):
        filter_pairs([path], out, config=config, engine="ray")
    assert list(out.iterdir()) == []  # no report.json, no parts, no staging folder
    monkeypatch.setattr(ray_engine, "_summaries", real)
    filter_pairs([path], out, config=config, engine="ray")
    filter_pairs([path], tmp_path / "local", config=config)
    _same_outputs(tmp_path / "local", out)
    # a crash in a second run leaves the first run's complete outputs as they were
    before = pq.read_table(out / "kept")
    monkeypatch.setattr(ray_engine, "_summaries", dies_after_two)
    with pytest.raises(KeyboardInterrupt):
        filter_pairs([path], out, config=config, engine="ray")
    assert sorted(p.name for p in out.iterdir()) == ["dropped", "kept", "report.json"]
    assert pq.read_table(out / "kept").equals(before)


def test_missing_ray_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(GOOD) + "\n")
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails
    with pytest.raises(MissingExtraError, match=r"prefdata\[ray\]"):
        filter_pairs([path], tmp_path / "out", config=FilterConfig(disable=PER_PAIR), engine="ray")
    assert not (tmp_path / "out").exists()


def test_ray_refuses_the_dataset_level_checks(tmp_path: Path) -> None:
    # they are not distributed yet: refusing beats silently keeping duplicates
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(GOOD) + "\n")
    with pytest.raises(ConfigError, match="--engine ray runs the per-pair checks only"):
        filter_pairs([path], tmp_path / "out", engine="ray")


@pytest.mark.slow
def test_duplicates_are_found_across_parts_by_a_shuffle(
    ray_local, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(work_units, "UNIT_BYTES", 64 << 10)
    lines = _lines(3000)
    path = tmp_path / "dups.jsonl"
    # every 10th line again at the end: its copies sit in other parts than the originals
    path.write_text("\n".join(lines + lines[::10]) + "\n", encoding="utf-8")
    config = FilterConfig(disable=PER_PAIR, batch_size=256)
    local = filter_pairs([path], tmp_path / "local", config=config)
    report = run_ray(
        [path], tmp_path / "ray", config=config, read_options=ReadOptions(), duplicates=True
    )
    kept = pq.read_table(tmp_path / "local" / "kept.parquet").to_pylist()
    seen: set[tuple[str, str, str]] = set()
    expected_kept = []
    for row in kept:
        key = (row["prompt"], row["chosen"], row["rejected"])
        if key not in seen:
            seen.add(key)
            expected_kept.append(row)
    got_kept = pq.read_table(tmp_path / "ray" / "kept").to_pylist()
    assert got_kept == expected_kept
    moved = len(kept) - len(expected_kept)
    assert moved > 100 and report.reasons["duplicate_pair"] == moved
    assert report.kept_rows == local.kept_rows - moved
    assert report.input_rows == report.kept_rows + report.dropped_rows == 3300
    dropped = pq.read_table(tmp_path / "ray" / "dropped").to_pylist()
    dups = [r for r in dropped if r["reasons"] == ["duplicate_pair"]]
    assert len(dups) == moved and all(r["source_row"] >= 3000 for r in dups)


KILLED_RUN = """
import sys
from prefdata.config import FilterConfig
from prefdata.engines import work_units
from prefdata.pipeline import filter_pairs

work_units.UNIT_BYTES = 16 << 10  # many small tasks, one at a time: a long run to kill
path, out, address = sys.argv[1:]
filter_pairs([path], out, config=FilterConfig(disable=["duplicate_pair", "contradictory_pair"], batch_size=64, workers=1), engine="ray",
             ray_address=address)
"""


@pytest.mark.slow
def test_a_driver_killed_with_sigkill_leaves_nothing_that_looks_complete(
    ray_local, tmp_path: Path
) -> None:
    path = _inputs(tmp_path)["jsonl"]
    out = tmp_path / "out"
    address = ray_local.get_runtime_context().gcs_address
    repo = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, str(path), str(out), address],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not list(out.glob(".prefdata-tmp-*/kept/part-*.parquet")):
        assert proc.poll() is None and time.monotonic() < deadline, "the run never got going"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "report.json").exists()
    # only the dead run's hidden staging folder, with its partial parts
    assert [p.name.startswith(".prefdata-tmp-") for p in out.iterdir()] == [True]
    config = FilterConfig(disable=PER_PAIR, batch_size=64)
    filter_pairs([path], out, config=config, engine="ray")  # the rerun clears the dead staging
    assert sorted(p.name for p in out.iterdir()) == ["dropped", "kept", "report.json"]
    filter_pairs([path], tmp_path / "local", config=config)
    _same_outputs(tmp_path / "local", out)
