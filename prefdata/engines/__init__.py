"""Executors: where the per-chunk work of a run is scheduled.

The driver (``prefdata.pipeline``) owns the report, counters, accounting and publishing;
an executor only runs the chunks: ``local`` on this machine's threads, ``ray_engine`` as
a Ray Data job. Both run the pieces of ``prefdata.chunks`` (``check_chunk``, ``finish``)
and the dataset-level decisions of ``prefdata.dataset.decisions`` unchanged, so every
engine applies the same checks; ``tally`` is what they report back.
"""

from __future__ import annotations

ENGINES: tuple[str, ...] = ("local", "ray")

__all__ = ["ENGINES"]
