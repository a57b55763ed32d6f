"""The command line, through typer's runner: exit codes, messages, outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from prefdata.cli.main import app

runner = CliRunner()


def test_help_teaches() -> None:
    result = runner.invoke(app, ["filter", "--help"])
    assert result.exit_code == 0
    for flag in (
        "--out",
        "--similarity",
        "--max-similarity",
        "--format",
        "--chosen-column",
        "--quiet",
    ):
        assert flag in result.output


def test_filter_writes_outputs_and_summary(tmp_path: Path, sample_data: Path) -> None:
    result = runner.invoke(
        app, ["filter", str(sample_data / "bad_pairs.jsonl"), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "14 pairs read" in result.output and "malformed_record" in result.output
    assert {p.name for p in tmp_path.iterdir()} == {
        "kept.parquet",
        "dropped.parquet",
        "report.json",
        "report.html",
        "README.md",
    }


def test_flags_override_the_config_file(tmp_path: Path, sample_data: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("min_chosen_chars: 0\nmin_rejected_chars: 0\nsimilarity: difflib\n")
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "filter",
            str(sample_data / "bad_pairs.jsonl"),
            "-o",
            str(out),
            "-c",
            str(config),
            "--min-rejected-chars",
            "20",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output == ""
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["min_chosen_chars"] == 0
    assert report["config"]["min_rejected_chars"] == 20
    assert report["config"]["similarity"] == "difflib"
    assert "chosen_too_short" not in {k for k, v in report["reasons"].items() if v}


def test_usage_errors_are_one_line_with_status_2(tmp_path: Path, sample_data: Path) -> None:
    bad_config = tmp_path / "c.toml"
    bad_config.write_text("min_chosen_char = 5\n")
    for args, message in [
        (["filter", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path)], "no such file"),
        (
            [
                "filter",
                str(sample_data / "bad_pairs.jsonl"),
                "-o",
                str(tmp_path),
                "--similarity",
                "cosine",
            ],
            "similarity must be one of",
        ),
        (
            [
                "filter",
                str(sample_data / "bad_pairs.jsonl"),
                "-o",
                str(tmp_path),
                "-c",
                str(bad_config),
            ],
            "unknown setting(s) ['min_chosen_char']",
        ),
        (
            ["validate", str(sample_data / "bad_pairs.jsonl"), "--min-chosen-chars", "-5"],
            "min_chosen_chars must be an integer >= 0, got -5",
        ),
    ]:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output
        assert "Traceback" not in result.output


def test_validate_gate(sample_data: Path, tmp_path: Path) -> None:
    data = str(sample_data / "bad_pairs.jsonl")
    assert runner.invoke(app, ["validate", data, "--max-drop-rate", "0.99"]).exit_code == 0
    report = tmp_path / "r.json"
    failed = runner.invoke(
        app, ["validate", data, "--max-drop-rate", "0.5", "--report", str(report)]
    )
    assert failed.exit_code == 1 and "FAIL" in failed.output
    # with the default max_response_chars the 1,500-character row is kept: 12 of 14 dropped
    assert json.loads(report.read_text())["dropped_rows"] == 12


def test_inspect(sample_data: Path) -> None:
    result = runner.invoke(app, ["inspect", str(sample_data / "bad_pairs.jsonl"), "--samples", "1"])
    assert result.exit_code == 0, result.output
    assert "layout: trl" in result.output and "records: 14" in result.output
    assert "malformed_record: 3" in result.output


def test_module_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "prefdata", "--version"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent.parent,
    )
    assert result.returncode == 0 and result.stdout.startswith("prefdata ")


def test_filter_with_dataset_options(tmp_path: Path, sample_data: Path) -> None:
    from typer.testing import CliRunner

    from prefdata.cli.main import app

    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "filter",
            str(sample_data / "bad_pairs_dataset.jsonl"),
            "--out",
            str(out),
            "--eval-set",
            str(sample_data / "eval_prompts.jsonl"),
            "--drop-near-duplicates",
            "--near-duplicate-threshold",
            "0.8",
            "--balance-length",
            "--seed",
            "1",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["eval_sets"] == [str(sample_data / "eval_prompts.jsonl")]
    assert report["reasons"]["contaminated_prompt"] == 2
    assert report["reasons"]["near_duplicate_prompt"] == 1
    assert "length_balance" in report["stats"]["dataset"]
    assert (out / "report.html").exists() and (out / "README.md").exists()
    bad = CliRunner().invoke(
        app, ["validate", str(sample_data / "bad_pairs.jsonl"), "--length-unit", "tokens"]
    )
    assert bad.exit_code == 2 and "--tokenizer" in bad.output
