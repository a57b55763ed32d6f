"""Engines that run the pipeline's per-chunk work somewhere other than this process.

The local engine lives in ``prefdata.pipeline``; each engine here reuses the pieces of
``prefdata.chunks`` (``check_chunk``, ``finish``) and the dataset-level
decisions of ``prefdata.dataset.decisions`` unchanged, so every engine applies the same
checks.
"""

from __future__ import annotations

ENGINES: tuple[str, ...] = ("local", "ray")

__all__ = ["ENGINES"]
