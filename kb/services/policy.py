"""Who may see and do what. Every view, service, feed and search filter asks here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import ColumnElement, or_, true

from kb.models import (
    Adaptation, CaseStatus, CaseStudy, Collection, CollectionVisibility, ProposedEdit, Role, User,
)


def _signed_in(user: User | None) -> bool:
    return user is not None and getattr(user, "is_authenticated", False)


@dataclass(frozen=True)
class CaseVisibility:
    """Which case studies a user may see: the one statement of that rule.

    Published case studies are public; the signed-in author sees their own
    in any status; facilitators and admins see everything. Pages ask
    :func:`can_view_case` and :func:`visible_cases_clause`, queries of
    public counts :func:`public_cases_clause`, and search receives the value
    itself (:meth:`documents` over its index), which also keys what search
    remembers:
    users who may see the same case studies share it, no one else.
    """

    statuses: frozenset[CaseStatus]
    author_id: int | None = None  # whose case studies are seen in any status

    @property
    def sees_everything(self) -> bool:
        """Every status is visible, so no case study is hidden."""
        return self.statuses == _EVERY_STATUS

    def allows(self, case: CaseStudy) -> bool:
        """Whether ``case`` is visible."""
        return case.status in self.statuses or (
            self.author_id is not None and case.author_id == self.author_id)

    def clause(self) -> ColumnElement[bool]:
        """A SQL condition selecting the visible case studies."""
        if self.sees_everything:
            return true()
        condition = or_(*(CaseStudy.status == status for status in CaseStatus
                          if status in self.statuses))
        if self.author_id is not None:
            return or_(condition, CaseStudy.author_id == self.author_id)
        return condition

    def documents(self, holding: Callable[[str, str], int], every: int) -> int:
        """The rule over an index's document bit sets, for search.

        ``holding(field, value)`` gives the documents whose ``status`` or
        ``author`` field holds ``value``; ``every`` is every live document.
        """
        if self.sees_everything:
            return every
        visible = 0
        for status in self.statuses:
            visible |= holding("status", status.value)
        if self.author_id is not None:
            visible |= holding("author", str(self.author_id))
        return visible & every


_EVERY_STATUS = frozenset(CaseStatus)
_PUBLIC = frozenset({CaseStatus.PUBLISHED})


def case_visibility(user: User | None) -> CaseVisibility:
    """What ``user`` may see: everything for curators, their own work too for authors."""
    if not _signed_in(user):
        return CaseVisibility(_PUBLIC)
    if user.is_facilitator:
        return CaseVisibility(_EVERY_STATUS)
    return CaseVisibility(_PUBLIC, user.id)


def can_view_case(user: User | None, case: CaseStudy) -> bool:
    """Published case studies are public; others only for their author and curators."""
    return case_visibility(user).allows(case)


def visible_cases_clause(user: User | None) -> ColumnElement[bool]:
    """A SQL condition selecting the case studies ``user`` may see."""
    return case_visibility(user).clause()


def public_cases_clause() -> ColumnElement[bool]:
    """A SQL condition selecting the case studies everyone may see, for public counts."""
    return case_visibility(None).clause()


def can_create_case(user: User | None) -> bool:
    """Working-group members, facilitators and admins write case studies."""
    return _signed_in(user) and user.has_role(Role.MEMBER)


def _is_author(user: User | None, case: CaseStudy) -> bool:
    """The signed-in author of ``case``, while their role still lets them write."""
    return _signed_in(user) and case.author_id == user.id and user.has_role(Role.MEMBER)


def can_edit_case(user: User | None, case: CaseStudy) -> bool:
    """The author (while a member) and curators edit a case study, unless it is archived.

    An edit of a published case study waits for review as a proposed edit
    (:func:`kb.services.case_studies.update_case`). An archived one is
    read-only: a reviewer publishes it again before anyone changes it.
    """
    if case.status is CaseStatus.ARCHIVED:
        return False
    return _is_author(user, case) or (_signed_in(user) and user.is_facilitator)


# Review ---------------------------------------------------------------------
# Curators (facilitators and admins) review; nobody publishes their own
# work unless REVIEW_ALLOW_SELF_APPROVAL says the network has a single
# facilitator. "Their own work" is a case study they wrote, or a proposed
# edit they wrote or saved last.

def _self_approval_allowed() -> bool:
    return bool(current_app.config.get("REVIEW_ALLOW_SELF_APPROVAL", False))


def can_see_review(user: User | None, case: CaseStudy) -> bool:
    """The review history, its comments and any proposed edit: the author and curators only."""
    return _signed_in(user) and (user.is_facilitator or case.author_id == user.id)


def can_submit_case(user: User | None, case: CaseStudy) -> bool:
    """The author sends their case study for review, and may take it back while it waits."""
    return _is_author(user, case)


def can_review_cases(user: User | None) -> bool:
    """Facilitators and admins review: they see the queue and decide on submissions."""
    return _signed_in(user) and user.is_facilitator


def can_review_case(user: User | None, case: CaseStudy) -> bool:
    """A curator publishes, sends back or brings back from the archive a case study not their own."""
    if not can_review_cases(user):
        return False
    return _self_approval_allowed() or case.author_id != user.id


def can_review_edit(user: User | None, case: CaseStudy, edit: ProposedEdit) -> bool:
    """A curator publishes or sends back a proposed edit that is neither their case nor their edit."""
    if not can_review_case(user, case):
        return False
    return _self_approval_allowed() or edit.author_id != user.id


def can_withdraw_edit(user: User | None, edit: ProposedEdit) -> bool:
    """Whoever saved a proposed edit last may withdraw it."""
    return _signed_in(user) and edit.author_id == user.id


def can_archive_case(user: User | None, case: CaseStudy) -> bool:
    """The author or a curator takes a published case study out of public view."""
    return _is_author(user, case) or can_review_cases(user)


def can_delete_case(user: User | None, case: CaseStudy) -> bool:
    """Admins delete any case study; authors delete their own unpublished drafts."""
    if not _signed_in(user):
        return False
    if user.is_admin:
        return True
    return case.author_id == user.id and case.status is CaseStatus.DRAFT and user.has_role(Role.MEMBER)


def can_curate_vocabularies(user: User | None) -> bool:
    """Facilitators and admins keep cities, problems and contexts."""
    return _signed_in(user) and user.is_facilitator


def can_manage_users(user: User | None) -> bool:
    """Only admins create, deactivate and change the role of accounts."""
    return _signed_in(user) and user.is_admin


def can_hold_api_tokens(user: User | None) -> bool:
    """Every signed-in account may create API tokens, which act with its own rights."""
    return _signed_in(user)


def can_import_cases(user: User | None) -> bool:
    """Facilitators and admins load case studies in bulk from a file (as their author)."""
    return _signed_in(user) and user.is_facilitator


# Collections ---------------------------------------------------------------
# Every signed-in account makes collections, researchers included: comparing
# and collecting is their work. Private means private: a private collection
# is seen by its owner alone, by no role (admins included) and by no path
# (pages, exports, feeds). Only a public collection has a feed.

def can_create_collection(user: User | None) -> bool:
    """Any signed-in user makes collections."""
    return _signed_in(user)


def _owns(user: User | None, collection: Collection) -> bool:
    return _signed_in(user) and collection.owner_id == user.id


def can_view_collection(user: User | None, collection: Collection) -> bool:
    """Public: everyone; network: everyone signed in; private: its owner only."""
    if collection.visibility is CollectionVisibility.PUBLIC:
        return True
    if collection.visibility is CollectionVisibility.NETWORK:
        return _signed_in(user)
    return _owns(user, collection)


def visible_collections_clause(user: User | None) -> ColumnElement[bool]:
    """A SQL condition selecting the collections ``user`` may see."""
    public = Collection.visibility == CollectionVisibility.PUBLIC
    if not _signed_in(user):
        return public
    return or_(public, Collection.visibility == CollectionVisibility.NETWORK,
               Collection.owner_id == user.id)


def can_edit_collection(user: User | None, collection: Collection) -> bool:
    """Only the owner changes a collection: its text, visibility, items, order and notes."""
    return _owns(user, collection)


def can_delete_collection(user: User | None, collection: Collection) -> bool:
    """The owner deletes a collection; an admin may take down one that others can see."""
    if _owns(user, collection):
        return True
    return _signed_in(user) and user.is_admin and not collection.is_private


def can_feature_collections(user: User | None) -> bool:
    """Facilitators and admins feature (and unfeature) collections others can see."""
    return _signed_in(user) and user.is_facilitator


# Adaptation lineage and context fit ------------------------------------------
# A link between two case studies (one city taking up another's practice)
# belongs to the adapting case study: its author and the curators record,
# change and remove it, whatever its state (a practice tried and dropped may
# well be archived). A link is seen by whoever may see both of its case
# studies, and by no one else, on any page.

def can_record_adaptation(user: User | None, adapting: CaseStudy) -> bool:
    """The author of ``adapting`` (while a member) and curators say which practice it adapts."""
    return _is_author(user, adapting) or (_signed_in(user) and user.is_facilitator)


def can_view_adaptation(user: User | None, adaptation: Adaptation) -> bool:
    """A link is shown to whoever may see both the practice and the city's version of it."""
    return can_view_case(user, adaptation.source) and can_view_case(user, adaptation.adapting)


def can_edit_adaptation(user: User | None, adaptation: Adaptation) -> bool:
    """Whoever may record links for the adapting case study changes and removes them."""
    return can_record_adaptation(user, adaptation.adapting)


def can_compare_contexts(user: User | None) -> bool:
    """Context fit compares with the user's own city: any signed-in account (it may lack one)."""
    return _signed_in(user)
