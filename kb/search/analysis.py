"""Text analysis for the search index: English with stemming, CJK as character bigrams.

Whoosh pickles the schema, analyzers included, into the index
(docs/dependencies.md): the classes here must keep this import path
and their attribute names, or existing indexes stop opening. Change what
they do only together with ``kb.search.schema.SCHEMA_VERSION``, which makes
every process rebuild its index.

How text becomes terms:

- Words are runs of ``\\w`` joined by single dots (``3.5``, ``e.g``), the
  expression docs/dependencies.md explains, so Markdown punctuation never
  sticks to a word.
- Inside a word, runs of Chinese, Japanese or Korean characters are cut out
  and indexed as overlapping character bigrams (Lucene's CJKAnalyzer does
  the same): ``職業教育`` gives ``職業 業教 教育``, so a query for a
  two-character word inside a longer run finds it. The rest of the word is
  ordinary text, so mixed text such as ``Seoul의`` is handled run by run.
- When indexing, every CJK character is also indexed on its own, sharing
  the position of the bigram it starts; a query that is one character long
  searches for that character. Queries of two or more characters search
  bigrams only, so the unigrams never blur them.
- Other words are folded (accents removed, full-width forms made plain),
  lower-cased, stripped of English stop words and stemmed (Porter2).

All of it happens in one tokenizer rather than a chain of Whoosh filters:
the analysis runs for every word indexed and every snippet highlighted,
and each filter in a chain costs a Python generator step per word.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from whoosh.analysis import Token, Tokenizer
from whoosh.analysis.filters import STOP_WORDS
from whoosh.lang import stemmer_for_language, stopwords_for_language

# Words: runs of word characters, optionally joined by single dots.
WORD_EXPRESSION = r"\w+(?:\.?\w+)*"

# Han (with extensions and compatibility forms), Hiragana, Katakana (with the
# half-width forms and the iteration and prolonged-sound marks) and Hangul
# (syllables and jamo). Bopomofo and CJK punctuation are left out: they are
# not \w or carry no meaning on their own.
CJK_CHARACTERS = (
    "\u1100-\u11ff"  # Hangul jamo
    "\u3005-\u3007"  # 々 〆 〇
    "\u3040-\u309f"  # Hiragana
    "\u30a0-\u30ff"  # Katakana
    "\u3130-\u318f"  # Hangul compatibility jamo
    "\u31f0-\u31ff"  # Katakana phonetic extensions
    "\u3400-\u4dbf"  # Han extension A
    "\u4e00-\u9fff"  # Han
    "\ua960-\ua97f"  # Hangul jamo extended A
    "\uac00-\ud7af"  # Hangul syllables
    "\ud7b0-\ud7ff"  # Hangul jamo extended B
    "\uf900-\ufaff"  # Han compatibility
    "\uff66-\uff9f"  # half-width Katakana
    "\U00020000-\U0003134f"  # Han extensions B-G
)
_CJK_RUN = re.compile(f"[{CJK_CHARACTERS}]+")

# The classic Whoosh list plus NLTK's English list (as shipped with Whoosh):
# natural-language queries ("what are the ...") are full of these words, and
# a disjunctive query must not reward documents for matching them.
ENGLISH_STOP_WORDS = frozenset(STOP_WORDS | stopwords_for_language("en"))


def contains_cjk(text: str) -> bool:
    """True when ``text`` has at least one Chinese, Japanese or Korean character."""
    return not text.isascii() and _CJK_RUN.search(text) is not None


def fold_latin(text: str) -> str:
    """Remove accents and compatibility forms: ``Éducation`` -> ``Education``, ``１２`` -> ``12``."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=None)
def _stemmer(name: str):
    return lru_cache(maxsize=200_000)(stemmer_for_language(name))


