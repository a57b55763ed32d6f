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
from prefdata.config import FilterConfig
from prefdata.engines import ray_engine, work_units
from prefdata.errors import ConfigError, MissingExtraError
from prefdata.pipeline import filter_pairs, validate_pairs

# the per-pair checks alone: the Ray engine without its shuffle
PER_PAIR = ["duplicate_pair", "contradictory_pair"]

RAY_RESULT = ["README.md", "dropped", "kept", "report.html", "report.json"]
GOOD = {
    "prompt": "How do I centre a div?",
    "chosen": "Use a flex container: display: flex; justify-content: center; align-items: "
    "center on the parent element.",
    "rejected": "You can't really, CSS is broken and nobody knows how to do it.",
}


def _records(n: int) -> list[dict | str]:
    """Good pairs, near-duplicates, broken lines (as text) and carried columns that change
    type. Prompts repeat every 40 rows, so the shuffle has many prompts in many buckets."""
    records: list[dict | str] = []
    for i in range(n):
        if i % 97 == 5:
            records.append('{"prompt": "cut off", "chosen": "abc')
            continue
        rejected = GOOD["chosen"] if i % 7 == 0 else f"{GOOD['rejected']} ({i})"
        record = {**GOOD, "prompt": f"{GOOD['prompt']} #{i % 40}", "rejected": rejected, "n": i}
        if i % 13 == 0:
            record["chosen"] = "too short"
        if i > n // 2:  # appears only in later units: parts must be widened to one schema
            record["tag"] = "late" if i % 2 else None
        records.append(record)
    return records


def _repeated(records: list[dict | str]) -> list[dict | str]:
    """``records`` followed by repeats that the dataset-level checks must find in other
    parts: copies (some only whitespace apart), and copies with chosen and rejected
    swapped. Identical pairs (every 7th) are duplicates of each other already; copies
    of too-short pairs are dropped by a per-pair check and also repeat."""
    extra: list[dict | str] = []
    for k, record in enumerate(records[::10]):
        if isinstance(record, dict) and k % 4 == 1:
            record = {**record, "chosen": record["chosen"].replace(" ", "  \n ")}
        extra.append(record)
    for record in records[3::50]:
        if isinstance(record, dict):
            extra.append({**record, "chosen": record["rejected"], "rejected": record["chosen"]})
    return records + extra


def _text(records: list[dict | str]) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def _inputs(folder: Path) -> dict[str, Path]:
    records = _repeated(_records(3000))
    plain = folder / "pairs.jsonl"
    plain.write_text(_text(records), encoding="utf-8")
    zipped = folder / "pairs.jsonl.gz"
    with gzip.open(zipped, "wt", encoding="utf-8") as f:  # repeats pairs.jsonl's first rows
        f.write(_text(records[:500] + records[::-37]))
    rows = [r for r in records if isinstance(r, dict)][::-1]  # reversed: later copies first
    table = pa.Table.from_pylist(
        [{k: r[k] for k in ("prompt", "chosen", "rejected", "n")} for r in rows[:2000]]
    )
    parquet = folder / "pairs.parquet"
    pq.write_table(table, parquet, row_group_size=300)
    return {"jsonl": plain, "gz": zipped, "parquet": parquet}


def _same_outputs(local: Path, ray: Path) -> dict:
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
    return b


