"""Review leftovers of the one-driver work: `prefdata report` holds the folder's lock,
and a Ray run's driver-side filesystem errors are one line, as a local run's are."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prefdata.cli.main import app
from prefdata.errors import OutputError
from prefdata.pipeline import filter_pairs
from prefdata.results import FolderLock, OutputFolder


def _pairs(path: Path, n: int = 12) -> Path:
    rows = [
        {"prompt": f"question {i}?", "chosen": f"a helpful answer {i}", "rejected": f"no {i}"}
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_report_waits_for_no_one_and_says_who_holds_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    filter_pairs([_pairs(tmp_path / "in.jsonl")], out)
    html_before = (out / "report.html").read_bytes()
    (out / "report.html").unlink()
    with FolderLock(out):  # as a filter run into out holds it, for the whole run
        result = CliRunner().invoke(app, ["report", str(out)])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert "another prefdata run" in said and "prefdata report` again" in said
    assert "Traceback" not in result.output
    assert not (out / "report.html").exists()  # nothing written under another's lock
    # free again: the report is rebuilt, and the lock file is gone after
    result = CliRunner().invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "report.html").read_bytes() == html_before
    assert not any(p.name.endswith(".prefdata-lock") for p in tmp_path.iterdir())


def test_a_run_cannot_start_while_report_holds_the_folder(tmp_path: Path) -> None:
    src, out = _pairs(tmp_path / "in.jsonl"), tmp_path / "out"
    filter_pairs([src], out)
    lock = FolderLock(out, then="then run `prefdata report` again")
    with lock, pytest.raises(OutputError, match="another prefdata run"):
        filter_pairs([src], out)


def test_report_on_a_missing_folder_is_still_its_own_message(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(tmp_path / "nothing")])
    assert result.exit_code == 2, result.output
    assert "another prefdata run" not in result.output
    assert not (tmp_path / ".nothing.prefdata-lock").exists()


@pytest.mark.parametrize("case", ["no-space", "in-staging", "reading-an-input"])
def test_ray_driver_side_os_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    pytest.importorskip("ray")
    from prefdata.engines import ray_engine

    monkeypatch.setattr(ray_engine, "init_ray", lambda *a, **k: False)  # no Ray needed
    src, out = _pairs(tmp_path / "in.jsonl"), tmp_path / "out"
    filter_pairs([src], out)  # the previous result, which must stay
    before = (out / "kept.parquet").read_bytes()
    held: dict[str, OutputFolder] = {}
    real_enter = OutputFolder.__enter__

    def entering(self: OutputFolder) -> OutputFolder:
        held["folder"] = real_enter(self)
        return held["folder"]

    def planning(*args: object, **kwargs: object) -> None:
        staging = held["folder"].staging
        if case == "no-space":
            raise OSError(errno.ENOSPC, "No space left on device")
        if case == "in-staging":
            raise PermissionError(errno.EACCES, "Permission denied", str(staging / "kept"))
        raise OSError(errno.EIO, "Input/output error", str(src))

    monkeypatch.setattr(OutputFolder, "__enter__", entering)
    monkeypatch.setattr(ray_engine, "plan_units", planning)
    result = CliRunner().invoke(app, ["filter", str(src), "-o", str(out), "--engine", "ray"])
    said = " ".join(result.output.split())
    if case == "reading-an-input":  # not a write: not dressed up as one
        assert isinstance(result.exception, OSError) and "cannot write" not in said
    else:
        assert result.exit_code == 2, (result.output, result.exception)
        assert said.count("error:") == 1 and "cannot write" in said and "unchanged" in said
        assert "Traceback" not in result.output
    assert (out / "kept.parquet").read_bytes() == before
