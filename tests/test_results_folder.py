"""One owner of the output folder: both layouts read the same way by report, train, the
app's import and iterate; a new result never leaves another run's files beside it."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from prefdata.annotate.label_store import LabelStore
from prefdata.cli.main import app
from prefdata.errors import InputError
from prefdata.pipeline import filter_pairs
from prefdata.results import FILE, PARTS, file_modes, open_result
from prefdata.train.data import file_sha256, load_pairs, resolve_data_path
from tests.train_support import recipe, tiny

__all__ = ["tiny"]  # the fixture, imported for pytest

LOCAL_RESULT = ["README.md", "dropped.parquet", "kept.parquet", "report.html", "report.json"]
RAY_RESULT = ["README.md", "dropped", "kept", "report.html", "report.json"]


def _input(tmp_path: Path) -> Path:
    rows = [
        {
            "prompt": f"Question number {i}: how do I centre a div?",
            "chosen": f"Answer {i}: use a flex container with justify-content: center.",
            "rejected": f"Answer {i}: you cannot, CSS is broken and nobody knows how.",
        }
        for i in range(30)
    ]
    rows[3]["rejected"] = rows[3]["chosen"]  # identical_pair
    rows[7] = dict(rows[6])  # duplicate_pair: a dataset-level (late) decision
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_local_result_opens_with_its_layout_and_counts(tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = filter_pairs([_input(tmp_path)], out)
    result = open_result(out)
    assert result.layout == FILE and result.kept == out / "kept.parquet"
    assert result.check_complete() == report  # typed, and equal to what the run returned
    assert (result.rows("kept"), result.rows("dropped")) == (28, 2)


def test_what_is_not_a_complete_result_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        open_result(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no report\.json"):
        open_result(tmp_path / "empty")
    out = tmp_path / "out"
    filter_pairs([_input(tmp_path)], out)
    # a kept.parquet from another run beside this report: the counts give it away, and
    # every consumer refuses the folder instead of reading it
    pq.write_table(pq.read_table(out / "kept.parquet").slice(0, 5), out / "kept.parquet")
    with pytest.raises(InputError, match="not a complete result") as caught:
        open_result(out)
    assert "\n" not in str(caught.value)
    with pytest.raises(InputError, match="not a complete result"):
        resolve_data_path(out)
    for command in (["report", str(out)], ["annotate", "import", str(out)]):
        result = CliRunner().invoke(app, command)
        said = " ".join(result.output.split())  # rich wraps at 80 columns here
        assert result.exit_code == 2 and "not a complete result" in said, command
    assert not (out / "labels.sqlite").exists()


def test_a_folder_of_parts_trains_as_given(tmp_path: Path) -> None:
    out = tmp_path / "out"
    filter_pairs([_input(tmp_path)], out)
    parts = tmp_path / "parts"
    parts.mkdir()
    shutil.copy(out / "kept.parquet", parts / "part-000000.parquet")
    assert resolve_data_path(parts) == parts and len(load_pairs(parts)) == 28
    assert file_sha256(parts) == file_sha256(out / "kept.parquet")


@pytest.mark.slow
def test_a_ray_result_is_reported_trained_on_and_imported(ray_local, tiny, tmp_path: Path) -> None:
    out = tmp_path / "ray"
    report = filter_pairs([_input(tmp_path)], out, engine="ray")
    assert (report.kept_rows, report.dropped_rows) == (28, 2)
    assert sorted(p.name for p in out.iterdir()) == RAY_RESULT  # report.html and card too
    file_mode, dir_mode = file_modes()  # parts written by Ray workers included
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in [out, *out.rglob("*")]}
    assert {m for p, m in modes.items() if p.is_file()} == {file_mode}
    assert {m for p, m in modes.items() if p.is_dir()} == {dir_mode}
    result = open_result(out)
    assert result.layout == PARTS and result.check_complete().engine == "ray"
    card = (out / "README.md").read_text()
    assert "path: kept/*.parquet" in card and "path: dropped/*.parquet" in card

    (out / "report.html").unlink()
    rebuilt = CliRunner().invoke(app, ["report", str(out)])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert f"{report.kept_rows:,} kept" in (out / "report.html").read_text()

    settings = tmp_path / "recipe.yaml"
    settings.write_text(yaml.safe_dump(recipe(tiny, tmp_path / "model", data=str(out))))
    checked = CliRunner().invoke(app, ["train", str(settings), "--check"])
    assert checked.exit_code == 0, checked.output
    assert f"pre-flight ok: {report.kept_rows} training pairs" in checked.stdout

    imported = CliRunner().invoke(app, ["annotate", "import", str(out)])
    assert imported.exit_code == 0, imported.output
    assert f"{out / 'kept'}: {report.kept_rows} new" in imported.stdout.replace("\n", "")
    labelled = LabelStore(out / "labels.sqlite").pair_count()
    assert labelled == 29  # the duplicate pair shares its id with the pair it repeats

    # a local run over the Ray folder: no kept/ or dropped/ parts are left beside the
    # new files, and the annotators' database stays
    filter_pairs([_input(tmp_path)], out)
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("labels.sqlite"))
    assert names == LOCAL_RESULT
    assert LabelStore(out / "labels.sqlite").pair_count() == labelled
    assert open_result(out).check_complete().engine == "local"


def test_labels_for_a_parts_folder_sit_in_the_result_folder(tmp_path: Path) -> None:
    """`prefdata app --data OUT/kept` of a Ray result: kept/ is replaced whole by the
    next run, so a database inside it would be lost; it goes beside kept/ instead."""
    from prefdata.annotate.app_launch import default_db

    out = tmp_path / "out"
    (out / "kept").mkdir(parents=True)
    (out / "report.json").write_text("{}")
    assert default_db([out / "kept"]) == out / "labels.sqlite"
    assert default_db([out]) == out / "labels.sqlite"
    plain = tmp_path / "kept"  # a folder merely called kept, not inside a result
    plain.mkdir()
    assert default_db([plain]) == plain / "labels.sqlite"
