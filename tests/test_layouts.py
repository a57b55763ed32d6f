"""Each layout on rows in that exact layout (written from each dataset's published schema):
the detected layout, the prompt, the direction of the preference, and ties."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from prefdata.cli.main import app
from prefdata.config import ReadOptions
from prefdata.readers import read_pairs
from prefdata.readers.layouts import LAYOUTS

LONG_A = "The capital of France is Paris, a city on the Seine known for its museums. " * 2
LONG_B = "I am not sure, but it might be Lyon, which is a large city in the south east. " * 2


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def bot(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


# name -> (records, expected (prompt, chosen, rejected) of the first record)
CASES: dict[str, tuple[list[dict[str, Any]], tuple[Any, Any, Any]]] = {
    "trl": (
        [{"prompt": "Capital of France?", "chosen": LONG_A, "rejected": LONG_B}],
        ("Capital of France?", LONG_A, LONG_B),
    ),
    "hh": (
        [
            {
                "chosen": f"\n\nHuman: Capital of France?\n\nAssistant: {LONG_A}",
                "rejected": f"\n\nHuman: Capital of France?\n\nAssistant: {LONG_B}",
            }
        ],
        ("\n\nHuman: Capital of France?\n\nAssistant:", LONG_A, LONG_B),
    ),
    "sharegpt": (
        [
            {
                "conversations": [{"from": "human", "value": "Capital of France?"}],
                "chosen": {"from": "gpt", "value": LONG_A},
                "rejected": {"from": "gpt", "value": LONG_B},
            }
        ],
        ([user("Capital of France?")], [bot(LONG_A)], [bot(LONG_B)]),
    ),
    # HuggingFaceH4/ultrafeedback_binarized
    "h4": (
        [
            {
                "prompt": "Capital of France?",
                "prompt_id": "abc",
                "chosen": [user("Capital of France?"), bot(LONG_A)],
                "rejected": [user("Capital of France?"), bot(LONG_B)],
                "messages": [user("Capital of France?"), bot(LONG_A)],
                "score_chosen": 8.0,
                "score_rejected": 3.0,
            }
        ],
        ([user("Capital of France?")], [bot(LONG_A)], [bot(LONG_B)]),
    ),
    # LLaMA-Factory alpaca preference (dpo_en_demo's alpaca twin)
    "alpaca": (
        [
            {
                "instruction": "Name the capital.",
                "input": "France",
                "system": "Be brief.",
                "history": [["Hello", "Hi! How can I help?"]],
                "chosen": LONG_A,
                "rejected": LONG_B,
            }
        ],
        (
            [
                {"role": "system", "content": "Be brief."},
                user("Hello"),
                bot("Hi! How can I help?"),
                user("Name the capital.\nFrance"),
            ],
            [bot(LONG_A)],
            [bot(LONG_B)],
        ),
    ),
    # Intel/orca_dpo_pairs
    "orca": (
        [
            {
                "system": "You are a helpful assistant.",
                "question": "Capital of France?",
                "chosen": LONG_A,
                "rejected": LONG_B,
            }
        ],
        (
            [
                {"role": "system", "content": "You are a helpful assistant."},
                user("Capital of France?"),
            ],
            [bot(LONG_A)],
            [bot(LONG_B)],
        ),
    ),
    # OpenAI preference fine-tuning JSONL, with typed content parts in the prompt
    "openai": (
        [
            {
                "input": {
                    "messages": [
                        {"role": "user", "content": [{"type": "text", "text": "Capital?"}]}
                    ],
                    "tools": [],
                    "parallel_tool_calls": True,
                },
                "preferred_output": [bot(LONG_A)],
                "non_preferred_output": [bot(LONG_B)],
            }
        ],
        ([user("Capital?")], [bot(LONG_A)], [bot(LONG_B)]),
    ),
    # stanfordnlp/SHP: labels 1 means A is preferred
    "shp": (
        [
            {
                "post_id": "p1",
                "domain": "askculinary_train",
                "history": "Capital of France?",
                "human_ref_A": LONG_B,
                "human_ref_B": LONG_A,
                "labels": 0,
                "score_A": 3,
                "score_B": 40,
            },
            {
                "post_id": "p2",
                "history": "Capital of France?",
                "human_ref_A": LONG_A,
                "human_ref_B": LONG_B + " again",
                "labels": 1,
            },
        ],
        ("Capital of France?", LONG_A, LONG_B),
    ),
    # lmsys/chatbot_arena_conversations
    "arena": (
        [
            {
                "question_id": "q1",
                "model_a": "m1",
                "model_b": "m2",
                "winner": "model_b",
                "conversation_a": [user("Capital of France?"), bot(LONG_B)],
                "conversation_b": [user("Capital of France?"), bot(LONG_A)],
                "turn": 1,
            },
            {
                "question_id": "q2",
                "winner": "tie",
                "conversation_a": [user("Hi"), bot(LONG_A)],
                "conversation_b": [user("Hi"), bot(LONG_B)],
            },
            {
                "question_id": "q3",
                "winner": "tie (bothbad)",
                "conversation_a": [user("Yo"), bot(LONG_A)],
                "conversation_b": [user("Yo"), bot(LONG_B)],
            },
        ],
        ([user("Capital of France?")], [bot(LONG_A)], [bot(LONG_B)]),
    ),
    # PKU-Alignment/PKU-SafeRLHF
    "pku": (
        [
            {
                "prompt": "Capital of France?",
                "response_0": LONG_B,
                "response_1": LONG_A,
                "is_response_0_safe": True,
                "is_response_1_safe": True,
                "better_response_id": 1,
                "safer_response_id": 0,
            }
        ],
        ("Capital of France?", LONG_A, LONG_B),
    ),
}


def _write(tmp_path: Path, name: str, records: list[dict[str, Any]]) -> Path:
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _read(path: Path, options: ReadOptions | None = None) -> tuple[str | None, list, list]:
    goods, bads, layout = [], [], None
    for item in read_pairs([path], options):
        layout = item.info.layout
        goods += item.normalized.good.to_pylist()
        if item.normalized.bad is not None:
            bads += item.normalized.bad.to_pylist()
    return layout, goods, bads


@pytest.mark.parametrize("name", sorted(CASES))
def test_layout_detected_and_read(tmp_path: Path, name: str) -> None:
    records, expected = CASES[name]
    layout, good, _ = _read(_write(tmp_path, name, records))
    assert layout == name
    first = good[0]
    assert (first["prompt"], first["chosen"], first["rejected"]) == expected


def test_every_registered_layout_has_a_case() -> None:
    assert set(LAYOUTS) - {"labelled"} == set(CASES)


def test_arena_ties_are_no_preference_with_detail(tmp_path: Path) -> None:
    _, good, bad = _read(_write(tmp_path, "arena", CASES["arena"][0]))
    assert len(good) == 1
    assert [b["reasons"] for b in bad] == [["no_preference"], ["no_preference"]]
    assert [b["detail"] for b in bad] == ["winner is 'tie'", "winner is 'tie (bothbad)'"]


def test_shp_labels_give_direction(tmp_path: Path) -> None:
    _, good, _ = _read(_write(tmp_path, "shp", CASES["shp"][0]))
    assert [g["chosen"] for g in good] == [LONG_A, LONG_A]
    assert good[0]["post_id"] == "p1" and good[0]["score_B"] == 40  # carried


def test_pku_prefer_safer(tmp_path: Path) -> None:
    path = _write(tmp_path, "pku", CASES["pku"][0])
    _, good, _ = _read(path, ReadOptions(prefer="safer"))
    assert (good[0]["chosen"], good[0]["rejected"]) == (LONG_B, LONG_A)
    assert good[0]["better_response_id"] == 1  # the other label is carried, not consumed


def test_index_labels_read_from_csv_text(tmp_path: Path) -> None:
    # CSV reads every column as text: "0"/"1" labels must still give the direction
    shp = tmp_path / "shp.csv"
    shp.write_text(
        "history,human_ref_A,human_ref_B,labels\n"
        f'Capital?,"{LONG_B}","{LONG_A}",0\nCapital!,"{LONG_A}","{LONG_B}",1\n'
    )
    _, good, bad = _read(shp)
    assert bad == [] and [g["chosen"] for g in good] == [LONG_A, LONG_A]
    pku = tmp_path / "pku.csv"
    pku.write_text(
        "prompt,response_0,response_1,better_response_id,safer_response_id\n"
        f'Capital?,"{LONG_B}","{LONG_A}",1,0\n'
    )
    _, good, bad = _read(pku)
    assert bad == [] and (good[0]["chosen"], good[0]["rejected"]) == (LONG_A, LONG_B)


def test_orca_history_goes_into_the_prompt_once(tmp_path: Path) -> None:
    record = {**CASES["orca"][0][0], "history": [["Hi", "Hello"]]}
    _, good, _ = _read(_write(tmp_path, "orca", [record]))
    assert good[0]["prompt"][1:3] == [user("Hi"), bot("Hello")]
    assert "history" not in good[0]  # read into the prompt, not also carried


def test_h4_rejects_conversations_that_differ_before_the_last_turn(tmp_path: Path) -> None:
    record = dict(CASES["h4"][0][0])
    record["rejected"] = [user("Something else?"), bot(LONG_B)]
    _, good, bad = _read(_write(tmp_path, "h4", [CASES["h4"][0][0], record]))
    assert len(good) == 1
    assert bad[0]["reasons"] == ["malformed_record"] and "last message" in bad[0]["detail"]


def test_generic_labelled_pair_mapping(tmp_path: Path) -> None:
    rows = [
        {"q": "Capital?", "x": LONG_A, "y": LONG_B, "w": "a"},
        {"q": "Capital?", "x": LONG_B, "y": LONG_A + "!", "w": 1},
        {"q": "Capital?", "x": LONG_A, "y": LONG_B, "w": "tie"},
        {"q": "Capital?", "x": LONG_A, "y": LONG_B, "w": None},
        {"q": "Capital?", "x": LONG_A, "y": LONG_B, "w": "maybe"},
    ]
    options = ReadOptions(
        prompt_column="q", response_a_column="x", response_b_column="y", label_column="w"
    )
    layout, good, bad = _read(_write(tmp_path, "labelled", rows), options)
    assert layout == "labelled"
    assert [g["chosen"] for g in good] == [LONG_A, LONG_A + "!"]
    assert [g["rejected"] for g in good] == [LONG_B, LONG_B]
    assert [b["reasons"][0] for b in bad] == ["no_preference", "no_preference", "wrong_type"]


def test_generic_labelled_float_labels_from_pandas(tmp_path: Path) -> None:
    # 0/1 labels with a null for a tie: pandas stores the column as floats
    path = tmp_path / "labelled.parquet"
    frame = pd.DataFrame(
        {"q": ["Capital?"] * 3, "x": [LONG_A, LONG_B, LONG_A], "y": [LONG_B, LONG_A, LONG_B]}
    )
    frame["w"] = [0, 1, None]
    frame.to_parquet(path)
    options = ReadOptions(
        prompt_column="q", response_a_column="x", response_b_column="y", label_column="w"
    )
    _, good, bad = _read(path, options)
    assert [g["chosen"] for g in good] == [LONG_A, LONG_A]
    assert [b["reasons"] for b in bad] == [["no_preference"]]


def test_typed_content_parts_with_value_key(tmp_path: Path) -> None:
    rows = [
        {
            "prompt": [{"role": "user", "content": [{"type": "text", "value": "Hi"}]}],
            "chosen": [{"role": "assistant", "content": [{"type": "text", "text": LONG_A}]}],
            "rejected": [{"role": "assistant", "content": LONG_B}],
        },
        {
            "prompt": [{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}],
            "chosen": [bot(LONG_A)],
            "rejected": [bot(LONG_B)],
        },
    ]
    _, good, bad = _read(_write(tmp_path, "parts", rows))
    assert good[0]["prompt"] == [user("Hi")] and good[0]["chosen"] == [bot(LONG_A)]
    assert bad[0]["reasons"] == ["wrong_type"] and "image_url" in bad[0]["detail"]


def test_ab_swap_of_the_same_comparison_is_not_a_contradiction(tmp_path: Path) -> None:
    rows = [
        {"history": "Capital?", "human_ref_A": LONG_A, "human_ref_B": LONG_B, "labels": 1},
        {"history": "Capital?", "human_ref_A": LONG_B, "human_ref_B": LONG_A, "labels": 0},
    ]
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["filter", str(_write(tmp_path, "shp", rows)), "-o", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["reasons"]["contradictory_pair"] == 0
    assert report["reasons"]["duplicate_pair"] == 1


def test_unused_prompt_column_is_said(tmp_path: Path) -> None:
    rows = [{"question": f"Q{i}?", "chosen": LONG_A, "rejected": LONG_B + str(i)} for i in range(4)]
    path = _write(tmp_path, "q", rows)
    result = CliRunner().invoke(app, ["inspect", str(path), "--format", "trl"])
    assert "looks like a prompt: pass --prompt-column question" in result.output


@pytest.mark.parametrize("name", sorted(CASES))
def test_filter_with_no_flags_on_each_layout(tmp_path: Path, name: str) -> None:
    records, _ = CASES[name]
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["filter", str(_write(tmp_path, name, records)), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    kept = pd.read_parquet(out / "kept.parquet")
    dropped = pq.read_table(out / "dropped.parquet")
    assert len(kept) >= 1
    assert len(kept) + dropped.num_rows == len(records)
    assert "detail" in dropped.schema.names


def test_inspect_lists_formats() -> None:
    result = CliRunner().invoke(app, ["inspect", "--formats"])
    assert result.exit_code == 0
    for name in LAYOUTS:
        assert f"{name}:" in result.output


def test_similarity_skips_pairs_whose_lengths_rule_out_the_threshold() -> None:
    import numpy as np
    import pyarrow as pa

    from prefdata.chunks import run_checks
    from prefdata.config import FilterConfig

    short, long = "a" * 100, "a" * 300  # similarity bound 2*100/400 = 0.5
    batch = pa.RecordBatch.from_pydict(
        {
            "id": ["1", "2"],
            "prompt": ["p", "p"],
            "chosen": [short, long],
            "rejected": [long, long + "b"],
        }
    )
    codes, matrix, view = run_checks(batch, FilterConfig(max_similarity=0.9))
    similarity = view.stats["similarity"]
    assert np.isnan(similarity[0])  # not compared: cannot be above 0.9
    assert similarity[1] > 0.99 and matrix[1, codes.index("too_similar")]
    # with a threshold under the bound the pair is compared (exactly 0.5 here)
    _, _, view = run_checks(batch, FilterConfig(max_similarity=0.4))
    assert view.stats["similarity"][0] == 0.5


def _fast_and_rows(path: Path) -> tuple[list[dict], list[dict]]:
    from prefdata.readers import iter_chunks
    from prefdata.readers.arrow_json import parse_with_arrow
    from prefdata.readers.normalize import Warnings, normalize_columns, normalize_records

    fast, rows = [], []
    for _, layout, chunk in iter_chunks([path]):
        assert layout is not None
        parsed = parse_with_arrow(chunk)
        assert parsed is not None
        columns = normalize_columns(parsed, layout, Warnings())
        assert columns is not None  # the column path took the whole chunk
        fast += columns.good.to_pylist()
        rows += normalize_records(chunk, layout, Warnings()).good.to_pylist()
    return fast, rows


def test_conversational_column_path_matches_the_row_path(tmp_path: Path) -> None:
    sharegpt = [
        {
            "conversations": [
                {"from": "human", "value": f'Q{i} "quoted"\n\\ \x01'},
                {"from": "gpt", "value": "A"},
                {"from": "observation", "value": "tool said"},
                {"from": "human", "value": "more?"},
            ][: 1 + i % 4],
            "chosen": {"from": "gpt", "value": LONG_A + str(i)},
            "rejected": {"from": "gpt", "value": LONG_B},
            "system": ["", "Be brief.", None][i % 3],
            "source": i,
        }
        for i in range(12)
    ]
    trl = [
        {
            "prompt": [user(f"Q{i} é 漢"), bot("x"), user("y")][: 1 + i % 3],
            "chosen": [bot(LONG_A + str(i))],
            "rejected": [bot(LONG_B)],
            "id": None if i % 2 else f"id{i}",
        }
        for i in range(12)
    ]
    openai = [
        {
            "input": {
                "messages": [{"role": "system", "content": "Be brief."}, user(f"Q{i}")][i % 2 :],
                "tools": [],
            },
            "preferred_output": [bot(LONG_A + str(i))],
            "non_preferred_output": [bot(LONG_B)],
        }
        for i in range(12)
    ]

    def turns(i: int, answer: str) -> list[dict[str, str]]:
        if i % 2:
            return [user(f"Q{i}"), bot("A"), user("more"), bot(answer)]
        return [user(f"Q{i}"), bot(answer)]

    h4 = [
        {
            "prompt": f"Q{i}",
            "prompt_id": str(i),
            "chosen": turns(i, LONG_A + str(i)),
            "rejected": turns(i, LONG_B),
            "score_chosen": 8.0,
        }
        for i in range(12)
    ]
    for name, records in (
        ("sharegpt", sharegpt),
        ("trl", trl),
        ("openai", openai),
        ("h4", h4),
    ):
        path = _write(tmp_path, name, records)
        fast, rows = _fast_and_rows(path)
        assert len(fast) == 12 and fast == rows, name


def test_h4_with_responses_only_takes_the_prompt_string(tmp_path: Path) -> None:
    rows = [{"prompt": "Capital?", "chosen": [bot(LONG_A)], "rejected": [bot(LONG_B)]}]
    layout, good, _ = _read(_write(tmp_path, "h4only", rows))
    assert layout == "h4"
    assert (good[0]["prompt"], good[0]["chosen"]) == ([user("Capital?")], [bot(LONG_A)])


def test_llamafactory_demo_column_path_matches_the_row_path(tmp_path: Path) -> None:
    from tests.conftest import shared_file

    demo = json.loads(shared_file("llamafactory/dpo_en_demo.json").read_text(encoding="utf-8"))
    path = tmp_path / "demo.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in demo))
    fast, rows = _fast_and_rows(path)
    assert len(fast) == len(demo) == 300 and fast == rows
    assert all(p["prompt"][-1]["role"] == "user" for p in fast)


def test_date_like_text_stays_text_on_the_column_paths(tmp_path: Path) -> None:
    rows = [
        {"prompt": "p", "chosen": LONG_A, "rejected": LONG_B, "created": "2023-01-01"},
        {
            "prompt": [user("p")],
            "chosen": [bot(LONG_A)],
            "rejected": [bot(LONG_B)],
            "at": "2024-02-03T10:00:00",
        },
    ]
    for i, row in enumerate(rows):
        _, good, _ = _read(_write(tmp_path, f"d{i}", [row]))
        key = "created" if i == 0 else "at"
        assert good[0][key] == row[key]


def test_h4_rows_off_the_common_shape_take_the_row_path(tmp_path: Path) -> None:
    rows = [
        CASES["h4"][0][0],
        {"prompt": "Q ", "chosen": [user("Q"), bot(LONG_A)], "rejected": [user("Q"), bot(LONG_B)]},
        {"prompt": "Q", "chosen": [user("Q"), bot(LONG_A)], "rejected": [user("Q"), bot(LONG_A)]},
    ]
    layout, good, bad = _read(_write(tmp_path, "h4mix", rows))
    assert layout == "h4" and len(good) == 2  # " Q" matches after stripping, as pair() does
    assert bad[0]["reasons"] == ["malformed_record"]  # identical conversations
