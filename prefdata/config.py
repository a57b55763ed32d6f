"""Settings for the filtering pipeline, validated where they are made.

A config file (YAML or TOML) uses the field names below as keys, e.g.::

    min_chosen_chars: 50
    max_similarity: 0.9
    similarity: difflib
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import yaml

from prefdata.errors import ConfigError

SimilarityMetric = Literal["indel", "difflib"]
LayoutName = Literal["auto", "trl", "hh", "sharegpt"]
FileType = Literal["auto", "jsonl", "json", "csv", "parquet", "hf"]

LAYOUTS: tuple[str, ...] = ("auto", "trl", "hh", "sharegpt")
FILE_TYPES: tuple[str, ...] = ("auto", "jsonl", "json", "csv", "parquet", "hf")
METRICS: tuple[str, ...] = ("indel", "difflib")


@dataclass
class FilterConfig:
    """Thresholds and switches of the per-pair checks.

    The defaults are the reference design's: chosen under 50 characters or rejected
    under 20 is too short to mean anything, and responses more than 90% similar teach
    the model almost nothing but their few differing characters.
    """

    min_chosen_chars: int = 50
    min_rejected_chars: int = 20
    max_similarity: float = 0.9
    similarity: SimilarityMetric = "indel"
    # Indel similarity costs O(len_a * len_b / 64): past this many characters a response
    # is dropped as response_too_long instead of stalling the batch (a 5 MB pair would
    # take minutes). DPO trainers truncate far below this anyway.
    max_response_chars: int = 100_000
    # Check names to skip, e.g. ["too_similar"].
    disable: list[str] = field(default_factory=list)
    batch_size: int = 8192
    # Processes that parse and check chunks in parallel; 0 picks one per core but one
    # (the main process reads and writes) for inputs over 8 MiB, inline for smaller ones.
    workers: int = 0

    def __post_init__(self) -> None:
        for name in ("min_chosen_chars", "min_rejected_chars", "max_response_chars"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{name} must be an integer >= 0, got {value!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigError(f"batch_size must be an integer >= 1, got {self.batch_size!r}")
        if not isinstance(self.workers, int) or self.workers < 0:
            raise ConfigError(f"workers must be 0 (automatic) or >= 1, got {self.workers!r}")
        if not isinstance(self.max_similarity, int | float) or not 0 <= self.max_similarity <= 1:
            raise ConfigError(
                f"max_similarity must be between 0 and 1, got {self.max_similarity!r}"
            )
        self.max_similarity = float(self.max_similarity)
        if self.similarity not in METRICS:
            raise ConfigError(f"similarity must be one of {list(METRICS)}, got {self.similarity!r}")
        from prefdata.checks import CHECKS  # the registry names the valid choices

        unknown = [name for name in self.disable if name not in CHECKS]
        if unknown:
            raise ConfigError(f"disable names unknown checks {unknown}; valid: {sorted(CHECKS)}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class ReadOptions:
    """How to read inputs: container type, record layout and column names."""

    layout: LayoutName = "auto"
    file_type: FileType = "auto"
    prompt_column: str | None = None
    chosen_column: str | None = None
    rejected_column: str | None = None
    id_column: str | None = None

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ConfigError(f"format must be one of {list(LAYOUTS)}, got {self.layout!r}")
        if self.file_type not in FILE_TYPES:
            raise ConfigError(
                f"file_type must be one of {list(FILE_TYPES)}, got {self.file_type!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or TOML config file into a dict (keys unchecked)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot parse {path}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of settings, got {type(data).__name__}")
    return data


def build_configs(
    file_settings: dict[str, Any] | None = None, **overrides: Any
) -> tuple[FilterConfig, ReadOptions]:
    """Merge config-file settings with explicit overrides (None means 'not given').

    Unknown keys fail with the valid choices listed.
    """
    settings = dict(file_settings or {})
    settings.update({k: v for k, v in overrides.items() if v is not None})
    filter_keys = {f.name for f in fields(FilterConfig)}
    read_keys = {f.name for f in fields(ReadOptions)}
    # "format" is the CLI's word for the record layout
    if "format" in settings:
        settings["layout"] = settings.pop("format")
    unknown = sorted(set(settings) - filter_keys - read_keys)
    if unknown:
        raise ConfigError(f"unknown setting(s) {unknown}; valid: {sorted(filter_keys | read_keys)}")
    try:
        filter_config = FilterConfig(**{k: v for k, v in settings.items() if k in filter_keys})
        read_options = ReadOptions(**{k: v for k, v in settings.items() if k in read_keys})
    except TypeError as exc:  # wrong shape, e.g. disable: "x" instead of a list
        raise ConfigError(str(exc)) from exc
    return filter_config, read_options
