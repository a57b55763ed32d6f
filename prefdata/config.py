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
from typing import TYPE_CHECKING, Any, Literal

import yaml

from prefdata.errors import ConfigError

if TYPE_CHECKING:
    from prefdata.dataset.minhash import LshParams

SimilarityMetric = Literal["indel", "difflib"]
FileType = Literal["auto", "jsonl", "json", "csv", "parquet", "hf"]

PREFER: tuple[str, ...] = ("better", "safer")
FILE_TYPES: tuple[str, ...] = ("auto", "jsonl", "json", "csv", "parquet", "hf")
METRICS: tuple[str, ...] = ("indel", "difflib")
LengthUnit = Literal["chars", "tokens"]
LENGTH_UNITS: tuple[str, ...] = ("chars", "tokens")


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
    # Threads that parse and check chunks in parallel; 0 picks one per core (up to 8)
    # for inputs over 8 MiB, none for smaller ones.
    workers: int = 0
    # Dataset-level checks (prefdata.dataset). Near-duplicate prompts are always counted
    # for the report; dropping them is opt-in, since rephrasings of one prompt with
    # different answers are often wanted. 0.8 Jaccard over 3-word shingles is the usual
    # near-duplicate line (the GPT-3 and Gopher dedup work used 0.8 on 5-grams of
    # documents; prompts are short, so shorter shingles).
    # Near-duplicate prompts (MinHash LSH) are counted only when asked: MinHash costs
    # about 100 us per pair, several times the rest of the dataset-level pass.
    near_duplicates: bool = False
    drop_near_duplicates: bool = False
    near_duplicate_threshold: float = 0.8
    shingle_words: int = 3
    minhash_permutations: int = 128
    # Evaluation sets whose prompts must not appear in training data (contaminated_prompt).
    eval_sets: list[str] = field(default_factory=list)
    # Subsample pairs so that chosen is longer as often as rejected (length_balance).
    balance_length: bool = False
    seed: int = 0
    # Tokenizer-aware checks: a local Hugging Face tokenizer folder, and TRL's max_length
    # (prompt + completion tokens). The minimum lengths count length_unit.
    tokenizer: str | None = None
    max_length: int | None = None
    length_unit: LengthUnit = "chars"

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
        self._check_dataset_settings()
        from prefdata.checks import CHECKS  # the registry names the valid choices
        from prefdata.dataset import DATASET_CHECKS

        valid = sorted({*CHECKS, *DATASET_CHECKS})
        unknown = [name for name in self.disable if name not in valid]
        if unknown:
            raise ConfigError(f"disable names unknown checks {unknown}; valid: {valid}")

    def _check_dataset_settings(self) -> None:
        if not 0 < self.near_duplicate_threshold <= 1:
            raise ConfigError(
                f"near_duplicate_threshold must be in (0, 1], got {self.near_duplicate_threshold!r}"
            )
        for name, low in (("shingle_words", 1), ("minhash_permutations", 16)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.max_length is not None and (
            not isinstance(self.max_length, int) or self.max_length < 1
        ):
            raise ConfigError(f"max_length must be an integer >= 1, got {self.max_length!r}")
        if self.length_unit not in LENGTH_UNITS:
            raise ConfigError(
                f"length_unit must be one of {list(LENGTH_UNITS)}, got {self.length_unit!r}"
            )
        if self.length_unit == "tokens" and not self.tokenizer:
            raise ConfigError("length_unit 'tokens' needs a tokenizer: pass --tokenizer PATH")
        if self.max_length is not None and not self.tokenizer:
            raise ConfigError("max_length counts tokens: pass --tokenizer PATH with it")
        if self.tokenizer and not Path(self.tokenizer).is_dir():
            raise ConfigError(
                f"tokenizer must be a local tokenizer folder, got {self.tokenizer!r}"
                " (no hub downloads: save it with tokenizer.save_pretrained(DIR))"
            )
        self.eval_sets = [str(p) for p in self.eval_sets]

    def near_duplicates_wanted(self) -> bool:
        asked = self.near_duplicates or self.drop_near_duplicates
        return (asked and "near_duplicate_prompt" not in self.disable) or bool(self.eval_sets)

    def lsh(self) -> LshParams | None:
        """MinHash LSH settings when prompts are compared for near matches, else None."""
        if not self.near_duplicates_wanted():
            return None
        from prefdata.dataset.minhash import lsh_params
        from prefdata.errors import MissingExtraError

        try:
            return lsh_params(
                self.near_duplicate_threshold, self.minhash_permutations, self.shingle_words
            )
        except MissingExtraError:
            # the statistic is on by default: without datasketch it is skipped (and the
            # report says so); an explicit drop cannot be honoured, so it fails
            if self.drop_near_duplicates:
                raise
            return None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class ReadOptions:
    """How to read inputs: container type, record layout and column names.

    ``layout`` is ``auto`` or a name in ``prefdata.readers.layouts.LAYOUTS``. The
    labelled layout reads ``response_a_column`` and ``response_b_column`` and orders
    them by ``label_column``; ``prefer`` picks PKU-SafeRLHF's better or safer response.
    """

    layout: str = "auto"
    file_type: FileType = "auto"
    prompt_column: str | None = None
    chosen_column: str | None = None
    rejected_column: str | None = None
    id_column: str | None = None
    response_a_column: str | None = None
    response_b_column: str | None = None
    label_column: str | None = None
    prefer: str = "better"

    def __post_init__(self) -> None:
        # the registry imports this module, so it is looked up when options are made
        from prefdata.readers.layouts import LAYOUTS

        if self.layout != "auto" and self.layout not in LAYOUTS:
            raise ConfigError(f"format must be one of {['auto', *LAYOUTS]}, got {self.layout!r}")
        if self.prefer not in PREFER:
            raise ConfigError(f"prefer must be one of {list(PREFER)}, got {self.prefer!r}")
        labelled = (self.response_a_column, self.response_b_column, self.label_column)
        if any(labelled) and not all(labelled):
            raise ConfigError(
                f"response_a_column, response_b_column and label_column go together; got {labelled}"
            )
        if all(labelled) and self.layout not in ("auto", "labelled"):
            raise ConfigError(f"--response-a-column needs --format labelled, got {self.layout!r}")
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