class TextTokenizer(Tokenizer):
    """Words of any script, folded, lower-cased, without stop words, optionally stemmed.

    CJK runs become bigrams (and, when indexing, unigrams too). Positions:
    a run of n CJK characters takes n - 1 positions (one per bigram), so a
    phrase of bigrams is a run of consecutive positions; stop words leave
    no gap, so ``"school of work"`` finds "school work" as a phrase in both
    the query and the text. Character offsets always point into the
    original text, so highlights land on the characters the reader sees.
    """

    def __init__(self, expression: str = WORD_EXPRESSION, stoplist=ENGLISH_STOP_WORDS,
                 stemmer: str | None = "en"):
        self.expression = re.compile(expression)
        self.stoplist = frozenset(stoplist)
        self.stemmer = stemmer

    def __eq__(self, other) -> bool:
        return (
            self.__class__ is other.__class__
            and self.expression.pattern == other.expression.pattern
            and self.stoplist == other.stoplist
            and self.stemmer == other.stemmer
        )

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True, mode="",
                 **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            token.original = token.text = value
            token.boost = 1.0
            token.pos = start_pos
            token.startchar, token.endchar = start_char, start_char + len(value)
            yield token
            return
        token.boost = 1.0
        pos = start_pos
        if value.isascii():
            # Most text: no CJK and nothing to fold, so skip the per-word checks.
            for text, first, last, stopped in self._ascii_terms(value, removestops):
                token.text = text
                token.stopped = stopped
                token.pos = pos
                token.startchar = start_char + first
                token.endchar = start_char + last
                if keeporiginal:
                    token.original = text
                if not stopped:
                    pos += 1
                yield token
            return
        stoplist = self.stoplist
        stem = _stemmer(self.stemmer) if self.stemmer else None
        for terms, cjk in self._groups(value, mode != "query"):
            if cjk:
                span = 1
                for text, at, first, last in terms:
                    token.text = text
                    token.stopped = False
                    token.pos = pos + at
                    token.startchar = start_char + first
                    token.endchar = start_char + last
                    if keeporiginal:
                        token.original = text
                    span = max(span, at + 1)
                    yield token
                pos += span
                continue
            text, _, first, last = terms[0]
            stopped = text in stoplist
            if stopped and removestops:
                continue
            token.text = stem(text) if stem and not stopped else text
            token.stopped = stopped
            token.pos = pos
            token.startchar = start_char + first
            token.endchar = start_char + last
            if keeporiginal:
                token.original = token.text
            if not stopped:
                pos += 1
            yield token

    def terms(self, value: str, mode: str = "index") -> list[str]:
        """The terms of ``value`` in order: the texts of ``self(value, mode=mode)``'s tokens.

        Without making a Token per word where the text is ASCII (nearly all
        text): feedback (kb.search.engine) counts a question's best
        documents' terms this way.
        """
        if not value.isascii():
            return [token.text for token in self(value, mode=mode)]
        stoplist = self.stoplist
        words = [word for word in self.expression.findall(value.lower()) if word not in stoplist]
        return list(map(_stemmer(self.stemmer), words)) if self.stemmer else words

    def positions(self, value: str) -> dict[str, list[int]]:
        """Each term indexed for ``value``, with its positions in order, in first-occurrence order.

        What Whoosh's positions format gathers from the tokens of
        ``self(value, positions=True, mode="index")``, without making a
        Token per word for ASCII text: the rebuild (kb.search.bulk) indexes
        this way.
        """
        found: dict[str, list[int]] = {}
        if value.isascii():
            # Stop words take no position, so the n-th term is at position n.
            for pos, term in enumerate(self.terms(value)):
                positions = found.get(term)
                if positions is None:
                    found[term] = [pos]
                else:
                    positions.append(pos)
            return found
        for token in self(value, positions=True, mode="index"):
            found.setdefault(token.text, []).append(token.pos)
        return found

    def term_spans(self, value: str, wanted: frozenset[str]) -> list[tuple[str, int, int]]:
        """``(term, start, end)`` wherever ``value`` holds one of the ``wanted`` index terms.

        For highlighting: the same terms the tokenizer yields when
        indexing, found without building a Token per word. Stemming keeps a
        word's first letter, so only words starting like a wanted term are
        stemmed.
        """
        if not value.isascii():
            return [(token.text, token.startchar, token.endchar)
                    for token in self(value, chars=True, mode="index")
                    if token.text in wanted]
        stoplist = self.stoplist
        stem = _stemmer(self.stemmer) if self.stemmer else None
        found = []
        initials = "".join(sorted({term[0] for term in wanted if term}))
        for match in _words_starting_with(initials).finditer(value):
            word = match.group().lower()
            if word in stoplist:
                continue
            term = stem(word) if stem else word
            if term in wanted:
                found.append((term, match.start(), match.end()))
        return found

    def _ascii_terms(self, value: str, removestops: bool):
        """``(term, start, end, stopped)`` for ASCII ``value``."""
        stoplist = self.stoplist
        stem = _stemmer(self.stemmer) if self.stemmer else None
        for match in self.expression.finditer(value):
            word = match.group(0).lower()
            if word in stoplist:
                if not removestops:
                    yield word, match.start(), match.end(), True
                continue
            yield (stem(word) if stem else word), match.start(), match.end(), False

    def _groups(self, value: str, with_unigrams: bool):
        """The terms of non-ASCII ``value``: one group per Latin word, one per CJK run.

        Each group is ``([(text, position in group, start, end), ...], is_cjk)``.
        """
        for match in self.expression.finditer(value):
            word = match.group(0)
            start = match.start()
            if not contains_cjk(word):
                yield [(fold_latin(word).lower(), 0, start, match.end())], False
                continue
            for piece_start, piece_end, cjk in _script_runs(word):
                piece = word[piece_start:piece_end]
                offset = start + piece_start
                if cjk:
                    yield [(text, at, offset + first, offset + last)
                           for text, at, first, last in _cjk_terms(piece, with_unigrams)], True
                    continue
                # What is left between CJK runs may hold several words or stray
                # dots ("abc.中文"): tokenize it again.
                for sub in self.expression.finditer(piece):
                    yield [(fold_latin(sub.group(0)).lower(), 0, offset + sub.start(),
                            offset + sub.end())], False


