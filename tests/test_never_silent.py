"""When prefdata cannot do what was asked, it says so: empty results exit non-zero,
unused prompt columns are named, and drops carry their detail."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from prefdata.cli.main import app

A = "Paris is the capital of France, and it has been for a very long time now."
B = "I think that it is Lyon, but I am really not sure about that one at all."


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_filter_that_keeps_nothing_exits_3_and_still_writes(tmp_path: Path) -> None:
    data = _jsonl(tmp_path / "d.jsonl", [{"prompt": "p", "chosen": 5, "rejected": B}] * 3)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["filter", str(data), "-o", str(out)])
    assert result.exit_code == 3
    assert "nothing kept" in result.output and "wrong_type" in result.output
    assert len(pd.read_parquet(out / "kept.parquet")) == 0
    dropped = pd.read_parquet(out / "dropped.parquet")
    assert list(dropped["detail"]) == ["chosen is int, not text"] * 3


def test_convert_that_writes_nothing_exits_3(tmp_path: Path) -> None:
    data = _jsonl(tmp_path / "d.jsonl", [{"prompt": "p", "chosen": 5, "rejected": B}])
    result = CliRunner().invoke(
        app, ["convert", str(data), "--to", "conversational", "-o", str(tmp_path / "o.jsonl")]
    )
    assert result.exit_code == 3 and "nothing written" in result.output


def test_filter_and_validate_name_an_unused_prompt_column(tmp_path: Path) -> None:
    rows = [{"question": f"Q{i}?", "chosen": A, "rejected": B + str(i)} for i in range(3)]
    data = _jsonl(tmp_path / "d.jsonl", rows)
    for args in (
        ["filter", str(data), "-o", str(tmp_path / "out"), "--format", "trl"],
        ["validate", str(data), "--format", "trl"],
    ):
        result = CliRunner().invoke(app, args)
        assert "--prompt-column question" in result.output, result.output


def test_empty_prompts_with_an_unused_text_column_are_said(tmp_path: Path) -> None:
    rows = [
        {"prompt": "", "task": f"Say hi {i}", "chosen": A, "rejected": B + str(i)} for i in range(3)
    ]
    data = _jsonl(tmp_path / "d.jsonl", rows)
    result = CliRunner().invoke(app, ["validate", str(data)])
    assert "most prompts are empty while text column 'task' is unused" in result.output


def test_inspect_shows_the_detail_of_unreadable_rows(tmp_path: Path) -> None:
    rows = [
        {"prompt": "p", "chosen": A, "rejected": B},
        {"prompt": "p", "chosen": ["x"], "rejected": B},
    ]
    result = CliRunner().invoke(app, ["inspect", str(_jsonl(tmp_path / "d.jsonl", rows))])
    assert result.exit_code == 0
    assert "wrong_type: 1" in result.output and "chosen is list" in result.output


def test_h4_binarized_converts(tmp_path: Path) -> None:
    rows = [
        {
            "prompt": "Capital?",
            "prompt_id": "x",
            "chosen": [
                {"role": "user", "content": "Capital?"},
                {"role": "assistant", "content": A},
            ],
            "rejected": [
                {"role": "user", "content": "Capital?"},
                {"role": "assistant", "content": B},
            ],
            "score_chosen": 9.0,
            "score_rejected": 2.0,
        }
    ]
    out = tmp_path / "o.jsonl"
    result = CliRunner().invoke(
        app, ["convert", str(_jsonl(tmp_path / "d.jsonl", rows)), "--to", "text", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    [row] = [json.loads(line) for line in out.read_text().splitlines()]
    assert (row["prompt"], row["chosen"], row["rejected"]) == ("Capital?", A, B)


def test_unpaired_and_rated_files_say_what_to_run(tmp_path: Path) -> None:
    kto = _jsonl(
        tmp_path / "k.jsonl", [{"messages": [{"role": "user", "content": "x"}], "label": True}]
    )
    result = CliRunner().invoke(app, ["filter", str(kto), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--to paired" in result.output
    rated = _jsonl(tmp_path / "r.jsonl", [{"prompt": "p", "answers": [{"answer": "a", "rank": 1}]}])
    result = CliRunner().invoke(app, ["validate", str(rated)])
    assert result.exit_code == 2 and "binarise it first" in result.output


def test_report_says_how_many_pairs_were_not_compared(tmp_path: Path) -> None:
    rows = [{"prompt": f"p{i}", "chosen": A * 3, "rejected": B + str(i)} for i in range(4)]
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["filter", str(_jsonl(tmp_path / "d.jsonl", rows)), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["stats"]["histograms"]["similarity"]["not_compared"] == 4
    assert "4 pairs not compared" in (out / "report.html").read_text()
