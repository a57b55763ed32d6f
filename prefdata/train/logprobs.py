"""Summed log-probabilities of response tokens, in bounded memory, on the model's device.

A full-vocabulary fp32 log-softmax over a batch costs batch x length x vocab x 4 bytes
(about 20 GB at 8 x 2,048 tokens and a 150k vocabulary). Only response tokens matter, so
they are gathered first and normalised a chunk at a time: at most ``chunk_tokens`` x
vocab fp32 values exist at once (about 0.6 GB at 1,024 tokens and 150k). The model is
asked for logits from the batch's first response position on (``logits_to_keep``), so
the prompts' positions cost no logits either.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from prefdata.errors import ConfigError, require

CHUNK_TOKENS = 1024


@dataclass(frozen=True)
class Sequence:
    """Token ids of prompt + response after truncation; response tokens start at ``start``."""

    ids: list[int]
    start: int


def truncate(prompt: list[int], response: list[int], max_length: int | None, mode: str) -> Sequence:
    """Prompt + response cut to ``max_length`` the way TRL's collators cut them:
    ``keep_start`` keeps the first tokens, ``keep_end`` the last."""
    ids = prompt + response
    start = len(prompt)
    if max_length is None or len(ids) <= max_length:
        return Sequence(ids, start)
    if mode == "keep_end":
        cut = len(ids) - max_length
        return Sequence(ids[cut:], max(0, start - cut))
    return Sequence(ids[:max_length], min(start, max_length))


def pick_device(requested: str | None = None) -> str:
    """``requested``, else CUDA when available, else CPU."""
    torch = require("torch", "train")
    if not requested:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(requested).type
    except RuntimeError:
        raise ConfigError(
            f"--device {requested!r} is not a torch device: use cpu, cuda or cuda:N"
        ) from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {requested}: no CUDA device here; use cpu")
    return requested


def response_logps(
    model: Any,
    sequences: list[Sequence],
    pad_id: int,
    *,
    autocast: str | None = None,
    chunk_tokens: int = CHUNK_TOKENS,
) -> tuple[list[float], list[int]]:
    """(sum of response-token log-probs, response token count) per sequence.

    ``autocast`` names a dtype (``"bfloat16"``) to compute in, as mixed-precision training
    did; the log-softmax itself is always fp32.
    """
    torch = require("torch", "train")
    device = next(model.parameters()).device
    width = max(len(s.ids) for s in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention = torch.zeros_like(input_ids)
    response = torch.zeros_like(input_ids, dtype=torch.bool)
    for row, seq in enumerate(sequences):
        input_ids[row, : len(seq.ids)] = torch.tensor(seq.ids, dtype=torch.long)
        attention[row, : len(seq.ids)] = 1
        response[row, seq.start : len(seq.ids)] = True
    input_ids, attention, response = (t.to(device) for t in (input_ids, attention, response))
    context: Any = nullcontext()
    if autocast is not None:
        context = torch.autocast(device_type=device.type, dtype=getattr(torch, autocast))
    # position t predicts token t + 1: logits before the earliest response token's
    # predecessor are never read, so ask the model for the rest only (long prompts)
    offset = max(min(seq.start for seq in sequences) - 1, 0)
    with torch.no_grad():
        with context:
            try:
                logits = model(
                    input_ids=input_ids, attention_mask=attention, logits_to_keep=width - offset
                ).logits
            except TypeError:  # a model class without logits_to_keep
                logits, offset = model(input_ids=input_ids, attention_mask=attention).logits, 0
        rows, cols = response[:, 1:].nonzero(as_tuple=True)
        targets = input_ids[:, 1:][rows, cols]
        sums = torch.zeros(len(sequences), dtype=torch.float32, device=device)
        for begin in range(0, len(rows), chunk_tokens):
            r, c = rows[begin : begin + chunk_tokens], cols[begin : begin + chunk_tokens]
            picked = logits[r, c - offset].float()
            token = picked.gather(-1, targets[begin : begin + chunk_tokens, None]).squeeze(-1)
            sums.index_add_(0, r, token - torch.logsumexp(picked, dim=-1))
        counts = response[:, 1:].sum(dim=1)
    return [float(v) for v in sums.cpu()], [int(v) for v in counts.cpu()]
