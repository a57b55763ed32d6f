"""report.html: one self-contained page (inline CSS and SVG, no script) of a run's report.

The Content-Security-Policy forbids every script and every network fetch, and all dataset
text is HTML-escaped, so a response holding ``<script>`` shows as text and the page opens
offline exactly as it does online.
"""

from __future__ import annotations

import bisect
from html import escape
from typing import Any

from prefdata.reporting.charts import bar_chart, edge_labels

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:980px;color:#1a202c}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #cbd5e0;padding:3px 8px;
text-align:left;vertical-align:top}td.n{text-align:right}pre{white-space:pre-wrap;margin:0;
max-height:12em;overflow:auto;font:12px/1.35 ui-monospace,monospace}h2{margin-top:1.6em}
.muted{color:#718096}figure{margin:1em 0}figcaption{font-weight:600}
"""
SAMPLE_CHARS = 600  # per field in the samples table: enough to judge, short enough to scan


def _clip(value: Any, *, tail: bool = False) -> str:
    """Text of a field, cut to SAMPLE_CHARS; prompts keep their end (the last turn)."""
    if isinstance(value, list):  # a conversation: role: content per turn
        value = "\n".join(
            f"{m.get('role')}: {m.get('content')}" for m in value if isinstance(m, dict)
        )
    text = "" if value is None else str(value)
    if len(text) <= SAMPLE_CHARS:
        return text
    return "… " + text[-SAMPLE_CHARS:] if tail else text[:SAMPLE_CHARS] + " …"


def _reasons_table(report: dict[str, Any]) -> str:
    total = report.get("input_rows") or 1
    rows = "".join(
        f"<tr><td>{escape(code)}</td><td class=n>{count:,}</td>"
        f"<td class=n>{count / total:.1%}</td></tr>"
        for code, count in report.get("reasons", {}).items()
        if count
    )
    return f"<table><tr><th>reason</th><th>pairs</th><th>share</th></tr>{rows}</table>"


def _exact_only(stats: dict[str, Any]) -> str:
    """Say which pairs the figures by similarity cover, when some had no exact figure."""
    similarity = stats.get("histograms", {}).get("similarity", {})
    if not similarity.get("at_most"):
        return ""
    covered = stats.get("length_bias", {}).get("similarity_pairs", similarity.get("exact", 0))
    return (
        f" (this and the table by similarity cover the {covered:,} pairs with an exact "
        f"similarity, not the {similarity['at_most']:,} with only an upper bound)"
    )


def _length_bias(stats: dict[str, Any]) -> str:
    bias = stats.get("length_bias", {})

    def pct(v: float | None) -> str:
        return "–" if v is None else f"{v:.1%}"

    corr = bias.get("diff_similarity_correlation")
    lines = [
        f"<p>Chosen longer in <b>{pct(bias.get('chosen_longer_share'))}</b> of pairs, rejected "
        f"longer in {pct(bias.get('rejected_longer_share'))}; mean chosen − rejected "
        f"{bias.get('mean_length_diff_chars') or 0:,.1f} characters. Kept set: chosen longer in "
        f"{pct(bias.get('kept_chosen_longer_share'))}. Correlation of the length difference "
        f"with similarity: {'–' if corr is None else f'{corr:.3f}'}{_exact_only(stats)}.</p>"
    ]
    hist = bias.get("length_diff_histogram")
    if hist:
        lines.append(
            bar_chart(
                hist["labels"], [("pairs", hist["counts"])], title="chosen − rejected characters"
            )
        )
    bands = bias.get("chosen_longer_by_similarity") or []
    if bands:
        rows = "".join(
            f"<tr><td>{escape(b['similarity'])}</td><td class=n>{b['pairs']:,}</td>"
            f"<td class=n>{pct(b['chosen_longer_share'])}</td></tr>"
            for b in bands
        )
        lines.append(
            f"<table><tr><th>similarity</th><th>pairs</th><th>chosen longer</th></tr>{rows}</table>"
        )
    balance = stats.get("dataset", {}).get("length_balance")
    if balance:
        lines.append(f"<p>--balance-length: {escape(balance['why'])} (seed {balance['seed']}).</p>")
    return "".join(lines)


def _dataset_figures(stats: dict[str, Any]) -> str:
    data = stats.get("dataset")
    if not data:
        return "<p class=muted>Dataset-level checks were off.</p>"
    rows = []
    for key, value in data.items():
        shown = (
            ", ".join(f"{k}: {v}" for k, v in value.items() if k != "why")
            if isinstance(value, dict)
            else value
        )
        rows.append(f"<tr><td>{escape(key)}</td><td>{escape(str(shown))}</td></tr>")
    return f"<table>{''.join(rows)}</table>"


def _samples(samples: dict[str, list[dict[str, Any]]]) -> str:
    if not samples:
        return "<p class=muted>No dropped pairs.</p>"
    out = []
    for code, rows in samples.items():
        out.append(
            f"<h3>{escape(code)}</h3><table><tr><th>row</th><th>prompt</th><th>chosen</th>"
            "<th>rejected</th><th>reasons</th></tr>"
        )
        for r in rows:
            cells = "".join(
                f"<td><pre>{escape(_clip(r.get(k), tail=k == 'prompt'))}</pre></td>"
                for k in ("prompt", "chosen", "rejected")
            )
            raw = "" if r.get("raw") is None else f"<pre>{escape(_clip(r['raw']))}</pre>"
            out.append(
                f"<tr><td class=n>{escape(str(r.get('source_row')))}</td>{cells}"
                f"<td>{escape(', '.join(r.get('reasons') or []))}{raw}</td></tr>"
            )
        out.append("</table>")
    return "".join(out)


def _preflight(ledger: dict[str, Any]) -> str:
    """The trainer's pre-flight of the kept pairs (``filter --preflight-tokenizer``)."""
    if ledger.get("skipped"):
        return "<h2>Pre-flight</h2><p class=muted>No pair kept: nothing to plan.</p>"
    lost = ledger.get("tokens_lost", {})
    setting = (
        f"max_length {ledger.get('max_length')}, truncation_mode {ledger.get('truncation_mode')}"
        if ledger.get("trainer") == "trl"
        else f"cutoff_len {ledger.get('max_length')}"
    )
    parts = [
        f"<h2>Pre-flight: what {escape(str(ledger.get('trainer')))} "
        f"{escape(str(ledger.get('trainer_version') or ''))} will train on</h2>"
        f"<p>{escape(setting)}: <b>{ledger.get('rows_in', 0):,}</b> pairs in, "
        f"{ledger.get('kept', 0):,} kept, {ledger.get('dropped', 0):,} dropped, "
        f"{ledger.get('truncated', 0):,} truncated; tokens lost: chosen "
        f"{lost.get('chosen', 0):,}, rejected {lost.get('rejected', 0):,}; identical after "
        f"truncation {ledger.get('identical_after_truncation', 0):,}. "
        "<span class=muted>Per pair: preflight.parquet; ledger: preflight.json.</span></p>"
    ]
    reasons = {k: v for k, v in ledger.get("reasons", {}).items() if v}
    if reasons:
        rows = "".join(
            f"<tr><td>{escape(str(code))}</td><td class=n>{n:,}</td></tr>"
            for code, n in reasons.items()
        )
        parts.append(f"<table><tr><th>pre-flight code</th><th>pairs</th></tr>{rows}</table>")
    hist = ledger.get("tokens_lost_histogram")
    if hist:
        parts.append(
            bar_chart(
                [str(label) for label in hist["labels"]],
                [("chosen", hist["chosen"]), ("rejected", hist["rejected"])],
                # a dropped pair loses every token of both sides, as the trainer drops it
                title="tokens lost per pair, per side (a dropped pair loses all its tokens)",
            )
        )
    for s in ledger.get("suggestions", []):
        gives = ", ".join(f"{k} {v}" for k, v in s.get("gives", {}).items())
        parts.append(
            f"<p>Suggest <b>{escape(str(s.get('setting')))}={escape(str(s.get('value')))}</b>: "
            f"{escape(str(s.get('why')))} ({escape(gives)})</p>"
        )
    return "".join(parts)


def _similarity_title(similarity: dict[str, Any]) -> str:
    """The chart's title: what the exact and the bounded bars count."""
    title = "similarity of chosen and rejected"
    bounded = similarity.get("at_most")
    if not bounded:
        return title
    why = similarity.get("at_most_why", {})
    parts = [
        f"{why.get('lengths_rule_out_threshold', 0):,} pairs not compared: their lengths rule out "
        "the threshold",
        f"{why.get('characters_rule_out_threshold', 0):,} pairs not compared: the "
        "characters they have in common rule out the threshold",
        f"{why.get('over_max_response_chars', 0):,} pairs not compared: a response is over "
        "max_response_chars",
        f"{why.get('difflib_indel_bound', 0):,} pairs below the threshold by Indel, difflib's upper "
        "bound",
    ]
    listed = "; ".join(p for p in parts if not p.startswith("0 "))
    return (
        f"{title}: {similarity.get('exact', 0):,} pairs exact; {bounded:,} pairs drawn at an "
        f"upper bound of their similarity, which lies in that bin or lower ({listed})"
    )


def render_html(report: dict[str, Any], samples: dict[str, list[dict[str, Any]]]) -> str:
    """The whole page for a report.json dict and per-reason samples of dropped rows."""
    stats = report.get("stats", {})
    hists = stats.get("histograms", {})
    charts = []
    if "chosen_chars" in hists:
        edges = hists["chosen_chars"]["edges"]
        charts.append(
            bar_chart(
                edge_labels(edges),
                [
                    ("chosen", hists["chosen_chars"]["counts"]),
                    ("rejected", hists["rejected_chars"]["counts"]),
                ],
                title="response length (characters)",
            )
        )
    if "similarity" in hists:
        similarity = hists["similarity"]
        edges = similarity["edges"]
        threshold = report.get("config", {}).get("max_similarity", 0.9)
        # the threshold's place on the axis, in bins (edges are evenly spaced)
        i = min(bisect.bisect_right(edges, threshold), len(edges) - 1)
        pos = (i - 1) + (threshold - edges[i - 1]) / ((edges[i] - edges[i - 1]) or 1)
        charts.append(
            bar_chart(
                [f"{e:.2f}" for e in edges[:-1]],
                [
                    ("exact", similarity["counts"]),
                    ("at most (upper bound)", similarity.get("at_most_counts") or []),
                ],
                title=_similarity_title(similarity),
                marker=(pos, f"max_similarity {threshold}"),
            )
        )
    inputs = ", ".join(escape(str(i.get("path"))) for i in report.get("inputs", []))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>prefdata report</title><style>{STYLE}</style></head><body>
<h1>prefdata report</h1>
<p>{inputs}<br><b>{report.get("input_rows", 0):,}</b> pairs read: {report.get("kept_rows", 0):,} kept,
{report.get("dropped_rows", 0):,} dropped ({report.get("drop_rate", 0):.1%}).
<span class=muted>prefdata {escape(str(report.get("prefdata_version", "")))},
{escape(str(report.get("created_at", "")))}</span></p>
<h2>Drops per reason</h2>{_reasons_table(report)}
<h2>Lengths and similarity</h2>{"".join(charts)}
<h2>Length bias</h2>{_length_bias(stats)}
<h2>Dataset-level figures</h2>{_dataset_figures(stats)}
<h2>Samples of dropped pairs</h2>{_samples(samples)}
{_preflight(report["preflight"]) if report.get("preflight") else ""}
</body></html>
"""
