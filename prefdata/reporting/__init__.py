"""Human-facing outputs beside report.json: report.html and the dataset card (README.md).

``write_extras(folder)`` builds both from a folder's report.json and Parquet files, so
``prefdata report DIR`` can rebuild them at any time from a finished output folder.
"""

from __future__ import annotations

from prefdata.reporting.build import CARD, HTML, build_report, write_extras

__all__ = ["CARD", "HTML", "build_report", "write_extras"]
