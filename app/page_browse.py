"""Browse (leads only): every pair, filterable by filter reason, label status, annotator,
flag and text, with everyone's votes. There is no way to label from here: labelling goes
through the queue, blind and within the overlap."""

from __future__ import annotations

import streamlit as st
from app_context import app_context
from pair_view import escape_markdown, show_prompt, show_responses
from sign_in import require_lead

from prefdata.annotate.browse import STATUSES, BrowseFilter, browse_pairs, reasons_in_store

ROW_LIMIT = 1000

ctx = app_context()
require_lead(ctx)
store = ctx.store

cols = st.columns([1, 1, 1, 1, 2, 1])
pool = cols[0].selectbox("Set", ("any", "kept", "dropped"), key="browse_pool")
reason = cols[1].selectbox("Filter reason", ("any", *reasons_in_store(store)), key="browse_reason")
status = cols[2].selectbox("Label status", ("any", *STATUSES), key="browse_status")
who = cols[3].selectbox("Annotator", ("any", *store.annotators()), key="browse_annotator")
search = cols[4].text_input("Search text", key="browse_search")
flagged = cols[5].checkbox("Flagged only", key="browse_flagged")

filters = BrowseFilter(
    reason=None if reason == "any" else reason,
    status=None if status == "any" else status,
    annotator=None if who == "any" else who,
    flagged_only=flagged,
    search=search,
    pool=None if pool == "any" else pool,
)
table = browse_pairs(store, filters, limit=ROW_LIMIT)
st.caption(
    f"{len(table)} pair(s)" + (f" (first {ROW_LIMIT} shown)" if len(table) == ROW_LIMIT else "")
)
# Cells are plain text in the grid (no HTML), so untrusted content needs no escaping here.
st.dataframe(table, hide_index=True, width="stretch", key="browse_table")

if table.empty:
    st.stop()

pair_id = st.selectbox("Open pair", table["pair_id"].tolist(), key="browse_open")
pair = store.pair(pair_id)
if pair.reasons:
    st.warning("Dropped by the filter: " + ", ".join(escape_markdown(r) for r in pair.reasons))
show_prompt(pair)
show_responses(pair, left="chosen", mode="Plain text")
st.caption("Shown here as A = chosen, B = rejected (the data's order).")
votes = store.labels(pair_id=pair_id)
if votes:
    st.dataframe(
        [
            {
                "annotator": v.annotator,
                "choice": v.choice,
                "strength": v.strength,
                "comment": v.comment,
                "flagged": v.flagged,
            }
            for v in votes
        ],
        hide_index=True,
    )
