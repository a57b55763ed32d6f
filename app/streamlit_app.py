"""Entry script of the annotation app: sign-in sidebar and page navigation.

Run through ``prefdata app``, which passes the data and database after ``--``.
"""

from __future__ import annotations

import streamlit as st
from app_context import annotator_sidebar, app_context

st.set_page_config(page_title="prefdata annotation", layout="wide")

ctx = app_context()
annotator_sidebar(ctx)
with st.sidebar:
    st.caption(f"Database: `{ctx.store.path.name}` · {ctx.store.pair_count()} pairs")

page = st.navigation(
    [
        st.Page("page_annotate.py", title="Annotate", icon=":material/edit:", default=True),
        st.Page("page_browse.py", title="Browse", icon=":material/table:"),
        st.Page("page_agreement.py", title="Agreement", icon=":material/groups:"),
        st.Page("page_export.py", title="Export", icon=":material/download:"),
    ]
)
page.run()
