"""Settings for the filtering pipeline, declared and validated once.

Each field carries its help text, bounds and choices as ``field(metadata=...)``; one
loop in ``validate_fields`` checks them all, and the CLI builds its flags from the same
metadata (``prefdata.cli.settings_options``), so a setting is written down in one place.

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
FileType = Literal["auto", "jsonl", "json", "csv", "parquet", "hf"]

PREFER: tuple[str, ...] = ("better", "safer")
FILE_TYPES: tuple[str, ...] = ("auto", "jsonl", "json", "csv", "parquet", "hf")
METRICS: tuple[str, ...] = ("indel", "difflib")
LengthUnit = Literal["chars", "tokens"]
LENGTH_UNITS: tuple[str, ...] = ("chars", "tokens")


def meta(
    help: str,
    *,
    kind: type | None = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    choices: tuple[str, ...] | None = None,
    must: str | None = None,
    flag: str | None = None,
    cli_type: Any = None,
) -> dict[str, Any]:
    """A settings field's metadata: its help, bounds and choices, declared once.

    ``kind`` is the value's type (int, float, str, bool or list) where the default does
    not tell it (None); ``must`` replaces the generated bound text in the error message;
    ``flag`` overrides the CLI spelling (e.g. ``--eval-set`` for a list); ``cli_type`` is
    what the CLI parses when it differs from ``kind`` (Path for folders and files).
    """
    return {
        "help": help,
        "kind": kind,
        "ge": ge,
        "gt": gt,
        "le": le,
        "choices": choices,
        "must": must,
        "flag": flag,
        "cli_type": cli_type,
    }


def field_kind(f: dataclasses.Field[Any]) -> type:
    """The type of a settings field's values: declared, or that of its default."""
    if f.metadata.get("kind") is not None:
        return f.metadata["kind"]
    if f.default_factory is not dataclasses.MISSING:
        return type(f.default_factory())
    return type(f.default)


def _bound_text(meta: Any, kind: type) -> str:
    if meta["must"]:
        return str(meta["must"])
    low, high = meta["ge"] if meta["ge"] is not None else meta["gt"], meta["le"]
    if high is not None:
        if meta["gt"] is not None:
            return f"in ({low}, {high}]"
        return f"between {low} and {high}"
    number = "an integer" if kind is int else "a number"
    return f"{number} {'>=' if meta['ge'] is not None else '>'} {low}"


def validate_fields(obj: Any) -> None:
    """Check every field of a settings dataclass against its metadata, in one loop.

    None is allowed where it is the default (an unset optional setting). Messages name
    key, rule and value in one line, e.g. ``max_similarity must be between 0 and 1, got 1.5``.
    """
    for f in fields(obj):
        meta = f.metadata
        if "help" not in meta:
            continue
        kind = field_kind(f)
        value = getattr(obj, f.name)
        if value is None and f.default is None:
            continue
        if meta["choices"] is not None and value not in meta["choices"]:
            raise ConfigError(f"{f.name} must be one of {list(meta['choices'])}, got {value!r}")
        if meta["ge"] is None and meta["gt"] is None and meta["le"] is None:
            continue
        allowed = (int,) if kind is int else (int, float)
        ok = isinstance(value, allowed) and not isinstance(value, bool)
        if ok and meta["ge"] is not None:
            ok = value >= meta["ge"]
        if ok and meta["gt"] is not None:
            ok = value > meta["gt"]
        if ok and meta["le"] is not None:
            ok = value <= meta["le"]
        if not ok:
            raise ConfigError(f"{f.name} must be {_bound_text(meta, kind)}, got {value!r}")
        if kind is float:
            setattr(obj, f.name, float(value))


