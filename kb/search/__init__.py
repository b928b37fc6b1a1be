"""Cross-city full-text search: the facade the rest of kb uses.

The index is a Whoosh replica of the database kept true through the change
log (:mod:`kb.search.indexer`, docs/change-log-and-index.md): after every
commit that changed a case study, before a search that finds the index
behind, and from ``flask kb search catch-up``. Nothing outside this package
touches Whoosh.

What pages call:

- :func:`search` runs the search page's whole job: the ids of one page of
  results in rank order, the total, facet counts, highlighted snippets for
  that page, a "did you mean" and notices about the query.
- :func:`cases_in_order` loads those ids as rows, in that order, keeping
  only what the user may see.
- :func:`similar_cases` and :func:`other_cities_on_problems` fill the
  "similar practices in other cities" and "other cities working on this
  problem" boxes of a case study page; their answers are kept until the
  next index commit.
- :func:`remembered` keeps any answer drawn from case studies until one
  changes (the "compare with…" list of a case study page).

Who finds what follows :mod:`kb.services.policy`: published case studies
for everyone, their own drafts for signed-in authors, everything for
facilitators and admins. Drafts are indexed with their status and author
for that reason, and rows are loaded through ``visible_cases_clause``, so a
lagging index cannot show a row the user may not see.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
from flask import Flask, current_app
from markupsafe import Markup
from sqlalchemy import event, literal, select, union_all
from sqlalchemy.orm import defer, joinedload, raiseload, selectinload
from whoosh import query as wq

from kb import case_fields
from kb.extensions import db
from kb.models import (
    LANGUAGES,
    AdaptationContext,
    CaseStatus,
    CaseStudy,
    ChangeLog,
    City,
    EducationLevel,
    EvidenceLevel,
    ProblemOfPractice,
    User,
    is_valid_id,
    latest_change_seq,
)
from kb.search import highlight, suggest
from kb.search.engine import Engine, Engines, bools_of
from kb.search.facets import FacetTable, FacetTables, Membership, bits_of
from kb.search.indexer import Drift, IndexState, SearchIndex
from kb.search.query import (
    FIELD_BOOSTS,
    ParsedQuery,
    build_parser,
    parse_user_query,
    positive_terms,
)
from kb.search.schema import (
    ADAPTED, ADAPTS, FACET_FIELDS, SCHEMA_VERSION, SNIPPET_FIELDS, build_schema,
)
from kb.services import policy

__all__ = [
    "Drift", "FacetValue", "Highlight", "SearchResults", "CityCases", "SORTS", "search",
    "cases_in_order", "CaseLink", "links_in_order", "similar_cases", "other_cities_on_problems",
    "remembered", "catch_up",
    "rebuild", "check", "ensure_index", "init_app", "index_state",
]

log = logging.getLogger("kb.search")

SORTS = {"relevance": "Relevance", "newest": "Newest", "title": "Title"}
FACETS = {
    "city": "City",
    "problem": "Problem of practice",
    "context": "Adaptation context",
    "evidence": "Evidence level",
    "education": "Education level",
    "language": "Language",
    "year": "Year",
    "lineage": "Adaptation lineage",
}
LINEAGE_LABELS = {ADAPTED: "Has been adapted", ADAPTS: "Adapts another practice"}
MAX_PER_PAGE = 100
# Deepest result a page may show: bounds the work of a far page.
MAX_RESULT_WINDOW = 2_000
MAX_FILTER_VALUES = 50
MAX_FILTER_VALUE_CHARS = 100
# "Did you mean" is offered when a query finds fewer hits than this.
SUGGEST_BELOW = 3
# Words of a case study that "similar practices" searches for.
SIMILAR_KEY_TERMS = 12
_EXTENSION = "kb_search"


# Results -----------------------------------------------------------------

@dataclass
class FacetValue:
    """One value of a facet, with how many results it would give."""

    value: str
    label: str
    count: int
    selected: bool


@dataclass
class Highlight:
    """Highlighted parts of one hit (escaped HTML for element content only)."""

    title: Markup | None = None
    snippet: Markup | None = None
    field: str | None = None  # where the snippet comes from


@dataclass
class SearchResults:
    """One page of search results and everything the search page shows around it."""

    query: str
    filters: dict[str, list[str]]
    sort: str
    page: int
    per_page: int
    total: int
    ids: list[int]
    highlights: dict[int, Highlight] = field(default_factory=dict)
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)
    suggestion: str | None = None
    notices: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-min(self.total, MAX_RESULT_WINDOW) // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


@dataclass
class CityCases:
    """Case studies of one city, for "other cities working on this problem"."""

    city: str  # slug
    case_ids: list[int]


# Application wiring ------------------------------------------------------

def init_app(app: Flask) -> None:
    """Attach a search index handle to ``app`` and index work to its commits.

    Nothing is opened here: the database and the index may not exist yet
    (``flask kb init`` creates them). The index is opened on first use.
    """
    app.extensions[_EXTENSION] = _Extension(SearchIndex(
        app.config["INDEX_DIR"],
        writer_timeout=float(app.config["SEARCH_WRITER_TIMEOUT"]),
        gap_seconds=float(app.config["SEARCH_GAP_SECONDS"]),
    ))
    _listen_to_commits()


class _Extension:
    """Per-app search state: the index handle, its parser and its facet tables."""

    def __init__(self, index: SearchIndex):
        self.index = index
        self.tables = FacetTables()
        self.engines = Engines(index.path)
        self._parser = None

    def reset(self) -> None:
        """Forget the parser and the engine, to pick up changed settings (benchmarks)."""
        self._parser = None
        self.engines = Engines(self.index.path)

    def engine(self, searcher) -> Engine:
        """The query engine (and through it the facet table) of ``searcher``'s reader."""
        return self.engines.engine(searcher, self.tables.table(searcher))

    @property
    def parser(self):
        """The search box's query parser (built on first use)."""
        if self._parser is None:
            self._parser = build_parser(build_schema())
        return self._parser