@pytest.mark.slow
def test_ray_engine_matches_the_local_engine(
    ray_local, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Default settings: the dataset-level checks run on Ray, across parts and inputs."""
    monkeypatch.setattr(work_units, "UNIT_BYTES", 64 << 10)  # several units per input
    inputs = _inputs(tmp_path)
    config = FilterConfig(batch_size=256, workers=1)
    runs = {**{kind: [path] for kind, path in inputs.items()}, "all": list(inputs.values())}
    for kind, paths in runs.items():
        local, ray = tmp_path / f"local-{kind}", tmp_path / f"ray-{kind}"
        filter_pairs(paths, local, config=config)
        if kind == "jsonl":  # once through the command line
            settings = tmp_path / "settings.yaml"
            settings.write_text("batch_size: 256\nworkers: 1\n")
            args = ["filter", str(paths[0]), "-o", str(ray), "-c", str(settings)]
            result = CliRunner().invoke(app, [*args, "--engine", "ray", "-q"])
            assert result.exit_code == 0, result.output
        else:
            filter_pairs(paths, ray, config=config, engine="ray")
        report = _same_outputs(local, ray)
        # the cases this test is about are all there
        dropped = pq.read_table(ray / "dropped").to_pylist()
        assert report["reasons"]["duplicate_pair"] > 0, kind
        assert report["stats"]["dataset"]["distinct_prompts"] == 40, kind
        both = [r["reasons"] for r in dropped if len(r["reasons"]) > 1]
        assert ["identical_pair", "too_similar", "duplicate_pair"] in both, kind
        if kind in ("jsonl", "all"):
            assert report["reasons"]["duplicate_pair"] > 300, kind
            assert report["reasons"]["contradictory_pair"] > 50, kind
            assert ["rejected_too_short", "contradictory_pair"] in both, kind
    parts = sorted(p.name for p in (tmp_path / "ray-jsonl" / "kept").iterdir())
    assert len(parts) > 3 and parts[0] == "part-000000.parquet"
    # duplicates across inputs: the gzip and Parquet inputs repeat the JSONL's pairs
    alone = sum(
        json.loads((tmp_path / f"ray-{k}" / "report.json").read_text())["kept_rows"] for k in inputs
    )
    assert json.loads((tmp_path / "ray-all" / "report.json").read_text())["kept_rows"] < alone
    checked = validate_pairs(runs["all"], config=config, engine="ray")  # writes nothing
    expected = json.loads((tmp_path / "local-all" / "report.json").read_text())
    assert checked.reasons == expected["reasons"]
    assert checked.stats == expected["stats"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    ["conversational.jsonl", "hh_transcripts.jsonl", "sharegpt_zh.json", "bad_pairs_dataset.jsonl"],
)
def test_every_layout_matches_the_local_engine(
    ray_local, tmp_path: Path, sample_data: Path, name: str
) -> None:
    # the file and a copy: every readable row of the copy repeats one of the first
    copy = tmp_path / f"copy-{name}"
    copy.write_bytes((sample_data / name).read_bytes())
    paths = [sample_data / name, copy]
    filter_pairs(paths, tmp_path / "local")
    report = filter_pairs(paths, tmp_path / "ray", engine="ray")
    _same_outputs(tmp_path / "local", tmp_path / "ray")
    assert report.reasons["duplicate_pair"] >= report.stats["pairs_checked"] // 2


@pytest.mark.slow
def test_per_pair_checks_alone_match_the_local_engine(
    ray_local, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(work_units, "UNIT_BYTES", 64 << 10)
    path = _inputs(tmp_path)["jsonl"]
    config = FilterConfig(disable=PER_PAIR, batch_size=256)
    filter_pairs([path], tmp_path / "local", config=config)
    report = filter_pairs([path], tmp_path / "ray", config=config, engine="ray")
    _same_outputs(tmp_path / "local", tmp_path / "ray")
    assert "duplicate_pair" not in report.reasons and "dataset" not in report.stats


@pytest.mark.slow
def test_rows_of_different_files_of_one_folder_are_told_apart(ray_local, tmp_path: Path) -> None:
    # Both files of a Parquet folder number their rows from 0: row 5 of b.parquet is not
    # row 5 of a.parquet.
    folder = tmp_path / "pq"
    folder.mkdir()
    rows = [
        {
            "prompt": f"prompt {i}",
            "chosen": f"{GOOD['chosen']} {i}",
            "rejected": f"{GOOD['rejected']} {i}",
        }
        for i in range(20)
    ]
    swapped = {**rows[1], "chosen": rows[1]["rejected"], "rejected": rows[1]["chosen"]}
    pq.write_table(pa.Table.from_pylist(rows[:10]), folder / "a.parquet")
    pq.write_table(
        pa.Table.from_pylist([*rows[10:15], rows[0], swapped, *rows[15:]]), folder / "b.parquet"
    )
    report = filter_pairs([folder], tmp_path / "out", config=FilterConfig(), engine="ray")
    dropped = pq.read_table(tmp_path / "out" / "dropped").to_pylist()
    got = [(Path(r["source_file"]).name, r["source_row"], r["reasons"]) for r in dropped]
    assert got == [
        ("a.parquet", 1, ["contradictory_pair"]),
        ("b.parquet", 5, ["duplicate_pair"]),
        ("b.parquet", 6, ["contradictory_pair"]),
    ]
    assert report.kept_rows == 19 and report.stats["dataset"]["distinct_prompts"] == 20


@pytest.mark.slow
def test_a_crash_midway_publishes_nothing_and_a_rerun_matches(
    ray_local, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(work_units, "UNIT_BYTES", 64 << 10)
    path = _inputs(tmp_path)["jsonl"]
    out = tmp_path / "out"
    config = FilterConfig(batch_size=256)
    real = ray_engine._summaries

    def dies_after_two(*args, **kwargs):  # type: ignore[no-untyped-def]
        for i, summary in enumerate(real(*args, **kwargs)):
            if i == 1:  # parts of finished units are already on disk by now
                raise KeyboardInterrupt
            yield summary

    monkeypatch.setattr(ray_engine, "_summaries", dies_after_two)
    with pytest.raises(KeyboardInterrupt):
        filter_pairs([path], out, config=config, engine="ray")
    # no report.json, no parts, no staging folder beside OUT, no lock
    assert not out.exists() and list(tmp_path.glob(".out.*")) == []
    monkeypatch.setattr(ray_engine, "_summaries", real)
    filter_pairs([path], out, config=config, engine="ray")
    filter_pairs([path], tmp_path / "local", config=config)
    _same_outputs(tmp_path / "local", out)
    # a crash in a second run leaves the first run's complete outputs as they were
    before = pq.read_table(out / "kept")
    monkeypatch.setattr(ray_engine, "_summaries", dies_after_two)
    with pytest.raises(KeyboardInterrupt):
        filter_pairs([path], out, config=config, engine="ray")
    assert sorted(p.name for p in out.iterdir()) == RAY_RESULT
    assert pq.read_table(out / "kept").equals(before)


def test_missing_ray_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(GOOD) + "\n")
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails
    with pytest.raises(MissingExtraError, match=r"prefdata\[ray\]"):
        filter_pairs([path], tmp_path / "out", engine="ray")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("settings", "flag"),
    [
        ({"near_duplicates": True}, "--near-duplicates"),
        ({"drop_near_duplicates": True}, "--drop-near-duplicates"),
        ({"eval_sets": ["EVAL"]}, "--eval-set"),
        ({"balance_length": True}, "--balance-length"),
    ],
)
def test_ray_refuses_the_dataset_options_it_does_not_run(
    tmp_path: Path, settings: dict, flag: str
) -> None:
    # refusing beats silently skipping them; this fails before Ray starts
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(GOOD) + "\n")
    if "eval_sets" in settings:
        settings = {"eval_sets": [str(path)]}
    with pytest.raises(ConfigError, match=f"does not run {flag} yet") as caught:
        filter_pairs([path], tmp_path / "out", config=FilterConfig(**settings), engine="ray")
    assert "\n" not in str(caught.value) and "--engine local" in str(caught.value)
    assert not (tmp_path / "out").exists()


KILLED_RUN = """
import sys
from prefdata.config import FilterConfig
from prefdata.engines import work_units
from prefdata.pipeline import filter_pairs

work_units.UNIT_BYTES = 16 << 10  # many small tasks, one at a time: a long run to kill
path, out, address = sys.argv[1:]
filter_pairs([path], out, config=FilterConfig(batch_size=64, workers=1), engine="ray",
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
    while not list(tmp_path.glob(".out.prefdata-tmp-*/kept/part-*.parquet")):
        assert proc.poll() is None and time.monotonic() < deadline, "the run never got going"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    # only the dead run's hidden staging folder beside OUT, with its partial parts, and
    # its lock file (the lock itself died with the process)
    beside = sorted(p.name for p in tmp_path.glob(".out.*"))
    assert len(beside) == 2 and beside[0] == ".out.prefdata-lock"
    assert beside[1].startswith(".out.prefdata-tmp-")
    config = FilterConfig(batch_size=64)
    filter_pairs([path], out, config=config, engine="ray")  # the rerun clears the dead staging
    assert sorted(p.name for p in out.iterdir()) == RAY_RESULT
    assert list(tmp_path.glob(".out.*")) == []
    filter_pairs([path], tmp_path / "local", config=config)
    _same_outputs(tmp_path / "local", out)


def test_validate_takes_the_engine_as_the_readme_documents(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(GOOD) + "\n")
    # the engine reaches the run: Ray refuses an option it does not run, before starting
    args = ["validate", str(path), "--engine", "ray", "--balance-length"]
    result = CliRunner().invoke(app, args)
    said = " ".join(result.output.split())  # rich wraps at 80 columns here
    assert result.exit_code == 2 and "does not run --balance-length yet" in said, said
