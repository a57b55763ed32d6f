"""Evaluation-set prompts for the contamination check, from any input prefdata reads.

A preference file (any layout) gives its prompts; a file of prompts alone (no
chosen/rejected, e.g. a benchmark's questions) gives the first of the columns in
``PROMPT_KEYS`` it has, or the last user message of a ``messages`` list.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from prefdata.dataset.decisions import EvalPrompts
from prefdata.dataset.minhash import LshParams, band_keys, signatures
from prefdata.dataset.signatures import text_hashes
from prefdata.errors import InputError
from prefdata.readers import iter_chunks, normalize_chunk
from prefdata.readers.normalize import Warnings
from prefdata.readers.prompt_records import PROMPT_KEYS, iter_records, prompt_text
from prefdata.schema import PROMPT, final_text


def _prompts_only(path: Path) -> list[str]:
    texts = [t for _, r in iter_records(path) if (t := prompt_text(r)) is not None]
    if not texts:
        raise InputError(
            f"no prompts in eval set {path}: expected pairs or one of the "
            f"columns {list(PROMPT_KEYS)}"
        )
    return texts


def _eval_texts(path: Path) -> list[pa.Array]:
    try:
        parts = []
        for _, layout, chunk in iter_chunks([path]):
            good = normalize_chunk(chunk, layout, Warnings()).good
            parts.append(final_text(good.column(PROMPT)))
        return parts
    except InputError:  # not pairs: a list of prompts
        return [pa.array(_prompts_only(path), pa.string())]


def load_eval_prompts(paths: Sequence[str | Path], lsh: LshParams | None) -> EvalPrompts:
    """Hashes (and MinHash signatures when ``lsh``) of every prompt of the eval sets."""
    exact, sigs = [], []
    for path in map(Path, paths):
        if not path.exists():
            raise InputError(f"no such eval set: {path}")
        for texts in _eval_texts(path):
            exact.append(text_hashes(texts))
            if lsh is not None:
                sigs.append(signatures(texts, lsh))
    evals = EvalPrompts(np.concatenate(exact) if exact else np.zeros(0, np.uint64))
    if lsh is not None:
        evals.minhash = np.concatenate(sigs) if sigs else np.zeros((0, lsh.num_perm), np.uint32)
        usable = (
            evals.minhash[:, 0] != np.uint32(0xFFFFFFFF)
            if len(evals.minhash)
            else np.zeros(0, bool)
        )
        evals.minhash = evals.minhash[usable]
        evals.bands = band_keys(evals.minhash, lsh)
    return evals
