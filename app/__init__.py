"""The prefdata annotation app (Streamlit); installed as ``prefdata_app``.

Start it with ``prefdata app --data OUT/kept.parquet``; the pages are thin views over
``prefdata.annotate``.
"""
