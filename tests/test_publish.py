"""Publishing a result: atomic (killed at any step, OUT holds one complete result),
exclusive (one run per OUT), and every filesystem error one line with OUT intact."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from prefdata.cli.main import app
from prefdata.errors import ConfigError, OutputError
from prefdata.pipeline import filter_pairs
from prefdata.results import OutputFolder, file_modes, open_result

REPO = Path(__file__).resolve().parent.parent
RESULT = {"kept.parquet", "dropped.parquet", "report.json", "report.html", "README.md"}


def _pairs(path: Path, n: int, *, text: int = 60) -> Path:
    """``n`` distinct pairs of ``text`` random characters; every fifth pair has chosen ==
    rejected (so dropped is never empty)."""
    lines = []
    for i in range(n):
        # random letters: compressed Parquet is about as big as the text
        chosen = f"A careful, correct answer number {i}. " + os.urandom(text // 2).hex()
        rejected = (
            chosen if i % 5 == 0 else f"A wrong answer number {i}. " + os.urandom(text // 2).hex()
        )
        lines.append(
            json.dumps({"prompt": f"Question {i}?", "chosen": chosen, "rejected": rejected})
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def _complete_rows(out: Path, extra: set[str] = frozenset()) -> int:  # type: ignore[assignment]
    """input_rows of the one complete result in ``out``, checked against its files."""
    report = json.loads((out / "report.json").read_text())
    kept = pq.read_table(out / "kept.parquet").num_rows
    dropped = pq.read_table(out / "dropped.parquet").num_rows
    assert (kept, dropped) == (report["kept_rows"], report["dropped_rows"])
    assert kept + dropped == report["input_rows"]
    assert {p.name for p in out.iterdir()} == RESULT | extra
    assert open_result(out).check_complete().input_rows == report["input_rows"]
    return int(report["input_rows"])


def _siblings(out: Path) -> list[str]:
    """What runs into ``out`` left beside it (staging folders, moved-aside results, locks)."""
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _cli(*args: str, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    return subprocess.run(
        [*prefix, sys.executable, "-m", "prefdata", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "1000", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


# A run that dies (os._exit: no cleanup, as with kill -9) at one step of publishing,
# or, with step "-", lists the steps it passes.
STOPPED_RUN = """
import os, sys
from prefdata.results import publish
from prefdata.pipeline import filter_pairs
step, src, out, atomic = sys.argv[1:]
if atomic == "0":
    publish.can_exchange = lambda scratch: False
def boundary(name):
    if step == "-":
        print(name, flush=True)
    elif name == step:
        os._exit(9)
publish._boundary = boundary
filter_pairs([src], out)
"""


def _stopped_run(step: str, src: Path, out: Path, atomic: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", STOPPED_RUN, step, str(src), str(out), atomic],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
@pytest.mark.parametrize("atomic", ["1", "0"], ids=["exchange", "fallback"])
def test_killed_at_every_publish_step_out_holds_one_complete_result(
    tmp_path: Path, atomic: str
) -> None:
    old, new = _pairs(tmp_path / "old.jsonl", 10), _pairs(tmp_path / "new.jsonl", 14)
    filter_pairs([old], tmp_path / "probe")
    # every step boundary publishing has, as it reports them (so a new step is covered)
    steps = _stopped_run("-", new, tmp_path / "probe", atomic).stdout.split()
    assert steps[0] == "start" and "swapped" in steps and steps[-1] == "cleaned"
    assert ("aside" in steps) == (atomic == "0")
    for at, step in enumerate(steps):
        out = tmp_path / f"out-{step}"
        filter_pairs([old], out)
        (out / "labels.sqlite").write_bytes(b"the annotators' work")  # not ours: carried over
        proc = _stopped_run(step, new, out, atomic)
        assert proc.returncode == 9, proc.stderr
        expected = 10 if at < steps.index("swapped") else 14
        if step == "aside":  # between the fallback's two renames: OUT is absent, not mixed
            assert not out.exists()
            with OutputFolder(out):  # the next run into OUT puts the previous result back
                pass
        assert _complete_rows(out, {"labels.sqlite"}) == expected, step
        assert (out / "labels.sqlite").read_bytes() == b"the annotators' work"
        filter_pairs([new], out)  # the next run clears what the dead one left beside OUT
        assert _complete_rows(out, {"labels.sqlite"}) == 14
        assert _siblings(out) == []


# Runs into one OUT, one after the other, with each publishing step slowed down; a
# line after each finished run.
LOOPING_RUN = """
import sys, time
from prefdata.results import publish
from prefdata.pipeline import filter_pairs
publish._boundary = lambda step: time.sleep(0.03)
out, *inputs = sys.argv[1:]
print("started", flush=True)
while True:
    for src in inputs:
        filter_pairs([src], out)
        print("published", flush=True)
