"""Annotate: one pair at a time from the queue, A/B in a per-annotator random order.

Blind: the page shows neither other people's votes, nor which response the data
called chosen, nor the filter's reasons. Every control is a button with a key, so
no form field keeps the keyboard after a click (Streamlit ignores shortcuts while an
input has focus); only the comment box takes typing, and shortcuts are off there.

Each answer button's key and arguments name the pair it was drawn for, and the
store refuses a label for any pair but the one on this annotator's screen, or one
sooner than ``--min-seconds-on-screen`` after it appeared: a doubled key press is
ignored instead of labelling the next pair. The pair area is a fragment, so a label
reruns only it, not the page around it.
"""

from __future__ import annotations

import sqlite3
import time

import streamlit as st
from app_context import AppContext, app_context
from page_guard import scroll_to_top
from pair_view import VIEW_MODES, escape_markdown, show_prompt, show_responses
from sign_in import Who, require_signed_in, signed_in_as

from prefdata.annotate.label_store import LabelStore
from prefdata.annotate.queue import next_pair, progress, release
from prefdata.annotate.review_queue import review_entry
from prefdata.annotate.screens import StaleLabelError
from prefdata.annotate.side_order import choice_to_screen, left_response, screen_to_choice
from prefdata.annotate.store_open import describe
from prefdata.errors import PrefdataError

SKIP_REASONS = ("unsure", "needs expertise", "content problem", "broken pair", "other")
# Letters and digits read as the button they press. C and R are reserved by Streamlit.
SHORTCUTS = {"A": "A", "B": "B", "tie": "T", "both_bad": "X", "skip": "S"}
STRENGTH_KEYS = {"slightly": "1", "much": "2"}
FLAG_KEY, VIEW_KEY = "F", "V"
ANSWERS = {
    "A": "A is better",
    "B": "B is better",
    "tie": "Tie",
    "both_bad": "Both bad",
    "skip": "Skip",
}
STATE = "annotate"  # session_state key of this page's navigation state


def _state() -> dict:
    """Navigation state: the pair on screen, pairs passed over, and when each was shown."""
    return st.session_state.setdefault(
        STATE,
        {"current": None, "viewing": None, "passed": [], "shown_at": {}, "on_screen": None},
    )


def _history(store: LabelStore, annotator: str) -> list[str]:
    return [label.pair_id for label in store.labels(annotator=annotator)]


def _pair_on_screen(ctx: AppContext, annotator: str) -> str | None:
    state = _state()
    if state["viewing"]:
        return str(state["viewing"])
    if state["current"] is None or ctx.store.label(state["current"], annotator) is not None:
        state["current"] = next_pair(
            ctx.store,
            annotator,
            overlap=ctx.overlap,
            exclude=tuple(state["passed"]),
            order=ctx.queue_order,
        )
    return state["current"]


def _answer(ctx: AppContext, annotator: str, pair_id: str, screen: str) -> None:
    """Button callback: store the answer for the pair the button was drawn for."""
    if not signed_in_as(ctx, annotator):  # expired or removed: the page asks to sign in
        return
    state = _state()
    left = left_response(pair_id, annotator)
    choice = screen_to_choice(screen, left)  # type: ignore[arg-type]
    strength = st.session_state.get(f"strength_{pair_id}")
    started = state["shown_at"].get(pair_id)
    try:
        ctx.store.record_label(
            pair_id,
            annotator,
            choice=choice,  # type: ignore[arg-type]
            left_response=left,
            strength=strength if choice in ("chosen", "rejected") else None,
            comment=st.session_state.get(f"comment_{pair_id}", ""),
            flagged=bool(st.session_state.get(f"flag_{pair_id}", False)),
            skip_reason=st.session_state.get(f"skip_reason_{pair_id}")
            if choice == "skip"
            else None,
            seconds=None if started is None else round(time.monotonic() - started, 2),
            on_screen_for=ctx.min_seconds_on_screen,
        )
    except StaleLabelError as exc:
        st.session_state["flash"] = f"Ignored: {exc}"
        # Put this tab's pair back on the screen record (another tab may have moved it),
        # so a deliberate press after the guard counts.
        state["on_screen"] = None
        return
    except PrefdataError as exc:  # e.g. the database is locked or read-only
        st.session_state["flash"] = f"Not stored: {exc}"
        return
    state["shown_at"].pop(pair_id, None)
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
    if not signed_in_as(ctx, annotator):
        return
    # A doubled U would undo two answers: like a label, an undo sooner than the guard
    # after the last one is ignored (a deliberate second press after it still counts).
    now, state = time.monotonic(), _state()
    if now - state.get("undone_at", float("-inf")) < ctx.min_seconds_on_screen:
        st.session_state["flash"] = (
            f"Ignored a second Undo within {ctx.min_seconds_on_screen:.2f} s (a repeated key "
            "press?); press again to undo one more"
        )
        return
    state["undone_at"] = now
    restored = ctx.store.undo_last(annotator)
    if restored is not None:
        _state()["viewing"] = restored if ctx.store.label(restored, annotator) else None
        if not _state()["viewing"]:
            _state()["current"] = restored
        st.session_state["flash"] = f"Undid your last answer on pair {restored}."


def _toggle_strength(pair_id: str, value: str) -> None:
    key = f"strength_{pair_id}"
    st.session_state[key] = None if st.session_state.get(key) == value else value


def _toggle_flag(pair_id: str) -> None:
    key = f"flag_{pair_id}"
    st.session_state[key] = not st.session_state.get(key, False)


