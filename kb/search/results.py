"""Search results: one page of hits with its facets and highlights, and the rows they name.

:func:`search` runs the search page's whole job: the ids of one page of
results in rank order, the total, facet counts, highlighted snippets for
that page, a "did you mean" and notices about the query.
:func:`cases_in_order` and :func:`links_in_order` load such ids as rows, in
that order, keeping only what may be seen.

What a user may find is a value of :mod:`kb.services.policy`
(``case_visibility``) that callers pass in: drafts are indexed with their
status and author for it, and rows are loaded through its SQL clause, so a
lagging index cannot show a row the user may not see.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar, NamedTuple, Protocol

from markupsafe import Markup
from sqlalchemy import ColumnElement, literal, select, union_all
from sqlalchemy.orm import defer, joinedload, raiseload, selectinload

from kb import case_fields
from kb.extensions import db
from kb.models import (
    LANGUAGES,
    AdaptationContext,
    CaseStudy,
    City,
    EducationLevel,
    EvidenceLevel,
    ProblemOfPractice,
    is_valid_id,
)
from kb.paging import Paged, page_count
from kb.search import highlight, suggest
from kb.search.engine import Engine
from kb.search.facets import FacetTable, Membership, bits_of
from kb.search.lifecycle import catch_up_if_behind, extension
from kb.search.query import ParsedQuery, parse_user_query, positive_terms
from kb.search.schema import ADAPTED, ADAPTS, FACET_FIELDS, SNIPPET_FIELDS

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
class SearchResults(Paged):
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
    window: ClassVar[int] = MAX_RESULT_WINDOW


class Visibility(Protocol):
    """What search reads of ``kb.services.policy.CaseVisibility``, the rule it is given.

    Search sits beside the services and imports none of them: callers pass
    the value ``policy.case_visibility(user)`` makes.
    """

    def allows(self, case: CaseStudy) -> bool:
        """Whether ``case`` is visible."""

    def clause(self) -> ColumnElement[bool]:
        """A SQL condition selecting the visible case studies."""

    def documents(self, holding: Callable[[str, str], int], every: int) -> int:
        """The visible documents among ``every``, from the index's value bit sets."""


def visible_documents(table: FacetTable, visibility: Visibility) -> int:
    """The documents of ``table`` that ``visibility`` lets its user find."""
    return visibility.documents(table.value_mask, table.live_cases)


def recall_or_keep(engine: Engine, key: tuple, compute):
    """What ``engine`` kept for ``key``, else ``compute()``'s answer, kept (index-only answers)."""
    found = engine.recall(key)
    return found if found is not None else engine.keep(key, compute())


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


def search(visibility: Visibility, q: str | None = "", filters: dict | None = None,
           sort: str = "relevance", page: int = 1, per_page: int = 20) -> SearchResults:
    """Search what ``visibility`` shows; never raises on any query, filter or page given.

    ``filters`` maps a facet name (see :data:`FACETS`) to the values chosen:
    values of one facet are OR-ed, facets are AND-ed. Facet counts for a
    facet are computed with the filters of the other facets applied, so
    they say how many results choosing that value would give.
    """
    ext = extension()
    filters = clean_filters(filters)
    per_page = max(1, min(int(per_page or 20), MAX_PER_PAGE))
    parsed = parse_user_query(ext.parser, q)
    if sort not in SORTS:
        sort = "relevance"
    catch_up_if_behind(ext.index)
    with ext.index.searcher() as searcher:
        engine = ext.engine(searcher)
        table = engine.table
        visible = visible_documents(table, visibility)
        matched = visible
        if parsed.query is not None:
            matched &= engine.match(parsed.query)
        selected = {name: table.any_of(FACET_FIELDS[name], values)
                    for name, values in filters.items()}
        final = matched
        for mask in selected.values():
            final &= mask
        total = final.bit_count()
        pages = page_count(total, per_page, MAX_RESULT_WINDOW)
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
                results.suggestion = suggest.suggestion(searcher, engine, parsed.text, visible)
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
    return recall_or_keep(engine, ("vocabulary names",), read)


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


def cases_in_order(visibility: Visibility, ids: list[int], *, with_problems: bool = False,
                   with_texts: bool = False) -> list[CaseStudy]:
    """The case studies ``ids`` that ``visibility`` shows, in their order, with their cities.

    Their problems of practice and Markdown texts are loaded only when
    asked for: reading them otherwise raises rather than quietly querying
    row by row. Whole rows with every relation cost a search page much of
    its time.
    """
    options = [joinedload(CaseStudy.city),
               selectinload(CaseStudy.problems) if with_problems
               else raiseload(CaseStudy.problems)]
    if not with_texts:
        options.extend(defer(column, raiseload=True) for column in _LONG_TEXTS)
    return _in_order_of(ids, lambda valid: db.session.scalars(
        select(CaseStudy)
        .where(CaseStudy.id.in_(valid), visibility.clause())
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


def links_in_order(visibility: Visibility, ids: list[int]) -> list[CaseLink]:
    """Links to the case studies ``ids`` that ``visibility`` shows, in the order of ``ids``.

    One light query for the related boxes of a case study's page, where
    whole rows with their relations were most of the page's database time.
    """
    return _in_order_of(ids, lambda valid: (CaseLink(*row) for row in db.session.execute(
        select(CaseStudy.id, CaseStudy.slug, CaseStudy.title, CaseStudy.language,
               City.name, City.slug)
        .join(City, City.id == CaseStudy.city_id)
        .where(CaseStudy.id.in_(valid), visibility.clause())
    )))
