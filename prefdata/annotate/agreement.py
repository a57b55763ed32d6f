"""Inter-annotator agreement, position bias and label statistics over a label store.

Every figure is computed from *votes* (chosen / rejected / tie / both_bad); skips are
not votes. Two annotators "overlap" on a pair when both voted on it.

* raw agreement: the share of annotator pairs on an item that gave the same vote,
  averaged over items (the pairwise percent agreement of Fleiss 1971); "decisive" is
  the same restricted to votes that pick a response (no tie / both_bad).
* Cohen's kappa for each pair of annotators on the items they share.
* Krippendorff's alpha (nominal) over everyone, which handles any number of
  annotators and missing votes (Krippendorff 2011, "Computing Krippendorff's Alpha").
* position bias: among decisive votes, how often the response shown on the left won;
  0.5 is no bias.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from itertools import combinations
from statistics import median
from typing import Any

from prefdata.annotate.label_store import VOTES, Label, LabelStore

DECISIVE = ("chosen", "rejected")


@dataclass
class AnnotatorStats:
    annotator: str
    labelled: int
    skipped: int
    flagged: int
    median_seconds: float | None


@dataclass
class AgreementReport:
    """The figures the Agreement page and ``agreement.json`` show."""

    n_votes: int
    n_items_voted: int
    n_items_overlapping: int
    label_distribution: dict[str, int]
    annotators: list[AnnotatorStats]
    raw_agreement: float | None
    raw_agreement_decisive: float | None
    cohen_kappa: dict[str, float | None] = field(default_factory=dict)
    krippendorff_alpha: float | None = None
    position_bias_left_wins: float | None = None
    position_bias_by_annotator: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def votes_by_item(labels: list[Label], *, decisive_only: bool = False) -> dict[str, dict[str, str]]:
    """{pair_id: {annotator: vote}} from labels, skips dropped."""
    keep = DECISIVE if decisive_only else VOTES
    items: dict[str, dict[str, str]] = defaultdict(dict)
    for label in labels:
        if label.choice in keep:
            items[label.pair_id][label.annotator] = label.choice
    return dict(items)


def raw_agreement(items: dict[str, dict[str, str]]) -> float | None:
    """Mean over items with two or more votes of the share of agreeing annotator pairs."""
    shares = []
    for votes in items.values():
        pairs = list(combinations(votes.values(), 2))
        if pairs:
            shares.append(sum(a == b for a, b in pairs) / len(pairs))
    return sum(shares) / len(shares) if shares else None


def cohen_kappa(first: list[str], second: list[str]) -> float | None:
    """Cohen's kappa for two aligned lists of votes; None when undefined.

    >>> cohen_kappa(["chosen", "rejected"], ["chosen", "rejected"])
    1.0
    """
    n = len(first)
    if n == 0 or n != len(second):
        return None
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / n
    count_a, count_b = Counter(first), Counter(second)
    expected = sum(count_a[c] * count_b[c] for c in set(count_a) | set(count_b)) / (n * n)
    if expected == 1:  # both always gave one same category: agreement is not measurable
        return None
    return (observed - expected) / (1 - expected)


def krippendorff_alpha_nominal(items: dict[str, dict[str, str]]) -> float | None:
    """Krippendorff's alpha for nominal data; items with fewer than two votes are ignored."""
    # Coincidence matrix: every ordered pair of votes within an item, weighted 1/(m-1).
    coincidences: dict[tuple[str, str], float] = defaultdict(float)
    for votes in items.values():
        values = list(votes.values())
        m = len(values)
        if m < 2:
            continue
        for i, a in enumerate(values):
            for j, b in enumerate(values):
                if i != j:
                    coincidences[(a, b)] += 1 / (m - 1)
    n = sum(coincidences.values())
    if n <= 1:
        return None
    marginals: dict[str, float] = defaultdict(float)
    for (a, _), weight in coincidences.items():
        marginals[a] += weight
    observed = sum(w for (a, b), w in coincidences.items() if a != b)
    expected = sum(marginals[a] * marginals[b] for a in marginals for b in marginals if a != b)
    if expected == 0:
        return None
    return 1 - (n - 1) * observed / expected


def position_bias(labels: list[Label]) -> float | None:
    """Share of decisive votes won by the response shown on the left (0.5 = unbiased)."""
    decisive = [lab for lab in labels if lab.choice in DECISIVE]
    if not decisive:
        return None
    return sum(lab.choice == lab.left_response for lab in decisive) / len(decisive)


def disagreements(labels: list[Label]) -> dict[str, dict[str, str]]:
    """Pairs whose votes differ: {pair_id: {annotator: vote}}, for adjudication."""
    return {
        pid: votes for pid, votes in votes_by_item(labels).items() if len(set(votes.values())) > 1
    }


def agreement_report(store: LabelStore) -> AgreementReport:
    """All agreement figures for the labels currently in ``store``."""
    labels = store.labels()
    votes = [lab for lab in labels if lab.choice in VOTES]
    items = votes_by_item(labels)
    overlapping = {pid: v for pid, v in items.items() if len(v) >= 2}
    by_annotator: dict[str, list[Label]] = defaultdict(list)
    for lab in labels:
        by_annotator[lab.annotator].append(lab)
    annotator_stats = []
    for name, own in sorted(by_annotator.items()):
        seconds = [lab.seconds for lab in own if lab.seconds is not None]
        annotator_stats.append(
            AnnotatorStats(
                annotator=name,
                labelled=sum(lab.choice in VOTES for lab in own),
                skipped=sum(lab.choice == "skip" for lab in own),
                flagged=sum(lab.flagged for lab in own),
                median_seconds=median(seconds) if seconds else None,
            )
        )
    kappas: dict[str, float | None] = {}
    for a, b in combinations(sorted(by_annotator), 2):
        shared = [v for v in overlapping.values() if a in v and b in v]
        kappas[f"{a} vs {b}"] = cohen_kappa([v[a] for v in shared], [v[b] for v in shared])
    return AgreementReport(
        n_votes=len(votes),
        n_items_voted=len(items),
        n_items_overlapping=len(overlapping),
        label_distribution={c: sum(lab.choice == c for lab in labels) for c in (*VOTES, "skip")},
        annotators=annotator_stats,
        raw_agreement=raw_agreement(items),
        raw_agreement_decisive=raw_agreement(votes_by_item(labels, decisive_only=True)),
        cohen_kappa=kappas,
        krippendorff_alpha=krippendorff_alpha_nominal(items),
        position_bias_left_wins=position_bias(labels),
        position_bias_by_annotator={
            name: position_bias(own) for name, own in sorted(by_annotator.items())
        },
    )
