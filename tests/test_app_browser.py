"""The real app in a real browser: `streamlit run` on a free port, driven by chromium.

Labels three pairs with the keyboard shortcuts, checks them in the database, and
checks that markup injected into a response is shown as text and never runs.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from prefdata.annotate.app_launch import AppSettings, app_environment, streamlit_command
from prefdata.annotate.label_store import LabelStore
from prefdata.annotate.pair_import import import_parquet
from prefdata.annotate.side_order import screen_to_choice
from tests.annotate_data import XSS, write_kept

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
START_DEADLINE_S = 90


def _need_browser() -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing in CI: run `make browser`")
    pytest.skip(f"{CHROMIUM} not installed (make browser)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"streamlit exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass  # not listening yet
        time.sleep(0.2)  # poll interval; the deadline above bounds the wait
    raise AssertionError(f"{url} not healthy after {START_DEADLINE_S}s")


@pytest.fixture
def served_app(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    _need_browser()
    pytest.importorskip("playwright.sync_api")
    pytest.importorskip("streamlit")
    db = tmp_path / "labels.sqlite"
    import_parquet(LabelStore(db), write_kept(tmp_path / "kept.parquet", 5, xss=True))
    port = _free_port()
    command = streamlit_command(AppSettings(db=db), port=port, address="127.0.0.1")
    log = (tmp_path / "streamlit.log").open("wb")
    # Run from elsewhere: the app must not depend on the working directory to import.
    server = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, env=app_environment()
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server)
        yield url, db
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def test_keyboard_labelling_and_injected_markup(served_app: tuple[str, Path]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, db = served_app
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url)
        page.get_by_label("Your name").fill("keyboard-ann")
        page.get_by_role("button", name="Start").click()
        expect(page.get_by_text("Response A")).to_be_visible(timeout=30_000)

        # The first pair carries the injected markup: shown as text in the diff view.
        expect(page.get_by_text("Pair p0000")).to_be_visible()
        page.get_by_text("Word diff").click()
        expect(page.get_by_text("<script>window", exact=False)).to_be_visible()
        assert page.evaluate("window.__xss") is None
        page.get_by_text("Markdown", exact=True).click()
        expect(page.locator("del")).to_have_count(0)
        assert page.evaluate("window.__xss") is None
        assert dialogs == []

        pressed: dict[str, str] = {}
        for key, screen in (("a", "A"), ("b", "B"), ("t", "tie")):
            caption = page.get_by_text(re.compile(r"^Pair p\d{4}")).first.inner_text()
            pair_id = caption.split()[1]
            page.get_by_text("Prompt", exact=True).click()  # focus the page, not an input
            page.keyboard.press(key)
            expect(page.get_by_text(f"Pair {pair_id}", exact=True)).to_have_count(0, timeout=15_000)
            pressed[pair_id] = screen
        browser.close()

    store = LabelStore(db)
    labels = {label.pair_id: label for label in store.labels(annotator="keyboard-ann")}
    assert set(labels) == set(pressed)
    for pair_id, screen in pressed.items():
        label = labels[pair_id]
        assert label.choice == screen_to_choice(screen, label.left_response)  # type: ignore[arg-type]
    assert XSS in store.pair("p0000").rejected  # stored verbatim, only escaped on display
