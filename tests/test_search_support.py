"""Helpers shared by the search tests (this module holds no tests itself)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kb import search
from kb.extensions import db
from kb.models import CaseStudy, User, latest_change_seq
from kb.search import lifecycle
from kb.search.schema import STATE_DOC_ID
from kb.services import case_studies, review
from kb.services.case_studies import CaseInput


def case_input(taxonomy, **overrides) -> CaseInput:
    """A valid CaseInput (a Toronto work-based-learning case study) with ``overrides``."""
    values = dict(
        title="Employer-led apprenticeships",
        summary="Students spend two days a week with an employer.",
        city_id=taxonomy["cities"]["toronto"],
        education_level="upper_secondary",
        problem_ids=[taxonomy["problems"]["work-based-learning"]],
        body="Illustrative sample data.",
    )
    values.update(overrides)
    return CaseInput(**values)


def add_case(user: User, taxonomy, *, publish: bool = True, **overrides) -> int:
    """Create (and by default publish) a case study through the services; commits."""
    case = case_studies.create_case(user, case_input(taxonomy, **overrides))
    if publish:
        review.publish_as_system(case)
    db.session.commit()
    return case.id


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


@pytest.fixture
def users(app_ctx, people):
    """The ``people`` fixture's users as User objects in the test's app context."""
    return {name: db.session.get(User, user_id) for name, user_id in people.items()}