"""


@pytest.mark.slow
def test_runs_killed_at_random_moments_leave_one_complete_result(tmp_path: Path) -> None:
    a, b = _pairs(tmp_path / "a.jsonl", 10), _pairs(tmp_path / "b.jsonl", 14)
    out = tmp_path / "out"
    rng = random.Random(13)
    seen: list[int] = []
    for _ in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", LOOPING_RUN, str(out), str(a), str(b)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert proc.stdout is not None and proc.stdout.readline() == b"started\n"
        # a random number of whole runs, then a random moment of the next one (the
        # machine's load decides where in it that falls: reading, checking, publishing)
        for _ in range(rng.randint(0, 2)):
            assert proc.stdout.readline() == b"published\n"
        time.sleep(rng.uniform(0.0, 0.6))
        proc.kill()  # SIGKILL
        proc.wait()
        if seen:  # once a result was published, OUT is never absent again
            assert out.exists()
        if out.exists():
            seen.append(_complete_rows(out))
    assert seen and set(seen) <= {10, 14}
    filter_pairs([a], out)
    assert _complete_rows(out) == 10 and _siblings(out) == []


def test_a_second_run_into_a_locked_out_fails_in_one_line(tmp_path: Path) -> None:
    src = _pairs(tmp_path / "d.jsonl", 10)
    out = tmp_path / "out"
    filter_pairs([src], out)
    with OutputFolder(out, [src]):  # this process holds OUT, as a running filter does
        proc = _cli("filter", str(_pairs(tmp_path / "e.jsonl", 14)), "--out", str(out))
        with pytest.raises(OutputError, match="another prefdata run") as caught:
            filter_pairs([src], out)
    assert proc.returncode == 2
    assert (
        len(_lines(proc.stderr)) == 1 and f"another prefdata run (pid {os.getpid()})" in proc.stderr
    )
    assert "\n" not in str(caught.value)
    assert _complete_rows(out) == 10
    filter_pairs([tmp_path / "e.jsonl"], out)  # released: the next run goes through
    assert _complete_rows(out) == 14 and _siblings(out) == []


# A run that says when it is publishing (holding the lock) and then takes its time.
SLOW_PUBLISH = """
import sys, time
from prefdata.results import publish
from prefdata.pipeline import filter_pairs
def boundary(step):
    if step == "start":
        print("publishing", flush=True)
        time.sleep(3)
