"""Settings declared once: one validation loop over field metadata, flags generated from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prefdata.cli.main import app
from prefdata.config import FilterConfig, ReadOptions
from prefdata.errors import ConfigError

runner = CliRunner()


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (FilterConfig, {"batch_size": 0}, "batch_size must be an integer >= 1, got 0"),
        (FilterConfig, {"batch_size": 2.5}, "batch_size must be an integer >= 1, got 2.5"),
        (FilterConfig, {"min_rejected_chars": True}, "must be an integer >= 0, got True"),
        (
            FilterConfig,
            {"near_duplicate_threshold": 0},
            "near_duplicate_threshold must be in (0, 1], got 0",
        ),
        (FilterConfig, {"max_similarity": "high"}, "must be between 0 and 1, got 'high'"),
        (
            FilterConfig,
            {"minhash_permutations": 8},
            "minhash_permutations must be an integer >= 16",
        ),
        (FilterConfig, {"shingle_words": 0}, "shingle_words must be an integer >= 1, got 0"),
        (FilterConfig, {"length_unit": "words"}, "length_unit must be one of ['chars', 'tokens']"),
        (ReadOptions, {"prefer": "kinder"}, "prefer must be one of ['better', 'safer'], got"),
        (ReadOptions, {"file_type": "xml"}, "file_type must be one of ['auto', 'jsonl'"),
    ],
)
def test_one_loop_names_key_rule_and_value(cls: type, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        cls(**kwargs)
    assert message in str(exc.value)


def test_unset_optional_settings_pass_and_floats_are_floats() -> None:
    config = FilterConfig(max_similarity=1, near_duplicate_threshold=1)
    assert config.max_length is None and config.tokenizer is None
    assert isinstance(config.max_similarity, float) and config.max_similarity == 1.0
    assert ReadOptions().prompt_column is None


def test_generated_flags_reach_the_config(tmp_path: Path, sample_data: Path) -> None:
    (tmp_path / "settings.yaml").write_text("min_chosen_chars: 1000\nbatch_size: 4\n")
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "filter",
            str(sample_data / "bad_pairs.jsonl"),
            "--out",
            str(out),
            "--config",
            str(tmp_path / "settings.yaml"),
            "--min-chosen-chars",
            "5",  # the flag overrides the file
            "--shingle-words",
            "2",
            "--disable",
            "too_similar",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    settings = json.loads((out / "report.json").read_text())["config"]
    assert settings["min_chosen_chars"] == 5
    assert settings["batch_size"] == 4  # from the file: an unset flag does not override it
    assert settings["shingle_words"] == 2
    assert settings["disable"] == ["too_similar"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "0"], "batch_size must be an integer >= 1, got 0"),
        (["--near-duplicate-threshold", "1.5"], "near_duplicate_threshold must be in (0, 1]"),
        (["--prefer", "kinder"], "prefer must be one of ['better', 'safer']"),
    ],
)
def test_bad_generated_flags_are_one_line(
    args: list[str], message: str, tmp_path: Path, sample_data: Path
) -> None:
    for command in (
        ["filter", str(sample_data / "bad_pairs.jsonl"), "--out", str(tmp_path / "o")],
        ["validate", str(sample_data / "bad_pairs.jsonl")],
    ):
        result = runner.invoke(app, [*command, *args])
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output


def test_inspect_gets_only_the_read_options(sample_data: Path) -> None:
    help_text = runner.invoke(app, ["inspect", "--help"], env={"COLUMNS": "240"}).output
    assert "--prompt-column" in help_text and "--format" in help_text
    assert "--max-similarity" not in help_text and "--config" not in help_text
    result = runner.invoke(
        app, ["inspect", str(sample_data / "bad_pairs.jsonl"), "--format", "trl"]
    )
    assert result.exit_code == 0, result.output
    assert "layout: trl" in result.output