def _extension() -> _Extension:
    return current_app.extensions[_EXTENSION]


def ensure_index(catch_up: bool = True) -> None:
    """Make the index ready: created (and filled) if missing, rebuilt if old, caught up.

    Run by ``flask kb init`` before workers start, and by the test fixture.
    """
    index = _extension().index
    created = index.create()
    if created and case_count():
        # A lost index folder: the change log may not reach back to every row.
        log.warning("search index %s was missing; rebuilding it", index.path)
        rebuild()
    elif index.state().schema != SCHEMA_VERSION:
        log.warning("search index %s has an old schema; rebuilding it", index.path)
        rebuild()
    elif catch_up:
        index.catch_up(db.engine)


def index_state() -> IndexState:
    """What the index has applied (for the CLI and diagnostics)."""
    return _extension().index.state()


def catch_up(timeout: float | None = None) -> int | None:
    """Apply pending change-log entries; None when another process holds the index lock."""
    return _extension().index.catch_up(db.engine, timeout=timeout)


def rebuild(progress=None, procs: int | None = None) -> int:
    """Rebuild every document from the database; returns how many were indexed.

    ``procs`` (default: the ``SEARCH_REBUILD_PROCS`` setting) processes
    load, convert and index the case studies.
    """
    if procs is None:
        procs = int(current_app.config["SEARCH_REBUILD_PROCS"])
    return _extension().index.rebuild(db.engine, progress, procs=procs)


def check() -> Drift:
    """Compare the index with the database."""
    return _extension().index.check(db.engine)


def case_count() -> int:
    """How many case studies the database holds (what a rebuild will index)."""
    return db.session.scalar(select(db.func.count()).select_from(CaseStudy)) or 0


_PENDING = "kb_search_pending"
# Set in a session's info once its transaction has found the index caught up.
_CAUGHT_UP = "kb_search_caught_up"
_listening = False


