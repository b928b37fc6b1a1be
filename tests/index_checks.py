"""Checks of the search index against the database, for the tests of indexing and of writes."""

from __future__ import annotations

from sqlalchemy import select

from kb import search
from kb.extensions import db
from kb.models import CaseStudy, latest_change_seq
from kb.search import lifecycle
from kb.search.schema import STATE_DOC_ID


def indexed_ids() -> set[int]:
    """Case study ids of the live documents in the index."""
    index = lifecycle.extension().index
    with index.searcher() as searcher:
        return {int(fields["id"]) for fields in searcher.all_stored_fields()
                if fields["id"] != STATE_DOC_ID}


def database_ids() -> set[int]:
    """Case study ids in the database."""
    return set(db.session.scalars(select(CaseStudy.id)))


def assert_index_matches_database() -> None:
    """The index holds exactly the database's case studies, each up to date."""
    drift = search.check()
    assert drift.ok, drift
    assert indexed_ids() == database_ids()
    assert search.index_state().seq == latest_change_seq(db.session)


def ids(results) -> list[int]:
    """The case ids of a SearchResults page."""
    return list(results.ids)
