"""Pre-flight for LLaMA-Factory equals its real pairwise preprocessing, per pair.

LLaMA-Factory cannot be installed beside TRL 1.16, so its outputs were recorded by
``tests/fixtures/llamafactory/record.py`` (its own venv, its own converter and
``PairwiseDatasetProcessor``) with the tokenizers saved beside them; here prefdata reads
the same ShareGPT and pairwise Alpaca files itself and must give the same numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

pytest.importorskip("transformers")

from prefdata.preflight import codes, source
from prefdata.preflight import llamafactory as lf
from prefdata.tokenization import load_tokenizer
from tests.conftest import SHARED_DATA

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "llamafactory"
RECORDED = json.loads((FIXTURES / "outputs.json").read_text())


def _expected(key: str) -> list[dict[str, Any] | None]:
    rows = RECORDED["results"][key]
    return [None if r is None else dict(zip(RECORDED["fields"], r, strict=True)) for r in rows]


def _data(dataset: str) -> pa.Table:
    path = FIXTURES / ("alpaca.json" if dataset == "alpaca" else "pairs.json")
    if dataset == "dpo_en_demo":
        path = SHARED_DATA / "llamafactory" / "dpo_en_demo.json"
        if not path.exists():
            pytest.skip(f"{path} not present (../shared/data is optional)")
    table, unreadable = source.load(path)
    assert unreadable == {}
    return table


@pytest.mark.parametrize("key", list(RECORDED["results"]))
def test_counts_and_decisions_equal_llamafactorys(key: str) -> None:
    run, cutoff, dataset = key.split("/")
    name, _, template = run.partition("+")  # TOK+NAME: LLaMA-Factory's named template
    tokenizer = load_tokenizer(str(FIXTURES / f"tok_{name}"))
    per_pair = lf.plan(
        _data(dataset), tokenizer, cutoff_len=int(cutoff), template_name=template or None
    ).to_pylist()
    expected = _expected(key)
    assert len(per_pair) == len(expected)
    for got, want in zip(per_pair, expected, strict=True):
        if want is None:
            assert not got["kept"] and got["reasons"] == [codes.INVALID_TURNS], got["row"]
        else:
            assert got["kept"] and {k: got[k] for k in want} == want, got["row"]


def test_known_llamafactory_failures_are_reported() -> None:
    tokenizer = load_tokenizer(str(FIXTURES / "tok_llama3"))
    rows = lf.plan(_data("pairs"), tokenizer, cutoff_len=48).to_pylist()
    # the cutoff cuts the end token from the long chosen but not from the short rejected
    assert {codes.RESPONSE_TRUNCATED, codes.EOS_MISMATCH} <= set(rows[1]["reasons"])
    assert codes.PROMPT_TRUNCATED in rows[2]["reasons"]
    assert codes.IDENTICAL_AFTER_TRUNCATION in rows[3]["reasons"]
    assert rows[5]["reasons"] == [codes.INVALID_TURNS] and not rows[5]["kept"]
    assert rows[0]["reasons"] == []


def test_cli_ledger_for_llamafactory(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from prefdata.cli.main import app

    args = ["preflight", str(FIXTURES / "pairs.json"), "--trainer", "llamafactory"]
    args += ["--tokenizer", str(FIXTURES / "tok_llama3"), "--max-length", "48"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    ledger = json.loads((tmp_path / "preflight.json").read_text())
    recorded = _expected("llama3/48/pairs")
    assert ledger["kept"] == sum(r is not None for r in recorded)
    assert ledger["rows_in"] == ledger["kept"] + ledger["dropped"] == len(recorded)
    assert ledger["dropped_by_reason"][codes.INVALID_TURNS] == 1
    # pairs LLaMA-Factory cut: what it kept at 48 differs from what it kept at 1024
    whole = _expected("llama3/1024/pairs")
    sizes = ("prompt_kept_tokens", "chosen_completion_kept", "rejected_completion_kept")
    cut = [
        a
        for a, b in zip(recorded, whole, strict=True)
        if a and b and any(a[k] != b[k] for k in sizes)
    ]
    assert ledger["truncated"] == len(cut) > 0
    assert any(s["setting"] == "cutoff_len" for s in ledger["suggestions"])


def test_named_template_leaves_the_shared_tokenizer_alone() -> None:
    """``qwen`` on the Llama-3-style tokenizer replaces its EOS (as LLaMA-Factory does):
    on a copy, since load_tokenizer's tokenizer is shared by the whole process."""
    tokenizer = load_tokenizer(str(FIXTURES / "tok_llama3"))
    before = (tokenizer.eos_token, len(tokenizer))
    fixed, _ = lf.encoder_for(tokenizer, "qwen")
    assert fixed.eos_token == "<|im_end|>" and fixed is not tokenizer
    assert (tokenizer.eos_token, len(tokenizer)) == before
    fixed, _ = lf.encoder_for(tokenizer, "llama3")  # adds <|eom_id|> as a stop word
    assert "<|eom_id|>" in fixed.get_vocab() and "<|eom_id|>" not in tokenizer.get_vocab()


