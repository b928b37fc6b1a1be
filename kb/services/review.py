"""Review: a case study goes from draft to published through a curator, and every step is kept.

States (:class:`~kb.models.CaseStatus`) and the steps between them::

    draft --submit--> submitted --publish--> published --archive--> archived
      ^                 |   ^                    ^                      |
      +----withdraw-----+   | submit             +------unarchive-------+
                        v   |
                  changes requested
            (request_changes, with a comment)

The author submits and may withdraw a submission while it waits; a
reviewer (facilitator or admin, never on their own case study unless
``REVIEW_ALLOW_SELF_APPROVAL``, see :mod:`kb.services.policy`) publishes it
or sends it back with a comment; the author or a curator archives a
published case study, which leaves the public pages and index but stays
readable to its author and the curators; a reviewer publishes it again.

An edit of a published case study (:func:`kb.services.case_studies.update_case`)
waits as a proposed edit while the published version stays on show; a
reviewer publishes it as the next version or sends it back, and whoever
proposed it may withdraw it. The same self-approval rule applies to
proposed edits, a curator's own edits included.

Every step adds a :class:`~kb.models.ReviewEvent` (who, when, from, to,
comment). A step that is not allowed from the current state raises
:class:`~kb.errors.Conflict`; one the user may not take,
:class:`~kb.errors.PermissionDenied`; a missing or too long comment,
:class:`~kb.errors.ValidationError`. Like every service, nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from kb.errors import Conflict, NotFound, PermissionDenied, ValidationError
from kb.extensions import db
from kb.models import (
    CaseStatus,
    CaseStudy,
    ProposedEdit,
    ReviewAction,
    ReviewEvent,
    User,
    utcnow,
)
from kb.sanitize import clean_text
from kb.services import case_studies, policy, revisions
from kb.services.case_studies import CaseInput
from kb.services.revisions import RevisionDiff

COMMENT_MAX = 5_000
_STALE_REVIEW = (
    "The case study changed since you opened it: read the new version before deciding."
)


@dataclass(frozen=True)
class _Transition:
    """A step of the workflow: the states it starts from, the state it ends in, and its verb."""

    sources: frozenset[CaseStatus]
    target: CaseStatus
    verb: str  # completes "This case study is <state>: it cannot be <verb>."


_TRANSITIONS: dict[ReviewAction, _Transition] = {
    ReviewAction.SUBMITTED: _Transition(
        frozenset({CaseStatus.DRAFT, CaseStatus.CHANGES_REQUESTED}), CaseStatus.SUBMITTED,
        "submitted for review"),
    ReviewAction.WITHDRAWN: _Transition(
        frozenset({CaseStatus.SUBMITTED}), CaseStatus.DRAFT, "withdrawn from review"),
    ReviewAction.CHANGES_REQUESTED: _Transition(
        frozenset({CaseStatus.SUBMITTED}), CaseStatus.CHANGES_REQUESTED, "sent back for changes"),
    ReviewAction.PUBLISHED: _Transition(
        frozenset({CaseStatus.SUBMITTED}), CaseStatus.PUBLISHED, "published"),
    ReviewAction.ARCHIVED: _Transition(
        frozenset({CaseStatus.PUBLISHED}), CaseStatus.ARCHIVED, "archived"),
    ReviewAction.UNARCHIVED: _Transition(
        frozenset({CaseStatus.ARCHIVED}), CaseStatus.PUBLISHED, "published again from the archive"),
}


def _comment(text: str | None, *, required: str | None = None) -> str:
    """``text`` cleaned; ValidationError when it is too long, or empty and ``required`` says why."""
    comment = clean_text(text or "")
    if len(comment) > COMMENT_MAX:
        raise ValidationError({"comment": [f"Keep the comment under {COMMENT_MAX:,} characters."]})
    if required and not comment:
        raise ValidationError({"comment": [required]})
    return comment


def _check_version(case: CaseStudy, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != case.version:
        raise Conflict(_STALE_REVIEW)


def _move(actor: User | None, case: CaseStudy, action: ReviewAction, comment: str | None, *,
          required: str | None = None) -> CaseStudy:
    """Take the step ``action`` if ``case``'s state allows it, and log it with ``comment``.

    The state is checked before the comment (``required`` says why an empty
    one is refused), so a stale page learns first that the step is gone.
    """
    transition = _TRANSITIONS[action]
    if case.status not in transition.sources:
        raise Conflict(
            f"This case study is {case.status.label.lower()}: it cannot be {transition.verb}."
        )
    comment = _comment(comment, required=required)
    previous = case.status
    case.status = transition.target
    case.updated_at = utcnow()
    if transition.target is CaseStatus.PUBLISHED and case.published_at is None:
        case.published_at = case.updated_at
    case_studies.record_review_event(case, actor, action, previous, comment)
    db.session.flush()
    return case


# Submissions ----------------------------------------------------------------

def submit(user: User | None, case: CaseStudy, comment: str = "") -> CaseStudy:
    """The author sends a draft, or a case study sent back with comments, for review."""
    if not policy.can_submit_case(user, case):
        raise PermissionDenied("Only the author submits a case study for review.")
    return _move(user, case, ReviewAction.SUBMITTED, comment)


def withdraw(user: User | None, case: CaseStudy, comment: str = "") -> CaseStudy:
    """The author takes a submission back while it waits, to keep writing; it is a draft again."""
    if not policy.can_submit_case(user, case):
        raise PermissionDenied("Only the author withdraws a submission.")
    return _move(user, case, ReviewAction.WITHDRAWN, comment)


def request_changes(user: User | None, case: CaseStudy, comment: str) -> CaseStudy:
    """A reviewer sends a submission back to its author, saying what should change."""
    if not policy.can_review_case(user, case):
        raise PermissionDenied("You cannot review this case study.")
    return _move(user, case, ReviewAction.CHANGES_REQUESTED, comment,
                 required="Say what the author should change.")


def publish(user: User | None, case: CaseStudy, comment: str = "", *,
            expected_version: int | None = None) -> CaseStudy:
    """A reviewer publishes a submission: everyone can read and find it from now on.

    ``expected_version`` is the version the reviewer read; if the author
    saved another since, the decision is refused (Conflict).
    """
    if not policy.can_review_case(user, case):
        raise PermissionDenied("You cannot publish this case study.")
    _check_version(case, expected_version)
    return _move(user, case, ReviewAction.PUBLISHED, comment)


def archive(user: User | None, case: CaseStudy, comment: str = "") -> CaseStudy:
    """The author or a curator takes a published case study out of public view.

    Refused while an edit of it waits for review: decide on that first.
    """
    if not policy.can_archive_case(user, case):
        raise PermissionDenied("You cannot archive this case study.")
    if case.proposed_edit is not None:
        raise Conflict("An edit of this case study waits for review: "
                       "publish it, send it back or withdraw it before archiving.")
    return _move(user, case, ReviewAction.ARCHIVED, comment)


def unarchive(user: User | None, case: CaseStudy, comment: str = "") -> CaseStudy:
    """A reviewer publishes an archived case study again, as it was archived."""
    if not policy.can_review_case(user, case):
        raise PermissionDenied("You cannot publish this case study.")
    return _move(user, case, ReviewAction.UNARCHIVED, comment)


def publish_as_system(case: CaseStudy, comment: str = "") -> CaseStudy:
    """Publish ``case`` with no reviewer: for data loaded by the operator and test set-ups.

    No web page calls this. It takes the same steps a person's case study
    does (submitted unless it already is, then published), each logged with
    no actor, so nothing is published without a history; a case study in
    any other state is a Conflict.
    """
    if case.status in _TRANSITIONS[ReviewAction.SUBMITTED].sources:
        _move(None, case, ReviewAction.SUBMITTED, "")
    return _move(None, case, ReviewAction.PUBLISHED, comment)


# Proposed edits of published case studies -----------------------------------

def get_proposed_edit(user: User | None, case: CaseStudy) -> ProposedEdit:
    """The edit of ``case`` waiting for review; NotFound when there is none or ``user`` may not see it."""
    edit = case.proposed_edit
    if edit is None or not policy.can_see_review(user, case):
        raise NotFound("No edit of this case study waits for review.")
    return edit


def _check_saves(edit: ProposedEdit, expected_saves: int | None) -> None:
    if expected_saves is not None and expected_saves != edit.saves:
        raise Conflict("The proposed edit was saved again since you opened it: "
                       "read it again before deciding.")


def _decided_edit(user: User | None, case: CaseStudy, expected_saves: int | None) -> ProposedEdit:
    """The proposed edit ``user`` is about to decide on, once they are allowed to.

    Like a submission, an edit sent back waits for its proposer to save it
    again before anyone decides on it.
    """
    edit = get_proposed_edit(user, case)
    if not policy.can_review_edit(user, case, edit):
        raise PermissionDenied("You cannot review this proposed edit.")
    _check_saves(edit, expected_saves)
    if edit.status is not CaseStatus.SUBMITTED:
        raise Conflict("This proposed edit was sent back for changes: it waits for its author.")
    return edit


def proposed_input(user: User | None, case: CaseStudy) -> CaseInput:
    """What the edit form of ``case`` starts from: its proposed edit if one waits, else itself."""
    if case.proposed_edit is None or not policy.can_see_review(user, case):
        return case_studies.case_to_input(case)
    snapshot = case.proposed_edit.snapshot
    return revisions.input_from_snapshot(case, snapshot.get("version", case.version + 1),
                                         snapshot, [])


def publish_edit(user: User | None, case: CaseStudy, comment: str = "", *,
                 expected_saves: int | None = None, max_text: int | None = None) -> CaseStudy:
    """A reviewer publishes the proposed edit of ``case`` as its next version.

    ``expected_saves`` is the save of the proposed edit the reviewer read.
    A term merged since it was proposed is replaced by the term it was
    merged into; one retired or deleted since makes the edit a
    ValidationError, to send back.
    """
    edit = _decided_edit(user, case, expected_saves)
    comment = _comment(comment)
    snapshot = edit.snapshot
    data = revisions.input_from_snapshot(case, snapshot.get("version", case.version + 1),
                                         snapshot, [])
    case_studies.publish_proposed_edit(user, case, data, max_text=max_text)
    case_studies.record_review_event(case, user, ReviewAction.EDIT_PUBLISHED, case.status, comment)
    db.session.flush()
    return case


def request_edit_changes(user: User | None, case: CaseStudy, comment: str, *,
                         expected_saves: int | None = None) -> ProposedEdit:
    """A reviewer sends the proposed edit of ``case`` back to whoever proposed it, with a comment."""
    edit = _decided_edit(user, case, expected_saves)
    comment = _comment(comment, required="Say what should change in the proposed edit.")
    edit.status = CaseStatus.CHANGES_REQUESTED
    case_studies.record_review_event(case, user, ReviewAction.EDIT_CHANGES_REQUESTED,
                                     case.status, comment)
    db.session.flush()
    return edit


def withdraw_edit(user: User | None, case: CaseStudy, comment: str = "") -> CaseStudy:
    """Whoever proposed the edit of ``case`` discards it; the published version stays as it is."""
    edit = get_proposed_edit(user, case)
    if not policy.can_withdraw_edit(user, edit):
        raise PermissionDenied("Only whoever proposed this edit withdraws it.")
    comment = _comment(comment)
    case.proposed_edit = None
    case_studies.record_review_event(case, user, ReviewAction.EDIT_WITHDRAWN, case.status, comment)
    db.session.flush()
    return case


def edit_diff(user: User | None, case: CaseStudy) -> RevisionDiff:
    """The proposed edit of ``case`` compared field by field with the published version."""
    proposed = case_studies.proposed_edit_details(user, case)
    diff = revisions.diff_details(
        case, case_studies.revision_details(user, case, case.version), proposed
    )
    # The published revision may have been saved as a draft: the status it
    # was saved with says nothing about what the edit changes.
    diff.fields = [field for field in diff.fields if field.name != "status"]
    return diff


# What a page shows ------------------------------------------------------------

def history(user: User | None, case: CaseStudy) -> list[ReviewEvent]:
    """The audit log of ``case``, newest first; empty for those who may not see its review."""
    if not policy.can_see_review(user, case):
        return []
    return db.session.scalars(
        select(ReviewEvent)
        .where(ReviewEvent.case_study_id == case.id)
        .options(selectinload(ReviewEvent.actor))
        .order_by(ReviewEvent.id.desc())
    ).all()


@dataclass
class QueueItem:
    """A case study, or a proposed edit of one, waiting for a decision since ``since``.

    ``mine``: the reviewer looking at the queue may not decide on it, being
    its author (or the edit's) with self-approval off.
    """

    case: CaseStudy
    since: datetime
    edit: ProposedEdit | None = None
    mine: bool = False


@dataclass
class ReviewQueue:
    """What waits: submissions and proposed edits for reviewers, oldest first, and what went back."""

    submissions: list[QueueItem]
    edits: list[QueueItem]
    returned: list[QueueItem]

    @property
    def waiting(self) -> int:
        return len(self.submissions) + len(self.edits)


def _last_step_times(case_ids: list[int], action: ReviewAction) -> dict[int, datetime]:
    """When each case study last took the step ``action``."""
    if not case_ids:
        return {}
    return dict(db.session.execute(
        select(ReviewEvent.case_study_id, func.max(ReviewEvent.created_at))
        .where(ReviewEvent.case_study_id.in_(case_ids), ReviewEvent.action == action)
        .group_by(ReviewEvent.case_study_id)
    ).all())


def queue(user: User | None) -> ReviewQueue:
    """The review queue; only facilitators and admins see it."""
    if not policy.can_review_cases(user):
        raise PermissionDenied("Only facilitators and admins review case studies.")
    waiting = db.session.scalars(
        select(CaseStudy)
        .where(CaseStudy.status.in_([CaseStatus.SUBMITTED, CaseStatus.CHANGES_REQUESTED]))
        .options(selectinload(CaseStudy.city), selectinload(CaseStudy.author))
    ).all()
    submitted = _last_step_times([c.id for c in waiting], ReviewAction.SUBMITTED)
    sent_back = _last_step_times([c.id for c in waiting], ReviewAction.CHANGES_REQUESTED)
    submissions = [
        QueueItem(case=case, since=submitted.get(case.id, case.updated_at),
                  mine=not policy.can_review_case(user, case))
        for case in waiting if case.status is CaseStatus.SUBMITTED
    ]
    returned = [
        QueueItem(case=case, since=sent_back.get(case.id, case.updated_at))
        for case in waiting if case.status is CaseStatus.CHANGES_REQUESTED
    ]
    edits_proposed = db.session.scalars(
        select(ProposedEdit).options(
            selectinload(ProposedEdit.case_study).selectinload(CaseStudy.city),
            selectinload(ProposedEdit.author),
        )
    ).all()
    edits_sent_back = _last_step_times([e.case_study_id for e in edits_proposed],
                                       ReviewAction.EDIT_CHANGES_REQUESTED)
    edits, returned_edits = [], []
    for edit in edits_proposed:
        if edit.status is CaseStatus.SUBMITTED:
            edits.append(QueueItem(case=edit.case_study, since=edit.updated_at, edit=edit,
                                   mine=not policy.can_review_edit(user, edit.case_study, edit)))
        else:
            returned_edits.append(QueueItem(
                case=edit.case_study, edit=edit,
                since=edits_sent_back.get(edit.case_study_id, edit.updated_at)))
    return ReviewQueue(submissions=_oldest_first(submissions), edits=_oldest_first(edits),
                       returned=_oldest_first(returned + returned_edits))


def _oldest_first(items: list[QueueItem]) -> list[QueueItem]:
    return sorted(items, key=lambda item: (item.since, item.case.id))
