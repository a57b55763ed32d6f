"""The similarity shortcut decides exactly as full comparison would, and the report's
similarity figures say which are exact and which are only an upper bound."""

from __future__ import annotations

import json
import re
from difflib import SequenceMatcher
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import Indel

from prefdata.checks import similarity
from prefdata.checks.base import PairView
from prefdata.checks.similarity import too_similar
from prefdata.config import FilterConfig
from prefdata.pipeline import filter_pairs
from prefdata.stats import SIMILARITY_EDGES, Stats

README = Path(__file__).resolve().parents[1] / "README.md"


def _view(chosen: list[str], rejected: list[str]) -> PairView:
    n = len(chosen)
    return PairView(
        pa.RecordBatch.from_pydict(
            {
                "id": [str(i) for i in range(n)],
                "prompt": ["p"] * n,
                "chosen": chosen,
                "rejected": rejected,
            }
        )
    )


def _true(chosen: str, rejected: str, metric: str) -> float:
    if metric == "difflib":
        return SequenceMatcher(None, chosen, rejected).ratio()
    return Indel.normalized_similarity(chosen, rejected)


texts = st.text(alphabet="ab c\né字", max_size=40)


@settings(max_examples=150, deadline=None)
@given(
    pairs=st.lists(st.tuples(texts, texts), min_size=1, max_size=12),
    threshold=st.sampled_from([0.3, 0.5, 0.75, 0.9]),
    metric=st.sampled_from(["indel", "difflib"]),
    count_from=st.sampled_from([0, similarity.CHARACTERS_FROM]),
    repeats=st.lists(st.integers(0, 11), max_size=8),
)
def test_shortcut_decides_as_full_comparison_and_bounds_hold(
    pairs: list[tuple[str, str]],
    threshold: float,
    metric: str,
    count_from: int,
    repeats: list[int],
) -> None:
    # rows that repeat an earlier pair (compared once, their figures copied) are checked
    # against the truth like the others
    pairs = pairs + [pairs[i % len(pairs)] for i in repeats]
    chosen, rejected = [p[0] for p in pairs], [p[1] for p in pairs]
    config = FilterConfig(max_similarity=threshold, similarity=metric)
    view = _view(chosen, rejected)
    saved, similarity.CHARACTERS_FROM = similarity.CHARACTERS_FROM, count_from
    try:  # 0: the characters bound for every pair, not only long ones
        dropped = too_similar(view, config)["too_similar"]
    finally:
        similarity.CHARACTERS_FROM = saved
    exact, at_most, why = (
        view.stats[k] for k in ("similarity", "similarity_at_most", "similarity_why")
    )
    for i, (a, b) in enumerate(pairs):
        true = _true(a, b, metric)
        assert dropped[i] == (true > threshold)  # exactly as comparing every pair would
        if why[i] == 0:
            assert exact[i] == pytest.approx(true) and np.isnan(at_most[i])
        else:  # no figure claims to be exact; the bound is a true bound
            assert np.isnan(exact[i]) and true <= at_most[i] + 1e-9
            assert at_most[i] <= threshold + 1e-9  # every bounded pair here is ruled out


def test_characters_bound_on_real_long_responses() -> None:
    """LLaMA-Factory's DPO demo: the characters bound rules out pairs the length bound
    leaves, and every decision equals comparing every pair."""
    demo = README.parent.parent / "shared" / "data" / "llamafactory" / "dpo_en_demo.json"
    if not demo.exists():
        pytest.skip(f"{demo} is not here")
    records = json.loads(demo.read_text(encoding="utf-8"))
    chosen = [r["chosen"]["value"] for r in records]
    rejected = [r["rejected"]["value"] for r in records]
    true = np.array(
        [Indel.normalized_similarity(a, b) for a, b in zip(chosen, rejected, strict=True)]
    )
    for threshold in (0.5, 0.7, 0.9):
        view = _view(chosen, rejected)
        dropped = too_similar(view, FilterConfig(max_similarity=threshold))["too_similar"]
        assert (dropped == (true > threshold)).all()
        why = view.stats["similarity_why"]
        assert (why == 4).sum() > 0, threshold
        bounded = why > 0
        assert (true[bounded] <= view.stats["similarity_at_most"][bounded] + 1e-9).all()
    # at 0.9, of the pairs the length bound leaves, the characters bound rules out 40%+
    # when every pair is counted (by default only pairs with a 1,024-character response)
    saved, similarity.CHARACTERS_FROM = similarity.CHARACTERS_FROM, 0
    try:
        view = _view(chosen, rejected)
        too_similar(view, FilterConfig(max_similarity=0.9))
    finally:
        similarity.CHARACTERS_FROM = saved
    why = view.stats["similarity_why"]
    assert (why == 4).sum() >= 0.4 * ((why == 4).sum() + (why == 0).sum())


def test_a_pair_ruled_out_by_length_is_never_dropped_one_at_the_threshold_still_is() -> None:
    short, long = "a" * 100, "a" * 300  # Indel similarity 0.5 exactly, the length bound
    near = "a" * 95 + "b" * 5  # against "a" * 100: 0.95
    view = _view([short, short], [long, near])
    dropped = too_similar(view, FilterConfig(max_similarity=0.6))["too_similar"]
    assert dropped.tolist() == [False, True]
    assert view.stats["similarity_why"].tolist() == [1, 0]  # ruled out by length; exact
    assert view.stats["similarity_at_most"][0] == 0.5
    # a threshold at or under the bound: compared, and dropped only when above it
    for threshold, expected in ((0.5, [False, True]), (0.49, [True, True])):
        view = _view([short, short], [long, near])
        dropped = too_similar(view, FilterConfig(max_similarity=threshold))["too_similar"]
        assert dropped.tolist() == expected
        assert view.stats["similarity"][0] == 0.5


