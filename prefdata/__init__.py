"""prefdata: curate, validate, annotate and train on preference pairs.

>>> from prefdata import filter_pairs  # doctest: +SKIP
>>> report = filter_pairs(["pairs.jsonl"], "curated/")  # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"

from prefdata.config import FilterConfig, ReadOptions
from prefdata.errors import ConfigError, InputError, MissingExtraError, PrefdataError
from prefdata.inspection import Inspection, inspect_input
from prefdata.pipeline import Report, filter_pairs, validate_pairs

__all__ = [
    "ConfigError",
    "FilterConfig",
    "InputError",
    "Inspection",
    "MissingExtraError",
    "PrefdataError",
    "ReadOptions",
    "Report",
    "__version__",
    "filter_pairs",
    "inspect_input",
    "validate_pairs",
]