def _listen_to_commits() -> None:
    """Catch the index up after each commit that wrote change-log rows (once per process).

    Index work happens only after the commit (Invenio's rule): a rollback
    leaves no ghost documents, and a failure here never fails or loses the
    database change, whose change-log entry the next catch-up applies.
    """
    global _listening
    if _listening:
        return
    _listening = True
    event.listen(db.session, "after_flush", _note_change_log_rows)
    event.listen(db.session, "after_commit", _catch_up_after_commit)
    event.listen(db.session, "after_rollback", _forget_pending)
    event.listen(db.session, "after_transaction_end", _forget_caught_up)


def _note_change_log_rows(session, flush_context) -> None:
    if any(isinstance(obj, ChangeLog) for obj in session.new):
        session.info[_PENDING] = True


def _forget_pending(session) -> None:
    session.info.pop(_PENDING, None)


def _forget_caught_up(session, transaction) -> None:
    session.info.pop(_CAUGHT_UP, None)


def _catch_up_after_commit(session) -> None:
    if not session.info.pop(_PENDING, False):
        return
    try:
        app = current_app._get_current_object()
        if _EXTENSION not in app.extensions or not app.config["SEARCH_CATCH_UP_ON_COMMIT"]:
            return
        app.extensions[_EXTENSION].index.catch_up(db.engine)
    except Exception:
        # The change is committed and its change-log entry is safe: the
        # next catch-up (next commit, next search, or the CLI) applies it.
        log.exception("updating the search index after a commit failed; it will catch up later")


def _catch_up_if_behind(index: SearchIndex) -> bool:
    """Before a search: apply entries other processes committed, if no one else is.

    True when the index is known to hold every change the transaction can
    see. Checked once per transaction: a page searching more than once (a
    case study's related boxes) asks the database once; a commit or
    rollback asks again.
    """
    session = db.session()
    if session.info.get(_CAUGHT_UP):
        return True
    try:
        if not index.is_behind(session) or index.catch_up(db.engine, timeout=0) is not None:
            session.info[_CAUGHT_UP] = True
    except Exception:
        log.exception("catching the search index up before a search failed")
    return bool(session.info.get(_CAUGHT_UP))


def remembered(user: User | None, key: tuple, compute):
    """``compute()``'s answer for ``user``, kept until the next change to any case study.

    For answers drawn from case studies and the names shown with them:
    every change to those is in the change log, and the index applies each
    in a commit of its own, which brings a new engine that has forgotten
    everything kept (kb.search.engine.Engine.recall). Users who may see the
    same case studies share an answer: ``key`` is completed with the user's
    visibility. Nothing is kept while the index is behind the database, nor
    when a change committed while ``compute`` ran. The answer is shared: it
    should be immutable.
    """
    ext = _extension()
    if not _catch_up_if_behind(ext.index):
        return compute()
    with ext.index.searcher() as searcher:
        engine = ext.engine(searcher)
        state = ext.index.state(searcher)
    key = (*key, _visibility(user))
    found = engine.recall(key)
    if found is not None:
        return found
    answer = compute()
    # Under snapshot isolation (SQLite) the transaction may predate the index's commit.
    if not state.gaps and latest_change_seq(db.session) == state.seq:
        engine.keep(key, answer)
    return answer


# Searching ---------------------------------------------------------------

class _Visibility(NamedTuple):
    """Which case studies a user may find, by the rules of kb.services.policy.

    Also the key of whatever is remembered for a user (related case
    studies): users with the same visibility may share it, no one else.
    """

    everything: bool  # facilitators and admins
    author: str | None  # the signed-in user's own drafts too (a user id)


def _visibility(user: User | None) -> _Visibility:
    signed_in = user is not None and getattr(user, "is_authenticated", False)
    if signed_in and user.is_facilitator:
        return _Visibility(True, None)
    return _Visibility(False, str(user.id) if signed_in else None)


