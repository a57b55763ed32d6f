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


@pytest.fixture(scope="session")
def ray_local():  # type: ignore[no-untyped-def]
    """A local 2-CPU Ray instance shared by the session's Ray tests (start-up is seconds)."""
    ray = pytest.importorskip("ray")
    from prefdata.engines.ray_engine import init_ray

    started = init_ray(num_cpus=2)
    yield ray
    if started:
        ray.shutdown()
