"""Turning what a person types into a Whoosh query, and scoring it.

Syntax: plain words are disjunctive (BM25F over the text fields, documents
matching more of the words first); ``"quoted phrases"``; ``-excluded`` and
``+required`` words; ``field:value`` for the fields in :data:`QUERY_FIELDS`;
``AND``, ``OR``, ``NOT`` and parentheses. A query the parser cannot read is
searched as plain words and the result carries a notice saying so.

Every query is capped (:data:`MAX_QUERY_CHARS`, :data:`MAX_QUERY_TERMS`),
and wildcards and fuzzy terms are not offered, so no query string can make
the index enumerate its vocabulary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from whoosh import query as wq
from whoosh.fields import Schema
from whoosh.qparser import QueryParser, syntax
from whoosh.qparser import plugins as qplugins
from whoosh.query.wrappers import WrappingQuery

from kb.sanitize import clean_text
from kb.search.analysis import ENGLISH_STOP_WORDS
from kb.search.schema import FIELD_BOOSTS

# Characters and terms a query may have; the rest is cut off with a notice.
MAX_QUERY_CHARS = 500
MAX_QUERY_TERMS = 32

# BM25 parameters. b is the textbook 0.75; k1 is the top of the range
# Robertson and Zaragoza recommend (1.2-2.0): case studies are long and
# repeat their subject, so a term's frequency should saturate slowly.
BM25_K1 = 2.0
BM25_B = 0.75

# Keyword queries (up to this many distinct terms, nearly every query typed
# in a search box) are coordinated: a document's score is multiplied by
# (terms it matches / terms) ** COORD_EXPONENT, so documents matching more
# of the words rank first (Lucene's classic coord is exponent 1). Longer
# queries are questions, whose words describe rather than require: they are
# not coordinated but get pseudo-relevance feedback instead.
KEYWORD_QUERY_TERMS = 4
COORD_EXPONENT = 1.0

# Pseudo-relevance feedback for questions (Bo1, Amati 2003, with the usual
# RM3 defaults): the best FEEDBACK_DOCS results' most informative
# FEEDBACK_TERMS terms are added at FEEDBACK_WEIGHT times the weight of the
# query's own terms. It reorders the results; it never adds any.
FEEDBACK_DOCS = 10
FEEDBACK_TERMS = 10
FEEDBACK_WEIGHT = 0.5
FEEDBACK_FIELDS = ("title", "summary", "body")

# Names a person may put before a colon -> the index field searched.
QUERY_FIELDS = {
    "title": "title",
    "summary": "summary",
    "body": "body",
    "implementation": "implementation",
    "outcomes": "outcomes",
    "other": "other",
    "city": "city",
    "problem": "problem",
    "context": "context",
    "evidence": "evidence",
    "education": "education",
    "level": "education",
    "language": "language",
    "year": "year",
}

NOTICE_PLAIN_WORDS = (
    "Your query could not be read as search syntax, so it was searched as plain words."
)
NOTICE_TRUNCATED = (
    "Your query was long, so only its first {terms} words (not counting words such as "
    "“the”) were searched."
)

_WORDS = re.compile(r"\w+(?:\.?\w+)*")
_OPERATORS = frozenset({"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "REQUIRE"})


class Coordinated(WrappingQuery):
    """A user's query: ranked with coordination or feedback by its length (see above).

    Coordination multiplies a document's score by
    ``(query terms it matches / query terms) ** exponent``, counting each
    distinct term text once whatever the field (a word typed once is
    searched in every default field; a CJK word counts once per bigram).
    """

    def __init__(self, child, exponent=None):
        super().__init__(child)
        self.exponent = COORD_EXPONENT if exponent is None else exponent

    def _rewrap(self, child):
        return self.__class__(child, self.exponent)

    def __eq__(self, other):
        return (self.__class__ is other.__class__ and self.child == other.child
                and self.exponent == other.exponent)

    __hash__ = WrappingQuery.__hash__


class _PlusMinusPlugin(qplugins.PlusMinusPlugin):
    """``+word`` and ``-word`` at the start of a word, at any depth of parentheses.

    Whoosh's own plugin only looks at the top level and also fires inside
    hyphenated words (``work-based``).
    """

    def __init__(self):
        super().__init__(plusexpr=r"(?<![^\s(])\+(?=[\w\"(])",
                         minusexpr=r"(?<![^\s(])-(?=[\w\"(])")

    def do_plusminus(self, parser, group):
        for i, node in enumerate(group):
            if isinstance(node, syntax.GroupNode):
                group[i] = self.do_plusminus(parser, node)
        if not any(isinstance(node, (self.Plus, self.Minus)) for node in group):
            return group
        conjunctive = isinstance(group, syntax.AndGroup)
        required, banned = syntax.AndGroup(), syntax.OrGroup()
        optional = syntax.AndGroup() if conjunctive else parser.group()
        target = optional
        for node in group:
            if isinstance(node, self.Plus):
                target = required
            elif isinstance(node, self.Minus):
                target = banned
            else:
                target.append(node)
                target = optional
        result = optional
        if required:
            result = _LenientAndMaybeGroup([required, optional]) if optional else required
        if banned:
            if not required and not optional:
                result = qplugins.EveryPlugin.EveryNode()
                result.startchar, result.endchar = group.startchar, group.endchar
            result = syntax.AndNotGroup([result, banned])
        return result


class _LenientAndMaybeGroup(syntax.AndMaybeGroup):
    """``+required optional``, where a required part made only of stop words is dropped."""

    def query(self, parser):
        required, optional = (node.query(parser) for node in self.nodes)
        if required is None or required.normalize() is wq.NullQuery:
            return optional
        return super().query(parser)


def build_parser(schema: Schema) -> QueryParser:
    """The parser of the search box, over the default text fields of ``schema``."""
    # The parser only knows the fields people may name, so ``status:`` or
    # ``author:`` are read as plain words.
    query_schema = Schema(**{name: schema[name] for name in
                             {*QUERY_FIELDS.values(), *FIELD_BOOSTS}})
    # A "word" the analyzer splits (work-based, a CJK run) becomes terms in
    # the disjunctive group, like words typed apart: hyphenation varies too
    # much between writers to demand adjacency ("quoted phrases" do).
    parser = QueryParser(None, query_schema, group=syntax.OrGroup)
    for unwanted in (qplugins.WildcardPlugin, qplugins.BoostPlugin, qplugins.EveryPlugin,
                     qplugins.SingleQuotePlugin):
        parser.remove_plugin_class(unwanted)
    parser.add_plugin(qplugins.MultifieldPlugin(list(FIELD_BOOSTS), fieldboosts=FIELD_BOOSTS))
    parser.add_plugin(_PlusMinusPlugin())
    parser.add_plugin(qplugins.FieldAliasPlugin(
        {target: [name] for name, target in QUERY_FIELDS.items() if name != target}
    ))
    return parser


@dataclass
class ParsedQuery:
    """A user's query ready to run, with what the page should tell them about it."""

    text: str
    query: wq.Query | None  # None: no query, browse everything
    notices: list[str] = field(default_factory=list)
    plain_words: bool = False


