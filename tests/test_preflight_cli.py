"""`prefdata preflight`: files written, ledger accounting, suggestions, and on real data
(HH harmless test, LLaMA-Factory's dpo_en_demo) the ledger equals what TRL's own
preparation keeps and truncates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

pytest.importorskip("trl")

from prefdata.cli.main import app
from prefdata.preflight import codes, preflight, source
from prefdata.tokenization import load_tokenizer
from tests.conftest import shared_file
from tests.test_preflight_trl import CHATML, LLAMA3, THINK, _tokenizer, _trl_reference

runner = CliRunner()


def _pairs(path: Path, n: int = 40) -> Path:
    long = "the quick brown fox jumps over the lazy dog " * 4
    rows = {
        "id": [f"p{i}" for i in range(n)],
        "prompt": ["hello world,\n" * (1 + i % 7) for i in range(n)],
        "chosen": [long * (1 + i % 3) for i in range(n)],
        "rejected": ["go away" for _ in range(n)],
    }
    pq.write_table(pa.table(rows), path)
    return path


def test_cli_writes_the_ledger_and_per_pair_file(tiny_tokenizer: Path, tmp_path: Path) -> None:
    data = _pairs(tmp_path / "pairs.parquet")
    out = tmp_path / "pf"
    args = ["preflight", str(data), "--tokenizer", str(tiny_tokenizer), "--out", str(out)]
    result = runner.invoke(app, [*args, "--max-length", "40"])
    assert result.exit_code == 0, result.output
    ledger = json.loads((out / "preflight.json").read_text())
    per_pair = pq.read_table(out / "preflight.parquet")
    assert per_pair.num_rows == ledger["rows_in"] == 40
    assert ledger["rows_in"] == ledger["kept"] + ledger["dropped"]
    assert ledger["truncated"] > 0 and "suggest max_length=" in result.output
    # the suggested max_length keeps 99% of pairs whole: rerun with it and check
    suggested = next(s for s in ledger["suggestions"] if s["setting"] == "max_length")
    again = runner.invoke(app, [*args, "--max-length", str(suggested["value"])])
    assert again.exit_code == 0, again.output
    whole = json.loads((out / "preflight.json").read_text())
    assert whole["truncated"] + whole["dropped"] <= 0.01 * whole["rows_in"]
    assert whole["kept"] == suggested["gives"]["kept"]


def test_fail_on_gates_ci(tiny_tokenizer: Path, tmp_path: Path) -> None:
    data = _pairs(tmp_path / "pairs.parquet")
    args = [
        "preflight",
        str(data),
        "--tokenizer",
        str(tiny_tokenizer),
        "--out",
        str(tmp_path / "o"),
    ]
    cut = runner.invoke(app, [*args, "--max-length", "40", "--fail-on", "response_truncated"])
    assert cut.exit_code == 1 and "gate failed" in cut.output
    whole = runner.invoke(app, [*args, "--max-length", "4000", "--fail-on", "response_truncated"])
    assert whole.exit_code == 0, whole.output


def test_cli_bad_input_is_one_line(tiny_tokenizer: Path, tmp_path: Path) -> None:
    data = _pairs(tmp_path / "pairs.parquet")
    base = ["preflight", str(data), "--out", str(tmp_path / "o")]
    lf_prompt_limit = ["--trainer", "llamafactory", "--max-prompt-length", "10"]
    cases = [
        [*base, "--tokenizer", str(tmp_path / "none")],
        [*base, "--tokenizer", str(tiny_tokenizer), "--trainer", "axolotl"],
        [*base, "--tokenizer", str(tiny_tokenizer), "--max-prompt-length", "10"],
        # LLaMA-Factory has no prompt limit either: refused, not silently ignored
        [*base, "--tokenizer", str(tiny_tokenizer), *lf_prompt_limit],
        [*base, "--tokenizer", str(tiny_tokenizer), "--truncation-mode", "middle"],
        [*base, "--tokenizer", str(tiny_tokenizer), "--fail-on", "too_long"],
        [
            "preflight",
            str(tmp_path / "missing.jsonl"),
            "--tokenizer",
            str(tiny_tokenizer),
            "--out",
            "o",
        ],
    ]
    for args in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
        assert result.output.strip().startswith("error:"), result.output


def test_keep_end_suggestion_keeps_the_pairs_keep_start_drops(tiny_tokenizer: Path) -> None:
    tokenizer = load_tokenizer(str(tiny_tokenizer))
    table = pa.table(
        {"prompt": ["hello world,\n" * 30, "hello\n"], "chosen": ["a", "b"], "rejected": ["c", "d"]}
    )
    start = preflight(table, tokenizer, max_length=20)
    assert start.ledger["dropped_by_reason"][codes.PROMPT_FILLS_MAX_LENGTH] == 1
    hint = next(s for s in start.ledger["suggestions"] if s["setting"] == "truncation_mode")
    end = preflight(table, tokenizer, max_length=20, truncation_mode="keep_end")
    assert hint["gives"]["kept"] == end.ledger["kept"] == 2


def _ledger_against_trl(table: pa.Table, tokenizer: Any, max_length: int) -> dict[str, int]:
    # row numbers as ids: a content-derived id repeats on duplicate pairs
    row = pa.array([str(i) for i in range(table.num_rows)])
    table = table.set_column(table.column_names.index("id"), "id", row)
    ledger = preflight(table, tokenizer, max_length=max_length).ledger
    trl = _trl_reference(table.to_pylist(), tokenizer, max_length, "keep_start")
    trl_truncated = sum(
        max(r["chosen_tokens"], r["rejected_tokens"]) + r["prompt_tokens"] > max_length
        for r in trl.values()
    )
    assert (ledger["kept"], ledger["truncated"]) == (len(trl), trl_truncated)
    return {"rows": ledger["rows_in"], "kept": ledger["kept"], "truncated": ledger["truncated"]}


@pytest.mark.slow
def test_hh_ledger_equals_trls_preparation(tiny_tokenizer: Path) -> None:
    table, unreadable = source.load(shared_file("hh-rlhf/harmless-base-test.jsonl.gz"))
    assert unreadable == {} and "prompt" not in table.column_names  # TRL extracts prompts
    got = _ledger_against_trl(table, load_tokenizer(str(tiny_tokenizer)), 512)
    assert got["rows"] == 2312 and got["kept"] < 2312 and got["truncated"] > 0


@pytest.mark.slow
def test_llamafactory_demo_ledger_equals_trls_preparation(tmp_path: Path) -> None:
    table, unreadable = source.load(shared_file("llamafactory/dpo_en_demo.json"))
    assert table.num_rows + sum(unreadable.values()) == 300
    templates = {"l": (LLAMA3, True, "<|eot_id|>"), "c": (CHATML, False, "<|im_end|>")}
    templates["t"] = (THINK, False, "<|im_end|>")
    for name, (template, bos, eos) in templates.items():
        tokenizer = load_tokenizer(str(_tokenizer(tmp_path / name, template, bos=bos, eos=eos)))
        got = _ledger_against_trl(table, tokenizer, 256)
        assert got["truncated"] > 0


def test_every_preflight_code_is_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert [c for c in codes.ALL if f"| `{c}` |" not in readme] == []
    help_text = runner.invoke(app, ["preflight", "--help"]).output
    for flag in ("--tokenizer", "--trainer", "--max-length", "--truncation-mode", "--fail-on"):
        assert flag in help_text


def test_zh_demo_style_ledger_equals_trls_preparation(tmp_path: Path) -> None:
    # dpo_zh_demo-style: ShareGPT with Chinese text, read by prefdata's readers
    long = "敏捷的棕色狐狸跳过了懒狗。" * 6
    records = [
        {
            "conversations": [{"from": "human", "value": q}],
            "chosen": {"from": "gpt", "value": c},
            "rejected": {"from": "gpt", "value": r},
        }
        for q, c, r in [
            ("你好，今天怎么样？", "我很好，谢谢。", "走开"),
            ("请介绍一下狐狸。", long + "好", long + "坏"),
            (long * 2, "蓝色", "绿色"),
            ("天空是什么颜色？", long, "蓝色"),
        ]
    ]
    path = tmp_path / "dpo_zh_style.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    table, unreadable = source.load(path)
    assert unreadable == {} and table.num_rows == 4
    tokenizer = load_tokenizer(
        str(_tokenizer(tmp_path / "tok", CHATML, bos=False, eos="<|im_end|>"))
    )
    truncated = [_ledger_against_trl(table, tokenizer, n)["truncated"] for n in (64, 160, 400)]
    assert max(truncated) > 0
    assert _ledger_against_trl(table, tokenizer, 64)["kept"] < 4  # the long prompt is dropped
