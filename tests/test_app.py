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
    # The app reads its settings from the script arguments `prefdata app` passes.
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), "--db", str(db), *extra])
    at = AppTest.from_file(str(SCRIPT), default_timeout=30)
    if annotator:
        at.session_state["annotator"] = annotator
    at.run()
    assert not at.exception
    return at


def _pair_on_screen(at: AppTest) -> str:
    caption = next(c.value for c in at.caption if c.value.startswith("Pair `"))
    return caption.split("`")[1]


def test_sign_in_is_required_and_names_come_from_the_list(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _start(db, monkeypatch, "--annotators", "ann,bob", annotator=None)
    assert "Choose your name" in at.info[0].value
    assert not [b for b in at.button if b.key == "answer_A"]
    assert at.sidebar.selectbox(key="annotator_pick").options == ["ann", "bob"]
    at.sidebar.selectbox(key="annotator_pick").select("bob")
    at.sidebar.button(key="sign_in").click().run()
    assert at.session_state["annotator"] == "bob"
    assert at.button(key="answer_A")


def test_labels_are_stored_against_the_response_not_the_side(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _start(db, monkeypatch)
    first = _pair_on_screen(at)
    at.radio(key=f"strength_{first}").set_value("much")
    at.text_input(key=f"comment_{first}").input("clearer")
    at.checkbox(key=f"flag_{first}").check()
    at.button(key="answer_A").click().run()
    second = _pair_on_screen(at)
    at.button(key="answer_B").click().run()

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
    at.selectbox(key=f"skip_reason_{first}").select("needs expertise")
    at.button(key="answer_skip").click().run()
    store = LabelStore(db)
    skipped = store.label(first, "ann")
    assert skipped is not None
    assert (skipped.choice, skipped.skip_reason) == ("skip", "needs expertise")
    assert _pair_on_screen(at) != first

    at.button(key="undo").click().run()
    assert store.label(first, "ann") is None
    assert _pair_on_screen(at) == first  # the undone pair comes back to be answered
    assert [e["kind"] for e in store.events()] == ["skip", "undo"]


def test_queue_runs_out_and_respects_overlap(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _start(db, monkeypatch, "--overlap", "2")
    seen = []
    for _ in range(4):
        seen.append(_pair_on_screen(at))
        at.button(key="answer_tie").click().run()
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
    at.button(key="answer_A").click().run()
    at.button(key="prev").click().run()
    assert _pair_on_screen(at) == first
    assert "Your answer: **A**" in at.info[0].value
    at.button(key="answer_both_bad").click().run()
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
    at.radio(key="view_mode").set_value("Word diff").run()
    bodies = " ".join(h.proto.body for h in at.get("html"))
    assert "&lt;script&gt;" in bodies
    assert "<script" not in bodies and "<img" not in bodies


def test_browse_filters_and_opens_a_pair(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _start(db, monkeypatch)
    at.switch_page("page_browse.py").run()
    assert not at.exception
    at.selectbox(key="browse_reason").select("identical_pair").run()
    assert at.dataframe[0].value.pair_id.tolist() == ["d1"]
    assert "identical_pair" in at.warning[0].value
    at.button(key="browse_label").click().run()
    assert _pair_on_screen(at) == "d1"
    at.button(key="answer_tie").click().run()
    assert LabelStore(db).label("d1", "ann").choice == "tie"  # type: ignore[union-attr]


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
    at.sidebar.button(key="switch_annotator").click().run()
    assert "annotator" not in at.session_state
    at.sidebar.text_input(key="annotator_pick").input("zed")
    at.sidebar.button(key="sign_in").click().run()
    # ann's claim holds their pair (overlap 1), so zed gets a different one
    assert _pair_on_screen(at) != shown_to_ann
    at.button(key="answer_tie").click().run()
    assert [label.annotator for label in LabelStore(db).labels()] == ["zed"]