@lru_cache(maxsize=1024)
def _words_starting_with(initials: str) -> re.Pattern:
    """The words of WORD_EXPRESSION whose first character is one of ``initials``.

    A word starts at a word character that follows neither a word
    character nor a word character and a dot (``e.g`` is one word).
    """
    if not initials:
        return re.compile(r"(?!)")
    return re.compile(rf"(?<!\w)(?<!\w\.)[{re.escape(initials)}]\w*(?:\.?\w+)*", re.IGNORECASE)


def _script_runs(word: str):
    """Split ``word`` into ``(start, end, is_cjk)`` runs."""
    last = 0
    for run in _CJK_RUN.finditer(word):
        if run.start() > last:
            yield last, run.start(), False
        yield run.start(), run.end(), True
        last = run.end()
    if last < len(word):
        yield last, len(word), False


def _cjk_terms(run: str, with_unigrams: bool):
    """Terms of one CJK run as ``(text, position offset, start, end)``.

    Characters with compatibility forms (half-width Katakana) are normalised
    with NFKC; as that can change the run's length, such a run's terms all
    point at the whole run.
    """
    normal = unicodedata.normalize("NFKC", run)
    exact = normal == run
    n = len(normal)
    if n == 1:
        yield normal, 0, 0, len(run)
        return
    for i in range(n - 1):
        first, last = (i, i + 2) if exact else (0, len(run))
        if with_unigrams:
            yield normal[i], i, first, first + 1 if exact else last
        yield normal[i:i + 2], i, first, last
    if with_unigrams:
        yield normal[-1], n - 2, (n - 1 if exact else 0), len(run)


def text_analyzer() -> TextTokenizer:
    """The analyzer of every full-text field."""
    return TextTokenizer()


_SLUG_SEPARATORS = re.compile(r"[\W_]+")


def slugify_term(text: str) -> str:
    """The slug form of a vocabulary value: ``Hong Kong`` -> ``hong-kong``.

    Underscores count as separators too: ``quasi_experimental`` -> ``quasi-experimental``.
    """
    return _SLUG_SEPARATORS.sub("-", text.lower()).strip("-")


class SlugTokenizer(Tokenizer):
    """Space-separated slugs when indexing; one slug made from the whole text in a query.

    So ``problem:"Career guidance"`` and ``city:Toronto`` find the slugs
    ``career-guidance`` and ``toronto``.
    """

    def __eq__(self, other) -> bool:
        return self.__class__ is other.__class__

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True, mode="",
                 **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        values = [value] if mode == "query" or not tokenize else value.split()
        slugs = [slug for slug in map(slugify_term, values) if slug]
        for pos, text in enumerate(slugs):
            token.text = text
            if keeporiginal:
                token.original = text
            token.boost = 1.0
            token.stopped = False
            token.pos = start_pos + pos
            token.startchar, token.endchar = start_char, start_char + len(value)
            yield token


def slug_analyzer() -> SlugTokenizer:
    """The analyzer of the vocabulary fields (city, problem, context, levels, language...)."""
    return SlugTokenizer()
