"""The one place rich text becomes HTML, and user text becomes safe to store.

Every path that stores or shows user text goes through here: forms, the API
and bulk import call :func:`clean_text` on what they store, templates show
Markdown through :func:`render_markdown` (registered as the ``markdown``
filter), and the search index reads :func:`markdown_to_text`.

Markdown is rendered by markdown-it-py with raw HTML switched off, then the
HTML is cleaned by nh3 (Rust's ammonia) against the explicit allow-lists
below. Two independent layers: a bug in one is caught by the other.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

ALLOWED_TAGS = frozenset({
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "code",
    "em", "strong", "del", "s", "sup", "sub", "a", "img",
    "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td",
})
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})

# Control characters other than tab and newline corrupt text and can hide
# content from reviewers; they are never meaningful in case-study text.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def _build_markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    # Headings in a case study sit below the page's own h1.
    md.core.ruler.push("demote_headings", _demote_headings)
    return md


def _demote_headings(state) -> None:
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close") and token.tag == "h1":
            token.tag = "h2"


_MARKDOWN = _build_markdown()


def _only_local_images(tag: str, attribute: str, value: str) -> str | None:
    # Images from other hosts would leak readers' visits and break the
    # Content-Security-Policy's img-src 'self'.
    if tag == "img" and attribute == "src":
        if not value.startswith("/") or value.startswith("//") or "\\" in value:
            return None
    return value


def clean_html(html: str) -> str:
    """Return ``html`` with everything outside the allow-lists removed."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(ALLOWED_URL_SCHEMES),
        link_rel="noopener noreferrer nofollow ugc",
        strip_comments=True,
        attribute_filter=_only_local_images,
    )


@lru_cache(maxsize=2048)
def _render_cached(source: str) -> str:
    return clean_html(_MARKDOWN.render(source))


def render_markdown(source: str | None) -> Markup:
    """Render Markdown ``source`` to sanitized HTML, safe to put in a page."""
    if not source:
        return Markup("")
    return Markup(_render_cached(source))


def markdown_to_text(source: str | None) -> str:
    """The words of Markdown ``source`` without markup, for indexing and snippets."""
    if not source:
        return ""
    parts: list[str] = []
    for token in _MARKDOWN.parse(source):
        if token.type == "inline" and token.children:
            for child in token.children:
                if child.type in ("text", "code_inline"):
                    parts.append(child.content)
                elif child.type in ("softbreak", "hardbreak"):
                    parts.append(" ")
                elif child.type == "image":
                    parts.append(child.content)
            parts.append("\n")
        elif token.type in ("code_block", "fence"):
            parts.append(token.content)
            parts.append("\n")
    return re.sub(r"[ \t]+", " ", "".join(parts)).strip()


def clean_text(value: str | None, *, multiline: bool = True) -> str:
    """Normalise user text before it is stored.

    Unicode is NFC-normalised (so one word has one form in the index),
    control and bidirectional-override characters are removed, line endings
    become ``\\n`` and surrounding white space is trimmed. Single-line
    fields also fold their inner line breaks into spaces.
    """
    if not value:
        return ""
    text = _CONTROL_CHARS.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    # Normalised after the removal, which can bring a letter and its accent
    # together: cleaning twice must give the same text.
    text = unicodedata.normalize("NFC", text)
    if not multiline:
        text = re.sub(r"\s+", " ", text)
    return text.strip()


def is_safe_url(url: str) -> bool:
    """True for absolute http(s) URLs, the only links a source may have."""
    return bool(re.match(r"^https?://[^\s/$.?#][^\s]*$", url, re.IGNORECASE))
