"""Unit tests of kb.services.case_studies: writing, versions, visibility, lookups."""

from __future__ import annotations

import pytest
from factories import case_input
from sqlalchemy import insert, select

from kb.errors import Conflict, NotFound, PermissionDenied, ValidationError
from kb.extensions import db
from kb.models import (
    AdaptationContext,
    CaseStatus,
    CaseStudy,
    ChangeLog,
    ChangeOperation,
    City,
    ProblemOfPractice,
    Revision,
)
from kb.services import case_studies, review
from kb.services.case_studies import CaseInput


def _log(case_id: int) -> list[ChangeOperation]:
    return list(db.session.scalars(
        select(ChangeLog.operation).where(ChangeLog.entity_id == case_id).order_by(ChangeLog.seq)
    ))


def test_create_keeps_a_first_revision_and_cleans_text(taxonomy, users):
    data = case_input(taxonomy, title="  职业教育\u202e 学徒制  ", language="zh",
                      context_ids=[taxonomy["contexts"]["public-funding"]],
                      sources=[("Report", " https://example.org/report "), ("", "")])
    case = case_studies.create_case(users["member"], data, "first")
    db.session.commit()

    assert case.status is CaseStatus.DRAFT and case.version == 1
    assert case.title == "职业教育 学徒制"  # the bidi override is removed, spaces trimmed
    assert case.slug == "职业教育-学徒制"
    assert [(s.label, s.url) for s in case.sources] == [("Report", "https://example.org/report")]
    assert [(r.number, r.message) for r in case.revisions] == [(1, "first")]
    assert case.revisions[0].snapshot["title"] == "职业教育 学徒制"
    assert case.revisions[0].snapshot["contexts"] == ["public-funding"]


def test_validation_reports_every_field_by_caseinput_name(taxonomy, users):
    data = CaseInput(title="", summary="", city_id=None, education_level="nursery",
                     language="xx", year_start=1800, year_end=1700, evidence_level="anecdote",
                     problem_ids=[], context_ids=[2**70], sources=[("", "javascript:alert(1)")])
    with pytest.raises(ValidationError) as raised:
        case_studies.create_case(users["member"], data)
    assert set(raised.value.errors) == {
        "title", "summary", "city_id", "education_level", "language", "year_start", "year_end",
        "evidence_level", "problem_ids", "context_ids", "sources",
    }
    assert db.session.scalar(select(CaseStudy.id)) is None


def test_oversized_title_and_text_are_refused(taxonomy, users):
    with pytest.raises(ValidationError) as raised:
        case_studies.create_case(
            users["member"], case_input(taxonomy, title="x" * 301, body="y" * 51), max_text=50
        )
    assert set(raised.value.errors) == {"title", "body"}


def test_researchers_cannot_write(taxonomy, users):
    with pytest.raises(PermissionDenied):
        case_studies.create_case(users["researcher"], case_input(taxonomy))


def test_retired_terms_are_refused_for_new_cases_but_kept_on_old_ones(taxonomy, users):
    old = taxonomy["problems"]["old-term"]
    with pytest.raises(ValidationError) as raised:
        case_studies.create_case(users["member"], case_input(taxonomy, problem_ids=[old]))
    assert "retired" in raised.value.errors["problem_ids"][0]

    case = case_studies.create_case(users["member"], case_input(taxonomy))
    case.problems.append(db.session.get(ProblemOfPractice, old))  # tagged before it was retired
    db.session.commit()
    data = case_studies.case_to_input(case)
    case_studies.update_case(users["member"], case, data, expected_version=1)
    db.session.commit()
    assert {p.slug for p in case.problems} == {"work-based-learning", "old-term"}


def test_update_makes_a_new_version_and_revision(taxonomy, users):
    case = case_studies.create_case(users["member"], case_input(taxonomy))
    db.session.commit()
    case_studies.update_case(users["facilitator"], case, case_input(taxonomy, title="Renamed"),
                             "retitled", expected_version=1)
    db.session.commit()
    assert case.version == 2 and case.title == "Renamed"
    assert [(r.number, r.author.role.value, r.message) for r in case.revisions] == [
        (2, "facilitator", "retitled"), (1, "member", "Created"),
    ]
    assert case.slug == "employer-led-apprenticeships"  # addresses stay stable across renames


def test_stale_version_is_a_conflict(taxonomy, users):
    case = case_studies.create_case(users["member"], case_input(taxonomy))
    case_studies.update_case(users["member"], case, case_input(taxonomy, title="Second"))
    db.session.commit()
    with pytest.raises(Conflict):
        case_studies.update_case(users["member"], case, case_input(taxonomy, title="Third"),
                                 expected_version=1)


def test_an_edit_racing_another_is_a_conflict_not_a_crash(taxonomy, users):
    case = case_studies.create_case(users["member"], case_input(taxonomy))
    db.session.commit()
    # Another process saved version 2 after this one read version 1.
    db.session.execute(insert(Revision).values(case_study_id=case.id, number=2, snapshot={}))
    db.session.commit()
    with pytest.raises(Conflict):
        case_studies.update_case(users["member"], case, case_input(taxonomy, title="Mine"),
                                 expected_version=1)
    db.session.rollback()
    assert db.session.get(CaseStudy, case.id).title == "Employer-led apprenticeships"