def test_cli_template_option(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from prefdata.cli.main import app

    base = ["preflight", str(FIXTURES / "pairs.json"), "--tokenizer", str(FIXTURES / "tok_chatml")]
    base += ["--max-length", "48", "--out", str(tmp_path)]
    runner = CliRunner()
    result = runner.invoke(app, [*base, "--trainer", "llamafactory", "--template", "qwen"])
    assert result.exit_code == 0, result.output
    assert "template=qwen" in result.output
    ledger = json.loads((tmp_path / "preflight.json").read_text())
    assert ledger["template"] == "qwen"
    recorded = _expected("chatml+qwen/48/pairs")
    assert ledger["kept"] == sum(r is not None for r in recorded)
    for args, says in (
        ([*base, "--trainer", "llamafactory", "--template", "qwen3"], "not modelled"),
        ([*base, "--template", "qwen"], "names a LLaMA-Factory template"),
    ):
        refused = runner.invoke(app, args)
        assert refused.exit_code == 2, refused.output
        assert says in " ".join(refused.output.split()) and "Traceback" not in refused.output


def test_batched_encoding_equals_llamafactorys_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch (distinct strings once, Rust tokenizer directly) and the fallback
    (``tokenizer.encode`` per string, as LLaMA-Factory calls it) give the same plan."""
    tokenizer = load_tokenizer(str(FIXTURES / "tok_llama3"))
    data = pa.concat_tables([_data("pairs"), _data("pairs")])  # repeated strings too
    for template in (None, "llama3", "qwen"):
        batched = lf.plan(data, tokenizer, cutoff_len=48, template_name=template)
        with monkeypatch.context() as m:
            m.setattr(lf, "backend_of", lambda _tokenizer: None)
            one_by_one = lf.plan(data, tokenizer, cutoff_len=48, template_name=template)
        assert batched.equals(one_by_one), template


def test_filter_and_validate_take_the_template_too(tmp_path: Path) -> None:
    # the CI gate's pre-flight plans with the same named template as `prefdata preflight`
    from typer.testing import CliRunner

    from prefdata.cli.main import app

    runner = CliRunner()
    flags = ["--preflight-tokenizer", str(FIXTURES / "tok_chatml")]
    flags += ["--preflight-trainer", "llamafactory", "--preflight-max-length", "48"]
    alone_args = ["preflight", str(FIXTURES / "pairs.json")]
    alone_args += ["--tokenizer", str(FIXTURES / "tok_chatml"), "--max-length", "48"]
    alone_args += ["--trainer", "llamafactory", "--template", "qwen"]
    alone = runner.invoke(app, [*alone_args, "--out", str(tmp_path / "alone")])
    assert alone.exit_code == 0, alone.output
    expected = json.loads((tmp_path / "alone" / "preflight.json").read_text())
    report = tmp_path / "validate.json"
    args = ["validate", str(FIXTURES / "pairs.json"), *flags, "--preflight-template", "qwen"]
    validated = runner.invoke(app, [*args, "--report", str(report)])
    assert validated.exit_code == 0, validated.output
    ledger = json.loads(report.read_text())["preflight"]
    assert ledger["template"] == "qwen" and ledger["kept"] == expected["kept"]
    for extra, says in (
        (["--preflight-template", "qwen3"], "is not modelled"),
        (["--preflight-template", "qwen", "--preflight-trainer", "trl"], "names a LLaMA-Factory"),
    ):
        out = tmp_path / "refused"
        args = ["filter", str(FIXTURES / "pairs.json"), *flags, *extra, "--out", str(out)]
        refused = runner.invoke(app, args)
        assert refused.exit_code == 2, refused.output
        assert says in " ".join(refused.output.split()) and not out.exists()
