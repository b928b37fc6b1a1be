"""Writing and finding case studies.

Every save keeps a :class:`~kb.models.Revision` snapshot and, through the
models' flush listener, a change-log row for the search index. A save of a
published case study is not applied: it is kept as a
:class:`~kb.models.ProposedEdit` (the same snapshot format) while the
published version stays on show, until :mod:`kb.services.review`
publishes it. Moving a case study through review is that module's work.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field, make_dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload, undefer

from kb import case_fields
from kb.case_fields import (
    EARLIEST_YEAR,
    LATEST_YEAR,
    MESSAGE_MAX,
    SHORT_TEXT_MAX,
    URL_MAX,
    Kind,
)
from kb.errors import Conflict, NotFound, PermissionDenied, ValidationError
from kb.extensions import db
from kb.models import (
    LANGUAGES,
    AdaptationContext,
    CaseStatus,
    CaseStudy,
    City,
    EducationLevel,
    EvidenceLevel,
    ProblemOfPractice,
    ProposedEdit,
    ReviewAction,
    ReviewEvent,
    Revision,
    Source,
    User,
    is_valid_id,
    utcnow,
)
from kb.paging import Paged, page_count
from kb.sanitize import clean_text, is_safe_url
from kb.services import policy

SLUG_MAX = 100
# What _validated returns and _apply stores, sources apart.
_STORED_FIELDS = tuple(spec.name for spec in case_fields.FIELDS if spec.kind is not Kind.SOURCES)
# What slugify produces; anything else (a NUL byte, punctuation) cannot name a
# case study, and PostgreSQL refuses NUL bytes in a query outright.
_SLUG_SHAPE = re.compile(r"[\w-]+")
# Words the web pages use as addresses beside /cases/<slug>: a case study
# titled "New" must not be hidden behind the new-case-study page.
RESERVED_SLUGS = frozenset({"new", "mine"})
_STALE_EDIT = (
    "Someone saved this case study while you were editing it. "
    "Open it again to see their changes, then make yours."
)


# The Python type of each kind of field as a person types it.
_INPUT_TYPES = {
    Kind.LINE: str, Kind.PARAGRAPH: str, Kind.MARKDOWN: str, Kind.CITY: int | None,
    Kind.CHOICE: str | None, Kind.TERMS: list[int], Kind.YEAR: int | None,
    Kind.SOURCES: list[tuple[str, str]],
}


def _input_field(spec: case_fields.CaseField) -> tuple:
    """A :class:`CaseInput` attribute for ``spec``: required fields have no default."""
    if spec.required and spec.kind is not Kind.TERMS:
        return (spec.input_name, _INPUT_TYPES[spec.kind])
    if spec.kind in (Kind.TERMS, Kind.SOURCES):
        default = field(default_factory=list)
    else:
        default = field(default=spec.default)
    return (spec.input_name, _INPUT_TYPES[spec.kind], default)


CaseInput = make_dataclass(
    "CaseInput", [_input_field(spec) for spec in case_fields.FIELDS], kw_only=True,
    namespace={"__doc__": "Everything a person types into a case study, as plain Python values "
                          "(one attribute per :data:`kb.case_fields.FIELDS`)."},
)
CaseInput.__module__ = __name__


@dataclass
class Page(Paged):
    """One page of a listing."""

    items: list
    page: int
    per_page: int
    total: int


def slugify(text: str, max_length: int = SLUG_MAX, fallback: str = "case-study") -> str:
    """A URL slug that keeps letters of every script (a Chinese title keeps its characters).

    ``fallback`` is the slug of a text with no letters or digits at all.
    """
    slug = re.sub(r"[^\w]+", "-", text.lower(), flags=re.UNICODE).strip("-_")
    slug = re.sub(r"[-_]+", "-", slug)[:max_length].strip("-")
    return slug or fallback


# Advisory-lock namespaces of slugs (any constants; "kbsl", "kbcl").
CASE_SLUG_LOCKS = 0x6B62_736C
COLLECTION_SLUG_LOCKS = 0x6B62_636C


def _wait_for_slug(namespace: int, base: str) -> None:
    """On PostgreSQL, wait until no other open transaction is choosing a slug from ``base``.

    Without it, two workers saving the same title at once both find the
    slug free and the second insert breaks the unique index (a 500). The
    lock is held until this transaction ends, so the second one then sees
    the first one's row and takes the next number. SQLite writes one
    transaction at a time and needs none. ``namespace`` keeps the slugs of
    case studies and of collections apart.
    """
    if db.session.get_bind().dialect.name != "postgresql":
        return
    key = int.from_bytes(hashlib.blake2b(base.encode(), digest_size=4).digest(), "big",
                         signed=True)
    db.session.execute(select(func.pg_advisory_xact_lock(namespace, key)))


def free_slug(namespace: int, base: str, reserved: frozenset[str],
              is_taken: Callable[[str], bool], max_length: int = SLUG_MAX) -> str:
    """``base``, else ``base-2``, ``base-3``… cut to ``max_length``: the first free one.

    Free: not in ``reserved`` and not ``is_taken``. Safe against a concurrent
    transaction choosing from the same ``base`` in the same ``namespace``
    (see :func:`_wait_for_slug`).
    """
    _wait_for_slug(namespace, base)
    candidate, number = base, 1
    while candidate in reserved or is_taken(candidate):
        number += 1
        suffix = f"-{number}"
        candidate = base[: max_length - len(suffix)] + suffix
    return candidate


def _case_slug_taken(slug: str) -> bool:
    return db.session.scalar(select(CaseStudy.id).where(CaseStudy.slug == slug)) is not None


def _validated(data: CaseInput, case: CaseStudy | None, max_text: int | None) -> dict:
    """Check ``data`` and return the cleaned values to store, or raise ValidationError."""
    errors: dict[str, list[str]] = {}

    def fail(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    values: dict = {}
    for spec in case_fields.TEXT_FIELDS:
        text = values[spec.name] = clean_text(getattr(data, spec.name),
                                              multiline=spec.kind is not Kind.LINE)
        limit = case_fields.text_limit(spec, case_fields.markdown_max(max_text))
        if not text and spec.required:
            fail(spec.name, spec.missing)
        elif len(text) > limit:
            fail(spec.name, case_fields.too_long(spec, limit))

    city = db.session.get(City, data.city_id) if is_valid_id(data.city_id) else None
    if city is None:
        fail("city_id", case_fields.BY_NAME["city"].missing)
    values["city"] = city

    try:
        values["education_level"] = EducationLevel(data.education_level)
    except ValueError:
        fail("education_level", case_fields.BY_NAME["education_level"].missing)
    if data.evidence_level:
        try:
            values["evidence_level"] = EvidenceLevel(data.evidence_level)
        except ValueError:
            fail("evidence_level", "Choose an evidence level from the list.")
    else:
        values["evidence_level"] = None
    if data.language not in LANGUAGES:
        fail("language", "Choose the language the case study is written in.")
    values["language"] = data.language

    for name in ("year_start", "year_end"):
        year = getattr(data, name)
        if year is not None and not EARLIEST_YEAR <= year <= LATEST_YEAR:
            fail(name, f"Give a year between {EARLIEST_YEAR} and {LATEST_YEAR}.")
        values[name] = year
    if data.year_end is not None and data.year_start is None:
        fail("year_start", "Give the first year before the last.")
    elif data.year_start and data.year_end and data.year_end < data.year_start:
        fail("year_end", "The last year cannot come before the first.")

    for spec in case_fields.TERMS_FIELDS:
        already = getattr(case, spec.name) if case else []
        values[spec.name] = _terms(spec, getattr(data, spec.input_name), already, fail)
        if spec.required and not values[spec.name]:
            fail(spec.input_name, spec.missing)

    sources_max = case_fields.BY_NAME["sources"].max_length
    sources = []
    for label, url in data.sources[: sources_max + 1]:
        url = clean_text(url, multiline=False)
        label = clean_text(label, multiline=False)
        if not url:
            continue
        if len(url) > URL_MAX or not is_safe_url(url):
            fail("sources", f"Not a web address starting with http:// or https://: {url[:80]}")
        elif len(label) > SHORT_TEXT_MAX:
            fail("sources", f"Keep source labels under {SHORT_TEXT_MAX} characters.")
        else:
            sources.append((label, url))
    if len(sources) > sources_max:
        fail("sources", f"List at most {sources_max} sources.")
    values["sources"] = sources

    if errors:
        raise ValidationError(errors)
    return values


def _terms(spec: case_fields.CaseField, ids, already, fail):
    """Load the terms of ``spec``'s vocabulary by id; retired ones only if already carried."""
    model, field_name = spec.vocabulary, spec.input_name
    ids = list(ids)
    if not all(is_valid_id(i) for i in ids):
        fail(field_name, "Choose terms from the list.")
        return []
    if len(ids) > spec.max_length:
        fail(field_name, f"Choose at most {spec.max_length} terms.")
        return []
    wanted = list(dict.fromkeys(ids))
    terms = db.session.scalars(select(model).where(model.id.in_(wanted))).all() if wanted else []
    kept = {t.id for t in already}
    if len(terms) != len(wanted):
        fail(field_name, "One of the chosen terms does not exist.")
    for term in terms:
        if term.retired and term.id not in kept:
            fail(field_name, f"“{term.name}” is retired and cannot be added.")
    return sorted(terms, key=lambda t: t.name)


