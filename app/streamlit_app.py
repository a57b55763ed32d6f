"""Entry script of the annotation app: sign-in, then the pages the role may see.

Run through ``prefdata app``, which passes the data and database after ``--``.
Annotators get the Annotate page only; leads also Browse, Agreement and Export.
"""

from __future__ import annotations

import sqlite3

import streamlit as st
from app_context import app_context
from page_guard import compact_layout, content_security_policy
from pair_view import escape_markdown
from sign_in import sign_in

from prefdata.annotate.store_open import describe
from prefdata.errors import PrefdataError

st.set_page_config(page_title="prefdata annotation", layout="wide")
content_security_policy()
compact_layout()

ctx = app_context()
who = sign_in(ctx)
with st.sidebar:
    st.caption(f"{ctx.store.pair_count()} pairs in {escape_markdown(ctx.store.path.name)}")

# No icons: Streamlit fetches Material icons from a public host in some places, and
# the app must work with no internet and fetch nothing from outside.
pages = [st.Page("page_annotate.py", title="Annotate", default=True)]
if who.is_lead:
    pages += [
        st.Page("page_browse.py", title="Browse"),
        st.Page("page_agreement.py", title="Agreement"),
        st.Page("page_export.py", title="Export"),
    ]
page = st.navigation(pages)
try:
    page.run()
except sqlite3.Error as exc:  # one line naming the file, never a traceback
    st.error(describe(ctx.store.path, exc))
except PrefdataError as exc:
    st.error(str(exc))