def _visible(table: FacetTable, user: User | None) -> int:
    """Documents ``user`` may see, by the rules of kb.services.policy."""
    visibility = _visibility(user)
    if visibility.everything:
        return table.live_cases
    visible = table.value_mask("status", CaseStatus.PUBLISHED.value)
    if visibility.author is not None:
        visible |= table.value_mask("author", visibility.author)
    return visible & table.live_cases


def clean_filters(filters: dict | None) -> dict[str, list[str]]:
    """Keep known facets and plausible values (deduplicated, capped in number and length)."""
    cleaned: dict[str, list[str]] = {}
    for name, values in (filters or {}).items():
        if name not in FACET_FIELDS:
            continue
        if isinstance(values, str):
            values = [values]
        kept = []
        for value in values or []:
            if isinstance(value, str):
                value = value.strip()
                if value and len(value) <= MAX_FILTER_VALUE_CHARS and value not in kept:
                    kept.append(value)
        if kept:
            cleaned[name] = kept[:MAX_FILTER_VALUES]
    return cleaned


def search(user: User | None, q: str | None = "", filters: dict | None = None,
           sort: str = "relevance", page: int = 1, per_page: int = 20) -> SearchResults:
    """Search what ``user`` may see; never raises on any query, filter or page given.

    ``filters`` maps a facet name (see :data:`FACETS`) to the values chosen:
    values of one facet are OR-ed, facets are AND-ed. Facet counts for a
    facet are computed with the filters of the other facets applied, so
    they say how many results choosing that value would give.
    """
    ext = _extension()
    filters = clean_filters(filters)
    per_page = max(1, min(int(per_page or 20), MAX_PER_PAGE))
    parsed = parse_user_query(ext.parser, q)
    if sort not in SORTS:
        sort = "relevance"
    _catch_up_if_behind(ext.index)
    with ext.index.searcher() as searcher:
        engine = ext.engine(searcher)
        table = engine.table
        matched = _visible(table, user)
        if parsed.query is not None:
            matched &= engine.match(parsed.query)
        selected = {name: table.any_of(FACET_FIELDS[name], values)
                    for name, values in filters.items()}
        final = matched
        for mask in selected.values():
            final &= mask
        total = final.bit_count()
        pages = max(1, -(-min(total, MAX_RESULT_WINDOW) // per_page))
        page = max(1, min(_as_int(page), pages))
        ranked = _rank(engine, parsed, sort, final, page * per_page)
        docnums = ranked[(page - 1) * per_page:page * per_page]
        results = SearchResults(
            query=parsed.text, filters=filters, sort=sort, page=page, per_page=per_page,
            total=total, ids=[table.case_ids[d] for d in docnums], notices=list(parsed.notices),
        )
        results.facets = _facets(engine, matched, selected, filters)
        if parsed.query is not None:
            results.highlights = _highlights(searcher, engine, parsed, docnums)
            if total < SUGGEST_BELOW:
                results.suggestion = suggest.suggestion(searcher, engine, parsed.text)
    return results


def _as_int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 1


def _rank(engine: Engine, parsed: ParsedQuery, sort: str, final: int, limit: int) -> list[int]:
    """Document numbers of the first ``limit`` results in the order asked for."""
    limit = min(limit, MAX_RESULT_WINDOW)
    if not final:
        return []
    if sort == "relevance" and parsed.query is not None:
        return engine.rank(parsed.query, final, limit)
    table = engine.table
    docnums = bits_of(final)
    if sort == "title":
        return heapq.nsmallest(limit, docnums,
                               key=lambda d: (table.title_sort[d], table.case_ids[d]))
    return heapq.nlargest(limit, docnums, key=lambda d: (table.updated[d], table.case_ids[d]))


def _facets(engine: Engine, matched: int, selected: dict[str, int],
            filters: dict[str, list[str]]) -> dict[str, list[FacetValue]]:
    """Counts per facet value, each facet under the other facets' filters."""
    table = engine.table
    labels = _facet_labels(_vocabulary_names(engine, filters))
    facets: dict[str, list[FacetValue]] = {}
    for name, fieldname in FACET_FIELDS.items():
        base = matched
        for other, mask in selected.items():
            if other != name:
                base &= mask
        chosen = filters.get(name, [])
        values = []
        for value, mask in table.values.get(fieldname, {}).items():
            count = (base & mask).bit_count()
            if count or value in chosen:
                values.append(FacetValue(value, labels[name](value), count, value in chosen))
        for value in chosen:
            if value not in table.values.get(fieldname, {}):
                values.append(FacetValue(value, labels[name](value), 0, True))
        facets[name] = _ordered(name, values)
    return facets


# The facets whose values are vocabulary terms, labelled with the terms' names.
_VOCABULARY_FACETS = {"city": City, "problem": ProblemOfPractice, "context": AdaptationContext}


def _vocabulary_names(engine: Engine, filters: dict[str, list[str]]) -> MappingProxyType:
    """Names by slug of the terms of each of :data:`_VOCABULARY_FACETS`.

    The names of the terms in the index change only with an index commit
    (renaming a term re-indexes its case studies), so they are kept until
    the next one. A filter on a term no case study carries reads them
    afresh: its name may have changed since.
    """
    def read() -> MappingProxyType:
        names: dict[str, dict[str, str]] = {facet: {} for facet in _VOCABULARY_FACETS}
        # Every vocabulary in one round trip.
        rows = db.session.execute(union_all(*(
            select(literal(facet).label("facet"), model.slug, model.name)
            for facet, model in _VOCABULARY_FACETS.items()
        )))
        for facet, slug, name in rows:
            names[facet][slug] = name
        return MappingProxyType({facet: MappingProxyType(by_slug)
                                 for facet, by_slug in names.items()})

    indexed = engine.table.values
    if any(value not in indexed.get(FACET_FIELDS[name], {})
           for name, values in filters.items() if name in _VOCABULARY_FACETS
           for value in values):
        return read()
    return _kept(engine, ("vocabulary names",), read)


def _facet_labels(names: MappingProxyType) -> dict:
    """Functions giving each facet value its label (``names``: :func:`_vocabulary_names`)."""
    cities, problems, contexts = names["city"], names["problem"], names["context"]

    def enum_label(enum_cls):
        def label(value: str) -> str:
            try:
                return enum_cls(value).label
            except ValueError:
                return value
        return label

    return {
        "city": lambda v: cities.get(v, v),
        "problem": lambda v: problems.get(v, v),
        "context": lambda v: contexts.get(v, v),
        "evidence": enum_label(EvidenceLevel),
        "education": enum_label(EducationLevel),
        "language": lambda v: LANGUAGES.get(v, v),
        "year": str,
        "lineage": lambda v: LINEAGE_LABELS.get(v, v),
    }


_ENUM_ORDER = {
    "evidence": [level.value for level in EvidenceLevel],
    "education": [level.value for level in EducationLevel],
    "language": list(LANGUAGES),
    "lineage": list(LINEAGE_LABELS),
}


def _ordered(name: str, values: list[FacetValue]) -> list[FacetValue]:
    if name == "year":
        return sorted(values, key=lambda v: v.value, reverse=True)
    if name in _ENUM_ORDER:
        order = _ENUM_ORDER[name]
        return sorted(values, key=lambda v: (order.index(v.value) if v.value in order
                                             else len(order), v.label))
    return sorted(values, key=lambda v: (-v.count, v.label.casefold()))


def _highlights(searcher, engine: Engine, parsed: ParsedQuery,
                docnums: list[int]) -> dict[int, Highlight]:
    """Title and snippet highlights for the hits on the page, from the field that matched."""
    terms_by_field: dict[str, set[str]] = {}
    for fieldname, text in positive_terms(parsed.query):
        if fieldname == "title" or fieldname in SNIPPET_FIELDS:
            terms_by_field.setdefault(fieldname, set()).add(text)
    masks = {(fieldname, text): engine.term_mask(fieldname, text)
             for fieldname, texts in terms_by_field.items() for text in texts}
    analyzer = searcher.schema["body"].analyzer
    highlights: dict[int, Highlight] = {}
    members = {term: Membership(mask) for term, mask in masks.items()}
    for docnum in docnums:
        hit: dict[str, frozenset[str]] = {}
        for (fieldname, text), inside in members.items():
            if inside(docnum):
                hit[fieldname] = hit.get(fieldname, frozenset()) | {text}
        if not hit:
            continue
        stored = searcher.stored_fields(docnum)
        result = Highlight()
        if "title" in hit:
            result.title = highlight.whole(stored.get("title", ""), hit["title"], analyzer)
        for fieldname in SNIPPET_FIELDS:
            if fieldname in hit:
                result.snippet = highlight.snippet(stored.get(fieldname, ""), hit[fieldname],
                                                   analyzer)
                if result.snippet is not None:
                    result.field = fieldname
                    break
        highlights[engine.table.case_ids[docnum]] = result
    return highlights


# Loading rows, related cases ---------------------------------------------

# The Markdown texts, most of a case study's bytes: result lists never show them.
_LONG_TEXTS = tuple(getattr(CaseStudy, spec.name) for spec in case_fields.MARKDOWN_FIELDS)


def _in_order_of(ids: list[int], load: Callable[[list[int]], Iterable]) -> list:
    """The rows ``load`` finds for ``ids`` (each with an ``id``), in the order of ``ids``."""
    # An id beyond the database's integer range cannot name a row, and PostgreSQL
    # rejects the whole query if one is bound.
    ids = [i for i in ids if is_valid_id(i)]
    if not ids:
        return []
    by_id = {row.id: row for row in load(ids)}
    return [by_id[i] for i in ids if i in by_id]


def cases_in_order(user: User | None, ids: list[int], *, with_problems: bool = False,
                   with_texts: bool = False) -> list[CaseStudy]:
    """The case studies ``ids`` that ``user`` may see, in the order of ``ids``, with their cities.

    Their problems of practice and Markdown texts are loaded only when
    asked for: reading them otherwise raises rather than quietly querying
    row by row. Whole rows with every relation were a third of a search
    page's time.
    """
    options = [joinedload(CaseStudy.city),
               selectinload(CaseStudy.problems) if with_problems
               else raiseload(CaseStudy.problems)]
    if not with_texts:
        options.extend(defer(column, raiseload=True) for column in _LONG_TEXTS)
    return _in_order_of(ids, lambda valid: db.session.scalars(
        select(CaseStudy)
        .where(CaseStudy.id.in_(valid), policy.visible_cases_clause(user))
        .options(*options)
    ))


class CaseLink(NamedTuple):
    """What a link to a case study shows: its title, language and city."""

    id: int
    slug: str
    title: str
    language: str
    city_name: str
    city_slug: str


def links_in_order(user: User | None, ids: list[int]) -> list[CaseLink]:
    """Links to the case studies ``ids`` that ``user`` may see, in the order of ``ids``.

    One light query for the related boxes of a case study's page, where
    whole rows with their relations were most of the page's database time.
    """
    return _in_order_of(ids, lambda valid: (CaseLink(*row) for row in db.session.execute(
        select(CaseStudy.id, CaseStudy.slug, CaseStudy.title, CaseStudy.language,
               City.name, City.slug)
        .join(City, City.id == CaseStudy.city_id)
        .where(CaseStudy.id.in_(valid), policy.visible_cases_clause(user))
    )))


def _viewable_case(user: User | None, case_id: int) -> CaseStudy | None:
    case = db.session.get(CaseStudy, case_id) if is_valid_id(case_id) else None
    if case is None or not policy.can_view_case(user, case):
        return None
    return case


def similar_cases(user: User | None, case_id: int, limit: int = 5) -> list[int]:
    """Case studies from other cities most like ``case_id`` ("more like this"), best first."""
    case = _viewable_case(user, case_id)
    if case is None:
        return []
    ext = _extension()
    _catch_up_if_behind(ext.index)
    with ext.index.searcher() as searcher:
        engine = ext.engine(searcher)
        return list(_kept(engine, ("similar", case.id, case.city.slug, _visibility(user), limit),
                          lambda: _similar(searcher, engine, case, user, limit)))


def _kept(engine: Engine, key: tuple, compute):
    """What ``engine`` kept for ``key``, else ``compute()``'s answer, kept (index-only answers)."""
    found = engine.recall(key)
    return found if found is not None else engine.keep(key, compute())


def _similar(searcher, engine: Engine, case: CaseStudy, user: User | None,
             limit: int) -> tuple[int, ...]:
    docnum = searcher.document_number(id=str(case.id))
    if docnum is None:
        return ()
    table = engine.table
    allowed = _visible(table, user) & ~table.value_mask("city", case.city.slug)
    allowed &= ~(1 << docnum)
    if not allowed:
        return ()
    stored = searcher.stored_fields(docnum)
    text = "\n".join(stored.get(name, "") for name in ("title", *SNIPPET_FIELDS))
    key_terms = engine.key_terms("body", text, SIMILAR_KEY_TERMS)
    if not key_terms:
        return ()
    q = wq.Or([
        wq.Or([wq.Term(fieldname, word, boost=boost)
               for fieldname, boost in FIELD_BOOSTS.items()], boost=weight)
        for word, weight in key_terms
    ])
    docnums = engine.rank(q, allowed, max(1, min(limit, MAX_PER_PAGE)), scored_only=True)
    return tuple(table.case_ids[d] for d in docnums)


def other_cities_on_problems(user: User | None, case_id: int,
                             per_city: int = 3) -> list[CityCases]:
    """Other cities with case studies on any of ``case_id``'s problems, most such cases first.

    Within a city, case studies sharing more of the problems come first,
    then the newest.
    """
    case = _viewable_case(user, case_id)
    if case is None or not case.problems:
        return []
    ext = _extension()
    _catch_up_if_behind(ext.index)
    problems = tuple(problem.slug for problem in case.problems)
    with ext.index.searcher() as searcher:
        engine = ext.engine(searcher)
        groups = _kept(engine, ("other cities", case.city.slug, problems, _visibility(user),
                                per_city),
                       lambda: _other_cities(engine, case.city.slug, problems, user, per_city))
    return [CityCases(city, list(case_ids)) for city, case_ids in groups]


def _other_cities(engine: Engine, city: str, problems: tuple[str, ...], user: User | None,
                  per_city: int) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """(city, case ids) pairs for :func:`other_cities_on_problems`, in its order."""
    table, size = engine.table, engine.size
    candidates = _visible(table, user) & ~table.value_mask("city", city)
    candidates &= table.any_of("problem", problems)
    if not candidates:
        return ()
    shared = np.zeros(size, dtype=np.int64)
    for problem in problems:
        shared += bools_of(table.value_mask("problem", problem), size)
    groups: list[tuple[int, str, tuple[int, ...]]] = []
    for slug, city_mask in table.values.get("city", {}).items():
        inside = candidates & city_mask
        if inside:
            docs = np.flatnonzero(bools_of(inside, size))
            # Sharing more of the problems first, then the newest, then the lowest id.
            best = docs[np.lexsort((engine.case_ids[docs], -engine.updated[docs],
                                    -shared[docs]))[:per_city]]
            groups.append((-len(docs), slug, tuple(engine.case_ids[best].tolist())))
    return tuple((slug, case_ids) for _, slug, case_ids in sorted(groups))