def _apply(case: CaseStudy, values: dict) -> None:
    for name in _STORED_FIELDS:
        setattr(case, name, values[name])
    existing = [(s.label, s.url) for s in case.sources]
    if existing != values["sources"]:
        case.sources = [
            Source(position=i, label=label, url=url) for i, (label, url) in enumerate(values["sources"])
        ]


def _snapshot_of(values: dict, *, slug: str, status: CaseStatus, version: int) -> dict:
    """Values as :func:`_validated` returns them, as JSON-ready data with terms by slug."""
    title, *texts = case_fields.TEXT_FIELDS
    return {
        title.name: values[title.name],
        "slug": slug,
        **{spec.name: values[spec.name] for spec in texts},
        "city": values["city"].slug,
        "education_level": values["education_level"].value,
        "language": values["language"],
        "year_start": values["year_start"],
        "year_end": values["year_end"],
        "evidence_level": values["evidence_level"].value if values["evidence_level"] else None,
        "problems": [p.slug for p in values["problems"]],
        "contexts": [c.slug for c in values["contexts"]],
        "sources": [{"label": label, "url": url} for label, url in values["sources"]],
        "status": status.value,
        "version": version,
    }


def snapshot(case: CaseStudy) -> dict:
    """Every field of ``case`` as JSON-ready data, vocabulary terms by slug."""
    values = {name: getattr(case, name) for name in _STORED_FIELDS}
    values["sources"] = [(s.label, s.url) for s in case.sources]
    return _snapshot_of(values, slug=case.slug, status=case.status, version=case.version)


