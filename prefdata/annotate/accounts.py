"""Accounts and roles, stored in the label database itself.

An annotator labels and sees their own progress; a lead also browses every pair,
reads agreement, adjudicates and exports. Passwords are stored as salted scrypt
hashes (``hashlib.scrypt``, standard library): ``scrypt$n$r$p$salt$hash`` in hex. An
account created for single sign-on (OIDC through Streamlit's ``st.login``) has no
password at all and can only sign in through the identity provider.

>>> record = hash_password("correct horse")
>>> verify_password(record, "correct horse"), verify_password(record, "wrong")
(True, False)
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

from prefdata.annotate.label_store import LabelStore, check_annotator, now_iso
from prefdata.errors import ConfigError, InputError

ROLES = ("annotator", "lead")
MIN_PASSWORD_CHARS = 8
# scrypt cost: n=2**14, r=8 is the interactive-login setting of Percival's scrypt paper
# (~50 ms and 16 MiB per try here), enough to make offline guessing slow.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P, _SALT_BYTES, _KEY_BYTES = 2**14, 8, 1, 16, 32
NO_PASSWORD = "!sso"  # never a valid scrypt record: the account signs in through OIDC only


@dataclass(frozen=True)
class User:
    name: str
    role: str
    created_at: str
    sso_only: bool


def hash_password(password: str) -> str:
    """A salted scrypt record for ``password``."""
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${key.hex()}"


def verify_password(record: str, password: str) -> bool:
    """Whether ``password`` matches the stored record (constant-time comparison)."""
    parts = record.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = bytes.fromhex(parts[4]), bytes.fromhex(parts[5])
    except ValueError:
        return False
    return hmac.compare_digest(_scrypt(password, salt, n, r, p, len(expected)), expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, size: int = _KEY_BYTES) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=size, maxmem=128 * r * n * 2
    )


def add_user(
    store: LabelStore, name: str, *, role: str, password: str | None, sso_only: bool = False
) -> User:
    """Create an account; ``password`` is None only for an OIDC-only account."""
    name = check_annotator(name)
    if role not in ROLES:
        raise ConfigError(f"role must be one of {list(ROLES)}, got {role!r}")
    if sso_only:
        record = NO_PASSWORD
    else:
        if password is None or len(password) < MIN_PASSWORD_CHARS:
            raise ConfigError(
                f"password must be at least {MIN_PASSWORD_CHARS} characters"
                f" (got {0 if password is None else len(password)})"
            )
        record = hash_password(password)
    stamp = now_iso()
    with store.write() as conn:
        if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
            raise InputError(
                f"user {name!r} already exists in {store.path}: `prefdata annotate user remove"
                f" {name}` first to replace the account"
            )
        conn.execute(
            "INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
            (name, role, record, stamp),
        )
    return User(name=name, role=role, created_at=stamp, sso_only=sso_only)


def remove_user(store: LabelStore, name: str) -> None:
    """Delete an account; their labels stay (they are evidence), their sessions end."""
    with store.write() as conn:
        gone = conn.execute("DELETE FROM users WHERE name = ?", (name.strip(),)).rowcount
    if not gone:
        raise InputError(f"no user {name!r} in {store.path}: see `prefdata annotate user list`")


def users(store: LabelStore) -> list[User]:
    conn = store.connection()
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'users'").fetchone() is None:
        return []  # a first-release database opened read-only: no accounts yet
    rows = conn.execute("SELECT name, role, created_at, password_hash FROM users ORDER BY name")
    return [User(r[0], r[1], r[2], r[3] == NO_PASSWORD) for r in rows]


def role_of(store: LabelStore, name: str) -> str | None:
    """The account's role, or None when there is no such account (any more)."""
    row = store.connection().execute("SELECT role FROM users WHERE name = ?", (name,)).fetchone()
    return None if row is None else str(row[0])


def authenticate(store: LabelStore, name: str, password: str) -> str | None:
    """The role when ``name`` and ``password`` match an account, else None.

    An unknown name, or an account that signs in through OIDC only, costs the same
    hash as a wrong password, so the time taken does not tell which names exist.
    """
    row = (
        store.connection()
        .execute("SELECT role, password_hash FROM users WHERE name = ?", ((name or "").strip(),))
        .fetchone()
    )
    record = row[1] if row is not None and row[1] != NO_PASSWORD else _dummy_record()
    ok = verify_password(record, password)
    return str(row[0]) if ok and row is not None else None


@functools.cache
def _dummy_record() -> str:
    return hash_password(secrets.token_hex(8))


@dataclass
class LoginThrottle:
    """Slows password guessing: after ``max_failures`` wrong passwords for one name
    within ``window_s``, that name is locked for ``lock_s`` (in this server process).

    The scrypt cost already limits each try to ~50 ms; this bounds a guesser to a few
    tries a minute per account.
    """

    max_failures: int = 5
    window_s: float = 300.0
    lock_s: float = 60.0
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def locked_for(self, name: str, *, now: float | None = None) -> float:
        """Seconds ``name`` must still wait before its next try (0 when it may try)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            recent = [t for t in self._failures.get(name, []) if now - t < self.window_s]
            if recent:
                self._failures[name] = recent
            else:
                self._failures.pop(name, None)
            if len(recent) < self.max_failures:
                return 0.0
            return max(0.0, recent[-1] + self.lock_s - now)

    def record(self, name: str, *, ok: bool, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            if ok:
                self._failures.pop(name, None)
            else:
                # Forget names whose failures have all left the window: on a long-running
                # server, every name ever mistyped or guessed would otherwise stay.
                stale = [
                    n for n, times in self._failures.items() if now - times[-1] >= self.window_s
                ]
                for old_name in stale:
                    del self._failures[old_name]
                self._failures.setdefault(name, []).append(now)