def _next_view() -> None:
    mode = st.session_state.get("view_mode", VIEW_MODES[0])
    st.session_state["view_mode"] = VIEW_MODES[(VIEW_MODES.index(mode) + 1) % len(VIEW_MODES)]


def _show(ctx: AppContext, annotator: str, pair_id: str) -> None:
    """Put the pair on this annotator's screen (once per pair) and scroll to the top."""
    state = _state()
    state["shown_at"].setdefault(pair_id, time.monotonic())
    if state["on_screen"] != pair_id:
        ctx.store.show(annotator, pair_id)
        state["on_screen"] = pair_id
        scroll_to_top(pair_id)


def _seed_controls(pair_id: str, existing: object) -> None:
    """Start an earlier answer's controls from what it stored."""
    if existing is None or f"strength_{pair_id}" in st.session_state:
        return
    st.session_state[f"strength_{pair_id}"] = existing.strength  # type: ignore[attr-defined]
    st.session_state[f"flag_{pair_id}"] = existing.flagged  # type: ignore[attr-defined]
    st.session_state[f"comment_{pair_id}"] = existing.comment  # type: ignore[attr-defined]


@st.fragment
def annotate(ctx: AppContext, who: Who) -> None:
    # A fragment reruns on its own, outside the entry script's sign-in check and error
    # handling: an expired or removed session reruns the whole page (its sign-in form).
    if not signed_in_as(ctx, who.name):
        st.rerun()
    try:
        _annotate(ctx, who)
    except sqlite3.Error as exc:
        st.error(describe(ctx.store.path, exc))
    except PrefdataError as exc:
        st.error(str(exc))


def _annotate(ctx: AppContext, who: Who) -> None:
    annotator = who.name
    done = progress(ctx.store, annotator, overlap=ctx.overlap)
    st.progress(
        done.done / max(done.done + done.remaining, 1),
        text=f"{done.labelled} labelled, {done.skipped} skipped, {done.remaining} open to you",
    )
    if flash := st.session_state.pop("flash", None):
        st.toast(escape_markdown(flash))

    pair_id = _pair_on_screen(ctx, annotator)
    # One wrapping row (columns would stack into four rows on a phone).
    nav = st.container(horizontal=True)
    nav.button("◀ Previous", shortcut="P", on_click=_go_previous, args=(ctx, annotator), key="prev")
    nav.button("Next ▶", shortcut="N", on_click=_go_next, args=(ctx, annotator), key="next")
    nav.button("Undo last", shortcut="U", on_click=_undo, args=(ctx, annotator), key="undo")
    if pair_id is None:
        st.success("Nothing left in your queue: every pair has its votes or has your answer.")
        return
    nav.button(
        f"View: {st.session_state.get('view_mode', VIEW_MODES[0])}",
        shortcut=VIEW_KEY,
        on_click=_next_view,
        key="view_mode_next",
    )

    pair = ctx.store.pair(pair_id)
    _show(ctx, annotator, pair_id)
    existing = ctx.store.label(pair_id, annotator)
    _seed_controls(pair_id, existing)
    left = existing.left_response if existing else left_response(pair_id, annotator)
    st.caption(
        f"Pair {escape_markdown(pair_id)}" + (" — viewing your earlier answer" if existing else "")
    )
    review = review_entry(ctx.store, pair_id) if who.is_lead else None
    if review is not None:  # the model's margin hints at the data's order: leads only
        margin = "n/a" if review.margin is None else f"{review.margin:+.4f}"
        st.caption(
            f"Review queue #{review.rank} ({escape_markdown(review.source)}): implicit reward"
            f" margin {margin}"
        )
    if existing:
        st.info(
            f"Your answer: **{choice_to_screen(existing.choice, left)}**"
            + (f" ({existing.strength})" if existing.strength else "")
        )

    show_prompt(pair)
    show_responses(pair, left=left, mode=st.session_state.get("view_mode", VIEW_MODES[0]))

    buttons = st.columns(5)
    for column, (screen, text) in zip(buttons, ANSWERS.items(), strict=True):
        column.button(
            text,
            key=f"answer_{screen}_{pair_id}",
            shortcut=SHORTCUTS[screen],
            on_click=_answer,
            args=(ctx, annotator, pair_id, screen),
            width="stretch",
            type="primary" if screen in ("A", "B") else "secondary",
        )

    options = st.columns([1, 1, 1, 3])
    strength = st.session_state.get(f"strength_{pair_id}")
    for column, (value, key) in zip(options[:2], STRENGTH_KEYS.items(), strict=True):
        column.button(
            f"{value.capitalize()} better",
            key=f"strength_{value}_{pair_id}",
            shortcut=key,
            on_click=_toggle_strength,
            args=(pair_id, value),
            type="primary" if strength == value else "tertiary",
            width="stretch",
        )
    flagged = bool(st.session_state.get(f"flag_{pair_id}", False))
    options[2].button(
        "Flagged" if flagged else "Flag for review",
        key=f"flag_button_{pair_id}",
        shortcut=FLAG_KEY,
        on_click=_toggle_flag,
        args=(pair_id,),
        type="primary" if flagged else "tertiary",
        width="stretch",
    )
    options[3].text_input(
        "Comment",
        key=f"comment_{pair_id}",
        placeholder="Comment (shortcuts are off while typing)",
        label_visibility="collapsed",
    )
    st.pills("Skip reason", SKIP_REASONS, key=f"skip_reason_{pair_id}", default="unsure")


ctx = app_context()
who = require_signed_in(ctx)
if ctx.guidelines:
    with st.expander("Guidelines"):
        st.markdown(ctx.guidelines)
annotate(ctx, who)
