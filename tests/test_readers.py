"""Readers: every container and layout becomes the canonical pair schema."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from prefdata.config import ReadOptions
from prefdata.errors import InputError
from prefdata.readers import detect_input, read_pairs
from prefdata.readers.layouts import BadRecord, split_hh
from prefdata.readers.normalize import _derived_ids
from prefdata.schema import MESSAGES, derive_id
from tests.conftest import shared_file

PAIR = {
    "prompt": "Name a prime.",
    "chosen": "Seven is a prime number: its only divisors are 1 and 7.",
    "rejected": "Nine, I believe, though I am not sure about that.",
}


def _rows(paths: list[Path], **options: object) -> tuple[list[dict], list[dict]]:
    good, bad = [], []
    for item in read_pairs(paths, ReadOptions(**options)):  # type: ignore[arg-type]
        good += pa.Table.from_batches([item.normalized.good]).to_pylist()
        if item.normalized.bad is not None:
            bad += item.normalized.bad.to_pylist()
    return good, bad


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def test_jsonl_trl_explicit_keeps_other_columns(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "a.jsonl", [{**PAIR, "id": "x1", "score": 3, "meta": {"k": "v"}}])
    good, bad = _rows([path])
    assert bad == []
    assert good[0]["id"] == "x1" and good[0]["score"] == 3 and good[0]["meta"] == {"k": "v"}
    assert (good[0]["prompt"], good[0]["chosen"]) == (PAIR["prompt"], PAIR["chosen"])


def test_ids_are_derived_from_content_when_absent(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "a.jsonl", [PAIR, PAIR])
    good, _ = _rows([path])
    assert (
        good[0]["id"]
        == good[1]["id"]
        == derive_id(PAIR["prompt"], PAIR["chosen"], PAIR["rejected"])
    )


def test_gzip_json_array_csv_parquet_and_hf_folder_read_alike(tmp_path: Path) -> None:
    rows = [dict(PAIR, id=str(i)) for i in range(5)]
    gz = tmp_path / "a.jsonl.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    array = tmp_path / "a.json"
    array.write_text(json.dumps(rows))
    table = pa.Table.from_pylist(rows)
    pq.write_table(table, tmp_path / "a.parquet")
    folder = tmp_path / "parts"
    folder.mkdir()
    pq.write_table(table.slice(0, 2), folder / "p0.parquet")
    pq.write_table(table.slice(2), folder / "p1.parquet")
    with open(tmp_path / "a.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    import datasets

    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "hf"))
    for path in (gz, array, tmp_path / "a.parquet", folder, tmp_path / "a.csv", tmp_path / "hf"):
        good, bad = _rows([path])
        assert [(g["id"], g["prompt"], g["chosen"], g["rejected"]) for g in good] == [
            (r["id"], r["prompt"], r["chosen"], r["rejected"]) for r in rows
        ], path
        assert bad == []


def test_hh_prompt_ends_at_the_last_shared_assistant_marker() -> None:
    chosen = (
        "\n\nHuman: hi\n\nAssistant: Hello there\n\nHuman: tell me a joke\n\nAssistant: Why did the"
    )
    rejected = (
        "\n\nHuman: hi\n\nAssistant: Hello there\n\nHuman: tell me a joke\n\nAssistant: Why not"
    )
    prompt, c, r = split_hh(chosen, rejected)
    # a character-level common prefix would end at "Why " mid-answer; whole turns do not
    assert prompt.endswith("tell me a joke\n\nAssistant:")
    assert (c, r) == ("Why did the", "Why not")


def test_hh_diverging_conversations_split_at_the_earlier_turn() -> None:
    chosen = "\n\nHuman: hi\n\nAssistant: Hello\n\nHuman: A\n\nAssistant: one"
    rejected = "\n\nHuman: hi\n\nAssistant: Hello\n\nHuman: B\n\nAssistant: two"
    prompt, c, r = split_hh(chosen, rejected)
    assert prompt == "\n\nHuman: hi\n\nAssistant:"
    assert c.startswith("Hello\n\nHuman: A") and r.startswith("Hello\n\nHuman: B")
    with pytest.raises(BadRecord):
        split_hh("\n\nHuman: a", "\n\nHuman: b")


def test_hh_columnar_split_matches_the_row_rule(tmp_path: Path) -> None:
    rows = [
        {
            "chosen": "\n\nHuman: q\n\nAssistant: yes indeed",
            "rejected": "\n\nHuman: q\n\nAssistant: no",
        },
        {
            "chosen": "\n\nHuman: a\n\nAssistant: x\n\nHuman: b\n\nAssistant: y",
            "rejected": "\n\nHuman: a\n\nAssistant: x\n\nHuman: c\n\nAssistant: z",
        },
        {
            "chosen": "\n\nHuman: é 漢字\n\nAssistant:  two spaces",
            "rejected": "\n\nHuman: é 漢字\n\nAssistant:",
        },
        {"chosen": "\n\nHuman: no marker", "rejected": "\n\nHuman: none"},
    ]
    good, bad = _rows([_jsonl(tmp_path / "hh.jsonl", rows)])
    assert [(g["prompt"], g["chosen"], g["rejected"]) for g in good] == [
        split_hh(r["chosen"], r["rejected"]) for r in rows[:3]
    ]
    assert [b["reasons"] for b in bad] == [["malformed_record"]]


def test_hh_real_file_splits(tmp_path: Path) -> None:
    path = shared_file("hh-rlhf/harmless-base-test.jsonl.gz")
    good, bad = _rows([path])
    assert len(good) + len(bad) == 2312
    assert all(g["prompt"].endswith("\n\nAssistant:") for g in good)


def test_sharegpt_becomes_conversational_with_system(tmp_path: Path) -> None:
    record = {
        "conversations": [
            {"from": "system", "value": "Be brief."},
            {"from": "human", "value": "Hi"},
        ],
        "chosen": {"from": "gpt", "value": "Hello!"},
        "rejected": {"from": "gpt", "value": "Go."},
        "system": "Extra system",
        "lang": "en",
    }
    good, _ = _rows([_jsonl(tmp_path / "s.jsonl", [record])])
    assert good[0]["prompt"] == [
        {"role": "system", "content": "Extra system"},
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert good[0]["chosen"] == [{"role": "assistant", "content": "Hello!"}]
    assert good[0]["lang"] == "en"


def test_llamafactory_real_file(tmp_path: Path) -> None:
    good, bad = _rows([shared_file("llamafactory/dpo_en_demo.json")])
    assert len(good) == 300 and bad == []
    assert sum(len(g["prompt"]) > 1 for g in good) >= 186


def test_trl_conversational_implicit_prompt(tmp_path: Path) -> None:
    convo = [{"role": "user", "content": "2+2?"}]
    record = {
        "chosen": [*convo, {"role": "assistant", "content": "4"}],
        "rejected": [*convo, {"role": "assistant", "content": "5"}],
    }
    good, _ = _rows([_jsonl(tmp_path / "c.jsonl", [record])])
    assert good[0]["prompt"] == convo
    assert good[0]["chosen"] == [{"role": "assistant", "content": "4"}]


def test_trl_implicit_text_prompt_never_ends_mid_word(tmp_path: Path) -> None:
    record = {
        "chosen": "Question: colour of sky? Answer: blue",
        "rejected": "Question: colour of sky? Answer: black",
    }
    good, _ = _rows([_jsonl(tmp_path / "t.jsonl", [record])])
    assert good[0]["prompt"] == "Question: colour of sky? Answer: "
    assert (good[0]["chosen"], good[0]["rejected"]) == ("blue", "black")


def test_column_mapping(sample_data: Path) -> None:
    good, bad = _rows(
        [sample_data / "pairs.csv"],
        prompt_column="question",
        chosen_column="good_answer",
        rejected_column="bad_answer",
    )
    assert good and bad == []
    assert "topic" in good[0]


def test_unknown_columns_say_what_to_pass(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "x.jsonl", [{"question": "q", "answer_a": "a", "answer_b": "b"}])
    with pytest.raises(InputError, match=r"no column 'chosen'.*answer_a.*--chosen-column"):
        _rows([path])


def test_parquet_with_other_columns_is_a_clear_error(tmp_path: Path) -> None:
    pq.write_table(pa.table({"text": ["a"], "label": [1]}), tmp_path / "o.parquet")
    with pytest.raises(InputError, match="no column 'chosen'"):
        _rows([tmp_path / "o.parquet"])


def test_missing_file_and_unknown_type(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        _rows([tmp_path / "nope.jsonl"])
    odd = tmp_path / "data.bin"
    odd.write_bytes(b"\x00\x01binary")
    with pytest.raises(InputError, match="--file-type"):
        _rows([odd])


def test_detect_input(sample_data: Path) -> None:
    info, layout = detect_input(sample_data / "sharegpt_zh.json")
    assert (info.file_type, info.layout, info.shape) == ("json", "sharegpt", "conversational")
    assert layout is not None


def test_blank_lines_are_not_records_but_keep_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text(json.dumps(PAIR) + "\n\n   \n" + "{broken\n" + json.dumps(PAIR) + "\n")
    good, bad = _rows([path])
    assert [g["source_row"] for g in good] == [0, 4]
    assert [(b["source_row"], b["reasons"]) for b in bad] == [(3, ["malformed_record"])]


_MESSAGE_TEXT = st.one_of(st.none(), st.text(max_size=30))
_MESSAGES = st.lists(
    st.fixed_dictionaries({"role": _MESSAGE_TEXT, "content": _MESSAGE_TEXT}), max_size=4
)


@given(
    st.lists(st.tuples(st.text(), st.text(), st.text()), min_size=1, max_size=8), st.integers(0, 3)
)
def test_text_ids_are_schema_derive_id(rows: list[tuple[str, str, str]], start: int) -> None:
    # ids of text pairs are hashed per row and spelled in hex for the whole column at once
    triple = [pa.array([row[k] for row in rows], pa.string()).slice(start) for k in range(3)]
    got = _derived_ids(triple, text=True).to_pylist()
    assert got == [derive_id(*row) for row in rows[start:]]


@given(st.lists(st.tuples(_MESSAGES, _MESSAGES, _MESSAGES), min_size=1, max_size=5))
def test_conversation_ids_are_schema_derive_id(rows: list[tuple[Any, Any, Any]]) -> None:
    # the columnar path writes the JSON with orjson; ids must stay what derive_id gives
    triple = [pa.array([row[k] for row in rows], MESSAGES) for k in range(3)]
    got = _derived_ids(triple, text=False).to_pylist()
    read_back = zip(*(c.to_pylist() for c in triple), strict=True)  # as the readers see them
    assert got == [derive_id(*row) for row in read_back]
