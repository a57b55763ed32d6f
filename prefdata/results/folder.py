"""Which files a result folder holds, in either layout, and whether it is complete.

``prefdata filter --out OUT`` writes one of two layouts:

* ``file`` (the local engine): ``kept.parquet`` and ``dropped.parquet``;
* ``parts`` (the Ray engine): ``kept/`` and ``dropped/`` folders of
  ``part-NNNNNN.parquet`` files, one per work unit, in input order.

Both have ``report.json`` (the completion marker and the counts), ``report.html`` and
the dataset card ``README.md``. Every consumer (report, train, app, iterate, audit)
finds its files through ``open_result`` instead of spelling the names itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from prefdata.errors import InputError
from prefdata.results.report import Report

REPORT, HTML, CARD = "report.json", "report.html", "README.md"
PART_GLOB = "part-*.parquet"
# what `filter --preflight-tokenizer` adds: the per-pair plan and the ledger
PREFLIGHT_PAIRS, PREFLIGHT_LEDGER = "preflight.parquet", "preflight.json"


@dataclass(frozen=True)
class Layout:
    """Where a result's kept and dropped rows live, relative to its folder."""

    name: str
    kept: str
    dropped: str
    parts: bool  # kept and dropped are folders of Parquet parts


FILE = Layout("file", "kept.parquet", "dropped.parquet", parts=False)
PARTS = Layout("parts", "kept", "dropped", parts=True)
LAYOUTS = (FILE, PARTS)

# Every name a result may hold; anything else in an output folder is the user's.
# A stale preflight.* from an earlier run must not be carried into a new result as the
# user's own file, so those names are the result's too.
RESULT_NAMES = frozenset(
    {
        REPORT,
        HTML,
        CARD,
        PREFLIGHT_PAIRS,
        PREFLIGHT_LEDGER,
        *(n for x in LAYOUTS for n in (x.kept, x.dropped)),
    }
)


def layout_of(engine: str) -> Layout:
    """The layout an engine writes."""
    return PARTS if engine == "ray" else FILE


@dataclass(frozen=True)
class Result:
    """A result folder and its layout; ``open_result`` finds both."""

    folder: Path
    layout: Layout

    @property
    def kept(self) -> Path:
        """The kept rows: a Parquet file, or a folder of parts (``pq.read_table`` reads both)."""
        return self.folder / self.layout.kept

    @property
    def dropped(self) -> Path:
        return self.folder / self.layout.dropped

    def files(self, which: str) -> list[Path]:
        """The Parquet files of ``which`` ('kept' or 'dropped'), in row order."""
        path = self.kept if which == "kept" else self.dropped
        if not self.layout.parts:
            return [path] if path.is_file() else []
        return sorted(path.glob(PART_GLOB))

    def rows(self, which: str) -> int:
        """Rows in ``which``, from the Parquet footers alone."""
        return sum(pq.read_metadata(f).num_rows for f in self.files(which))

    def size(self, which: str) -> int:
        return sum(f.stat().st_size for f in self.files(which))

    def report_dict(self) -> dict[str, Any]:
        path = self.folder / REPORT
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read {path}: {exc}; run `prefdata filter` again") from exc
        if not isinstance(data, dict):
            raise InputError(f"{path} is not a prefdata report; run `prefdata filter` again")
        return data

    def report(self) -> Report:
        """The typed ``report.json``."""
        return Report.from_dict(self.report_dict())

    def check_complete(self, which: Sequence[str] = ("kept", "dropped")) -> Report:
        """The report, once its counts of ``which`` are checked against the rows in the
        files (a consumer that reads only kept rows checks only those)."""
        report = self.report()
        for part in which:
            counted = report.kept_rows if part == "kept" else report.dropped_rows
            found = self.rows(part)
            if found != counted:
                raise InputError(
                    f"{self.folder} is not a complete result: report.json counts {counted} "
                    f"{part} rows, the files hold {found}; run `prefdata filter --out "
                    f"{self.folder}` again"
                )
        return report


def open_result(folder: str | Path, *, check: Sequence[str] = ("kept", "dropped")) -> Result:
    """The result in ``folder``, or InputError saying why it is not one.

    The layout follows the report's ``engine``, so files of another run that an older
    prefdata left beside a result are never read as part of it. The report's counts of
    ``check`` (default: kept and dropped) must equal the rows in the files (read from
    the Parquet footers): a folder mixing two runs is refused, not read.
    """
    folder = Path(folder)
    if not folder.is_dir():
        what = "a file, not a folder" if folder.exists() else "not found"
        raise InputError(
            f"{folder} is {what}: pass a `prefdata filter --out` folder (one with {REPORT})"
        )
    if not (folder / REPORT).is_file():
        raise InputError(
            f"no {REPORT} in {folder}: not a finished `prefdata filter` output folder "
            f"(run `prefdata filter ... --out {folder}`)"
        )
    engine = Result(folder, FILE).report_dict().get("engine", "local")
    result = Result(folder, layout_of(str(engine)))
    if not result.kept.exists():
        raise InputError(
            f"{folder} has {REPORT} but no {result.layout.kept}: run `prefdata filter` again"
        )
    if check:
        result.check_complete(check)
    return result


def is_result(folder: str | Path) -> bool:
    """Whether ``folder`` claims to be a result (it has a report.json); ``open_result``
    then says whether it is a complete one."""
    return (Path(folder) / REPORT).is_file()
