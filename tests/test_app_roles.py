"""Accounts, roles, blind labelling, the overlap-first queue and refused stale labels,
through streamlit.testing.v1.AppTest on a temporary database."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from prefdata.annotate.accounts import add_user, remove_user
from prefdata.annotate.export import export_labels
from prefdata.annotate.label_store import LabelStore
from prefdata.annotate.pair_import import import_parquet
from prefdata.annotate.review_queue import import_review_queue
from tests.annotate_data import kept_table, write_dropped, write_kept

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest

SCRIPT = Path(__file__).resolve().parent.parent / "app" / "streamlit_app.py"
PASSWORDS = {"alice": "alice-secret-1", "bob": "bob-secret-22", "lena": "lena-secret-333"}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "labels.sqlite"
    store = LabelStore(path)
    import_parquet(store, write_kept(tmp_path / "kept.parquet", 6))
    import_parquet(store, write_dropped(tmp_path / "dropped.parquet"))
    for name, password in PASSWORDS.items():
        add_user(store, name, role="lead" if name == "lena" else "annotator", password=password)
    return path


def _app(db: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> AppTest:
    argv = [str(SCRIPT), "--db", str(db), "--min-seconds-on-screen", "0", *extra]
    monkeypatch.setattr(sys, "argv", argv)
    at = AppTest.from_file(str(SCRIPT), default_timeout=30)
    at.run()
    assert not at.exception
    return at


def _sign_in(at: AppTest, name: str, password: str | None = None) -> AppTest:
    at.text_input(key="sign_in_name").input(name)
    at.text_input(key="sign_in_password").input(password or PASSWORDS[name])
    at.button(key="sign_in_submit").click().run()
    assert not at.exception
    return at


def _pair_on_screen(at: AppTest) -> str:
    caption = next(c.value for c in at.caption if c.value.startswith("Pair "))
    return caption.split()[1]


def _press(at: AppTest, what: str, pair: str | None = None) -> AppTest:
    at.button(key=f"answer_{what}_{pair or _pair_on_screen(at)}").click().run()
    assert not at.exception
    return at


def _page_text(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "text", "info") for e in at.get(kind)]
    return " ".join(str(p) for p in parts)


def test_nothing_is_shown_before_signing_in_and_a_wrong_password_fails(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _app(db, monkeypatch)
    assert not [b for b in at.button if (b.key or "").startswith("answer_")]
    assert not at.dataframe
    _sign_in(at, "alice", "wrong-password")
    assert "wrong password" in at.error[0].value
    assert "annotator" not in at.session_state
    at.switch_page("page_browse.py").run()
    assert not at.exception
    assert not at.dataframe and not [s for s in at.selectbox if s.key == "browse_reason"]
    assert at.text_input(key="sign_in_name")  # the sign-in form instead


def test_an_annotator_sees_only_annotate(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _sign_in(_app(db, monkeypatch), "alice")
    assert at.session_state["role"] == "annotator"
    assert _pair_on_screen(at).startswith("p")
    for page in ("page_browse.py", "page_agreement.py", "page_export.py"):
        # The navigation does not register the lead pages for an annotator ...
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page)
        # ... and each lead page refuses an annotator's session on its own.
        direct = AppTest.from_file(str(SCRIPT.parent / page), default_timeout=30)
        direct.session_state["annotator"] = "alice"
        direct.session_state["signed_in_at"] = time.time()
        direct.run()
        assert "for leads" in direct.error[0].value, page
        assert not direct.dataframe and not direct.metric and not direct.button
    # the lead's own pages are open to the lead
    lead = _sign_in(_app(db, monkeypatch), "lena")
    lead.switch_page("page_browse.py").run()
    assert lead.dataframe and not lead.exception
    lead.switch_page("page_export.py").run()
    assert lead.button(key="export")


def test_sessions_expire_and_a_removed_account_is_signed_out(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _sign_in(_app(db, monkeypatch, "--session-hours", "1"), "alice")
    at.session_state["signed_in_at"] = time.time() - 3601
    at.run()
    assert "session expired" in at.warning[0].value
    assert not [b for b in at.button if (b.key or "").startswith("answer_")]
    _sign_in(at, "alice")
    assert _pair_on_screen(at)
    remove_user(LabelStore(db), "alice")
    at.run()
    assert "no longer exists" in at.warning[0].value


def test_an_expired_or_removed_session_stores_no_label(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A button's callback runs before any page check (and the pair area is a fragment that
    reruns without the entry script): it must check the session itself."""
    at = _sign_in(_app(db, monkeypatch, "--session-hours", "1"), "alice")
    at.session_state["signed_in_at"] = time.time() - 3601
    _press(at, "A")
    assert "session expired" in at.warning[0].value
    _sign_in(at, "alice")
    remove_user(LabelStore(db), "alice")
    _press(at, "B")
    assert "no longer exists" in at.warning[0].value
    assert LabelStore(db).labels() == [] and LabelStore(db).events() == []


