"""What a run counted, kept by the driver and fed by whichever executor ran the chunks.

Both executors hand in the same figures per chunk (local) or per work unit (Ray), with
a number that gives input order; the report is assembled from them here, once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefdata.errors import InputError
from prefdata.readers import InputInfo
from prefdata.results import Report
from prefdata.stats import Stats

# progress(bytes_done, bytes_total, rows_done): how far a run is, as an executor reports it
Progress = Callable[[int, int, int], None]


@dataclass
class Ran:
    """What an executor tells the driver besides the counts."""

    inputs: list[InputInfo]  # in input order, each with its rows counted
    workers: int


@dataclass
class Tally:
    """Counters of one run; ``report`` is filled in as they come."""

    report: Report
    reasons: Counter[str] = field(default_factory=Counter)
    stats: Stats = field(default_factory=Stats)
    dataset: dict[str, Any] | None = None  # report.stats["dataset"], when decided
    _warnings: dict[int, list[str]] = field(default_factory=dict)

    def add(
        self,
        order: int,
        *,
        rows: int,
        kept: int,
        dropped: int,
        reasons: Mapping[str, int],
        stats: Stats,
        warnings: Iterable[str],
    ) -> None:
        """One chunk's (or unit's) figures; ``order`` sorts warnings into input order."""
        self.report.input_rows += rows
        self.report.kept_rows += kept
        self.report.dropped_rows += dropped
        self.reasons.update(reasons)
        self.stats.merge(stats)
        self._warnings.setdefault(order, []).extend(warnings)

    def move_to_dropped(self, rows: int) -> None:
        """Rows a dataset-level reason drops after they were counted as kept."""
        self.report.kept_rows -= rows
        self.report.dropped_rows += rows

    def require_rows(self, paths: Sequence[Path]) -> None:
        if self.report.input_rows == 0:
            raise InputError(f"no records in {', '.join(map(str, paths))}")

    def close(self) -> Report:
        """Check the accounting and write the counters into the report."""
        report = self.report
        if report.input_rows != report.kept_rows + report.dropped_rows:  # pragma: no cover
            raise AssertionError(
                f"row accounting broke: {report.input_rows} != "
                f"{report.kept_rows} + {report.dropped_rows}"
            )
        report.reasons = dict(self.reasons.most_common())
        report.stats = self.stats.to_dict()
        if self.dataset is not None:
            report.stats["dataset"] = self.dataset
        # in input order, once each
        report.warnings = list(
            dict.fromkeys(w for i in sorted(self._warnings) for w in self._warnings[i])
        )
        return report