def normalise_query_text(text: str | None) -> tuple[str, list[str]]:
    """Clean ``text`` (control characters, Unicode form) and cap its length."""
    text = clean_text(text or "", multiline=False)
    notices: list[str] = []
    if len(text) > MAX_QUERY_CHARS:
        text = text[:MAX_QUERY_CHARS]
    # Stop words cost nothing to search, so only the others count.
    words = [m for m in _WORDS.finditer(text) if m.group().lower() not in ENGLISH_STOP_WORDS]
    if len(words) > MAX_QUERY_TERMS:
        text = text[:words[MAX_QUERY_TERMS - 1].end()]
        notices.append(NOTICE_TRUNCATED.format(terms=MAX_QUERY_TERMS))
    return text, notices


def _looks_malformed(text: str) -> bool:
    """Syntax Whoosh would silently misread: unbalanced quotes or brackets, empty fields."""
    if text.count('"') % 2:
        return True
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return True
    if depth:
        return True
    if re.search(r"(?:^|\s)\w+:(?:\s|$)", text):
        return True
    if re.search(r"\[[^\]]*$|^[^\[]*\]", text):
        return True
    return False


def _contains_error(q: wq.Query) -> bool:
    if getattr(q, "error", None):
        return True
    return any(_contains_error(child) for child in q.children())