def test_an_oidc_session_expires_too(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The identity provider's login outlives --session-hours; expiry must end it as well,
    not sign the person straight back in from it."""
    add_user(LabelStore(db), "sso@example.org", role="annotator", password=None, sso_only=True)
    argv = [str(SCRIPT), "--db", str(db), "--oidc", "--session-hours", "1"]
    monkeypatch.setattr(sys, "argv", argv)
    at = AppTest.from_file(str(SCRIPT), default_timeout=30)
    at.user = {"is_logged_in": True, "email": "sso@example.org"}
    at.run()
    assert not at.exception and _pair_on_screen(at)
    at.session_state["signed_in_at"] = time.time() - 3601
    at.run()
    assert "session expired" in at.warning[0].value
    assert not [b for b in at.button if (b.key or "").startswith("answer_")]
    assert at.button(key="oidc_login")


def test_an_oidc_login_without_an_account_is_told_the_command(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), "--db", str(db), "--oidc"])
    at = AppTest.from_file(str(SCRIPT), default_timeout=30)
    at.user = {"is_logged_in": True, "email": "first-last@example.org"}
    at.run()
    message = at.error[0].value
    assert "first\\-last@example\\.org" in message  # escaped in plain text
    # Inside a code span escapes show literally: the command must hold none.
    code = message.split("`")[1]
    assert code.startswith("prefdata annotate user add") and "\\" not in code, code


def test_labelling_is_blind(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LabelStore(db)
    # colleagues' votes on every pair, with comments that must not show
    for pair in ("p0000", "p0001", "p0002"):
        store.record_label(
            pair, "bob", choice="rejected", left_response="chosen", comment="BOBNOTE"
        )
    # the audit's margin hints at the data's order: leads only
    audit = kept_table(1).append_column("audit_rank", [[1]]).append_column("margin", [[-2.5]])
    pq.write_table(audit, db.parent / "audit.parquet")
    import_review_queue(store, db.parent / "audit.parquet")
    at = _sign_in(_app(db, monkeypatch, "--overlap", "3"), "alice")
    text = _page_text(at)
    assert _pair_on_screen(at) == "p0000"  # the review queue's pair, which bob voted on
    for leak in ("bob", "BOBNOTE", "rejected", "chosen", "identical", "Review queue", "margin"):
        assert leak not in text, leak
    labels = [b.label for b in at.button]
    assert "A is better" in labels and not any("chosen" in x.lower() for x in labels)
    lead = _sign_in(_app(db, monkeypatch, "--overlap", "3"), "lena")
    assert "Review queue #1" in _page_text(lead)  # the lead does see it


def test_overlap_first_serves_the_pair_a_colleague_labelled(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = _sign_in(_app(db, monkeypatch, "--overlap", "2"), "alice")
    first = _pair_on_screen(alice)
    _press(alice, "A")
    assert _pair_on_screen(alice) != first
    bob = _sign_in(_app(db, monkeypatch, "--overlap", "2"), "bob")
    assert _pair_on_screen(bob) == first
    wide = _sign_in(
        _app(db, monkeypatch, "--overlap", "2", "--queue-order", "breadth-first"), "lena"
    )
    # breadth-first: an unvoted pair, not the one with a vote
    assert _pair_on_screen(wide) != first
    assert LabelStore(db).pair(_pair_on_screen(wide)).n_votes == 0


def test_a_label_for_a_pair_no_longer_on_screen_is_refused(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two tabs of one annotator: the stale tab's answer names the old pair and is refused."""
    tab1 = _sign_in(_app(db, monkeypatch), "alice")
    tab2 = _sign_in(_app(db, monkeypatch), "alice")
    first = _pair_on_screen(tab1)
    assert _pair_on_screen(tab2) == first  # the claim is held: the same pair in both tabs
    _press(tab1, "A")
    second = _pair_on_screen(tab1)
    assert second != first
    _press(tab2, "B", pair=first)  # drawn for `first`, pressed after `second` appeared
    assert any("refused" in t.value for t in tab2.toast)
    labels = LabelStore(db).labels(annotator="alice")
    assert [(lab.pair_id, lab.choice) for lab in labels] == [
        (first, LabelStore(db).label(first, "alice").choice)  # type: ignore[union-attr]
    ]
    assert len(labels) == 1 and [e["kind"] for e in LabelStore(db).events()] == ["label"]


def test_a_press_sooner_than_the_guard_after_the_pair_appeared_is_ignored(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _sign_in(_app(db, monkeypatch, "--min-seconds-on-screen", "30"), "alice")
    first = _pair_on_screen(at)
    _press(at, "A")
    assert any("repeated key press" in t.value for t in at.toast)
    assert LabelStore(db).labels() == []
    assert _pair_on_screen(at) == first  # still there, to be answered for real


def test_labels_on_dropped_pairs_are_marked_in_the_export(db: Path, tmp_path: Path) -> None:
    store = LabelStore(db)
    store.record_label("d1", "lena", choice="chosen", left_response="chosen")
    store.record_label("p0001", "lena", choice="chosen", left_response="chosen")
    summary = export_labels(store, tmp_path / "out")
    rows = {r["id"]: r for r in pq.read_table(tmp_path / "out" / "labelled.parquet").to_pylist()}
    assert rows["d1"]["filter_verdict"] == "dropped"
    assert rows["d1"]["filter_reasons"] == ["identical_pair"]
    assert rows["p0001"]["filter_verdict"] == "kept"
    assert summary.labelled_filter_dropped == 1
    notes = pq.read_table(tmp_path / "out" / "annotations.parquet").to_pylist()
    assert {(n["pair_id"], n["filter_verdict"]) for n in notes} == {
        ("d1", "dropped"),
        ("p0001", "kept"),
    }


def test_repeated_wrong_passwords_lock_the_name(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_user(LabelStore(db), "mallory", role="annotator", password="mallory-pass-1")
    at = _app(db, monkeypatch)
    for _ in range(5):
        _sign_in(at, "mallory", "guess-guess")
        assert "wrong password" in at.error[0].value
    _sign_in(at, "mallory", "mallory-pass-1")  # even the right one waits now
    assert "Too many wrong passwords" in at.error[0].value
    assert "annotator" not in at.session_state
