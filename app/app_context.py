"""What every page shares: the settings the app was started with and the label store.

Settings come only from the script arguments that ``prefdata app`` passes after
``--``; no page accepts a file path, so the app reads nothing but its own data and
database. Who is signed in, and with which role, is ``sign_in``'s business.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from prefdata.annotate.label_store import LabelStore
from prefdata.annotate.queue import QUEUE_ORDERS
from prefdata.annotate.screens import DEFAULT_MIN_SECONDS_ON_SCREEN
from prefdata.errors import PrefdataError


@dataclass(frozen=True)
class AppContext:
    store: LabelStore
    data: tuple[str, ...]
    guidelines: str | None
    annotators: tuple[str, ...]
    overlap: int
    queue_order: str
    open_mode: bool  # name-only sign-in, no accounts (one person on localhost)
    oidc: bool  # sign in through Streamlit's st.login (OIDC)
    session_hours: float
    min_seconds_on_screen: float

    @property
    def export_dir(self) -> Path:
        """Exports go beside the database, never to a path typed into the page."""
        return self.store.path.parent / f"{self.store.path.stem}_export"


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="prefdata app", add_help=False)
    parser.add_argument("--db", required=True)
    parser.add_argument("--data", action="append", default=[])
    parser.add_argument("--guidelines")
    parser.add_argument("--annotators", default="")
    parser.add_argument("--overlap", type=int, default=1)
    parser.add_argument("--queue-order", default="overlap-first")
    parser.add_argument("--open", action="store_true")
    parser.add_argument("--oidc", action="store_true")
    parser.add_argument("--session-hours", type=float, default=8.0)
    parser.add_argument(
        "--min-seconds-on-screen", type=float, default=DEFAULT_MIN_SECONDS_ON_SCREEN
    )
    args, _unknown = parser.parse_known_args(argv)
    return args


@st.cache_resource(show_spinner=False)
def _open_store(db: str) -> LabelStore:
    return LabelStore(db)


@st.cache_data(show_spinner=False)
def _read_guidelines(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def app_context() -> AppContext:
    """The app's settings and store; stops the page with a message when started wrong."""
    try:
        args = _parse(sys.argv[1:])
    except SystemExit:
        st.error("Start the app with `prefdata app --data DATA [--db FILE]`.")
        st.stop()
    if args.overlap < 1:
        st.error(f"--overlap must be >= 1, got {args.overlap}")
        st.stop()
    if args.queue_order not in QUEUE_ORDERS:
        st.error(f"--queue-order must be one of {list(QUEUE_ORDERS)}, got {args.queue_order!r}")
        st.stop()
    try:
        store = _open_store(args.db)
    except PrefdataError as exc:
        st.error(str(exc))
        st.stop()
    return AppContext(
        store=store,
        data=tuple(args.data),
        guidelines=_read_guidelines(args.guidelines) if args.guidelines else None,
        annotators=tuple(n.strip() for n in args.annotators.split(",") if n.strip()),
        overlap=args.overlap,
        queue_order=args.queue_order,
        open_mode=args.open,
        oidc=args.oidc,
        session_hours=args.session_hours,
        min_seconds_on_screen=max(args.min_seconds_on_screen, 0.0),
    )
