"""Answers drawn from the index around one case study, and answers kept until it changes.

:func:`similar_cases` and :func:`other_cities_on_problems` fill the
"similar practices in other cities" and "other cities working on this
problem" boxes of a case study page; their answers are kept until the next
index commit. :func:`remembered` keeps any answer drawn from case studies
the same way, for the pages' own use (a case page's "compare with…" list).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from whoosh import query as wq

from kb.extensions import db
from kb.models import CaseStudy, is_valid_id, latest_change_seq
from kb.search.engine import Engine, bools_of
from kb.search.lifecycle import catch_up_if_behind, extension
from kb.search.query import FIELD_BOOSTS
from kb.search.results import MAX_PER_PAGE, Visibility, recall_or_keep, visible_documents
from kb.search.schema import SNIPPET_FIELDS

# Words of a case study that "similar practices" searches for.
SIMILAR_KEY_TERMS = 12


@dataclass
class CityCases:
    """Case studies of one city, for "other cities working on this problem"."""

    city: str  # slug
    case_ids: list[int]


def remembered(visibility: Visibility, key: tuple, compute):
    """``compute()``'s answer for ``visibility``, kept until the next change to any case study.

    For answers drawn from case studies and the names shown with them:
    every change to those is in the change log, and the index applies each
    in a commit of its own, which brings a new engine that has forgotten
    everything kept (kb.search.engine.Engine.recall). Users who may see the
    same case studies share an answer: ``key`` is completed with
    ``visibility``. Nothing is kept while the index is behind the database, nor
    when a change committed while ``compute`` ran. The answer is shared: it
    should be immutable.
    """
    ext = extension()
    if not catch_up_if_behind(ext.index):
        return compute()
    with ext.index.searcher() as searcher:
        engine = ext.engine(searcher)
        state = ext.index.state(searcher)
    key = (*key, visibility)
    found = engine.recall(key)
    if found is not None:
        return found
    answer = compute()
    # Under snapshot isolation (SQLite) the transaction may predate the index's commit.
    if not state.gaps and latest_change_seq(db.session) == state.seq:
        engine.keep(key, answer)
    return answer


def _viewable_case(visibility: Visibility, case_id: int) -> CaseStudy | None:
    case = db.session.get(CaseStudy, case_id) if is_valid_id(case_id) else None
    if case is None or not visibility.allows(case):
        return None
    return case


def similar_cases(visibility: Visibility, case_id: int, limit: int = 5) -> list[int]:
    """Case studies from other cities most like ``case_id`` ("more like this"), best first."""
    case = _viewable_case(visibility, case_id)
    if case is None:
        return []
    ext = extension()
    catch_up_if_behind(ext.index)
    with ext.index.searcher() as searcher:
        engine = ext.engine(searcher)
        return list(recall_or_keep(
            engine, ("similar", case.id, case.city.slug, visibility, limit),
            lambda: _similar(searcher, engine, case, visibility, limit)))


def _similar(searcher, engine: Engine, case: CaseStudy, visibility: Visibility,
             limit: int) -> tuple[int, ...]:
    docnum = searcher.document_number(id=str(case.id))
    if docnum is None:
        return ()
    table = engine.table
    allowed = visible_documents(table, visibility) & ~table.value_mask("city", case.city.slug)
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


def other_cities_on_problems(visibility: Visibility, case_id: int,
                             per_city: int = 3) -> list[CityCases]:
    """Other cities with case studies on any of ``case_id``'s problems, most such cases first.

    Within a city, case studies sharing more of the problems come first,
    then the newest.
    """
    case = _viewable_case(visibility, case_id)
    if case is None or not case.problems:
        return []
    ext = extension()
    catch_up_if_behind(ext.index)
    problems = tuple(problem.slug for problem in case.problems)
    with ext.index.searcher() as searcher:
        engine = ext.engine(searcher)
        groups = recall_or_keep(
            engine, ("other cities", case.city.slug, problems, visibility, per_city),
            lambda: _other_cities(engine, case.city.slug, problems, visibility, per_city))
    return [CityCases(city, list(case_ids)) for city, case_ids in groups]


def _other_cities(engine: Engine, city: str, problems: tuple[str, ...], visibility: Visibility,
                  per_city: int) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """(city, case ids) pairs for :func:`other_cities_on_problems`, in its order."""
    table, size = engine.table, engine.size
    candidates = visible_documents(table, visibility) & ~table.value_mask("city", city)
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
