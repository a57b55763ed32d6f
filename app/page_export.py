"""Export: write the labelled dataset beside the database and offer it for download."""

from __future__ import annotations

import streamlit as st
from app_context import app_context
from sign_in import require_lead

from prefdata.annotate.export import export_labels

ctx = app_context()
require_lead(ctx)

st.markdown(
    f"Writes to `{ctx.export_dir}`: `labelled.parquet` (majority vote, flipped where "
    "the original rejected response won; ties and both-bad left out), "
    "`annotations.parquet`, `events.parquet` and `agreement.json`."
)
min_votes = st.number_input(
    "Minimum votes per pair", min_value=1, value=max(ctx.overlap, 1), step=1, key="min_votes"
)
if not st.button("Export", key="export", type="primary"):
    st.stop()

summary = export_labels(ctx.store, ctx.export_dir, min_votes=int(min_votes))
st.success(f"Exported {summary.labelled_pairs} labelled pairs ({summary.flipped} flipped).")
st.json(vars(summary))
for name in ("labelled.parquet", "annotations.parquet", "agreement.json"):
    path = ctx.export_dir / name
    st.download_button(f"Download {name}", path.read_bytes(), file_name=name, key=f"dl_{name}")
