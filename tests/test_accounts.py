"""Accounts: salted scrypt hashes, `prefdata annotate user add|list|remove`, and the
app refusing to serve without a way to sign in."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from prefdata.annotate import accounts, app_launch
from prefdata.annotate.accounts import (
    LoginThrottle,
    add_user,
    authenticate,
    hash_password,
    verify_password,
)
from prefdata.annotate.label_store import LabelStore
from prefdata.cli.main import app
from prefdata.errors import ConfigError, InputError
from tests.annotate_data import write_kept

runner = CliRunner()


def _text(result: object) -> str:
    return " ".join(result.output.split())  # type: ignore[attr-defined]


def test_hashes_are_salted_and_never_hold_the_password() -> None:
    one, two = hash_password("s3cret-pass"), hash_password("s3cret-pass")
    assert one != two and "s3cret" not in one
    assert one.startswith("scrypt$16384$8$1$")
    assert verify_password(one, "s3cret-pass") and verify_password(two, "s3cret-pass")
    assert not verify_password(one, "s3cret-pasS")
    assert not verify_password("garbage", "s3cret-pass")


def test_authenticate_and_refusals(tmp_path: Path) -> None:
    store = LabelStore(tmp_path / "labels.sqlite")
    add_user(store, "alice", role="annotator", password="alice-pass")
    assert authenticate(store, "alice", "alice-pass") == "annotator"
    assert authenticate(store, "alice", "nope-nope") is None
    assert authenticate(store, "mallory", "alice-pass") is None
    with pytest.raises(InputError, match="already exists"):
        add_user(store, "alice", role="lead", password="another-pass")
    with pytest.raises(ConfigError, match="at least 8"):
        add_user(store, "bob", role="annotator", password="short")
    with pytest.raises(ConfigError, match="role must be one of"):
        add_user(store, "bob", role="admin", password="long-enough")
    stored = store.connection().execute("SELECT password_hash FROM users").fetchone()[0]
    assert "alice-pass" not in stored


def test_every_refusal_costs_one_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Timing must not tell an unknown name or an OIDC-only account from a wrong password."""
    store = LabelStore(tmp_path / "labels.sqlite")
    add_user(store, "alice", role="annotator", password="alice-pass")
    add_user(store, "sso@example.org", role="annotator", password=None, sso_only=True)
    accounts._dummy_record()  # made once per process, before the first unknown name
    calls: list[int] = []
    real = accounts._scrypt

    def counted(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(accounts, "_scrypt", counted)
    for name in ("alice", "mallory", "sso@example.org"):
        calls.clear()
        assert authenticate(store, name, "wrong-guess") is None
        assert len(calls) == 1, name


def test_user_commands(tmp_path: Path) -> None:
    db = tmp_path / "labels.sqlite"
    added = runner.invoke(
        app,
        ["annotate", "user", "add", "lena", "--role", "lead", "--db", str(db)],
        input="lena-password\n",
    )
    assert added.exit_code == 0, added.output
    assert "added lead 'lena'" in _text(added)
    runner.invoke(app, ["annotate", "user", "add", "ann", "--db", str(db)], input="ann-password\n")
    listed = runner.invoke(app, ["annotate", "user", "list", "--db", str(db)])
    assert [line.split()[:3] for line in listed.output.splitlines()] == [
        ["ann", "annotator", "password"],
        ["lena", "lead", "password"],
    ]
    assert authenticate(LabelStore(db), "lena", "lena-password") == "lead"
    short = runner.invoke(app, ["annotate", "user", "add", "x", "--db", str(db)], input="abc\n")
    assert short.exit_code == 2 and "at least 8" in _text(short)
    removed = runner.invoke(app, ["annotate", "user", "remove", "ann", "--db", str(db)])
    assert removed.exit_code == 0
    again = runner.invoke(app, ["annotate", "user", "remove", "ann", "--db", str(db)])
    assert again.exit_code == 2 and "no user 'ann'" in _text(again)
    raw = sqlite3.connect(db).execute("SELECT group_concat(password_hash) FROM users").fetchone()
    assert "lena-password" not in raw[0]


def test_app_needs_accounts_or_open_and_open_stays_on_localhost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_kept(tmp_path / "kept.parquet", 2)
    monkeypatch.setattr(app_launch, "run_app", lambda cmd, env: 0)
    none = runner.invoke(app, ["app", "--data", str(data)])
    assert none.exit_code == 2
    assert "has no accounts: add one with `prefdata annotate user add" in _text(none)
    wide = runner.invoke(app, ["app", "--data", str(data), "--open", "--address", "0.0.0.0"])
    assert wide.exit_code == 2 and "only on localhost" in _text(wide)
    local = runner.invoke(app, ["app", "--data", str(data), "--open"])
    assert local.exit_code == 0 and "open mode: no login" in _text(local)
    db = tmp_path / "labels.sqlite"
    runner.invoke(app, ["annotate", "user", "add", "a", "--db", str(db)], input="a-password\n")
    served = runner.invoke(app, ["app", "--data", str(data), "--address", "0.0.0.0"])
    assert served.exit_code == 0, served.output


def test_login_throttle_locks_a_name_after_repeated_failures() -> None:
    throttle = LoginThrottle(max_failures=3, window_s=100, lock_s=60)
    for t in (0.0, 1.0, 2.0):
        assert throttle.locked_for("alice", now=t) == 0
        throttle.record("alice", ok=False, now=t)
    assert throttle.locked_for("alice", now=3.0) == pytest.approx(59.0)
    assert throttle.locked_for("bob", now=3.0) == 0  # per name
    assert throttle.locked_for("alice", now=63.0) == 0  # the lock ends
    throttle.record("alice", ok=True, now=63.0)  # a success clears the count
    throttle.record("alice", ok=False, now=64.0)
    assert throttle.locked_for("alice", now=65.0) == 0
    assert throttle.locked_for("alice", now=300.0) == 0  # old failures leave the window


def test_login_throttle_forgets_names_once_their_failures_leave_the_window() -> None:
    throttle = LoginThrottle(max_failures=3, window_s=100, lock_s=60)
    for i in range(1000):  # a guesser trying names, or typos, over a long-running server
        assert throttle.locked_for(f"name{i}", now=float(i % 50)) == 0
        throttle.record(f"name{i}", ok=False, now=float(i % 50))
    throttle.record("late", ok=False, now=500.0)
    assert list(throttle._failures) == ["late"]