def _finish(q: wq.Query | None) -> wq.Query | None:
    """Normalise a parsed query and wrap it for coordination; None when nothing is left."""
    if q is None:
        return None
    q = _rewrite(q).normalize()
    if q is wq.NullQuery:
        return None
    return Coordinated(q)


def _rewrite(q: wq.Query) -> wq.Query:
    """Fix what a disjunctive default makes of Whoosh's operators.

    ``a b NOT c`` would match every document without ``c``: it becomes
    "(a or b) and not c".
    """
    if q.is_leaf():
        return q
    if isinstance(q, wq.Or):
        negated = [_rewrite(s.query) for s in q.subqueries if isinstance(s, wq.Not)]
        if negated:
            kept = [_rewrite(s) for s in q.subqueries if not isinstance(s, wq.Not)]
            positive = q.__class__(kept, boost=q.boost) if kept else wq.Every()
            return wq.AndNot(positive, wq.Or(negated))
    if isinstance(q, wq.Not):
        return wq.AndNot(wq.Every(), _rewrite(q.query))
    return q.apply(_rewrite)


# Anything that may be query syntax; text without it is read as plain words
# without Whoosh's (slow) parser.
_SYNTAX = re.compile(r'["():\[\]{}]|(?:^|\s)[+-]|\b(?:AND|OR|NOT|ANDNOT|ANDMAYBE|REQUIRE)\b')


def plain_words(parser: QueryParser, text: str) -> wq.Query | None:
    """The query Whoosh's parser makes of syntax-free ``text``, made directly.

    Each whitespace-separated word is looked up in every default field
    (with its boost) exactly as the parser's MultifieldPlugin does, and the
    words are OR-ed; a test checks that both give the same query.
    """
    groups = []
    for word in text.split():
        fields = [parser.term_query(fieldname, word, parser.termclass, boost=boost)
                  for fieldname, boost in FIELD_BOOSTS.items()]
        fields = [q for q in fields if q is not None]
        if fields:
            groups.append(wq.Or(fields))
    return _finish(wq.Or(groups)) if groups else None


def parse_user_query(parser: QueryParser, text: str | None) -> ParsedQuery:
    """Parse what someone typed; never raises."""
    text, notices = normalise_query_text(text)
    if not text.strip():
        return ParsedQuery(text=text, query=None, notices=notices)
    if not _SYNTAX.search(text):
        return ParsedQuery(text=text, query=plain_words(parser, text), notices=notices)
    if not _looks_malformed(text):
        try:
            q = _finish(parser.parse(text))
        except Exception:  # Whoosh's parser has many failure modes; all mean "not syntax".
            q = None
        else:
            if q is None or not _contains_error(q):
                return ParsedQuery(text=text, query=q, notices=notices)
    # The fallback: the words alone, without the characters that made them syntax.
    words = " ".join(w for w in _WORDS.findall(text) if w not in _OPERATORS)
    return ParsedQuery(text=text, query=plain_words(parser, words),
                       notices=[*notices, NOTICE_PLAIN_WORDS], plain_words=True)


def positive_terms(q: wq.Query | None) -> set[tuple[str, str]]:
    """The ``(field, text)`` terms a document is found by (excluded ones left out)."""
    found: set[tuple[str, str]] = set()
    if q is None:
        return found

    def walk(node: wq.Query) -> None:
        if isinstance(node, wq.Not):
            return
        if isinstance(node, wq.AndNot):
            walk(node.a)
            return
        if isinstance(node, wq.Term):
            found.add((node.fieldname, node.text))
        elif isinstance(node, wq.Phrase):
            found.update((node.fieldname, word) for word in node.words)
        for child in node.children():
            walk(child)

    walk(q)
    return found