publish._boundary = boundary
filter_pairs([sys.argv[1]], sys.argv[2])
"""


@pytest.mark.slow
def test_two_concurrent_runs_one_fails_in_one_line_the_other_publishes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    filter_pairs([_pairs(tmp_path / "old.jsonl", 10)], out)
    first = subprocess.Popen(
        [sys.executable, "-c", SLOW_PUBLISH, str(_pairs(tmp_path / "a.jsonl", 14)), str(out)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert first.stdout is not None and first.stdout.readline() == b"publishing\n"
    second = _cli("filter", str(_pairs(tmp_path / "b.jsonl", 12)), "--out", str(out))
    assert first.wait(timeout=120) == 0, first.stderr.read() if first.stderr else ""
    assert second.returncode == 2 and len(_lines(second.stderr)) == 1
    assert "another prefdata run" in second.stderr
    assert _complete_rows(out) == 14 and _siblings(out) == []


def test_out_inside_an_input_folder_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _pairs(data / "d.jsonl", 10)
    with pytest.raises(ConfigError, match="inside the input folder") as caught:
        filter_pairs([data], data / "curated")
    assert "\n" not in str(caught.value)
    assert sorted(p.name for p in data.iterdir()) == ["d.jsonl"]
    result = CliRunner().invoke(app, ["filter", str(data), "--out", str(data / "curated")])
    assert result.exit_code == 2 and "inside the input folder" in result.output


def test_out_that_is_a_file_is_refused(tmp_path: Path) -> None:
    src = _pairs(tmp_path / "d.jsonl", 10)
    out = tmp_path / "out"
    out.write_text("my notes")
    with pytest.raises(OutputError, match="is a file") as caught:
        filter_pairs([src], out)
    assert "\n" not in str(caught.value) and out.read_text() == "my notes"
    result = CliRunner().invoke(app, ["filter", str(src), "--out", str(out)])
    assert result.exit_code == 2 and "is a file" in result.output
    assert _siblings(out) == []


def test_out_that_holds_the_current_folder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _pairs(tmp_path / "d.jsonl", 10)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputError, match="current folder") as caught:
        filter_pairs([src], ".")
    assert "\n" not in str(caught.value) and sorted(p.name for p in tmp_path.iterdir()) == [
        "d.jsonl"
    ]


def test_out_that_is_a_mount_point_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, out = _pairs(tmp_path / "d.jsonl", 10), tmp_path / "volume"
    out.mkdir()
    real = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: Path(p) == out or real(p))
    with pytest.raises(OutputError, match="mount point") as caught:
        filter_pairs([src], out)
    assert "\n" not in str(caught.value) and "--out " + str(out / "curated") in str(caught.value)
    assert list(out.iterdir()) == [] and _siblings(out) == []


def test_out_holding_a_folder_of_its_own_is_refused(tmp_path: Path) -> None:
    src = _pairs(tmp_path / "d.jsonl", 10)
    out = tmp_path / "out"
    filter_pairs([src], out)
    (out / "notes").mkdir()
    with pytest.raises(OutputError, match="'notes'") as caught:
        filter_pairs([src], out)
    assert "\n" not in str(caught.value)
    assert _complete_rows(out, {"notes"}) == 10


def test_other_files_in_out_survive_a_new_result(tmp_path: Path) -> None:
    out = tmp_path / "out"
    filter_pairs([_pairs(tmp_path / "a.jsonl", 10)], out)
    (out / "labels.sqlite").write_bytes(b"labels")
    filter_pairs([_pairs(tmp_path / "b.jsonl", 14)], out)
    assert _complete_rows(out, {"labels.sqlite"}) == 14
    assert (out / "labels.sqlite").read_bytes() == b"labels"


def test_every_file_written_has_one_mode(tmp_path: Path) -> None:
    out = tmp_path / "out"
    filter_pairs([_pairs(tmp_path / "d.jsonl", 10)], out)
    file_mode, dir_mode = file_modes()
    assert stat.S_IMODE(out.stat().st_mode) == dir_mode
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == dict.fromkeys(
        RESULT, file_mode
    )
    # `prefdata report` rewrites report.html and README.md in place: same mode
    assert CliRunner().invoke(app, ["report", str(out)]).exit_code == 0
    assert {stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {file_mode}


def test_no_write_permission_is_one_line_and_out_stays(tmp_path: Path) -> None:
    base = Path(tempfile.mkdtemp(prefix="prefdata-ro-"))
    try:
        os.chmod(base, 0o755)
        src = _pairs(base / "d.jsonl", 10)
        os.chmod(src, 0o644)
        out = base / "out"
        filter_pairs([src], out)
        if os.geteuid() == 0:  # root writes anywhere: run as nobody instead
            prefix: tuple[str, ...] = (
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
            )
        else:
            prefix = ()
            os.chmod(base, 0o555)
        proc = _cli("filter", str(src), "--out", str(out), env={"HOME": "/tmp"}, prefix=prefix)
        if "setpriv" in proc.stderr:
            pytest.skip(f"cannot drop privileges here: {proc.stderr.strip()}")
        assert proc.returncode == 2, proc.stderr
        assert len(_lines(proc.stderr)) == 1 and "Permission denied" in proc.stderr
        assert f"({out} is unchanged)" in proc.stderr
        assert _complete_rows(out) == 10
    finally:
        os.chmod(base, 0o755)
        shutil.rmtree(base)


# Inside a private mount namespace: a 1 MiB tmpfs, a small run that fits, then a
# bigger one that does not. Prints what it saw as JSON.
UNSHARE = ("unshare", "--user", "--map-root-user", "--mount")
FULL_DISK = """
import json, os, subprocess, sys
mnt, small, big, engine = sys.argv[1:]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt], check=True)
out = os.path.join(mnt, "out")
def cli(src, engine):
    return subprocess.run([sys.executable, "-m", "prefdata", "filter", src, "--out", out, "-q",
                           "--engine", engine, "--workers", "1"], capture_output=True, text=True)
