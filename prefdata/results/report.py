"""``Report``: what a run did; ``report.json`` is this, as JSON."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import orjson

from prefdata import __version__


@dataclass
class Report:
    """What a run did; ``report.json`` is this, as JSON."""

    input_rows: int = 0
    kept_rows: int = 0
    dropped_rows: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    read_options: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    prefdata_version: str = __version__
    created_at: str = ""
    engine: str = "local"
    # the pre-flight ledger when `filter --preflight-tokenizer` ran one (else empty)
    preflight: dict[str, Any] = field(default_factory=dict)

    @property
    def drop_rate(self) -> float:
        return self.dropped_rows / self.input_rows if self.input_rows else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["drop_rate"] = self.drop_rate
        return data

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """A report read back from JSON; keys this version does not know are left out
        (``drop_rate`` is derived), so older and newer report.json files both load."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
