"""Unit tests of kb.services.review: every transition, who may take it, the audit log,
proposed edits of published case studies, the queue, and what others never see."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kb import search
from kb.errors import Conflict, NotFound, PermissionDenied, ValidationError
from kb.extensions import db
from kb.models import (
    CaseStatus,
    CaseStudy,
    ProblemOfPractice,
    ProposedEdit,
    ReviewAction,
    ReviewEvent,
    Revision,
)
from kb.services import case_studies, policy, review
from factories import case_input, write_case
from index_checks import assert_index_matches_database

S = CaseStatus


def events(case: CaseStudy) -> list[tuple]:
    """The audit log of ``case``, oldest first, as (action, actor id, from, to, version, comment)."""
    return [
        (e.action, e.actor_id, e.from_state, e.to_state, e.version, e.comment)
        for e in db.session.scalars(
            select(ReviewEvent).where(ReviewEvent.case_study_id == case.id).order_by(ReviewEvent.id)
        )
    ]


# The steps, each taken by the person who may take it on a member's case study.
STEPS = {
    "submit": lambda u, case: review.submit(u["member"], case),
    "withdraw": lambda u, case: review.withdraw(u["member"], case),
    "request_changes": lambda u, case: review.request_changes(u["facilitator"], case, "Fix it."),
    "publish": lambda u, case: review.publish(u["facilitator"], case),
    "archive": lambda u, case: review.archive(u["member"], case),
    "unarchive": lambda u, case: review.unarchive(u["facilitator"], case),
}
# The whole state machine: (state, step) -> the state it leads to. Every other pair is a Conflict.
LEGAL = {
    (S.DRAFT, "submit"): S.SUBMITTED,
    (S.SUBMITTED, "withdraw"): S.DRAFT,
    (S.SUBMITTED, "request_changes"): S.CHANGES_REQUESTED,
    (S.SUBMITTED, "publish"): S.PUBLISHED,
    (S.CHANGES_REQUESTED, "submit"): S.SUBMITTED,
    (S.PUBLISHED, "archive"): S.ARCHIVED,
    (S.ARCHIVED, "unarchive"): S.PUBLISHED,
}
# How to bring a fresh draft into each state.
ROUTE_TO = {
    S.DRAFT: [],
    S.SUBMITTED: ["submit"],
    S.CHANGES_REQUESTED: ["submit", "request_changes"],
    S.PUBLISHED: ["submit", "publish"],
    S.ARCHIVED: ["submit", "publish", "archive"],
}


def case_in(users, taxonomy, state: CaseStatus) -> CaseStudy:
    case = write_case(users["member"], taxonomy, publish=False)
    for step in ROUTE_TO[state]:
        STEPS[step](users, case)
    db.session.commit()
    assert case.status is state
    return case


@pytest.mark.parametrize("state", list(CaseStatus), ids=lambda s: s.value)
@pytest.mark.parametrize("step", list(STEPS))
def test_every_step_from_every_state(taxonomy, users, state, step):
    case = case_in(users, taxonomy, state)
    logged = len(events(case))
    if (state, step) in LEGAL:
        STEPS[step](users, case)
        db.session.commit()
        assert case.status is LEGAL[state, step]
        _action, _actor, from_state, to_state, *_ = events(case)[-1]
        assert (from_state, to_state) == (state, LEGAL[state, step])
        assert len(events(case)) == logged + 1
    else:
        with pytest.raises(Conflict, match=f"This case study is {state.label.lower()}"):
            STEPS[step](users, case)
        db.session.rollback()
        assert db.session.get(CaseStudy, case.id).status is state
        assert len(events(case)) == logged


def test_a_full_review_is_kept_in_the_audit_log(taxonomy, users):
    member, facilitator = users["member"], users["facilitator"]
    case = write_case(users["member"], taxonomy, publish=False)
    review.submit(member, case, "Ready, I think.")
    with pytest.raises(ValidationError) as refused:
        review.request_changes(facilitator, case, "  ")
    assert "comment" in refused.value.errors
    review.request_changes(facilitator, case, "Add the costs.\nAnd a source.")
    case_studies.update_case(member, case, case_input(taxonomy, cost_notes="About 2,000."))
    review.submit(member, case)
    review.publish(facilitator, case, "Thanks.", expected_version=2)
    db.session.commit()

    assert case.status is S.PUBLISHED and case.published_at is not None
    assert events(case) == [
        (ReviewAction.SUBMITTED, member.id, S.DRAFT, S.SUBMITTED, 1, "Ready, I think."),
        (ReviewAction.CHANGES_REQUESTED, facilitator.id, S.SUBMITTED, S.CHANGES_REQUESTED, 1,
         "Add the costs.\nAnd a source."),
        (ReviewAction.SUBMITTED, member.id, S.CHANGES_REQUESTED, S.SUBMITTED, 2, ""),
        (ReviewAction.PUBLISHED, facilitator.id, S.SUBMITTED, S.PUBLISHED, 2, "Thanks."),
    ]
    assert review.history(member, case)[0].action is ReviewAction.PUBLISHED


def test_publishing_again_from_the_archive_keeps_the_first_publication_date(taxonomy, users):
    case = case_in(users, taxonomy, S.PUBLISHED)
    first = case.published_at
    review.archive(users["facilitator"], case, "Programme closed.")
    review.unarchive(users["admin"], case)
    assert case.status is S.PUBLISHED and case.published_at == first


def test_a_decision_on_a_version_the_author_has_replaced_is_refused(taxonomy, users):
    case = case_in(users, taxonomy, S.SUBMITTED)
    case_studies.update_case(users["member"], case, case_input(taxonomy, title="Changed"))
    with pytest.raises(Conflict, match="changed since you opened it"):
        review.publish(users["facilitator"], case, expected_version=1)
    review.publish(users["facilitator"], case, expected_version=2)


def test_comments_are_cleaned_and_bounded(taxonomy, users):
    case = case_in(users, taxonomy, S.SUBMITTED)
    with pytest.raises(ValidationError, match="under 5,000"):
        review.request_changes(users["facilitator"], case, "x" * (review.COMMENT_MAX + 1))
    review.request_changes(users["facilitator"], case, "  Say\x00 more.\r\n ")
    assert events(case)[-1][-1] == "Say more."


# -- who may take which step ------------------------------------------------------

def test_only_the_author_submits_and_withdraws(taxonomy, users):
    case = write_case(users["member"], taxonomy, publish=False)
    for who in ("other_member", "researcher", "facilitator", "admin"):
        with pytest.raises(PermissionDenied):
            review.submit(users[who], case)
    with pytest.raises(PermissionDenied):
        review.submit(None, case)
    review.submit(users["member"], case)
    with pytest.raises(PermissionDenied):
        review.withdraw(users["facilitator"], case)


def test_only_curators_publish_or_request_changes_and_not_on_their_own(taxonomy, users):
    case = case_in(users, taxonomy, S.SUBMITTED)
    for who in ("member", "other_member", "researcher"):
        with pytest.raises(PermissionDenied):
            review.publish(users[who], case)
        with pytest.raises(PermissionDenied):
            review.request_changes(users[who], case, "No.")

    own = write_case(users["facilitator"], taxonomy, publish=False, title="The facilitator's own")
    review.submit(users["facilitator"], own)
    assert not policy.can_review_case(users["facilitator"], own)
    with pytest.raises(PermissionDenied):
        review.publish(users["facilitator"], own)
    with pytest.raises(PermissionDenied):
        review.request_changes(users["facilitator"], own, "Hmm.")
    review.publish(users["admin"], own)
    review.archive(users["facilitator"], own)
    with pytest.raises(PermissionDenied):
        review.unarchive(users["facilitator"], own)
    assert own.status is S.ARCHIVED


def test_self_approval_when_the_network_allows_it(app, taxonomy, users):
    app.config["REVIEW_ALLOW_SELF_APPROVAL"] = True
    own = write_case(users["facilitator"], taxonomy, publish=False, title="The facilitator's own")
    review.submit(users["facilitator"], own)
    review.publish(users["facilitator"], own, "Only facilitator here.")
    assert own.status is S.PUBLISHED
    case_studies.update_case(users["facilitator"], own, case_input(taxonomy, title="Retitled"))
    review.publish_edit(users["facilitator"], own)
    assert own.title == "Retitled" and own.version == 2
    # Still curators only: a member never publishes, even their own.
    mine = case_in(users, taxonomy, S.SUBMITTED)
    with pytest.raises(PermissionDenied):
        review.publish(users["member"], mine)


def test_archiving_is_for_the_author_and_curators(taxonomy, users):
    case = case_in(users, taxonomy, S.PUBLISHED)
    for who in ("other_member", "researcher"):
        with pytest.raises(PermissionDenied):
            review.archive(users[who], case)
    review.archive(users["member"], case)
    # An archived case study is read-only until a reviewer publishes it again.
    with pytest.raises(PermissionDenied):
        case_studies.update_case(users["member"], case, case_input(taxonomy, title="Sneaky"))
    with pytest.raises(PermissionDenied):
        review.unarchive(users["member"], case)


def test_the_system_publishes_with_a_history_and_no_actor(taxonomy, users):
    case = write_case(users["member"], taxonomy, publish=False)
    review.publish_as_system(case, "Imported")
    assert case.status is S.PUBLISHED
    assert events(case) == [
        (ReviewAction.SUBMITTED, None, S.DRAFT, S.SUBMITTED, 1, ""),
        (ReviewAction.PUBLISHED, None, S.SUBMITTED, S.PUBLISHED, 1, "Imported"),
    ]
    with pytest.raises(Conflict):
        review.publish_as_system(case)


# -- proposed edits of published case studies ---------------------------------------

def found(user, text: str) -> list[int]:
    return search.search(policy.case_visibility(user), text).ids


def test_an_edit_of_a_published_case_waits_while_the_published_version_shows(taxonomy, users):
    member, facilitator = users["member"], users["facilitator"]
    case = write_case(users["member"], taxonomy, publish=False, title="Harbour welding academy")
    review.publish_as_system(case)
    db.session.commit()
    changes_before = db.session.scalar(select(func.count()).select_from(Revision))

    case_studies.update_case(member, case, case_input(taxonomy, title="Riverside welding academy"),
                             "Renamed", expected_version=1)
    db.session.commit()
    db.session.expire_all()
    case = db.session.get(CaseStudy, case.id)
    assert (case.title, case.version, case.status) == ("Harbour welding academy", 1, S.PUBLISHED)
    assert db.session.scalar(select(func.count()).select_from(Revision)) == changes_before
    assert case.proposed_edit.snapshot["title"] == "Riverside welding academy"
    assert case.proposed_edit.snapshot["version"] == 2
    for who in (None, users["other_member"], member, facilitator):
        assert found(who, "harbour") == [case.id]
        assert found(who, "riverside") == []
    assert_index_matches_database()

    review.publish_edit(facilitator, case, "Good.", expected_saves=1)
    db.session.commit()
    assert (case.title, case.version, case.proposed_edit) == ("Riverside welding academy", 2, None)
    newest = case.revisions[0]
    assert (newest.number, newest.author_id, newest.message) == (2, member.id, "Renamed")
    assert newest.snapshot["status"] == "published"
    assert found(None, "riverside") == [case.id] and found(None, "harbour") == []
    assert_index_matches_database()
    assert [e[:4] for e in events(case)[-2:]] == [
        (ReviewAction.EDIT_SUBMITTED, member.id, S.PUBLISHED, S.PUBLISHED),
        (ReviewAction.EDIT_PUBLISHED, facilitator.id, S.PUBLISHED, S.PUBLISHED),
    ]
    assert events(case)[-1][4:] == (2, "Good.")
    assert db.session.scalar(select(func.count()).select_from(ProposedEdit)) == 0


def test_an_edit_sent_back_is_revised_and_decided_on_its_latest_save(taxonomy, users):
    member, facilitator = users["member"], users["facilitator"]
    case = case_in(users, taxonomy, S.PUBLISHED)
    case_studies.update_case(member, case, case_input(taxonomy, summary="Shorter."))
    with pytest.raises(ValidationError):
        review.request_edit_changes(facilitator, case, "")
    review.request_edit_changes(facilitator, case, "Too short now.", expected_saves=1)
    assert case.proposed_edit.status is S.CHANGES_REQUESTED
    with pytest.raises(Conflict, match="sent back"):
        review.publish_edit(facilitator, case)
    with pytest.raises(Conflict, match="sent back"):
        review.request_edit_changes(facilitator, case, "Again.")

    case_studies.update_case(member, case, case_input(taxonomy, summary="Shorter, but clear."))
    edit = case.proposed_edit
    assert (edit.status, edit.saves, edit.snapshot["summary"]) == (
        S.SUBMITTED, 2, "Shorter, but clear.")
    with pytest.raises(Conflict, match="saved again"):
        review.publish_edit(facilitator, case, expected_saves=1)
    review.publish_edit(facilitator, case, expected_saves=2)
    assert case.summary == "Shorter, but clear." and case.version == 2
    assert [e[0] for e in events(case)][-4:] == [
        ReviewAction.EDIT_SUBMITTED, ReviewAction.EDIT_CHANGES_REQUESTED,
        ReviewAction.EDIT_SUBMITTED, ReviewAction.EDIT_PUBLISHED,
    ]


def test_who_decides_on_a_proposed_edit(taxonomy, users):
    case = case_in(users, taxonomy, S.PUBLISHED)
    case_studies.update_case(users["member"], case, case_input(taxonomy, title="New title"))
    for who in ("member", "researcher", "other_member"):
        with pytest.raises((PermissionDenied, NotFound)):
            review.publish_edit(users[who], case)
    # Others do not even learn that an edit waits.
    for who in (None, users["other_member"], users["researcher"]):
        with pytest.raises(NotFound):
            review.get_proposed_edit(who, case)
        assert review.history(who, case) == []
    with pytest.raises(PermissionDenied):
        review.withdraw_edit(users["facilitator"], case)

    review.withdraw_edit(users["member"], case, "Not now.")
    assert case.proposed_edit is None and case.title == "Employer-led apprenticeships"
    assert events(case)[-1][:2] == (ReviewAction.EDIT_WITHDRAWN, users["member"].id)
    with pytest.raises(NotFound):
        review.publish_edit(users["facilitator"], case)


def test_a_curators_own_edit_of_a_published_case_goes_through_review(app, taxonomy, users):
    case = case_in(users, taxonomy, S.PUBLISHED)
    facilitator = users["facilitator"]
    case_studies.update_case(facilitator, case, case_input(taxonomy, title="Curated title"))
    assert case.title == "Employer-led apprenticeships"
    assert case.proposed_edit.author_id == facilitator.id
    with pytest.raises(PermissionDenied):
        review.publish_edit(facilitator, case)  # their own edit
    review.publish_edit(users["admin"], case)
    db.session.commit()
    assert case.title == "Curated title"
    assert case.revisions[0].author_id == facilitator.id


def test_an_edit_identical_to_the_published_version_is_refused(taxonomy, users):
    case = case_in(users, taxonomy, S.PUBLISHED)
    with pytest.raises(ValidationError, match="published version unchanged"):
        case_studies.update_case(users["member"], case, case_studies.case_to_input(case))
    assert case.proposed_edit is None


def test_an_edit_that_waits_blocks_archiving(taxonomy, users):
    case = case_in(users, taxonomy, S.PUBLISHED)
    case_studies.update_case(users["member"], case, case_input(taxonomy, title="New title"))
    with pytest.raises(Conflict, match="waits for review"):
        review.archive(users["member"], case)


def test_an_edit_using_a_term_retired_since_cannot_be_published(taxonomy, users):
    case = case_in(users, taxonomy, S.PUBLISHED)
    guidance = taxonomy["problems"]["career-guidance"]
    case_studies.update_case(users["member"], case, case_input(taxonomy, problem_ids=[guidance]))
    db.session.get(ProblemOfPractice, guidance).retired = True
    with pytest.raises(ValidationError):
        review.publish_edit(users["facilitator"], case)
    db.session.rollback()
    assert db.session.get(CaseStudy, case.id).version == 1


def test_the_edit_form_starts_from_the_proposed_edit(taxonomy, users):
    case = case_in(users, taxonomy, S.PUBLISHED)
    assert review.proposed_input(users["member"], case) == case_studies.case_to_input(case)
    wanted = case_input(taxonomy, title="Proposed title", sources=[("Report", "https://e.org/r")])
    case_studies.update_case(users["member"], case, wanted)
    assert review.proposed_input(users["member"], case) == wanted


def test_deleting_a_case_study_deletes_its_review(taxonomy, users):
    case = case_in(users, taxonomy, S.PUBLISHED)
    case_studies.update_case(users["member"], case, case_input(taxonomy, title="New title"))
    db.session.commit()
    case_studies.delete_case(users["admin"], case)
    db.session.commit()
    for model in (ReviewEvent, ProposedEdit):
        assert db.session.scalar(select(func.count()).select_from(model)) == 0


# -- what others never see -------------------------------------------------------------

@pytest.mark.parametrize("state", [S.DRAFT, S.SUBMITTED, S.CHANGES_REQUESTED, S.ARCHIVED],
                         ids=lambda s: s.value)
def test_unpublished_case_studies_stay_with_their_author_and_curators(taxonomy, users, state):
    case = case_in(users, taxonomy, state)
    db.session.commit()
    for who in (None, users["other_member"], users["researcher"]):
        with pytest.raises(NotFound):
            case_studies.get_case(who, case.slug)
        assert found(who, "apprenticeships") == []
        assert case.id not in [c.id for c in case_studies.list_cases(who).items]
    for who in (users["member"], users["facilitator"], users["admin"]):
        assert case_studies.get_case(who, case.slug) is case
        assert found(who, "apprenticeships") == [case.id]
        assert review.history(who, case) or state is S.DRAFT


# -- the queue ---------------------------------------------------------------------------

def test_the_queue_lists_what_waits_oldest_first(taxonomy, users):
    first = case_in(users, taxonomy, S.SUBMITTED)
    facilitators_own = write_case(users["facilitator"], taxonomy, publish=False, title="Own")
    review.submit(users["facilitator"], facilitators_own)
    sent_back = case_in(users, taxonomy, S.CHANGES_REQUESTED)
    published = case_in(users, taxonomy, S.PUBLISHED)
    case_studies.update_case(users["member"], published, case_input(taxonomy, title="Edit"))
    case_in(users, taxonomy, S.DRAFT)
    # Submitted again after the others: last in the queue.
    review.withdraw(users["member"], first)
    review.submit(users["member"], first)
    db.session.commit()

    for who in ("member", "researcher", "other_member"):
        with pytest.raises(PermissionDenied):
            review.queue(users[who])
    waiting = review.queue(users["facilitator"])
    assert [(i.case.id, i.mine) for i in waiting.submissions] == [
        (facilitators_own.id, True), (first.id, False)]
    assert [(i.case.id, i.edit.author_id) for i in waiting.edits] == [
        (published.id, users["member"].id)]
    assert [i.case.id for i in waiting.returned] == [sent_back.id]
    assert waiting.waiting == 3
    assert not any(i.mine for i in review.queue(users["admin"]).submissions)


def test_the_queue_shows_edits_sent_back_with_the_submissions_sent_back(taxonomy, users):
    published = case_in(users, taxonomy, S.PUBLISHED)
    case_studies.update_case(users["member"], published, case_input(taxonomy, title="Edit"))
    review.request_edit_changes(users["admin"], published, "Why?")
    waiting = review.queue(users["facilitator"])
    assert waiting.edits == [] and [i.edit for i in waiting.returned] == [published.proposed_edit]


def test_review_steps_change_the_state_and_never_the_content(taxonomy, users):
    case = write_case(users["member"], taxonomy, publish=False)
    for step in ("submit", "publish", "archive", "unarchive"):
        STEPS[step](users, case)
    assert [r.number for r in case.revisions] == [1] and case.version == 1
    assert case_studies.case_to_input(case) == case_input(taxonomy)
