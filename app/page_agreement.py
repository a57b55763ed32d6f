"""Agreement: counts, agreement coefficients, position bias, and adjudication."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
from app_context import app_context
from pair_view import escape_markdown, show_prompt, show_responses
from sign_in import require_lead

from prefdata.annotate.adjudication import adjudicate, adjudications
from prefdata.annotate.agreement import agreement_report, disagreements

ctx = app_context()
lead = require_lead(ctx)
report = agreement_report(ctx.store)


def _fmt(value: float | None, pattern: str = "{:.2f}") -> str:
    return "—" if value is None else pattern.format(value)


if report.n_votes == 0:
    st.info("No votes yet.")
    st.stop()

metrics = st.columns(5)
metrics[0].metric("Votes", report.n_votes)
metrics[1].metric("Pairs with 2+ votes", report.n_items_overlapping)
metrics[2].metric(
    "Raw agreement",
    _fmt(report.raw_agreement, "{:.0%}"),
    help="Share of annotator pairs giving the same vote, over overlapping pairs.",
)
metrics[3].metric(
    "… decisive votes only",
    _fmt(report.raw_agreement_decisive, "{:.0%}"),
    help="Same, counting only A/B preferences (ties and both-bad left out).",
)
metrics[4].metric(
    "Krippendorff's α",
    _fmt(report.krippendorff_alpha),
    help="Nominal alpha over all annotators; 1 = perfect, 0 = chance.",
)

left, right = st.columns(2)
with left:
    st.markdown("##### Label distribution")
    dist = pd.DataFrame(
        {
            "label": list(report.label_distribution),
            "count": list(report.label_distribution.values()),
        }
    )
    st.altair_chart(
        alt.Chart(dist).mark_bar().encode(x=alt.X("label:N", sort=None), y="count:Q"),
        width="stretch",
    )
with right:
    st.markdown("##### Position bias: share of decisive votes won by the left response")
    bias = pd.DataFrame(
        {
            "annotator": list(report.position_bias_by_annotator),
            "left wins": list(report.position_bias_by_annotator.values()),
        }
    )
    bars = (
        alt.Chart(bias)
        .mark_bar()
        .encode(x="annotator:N", y=alt.Y("left wins:Q", scale=alt.Scale(domain=[0, 1])))
    )
    rule = (
        alt.Chart(pd.DataFrame({"left wins": [0.5]}))
        .mark_rule(strokeDash=[4, 4])
        .encode(y="left wins:Q")
    )
    st.altair_chart(bars + rule, width="stretch")
    st.caption(f"Overall: {_fmt(report.position_bias_left_wins, '{:.0%}')} (50% = no bias)")

st.markdown("##### Annotators")
people = pd.DataFrame([vars(a) for a in report.annotators])
st.dataframe(people, hide_index=True, width="stretch")
st.altair_chart(
    alt.Chart(people, height=220)
    .mark_bar()
    .encode(x="annotator:N", y=alt.Y("labelled:Q", title="votes")),
    width="stretch",
)
if report.cohen_kappa:
    st.markdown("##### Cohen's kappa per pair of annotators")
    st.dataframe(
        pd.DataFrame(
            {"annotators": list(report.cohen_kappa), "kappa": list(report.cohen_kappa.values())}
        ),
        hide_index=True,
    )

st.markdown("### Adjudication")
disputed = disagreements(ctx.store.labels())
decided = adjudications(ctx.store)
if not disputed:
    st.success("No disagreements.")
    st.stop()
st.caption(
    f"{len(disputed)} pair(s) with differing votes, {len(set(disputed) & set(decided))} decided."
)
pair_id = st.selectbox(
    "Disputed pair",
    sorted(disputed),
    key="adjudicate_pair",
    format_func=lambda p: f"{p} ✓" if p in decided else p,
)
pair = ctx.store.pair(pair_id)
st.dataframe(
    pd.DataFrame({"annotator": list(disputed[pair_id]), "vote": list(disputed[pair_id].values())}),
    hide_index=True,
)
show_prompt(pair)
show_responses(pair, left="chosen", mode="Word diff")
st.caption("A = chosen, B = rejected as in the data.")
adjudicator = lead.name
final = st.radio(
    "Final decision",
    ("chosen", "rejected", "tie", "both_bad"),
    horizontal=True,
    key=f"final_{pair_id}",
    index=("chosen", "rejected", "tie", "both_bad").index(decided.get(pair_id, "chosen")),
)
note = st.text_input("Note", key=f"note_{pair_id}")
if st.button("Record decision", key="adjudicate", type="primary"):
    adjudicate(ctx.store, pair_id, adjudicator, choice=final, note=note)
    st.toast(f"Recorded {final} for {escape_markdown(pair_id)}")
    st.rerun()