def _record_revision(case: CaseStudy, user: User, message: str) -> Revision:
    revision = Revision(
        number=case.version,
        author=user,
        message=message,
        snapshot=snapshot(case),
    )
    case.revisions.append(revision)
    return revision


def _revision_message(message: str) -> str:
    """``message`` cleaned to be kept with a revision; ValidationError when it is too long."""
    message = clean_text(message, multiline=False)
    if len(message) > MESSAGE_MAX:
        raise ValidationError({"message": [
            f"Keep the revision message under {MESSAGE_MAX} characters."]})
    return message


def create_case(user: User, data: CaseInput, message: str = "Created", *,
                max_text: int | None = None) -> CaseStudy:
    """Create a draft case study written by ``user`` and keep its first revision."""
    if not policy.can_create_case(user):
        raise PermissionDenied("Your role cannot write case studies.")
    message = _revision_message(message)
    values = _validated(data, None, max_text)
    now = utcnow()
    case = CaseStudy(
        author=user, status=CaseStatus.DRAFT, version=1, created_at=now, updated_at=now,
        slug=free_slug(CASE_SLUG_LOCKS, slugify(values["title"]), RESERVED_SLUGS,
                       _case_slug_taken),
    )
    _apply(case, values)
    db.session.add(case)
    db.session.flush()
    _record_revision(case, user, message or "Created")
    db.session.flush()
    return case


