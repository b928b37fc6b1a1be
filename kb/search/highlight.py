"""Highlighted snippets for the page of results shown.

The HTML comes only from Whoosh's ``HtmlFormatter``, which escapes the text
around and inside each match for element content (not for attributes:
docs/search.md), so the result is returned as ``Markup`` for
templates to place between tags, never inside an attribute.

Matches are found with the index's own analyzer (so a search for
"teaching" marks "teachers" only if they share a stem) and cut into
passages by Whoosh's pinpoint fragmenter, which works from the matches'
character offsets.
"""

from __future__ import annotations

import re
from itertools import islice

from markupsafe import Markup
from whoosh.analysis import Token
from whoosh.highlight import Fragment, HtmlFormatter, PinpointFragmenter

SNIPPET_CHARS = 220
SNIPPET_CONTEXT = 60
SNIPPET_FRAGMENTS = 2
# Text beyond this many characters is not searched for a snippet.
SNIPPET_CHAR_LIMIT = 20_000
# Characters searched for matches at first; the window grows fourfold until
# it settles the snippet (see _passages).
SNIPPET_WINDOW = 1_000

_SPACE = re.compile(r"\s")


def _formatter() -> HtmlFormatter:
    # A new formatter per call: it remembers which term got which class.
    return HtmlFormatter(tagname="mark", classname="match", termclass="term", between=" … ")


def matches(text: str, words: frozenset[str], analyzer) -> list[Token]:
    """Tokens for the places ``text`` holds one of ``words`` (index terms), in order.

    Overlapping matches (CJK bigrams such as 職業 and 業教 in 職業教育)
    become one token, so the whole word is marked and not every other
    bigram of it.
    """
    found: list[Token] = []
    for term, start, end in analyzer.term_spans(text[:SNIPPET_CHAR_LIMIT], words):
        if found and start < found[-1].endchar:
            found[-1].endchar = max(found[-1].endchar, end)
            continue
        found.append(Token(text=term, startchar=start, endchar=end, matched=True))
    return found


def _trim_to_words(fragment: Fragment) -> None:
    """Start and end a passage at white space, unless it starts or ends the text.

    (Whoosh's ``autotrim`` also trims a passage that starts the text,
    cutting its first word.)
    """
    text, start, end = fragment.text, fragment.startchar, fragment.endchar
    first_match, last_match = fragment.matches[0].startchar, fragment.matches[-1].endchar
    if start > 0 and not text[start - 1].isspace():
        space = text.find(" ", start, first_match)
        if space >= 0:
            start = space + 1
    if end < len(text) and not text[end].isspace():
        space = text.rfind(" ", last_match, end)
        if space >= 0:
            end = space
    fragment.startchar, fragment.endchar = start, end


def _passages(text: str, words: frozenset[str], analyzer) -> list[Fragment]:
    """The first SNIPPET_FRAGMENTS passages of ``text`` around the ``words``.

    The passages are usually near the start of a long text, so matches are
    looked for in a window of it, cut at white space so no word is cut. The
    fragmenter ends a passage only at a match it cannot take, and that
    match starts the next passage: a window yielding one passage more than
    needed has settled the ones before, exactly as the whole text would.
    """
    fragmenter = PinpointFragmenter(maxchars=SNIPPET_CHARS, surround=SNIPPET_CONTEXT,
                                    charlimit=SNIPPET_CHAR_LIMIT)
    limit = min(len(text), SNIPPET_CHAR_LIMIT)
    window = SNIPPET_WINDOW
    while True:
        space = _SPACE.search(text, window) if window < limit else None
        end = space.start() if space is not None and space.start() < limit else limit
        tokens = matches(text[:end], words, analyzer)
        fragments = list(islice(fragmenter.fragment_matches(text, tokens),
                                SNIPPET_FRAGMENTS + 1))
        if end >= limit or len(fragments) > SNIPPET_FRAGMENTS:
            return fragments[:SNIPPET_FRAGMENTS]
        window *= 4


def snippet(text: str, words: frozenset[str], analyzer) -> Markup | None:
    """The first two passages of ``text`` around the ``words`` it contains, or None."""
    if not text or not words:
        return None
    fragments = _passages(text, words, analyzer)
    if not fragments:
        return None
    for fragment in fragments:
        _trim_to_words(fragment)
    # HtmlFormatter escapes all the text it outputs (see the module docstring).
    return Markup(_formatter().format(fragments))


def whole(text: str, words: frozenset[str], analyzer) -> Markup | None:
    """All of a short ``text`` (a title) with the ``words`` marked; None if none occur."""
    if not text or not words:
        return None
    tokens = matches(text, words, analyzer)
    if not tokens:
        return None
    return Markup(_formatter().format([Fragment(text, tokens, 0, len(text))]))
