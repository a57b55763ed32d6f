"""report.html and the dataset card: escaping, offline rendering, datasets loading."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from prefdata.cli.main import app
from prefdata.config import FilterConfig
from prefdata.pipeline import filter_pairs

HOSTILE = '<script>alert("owned")</script><img src="http://example.invalid/x.png">'


def _curated(tmp_path: Path) -> Path:
    data = tmp_path / "pairs.jsonl"
    rows = [
        {
            "prompt": "Greet me.",
            "chosen": "Hello there! It is very nice to meet you today, friend.",
            "rejected": HOSTILE,
        },
        {
            "prompt": "Greet me.",
            "chosen": "Hello there! It is very nice to meet you today, friend.",
            "rejected": HOSTILE,
        },  # a duplicate: dropped, so it shows in the samples
        {"prompt": "Say hi.", "chosen": "Hi! " * 20, "rejected": "Go away, I am busy right now."},
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out"
    filter_pairs([data], out, config=FilterConfig(workers=1))
    return out


def test_outputs_include_html_and_card(tmp_path: Path) -> None:
    out = _curated(tmp_path)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "http://example.invalid" not in html.replace("&quot;http://example.invalid", "")
    assert "duplicate_pair" in html and "<svg" in html
    assert "Content-Security-Policy" in html
    card = (out / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\n") and "path: kept.parquet" in card
    assert "| `duplicate_pair` | 1 |" in card


def test_folder_loads_with_datasets(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    out = _curated(tmp_path)
    kept = datasets.load_dataset(
        "parquet",
        data_files=str(out / "kept.parquet"),
        split="train",
        cache_dir=str(tmp_path / "cache"),
    )
    assert kept.num_rows == 2 and set(kept.column_names) >= {"prompt", "chosen", "rejected"}
    # the card's configs make the folder itself loadable, kept as the default split
    folder = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "cache2"))
    assert folder.num_rows == 2


def test_report_command_rebuilds(tmp_path: Path) -> None:
    out = _curated(tmp_path)
    (out / "report.html").unlink()
    (out / "README.md").unlink()
    result = CliRunner().invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.output
    assert "&lt;script&gt;" in (out / "report.html").read_text(encoding="utf-8")
    assert (out / "README.md").exists()
    missing = CliRunner().invoke(app, ["report", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "report.json" in missing.output


def _chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: run `make browser`")
        pytest.skip("chromium not installed (make browser)")
    return path


@pytest.mark.slow
@pytest.mark.browser
def test_report_renders_offline_in_chromium(tmp_path: Path) -> None:
    executable = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    out = _curated(tmp_path)
    requests: list[str] = []
    dialogs: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=executable,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.route("http*://**", lambda route: route.abort())  # no network at all
            page.goto((out / "report.html").as_uri(), wait_until="load")
            text = page.inner_text("body")
            charts = page.locator("svg").count()
            scripts = page.locator("script").count()
        finally:
            browser.close()
    assert HOSTILE.split("<img")[0] in text  # the response shows as text...
    assert scripts == 0 and dialogs == []  # ...and nothing of it ran
    assert charts >= 3
    assert [u for u in requests if not u.startswith("file://")] == []


def test_card_features_are_what_datasets_itself_would_write() -> None:
    import datasets

    from prefdata.reporting.card import features_yaml
    from prefdata.schema import canonical_fields

    extra = [
        ("score", pa.float64()),
        ("half", pa.float16()),
        ("n", pa.int32()),
        ("tags", pa.list_(pa.string())),
        ("grid", pa.list_(pa.list_(pa.int64()))),
        ("triple", pa.list_(pa.int8(), 3)),
        ("big", pa.large_list(pa.string())),
        ("meta", pa.struct([("a", pa.uint64()), ("b", pa.list_(pa.struct([("q", pa.string())])))])),
        ("flag", pa.bool_()),
        ("when", pa.timestamp("us")),
        ("blob", pa.binary()),
        ("nothing", pa.null()),
    ]
    for shape in ("text", "conversational"):
        schema = pa.schema([*canonical_fields(shape), *extra])
        assert features_yaml(schema) == datasets.Features.from_arrow_schema(schema)._to_yaml_list()
    assert features_yaml(pa.schema([("m", pa.map_(pa.string(), pa.int64()))])) is None
