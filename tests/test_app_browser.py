"""The real app in a real browser: `streamlit run` on a free port, driven by chromium.

Two annotators sign in from two browser contexts and label by keyboard (a doubled
key press included); each label is checked in the database; an annotator cannot
reach the lead pages; markup and a Markdown image injected into a response neither
run nor make the browser request any host but the app's.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prefdata.annotate.accounts import add_user
from prefdata.annotate.app_launch import AppSettings, app_environment, streamlit_command
from prefdata.annotate.label_store import LabelStore
from prefdata.annotate.pair_import import import_parquet
from prefdata.annotate.side_order import screen_to_choice
from tests.annotate_data import XSS, kept_table

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


IMAGE = "Look: ![cat](http://images.example.test/cat.png) and ![x][ref]\n\n[ref]: http://ref.example.test/x.png"
PASSWORDS = {"alice": "alice-secret-1", "bob": "bob-secret-22", "lena": "lena-secret-333"}


def write_data(path: Path, n: int) -> Path:
    """n pairs; the first carries injected markup and Markdown images in both responses."""
    table = kept_table(n)
    for column, text in ((2, f"{IMAGE} {XSS}"), (3, f"Try this: {XSS} {IMAGE}")):
        values = table.column(column).to_pylist()
        values[0] = text
        table = table.set_column(column, table.schema.field(column).name, pa.array(values))
    pq.write_table(table, path)
    return path


@pytest.fixture
def served_app(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    _need_browser()
    pytest.importorskip("playwright.sync_api")
    pytest.importorskip("streamlit")
    db = tmp_path / "labels.sqlite"
    store = LabelStore(db)
    import_parquet(store, write_data(tmp_path / "kept.parquet", 8))
    for name, password in PASSWORDS.items():
        add_user(store, name, role="lead" if name == "lena" else "annotator", password=password)
    store.close()
    with serving(AppSettings(db=db, overlap=2), tmp_path) as url:
        yield url, db


@contextlib.contextmanager
def serving(settings: AppSettings, folder: Path) -> Iterator[str]:
    """`streamlit run` of the app on a free port, healthy, stopped on exit; its URL.

    Run from ``folder``, not the repo: the app must not depend on the working directory
    to import."""
    port = _free_port()
    command = streamlit_command(settings, port=port, address="127.0.0.1")
    with (folder / "streamlit.log").open("wb") as log:
        server = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=folder, env=app_environment()
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, server)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


def sign_in(page: Any, url: str, name: str, path: str = "") -> None:
    from playwright.sync_api import expect

    page.goto(f"{url}/{path}")
    page.get_by_role("textbox", name="Name").fill(name)
    page.get_by_role("textbox", name="Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {name}")).to_be_visible(timeout=30_000)


PAIR_CAPTION = re.compile(r"^Pair p\d{4}")


def pair_on_screen(page: Any) -> str:
    from playwright.sync_api import expect

    caption = page.get_by_text(PAIR_CAPTION).first
    expect(caption).to_be_visible(timeout=30_000)
    return str(caption.inner_text().split()[1])


def press_and_wait(page: Any, key: str, pair_id: str) -> str:
    """Press a shortcut with the page (not an input) focused; wait for the next pair."""
    from playwright.sync_api import expect

    page.keyboard.press(key)
    expect(page.get_by_text(f"Pair {pair_id}", exact=True)).to_have_count(0, timeout=15_000)
    return pair_on_screen(page)


def test_two_annotators_keyboard_roles_and_no_remote_fetches(
    served_app: tuple[str, Path],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, db = served_app
    app_host = url.split("//", 1)[1]
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        contexts = {
            who: browser.new_context(viewport={"width": 1440, "height": 900})
            for who in ("alice", "bob")
        }
        pages = {who: ctx.new_page() for who, ctx in contexts.items()}
        dialogs: list[str] = []
        for page in pages.values():
            page.on("request", lambda r: requests.append(r.url))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        for who, page in pages.items():
            sign_in(page, url, who)
        alice, bob = pages["alice"], pages["bob"]

        # alice: the first pair carries the markup and images; nothing runs or loads.
        first = pair_on_screen(alice)
        assert first == "p0000"
        expect(alice.get_by_role("link", name="cat")).to_have_count(2)  # images became links
        expect(alice.locator("img[src*='example.test']")).to_have_count(0)
        alice.keyboard.press("v")  # view: Word diff, by key
        expect(alice.get_by_role("button", name=re.compile("View: Word diff"))).to_be_visible()
        expect(alice.get_by_text("<script>window", exact=False).first).to_be_visible()
        alice.keyboard.press("v")
        expect(alice.get_by_role("button", name=re.compile("View: Plain text"))).to_be_visible()
        alice.keyboard.press("v")  # back to Markdown
        expect(alice.get_by_role("button", name=re.compile("View: Markdown"))).to_be_visible()
        assert alice.evaluate("window.__xss") is None

        # strength and flag by key, then a doubled "a" (100 ms apart): one label only.
        alice.keyboard.press("2")
        expect(alice.get_by_role("button", name=re.compile("Much better"))).to_be_visible()
        alice.keyboard.press("f")
        expect(alice.get_by_role("button", name=re.compile("^Flagged"))).to_be_visible()
        alice.keyboard.press("a")
        alice.wait_for_timeout(100)  # the repeat a user's finger makes, not a wait for the app
        alice.keyboard.press("a")
        second = pair_on_screen(alice)
        expect(alice.get_by_text(f"Pair {first}", exact=True)).to_have_count(0, timeout=15_000)
        second = pair_on_screen(alice)
        alice.wait_for_timeout(1500)  # any label the repeat caused would be stored by now
        store = LabelStore(db, read_only=True)
        assert store.label(second, "alice") is None, "the repeated key labelled the next pair"
        got = store.label(first, "alice")
        assert got is not None and (got.strength, got.flagged) == ("much", True)
        assert got.choice == screen_to_choice("A", got.left_response)  # type: ignore[arg-type]

        # Typing in the comment box never fires a shortcut.
        box = alice.get_by_placeholder(re.compile("Comment"))
        box.fill("")
        box.type("be brief")
        box.press("Enter")
        alice.wait_for_timeout(500)
        assert LabelStore(db, read_only=True).label(second, "alice") is None
        alice.get_by_text(PAIR_CAPTION).first.click()  # leave the box: shortcuts work again
        press_and_wait(alice, "b", second)
        got = LabelStore(db, read_only=True).label(second, "alice")
        assert got is not None and got.comment == "be brief"
        assert got.choice == screen_to_choice("B", got.left_response)  # type: ignore[arg-type]

        # bob: overlap-first gives him a pair alice labelled; he labels two by keyboard.
        bob_first = pair_on_screen(bob)
        assert bob_first in (first, second)
        # His doubled key is slower, 250 ms apart (the long end of the trials).
        bob.keyboard.press("t")
        bob.wait_for_timeout(250)
        bob.keyboard.press("t")
        expect(bob.get_by_text(f"Pair {bob_first}", exact=True)).to_have_count(0, timeout=15_000)
        bob_second = pair_on_screen(bob)
        bob.wait_for_timeout(1000)  # any label the repeat caused would be stored by now
        assert LabelStore(db, read_only=True).label(bob_second, "bob") is None
        press_and_wait(bob, "x", bob_second)

        # alice cannot reach the lead pages: not in her navigation, not by URL.
        expect(alice.get_by_role("link", name="Browse")).to_have_count(0)
        sign_in(alice, url, "alice", path="page_browse")
        expect(alice.get_by_text("Filter reason")).to_have_count(0)
        expect(alice.get_by_role("link", name="Export")).to_have_count(0)
        assert pair_on_screen(alice)

        # Defence in depth: the page's Content-Security-Policy blocks any image that
        # slipped through from another host (Chromium still reports the attempt).
        seen = list(requests)
        violations: list[str] = []
        alice.on("console", lambda m: violations.append(m.text))
        policy = alice.evaluate(
            "document.querySelector('meta[http-equiv=\"Content-Security-Policy\"]')?.content"
        )
        assert policy is not None and "img-src 'self' data: blob:" in policy
        alice.evaluate(
            "(() => { const i = new Image(); i.src = 'http://probe.example.test/p.png';"
            " document.body.appendChild(i); })()"
        )
        deadline = time.monotonic() + 10
        while not any("Content Security Policy" in v for v in violations):
            assert time.monotonic() < deadline, violations
            alice.wait_for_timeout(100)
        for ctx in contexts.values():
            ctx.close()
        browser.close()

    store = LabelStore(db, read_only=True)
    bob_labels = {lab.pair_id: lab.choice for lab in store.labels(annotator="bob")}
    assert bob_labels == {bob_first: "tie", bob_second: "both_bad"}
    assert sorted(lab.pair_id for lab in store.labels(annotator="alice")) == sorted([first, second])
    assert XSS in store.pair("p0000").rejected  # stored verbatim, only made inert on display
    assert dialogs == []
    foreign = [r for r in seen if r.split("//", 1)[-1].split("/", 1)[0] != app_host]
    assert foreign == [], foreign
    assert len(seen) > 10  # the counter did see the app's own requests