def update_case(user: User, case: CaseStudy, data: CaseInput, message: str = "", *,
                expected_version: int | None = None, max_text: int | None = None) -> CaseStudy:
    """Save an edit of ``case``: a new version with its own revision, or a proposed edit.

    An edit of a published case study becomes (or replaces) its proposed
    edit, waiting for review, and ``case`` itself is left as it was: its
    page, lists and search keep showing the published version. Callers
    tell the two apart by ``case.is_published``.

    ``expected_version`` is the version the editor started from; if someone
    saved in between, the edit is refused rather than silently overwriting.
    """
    if not policy.can_edit_case(user, case):
        raise PermissionDenied("You cannot edit this case study.")
    if expected_version is not None and expected_version != case.version:
        raise Conflict(_STALE_EDIT)
    message = _revision_message(message)
    values = _validated(data, case, max_text)
    if case.is_published:
        _propose_edit(user, case, values, message)
    else:
        _save_version(user, case, values, message or "Edited")
    return case


def _save_version(user: User, case: CaseStudy, values: dict, message: str) -> None:
    """Store validated ``values`` on ``case`` as its next version, kept as a revision by ``user``."""
    _apply(case, values)
    case.version += 1
    case.updated_at = utcnow()
    _record_revision(case, user, message)
    try:
        db.session.flush()
    except IntegrityError as error:
        # Two editors who read the same version both pass the check above;
        # the unique revision number lets only the first one save. The
        # caller rolls the session back.
        raise Conflict(_STALE_EDIT) from error


def _propose_edit(user: User, case: CaseStudy, values: dict, message: str) -> None:
    """Keep validated ``values`` as the proposed edit of published ``case``, waiting for review."""
    proposed = _snapshot_of(values, slug=case.slug, status=case.status, version=case.version + 1)
    if proposed == {**snapshot(case), "version": case.version + 1}:
        raise ValidationError(
            "This is the published version unchanged: change something first"
            + (", or withdraw the proposed edit." if case.proposed_edit else ".")
        )
    edit = case.proposed_edit
    if edit is None:
        edit = case.proposed_edit = ProposedEdit(saves=0, created_at=utcnow())
    edit.author = user
    edit.status = CaseStatus.SUBMITTED
    edit.message = message
    edit.snapshot = proposed
    edit.saves += 1
    edit.updated_at = utcnow()
    record_review_event(case, user, ReviewAction.EDIT_SUBMITTED, case.status, edit.message)
    db.session.flush()


def record_review_event(case: CaseStudy, actor: User | None, action: ReviewAction,
                        from_state: CaseStatus, comment: str = "") -> ReviewEvent:
    """Add a step of review to the audit log of ``case``, which is now in its new state."""
    event = ReviewEvent(actor=actor, action=action, from_state=from_state, to_state=case.status,
                        version=case.version, comment=comment, created_at=utcnow())
    case.review_events.append(event)
    return event


