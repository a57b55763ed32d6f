"""Converters: HH/ShareGPT to explicit-prompt forms, rated data, KTO and back."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from prefdata.cli.main import app
from prefdata.convert import convert
from prefdata.convert.rated import binarize
from prefdata.convert.shapes import messages_to_text, text_to_messages
from prefdata.errors import ConfigError
from tests.conftest import shared_file


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


HH = {
    "chosen": "\n\nHuman: hi\n\nAssistant: Hello!\n\nHuman: how are you?\n\nAssistant: Fine, thanks.",
    "rejected": "\n\nHuman: hi\n\nAssistant: Hello!\n\nHuman: how are you?\n\nAssistant: Go away.",
}


def test_hh_to_conversational_and_back_to_text(tmp_path: Path) -> None:
    src = _jsonl(tmp_path / "hh.jsonl", [HH])
    convert(src, "conversational", tmp_path / "conv.jsonl")
    row = _read(tmp_path / "conv.jsonl")[0]
    assert row["prompt"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "how are you?"},
    ]
    assert row["chosen"] == [{"role": "assistant", "content": "Fine, thanks."}]
    convert(tmp_path / "conv.jsonl", "text", tmp_path / "text.jsonl")
    back = _read(tmp_path / "text.jsonl")[0]
    # the HH transcript again, split at the last turn as the reader splits it
    assert back["prompt"] + back["chosen"] == HH["chosen"]
    assert back["prompt"] + back["rejected"] == HH["rejected"]


def test_single_user_turn_is_plain_text() -> None:
    assert messages_to_text([{"role": "user", "content": "hi"}]) == ("hi", False)
    assert text_to_messages("just a question") == [{"role": "user", "content": "just a question"}]


def test_sharegpt_to_text(tmp_path: Path) -> None:
    src = tmp_path / "sg.json"
    src.write_text(
        json.dumps(
            [
                {
                    "conversations": [{"from": "human", "value": "Name a colour."}],
                    "chosen": {"from": "gpt", "value": "Blue."},
                    "rejected": {"from": "gpt", "value": "Seven."},
                }
            ]
        ),
        encoding="utf-8",
    )
    convert(src, "text", tmp_path / "out.parquet")
    row = pq.read_table(tmp_path / "out.parquet").to_pylist()[0]
    assert (row["prompt"], row["chosen"], row["rejected"]) == ("Name a colour.", "Blue.", "Seven.")


RATED = [
    {
        "instruction": "q1",
        "source": "s",
        "completions": [
            {"response": "mid", "overall_score": 5},
            {"response": "best", "overall_score": 9},
            {"response": "worst", "overall_score": 2},
            {"response": "low", "overall_score": 3},
        ],
    },
    {
        "instruction": "q2",
        "completions": [
            {"response": "a", "overall_score": 4},
            {"response": "b", "overall_score": 4},
        ],
    },
    {"prompt": "q3", "responses": ["x", "y"], "scores": [1.0, 7.5]},
    {"prompt": "q4", "responses": ["only"], "scores": [1]},
]


def test_binarize_best_worst_drops_ties_and_keeps_scores() -> None:
    from collections import Counter

    skipped: Counter[str] = Counter()
    pairs = list(binarize(iter(RATED), skipped=skipped))
    assert [(p["prompt"], p["chosen"], p["rejected"]) for p in pairs] == [
        ("q1", "best", "worst"),
        ("q3", "y", "x"),
    ]
    assert (pairs[0]["score_chosen"], pairs[0]["score_rejected"]) == (9.0, 2.0)
    assert pairs[0]["source"] == "s"
    assert skipped == {"tied_scores": 1, "fewer_than_two_completions": 1}


def test_binarize_best_random_is_seeded_and_always_lower() -> None:
    runs = [
        [p["rejected"] for p in binarize(iter(RATED * 20), pairing="best_random", seed=s)]
        for s in (1, 1, 2)
    ]
    assert runs[0] == runs[1] != runs[2]
    assert set(runs[0]) == {"mid", "worst", "low", "x"}


def test_rated_file_through_the_cli(tmp_path: Path) -> None:
    src = _jsonl(tmp_path / "rated.jsonl", RATED)
    result = CliRunner().invoke(
        app, ["convert", str(src), "--to", "conversational", "--out", str(tmp_path / "pairs.jsonl")]
    )
    assert result.exit_code == 0, result.output
    assert "tied_scores" in result.output
    rows = _read(tmp_path / "pairs.jsonl")
    assert rows[0]["prompt"] == [{"role": "user", "content": "q1"}]
    bad = CliRunner().invoke(
        app, ["convert", str(src), "--to", "unpaired", "--out", str(tmp_path / "x.jsonl")]
    )
    assert bad.exit_code == 2 and "rated" in bad.output


def test_unpaired_round_trip(tmp_path: Path) -> None:
    pairs = [
        {"prompt": f"p{i % 3}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(6)
    ]
    src = _jsonl(tmp_path / "pairs.jsonl", pairs)
    convert(src, "unpaired", tmp_path / "kto.jsonl")
    kto = _read(tmp_path / "kto.jsonl")
    assert len(kto) == 12 and sum(r["label"] for r in kto) == 6
    assert {k for r in kto for k in r} >= {"prompt", "completion", "label"}
    result = convert(tmp_path / "kto.jsonl", "paired", tmp_path / "back.jsonl")
    back = _read(tmp_path / "back.jsonl")
    key = lambda r: (r["prompt"], r["chosen"], r["rejected"])  # noqa: E731
    assert (
        sorted(map(key, back)) == sorted(map(key, pairs))
        and result.skipped.get("unmatched", 0) == 0
    )


def test_llamafactory_kto(tmp_path: Path) -> None:
    path = shared_file("llamafactory/kto_en_demo.json")
    result = convert(path, "paired", tmp_path / "p.jsonl")
    records = json.loads(path.read_text(encoding="utf-8"))
    assert result.input_kind == "unpaired"
    # every record is used or counted as unmatched
    assert 2 * result.rows_written + result.skipped.get("unmatched", 0) == len(records)


def test_hh_shared_file_converts_every_row(tmp_path: Path) -> None:
    path = shared_file("hh-rlhf/harmless-base-test.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        records = sum(1 for line in f if line.strip())
    result = convert(path, "conversational", tmp_path / "hh.parquet")
    assert result.rows_written + sum(result.skipped.values()) == records


def test_bad_target(tmp_path: Path) -> None:
    src = _jsonl(tmp_path / "pairs.jsonl", [{"prompt": "p", "chosen": "a", "rejected": "b"}])
    with pytest.raises(ConfigError, match="--to must be"):
        convert(src, "kto", tmp_path / "x.jsonl")
    with pytest.raises(ConfigError, match="output format"):
        convert(src, "text", tmp_path / "x.txt")
