"""Dataset text made inert and readable: escaping, images as links, conversation turns."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pytest

from prefdata.annotate.display_text import (
    escape_markdown,
    inert_markdown,
    prompt_turns,
    split_recent,
)
from prefdata.annotate.label_store import LabelStore
from prefdata.annotate.pair_import import import_table


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("![cat](http://x/c.png)", "\\![cat](http://x/c.png)"),
        ("a ![x][ref] b", "a \\![x][ref] b"),
        ("already \\![x](y)", "already \\![x](y)"),
        ("no image [link](http://x)", "no image [link](http://x)"),
        ("two ![a](u) ![b](v)", "two \\![a](u) \\![b](v)"),
    ],
)
def test_images_become_links(text: str, expected: str) -> None:
    assert inert_markdown(text) == expected


@pytest.mark.parametrize("backslashes", [0, 1, 2, 3, 4])
def test_no_image_survives_backslashes_before_it(backslashes: int) -> None:
    """An escaped backslash (two of them) does not escape the "!" after it."""
    md = pytest.importorskip("markdown_it").MarkdownIt("commonmark")
    text = "\\" * backslashes + "![x](http://evil.example/a.png) and ![y][r]\n\n[r]: http://e/b.png"
    assert "<img" not in md.render(inert_markdown(text))


def test_escape_markdown_leaves_nothing_active() -> None:
    nasty = "p`1` **b** [l](http://x) ![i](http://y) <img src=x> :material/home: $x$ ~~s~~"
    escaped = escape_markdown(nasty)
    for i, ch in enumerate(escaped):
        if ch in "`*[]()!<>:$~":
            assert escaped[i - 1] == "\\", escaped[: i + 1]


def test_hh_prompt_turns() -> None:
    prompt = "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how are you?\n\nAssistant:"
    assert prompt_turns(prompt) == [
        ("user", "hi"),
        ("assistant", "hello"),
        ("user", "how are you?"),
    ]
    assert prompt_turns("just a question") == [("user", "just a question")]
    messages = [{"role": "system", "content": "be nice"}, {"role": "user", "content": "hi"}]
    assert prompt_turns(messages) == [("system", "be nice"), ("user", "hi")]


def test_split_recent_keeps_the_last_turn_even_when_long() -> None:
    turns = [("user", "a" * 50), ("assistant", "b" * 50), ("user", "c" * 5000)]
    earlier, recent = split_recent(turns, last=2, chars=600)
    assert recent == [("user", "c" * 5000)] and len(earlier) == 2
    earlier, recent = split_recent(turns[:2], last=2, chars=600)
    assert earlier == [] and len(recent) == 2


def test_a_backtick_in_a_pair_id_stays_inside_its_caption(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_test = pytest.importorskip("streamlit.testing.v1").AppTest
    db = tmp_path / "labels.sqlite"
    nasty = "p`1` **bold** ![i](http://evil.example/x.png)"
    import_table(
        LabelStore(db),
        pa.table(
            {
                "id": [nasty],
                "prompt": ["Q?"],
                "chosen": ["yes"],
                "rejected": ["no ![i](http://e/x)"],
            }
        ),
    )
    script = Path(__file__).resolve().parent.parent / "app" / "streamlit_app.py"
    argv = [str(script), "--db", str(db), "--open", "--min-seconds-on-screen", "0"]
    monkeypatch.setattr(sys, "argv", argv)
    at = app_test.from_file(str(script), default_timeout=30)
    at.session_state["annotator"] = "ann"
    at.run()
    assert not at.exception
    caption = next(c.value for c in at.caption if c.value.startswith("Pair "))
    assert caption == f"Pair {escape_markdown(nasty)}"
    bodies = [m.value for m in at.markdown]
    assert any("no \\![i](http://e/x)" in b for b in bodies)  # the image is a link


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.parametrize(
    "name", ["hh-rlhf/harmless-base-test.jsonl.gz", "llamafactory/dpo_en_demo.json"]
)
def test_real_prompts_split_into_turns_ending_with_the_user(tmp_path: Path, name: str) -> None:
    source = SHARED / name
    if not source.is_file():
        pytest.skip(f"{source} not present (../shared/data is optional)")
    from typer.testing import CliRunner

    from prefdata.cli.main import app

    result = CliRunner().invoke(app, ["filter", str(source), "--out", str(tmp_path), "-q"])
    assert result.exit_code == 0, result.output
    import pyarrow.parquet as pq

    prompts = pq.read_table(tmp_path / "kept.parquet").column("prompt").to_pylist()
    assert len(prompts) > 100
    multi = 0
    for prompt in prompts:
        turns = prompt_turns(prompt)
        assert turns, prompt
        assert turns[-1][0] == "user", turns[-1]  # the responses answer the last user turn
        assert all(role in ("user", "assistant", "system") for role, _ in turns)
        multi += len(turns) > 1
        earlier, recent = split_recent(turns)
        assert earlier + recent == turns and recent
    assert multi > 50  # both sets hold many multi-turn conversations
