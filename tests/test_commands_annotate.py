"""`prefdata annotate import|export` and `prefdata app` through the CLI runner."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from prefdata.annotate import app_launch
from prefdata.annotate.label_store import LabelStore
from prefdata.cli.main import app
from tests.annotate_data import write_dropped, write_kept

runner = CliRunner()


def _text(result: object) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(result.output.split())  # type: ignore[attr-defined]


def test_import_is_idempotent_and_defaults_the_db_beside_the_data(tmp_path: Path) -> None:
    write_kept(tmp_path / "kept.parquet", 3)
    write_dropped(tmp_path / "dropped.parquet")
    first = runner.invoke(app, ["annotate", "import", str(tmp_path)])
    assert first.exit_code == 0, first.output
    assert "kept.parquet: 3 new" in _text(first)
    again = runner.invoke(app, ["annotate", "import", str(tmp_path)])
    assert "kept.parquet: 0 new, 3 already present" in _text(again)
    assert LabelStore(tmp_path / "labels.sqlite").pair_count() == 5


def test_export_writes_the_labelled_set(tmp_path: Path) -> None:
    data = write_kept(tmp_path / "kept.parquet", 3)
    db = tmp_path / "my.sqlite"
    runner.invoke(app, ["annotate", "import", str(data), "--db", str(db)])
    store = LabelStore(db)
    store.record_label("p0000", "a", choice="rejected", left_response="chosen")
    store.record_label("p0001", "a", choice="chosen", left_response="chosen")
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["annotate", "export", "--db", str(db), "--out", str(out), "--min-votes", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "2 labelled pairs (1 flipped)" in _text(result)
    assert pq.read_table(out / "labelled.parquet").num_rows == 2
    assert json.loads((out / "agreement.json").read_text())["n_votes"] == 2


def test_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["annotate", "import", str(tmp_path / "nope.parquet")])
    assert missing.exit_code == 2
    assert "no such file or folder" in _text(missing)
    no_db = runner.invoke(
        app, ["annotate", "export", "--db", str(tmp_path / "x.sqlite"), "--out", str(tmp_path)]
    )
    assert no_db.exit_code == 2
    assert "run `prefdata annotate import` first" in _text(no_db)


def test_app_imports_the_data_then_runs_streamlit_with_its_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_kept(tmp_path / "kept.parquet", 2)
    guide = tmp_path / "guide.md"
    guide.write_text("# Be kind")
    seen: list[list[str]] = []
    envs: list[dict[str, str]] = []
    monkeypatch.setattr(
        app_launch, "run_app", lambda cmd, env: seen.append(cmd) or envs.append(env) or 0
    )
    result = runner.invoke(
        app,
        [
            "app",
            "--data",
            str(data),
            "--port",
            "8765",
            "--guidelines",
            str(guide),
            "--annotators",
            "ann, bob",
            "--overlap",
            "2",
            "--open",
        ],
    )
    assert result.exit_code == 0, result.output
    (command,) = seen
    assert command[1:4] == ["-m", "streamlit", "run"]
    assert command[4].endswith("streamlit_app.py") and Path(command[4]).is_file()
    assert command[command.index("--server.port") + 1] == "8765"
    script_args = command[command.index("--") + 1 :]
    assert script_args == [
        "--db",
        str(tmp_path / "labels.sqlite"),
        "--overlap",
        "2",
        "--data",
        str(data),
        "--guidelines",
        str(guide),
        "--annotators",
        "ann,bob",
        "--queue-order",
        "overlap-first",
        "--session-hours",
        "8.0",
        "--open",
    ]
    assert LabelStore(tmp_path / "labels.sqlite").pair_count() == 2
    # The app imports the same prefdata as this command, wherever it is started from.
    import prefdata

    root = str(Path(prefdata.__file__).resolve().parent.parent)
    assert envs[0]["PYTHONPATH"].split(os.pathsep)[0] == root


def test_app_refuses_an_empty_database(tmp_path: Path) -> None:
    result = runner.invoke(app, ["app", "--db", str(tmp_path / "empty.sqlite"), "--open"])
    assert result.exit_code == 2
    assert "holds no pairs" in _text(result)
