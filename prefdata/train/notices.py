"""Warnings the training stage gives: one line per cause, never a refusal."""

from __future__ import annotations

import warnings


class TrainingWarning(UserWarning):
    """Something worth a look before training (odd hyper-parameter, truncated pairs)."""


def warn(message: str) -> None:
    """Emit one TrainingWarning; the CLI prints it as a single ``warning:`` line."""
    warnings.warn(message, TrainingWarning, stacklevel=2)
