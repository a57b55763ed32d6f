"""Find likely mislabelled pairs: the most negative implicit reward margins under a
trained model become a review queue for the annotation app.

A model trained on mostly-right labels learns the rule the majority follows; a pair
whose label goes against it ends with the trained model preferring its *rejected*
response over the reference's preference, i.e. a negative DPO margin. Ranking by margin
puts those pairs first (the idea of "confident learning" applied to DPO rewards).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prefdata.errors import ConfigError
from prefdata.train.data import load_pairs
from prefdata.train.evaluation import EvalResult, evaluate

MARGIN, RANK = "margin", "audit_rank"  # the review queue's own columns
DEFAULT_TOP = 100


@dataclass
class AuditResult:
    """The review queue (canonical columns + ``margin`` + ``audit_rank``) and the figures."""

    queue: pa.Table
    pairs: int
    negative: int  # pairs the trained model prefers the other way round (of those evaluated)
    evaluation: EvalResult
    out: Path | None


def audit(
    *,
    model: str | Path,
    data: str | Path,
    ref: str | Path | None = None,
    out: str | Path | None = None,
    top: int = DEFAULT_TOP,
    beta: float | None = None,
    batch_size: int = 8,
    device: str | None = None,
) -> AuditResult:
    """Rank ``data``'s pairs by the implicit reward margin of ``model`` against ``ref``
    (lowest first) and write the ``top`` of them to ``out`` as a review queue.

    >>> audit(model="out/dpo", ref="out/tiny", data="curated/", out="audit.parquet")  # doctest: +SKIP
    """
    if not isinstance(top, int) or top < 1:
        raise ConfigError(f"top must be an integer >= 1, got {top!r}")
    pairs = load_pairs(data)
    result = evaluate(
        model=model, data=data, ref=ref, beta=beta, batch_size=batch_size, device=device
    )
    margins = result.table.column(MARGIN).to_numpy()
    # stable sort: equal margins keep the data's order, so the queue is reproducible
    order = np.argsort(margins, kind="stable")[:top]
    table = pairs.table.drop_columns([c for c in (MARGIN, RANK) if c in pairs.table.column_names])
    # the evaluated rows (max_prompt_length may have dropped some), with their full prompts
    rows = np.asarray(result.rows, dtype=np.int64)
    queue = table.take(pa.array(rows[order], pa.int64()))
    queue = queue.append_column(MARGIN, pa.array(margins[order], pa.float64()))
    queue = queue.append_column(RANK, pa.array(np.arange(1, len(order) + 1), pa.int64()))
    written = None
    if out is not None:
        written = Path(out)
        written.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(queue, written)
    return AuditResult(
        queue=queue,
        pairs=len(pairs),
        negative=int((margins < 0).sum()),
        evaluation=result,
        out=written,
    )