def test_others_cannot_edit_and_only_admins_delete_published(taxonomy, users):
    case = case_studies.create_case(users["member"], case_input(taxonomy))
    with pytest.raises(PermissionDenied):
        case_studies.update_case(users["other_member"], case, case_input(taxonomy))
    review.publish_as_system(case)
    with pytest.raises(PermissionDenied):
        case_studies.delete_case(users["member"], case)
    case_studies.delete_case(users["admin"], case)
    db.session.commit()
    assert db.session.scalar(select(CaseStudy.id)) is None
    assert db.session.scalar(select(Revision.id)) is None


def test_every_change_is_in_the_change_log(taxonomy, users):
    case = case_studies.create_case(users["member"], case_input(taxonomy))
    db.session.commit()
    case_id = case.id
    case_studies.update_case(users["member"], case, case_input(taxonomy, title="Edited"))
    db.session.commit()
    case_studies.delete_case(users["member"], case)
    db.session.commit()
    assert _log(case_id) == [ChangeOperation.UPSERT, ChangeOperation.UPSERT, ChangeOperation.DELETE]


def test_get_case_hides_drafts_and_refuses_malformed_slugs(taxonomy, users):
    case = case_studies.create_case(users["member"], case_input(taxonomy))
    db.session.commit()
    assert case_studies.get_case(users["member"], case.slug) is case
    assert case_studies.get_case(users["facilitator"], case.slug) is case
    for user in (None, users["other_member"], users["researcher"]):
        with pytest.raises(NotFound):
            case_studies.get_case(user, case.slug)
    for slug in ("", "x" * 201, case.slug + "\x00", "a/b", "a b", "<script>", "\ud800"):
        with pytest.raises(NotFound):
            case_studies.get_case(users["admin"], slug)


def test_reserved_words_never_become_slugs(taxonomy, users):
    for title in ("New", "Mine"):
        case = case_studies.create_case(users["member"], case_input(taxonomy, title=title))
        assert case.slug == f"{title.lower()}-2"


def test_list_cases_filters_by_visibility_and_clamps_the_page(taxonomy, users):
    for n in range(3):
        case_studies.create_case(users["member"], case_input(taxonomy, title=f"Case {n}"))
    published = case_studies.create_case(users["other_member"],
                                         case_input(taxonomy, title="Public"))
    review.publish_as_system(published)
    db.session.commit()

    assert [c.title for c in case_studies.list_cases(None).items] == ["Public"]
    assert case_studies.list_cases(users["member"]).total == 4
    assert case_studies.list_cases(users["facilitator"]).total == 4
    mine = case_studies.list_cases(users["member"], author_id=users["member"].id,
                                   per_page=2, page=10**30)
    assert (mine.page, mine.pages, len(mine.items), mine.has_next) == (2, 2, 1, False)


def test_form_choices_offer_retired_terms_only_to_cases_that_carry_them(taxonomy, users):
    fresh = case_studies.form_choices()
    assert "old-term" not in {p.slug for p in fresh.problems}
    assert [c.slug for c in fresh.cities] == ["seoul", "toronto"]

    case = case_studies.create_case(users["member"], case_input(taxonomy))
    case.problems.append(db.session.get(ProblemOfPractice, taxonomy["problems"]["old-term"]))
    retired_context = db.session.get(AdaptationContext, taxonomy["contexts"]["large-system"])
    retired_context.retired = True
    db.session.commit()
    for_case = case_studies.form_choices(case)
    assert [p.slug for p in for_case.problems] == [
        "career-guidance", "old-term", "work-based-learning",
    ]
    assert "large-system" not in {c.slug for c in for_case.contexts}


def test_revision_details_put_the_snapshot_into_words(taxonomy, users):
    data = case_input(taxonomy, year_start=2015, evidence_level="quasi_experimental", language="ko",
                      context_ids=[taxonomy["contexts"]["public-funding"]],
                      body="Illustrative sample data. **Bold** text.")
    case = case_studies.create_case(users["member"], data)
    db.session.commit()
    db.session.get(City, taxonomy["cities"]["toronto"]).name = "Toronto (TDSB)"
    db.session.get(AdaptationContext, taxonomy["contexts"]["public-funding"]).slug = "state-funding"
    db.session.commit()

    details = case_studies.revision_details(users["member"], case, 1)
    assert details.city == ("toronto", "Toronto (TDSB)")
    assert details.problems == [("work-based-learning", "Work-based learning")]
    assert details.contexts == [("public-funding", None)]  # its slug changed since
    assert (details.years, details.evidence_level, details.language, details.status) == (
        "2015\u2013present", "Quasi-experimental", "Korean", "Draft",
    )
    assert details.fields["body"] == "Illustrative sample data. **Bold** text."
    with pytest.raises(NotFound):
        case_studies.revision_details(users["member"], case, 2)
    with pytest.raises(NotFound):
        case_studies.revision_details(None, case, 1)