def publish_proposed_edit(reviewer: User, case: CaseStudy, data: CaseInput, *,
                          max_text: int | None = None) -> CaseStudy:
    """Save the proposed edit of ``case``, approved by ``reviewer``, as the next version.

    ``data`` is the proposed edit read back from its snapshot (see
    :func:`kb.services.review.publish_edit`, the one caller); it is
    validated again, since terms may have been retired while it waited.
    The new revision is the proposer's, with their message, and the
    proposed edit is gone afterwards.
    """
    edit = case.proposed_edit
    if edit is None:
        raise NotFound("No edit of this case study waits for review.")
    if not policy.can_review_edit(reviewer, case, edit):
        raise PermissionDenied("You cannot publish this proposed edit.")
    values = _validated(data, case, max_text)
    _save_version(edit.author, case, values, edit.message or "Edited")
    case.proposed_edit = None
    db.session.flush()
    return case


def delete_case(user: User, case: CaseStudy) -> None:
    """Delete ``case`` and its revisions."""
    if not policy.can_delete_case(user, case):
        raise PermissionDenied("You cannot delete this case study.")
    db.session.delete(case)
    db.session.flush()


def get_case(user: User | None, slug: str) -> CaseStudy:
    """The case study at ``slug`` if ``user`` may see it; NotFound otherwise.

    A draft someone may not see is reported as missing, not forbidden, so
    its existence does not leak.
    """
    if not slug or len(slug) > SLUG_MAX * 2 or not _SLUG_SHAPE.fullmatch(slug):
        raise NotFound("No such case study.")
    case = db.session.scalar(
        select(CaseStudy)
        .where(CaseStudy.slug == slug)
        .options(joinedload(CaseStudy.city), joinedload(CaseStudy.author),
                 selectinload(CaseStudy.problems), selectinload(CaseStudy.contexts),
                 selectinload(CaseStudy.sources))
    )
    if case is None or not policy.can_view_case(user, case):
        raise NotFound("No such case study.")
    return case


def get_case_for_edit(user: User | None, slug: str) -> CaseStudy:
    """The case study at ``slug`` if ``user`` may edit it."""
    case = get_case(user, slug)
    if not policy.can_edit_case(user, case):
        raise PermissionDenied("You cannot edit this case study.")
    return case


def get_revision(user: User | None, case: CaseStudy, number: int) -> Revision:
    """Revision ``number`` of a case study ``user`` can see."""
    if not policy.can_view_case(user, case):
        raise NotFound("No such case study.")
    revision = db.session.scalar(
        select(Revision).where(Revision.case_study_id == case.id, Revision.number == number)
        .options(undefer(Revision.snapshot))
    )
    if revision is None:
        raise NotFound("No such revision.")
    return revision


def _listing(user: User | None) -> Select:
    return (
        select(CaseStudy)
        .where(policy.visible_cases_clause(user))
        .options(selectinload(CaseStudy.city))
    )


