"""Model outputs are untrusted: render them as Markdown with raw HTML disabled, then sanitize the
result with an allow-list (nh3), so no script, event handler or javascript: link survives."""

from __future__ import annotations

import functools

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline, newline

SAFE_SCHEMES = ("http:", "https:", "mailto:")
TAGS = {
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "strong",
    "em",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "s",
    "del",
}
ATTRIBUTES = {"a": {"href", "title"}, "code": {"class"}, "ol": {"start"}}


def _link_ok(url: str) -> bool:
    """Only absolute http(s)/mailto links, or in-page anchors; everything else is dropped."""
    lowered = url.strip().lower()
    return lowered.startswith(SAFE_SCHEMES) or lowered.startswith("#")


# breaks=True: model outputs are written as plain text as often as Markdown, and a single newline
# there is meant (a poem, an address, a list without markers); CommonMark would join the lines.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True}).enable("table")
_md.validateLink = _link_ok  # type: ignore[method-assign] # markdown-it's hook: an invalid link renders as plain text


def _newline_keeping_indent(state: StateInline, silent: bool) -> bool:
    """markdown-it's line break, but the spaces that start the next line are kept (as no-break
    spaces, which HTML does not collapse): an indented line of a poem or of an outline is meant
    so, and CommonMark would drop the indent. Code blocks keep theirs already (in <pre>)."""
    start = state.pos
    if not newline(state, silent):
        return False
    indent = state.src[start + 1 : state.pos]
    if indent and not silent:
        state.pending += indent.replace("\t", "    ").replace(" ", "\u00a0")
    return True


_md.inline.ruler.at("newline", _newline_keeping_indent)


# Rendered HTML is a pure function of the text, so a cache keyed by the text itself can never hand
# one item's HTML to another, and it only ever holds sanitized output. It saves the re-renders of
# one item (reload, a refused submit shown again, a second reviewer in the same worker); bounded
# in entries, and very long texts skip it.
CACHE_ENTRIES, CACHE_MAX_CHARS = 1024, 20_000


def _render(text: str) -> str:
    html = _md.render(text)
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


_render_cached = functools.lru_cache(maxsize=CACHE_ENTRIES)(_render)


def markdown_safe(text: str) -> str:
    """Sanitized HTML for a model output (safe to mark_safe)."""
    text = text if isinstance(text, str) else ("" if text is None else str(text))
    return _render_cached(text) if len(text) <= CACHE_MAX_CHARS else _render(text)
