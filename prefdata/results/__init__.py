"""The output folder of a run: its layout, its report, and how it is published.

``open_result(folder)`` is how every consumer finds a result's files;
``OutputFolder`` is how a run writes one (locked, staged, swapped in at once).
"""

from __future__ import annotations

from prefdata.results.folder import (
    CARD,
    FILE,
    HTML,
    LAYOUTS,
    PART_GLOB,
    PARTS,
    REPORT,
    RESULT_NAMES,
    Layout,
    Result,
    is_result,
    layout_of,
    open_result,
)
from prefdata.results.publish import FolderLock, OutputFolder
from prefdata.results.report import Report
from prefdata.writer import file_modes

__all__ = [
    "CARD",
    "FILE",
    "HTML",
    "LAYOUTS",
    "PARTS",
    "PART_GLOB",
    "REPORT",
    "RESULT_NAMES",
    "FolderLock",
    "Layout",
    "OutputFolder",
    "Report",
    "Result",
    "file_modes",
    "is_result",
    "layout_of",
    "open_result",
]
