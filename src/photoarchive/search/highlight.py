"""Mark a query's words in captions, the same whichever engine found them."""

from __future__ import annotations

from photoarchive.search.analysis import marked_spans


def escape(text: str, quote: bool = False) -> str:
    """Escape &, < and > (html.escape without quotes, which would import html.entities
    into every command that searches)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def highlight(terms: frozenset[str], captions: dict[str, str]) -> dict[str, str]:
    """Return each caption HTML-escaped with the words whose index terms are in `terms`
    (IndexResults.terms) in <mark class="hit">."""
    out: dict[str, str] = {}
    for key, text in captions.items():
        parts: list[str] = []
        done = 0
        for start, end in marked_spans(text, terms):
            parts.append(escape(text[done:start], quote=False))
            parts.append(f'<mark class="hit">{escape(text[start:end], quote=False)}</mark>')
            done = end
        parts.append(escape(text[done:], quote=False))
        out[key] = "".join(parts)
    return out