@dataclass
class FilterConfig:
    """Thresholds and switches of the per-pair checks.

    The defaults are the reference design's: chosen under 50 characters or rejected
    under 20 is too short to mean anything, and responses more than 90% similar teach
    the model almost nothing but their few differing characters.
    """

    min_chosen_chars: int = field(
        default=50,
        metadata=meta(
            "Drop pairs whose chosen response is shorter (characters; default 50).", ge=0
        ),
    )
    min_rejected_chars: int = field(
        default=20,
        metadata=meta(
            "Drop pairs whose rejected response is shorter (characters; default 20).", ge=0
        ),
    )
    max_similarity: float = field(
        default=0.9,
        metadata=meta(
            "Drop pairs whose responses are more similar than this (0-1; default 0.9).",
            ge=0,
            le=1,
            kind=float,
        ),
    )
    similarity: SimilarityMetric = field(
        default="indel",
        metadata=meta(
            "Similarity metric: indel (rapidfuzz, default) or "
            "difflib (SequenceMatcher.ratio, the reference design's number).",
            choices=METRICS,
        ),
    )
    # Indel similarity costs O(len_a * len_b / 64): past this many characters a response
    # is dropped as response_too_long instead of stalling the batch (a 5 MB pair would
    # take minutes). DPO trainers truncate far below this anyway.
    max_response_chars: int = field(
        default=100_000,
        metadata=meta(
            "Drop responses longer than this instead of comparing them (default 100000).", ge=0
        ),
    )
    # Check names to skip, e.g. ["too_similar"]; the registries validate them.
    disable: list[str] = field(
        default_factory=list,
        metadata=meta(
            "Skip a check by name (repeatable): "
            "empty_response, identical_pair, too_short, too_long, too_similar, "
            "token_limits, duplicate_pair, contradictory_pair, "
            "near_duplicate_prompt, contaminated_prompt.",
            flag="--disable",
        ),
    )
    batch_size: int = field(
        default=8192, metadata=meta("Pairs per checked chunk (default 8192).", ge=1)
    )
    # 0 picks one thread per core (up to 8) for inputs over 8 MiB, none for smaller ones.
    workers: int = field(
        default=0,
        metadata=meta(
            "Threads for parsing and checking (0: one per core, up to 8, for inputs over "
            "8 MiB; 1: no threads).",
            ge=0,
            must="0 (automatic) or >= 1",
        ),
    )
    # Dataset-level checks (prefdata.dataset). Near-duplicate prompts are counted only
    # when asked (MinHash costs about 100 us per pair, several times the rest of the
    # dataset-level pass); dropping them is a further opt-in, since rephrasings of one
    # prompt with different answers are often wanted. 0.8 Jaccard over 3-word shingles
    # is the usual near-duplicate line (the GPT-3 and Gopher dedup work used 0.8 on
    # 5-grams of documents; prompts are short, so shorter shingles).
    near_duplicates: bool = field(
        default=False,
        metadata=meta(
            "Count near-duplicate prompts (MinHash LSH) in the report (default off: it "
            "costs about 100 us per pair)."
        ),
    )
    drop_near_duplicates: bool = field(
        default=False,
        metadata=meta(
            "Drop prompts near-duplicating an earlier one "
            "(counted in the report either way; default keep).",
            flag="--drop-near-duplicates/--keep-near-duplicates",
        ),
    )
    near_duplicate_threshold: float = field(
        default=0.8,
        metadata=meta(
            "MinHash Jaccard similarity of word shingles (--shingle-words) at which prompts "
            "are near (default 0.8).",
            gt=0,
            le=1,
            kind=float,
        ),
    )
    shingle_words: int = field(
        default=3, metadata=meta("Words per MinHash shingle of a prompt (default 3).", ge=1)
    )
    minhash_permutations: int = field(
        default=128,
        metadata=meta("MinHash permutations per prompt signature (default 128).", ge=16),
    )
    # Evaluation sets whose prompts must not appear in training data (contaminated_prompt).
    eval_sets: list[str] = field(
        default_factory=list,
        metadata=meta(
            "Evaluation set (any readable file; "
            "repeatable): training pairs whose prompt matches one of its "
            "prompts, exactly or by MinHash, are dropped as contaminated_prompt.",
            flag="--eval-set",
            cli_type=Path,
        ),
    )
    balance_length: bool = field(
        default=False,
        metadata=meta("Subsample so chosen is longer as often as rejected (length_balance)."),
    )
    seed: int = field(default=0, metadata=meta("Seed of --balance-length's sampling (default 0)."))
    # Tokenizer-aware checks: a local Hugging Face tokenizer folder, and TRL's max_length
    # (prompt + completion tokens). The minimum lengths count length_unit.
    tokenizer: str | None = field(
        default=None,
        metadata=meta(
            "Local Hugging Face tokenizer folder: turns on the "
            "token checks (prompt_boundary_merge; with --max-length the rest).",
            kind=str,
            cli_type=Path,
        ),
    )
    max_length: int | None = field(
        default=None, metadata=meta("TRL's max_length: prompt + completion tokens.", kind=int, ge=1)
    )
    length_unit: LengthUnit = field(
        default="chars",
        metadata=meta(
            "Unit of the minimum lengths: chars (default) or tokens (needs --tokenizer).",
            choices=LENGTH_UNITS,
        ),
    )

    def __post_init__(self) -> None:
        validate_fields(self)
        # rules that join two settings, which no single field's metadata can say
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
        # the registries name the valid checks; they import this module, hence here
        from prefdata.dataset import check_disable_names

        check_disable_names(self.disable)

    def near_duplicates_wanted(self) -> bool:
        asked = self.near_duplicates or self.drop_near_duplicates
        return (asked and "near_duplicate_prompt" not in self.disable) or bool(self.eval_sets)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class ReadOptions:
    """How to read inputs: container type, record layout and column names.

    ``layout`` is ``auto`` or a name in ``prefdata.readers.layouts.LAYOUTS``. The
    labelled layout reads ``response_a_column`` and ``response_b_column`` and orders
    them by ``label_column``; ``prefer`` picks PKU-SafeRLHF's better or safer response.
    """

    # the choices live in the layout registry, checked in __post_init__
    layout: str = field(
        default="auto",
        metadata=meta(
            "Record layout: auto (detected from the keys) or a name that "
            "`prefdata inspect --formats` lists (trl, hh, sharegpt, alpaca, orca, h4, openai, "
            "shp, arena, pku, labelled).",
            flag="--format",
        ),
    )
    file_type: FileType = field(
        default="auto",
        metadata=meta("Container: auto, jsonl, json, csv, parquet, hf.", choices=FILE_TYPES),
    )
    prompt_column: str | None = field(
        default=None, metadata=meta("Column holding the prompt.", kind=str)
    )
    chosen_column: str | None = field(
        default=None, metadata=meta("Column holding the chosen response.", kind=str)
    )
    rejected_column: str | None = field(
        default=None, metadata=meta("Column holding the rejected response.", kind=str)
    )
    id_column: str | None = field(
        default=None, metadata=meta("Column holding a stable pair id (default: id).", kind=str)
    )
    response_a_column: str | None = field(
        default=None,
        metadata=meta(
            "Labelled pairs: column of the first response (with --label-column).", kind=str
        ),
    )
    response_b_column: str | None = field(
        default=None, metadata=meta("Labelled pairs: column of the second one.", kind=str)
    )
    label_column: str | None = field(
        default=None,
        metadata=meta(
            "Labelled pairs: column saying which response won: a/model_a/0 or b/model_b/1; "
            "tie, tie (bothbad), both_bad, none or null drop the row as no_preference.",
            kind=str,
        ),
    )
    prefer: str = field(
        default="better",
        metadata=meta(
            "PKU-SafeRLHF layout: better (better_response_id, default) or safer.", choices=PREFER
        ),
    )

    def __post_init__(self) -> None:
        validate_fields(self)
        # the registry imports this module, so it is looked up when options are made
        from prefdata.readers.layouts import LAYOUTS

        if self.layout != "auto" and self.layout not in LAYOUTS:
            raise ConfigError(f"format must be one of {['auto', *LAYOUTS]}, got {self.layout!r}")
        labelled = (self.response_a_column, self.response_b_column, self.label_column)
        if any(labelled) and not all(labelled):
            raise ConfigError(
                f"response_a_column, response_b_column and label_column go together; got {labelled}"
            )
        if all(labelled) and self.layout not in ("auto", "labelled"):
            raise ConfigError(f"--response-a-column needs --format labelled, got {self.layout!r}")

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
