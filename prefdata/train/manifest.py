"""manifest.json of a handoff folder: what was trained on what, with what, for how long."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shlex
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

from prefdata import __version__
from prefdata.train.data import Pairs, curation_report, data_files, file_sha256

if TYPE_CHECKING:
    from prefdata.train.runner import Prepared, TrainResult

MANIFEST_FILE = "manifest.json"
EVAL_IDS_FILE = "eval_ids.parquet"  # the ids eval_split held out, beside the manifest
LIBRARIES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "tokenizers")


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"prefdata": __version__}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def portable_path(folder: str | Path, path: str | Path) -> str:
    """``path`` relative to ``folder`` (the manifest's), so a moved or copied tree of
    runs and models still resolves; read back with resolve_path."""
    return os.path.relpath(Path(path).resolve(), Path(folder).resolve())


def resolve_path(folder: str | Path, value: str | Path) -> Path:
    """A path a manifest names, resolved from the manifest's folder. Manifests written
    before paths were portable named them from where training ran: tried second."""
    path = Path(value)
    if path.is_absolute():
        return path
    inside = Path(os.path.normpath(Path(folder) / path))
    return inside if inside.exists() or not path.exists() else path


def config_sha256(model: str | Path) -> str | None:
    """sha256 of a model folder's config.json (adapter_config.json for an adapter)."""
    for name in ("config.json", "adapter_config.json"):
        if (Path(model) / name).is_file():
            return file_sha256(Path(model) / name)
    return None


def git_commit() -> str | None:
    """prefdata's git commit when it runs from a checkout, else None."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def describe_data(pairs: Pairs, *, relative_to: str | Path | None = None) -> dict[str, Any]:
    """sha256, row count and shape of a data file, with its curation report if beside it."""
    info: dict[str, Any] = {"rows_used": len(pairs), "shape": pairs.shape}
    if pairs.path is not None:
        info["path"] = str(
            pairs.path if relative_to is None else portable_path(relative_to, pairs.path)
        )
        info["sha256"] = file_sha256(pairs.path)
        info["rows"] = sum(pq.read_metadata(f).num_rows for f in data_files(pairs.path))
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


def _command_line() -> str:
    """How this process was started, as a shell line (``prefdata ...`` for the CLI)."""
    args = list(sys.argv)
    if args and Path(args[0]).name in ("prefdata", "__main__.py"):
        args[0] = "prefdata"
    return " ".join(shlex.quote(arg) for arg in args)


def build_manifest(
    prep: Prepared, result: TrainResult, started: datetime, *, resumed_from: str | None
) -> dict[str, Any]:
    """Everything a reviewer needs about a run; paths are relative to the manifest's folder."""
    from prefdata.train.runner import resolved_recipe

    recipe, method = prep.recipe, prep.recipe.method_spec
    out = Path(recipe.output_dir)
    base = portable_path(out, recipe.model)
    if recipe.lora is not None:
        reference = "base model (adapter disabled)"
    elif not method.uses_reference:
        reference = None
    else:
        reference = base
    eval_data = None
    if prep.eval is not None:
        eval_data = describe_data(prep.eval, relative_to=out)
        if recipe.eval_split is not None:
            eval_data.update(
                held_out_from="data", split=recipe.eval_split, seed=prep.config.seed,
                ids_file=EVAL_IDS_FILE,
            )  # fmt: skip
    return {
        "prefdata_version": library_versions()["prefdata"],
        "prefdata_git_commit": git_commit(),
        "command": _command_line(),
        "working_directory": os.getcwd(),
        "paths_relative_to": "this manifest's folder",
        "method": method.name,
        "model": {
            "base": base,
            "base_config_sha256": config_sha256(recipe.model),
            "adapter": recipe.lora is not None,
            "adapter_base": base if recipe.lora is not None else None,
            "dtype": prep.model_dtype,
        },
        "reference_model": reference,
        "beta": getattr(prep.config, "beta", None),
        "data": describe_data(prep.train, relative_to=out),
        "eval_data": eval_data,
        "prompt_overflow": prep.report["prompt_overflow"],
        "lengths": prep.report["lengths"],
        "recipe": resolved_recipe(prep),
        "trainer_config": prep.config.to_dict(),
        "libraries": library_versions(),
        "hardware": prep.hardware,
        "started_at": started.isoformat(timespec="seconds"),
        "duration_s": result.duration_s,
        "resumed_from": resumed_from,
        "training": result.training,
        "train_metrics": result.train_metrics,
        "eval_metrics": result.eval_metrics,
    }
