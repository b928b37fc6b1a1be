"""'Did you mean': nearby words from the index's own vocabulary.

The index holds stems (``guidanc``), not words, so a misspelt word is
stemmed, the nearest stem within one or two edits is looked up in the text
fields, and the word shown is recovered from the stored text of a case
study containing that stem (the first word there that stems to it). No
extra field is indexed for this. Only the documents the reader may see
count: a word that only a draft holds is never offered to anyone who may
not read the draft.
"""

from __future__ import annotations

import re

from kb.search.analysis import ENGLISH_STOP_WORDS, contains_cjk

# The fields suggestions come from (all are stored, so a word can be shown).
SUGGEST_FIELDS = ("title", "summary", "body")
# Words a suggestion may replace: not a field name, a field value or an excluded word.
_SUGGESTABLE = re.compile(r"(?<![\w:\-])([^\W\d_]{3,})(?![\w:])")
_OPERATORS = frozenset({"AND", "OR", "NOT"})


def suggestion(searcher, engine, text: str, visible: int) -> str | None:
    """``text`` with its unknown words replaced by the nearest words of the ``visible`` documents.

    None when nothing was replaced.
    """
    reader = searcher.reader()
    analyzer = searcher.schema["body"].analyzer
    changed = False

    def replace(match: re.Match) -> str:
        nonlocal changed
        word = match.group(1)
        if word.lower() in ENGLISH_STOP_WORDS or word in _OPERATORS or contains_cjk(word):
            return word
        stems = [t.text for t in analyzer(word, mode="query")]
        if len(stems) != 1 or _known(reader, stems[0]):
            return word
        better = _nearest(searcher, engine, analyzer, stems[0], visible)
        if better is None:
            return word
        changed = True
        return better

    suggested = _SUGGESTABLE.sub(replace, text)
    return suggested if changed else None


def _known(reader, stem: str) -> bool:
    return any((fieldname, stem) in reader for fieldname in SUGGEST_FIELDS)


def _nearest(searcher, engine, analyzer, stem: str, visible: int) -> str | None:
    """The word of the most frequent stem nearest to ``stem`` among the ``visible`` documents."""
    reader = searcher.reader()
    for distance in (1, 2):
        if distance == 2 and len(stem) < 5:
            return None
        candidates: dict[str, tuple[int, str]] = {}
        for fieldname in SUGGEST_FIELDS:
            for found in reader.terms_within(fieldname, stem, distance, prefix=1):
                if found.isalpha() and found.isascii():
                    frequency = (engine.term_mask(fieldname, found) & visible).bit_count()
                    if frequency > candidates.get(found, (0, ""))[0]:
                        candidates[found] = (frequency, fieldname)
        for found, (_, fieldname) in sorted(candidates.items(), key=lambda c: (-c[1][0], c[0])):
            word = _surface_form(searcher, engine, analyzer, fieldname, found, visible)
            if word is not None:
                return word
    return None


def _surface_form(searcher, engine, analyzer, fieldname: str, stem: str,
                  visible: int) -> str | None:
    """How ``stem`` is written in the first visible document that has it in ``fieldname``."""
    mask = engine.term_mask(fieldname, stem) & visible
    if not mask:
        return None
    docnum = (mask & -mask).bit_length() - 1
    text = searcher.stored_fields(docnum).get(fieldname, "")
    for token in analyzer(text, chars=True, mode="index"):
        if token.text == stem:
            return text[token.startchar:token.endchar].lower()
    return None
