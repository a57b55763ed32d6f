"""Shared fixtures. Nothing here reaches a model or dataset hub."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DATA = REPO / "sample_data"
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def sample_data() -> Path:
    return SAMPLE_DATA


def shared_file(relative: str) -> Path:
    """A file of ../shared/data, or skip the test when it is absent (fresh clones)."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"{path} not present (../shared/data is optional)")
    return path


@pytest.fixture(autouse=True)
def _restore_main_module():  # type: ignore[no-untyped-def]
    """Streamlit's script runner (AppTest) installs its own ``__main__`` and keeps it;
    worker processes started with ``spawn`` would then re-import the app script."""
    import sys

    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main