def test_histogram_totals_match_the_pairs_they_count() -> None:
    rng = np.random.default_rng(0)
    chosen, rejected = [], []
    for _ in range(300):
        a = "".join(rng.choice(list("abcd "), int(rng.integers(1, 120))))
        b = (
            a
            if rng.random() < 0.1
            else "".join(rng.choice(list("abcd "), int(rng.integers(1, 120))))
        )
        chosen.append(a)
        rejected.append(b)
    for metric in ("indel", "difflib"):
        config = FilterConfig(similarity=metric, max_response_chars=100)
        view = _view(chosen, rejected)
        too_similar(view, config)
        stats = Stats()
        figures = view.stats
        stats.add(
            view.chosen_chars,
            view.rejected_chars,
            figures["similarity"],
            at_most=figures["similarity_at_most"],
            why=figures["similarity_why"],
        )
        sim = stats.to_dict()["histograms"]["similarity"]
        assert sum(sim["counts"]) == sim["exact"] == int((figures["similarity_why"] == 0).sum())
        assert sum(sim["at_most_counts"]) == sim["at_most"] == sum(sim["at_most_why"].values())
        assert sim["exact"] + sim["at_most"] == stats.pairs == 300
        assert sim["at_most"] > 0 and sim["exact"] > 0
        assert sim["not_compared"] == sim["at_most"] - sim["at_most_why"]["difflib_indel_bound"]
        # a pair counted in a bin, bounded or exact, has a true similarity under that
        # bin's upper edge: the pairs counted up to a bin are at most those under its edge
        true = np.array([_true(a, b, metric) for a, b in zip(chosen, rejected, strict=True)])
        cumulative = np.cumsum(np.add(sim["counts"], sim["at_most_counts"]))
        for k, edge in enumerate(SIMILARITY_EDGES[1:]):
            assert cumulative[k] <= (true < edge + 1e-9).sum(), (k, edge)
        assert cumulative[-1] == len(true)
        if metric == "difflib":
            assert sim["at_most_why"]["difflib_indel_bound"] > 0


def _report(tmp_path: Path, metric: str) -> dict:
    long = "Here is a long and careful answer about the question, with reasons. " * 3
    rows = [
        {"prompt": "q1", "chosen": long, "rejected": long[:-3] + "!!!"},  # too similar
        {"prompt": "q2", "chosen": long, "rejected": "No. Not doing that one, sorry."},  # ruled out
        {"prompt": "q3", "chosen": long, "rejected": long[::-1]},  # compared, below
    ]
    source = tmp_path / f"{metric}.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / f"out-{metric}"
    filter_pairs([source], out, config=FilterConfig(similarity=metric, disable=["duplicate_pair"]))
    return json.loads((out / "report.json").read_text())


def test_report_json_html_and_readme_say_what_each_figure_is(tmp_path: Path) -> None:
    report = _report(tmp_path, "indel")
    assert report["reasons"]["too_similar"] == 1
    sim = report["stats"]["histograms"]["similarity"]
    assert (sim["exact"], sim["at_most"], sim["not_compared"]) == (2, 1, 1)
    assert report["stats"]["length_bias"]["similarity_pairs"] == 2
    html = (tmp_path / "out-indel" / "report.html").read_text()
    assert "2 pairs exact; 1 pairs drawn at an upper bound" in html
    assert "1 pairs not compared: their lengths rule out the threshold" in html
    assert "cover the 2 pairs with an exact similarity" in html
    # every key of the similarity histogram and its why is documented in the README
    section = README.read_text(encoding="utf-8").split("### Similarity", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([a-z_]+)`", section))
    assert set(sim) - {"edges"} <= documented, set(sim) - documented
    assert set(sim["at_most_why"]) <= documented
    assert "similarity_pairs" in documented


def test_difflib_report_counts_indel_bounds_apart(tmp_path: Path) -> None:
    sim = _report(tmp_path, "difflib")["stats"]["histograms"]["similarity"]
    assert sim["at_most_why"]["difflib_indel_bound"] == 1  # q3: only its Indel bound is known
    assert (sim["exact"], sim["at_most"]) == (1, 2)


def test_characters_bound_counts_in_blocks_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counting a few MiB of text at a time (bounded memory) gives the same bounds."""
    from prefdata.checks import similarity_bound

    rng = np.random.default_rng(1)
    texts = ["".join(rng.choice(list("abcé字 \n"), int(rng.integers(0, 400)))) for _ in range(400)]
    chosen, rejected = pa.array(texts[:200]), pa.array(texts[200:])
    a = np.array([len(t) for t in texts[:200]])
    b = np.array([len(t) for t in texts[200:]])
    whole = similarity_bound.characters_bound(chosen, rejected, a, b)
    monkeypatch.setattr(similarity_bound, "_BLOCK_BYTES", 1000)
    assert (similarity_bound.characters_bound(chosen, rejected, a, b) == whole).all()
    monkeypatch.setattr(similarity_bound, "_BLOCK_BYTES", 1)  # a row per block
    sliced = similarity_bound.characters_bound(chosen.slice(3), rejected.slice(3), a[3:], b[3:])
    assert (sliced == whole[3:]).all()
    true = [
        Indel.normalized_similarity(x, y) for x, y in zip(texts[:200], texts[200:], strict=True)
    ]
    assert (np.array(true) <= whole + 1e-12).all()
