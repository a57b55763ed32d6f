"""The dataset card: README.md in Hugging Face's format (YAML header + markdown).

The header's ``configs`` point ``datasets.load_dataset(FOLDER)`` at kept.parquet (and the
dropped rows as a second config); ``dataset_info`` lists the features and sizes.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import yaml

from prefdata.results.folder import FILE, Layout

SIZE_CATEGORIES = [
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
]


def size_category(rows: int) -> str:
    return next((name for limit, name in SIZE_CATEGORIES if rows < limit), "10M<n<100M")


# Arrow's names that datasets spells otherwise
_DTYPE_NAMES = {"double": "float64", "float": "float32", "halffloat": "float16"}


class _Unmapped(Exception):
    pass


def _feature(t: pa.DataType) -> dict[str, Any]:
    """One type as datasets writes it in a card (``Features._to_yaml_list``), unnamed."""
    if pa.types.is_struct(t):
        return {"struct": [{"name": f.name, **_feature(f.type)} for f in t]}
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        inner = _feature(t.value_type)
        value = inner["dtype"] if "dtype" in inner else inner.get("struct", inner)
        out: dict[str, Any] = {"large_list" if pa.types.is_large_list(t) else "list": value}
        if pa.types.is_fixed_size_list(t):
            out["length"] = t.list_size
        return out
    if pa.types.is_nested(t) or pa.types.is_dictionary(t) or isinstance(t, pa.ExtensionType):
        raise _Unmapped(str(t))
    return {"dtype": _DTYPE_NAMES.get(str(t), str(t))}


def features_yaml(schema: pa.Schema) -> list[dict[str, Any]] | None:
    """The schema as the card's ``features`` list, or None for a type with no feature.

    Written here rather than by ``datasets.Features``: importing datasets takes about a
    second, a quarter of a 200k-pair run (tests check both agree).
    """
    try:
        return [{"name": f.name, **_feature(f.type)} for f in schema]
    except _Unmapped:
        return None


def render_card(
    report: dict[str, Any], kept_schema: pa.Schema, kept_bytes: int, layout: Layout = FILE
) -> str:
    kept = int(report.get("kept_rows", 0))
    # data_files as the Hub and load_dataset read them: a file, or a folder's parts
    kept_files, dropped_files = (
        (f"{layout.kept}/*.parquet", f"{layout.dropped}/*.parquet")
        if layout.parts
        else (layout.kept, layout.dropped)
    )
    info: dict[str, Any] = {
        "config_name": "default",
        "splits": [{"name": "train", "num_examples": kept, "num_bytes": kept_bytes}],
    }
    features = features_yaml(kept_schema)
    if features is not None:
        info = {"config_name": "default", "features": features, "splits": info["splits"]}
    header = {
        "pretty_name": "Curated preference pairs",
        "tags": ["dpo", "preference", "prefdata"],
        "task_categories": ["text-generation"],
        "size_categories": [size_category(kept)],
        "configs": [
            {"config_name": "default", "data_files": [{"split": "train", "path": kept_files}]},
            {
                "config_name": "dropped",
                "data_files": [{"split": "train", "path": dropped_files}],
            },
        ],
        "dataset_info": [info],
    }
    reasons = report.get("reasons", {})
    rows = "\n".join(f"| `{code}` | {count:,} |" for code, count in reasons.items())
    inputs = "\n".join(
        f"- `{i.get('path')}` ({i.get('rows', 0):,} rows, {i.get('layout')}, "
        f"sha256 `{str(i.get('sha256', ''))[:16]}…`)"
        for i in report.get("inputs", [])
    )
    bias = report.get("stats", {}).get("length_bias", {})
    share = bias.get("kept_chosen_longer_share")
    body = f"""# Curated preference pairs

Made by prefdata {report.get("prefdata_version", "")} on {report.get("created_at", "")}.
`{layout.kept}` holds the pairs that passed every check ({kept:,} of {report.get("input_rows", 0):,});
`{layout.dropped}` the others, each with all its reasons and its source row.

```python
from datasets import load_dataset
pairs = load_dataset("parquet", data_files="{kept_files}", split="train")
```

## Inputs

{inputs}

## Checks applied and their counts

| reason | pairs dropped |
|---|---|
{rows}

Settings: `{ {k: v for k, v in report.get("config", {}).items() if v not in (None, [], False)} }`.
The full figures are in `report.json`; `report.html` shows them as charts.

## Length bias

Chosen longer than rejected in {"n/a" if share is None else f"{share:.1%}"} of the kept pairs
(all pairs read: {bias.get("chosen_longer_share") or 0:.1%}).
"""
    return "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n\n" + body
