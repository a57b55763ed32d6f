"""convert on ranked (Nectar), per-response rated (HelpSteer2), PKU and to OpenAI's format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from typer.testing import CliRunner

from prefdata.cli.main import app
from prefdata.config import ReadOptions
from prefdata.convert import convert
from prefdata.readers import read_pairs

A = "Paris is the capital of France, and it has been for a very long time now."
B = "I think that it is Lyon, but I am really not sure about that one at all."
C = "France? I do not know anything about France or about its cities, sorry."


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


NECTAR = [
    {
        "prompt": "\n\nHuman: Capital of France?\n\nAssistant:",
        "answers": [
            {"answer": B, "model": "m2", "rank": 2.0},
            {"answer": C, "model": "m3", "rank": 3.0},
            {"answer": A, "model": "m1", "rank": 1.0},
        ],
        "turns": 1,
        "num_responses": 3,
        "source": ["sharegpt"],
        "good_natured": True,
    },
    {
        "prompt": "\n\nHuman: Hi\n\nAssistant:",
        "answers": [
            {"answer": A, "model": "m1", "rank": 1},
            {"answer": B, "model": "m2", "rank": 1},
        ],
    },
]


def test_nectar_lower_rank_is_better_and_ties_are_skipped(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    result = convert(_jsonl(tmp_path / "n.jsonl", NECTAR), "text", out)
    [row] = _read(out)
    assert (row["chosen"], row["rejected"]) == (A, C)
    assert (row["rank_chosen"], row["rank_rejected"]) == (1.0, 3.0)
    assert row["prompt"] == NECTAR[0]["prompt"] and row["good_natured"] is True
    assert result.skipped == {"tied_scores": 1}


HELPSTEER = [
    {
        "prompt": "Capital?",
        "response": B,
        "helpfulness": 2,
        "correctness": 1,
        "coherence": 4,
        "complexity": 1,
        "verbosity": 1,
    },
    {
        "prompt": "Capital?",
        "response": A,
        "helpfulness": 4,
        "correctness": 4,
        "coherence": 4,
        "complexity": 1,
        "verbosity": 2,
    },
    {
        "prompt": "Hi",
        "response": A,
        "helpfulness": 3,
        "correctness": 3,
        "coherence": 4,
        "complexity": 1,
        "verbosity": 1,
    },
    {
        "prompt": "Hi",
        "response": B,
        "helpfulness": 3,
        "correctness": 1,
        "coherence": 4,
        "complexity": 1,
        "verbosity": 1,
    },
]


def test_helpsteer_rows_by_one_attribute_and_by_weights(tmp_path: Path) -> None:
    src = _jsonl(tmp_path / "h.jsonl", HELPSTEER)
    out = tmp_path / "o.jsonl"
    result = convert(src, "text", out)
    assert result.input_kind == "rated_rows"
    rows = _read(out)
    assert [(r["prompt"], r["chosen"], r["rejected"]) for r in rows] == [("Capital?", A, B)]
    assert result.skipped == {"tied_scores": 1}  # "Hi": equal helpfulness
    result = convert(src, "text", out, score="helpfulness=1,correctness=0.5")
    rows = _read(out)
    assert [(r["prompt"], r["chosen"]) for r in rows] == [("Capital?", A), ("Hi", A)]
    assert rows[0]["score_chosen"] == 6.0 and rows[0]["score_rejected"] == 2.5


def test_helpsteer_rows_from_csv_read_scores_from_text(tmp_path: Path) -> None:
    # CSV reads every column as text: the scores must still count
    src = tmp_path / "h.csv"
    pd.DataFrame(HELPSTEER).to_csv(src, index=False)
    result = convert(src, "text", tmp_path / "o.jsonl")
    assert result.rows_written == 1 and result.skipped == {"tied_scores": 1}
    assert _read(tmp_path / "o.jsonl")[0]["chosen"] == A


def test_pku_prefer_safer_through_convert(tmp_path: Path) -> None:
    rows = [
        {
            "prompt": "Q?",
            "response_0": A,
            "response_1": B,
            "better_response_id": 0,
            "safer_response_id": 1,
        }
    ]
    src = _jsonl(tmp_path / "p.jsonl", rows)
    out = tmp_path / "o.jsonl"
    result = CliRunner().invoke(
        app, ["convert", str(src), "--to", "text", "-o", str(out), "--prefer", "safer"]
    )
    assert result.exit_code == 0, result.output
    assert _read(out)[0]["chosen"] == B


def test_to_openai_round_trips_and_refuses_what_it_cannot_express(tmp_path: Path) -> None:
    user = {"role": "user", "content": "Capital?"}
    rows = [
        {"prompt": "Capital?", "chosen": A, "rejected": B},
        {
            "prompt": [{"role": "system", "content": "Be brief."}, user],
            "chosen": [{"role": "assistant", "content": A}],
            "rejected": [{"role": "assistant", "content": B}],
        },
        {
            "prompt": [user],
            "chosen": [
                {"role": "assistant", "content": A},
                {"role": "user", "content": "more"},
                {"role": "assistant", "content": C},
            ],
            "rejected": [{"role": "assistant", "content": B}],
        },
        {
            "prompt": [user, {"role": "tool", "content": "42"}],
            "chosen": [{"role": "assistant", "content": A}],
            "rejected": [{"role": "assistant", "content": B}],
        },
        {
            "prompt": [user],
            "chosen": [{"role": "assistant", "content": "  "}],
            "rejected": [{"role": "assistant", "content": B}],
        },
    ]
    src = _jsonl(tmp_path / "c.jsonl", [rows[0]])
    out = tmp_path / "o.jsonl"
    convert(src, "openai", out)
    [line] = _read(out)
    assert line == {
        "input": {"messages": [user]},
        "preferred_output": [{"role": "assistant", "content": A}],
        "non_preferred_output": [{"role": "assistant", "content": B}],
    }
    src = _jsonl(tmp_path / "m.jsonl", rows[1:])
    result = convert(src, "openai", out)
    assert result.rows_written == 1
    assert result.skipped == {
        "response_not_one_assistant_message": 1,
        "unsupported_role": 1,
        "empty_message": 1,
    }
    # and what was written reads back, as the openai layout, to the same pair
    [item] = list(read_pairs([out], ReadOptions()))
    assert item.info.layout == "openai"
    back = item.normalized.good.to_pylist()[0]
    assert back["prompt"] == rows[1]["prompt"] and back["chosen"] == rows[1]["chosen"]


def test_rated_to_openai(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    convert(_jsonl(tmp_path / "n.jsonl", NECTAR), "openai", out)
    [line] = _read(out)
    assert line["input"]["messages"] == [{"role": "user", "content": "Capital of France?"}]
    assert line["preferred_output"][0]["content"] == A
