"""The curated vocabularies: problems of practice and adaptation contexts.

Both vocabularies behave the same way, so every function here takes the
model (:class:`~kb.models.ProblemOfPractice` or
:class:`~kb.models.AdaptationContext`) and works on either; the little that
differs lives in :data:`_VOCABULARIES`. Curators add, rename, retire,
restore and merge terms; a retired term stays on the case studies that
carry it but is no longer offered for new ones.

Changes that alter what a case study shows (a rename, a merge) log the
affected case studies in the change log so the search index re-indexes them.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, selectinload

from kb.errors import Conflict, NotFound, PermissionDenied, ValidationError
from kb.extensions import db
from kb.models import (
    AdaptationContext,
    CaseStudy,
    ChangeOperation,
    City,
    ContextKind,
    ProblemOfPractice,
    User,
    is_valid_id,
    record_case_changes,
)
from kb.paging import page_count
from kb.sanitize import clean_text

# Imported as a module: case_studies may import this module in turn.
from kb.services import case_studies, policy

NAME_MAX = 120
SLUG_MAX = 80
DESCRIPTION_MAX = 5_000
# What slugify produces. Anything else (a NUL byte, a 10,000-character slug)
# cannot name a row, and PostgreSQL refuses NUL bytes in a query outright.
_SLUG_SHAPE = re.compile(r"[\w-]{1,%d}" % (SLUG_MAX * 2))

VocabularyModel = type[ProblemOfPractice] | type[AdaptationContext]
Term = ProblemOfPractice | AdaptationContext


@dataclass(frozen=True)
class _Vocabulary:
    """What differs between the vocabularies."""

    case_relation: InstrumentedAttribute  # CaseStudy's collection of these terms
    noun: str  # how messages name one term
    has_kind: bool


_VOCABULARIES: dict[type, _Vocabulary] = {
    ProblemOfPractice: _Vocabulary(CaseStudy.problems, "problem of practice", has_kind=False),
    AdaptationContext: _Vocabulary(CaseStudy.contexts, "adaptation context", has_kind=True),
}


def _vocabulary(model: VocabularyModel) -> _Vocabulary:
    try:
        return _VOCABULARIES[model]
    except KeyError:
        raise TypeError(f"{model!r} is not a curated vocabulary") from None


@dataclass
class TermInput:
    """What a curator types for a term; an empty slug is made from the name."""

    name: str
    slug: str = ""
    description: str = ""
    kind: str | None = None  # adaptation contexts only: a ContextKind value


@dataclass
class TermGroup:
    """Terms listed under one heading (a context kind), with a count for each."""

    heading: str | None
    terms: list[tuple[Term, int]]


@dataclass
class TermOverview:
    """A vocabulary as its index page shows it."""

    groups: list[TermGroup]
    retired: list[Term]


@dataclass
class TermCases:
    """One page of the case studies carrying a term, grouped by city."""

    page: case_studies.Page
    by_city: list[tuple[City, list[CaseStudy]]]


# -- shared with the cities service: names and slugs curators type ---------

def require_curator(user: User | None) -> None:
    """Raise PermissionDenied unless ``user`` may curate cities and vocabularies."""
    if not policy.can_curate_vocabularies(user):
        raise PermissionDenied("Only facilitators and admins curate the vocabularies.")


def clean_name_and_slug(model, name: str, slug: str, exclude_id: int | None,
                        errors: dict[str, list[str]], *, what: str) -> tuple[str, str]:
    """Clean a name and slug for ``model`` and check both are unique, case-insensitively.

    Problems go into ``errors`` (field -> messages). An empty ``slug`` is
    derived from the name; a typed one is normalised the same way, so
    "Career Guidance" becomes ``career-guidance``. ``what`` names the thing in
    messages ("city", "problem of practice").
    """
    name = clean_text(name, multiline=False)
    typed_slug = clean_text(slug, multiline=False)
    slug_source = typed_slug or name
    if not name:
        errors.setdefault("name", []).append("A name is required.")
    elif len(name) > NAME_MAX:
        errors.setdefault("name", []).append(f"Keep the name under {NAME_MAX} characters.")
    elif _taken(model, model.name, name, exclude_id):
        errors.setdefault("name", []).append(f"Another {what} is already called “{name}”.")

    new_slug = ""
    if len(typed_slug) > SLUG_MAX:
        errors.setdefault("slug", []).append(f"Keep the slug under {SLUG_MAX} characters.")
    elif slug_source and not re.search(r"[^\W_]", slug_source):
        errors.setdefault("slug", []).append("The slug needs at least one letter or digit.")
    elif slug_source:
        new_slug = case_studies.slugify(slug_source, max_length=SLUG_MAX)
        if _taken(model, model.slug, new_slug, exclude_id):
            errors.setdefault("slug", []).append(
                f"Another {what} already uses the address “{new_slug}”; choose another slug."
            )
    return name, new_slug


def _taken(model, column, value: str, exclude_id: int | None) -> bool:
    # Compared in Python: SQLite's lower() folds only ASCII, so "École" and
    # "école" would pass as different names. Vocabularies are a few hundred
    # rows at most.
    query = select(column)
    if exclude_id is not None:
        query = query.where(model.id != exclude_id)
    wanted = value.casefold()
    return any(existing.casefold() == wanted for existing in db.session.scalars(query))


def find_by_slug(model, slug: str, missing: str):
    """The row of ``model`` at ``slug``; NotFound with the message ``missing`` otherwise."""
    if not _SLUG_SHAPE.fullmatch(slug or ""):
        raise NotFound(missing)
    row = db.session.scalar(select(model).where(model.slug == slug))
    if row is None:
        raise NotFound(missing)
    return row


def _case_counts(model: VocabularyModel, *, published_only: bool) -> dict[int, int]:
    query = select(model.id, func.count(CaseStudy.id)).join(model.case_studies)
    if published_only:
        query = query.where(policy.public_cases_clause())
    return dict(db.session.execute(query.group_by(model.id)).all())


# -- reading ---------------------------------------------------------------

def active_terms(model: VocabularyModel) -> list[Term]:
    """The terms offered for new case studies: every term not retired, by name."""
    return list(db.session.scalars(select(model).where(~model.retired).order_by(model.name)))


def all_terms(model: VocabularyModel) -> list[tuple[Term, int]]:
    """Every term by name, retired and merged ones included, with its published case-study count."""
    counts = _case_counts(model, published_only=True)
    terms = db.session.scalars(
        select(model).options(selectinload(model.merged_into)).order_by(model.name)
    ).all()
    return [(term, counts.get(term.id, 0)) for term in terms]


def term_overview(model: VocabularyModel) -> TermOverview:
    """Active terms with their published case-study counts, and the retired terms.

    Adaptation contexts are grouped by kind, in the order of ContextKind.
    """
    vocabulary = _vocabulary(model)
    counts = _case_counts(model, published_only=True)
    terms = db.session.scalars(
        select(model).options(selectinload(model.merged_into)).order_by(model.name)
    ).all()
    active = [(term, counts.get(term.id, 0)) for term in terms if not term.retired]
    if vocabulary.has_kind:
        groups = [
            TermGroup(kind.label, [pair for pair in active if pair[0].kind is kind])
            for kind in ContextKind
        ]
        groups = [group for group in groups if group.terms]
    else:
        groups = [TermGroup(None, active)] if active else []
    return TermOverview(groups=groups, retired=[term for term in terms if term.retired])


def get_term(model: VocabularyModel, slug: str) -> Term:
    """The term at ``slug``, retired and merged ones included; NotFound otherwise."""
    return find_by_slug(model, slug, f"No such {_vocabulary(model).noun}.")


def term_cases(user: User | None, model: VocabularyModel, term: Term, *,
               page: int = 1, per_page: int = 20) -> TermCases:
    """The case studies carrying ``term`` that ``user`` may see, grouped by city.

    Ordered by city name, then newest first within a city, so a page holds
    whole runs of each city and the grouping follows from the order.
    """
    relation = _vocabulary(model).case_relation
    query = select(CaseStudy).where(
        policy.visible_cases_clause(user), relation.any(model.id == term.id)
    )
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    page = max(1, min(page, page_count(total, per_page)))
    cases = db.session.scalars(
        query.join(CaseStudy.city)
        .options(selectinload(CaseStudy.city))
        .order_by(City.name, CaseStudy.updated_at.desc(), CaseStudy.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    by_city = [
        (group[0].city, group)
        for group in (list(run) for _, run in itertools.groupby(cases, key=lambda c: c.city_id))
    ]
    return TermCases(
        page=case_studies.Page(items=list(cases), page=page, per_page=per_page, total=total),
        by_city=by_city,
    )


# -- curating --------------------------------------------------------------

def curation_overview(user: User | None, model: VocabularyModel) -> list[tuple[Term, int]]:
    """Every term with its count of case studies in any status, for the curation page."""
    require_curator(user)
    counts = _case_counts(model, published_only=False)
    terms = db.session.scalars(
        select(model).options(selectinload(model.merged_into)).order_by(model.retired, model.name)
    ).all()
    return [(term, counts.get(term.id, 0)) for term in terms]


def get_term_for_curation(user: User | None, model: VocabularyModel, term_id: int) -> Term:
    """The term with ``term_id``, if ``user`` may curate; NotFound when there is none."""
    require_curator(user)
    term = db.session.get(model, term_id) if is_valid_id(term_id) else None
    if term is None:
        raise NotFound(f"No such {_vocabulary(model).noun}.")
    return term


def merge_targets(model: VocabularyModel, term: Term) -> list[Term]:
    """The terms ``term`` may be merged into: every active term but itself."""
    return [candidate for candidate in active_terms(model) if candidate.id != term.id]


def _validated(model: VocabularyModel, data: TermInput, term: Term | None) -> dict:
    vocabulary = _vocabulary(model)
    errors: dict[str, list[str]] = {}
    name, slug = clean_name_and_slug(
        model, data.name, data.slug, term.id if term else None, errors, what=vocabulary.noun
    )
    values: dict = {"name": name, "slug": slug, "description": clean_text(data.description)}
    if len(values["description"]) > DESCRIPTION_MAX:
        errors.setdefault("description", []).append(
            f"Keep the description under {DESCRIPTION_MAX:,} characters."
        )
    if vocabulary.has_kind:
        try:
            values["kind"] = ContextKind(data.kind)
        except ValueError:
            errors.setdefault("kind", []).append("Choose a kind from the list.")
    if errors:
        raise ValidationError(errors)
    return values


def _case_ids(model: VocabularyModel, term: Term) -> list[int]:
    relation = _vocabulary(model).case_relation
    return list(db.session.scalars(select(CaseStudy.id).where(relation.any(model.id == term.id))))


def create_term(user: User | None, model: VocabularyModel, data: TermInput) -> Term:
    """Add a new, active term to the vocabulary."""
    require_curator(user)
    term = model(**_validated(model, data, None), retired=False)
    db.session.add(term)
    db.session.flush()
    return term


def update_term(user: User | None, model: VocabularyModel, term: Term, data: TermInput) -> Term:
    """Rename a term, change its slug, description or kind.

    Case studies show their terms' names and link to their slugs, so when
    either changes every case study carrying the term is re-indexed.
    """
    require_curator(user)
    values = _validated(model, data, term)
    shown_before = (term.name, term.slug, getattr(term, "kind", None))
    for name, value in values.items():
        setattr(term, name, value)
    if (term.name, term.slug, getattr(term, "kind", None)) != shown_before:
        record_case_changes(db.session, _case_ids(model, term), ChangeOperation.UPSERT)
    db.session.flush()
    return term


def retire_term(user: User | None, model: VocabularyModel, term: Term) -> Term:
    """Stop offering ``term`` for new case studies; it stays on the ones that have it."""
    require_curator(user)
    if term.retired:
        raise Conflict(f"“{term.name}” is already retired.")
    term.retired = True
    db.session.flush()
    return term


def restore_term(user: User | None, model: VocabularyModel, term: Term) -> Term:
    """Offer a retired term again.

    Restoring a merged term ends its redirect; the case studies moved by the
    merge stay with the term they were moved to.
    """
    require_curator(user)
    if not term.retired:
        raise Conflict(f"“{term.name}” is not retired.")
    term.retired = False
    term.merged_into = None
    db.session.flush()
    return term


def merge_term(user: User | None, model: VocabularyModel, source: Term,
               target_id: int | None) -> Term:
    """Fold ``source`` into the term with ``target_id``; returns the target.

    Every case study carrying the source carries the target instead (once,
    even if it had both). The source is retired and remembers the target,
    so its old address redirects there; terms merged into the source earlier
    are pointed at the target too, so every old address redirects in one step.
    """
    require_curator(user)
    vocabulary = _vocabulary(model)
    if source.merged_into_id is not None:
        raise Conflict(f"“{source.name}” has already been merged into another term.")
    target = db.session.get(model, target_id) if is_valid_id(target_id) else None
    if target is None:
        raise ValidationError({"target_id": [f"Choose the {vocabulary.noun} to merge into."]})
    if target.id == source.id:
        raise ValidationError({"target_id": ["A term cannot be merged into itself."]})
    if target.retired:
        raise ValidationError(
            {"target_id": [f"“{target.name}” is retired; merge into an active term."]}
        )

    relation_name = vocabulary.case_relation.key
    affected = []
    for case in list(source.case_studies):
        terms = getattr(case, relation_name)
        if target not in terms:
            terms.append(target)
        terms.remove(source)
        affected.append(case.id)
    for earlier in db.session.scalars(select(model).where(model.merged_into_id == source.id)):
        earlier.merged_into = target
    source.retired = True
    source.merged_into = target
    record_case_changes(db.session, affected, ChangeOperation.UPSERT)
    db.session.flush()
    return target
