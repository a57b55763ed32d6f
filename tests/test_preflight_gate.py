"""Pre-flight as an option of `filter` and `validate` (a CI gate), and report.html's
pre-flight section with the histogram of tokens lost per side."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

pytest.importorskip("transformers")

from prefdata.cli.main import app
from prefdata.preflight import preflight, source
from prefdata.preflight.attach import lost_histogram
from prefdata.reporting.html import render_html
from prefdata.tokenization import load_tokenizer
from tests.conftest import shared_file

runner = CliRunner()
LONG = "the quick brown fox jumps over the lazy dog " * 4


def _pairs(path: Path, n: int = 30) -> Path:
    rows = {
        "id": [f"p{i}" for i in range(n)],
        "prompt": ["hello world,\n" * (1 + i % 7) for i in range(n)],
        "chosen": [LONG * (1 + i % 3) for i in range(n)],
        "rejected": [f"go away, I will not help with that ({i})" for i in range(n)],
    }
    pq.write_table(pa.table(rows), path)
    return path


def _text(result: object) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(result.output.split())  # type: ignore[attr-defined]


def _validate(data: Path, tok: Path, *extra: str) -> list[str]:
    return ["validate", str(data), "--preflight-tokenizer", str(tok), *extra]


def test_validate_gate_fails_on_a_code_and_passes_without(
    tiny_tokenizer: Path, tmp_path: Path
) -> None:
    data = _pairs(tmp_path / "pairs.parquet")
    report = tmp_path / "report.json"
    cut = runner.invoke(
        app,
        _validate(
            data,
            tiny_tokenizer,
            "--preflight-max-length",
            "40",
            "--preflight-fail-on",
            "response_truncated",
            "--report",
            str(report),
        ),
    )
    assert cut.exit_code == 1, cut.output
    assert "pre-flight found {'response_truncated'" in _text(cut)
    # the ledger goes into --report, and equals the library's own pre-flight of the file
    ledger = json.loads(report.read_text())["preflight"]
    table, _ = source.load(data)
    direct = preflight(table, load_tokenizer(str(tiny_tokenizer)), max_length=40).ledger
    assert ledger["reasons"] == direct["reasons"] and ledger["truncated"] == direct["truncated"]
    assert ledger["rows_in"] == 30 and ledger["reasons"]["response_truncated"] > 0
    whole = runner.invoke(
        app,
        _validate(
            data,
            tiny_tokenizer,
            "--preflight-max-length",
            "4000",
            "--preflight-fail-on",
            "response_truncated",
        ),
    )
    assert whole.exit_code == 0, whole.output
    assert "OK" in whole.output
    # without --preflight-fail-on the pre-flight is shown but gates nothing
    shown = runner.invoke(app, _validate(data, tiny_tokenizer, "--preflight-max-length", "40"))
    assert shown.exit_code == 0, shown.output
    assert "pre-flight" in shown.output and "suggest max_length=" in _text(shown)


def test_validate_preflight_max_length_defaults_to_max_length(
    tiny_tokenizer: Path, tmp_path: Path
) -> None:
    data = _pairs(tmp_path / "pairs.parquet")
    report = tmp_path / "r.json"
    args = [*_validate(data, tiny_tokenizer), "--tokenizer", str(tiny_tokenizer)]
    result = runner.invoke(app, [*args, "--max-length", "40", "--report", str(report)])
    assert json.loads(report.read_text())["preflight"]["max_length"] == 40, result.output
    result = runner.invoke(app, [*_validate(data, tiny_tokenizer), "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text())["preflight"]["max_length"] == 1024  # TRL's default
    lf = ["--preflight-trainer", "llamafactory", "--report", str(report)]
    result = runner.invoke(app, [*_validate(data, tiny_tokenizer), *lf])
    assert result.exit_code == 0, result.output
    ledger = json.loads(report.read_text())["preflight"]
    assert ledger["trainer"] == "llamafactory" and ledger["max_length"] == 2048  # cutoff_len
    assert "cutoff_len=2048" in result.output


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--preflight-fail-on", "no_such_code"], "unknown reason code"),
        (["--preflight-trainer", "axolotl"], "--preflight-trainer must be one of"),
        (["--preflight-truncation-mode", "middle"], "--preflight-truncation-mode"),
    ],
)
def test_bad_preflight_settings_are_one_line(
    tiny_tokenizer: Path, tmp_path: Path, extra: list[str], says: str
) -> None:
    data = _pairs(tmp_path / "pairs.parquet", n=3)
    result = runner.invoke(app, [*_validate(data, tiny_tokenizer), *extra])
    assert result.exit_code == 2
    assert says in result.output and "Traceback" not in result.output


def test_bad_preflight_inputs_are_one_line(tiny_tokenizer: Path, tmp_path: Path) -> None:
    data = _pairs(tmp_path / "pairs.parquet", n=3)
    cases = [
        (_validate(data, tmp_path / "nope"), "no such folder"),
        (["validate", str(data), "--preflight-fail-on", "eos_mismatch"], "needs --preflight"),
        ([*_validate(data, tiny_tokenizer), str(data)], "run validate once per file"),
        (
            ["filter", str(data), "--out", str(tmp_path / "o"), "--preflight-tokenizer", "x"],
            "no such folder",
        ),
    ]
    for args, says in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert says in _text(result) and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()  # refused before anything was written


def test_filter_publishes_the_preflight_of_the_kept_pairs(
    tiny_tokenizer: Path, tmp_path: Path
) -> None:
    data = _pairs(tmp_path / "pairs.parquet")
    out = tmp_path / "curated"
    args = ["filter", str(data), "--out", str(out), "--preflight-tokenizer", str(tiny_tokenizer)]
    # the shortest chosen responses (176 characters, a third of the pairs) are dropped
    result = runner.invoke(
        app, [*args, "--preflight-max-length", "40", "--min-chosen-chars", "200"]
    )
    assert result.exit_code == 0, result.output
    assert "preflight.parquet, preflight.json" in _text(result)
    kept = pq.read_table(out / "kept.parquet")
    per_pair = pq.read_table(out / "preflight.parquet")
    ledger = json.loads((out / "preflight.json").read_text())
    report = json.loads((out / "report.json").read_text())
    # one plan row per kept pair, none for the pairs filter dropped
    assert kept.num_rows == 20
    assert per_pair.column("id").to_pylist() == kept.column("id").to_pylist()
    assert ledger["rows_in"] == kept.num_rows == ledger["kept"] + ledger["dropped"]
    assert ledger["truncated"] > 0
    assert report["preflight"] == ledger
    hist = ledger["tokens_lost_histogram"]
    assert sum(hist["chosen"]) == sum(hist["rejected"]) == kept.num_rows
    # report.html shows the section, with the histogram of both sides
    page = (out / "report.html").read_text()
    assert "Pre-flight: what trl" in page and "tokens lost per pair, per side" in page
    assert "<title>chosen 0:" in page and "<title>rejected 0:" in page
    # `prefdata report` rebuilds the page from report.json alone, section included
    (out / "report.html").unlink()
    rebuilt = runner.invoke(app, ["report", str(out)])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "tokens lost per pair, per side" in (out / "report.html").read_text()
    # a rerun without pre-flight leaves no stale preflight files in OUT
    again = runner.invoke(app, ["filter", str(data), "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert not (out / "preflight.json").exists() and not (out / "preflight.parquet").exists()
    assert "Pre-flight" not in (out / "report.html").read_text()
    assert json.loads((out / "report.json").read_text())["preflight"] == {}


def test_filter_gate_fails_on_a_code_and_still_publishes(
    tiny_tokenizer: Path, tmp_path: Path
) -> None:
    data = _pairs(tmp_path / "pairs.parquet")
    out = tmp_path / "curated"
    args = ["filter", str(data), "--out", str(out), "--preflight-tokenizer", str(tiny_tokenizer)]
    gate = ["--preflight-fail-on", "response_truncated,eos_mismatch"]
    cut = runner.invoke(app, [*args, "--preflight-max-length", "40", *gate])
    assert cut.exit_code == 1, cut.output  # validate's gate status, not EXIT_EMPTY (3)
    said = _text(cut)
    assert "FAIL" in said and "pre-flight found {'response_truncated':" in said
    # the result is published all the same, so the failure can be read in it
    ledger = json.loads((out / "preflight.json").read_text())
    assert ledger["reasons"]["response_truncated"] > 0
    assert pq.read_table(out / "kept.parquet").num_rows == 30
    report = json.loads((out / "report.json").read_text())
    assert report["preflight"]["reasons"] == ledger["reasons"]
    # the counts printed are the ledger's
    assert f"'response_truncated': {ledger['reasons']['response_truncated']}" in said
    whole = runner.invoke(app, [*args, "--preflight-max-length", "4000", *gate])
    assert whole.exit_code == 0, whole.output
    assert "FAIL" not in whole.output
    assert json.loads((out / "preflight.json").read_text())["truncated"] == 0
    # the same refusals as validate's, before anything is written
    fresh = tmp_path / "fresh"
    for extra, says in (
        (["--preflight-fail-on", "no_such_code"], "unknown reason code"),
        (["--preflight-fail-on", "eos_mismatch"], "needs --preflight-tokenizer"),
    ):
        base = ["filter", str(data), "--out", str(fresh)]
        if "no_such_code" in extra:
            base += ["--preflight-tokenizer", str(tiny_tokenizer)]
        refused = runner.invoke(app, [*base, *extra])
        assert refused.exit_code == 2, refused.output
        assert says in _text(refused) and "Traceback" not in refused.output
    assert not fresh.exists()


def test_filter_with_nothing_kept_says_so(tiny_tokenizer: Path, tmp_path: Path) -> None:
    data = _pairs(tmp_path / "pairs.parquet", n=4)
    out = tmp_path / "curated"
    result = runner.invoke(
        app,
        [
            "filter",
            str(data),
            "--out",
            str(out),
            "--min-chosen-chars",
            "100000",
            "--preflight-tokenizer",
            str(tiny_tokenizer),
        ],
    )
    assert result.exit_code != 0 and "nothing to plan" in _text(result)
    assert json.loads((out / "preflight.json").read_text())["skipped"] is True
    assert "nothing to plan" in (out / "report.html").read_text()


def test_histogram_counts_every_pair_per_side() -> None:
    t = pa.table(
        {"chosen_tokens_lost": [0, 0, 5, 30, 100], "rejected_tokens_lost": [0, 1, 2, 3, 0]}
    )
    hist = lost_histogram(t)
    assert hist["labels"][0] == "0" and hist["chosen"][0] == 2 and hist["rejected"][0] == 2
    assert sum(hist["chosen"]) == sum(hist["rejected"]) == 5
    # each value falls in the bin whose label covers it
    for side, values in (("chosen", [0, 0, 5, 30, 100]), ("rejected", [0, 1, 2, 3, 0])):
        expect = [0] * len(hist["labels"])
        for v in values:
            for i, label in enumerate(hist["labels"]):
                lo, _, hi = label.rstrip("+").partition("-")
                top = float("inf") if label.endswith("+") else int(hi or lo)
                if int(lo) <= v <= top:
                    expect[i] += 1
                    break
        assert hist[side] == expect


def test_preflight_section_escapes_all_text() -> None:
    evil = "<script>alert(1)</script>"
    ledger = {
        "trainer": evil,
        "trainer_version": evil,
        "max_length": 8,
        "rows_in": 2,
        "kept": 2,
        "dropped": 0,
        "truncated": 1,
        "tokens_lost": {"chosen": 3, "rejected": 0},
        "reasons": {evil: 1},
        "tokens_lost_histogram": {"labels": [evil, "1+"], "chosen": [1, 1], "rejected": [2, 0]},
        "suggestions": [{"setting": evil, "value": evil, "why": evil, "gives": {evil: 1}}],
    }
    page = render_html({"preflight": ledger}, {})
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert not re.search(r"(src|href)=\"?https?:", page)  # nothing fetched: works offline


@pytest.mark.slow
def test_filter_preflight_equals_the_preflight_command_on_real_data(
    tiny_tokenizer: Path, tmp_path: Path
) -> None:
    """LLaMA-Factory's dpo_en_demo (ShareGPT conversations): filter's pre-flight of the
    kept pairs is the `preflight` command's on the published result."""
    data = shared_file("llamafactory/dpo_en_demo.json")
    out, pf = tmp_path / "curated", tmp_path / "pf"
    tok = ["--preflight-tokenizer", str(tiny_tokenizer), "--preflight-max-length", "256"]
    result = runner.invoke(app, ["filter", str(data), "--out", str(out), *tok])
    assert result.exit_code == 0, result.output
    args = ["preflight", str(out), "--tokenizer", str(tiny_tokenizer), "--max-length", "256"]
    command = runner.invoke(app, [*args, "--out", str(pf)])
    assert command.exit_code == 0, command.output
    ours = json.loads((out / "preflight.json").read_text())
    theirs = json.loads((pf / "preflight.json").read_text())
    ours.pop("tokens_lost_histogram")
    assert ours == theirs and ours["conversational"] and ours["rows_in"] > 200
    assert pq.read_table(out / "preflight.parquet").equals(pq.read_table(pf / "preflight.parquet"))
