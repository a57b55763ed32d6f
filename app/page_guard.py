"""Page-wide protections that Streamlit has no setting for.

Streamlit cannot send a Content-Security-Policy header, but browsers enforce a policy
given in a ``<meta http-equiv>`` element from the moment it is inserted. This one
lets the page load images, fonts and media only from the app itself (or inline
``data:``/``blob:`` URLs Streamlit uses), so dataset text that slips past escaping
still cannot make an annotator's browser fetch another host.
"""

from __future__ import annotations

import hashlib

import streamlit as st

POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; font-src 'self' data:;"
    " media-src 'self' data: blob:; connect-src 'self'; frame-src 'self';"
    " script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'"
)

# Our own fixed script (no dataset text in it): add the policy once per page load.
_INSTALL = f"""<script>
(() => {{
  const doc = window.parent ? window.parent.document : document;
  if (doc.querySelector('meta[http-equiv="Content-Security-Policy"]')) return;
  const meta = doc.createElement('meta');
  meta.httpEquiv = 'Content-Security-Policy';
  meta.content = {POLICY!r};
  doc.head.prepend(meta);
}})();
</script>"""


def content_security_policy() -> None:
    st.html(_INSTALL, unsafe_allow_javascript=True)


def scroll_to_top(pair_id: str) -> None:
    """Scroll the page to the top; run once per new pair (the id makes it a new element)."""
    key = hashlib.sha256(pair_id.encode()).hexdigest()[:16]  # hex only: never code
    st.html(
        f"""<script>/* {key} */
(() => {{
  const doc = window.parent ? window.parent.document : document;
  for (const sel of ['[data-testid="stMain"]', '[data-testid="stAppViewContainer"]',
                     'section.main']) {{
    const el = doc.querySelector(sel);
    if (el) el.scrollTo({{top: 0}});
  }}
  window.scrollTo({{top: 0}});
}})();
</script>""",
        unsafe_allow_javascript=True,
    )


# Streamlit's default top padding (6rem) costs a tenth of a 900 px screen; the
# annotation page needs it for the responses and buttons.
_COMPACT = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 2.5rem; padding-bottom: 2rem; }
</style>"""


def compact_layout() -> None:
    st.html(_COMPACT)
