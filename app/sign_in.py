"""Who is using the app, and with which role.

Three ways in, chosen when the app is started:

* accounts (the default): name and password against the ``users`` table of the label
  database (``prefdata annotate user add``); the session expires after
  ``--session-hours``, and ends at the next click once the account is removed;
* ``--oidc``: Streamlit's own ``st.login`` (an OpenID Connect provider configured in
  ``.streamlit/secrets.toml``); the signed-in e-mail must be an account's name, which
  gives the role;
* ``--open``: today's name-only mode for one person on localhost: no password, every
  page, and a banner that says so.

The session state holds the name, role and sign-in time; it lives on the server, so a
browser cannot claim a role by itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import streamlit as st
from app_context import AppContext
from pair_view import escape_markdown

from prefdata.annotate.accounts import LoginThrottle, authenticate, role_of
from prefdata.annotate.label_store import check_annotator
from prefdata.errors import ConfigError

NAME_KEY, ROLE_KEY, AT_KEY = "annotator", "role", "signed_in_at"
OPEN_BANNER = (
    "Open mode: no login. Anyone who can reach this address can label under any name"
    " and see every page; meant for one person on localhost."
)


@dataclass(frozen=True)
class Who:
    name: str
    role: str

    @property
    def is_lead(self) -> bool:
        return self.role == "lead"


def _forget() -> None:
    for key in list(st.session_state):
        del st.session_state[key]


def _sign_out(ctx: AppContext) -> None:
    """End this session, and the identity provider's login with it: otherwise that login
    (which outlives ``--session-hours``) would sign the person straight back in."""
    _forget()
    if ctx.oidc and st.user.is_logged_in:
        st.logout()


def current(ctx: AppContext) -> Who | None:
    """The signed-in person, after checking the session is still valid."""
    name = st.session_state.get(NAME_KEY)
    if not name:
        return None
    if ctx.open_mode:
        return Who(str(name), "lead")
    started = st.session_state.get(AT_KEY)
    if started is None or time.time() - float(started) > ctx.session_hours * 3600:
        _sign_out(ctx)
        st.session_state["sign_in_note"] = "Your session expired: sign in again."
        return None
    role = role_of(ctx.store, str(name))  # re-read: a removed account is signed out now
    if role is None:
        _forget()
        st.session_state["sign_in_note"] = "Your account no longer exists."
        return None
    st.session_state[ROLE_KEY] = role
    return Who(str(name), role)


def signed_in_as(ctx: AppContext, name: str) -> bool:
    """Whether the session still belongs to ``name``: for button callbacks and fragment
    reruns, which run without the entry script's ``sign_in`` check."""
    who = current(ctx)
    return who is not None and who.name == name


def sign_in(ctx: AppContext) -> Who:
    """The signed-in person; otherwise show the sign-in form and stop the page."""
    who = current(ctx)
    if who is not None:
        _sidebar(ctx, who)
        return who
    if note := st.session_state.pop("sign_in_note", None):
        st.warning(note)
    if ctx.open_mode:
        _open_sign_in(ctx)
    elif ctx.oidc:
        _oidc_sign_in(ctx)
    else:
        _password_sign_in(ctx)
    st.stop()
    raise AssertionError("unreachable")  # st.stop raises


def _start_session(name: str, role: str) -> None:
    _forget()
    st.session_state[NAME_KEY] = name
    st.session_state[ROLE_KEY] = role
    st.session_state[AT_KEY] = time.time()


@st.cache_resource(show_spinner=False)
def _throttle() -> LoginThrottle:
    """One throttle for every session of this server."""
    return LoginThrottle()


def _password_sign_in(ctx: AppContext) -> None:
    st.markdown("### Sign in")
    with st.form("sign_in_form"):
        name = st.text_input("Name", key="sign_in_name", max_chars=64)
        password = st.text_input("Password", type="password", key="sign_in_password")
        submitted = st.form_submit_button("Sign in", type="primary", key="sign_in_submit")
    if submitted:
        throttle = _throttle()
        key = name.strip()
        wait = throttle.locked_for(key)
        if wait > 0:
            st.error(f"Too many wrong passwords for this name: try again in {wait:.0f} s.")
            return
        role = authenticate(ctx.store, name, password)
        throttle.record(key, ok=role is not None)
        if role is None:
            st.error("Unknown name or wrong password.")
            return
        _start_session(name.strip(), role)
        st.rerun()


def _oidc_sign_in(ctx: AppContext) -> None:
    user = st.user
    if not user.is_logged_in:
        st.markdown("### Sign in")
        st.button("Sign in with your organisation", key="oidc_login", on_click=st.login)
        return
    email = str(user.get("email") or "")
    role = role_of(ctx.store, email) if email else None
    if role is None:
        # The address stays out of the code span: backslash escapes show literally there,
        # and a backtick in it would end the span.
        st.error(
            f"No account for {escape_markdown(email or 'this login')}: ask a lead to run"
            " `prefdata annotate user add EMAIL --sso --db ...` with this address."
        )
        st.button("Sign out", key="oidc_logout", on_click=st.logout)
        return
    _start_session(email, role)
    st.rerun()


def _open_sign_in(ctx: AppContext) -> None:
    st.warning(OPEN_BANNER)
    if ctx.annotators:
        name = st.selectbox(
            "Your name", ctx.annotators, index=None, key="annotator_pick", placeholder="Choose"
        )
    else:
        name = st.text_input("Your name", key="annotator_pick", max_chars=64)
    if st.button("Start", key="sign_in", type="primary") and name:
        try:
            cleaned = check_annotator(name)
        except ConfigError as exc:
            st.error(str(exc))
            return
        _start_session(cleaned, "lead")
        st.rerun()


def _sidebar(ctx: AppContext, who: Who) -> None:
    with st.sidebar:
        st.markdown(f"Signed in as **{escape_markdown(who.name)}** ({who.role})")
        if ctx.open_mode:
            st.warning(OPEN_BANNER)
        if st.button("Sign out", key="sign_out"):
            _sign_out(ctx)
            st.rerun()


def require_signed_in(ctx: AppContext) -> Who:
    """The signed-in person for a page script (the entry script signed them in)."""
    who = current(ctx)
    if who is None:
        st.info("Sign in to continue.")
        st.stop()
    return who  # type: ignore[return-value]


def require_lead(ctx: AppContext) -> Who:
    """Stop a lead-only page for anyone else (the navigation hides it; this guards it)."""
    who = current(ctx)
    if who is None or not who.is_lead:
        st.error("This page is for leads.")
        st.stop()
    return who  # type: ignore[return-value]
