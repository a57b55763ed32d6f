"""The pieces of an iterate round that need no model: prompts, parts, scorers, pairing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prefdata.errors import ConfigError, InputError
from prefdata.iterate.pairing import best_worst_pairs
from prefdata.iterate.prompts import load_prompts, split_parts
from prefdata.iterate.recipe import ScorerSpec
from prefdata.iterate.rewards import exact_match, final_answer
from prefdata.iterate.scoring import load_scorer


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path


def test_prompts_keep_their_other_columns_and_split_into_disjoint_parts(tmp_path: Path) -> None:
    records = [{"prompt": f"What is {i} + {i}?", "answer": str(2 * i)} for i in range(7)]
    prompts = load_prompts(write_jsonl(tmp_path / "p.jsonl", records))
    assert prompts.shape == "text" and len(prompts) == 7
    parts = split_parts(prompts, 3)
    assert [len(p) for p in parts] == [3, 2, 2]
    assert [q for p in parts for q in p.prompts] == prompts.prompts
    assert parts[2].columns == {"answer": ["10", "12"]}
    with pytest.raises(ConfigError, match="rounds=8 needs at least 8 prompts"):
        split_parts(prompts, 8)


def test_conversational_and_mixed_prompts(tmp_path: Path) -> None:
    chat = [{"prompt": [{"role": "user", "content": "hi"}]}] * 2
    assert load_prompts(write_jsonl(tmp_path / "c.jsonl", chat)).shape == "conversational"
    mixed = [{"prompt": "hi"}, {"prompt": [{"role": "user", "content": "hi"}]}]
    with pytest.raises(InputError, match=r"prompt 1 of .* every prompt must be non-empty text"):
        load_prompts(write_jsonl(tmp_path / "m.jsonl", mixed))
    with pytest.raises(InputError, match=r"line 1 has no 'prompt' key; found \['question'\]"):
        load_prompts(write_jsonl(tmp_path / "q.jsonl", [{"question": "hi"}]))


def test_exact_match_reads_the_final_answer() -> None:
    assert final_answer("2 + 3 = 5, so the answer is 5.") == "5"
    assert final_answer("First 12, then 1,000") == "1000"
    assert final_answer("no digits") is None
    completions = ["... The answer is 12", "12 or 13? 13", "none"]
    assert exact_match([], completions, ["12", "12", "12"]) == [1.0, 0.0, 0.0]


def test_a_scorer_gets_the_columns_it_names() -> None:
    scorer = load_scorer(ScorerSpec(callable="prefdata.iterate.rewards:exact_match"))
    assert scorer(["p", "p"], ["answer is 4", "5"], answer=["4", "4"], other=[1, 2]) == [1.0, 0.0]
    with pytest.raises(ConfigError, match=r"takes \['answer'\], but the prompts file has no"):
        scorer(["p"], ["4"])


def test_scorer_spec_errors_name_the_scorer() -> None:
    with pytest.raises(ConfigError, match=r"module .prefdata\.iterate\.rewards. has no function"):
        load_scorer(ScorerSpec(callable="prefdata.iterate.rewards:nope"))
    with pytest.raises(ConfigError, match="unknown scorer key"):
        ScorerSpec.parse({"callable": "a:b", "weights": 1})


def test_best_and_worst_become_a_pair_and_ties_are_dropped() -> None:
    completions = [["a", "b", "c"], ["x", "y", "z"], ["same", "same2", "same3"]]
    rewards = [[0.5, 2.0, -1.0], [1.0, 1.0, 0.0], [3.0, 3.0, 3.0]]
    pairs, ties = best_worst_pairs(["p1", "p2", "p3"], completions, rewards, shape="text", round=1)
    assert ties == 1
    rows = pairs.to_pylist()
    assert [(r["chosen"], r["rejected"]) for r in rows] == [("b", "c"), ("x", "z")]
    assert rows[0]["chosen_reward"] == 2.0 and rows[0]["rejected_reward"] == -1.0
    chat, _ = best_worst_pairs(
        [[{"role": "user", "content": "q"}]],
        [["a", "b"]],
        [[0.0, 1.0]],
        shape="conversational",
        round=2,
    )
    assert chat.column("chosen").to_pylist() == [[{"role": "assistant", "content": "b"}]]


def test_importing_iterate_loads_no_heavy_library() -> None:
    code = (
        "import sys, prefdata.iterate, prefdata.train.audit, prefdata.annotate.review_queue; "
        "print([m for m in ('torch', 'transformers', 'trl', 'peft') if m in sys.modules])"
    )
    repo = Path(__file__).parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo
    )
    assert out.stdout.strip() == "[]"


def test_the_shipped_example_recipe_is_valid() -> None:
    from prefdata.iterate import load_iterate_recipe

    path = Path(__file__).parent.parent / "prefdata" / "iterate" / "examples" / "iterate_math.yaml"
    recipe = load_iterate_recipe(path)
    assert recipe.scorer.callable == "prefdata.iterate.rewards:exact_match"
    assert recipe.train["loss_type"] == ["sigmoid", "sft"]
