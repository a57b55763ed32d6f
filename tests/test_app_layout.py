"""Layout in a real browser: a long multi-turn conversation is shown as separated turns,
collapsed so both responses and the answer buttons are on the first screen at 1440x900,
the page scrolls to the top for each new pair, and it reads at 390 px wide."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prefdata.annotate.app_launch import AppSettings
from prefdata.annotate.label_store import LabelStore
from prefdata.annotate.pair_import import import_parquet
from tests.test_app_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    _need_browser,
    pair_on_screen,
    serving,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = Path(os.environ.get("PREFDATA_SCREENSHOTS", tempfile.gettempdir()))


def _conversation(i: int, turns: int) -> str:
    """An HH-style transcript prompt: alternating long turns, ending with 'Assistant:'."""
    text = ""
    for t in range(turns):
        speaker = "Human" if t % 2 == 0 else "Assistant"
        # the final question is short, as in HH, after a reply of many short lines
        body = "okay, and what next?" if t == turns - 1 else "words that go on\n" * 12
        text += f"\n\n{speaker}: turn {t} of pair {i}. " + body
    return text + "\n\nAssistant:"


@pytest.fixture
def long_pairs_app(tmp_path: Path) -> Iterator[str]:
    _need_browser()
    pytest.importorskip("playwright.sync_api")
    n = 4
    table = pa.table(
        {
            "id": [f"p{i:04d}" for i in range(n)],
            "prompt": [_conversation(i, 9) for i in range(n)],
            "chosen": [f"Answer {i}. " + "a long careful reply " * 120 for i in range(n)],
            "rejected": [f"Other {i}. " + "a long sloppy reply " * 110 for i in range(n)],
        }
    )
    pq.write_table(table, tmp_path / "kept.parquet")
    db = tmp_path / "labels.sqlite"
    import_parquet(LabelStore(db), tmp_path / "kept.parquet")
    with serving(AppSettings(db=db, open_mode=True), tmp_path) as url:
        yield url


def _open(browser: Any, url: str, width: int, height: int) -> Any:
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    page.get_by_role("textbox", name="Your name").fill(f"reader{width}")
    page.get_by_role("button", name="Start").click()
    pair_on_screen(page)
    return page


def _box(page: Any, selector: str) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box  # type: ignore[no-any-return]


def test_first_screen_turns_scroll_and_narrow_screen(long_pairs_app: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    url = long_pairs_app
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = _open(browser, url, 1440, 900)
        # Turns are labelled and separated; earlier ones are collapsed behind a control.
        expect(page.get_by_text(re.compile(r"Earlier turns \(\d+\)"))).to_be_visible()
        expect(page.get_by_text("turn 8 of pair", exact=False)).to_be_visible()
        expect(page.get_by_text("turn 0 of pair", exact=False)).to_be_hidden()
        # The final turn, the one both responses answer, shows without scrolling its box.
        last = page.get_by_text("turn 8 of pair", exact=False).first.bounding_box()
        prompt_box = _box(page, ".st-key-prompt")
        assert last is not None
        assert prompt_box["y"] <= last["y"] < prompt_box["y"] + prompt_box["height"] - 20, (
            last,
            prompt_box,
        )
        assert page.get_by_text("USER", exact=False).count() >= 1
        assert page.get_by_text("ASSISTANT", exact=False).count() >= 1
        page.screenshot(path=str(SHOTS / "first_screen_1440x900.png"))
        # Both responses start, and the answer buttons sit, on the first screen.
        for selector in (".st-key-response_A", ".st-key-response_B"):
            assert _box(page, selector)["y"] < 900 - 100, selector
        button = page.get_by_role("button", name="A is better").bounding_box()
        assert button is not None and button["y"] + button["height"] <= 900, button
        # Expanding shows the earlier turns.
        page.get_by_text(re.compile(r"Earlier turns \(\d+\)")).click()
        expect(page.get_by_text("turn 0 of pair", exact=False)).to_be_visible()

        # Scrolled down, a label brings the next pair in at the top.
        main = '[data-testid="stMain"]'
        page.evaluate(f"document.querySelector('{main}').scrollTo(0, 600)")
        assert page.evaluate(f"document.querySelector('{main}').scrollTop") > 0
        first = pair_on_screen(page)
        page.wait_for_timeout(400)  # past the repeat guard after the pair appeared
        page.get_by_role("button", name="Tie").click()
        expect(page.get_by_text(f"Pair {first}", exact=True)).to_have_count(0, timeout=15_000)
        page.wait_for_function(f"document.querySelector('{main}').scrollTop === 0", timeout=5000)

        # 390 px wide: nothing wider than the screen, responses full width, buttons reachable.
        narrow = _open(browser, url, 390, 844)
        narrow.screenshot(path=str(SHOTS / "narrow_390.png"))
        width = narrow.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width
        box = _box(narrow, ".st-key-response_A")
        assert box["width"] >= 300, box
        narrow.get_by_role("button", name="A is better").scroll_into_view_if_needed()
        expect(narrow.get_by_role("button", name="A is better")).to_be_in_viewport()
        browser.close()
