"""Dataset text made safe and readable for the annotation page.

Everything here is untrusted: a response may hold a Markdown image pointing at any
host (the browser would fetch it the moment it renders), a pair id may hold a
backtick. ``inert_markdown`` turns images into plain links (shown by their alt text,
fetched by nobody unless clicked); ``escape_markdown`` makes any string literal text.
Raw HTML is never rendered: Streamlit's Markdown is used without ``unsafe_allow_html``.

Conversations are shown as turns: a prompt given as messages, or an HH-style text
prompt ("\\n\\nHuman: ... \\n\\nAssistant: ..."), is split into (role, text) turns, and
only the last turns are shown open so both responses fit on the first screen.
"""

from __future__ import annotations

import re
from typing import Any

# Every character with a meaning in CommonMark or Streamlit's Markdown extensions
# (":" starts emoji and :material/...: icons, "$" starts LaTeX, "~" strikes through).
_MARKDOWN_SPECIALS = set("\\`*_{}[]()#+-.!<>|~:$&")
# "![" not already escaped: preceded by an even number of backslashes (each pair is
# one literal backslash, which leaves the "!" active).
_IMAGE_START = re.compile(r"(?<!\\)((?:\\\\)*)!\[")
_HH_TURN = re.compile(r"\n\n(Human|Assistant):")
# Show at most this many turns, and this many characters of them, before the
# "earlier turns" control: measured to keep both responses on a 1440x900 first screen.
LAST_TURNS = 2
LAST_TURNS_CHARS = 600


def escape_markdown(text: str) -> str:
    """``text`` as literal Markdown: every special character backslash-escaped.

    >>> escape_markdown("p`1 **x**")
    'p\\\\`1 \\\\*\\\\*x\\\\*\\\\*'
    """
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIALS else ch for ch in str(text))


def inert_markdown(text: str) -> str:
    """Markdown whose images are links: ``![alt](url)`` renders as the link ``alt``.

    An escaped ``!`` before ``[`` leaves an ordinary (inline or reference) link,
    which the browser does not fetch. Image syntax inside code is shown literally
    either way, so escaping it there only adds a visible backslash.

    >>> inert_markdown("see ![cat](http://x/cat.png)")
    'see \\\\![cat](http://x/cat.png)'
    """
    return _IMAGE_START.sub(r"\1\\![", text)


def prompt_turns(prompt: Any) -> list[tuple[str, str]]:
    """The prompt as (role, text) turns; a plain prompt is one user turn."""
    if prompt is None:
        return []
    if isinstance(prompt, list):
        turns = []
        for message in prompt:
            if isinstance(message, dict):
                turns.append((str(message.get("role") or "?"), str(message.get("content") or "")))
            else:
                turns.append(("?", str(message)))
        return turns
    text = str(prompt)
    parts = _HH_TURN.split(text)
    if len(parts) == 1:
        return [("user", text)]
    turns = [("user", parts[0].strip())] if parts[0].strip() else []
    for speaker, body in zip(parts[1::2], parts[2::2], strict=True):
        role = "user" if speaker == "Human" else "assistant"
        if body.strip() or role == "user":
            turns.append((role, body.strip()))
    return turns


def split_recent(
    turns: list[tuple[str, str]], *, last: int = LAST_TURNS, chars: int = LAST_TURNS_CHARS
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(earlier, recent): the recent turns are the last ``last``, fewer if they would
    exceed ``chars`` characters (always at least the final turn).

    >>> earlier, recent = split_recent([("user", "a"), ("assistant", "b"), ("user", "c")])
    >>> [r for r, _ in earlier], [r for r, _ in recent]
    (['user'], ['assistant', 'user'])
    """
    keep, size = 0, 0
    for _role, text in reversed(turns):
        if keep >= last or (keep and size + len(text) > chars):
            break
        keep += 1
        size += len(text)
    cut = len(turns) - keep
    return turns[:cut], turns[cut:]
