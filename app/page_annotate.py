"""Annotate: one pair at a time from the queue, A/B in a per-annotator random order."""

from __future__ import annotations

import time

import streamlit as st
from app_context import AppContext, app_context, require_annotator
from pair_view import VIEW_MODES, show_prompt, show_responses

from prefdata.annotate.label_store import LabelStore
from prefdata.annotate.queue import next_pair, progress, release
from prefdata.annotate.review_queue import review_entry
from prefdata.annotate.side_order import choice_to_screen, left_response, screen_to_choice

SKIP_REASONS = ("unsure", "needs expertise", "content problem", "broken pair", "other")
# Letters, not digits or arrows: they read as the button they press, and Streamlit
# ignores them while the comment box has focus. (C and R are reserved by Streamlit.)
SHORTCUTS = {"A": "A", "B": "B", "tie": "T", "both_bad": "X", "skip": "S"}
STATE = "annotate"  # session_state key of this page's navigation state


def _state() -> dict:
    """Navigation state: the pair on screen, pairs passed over, and when each was shown."""
    return st.session_state.setdefault(
        STATE, {"current": None, "viewing": None, "passed": [], "shown_at": {}}
    )


def _history(store: LabelStore, annotator: str) -> list[str]:
    return [label.pair_id for label in store.labels(annotator=annotator)]


def _pair_on_screen(ctx: AppContext, annotator: str) -> str | None:
    state = _state()
    opened = st.session_state.pop("open_pair", None)  # set by Browse / Agreement
    if opened:
        state["viewing"] = opened
    if state["viewing"]:
        return str(state["viewing"])
    if state["current"] is None or ctx.store.label(state["current"], annotator) is not None:
        state["current"] = next_pair(
            ctx.store, annotator, overlap=ctx.overlap, exclude=tuple(state["passed"])
        )
    return state["current"]


def _answer(ctx: AppContext, annotator: str, pair_id: str, screen: str) -> None:
    """Button callback: store the answer against the response, then move on."""
    state = _state()
    left = left_response(pair_id, annotator)
    choice = screen_to_choice(screen, left)  # type: ignore[arg-type]
    strength = st.session_state.get(f"strength_{pair_id}")
    started = state["shown_at"].pop(pair_id, None)
    ctx.store.record_label(
        pair_id,
        annotator,
        choice=choice,
        left_response=left,  # type: ignore[arg-type]
        strength=strength if choice in ("chosen", "rejected") and strength != "—" else None,
        comment=st.session_state.get(f"comment_{pair_id}", ""),
        flagged=bool(st.session_state.get(f"flag_{pair_id}", False)),
        skip_reason=st.session_state.get(f"skip_reason_{pair_id}") if choice == "skip" else None,
        seconds=None if started is None else round(time.monotonic() - started, 2),
    )
    _go_next(ctx, annotator)


def _go_next(ctx: AppContext, annotator: str) -> None:
    state = _state()
    if state["viewing"]:
        history = _history(ctx.store, annotator)
        index = history.index(state["viewing"]) if state["viewing"] in history else len(history)
        state["viewing"] = history[index + 1] if index + 1 < len(history) else None
    elif state["current"] is not None and ctx.store.label(state["current"], annotator) is None:
        # Passing over an unanswered pair: give it back to the queue for others.
        release(ctx.store, annotator, state["current"])
        state["passed"].append(state["current"])
        state["current"] = None


def _go_previous(ctx: AppContext, annotator: str) -> None:
    state = _state()
    history = _history(ctx.store, annotator)
    if not history:
        return
    if state["viewing"] in history:
        state["viewing"] = history[max(history.index(state["viewing"]) - 1, 0)]
    else:
        state["viewing"] = history[-1]


def _undo(ctx: AppContext, annotator: str) -> None:
    restored = ctx.store.undo_last(annotator)
    if restored is not None:
        _state()["viewing"] = restored if ctx.store.label(restored, annotator) else None
        if not _state()["viewing"]:
            _state()["current"] = restored
        st.session_state["flash"] = f"Undid your last answer on pair {restored}."


ctx = app_context()
annotator = require_annotator(ctx)

done = progress(ctx.store, annotator, overlap=ctx.overlap)
st.progress(
    done.done / max(done.done + done.remaining, 1),
    text=f"{done.labelled} labelled, {done.skipped} skipped, {done.remaining} open to you",
)
if ctx.guidelines:
    with st.expander("Guidelines"):
        st.markdown(ctx.guidelines)
if flash := st.session_state.pop("flash", None):
    st.toast(flash)

pair_id = _pair_on_screen(ctx, annotator)
nav = st.columns(3)
nav[0].button("◀ Previous", shortcut="P", on_click=_go_previous, args=(ctx, annotator), key="prev")
nav[1].button("Next ▶", shortcut="N", on_click=_go_next, args=(ctx, annotator), key="next")
nav[2].button("Undo last", shortcut="U", on_click=_undo, args=(ctx, annotator), key="undo")
if pair_id is None:
    st.success("Nothing left in your queue: every pair has its votes or has your answer.")
    st.stop()

pair = ctx.store.pair(pair_id)
_state()["shown_at"].setdefault(pair_id, time.monotonic())
existing = ctx.store.label(pair_id, annotator)
left = existing.left_response if existing else left_response(pair_id, annotator)
st.caption(f"Pair `{pair_id}`" + (" — viewing your earlier answer" if existing else ""))
if review := review_entry(ctx.store, pair_id):
    margin = "n/a" if review.margin is None else f"{review.margin:+.4f}"
    st.caption(
        f"Review queue #{review.rank} ({review.source}): implicit reward margin {margin}; "
        "a negative margin means the trained model prefers the other response"
    )
if existing:
    st.info(
        f"Your answer: **{choice_to_screen(existing.choice, left)}**"
        + (f" ({existing.strength})" if existing.strength else "")
    )

mode = st.radio("View", VIEW_MODES, horizontal=True, key="view_mode", label_visibility="collapsed")
show_prompt(pair)
show_responses(pair, left=left, mode=mode)

options = st.columns([1, 2, 1, 1])
options[0].radio(
    "Strength",
    ("—", "slightly", "much"),
    horizontal=True,
    key=f"strength_{pair_id}",
    index=("—", "slightly", "much").index(existing.strength or "—") if existing else 0,
)
options[1].text_input(
    "Comment", key=f"comment_{pair_id}", value=existing.comment if existing else ""
)
options[2].checkbox(
    "Flag for review", key=f"flag_{pair_id}", value=existing.flagged if existing else False
)
options[3].selectbox("Skip reason", SKIP_REASONS, key=f"skip_reason_{pair_id}")

buttons = st.columns(5)
labels = {
    "A": "A is better",
    "B": "B is better",
    "tie": "Tie",
    "both_bad": "Both bad",
    "skip": "Skip",
}
for column, (screen, text) in zip(buttons, labels.items(), strict=True):
    column.button(
        text,
        key=f"answer_{screen}",
        shortcut=SHORTCUTS[screen],
        on_click=_answer,
        args=(ctx, annotator, pair_id, screen),
        width="stretch",
        type="primary" if screen in ("A", "B") else "secondary",
    )
