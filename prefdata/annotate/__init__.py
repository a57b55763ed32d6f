"""Human annotation of preference pairs: the label store, queue, agreement and export.

Everything here is plain Python over SQLite and Arrow; the Streamlit pages in
``app/`` (installed as ``prefdata_app``) are thin views over it.
"""

from __future__ import annotations

from prefdata.annotate.agreement import AgreementReport, agreement_report
from prefdata.annotate.browse import BrowseFilter, browse_pairs
from prefdata.annotate.export import ExportSummary, export_labels
from prefdata.annotate.label_store import Label, LabelStore, Pair
from prefdata.annotate.pair_import import ImportResult, import_parquet, import_table
from prefdata.annotate.queue import Progress, next_pair, progress
from prefdata.annotate.side_order import left_response, screen_to_choice

__all__ = [
    "AgreementReport",
    "BrowseFilter",
    "ExportSummary",
    "ImportResult",
    "Label",
    "LabelStore",
    "Pair",
    "Progress",
    "agreement_report",
    "browse_pairs",
    "export_labels",
    "import_parquet",
    "import_table",
    "left_response",
    "next_pair",
    "progress",
    "screen_to_choice",
]