def list_cases(user: User | None, *, city_id: int | None = None, problem_id: int | None = None,
               author_id: int | None = None, page: int = 1, per_page: int = 20) -> Page:
    """Case studies ``user`` may see, newest first, optionally for one city, problem or author."""
    query = _listing(user)
    if city_id is not None:
        query = query.where(CaseStudy.city_id == city_id)
    if problem_id is not None:
        query = query.where(CaseStudy.problems.any(ProblemOfPractice.id == problem_id))
    if author_id is not None:
        query = query.where(CaseStudy.author_id == author_id)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    page = max(1, min(page, page_count(total, per_page)))
    items = db.session.scalars(
        query.order_by(CaseStudy.updated_at.desc(), CaseStudy.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(items=list(items), page=page, per_page=per_page, total=total)


def case_to_input(case: CaseStudy) -> CaseInput:
    """The editable fields of ``case``, to prefill a form."""
    return CaseInput(
        **{spec.name: getattr(case, spec.name) for spec in case_fields.TEXT_FIELDS},
        city_id=case.city_id, education_level=case.education_level.value, language=case.language,
        year_start=case.year_start, year_end=case.year_end,
        evidence_level=case.evidence_level.value if case.evidence_level else None,
        problem_ids=[p.id for p in case.problems], context_ids=[c.id for c in case.contexts],
        sources=[(s.label, s.url) for s in case.sources],
    )



@dataclass
class FormChoices:
    """What a case-study form offers to choose from."""

    cities: list[City]
    problems: list[ProblemOfPractice]
    contexts: list[AdaptationContext]


def form_choices(case: CaseStudy | None = None) -> FormChoices:
    """Every city, and the vocabulary terms a form for ``case`` (None: a new one) offers.

    Retired terms are not offered, except those ``case`` already carries:
    they stay on it, shown ticked, until someone unticks them.
    """
    def offered(model, carried):
        active = db.session.scalars(select(model).where(~model.retired)).all()
        return sorted({*active, *carried}, key=lambda term: term.name)

    return FormChoices(
        cities=list(db.session.scalars(select(City).order_by(City.name))),
        problems=offered(ProblemOfPractice, case.problems if case else []),
        contexts=offered(AdaptationContext, case.contexts if case else []),
    )


@dataclass
class RevisionDetails:
    """A revision's snapshot, with its slugs and enum values put into words.

    Terms are ``(slug, name)`` pairs; the name is None when the term (or
    city) has since been deleted or given another slug.
    """

    revision: Revision
    fields: dict
    city: tuple[str, str | None]
    problems: list[tuple[str, str | None]]
    contexts: list[tuple[str, str | None]]
    education_level: str
    evidence_level: str
    language: str
    years: str
    status: str


def _names_by_slug(model, slugs: list[str]) -> list[tuple[str, str | None]]:
    found = dict(db.session.execute(
        select(model.slug, model.name).where(model.slug.in_(slugs))
    ).all())
    return [(slug, found.get(slug)) for slug in slugs]


def _enum_label(enum_class, value: str | None) -> str:
    # Snapshots outlive enum members; an unknown value is shown as stored.
    try:
        return enum_class(value).label
    except ValueError:
        return value or ""


def revision_details(user: User | None, case: CaseStudy, number: int) -> RevisionDetails:
    """Revision ``number`` of ``case`` ready to show; NotFound if ``user`` may not see it."""
    return _details(get_revision(user, case, number))


def proposed_edit_details(user: User | None, case: CaseStudy) -> RevisionDetails:
    """The proposed edit of ``case`` ready to show as the revision it would become.

    NotFound when ``user`` may not see the review of ``case`` or no edit waits.
    """
    edit = case.proposed_edit
    if edit is None or not policy.can_see_review(user, case):
        raise NotFound("No edit of this case study waits for review.")
    # Transient: shown like a revision, never added to the session.
    return _details(Revision(number=edit.snapshot.get("version"), author=edit.author,
                             created_at=edit.updated_at, message=edit.message,
                             snapshot=edit.snapshot))


def _details(revision: Revision) -> RevisionDetails:
    fields = revision.snapshot
    # A transient case study (never added to the session) formats the years
    # exactly as the live page does.
    years = CaseStudy(
        year_start=fields.get("year_start"), year_end=fields.get("year_end")
    ).years_label
    return RevisionDetails(
        revision=revision,
        fields=fields,
        city=_names_by_slug(City, [fields.get("city", "")])[0],
        problems=_names_by_slug(ProblemOfPractice, list(fields.get("problems", []))),
        contexts=_names_by_slug(AdaptationContext, list(fields.get("contexts", []))),
        education_level=_enum_label(EducationLevel, fields.get("education_level")),
        evidence_level=_enum_label(EvidenceLevel, fields.get("evidence_level")),
        language=LANGUAGES.get(fields.get("language", ""), fields.get("language", "")),
        years=years,
        status=_enum_label(CaseStatus, fields.get("status")),
    )
