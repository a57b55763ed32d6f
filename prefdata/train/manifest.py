"""manifest.json of a handoff folder: what was trained on what, with what, for how long."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from prefdata import __version__
from prefdata.train.data import Pairs, curation_report, file_sha256

MANIFEST_FILE = "manifest.json"
LIBRARIES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "tokenizers")


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"prefdata": __version__}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def describe_data(pairs: Pairs) -> dict[str, Any]:
    """sha256, row count and shape of a data file, with its curation report if beside it."""
    info: dict[str, Any] = {"rows_used": len(pairs), "shape": pairs.shape}
    if pairs.path is not None:
        info["path"] = str(pairs.path)
        info["sha256"] = file_sha256(pairs.path)
        info["rows"] = pq.ParquetFile(pairs.path).metadata.num_rows
        info["curation_report"] = curation_report(pairs.path)
    return info


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)  # enums, dtypes, paths


def write_manifest(output_dir: str | Path, manifest: dict[str, Any]) -> Path:
    path = Path(output_dir) / MANIFEST_FILE
    path.write_text(json.dumps(_jsonable(manifest), indent=2) + "\n", encoding="utf-8")
    return path


def read_manifest(folder: str | Path) -> dict[str, Any] | None:
    """A handoff folder's manifest, or None when the folder has none."""
    path = Path(folder) / MANIFEST_FILE
    if not path.is_file():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded
