"""What every page shares: the settings the app was started with, the label store
and the annotator's name.

Settings come only from the script arguments that ``prefdata app`` passes after
``--``; no page accepts a file path, so the app reads nothing but its own data and
database.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from prefdata.annotate.label_store import LabelStore, check_annotator
from prefdata.errors import ConfigError

ANNOTATOR_KEY = "annotator"


@dataclass(frozen=True)
class AppContext:
    store: LabelStore
    data: tuple[str, ...]
    guidelines: str | None
    annotators: tuple[str, ...]
    overlap: int

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
    return AppContext(
        store=_open_store(args.db),
        data=tuple(args.data),
        guidelines=_read_guidelines(args.guidelines) if args.guidelines else None,
        annotators=tuple(n.strip() for n in args.annotators.split(",") if n.strip()),
        overlap=args.overlap,
    )


def annotator_sidebar(ctx: AppContext) -> str | None:
    """The sign-in box: the name every label carries (from the allowed list if given)."""
    with st.sidebar:
        current = st.session_state.get(ANNOTATOR_KEY)
        if current:
            st.markdown(f"Annotating as **{_escape_md(current)}**")
            if st.button("Switch annotator", key="switch_annotator"):
                # The pages' navigation state (pair on screen, history) was this person's.
                for key in [k for k in st.session_state if k != "annotator_pick"]:
                    del st.session_state[key]
                st.rerun()
            return str(current)
        if ctx.annotators:
            name = st.selectbox(
                "Your name",
                ctx.annotators,
                index=None,
                key="annotator_pick",
                placeholder="Choose your name",
            )
        else:
            name = st.text_input("Your name", key="annotator_pick", max_chars=64)
        if st.button("Start", key="sign_in", type="primary") and name:
            try:
                st.session_state[ANNOTATOR_KEY] = check_annotator(name)
            except ConfigError as exc:
                st.error(str(exc))
                return None
            st.rerun()
    return None


def require_annotator(ctx: AppContext) -> str:
    """The signed-in annotator, or stop the page asking for a name."""
    name = st.session_state.get(ANNOTATOR_KEY)
    if not name:
        st.info("Choose your name in the sidebar to start.")
        st.stop()
    return str(name)


def _escape_md(text: str) -> str:
    # Names are shown with st.markdown: neutralise its syntax rather than trust them.
    return "".join("\\" + ch if ch in "\\`*_{}[]()#+-.!<>|~:$" else ch for ch in text)