first, second = cli(small, "local"), cli(big, engine)
from prefdata.results import open_result
report = open_result(out).check_complete()
print(json.dumps({"first": first.returncode, "second": second.returncode,
                  "stderr": second.stderr, "rows": report.input_rows,
                  "beside": sorted(os.listdir(mnt))}))
"""


@pytest.mark.parametrize(
    "engine", ["local", pytest.param("ray", marks=pytest.mark.slow)], ids=["local", "ray"]
)
def test_a_full_filesystem_is_one_line_and_out_stays(tmp_path: Path, engine: str) -> None:
    if engine == "ray":
        pytest.importorskip("ray")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    small = _pairs(tmp_path / "small.jsonl", 10)
    big = _pairs(tmp_path / "big.jsonl", 3000, text=1000)  # ~6 MB of text: does not fit
    proc = subprocess.run(
        [*UNSHARE, sys.executable, "-c", FULL_DISK, str(mnt), str(small), str(big), engine],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "1000"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0 and ("mount" in proc.stderr or "unshare" in proc.stderr):
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen["first"] == 0 and seen["second"] == 2, seen
    # Ray logs its start-up and the failed task itself (timestamped WARNING and ERROR
    # lines); prefdata adds one line, and no traceback
    ray_log = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+\s+(WARNING|ERROR) ")
    said = [line for line in _lines(seen["stderr"]) if not ray_log.match(line)]
    assert len(said) == 1 and "No space left on device" in said[0], seen["stderr"]
    assert "Traceback" not in seen["stderr"]
    assert seen["rows"] == 10 and seen["beside"] == ["out"]


def test_reports_that_cannot_be_written_are_one_line(tmp_path: Path) -> None:
    src = _pairs(tmp_path / "d.jsonl", 10)
    missing = tmp_path / "nowhere" / "report.json"
    result = CliRunner().invoke(app, ["validate", str(src), "--report", str(missing), "-q"])
    assert result.exit_code == 2, result.exception
    said = " ".join(result.output.split())  # rich wraps at 80 columns here
    assert "cannot write" in said and "No such file or directory" in said
    out = tmp_path / "out"
    filter_pairs([src], out)
    (out / "report.html").unlink()
    (out / "report.html").mkdir()  # where `prefdata report` writes its page: unwritable
    result = CliRunner().invoke(app, ["report", str(out)])
    assert result.exit_code == 2, result.exception
    assert "cannot write" in " ".join(result.output.split())


def test_file_modes_leave_the_umask_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    if not Path("/proc/self/status").is_file():
        pytest.skip("no /proc here: the umask can only be read by setting it")
    umask = os.umask(0o022)
    os.umask(umask)

    def setting(mask: int) -> int:  # other threads would create files under this mask
        raise AssertionError(f"umask set to {mask:o} while reading it")

    monkeypatch.setattr(os, "umask", setting)
    assert file_modes() == (0o666 & ~umask, 0o777 & ~umask)
