"""The Streamlit pages through streamlit.testing.v1.AppTest, on a temporary database."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from prefdata.annotate.label_store import LabelStore
from prefdata.annotate.pair_import import import_parquet
from prefdata.annotate.side_order import left_response
from tests.annotate_data import write_dropped, write_kept

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest

SCRIPT = Path(__file__).resolve().parent.parent / "app" / "streamlit_app.py"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "labels.sqlite"
    store = LabelStore(path)
    import_parquet(store, write_kept(tmp_path / "kept.parquet", 4, xss=True))
    import_parquet(store, write_dropped(tmp_path / "dropped.parquet"))
    return path


def _start(
    db: Path, monkeypatch: pytest.MonkeyPatch, *extra: str, annotator: str | None = "ann"
) -> AppTest:
    # The app reads its settings from the script arguments `prefdata app` passes; these
    # tests use open mode (name only) and no repeat guard, as clicks come at once.
    argv = [str(SCRIPT), "--db", str(db), "--open", "--min-seconds-on-screen", "0", *extra]
    monkeypatch.setattr(sys, "argv", argv)
    at = AppTest.from_file(str(SCRIPT), default_timeout=30)
    if annotator:
        at.session_state["annotator"] = annotator
    at.run()
    assert not at.exception
    return at


def _pair_on_screen(at: AppTest) -> str:
    caption = next(c.value for c in at.caption if c.value.startswith("Pair "))
    return caption.split()[1]


def _press(at: AppTest, what: str) -> AppTest:
    """Click the answer button drawn for the pair on screen (its key names the pair)."""
    at.button(key=f"answer_{what}_{_pair_on_screen(at)}").click().run()
    assert not at.exception
    return at


def test_sign_in_is_required_and_names_come_from_the_list(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _start(db, monkeypatch, "--annotators", "ann,bob", annotator=None)
    assert "Open mode: no login" in at.warning[0].value
    assert not [b for b in at.button if (b.key or "").startswith("answer_")]
    assert at.selectbox(key="annotator_pick").options == ["ann", "bob"]
    at.selectbox(key="annotator_pick").select("bob")
    at.button(key="sign_in").click().run()
    assert at.session_state["annotator"] == "bob"
    assert at.button(key=f"answer_A_{_pair_on_screen(at)}")
    assert "Open mode: no login" in at.sidebar.warning[0].value  # said on every page


def test_labels_are_stored_against_the_response_not_the_side(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _start(db, monkeypatch)
    first = _pair_on_screen(at)
    at.button(key=f"strength_much_{first}").click().run()
    at.text_input(key=f"comment_{first}").input("clearer")
    at.button(key=f"flag_button_{first}").click().run()
    _press(at, "A")
    second = _pair_on_screen(at)
    _press(at, "B")

    store = LabelStore(db)
    a = store.label(first, "ann")
    b = store.label(second, "ann")
    assert a is not None and b is not None
    assert a.choice == left_response(first, "ann") == a.left_response
    assert b.choice != left_response(second, "ann")
    assert (a.strength, a.comment, a.flagged) == ("much", "clearer", True)
    assert a.seconds is not None and a.seconds >= 0
    assert second != first and _pair_on_screen(at) not in (first, second)


def test_skip_with_reason_then_undo(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _start(db, monkeypatch)
    first = _pair_on_screen(at)
    at.pills(key=f"skip_reason_{first}").set_value("needs expertise").run()
    _press(at, "skip")
    store = LabelStore(db)
    skipped = store.label(first, "ann")
    assert skipped is not None
    assert (skipped.choice, skipped.skip_reason) == ("skip", "needs expertise")
    assert _pair_on_screen(at) != first

    at.button(key="undo").click().run()
    assert store.label(first, "ann") is None
    assert _pair_on_screen(at) == first  # the undone pair comes back to be answered
    assert [e["kind"] for e in store.events()] == ["skip", "undo"]


def test_a_doubled_undo_undoes_one_answer(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LabelStore(db)
    first, second = (r[0] for r in store.connection().execute("SELECT pair_id FROM pairs LIMIT 2"))
    for pair_id in (first, second):
        store.record_label(pair_id, "ann", choice="skip", left_response="chosen")
    at = _start(db, monkeypatch, "--min-seconds-on-screen", "5")  # a human's guard
    at.button(key="undo").click().run()
    at.button(key="undo").click().run()  # the key bounced: within the guard
    assert not at.exception
    assert [e["kind"] for e in store.events()] == ["skip", "skip", "undo"]
    assert store.label(first, "ann") is not None and store.label(second, "ann") is None
    assert any("Ignored a second Undo" in t.value for t in at.toast)


def test_queue_runs_out_and_respects_overlap(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _start(db, monkeypatch, "--overlap", "2")
    seen = []
    for _ in range(4):
        seen.append(_pair_on_screen(at))
        _press(at, "tie")
    assert sorted(seen) == ["p0000", "p0001", "p0002", "p0003"]  # dropped pairs never queued
    assert "Nothing left" in at.success[0].value

    other = _start(db, monkeypatch, "--overlap", "2", annotator="bob")
    assert _pair_on_screen(other) == "p0000"
    full = _start(db, monkeypatch, "--overlap", "1", annotator="cy")
    assert "Nothing left" in full.success[0].value


def test_previous_shows_an_earlier_answer_that_can_be_changed(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _start(db, monkeypatch)
    first = _pair_on_screen(at)
    _press(at, "A")
    at.button(key="prev").click().run()
    assert _pair_on_screen(at) == first
    assert "Your answer: **A**" in at.info[0].value
    _press(at, "both_bad")
    assert LabelStore(db).label(first, "ann").choice == "both_bad"  # type: ignore[union-attr]
    assert [e["kind"] for e in LabelStore(db).events()] == ["label", "change"]


def test_next_passes_over_a_pair_without_labelling(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _start(db, monkeypatch)
    first = _pair_on_screen(at)
    at.button(key="next").click().run()
    assert _pair_on_screen(at) != first
    assert LabelStore(db).labels() == []


def test_diff_view_escapes_markup(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _start(db, monkeypatch)
    while _pair_on_screen(at) != "p0000":
        at.button(key="next").click().run()
    at.button(key="view_mode_next").click().run()  # Markdown -> Word diff
    # The page's own scripts (CSP, scroll to top) aside, every HTML body is the diff.
    bodies = " ".join(h.proto.body for h in at.get("html") if h.proto.body.startswith("<div"))
    assert "&lt;script&gt;" in bodies
    assert "<script" not in bodies and "<img" not in bodies


def test_browse_filters_and_has_no_way_to_label(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _start(db, monkeypatch)
    at.switch_page("page_browse.py").run()
    assert not at.exception
    at.selectbox(key="browse_reason").select("identical_pair").run()
    assert at.dataframe[0].value.pair_id.tolist() == ["d1"]
    assert "identical\\_pair" in at.warning[0].value
    # Labelling goes through the blind queue only (no overlap overrun, no dropped pairs).
    assert not [b for b in at.button if b.key == "browse_label"]


def test_agreement_page_and_adjudication(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LabelStore(db)
    store.record_label("p0001", "x", choice="chosen", left_response="chosen")
    store.record_label("p0001", "y", choice="rejected", left_response="chosen")
    at = _start(db, monkeypatch, annotator="lead")
    at.switch_page("page_agreement.py").run()
    assert not at.exception
    assert at.metric[0].value == "2"
    assert len(at.get("vega_lite_chart")) >= 3
    assert at.selectbox(key="adjudicate_pair").value == "p0001"
    at.radio(key="final_p0001").set_value("rejected")
    at.button(key="adjudicate").click().run()
    rows = store.connection().execute("SELECT choice, adjudicator FROM adjudications").fetchall()
    assert [tuple(r) for r in rows] == [("rejected", "lead")]


def test_export_button_writes_beside_the_database(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LabelStore(db)
    store.record_label("p0002", "x", choice="rejected", left_response="chosen")
    at = _start(db, monkeypatch)
    at.switch_page("page_export.py").run()
    at.button(key="export").click().run()
    assert not at.exception
    out = db.parent / "labels_export"
    row = pq.read_table(out / "labelled.parquet").to_pylist()[0]
    assert (row["id"], row["flipped"]) == ("p0002", True)
    assert (out / "annotations.parquet").is_file() and (out / "agreement.json").is_file()
    assert "1 labelled pairs" in at.success[0].value


def test_switching_annotator_starts_from_their_own_queue(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _start(db, monkeypatch)
    shown_to_ann = _pair_on_screen(at)
    at.sidebar.button(key="sign_out").click().run()
    assert "annotator" not in at.session_state
    at.text_input(key="annotator_pick").input("zed")
    at.button(key="sign_in").click().run()
    # ann's claim holds their pair (overlap 1), so zed gets a different one
    assert _pair_on_screen(at) != shown_to_ann
    _press(at, "tie")
    assert [label.annotator for label in LabelStore(db).labels()] == ["zed"]
