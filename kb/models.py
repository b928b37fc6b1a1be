"""The kb data model: cities, vocabularies, case studies, revisions, users, change log.

Models hold data and the invariants that belong to a single row. Work that
spans rows, checks permissions or records revisions lives in
``kb.services``; the search index lives in ``kb.search`` and is never
imported from here.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    func,
    inspect,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, Session, backref, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from kb.extensions import db


# Primary keys are INTEGER columns: 32-bit on PostgreSQL. A larger number
# can name no row, and would make the database raise instead of finding none.
MAX_ID = 2**31 - 1


def is_valid_id(value) -> bool:
    """True for an int that could be a primary key of a kb table."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def utcnow() -> datetime:
    """Current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)


class UTCDateTime(db.TypeDecorator):
    """A timestamp stored as UTC and always read back timezone-aware.

    SQLite drops the offset; PostgreSQL keeps it. Normalising here means
    comparisons and ``isoformat()`` behave the same on both databases.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as the enum's value in a plain string column: readable in SQL,
    # and adding a member needs no ALTER TYPE on PostgreSQL.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )


class Role(enum.Enum):
    """What a user may do; each role includes the rights of the ones before it."""

    RESEARCHER = "researcher"
    MEMBER = "member"
    FACILITATOR = "facilitator"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class CaseStatus(enum.Enum):
    """Where a case study stands in review (transitions: :mod:`kb.services.review`).

    draft -> submitted -> changes requested <-> submitted -> published ->
    archived. Only a published case study is public: listed, indexed for
    everyone's searches and shown to anonymous visitors. Every other state,
    archived included, is seen only by its author and the curators
    (facilitators and admins), in pages and in their own searches alike; an
    archived case study keeps its revisions and review history and can be
    published again by a reviewer.
    """

    DRAFT = "draft"
    SUBMITTED = "submitted"
    CHANGES_REQUESTED = "changes_requested"
    PUBLISHED = "published"
    ARCHIVED = "archived"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class EvidenceLevel(enum.Enum):
    """Strength of the evidence of impact, weakest first."""

    DESCRIPTIVE = "descriptive"
    CORRELATIONAL = "correlational"
    QUASI_EXPERIMENTAL = "quasi_experimental"
    EXPERIMENTAL = "experimental"

    @property
    def label(self) -> str:
        return self.value.replace("_", "-").capitalize()

    @property
    def rank(self) -> int:
        return list(EvidenceLevel).index(self) + 1


class EducationLevel(enum.Enum):
    """Where in the system a practice runs (ISCED-like bands)."""

    LOWER_SECONDARY = "lower_secondary"
    UPPER_SECONDARY = "upper_secondary"
    POST_SECONDARY = "post_secondary"
    TERTIARY = "tertiary"
    ADULT = "adult"
    SYSTEM_WIDE = "system_wide"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class ContextKind(enum.Enum):
    """The groups adaptation contexts are filed under."""

    GOVERNANCE = "governance"
    FUNDING = "funding"
    CULTURE = "culture"
    SCALE = "scale"
    LANGUAGE = "language"
    LABOUR_MARKET = "labour_market"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


# Languages a case study may be written in: code -> name shown.
LANGUAGES: dict[str, str] = {
    "en": "English",
    "zh": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
    "fr": "French",
    "es": "Spanish",
}

# The fixed headings of a city's context profile: column suffix -> heading.
PROFILE_HEADINGS: dict[str, str] = {
    "governance": "Governance and decision-making",
    "funding": "Funding",
    "vet_structure": "Structure of vocational education",
    "employer_role": "Role of employers",
    "labour_market": "Labour market",
    "languages": "Languages of instruction",
    "student_population": "Student population",
}


class User(UserMixin, db.Model):
    """A person who logs in: a working-group member, researcher, facilitator or admin."""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # Stored lower-cased, so the unique index is case-insensitive everywhere.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    city_id: Mapped[int | None] = mapped_column(ForeignKey("city.id"))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"), default=Role.MEMBER)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on logout and password change; a cookie carrying an older
    # version no longer logs anyone in.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    city: Mapped[City | None] = relationship(back_populates="members")

    def set_password(self, password: str) -> None:
        """Store a salted scrypt hash of ``password``."""
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        """True when ``password`` matches the stored hash."""
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        """Session identity: the id and the session version it was issued for."""
        return f"{self.id}:{self.session_version}"

    def has_role(self, role: Role) -> bool:
        """True when this user's role is ``role`` or ranks above it."""
        order = list(Role)
        return order.index(self.role) >= order.index(role)

    @property
    def is_facilitator(self) -> bool:
        return self.has_role(Role.FACILITATOR)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role.value}>"


class City(db.Model):
    """A city school system in the network, with its context profile."""

    __tablename__ = "city"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    country: Mapped[str] = mapped_column(String(120))
    profile_governance: Mapped[str] = mapped_column(Text, default="")
    profile_funding: Mapped[str] = mapped_column(Text, default="")
    profile_vet_structure: Mapped[str] = mapped_column(Text, default="")
    profile_employer_role: Mapped[str] = mapped_column(Text, default="")
    profile_labour_market: Mapped[str] = mapped_column(Text, default="")
    profile_languages: Mapped[str] = mapped_column(Text, default="")
    profile_student_population: Mapped[str] = mapped_column(Text, default="")

    members: Mapped[list[User]] = relationship(back_populates="city")
    case_studies: Mapped[list[CaseStudy]] = relationship(back_populates="city")

    def profile(self) -> list[tuple[str, str, str]]:
        """The context profile as ``(key, heading, text)`` in the fixed order."""
        return [
            (key, heading, getattr(self, f"profile_{key}") or "")
            for key, heading in PROFILE_HEADINGS.items()
        ]

    def __repr__(self) -> str:
        return f"<City {self.slug}>"


class VocabularyTerm:
    """Columns shared by the curated vocabularies.

    A retired term stays on the case studies that carry it but is no longer
    offered for new ones; a merged term is retired and points at the term
    that absorbed it, so its old URL can redirect.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    retired: Mapped[bool] = mapped_column(Boolean, default=False)


case_problem = Table(
    "case_problem",
    db.metadata,
    Column("case_study_id", ForeignKey("case_study.id", ondelete="CASCADE"), primary_key=True),
    Column("problem_id", ForeignKey("problem_of_practice.id", ondelete="CASCADE"), primary_key=True),
)

case_context = Table(
    "case_context",
    db.metadata,
    Column("case_study_id", ForeignKey("case_study.id", ondelete="CASCADE"), primary_key=True),
    Column("context_id", ForeignKey("adaptation_context.id", ondelete="CASCADE"), primary_key=True),
)


class ProblemOfPractice(VocabularyTerm, db.Model):
    """A common problem cities work on, e.g. work-based learning."""

    __tablename__ = "problem_of_practice"

    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("problem_of_practice.id"))
    merged_into: Mapped[ProblemOfPractice | None] = relationship(remote_side="ProblemOfPractice.id")
    case_studies: Mapped[list[CaseStudy]] = relationship(
        secondary=case_problem, back_populates="problems"
    )

    def __repr__(self) -> str:
        return f"<ProblemOfPractice {self.slug}>"


class AdaptationContext(VocabularyTerm, db.Model):
    """A context factor a practice depends on, grouped by kind."""

    __tablename__ = "adaptation_context"

    kind: Mapped[ContextKind] = mapped_column(_enum(ContextKind, "context_kind"))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("adaptation_context.id"))
    merged_into: Mapped[AdaptationContext | None] = relationship(
        remote_side="AdaptationContext.id"
    )
    case_studies: Mapped[list[CaseStudy]] = relationship(
        secondary=case_context, back_populates="contexts"
    )

    def __repr__(self) -> str:
        return f"<AdaptationContext {self.slug}>"


class CaseStudy(db.Model):
    """One city's practice: what problem, in what context, what was done, what came of it."""

    __tablename__ = "case_study"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text)
    # Markdown sources; HTML is rendered and sanitized when shown.
    body: Mapped[str] = mapped_column(Text, default="")
    implementation: Mapped[str] = mapped_column(Text, default="")
    outcomes: Mapped[str] = mapped_column(Text, default="")
    cost_notes: Mapped[str] = mapped_column(Text, default="")
    enablers: Mapped[str] = mapped_column(Text, default="")
    barriers: Mapped[str] = mapped_column(Text, default="")
    contact: Mapped[str] = mapped_column(String(300), default="")
    city_id: Mapped[int] = mapped_column(ForeignKey("city.id"))
    education_level: Mapped[EducationLevel] = mapped_column(
        _enum(EducationLevel, "education_level")
    )
    language: Mapped[str] = mapped_column(String(8), default="en")
    year_start: Mapped[int | None] = mapped_column(Integer)
    year_end: Mapped[int | None] = mapped_column(Integer)  # None: still running
    evidence_level: Mapped[EvidenceLevel | None] = mapped_column(
        _enum(EvidenceLevel, "evidence_level")
    )
    status: Mapped[CaseStatus] = mapped_column(
        _enum(CaseStatus, "case_status"), default=CaseStatus.DRAFT
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    city: Mapped[City] = relationship(back_populates="case_studies")
    author: Mapped[User] = relationship()
    problems: Mapped[list[ProblemOfPractice]] = relationship(
        secondary=case_problem, back_populates="case_studies", order_by="ProblemOfPractice.name"
    )
    contexts: Mapped[list[AdaptationContext]] = relationship(
        secondary=case_context, back_populates="case_studies", order_by="AdaptationContext.name"
    )
    sources: Mapped[list[Source]] = relationship(
        back_populates="case_study",
        cascade="all, delete-orphan",
        order_by="Source.position",
    )
    revisions: Mapped[list[Revision]] = relationship(
        back_populates="case_study",
        cascade="all, delete-orphan",
        order_by="Revision.number.desc()",
    )
    review_events: Mapped[list[ReviewEvent]] = relationship(
        back_populates="case_study",
        cascade="all, delete-orphan",
        order_by="ReviewEvent.id.desc()",
    )
    proposed_edit: Mapped[ProposedEdit | None] = relationship(
        back_populates="case_study", cascade="all, delete-orphan"
    )

    @property
    def is_published(self) -> bool:
        return self.status is CaseStatus.PUBLISHED

    @property
    def years_label(self) -> str:
        """Years active as shown to people: '2015-2019', '2018-present' or ''."""
        if self.year_start is None:
            return ""
        if self.year_end is None:
            return f"{self.year_start}\u2013present"
        if self.year_end == self.year_start:
            return str(self.year_start)
        return f"{self.year_start}\u2013{self.year_end}"

    @property
    def language_name(self) -> str:
        return LANGUAGES.get(self.language, self.language)

    def __repr__(self) -> str:
        return f"<CaseStudy {self.id} {self.slug}>"


class Source(db.Model):
    """A link to where a case study's facts come from."""

    __tablename__ = "source"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_study_id: Mapped[int] = mapped_column(ForeignKey("case_study.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(String(300), default="")
    url: Mapped[str] = mapped_column(String(2000))

    case_study: Mapped[CaseStudy] = relationship(back_populates="sources")


class Revision(db.Model):
    """A full snapshot of a case study as one save left it."""

    __tablename__ = "revision"
    __table_args__ = (UniqueConstraint("case_study_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_study_id: Mapped[int] = mapped_column(ForeignKey("case_study.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    message: Mapped[str] = mapped_column(String(500), default="")
    # Loaded when read: a case study's page lists every revision, and each
    # snapshot holds all of its texts.
    snapshot: Mapped[dict] = mapped_column(JSON, deferred=True)

    case_study: Mapped[CaseStudy] = relationship(back_populates="revisions")
    author: Mapped[User | None] = relationship()


class ReviewAction(enum.Enum):
    """One step of the review workflow, as the audit log names it."""

    SUBMITTED = "submitted"
    WITHDRAWN = "withdrawn"
    CHANGES_REQUESTED = "changes_requested"
    PUBLISHED = "published"
    ARCHIVED = "archived"
    UNARCHIVED = "unarchived"
    EDIT_SUBMITTED = "edit_submitted"
    EDIT_CHANGES_REQUESTED = "edit_changes_requested"
    EDIT_PUBLISHED = "edit_published"
    EDIT_WITHDRAWN = "edit_withdrawn"

    @property
    def label(self) -> str:
        return _REVIEW_ACTION_LABELS[self]


_REVIEW_ACTION_LABELS = {
    ReviewAction.SUBMITTED: "Submitted for review",
    ReviewAction.WITHDRAWN: "Withdrawn from review",
    ReviewAction.CHANGES_REQUESTED: "Changes requested",
    ReviewAction.PUBLISHED: "Published",
    ReviewAction.ARCHIVED: "Archived",
    ReviewAction.UNARCHIVED: "Published again from the archive",
    ReviewAction.EDIT_SUBMITTED: "Edit proposed",
    ReviewAction.EDIT_CHANGES_REQUESTED: "Changes requested to the proposed edit",
    ReviewAction.EDIT_PUBLISHED: "Proposed edit published",
    ReviewAction.EDIT_WITHDRAWN: "Proposed edit withdrawn",
}


class ReviewEvent(db.Model):
    """One step of a case study's review: who took it, when, from which state to which, and why.

    Every transition of :mod:`kb.services.review` and every proposed edit
    adds one; none is changed afterwards. ``from_state`` and ``to_state``
    are the case study's own status (a step about a proposed edit leaves
    it published), ``version`` the version it had after the step, and
    ``actor`` is None for a step taken by the system (see
    :func:`kb.services.review.publish_as_system`). Comments are for the
    author and the curators only.
    """

    __tablename__ = "review_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_study_id: Mapped[int] = mapped_column(
        ForeignKey("case_study.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    action: Mapped[ReviewAction] = mapped_column(_enum(ReviewAction, "review_action"))
    from_state: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus, "case_status"))
    to_state: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus, "case_status"))
    version: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case_study: Mapped[CaseStudy] = relationship(back_populates="review_events")
    actor: Mapped[User | None] = relationship()


class ProposedEdit(db.Model):
    """An edit of a published case study, waiting for review while the published version shows.

    At most one per case study; whoever saves it last is its ``author``.
    ``snapshot`` has the format of :attr:`Revision.snapshot` (its
    ``version`` is the one it becomes when published); ``status`` is
    SUBMITTED while it waits for a reviewer and CHANGES_REQUESTED once one
    sent it back. ``saves`` counts its saves, so that a reviewer's decision
    on an older save of it is refused.
    """

    __tablename__ = "proposed_edit"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_study_id: Mapped[int] = mapped_column(
        ForeignKey("case_study.id", ondelete="CASCADE"), unique=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    status: Mapped[CaseStatus] = mapped_column(
        _enum(CaseStatus, "case_status"), default=CaseStatus.SUBMITTED
    )
    saves: Mapped[int] = mapped_column(Integer, default=1)
    message: Mapped[str] = mapped_column(String(500), default="")
    snapshot: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case_study: Mapped[CaseStudy] = relationship(back_populates="proposed_edit")
    author: Mapped[User] = relationship()


# Collections (kb.services.collections) ---------------------------------------

class CollectionVisibility(enum.Enum):
    """Who sees a collection (:func:`kb.services.policy.can_view_collection`)."""

    PRIVATE = "private"  # its owner only
    NETWORK = "network"  # every signed-in user
    PUBLIC = "public"  # everyone, anonymous visitors and feed readers included

    @property
    def label(self) -> str:
        return _VISIBILITY_LABELS[self]


_VISIBILITY_LABELS = {
    CollectionVisibility.PRIVATE: "Private: only you",
    CollectionVisibility.NETWORK: "Network: everyone signed in",
    CollectionVisibility.PUBLIC: "Public: everyone, with an Atom feed",
}


class Collection(db.Model):
    """A member's curated list of case studies, with an introduction, e.g. for a meeting.

    ``introduction`` is Markdown source. ``featured`` is set by facilitators
    only, and only on a collection others can see. ``updated_at`` moves on
    every change to the collection or its items (feeds report it).
    """

    __tablename__ = "collection"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    introduction: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[CollectionVisibility] = mapped_column(
        _enum(CollectionVisibility, "collection_visibility"), default=CollectionVisibility.PRIVATE
    )
    featured: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[User] = relationship()
    items: Mapped[list[CollectionItem]] = relationship(
        back_populates="collection",
        cascade="all, delete-orphan",
        order_by="(CollectionItem.position, CollectionItem.id)",
    )

    @property
    def is_public(self) -> bool:
        return self.visibility is CollectionVisibility.PUBLIC

    @property
    def is_private(self) -> bool:
        return self.visibility is CollectionVisibility.PRIVATE

    def __repr__(self) -> str:
        return f"<Collection {self.id} {self.slug}>"


class CollectionItem(db.Model):
    """A case study in a collection: its place in the order and the curator's note (Markdown).

    Deleting the case study deletes its items everywhere (the ORM cascade
    below: SQLite does not enforce the foreign key's ON DELETE).
    """

    __tablename__ = "collection_item"
    __table_args__ = (UniqueConstraint("collection_id", "case_study_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collection.id", ondelete="CASCADE"))
    case_study_id: Mapped[int] = mapped_column(
        ForeignKey("case_study.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(Text, default="")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    collection: Mapped[Collection] = relationship(back_populates="items")
    case_study: Mapped[CaseStudy] = relationship(
        backref=backref("collection_items", cascade="all, delete-orphan")
    )


# Adaptation lineage (kb.services.lineage) -------------------------------------

class AdaptationKind(enum.Enum):
    """How a city's practice relates to the practice it took up."""

    ADOPTED = "adopted"  # taken over much as it was
    ADAPTED = "adapted"  # taken over with changes for the city's context
    INSPIRED_BY = "inspired_by"  # a practice of the city's own, started from the idea
    TRIED_AND_DROPPED = "tried_and_dropped"  # taken over, then given up

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class Adaptation(db.Model):
    """One city's case study taking up another's practice: what was kept, what changed, why.

    ``source`` is the practice taken up; ``adapting`` is the case study of
    the city's own version. A pair is recorded once, and a case study never
    adapts itself (both also enforced by the database); that the links form
    no cycle is checked by :func:`kb.services.lineage.record_adaptation`.
    ``kept``, ``changed``, ``reasons`` (the context differences that made the
    changes necessary) and ``results`` are Markdown source. ``author`` is
    whoever recorded the link. Deleting either case study deletes the link
    (the ORM cascades below: SQLite does not enforce ON DELETE).
    """

    __tablename__ = "adaptation"
    __table_args__ = (
        UniqueConstraint("source_id", "adapting_id"),
        CheckConstraint("source_id <> adapting_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("case_study.id", ondelete="CASCADE"))
    adapting_id: Mapped[int] = mapped_column(
        ForeignKey("case_study.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[AdaptationKind] = mapped_column(_enum(AdaptationKind, "adaptation_kind"))
    kept: Mapped[str] = mapped_column(Text, default="")
    changed: Mapped[str] = mapped_column(Text, default="")
    reasons: Mapped[str] = mapped_column(Text, default="")
    results: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    source: Mapped[CaseStudy] = relationship(
        foreign_keys=[source_id],
        backref=backref("adapted_by_links", cascade="all, delete-orphan"),
    )
    adapting: Mapped[CaseStudy] = relationship(
        foreign_keys=[adapting_id],
        backref=backref("adapted_from_links", cascade="all, delete-orphan"),
    )
    author: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<Adaptation {self.source_id} -> {self.adapting_id} {self.kind.value}>"


def adaptation_case_ids(session: Session, case_ids) -> set[int]:
    """The case studies linked by an adaptation, either way, to any of ``case_ids``."""
    case_ids = list(case_ids)
    if not case_ids:
        return set()
    links = session.execute(
        select(Adaptation.source_id, Adaptation.adapting_id).where(
            or_(Adaptation.source_id.in_(case_ids), Adaptation.adapting_id.in_(case_ids))
        )
    ).all()
    return {case_id for link in links for case_id in link}


class ChangeOperation(enum.Enum):
    """What happened to an entity, as far as the search index cares."""

    UPSERT = "upsert"
    DELETE = "delete"


class ChangeLog(db.Model):
    """One row per case-study change, written in the changing transaction.

    The search index applies these in ``seq`` order after the commit and
    remembers how far it got (docs/change-log-and-index.md), so a change
    that committed is never lost to a failed index write.
    """

    __tablename__ = "change_log"

    # BigInteger on PostgreSQL, but SQLite only autoincrements INTEGER keys.
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    entity: Mapped[str] = mapped_column(String(40), default="case_study")
    entity_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    operation: Mapped[ChangeOperation] = mapped_column(_enum(ChangeOperation, "change_operation"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def record_case_changes(session: Session, case_ids, operation: ChangeOperation) -> None:
    """Append change-log rows for ``case_ids`` to the current transaction.

    A case study saved in several flushes of one transaction is logged once
    per operation: the indexer reads the row's final state anyway.
    """
    logged = session.info.setdefault("kb_logged_changes", set())
    for case_id in sorted(set(case_ids)):
        if (case_id, operation) not in logged:
            logged.add((case_id, operation))
            session.add(ChangeLog(entity="case_study", entity_id=case_id, operation=operation))


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_logged_changes(session: Session) -> None:
    session.info.pop("kb_logged_changes", None)


@event.listens_for(Session, "after_flush")
def _log_case_study_changes(session: Session, flush_context) -> None:
    """Give every flushed insert, update or delete of a case study a change-log row.

    ``after_flush`` still sees the flush's new, dirty and deleted objects,
    and new rows already have their ids. The rows added here are flushed by
    the next flush, which ``commit()`` runs before it commits.
    """
    touched: set[int] = set()
    status_changed: set[int] = set()
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if isinstance(obj, CaseStudy) and (obj in session.new or session.is_modified(obj)):
            touched.add(obj.id)
            if obj not in session.new and inspect(obj).attrs.status.history.has_changes():
                status_changed.add(obj.id)
        elif isinstance(obj, Source) and obj.case_study_id is not None:
            touched.add(obj.case_study_id)
        elif isinstance(obj, Adaptation) and (obj in session.new or obj in session.deleted):
            # A link made or removed changes the lineage filter of both ends.
            touched.update(i for i in (obj.source_id, obj.adapting_id) if i is not None)
    # The lineage filter counts only links to published case studies, so a
    # case study published or withdrawn changes it for the ones it is linked to.
    touched |= adaptation_case_ids(session, status_changed)
    deleted = {obj.id for obj in session.deleted if isinstance(obj, CaseStudy)}
    record_case_changes(session, touched - deleted, ChangeOperation.UPSERT)
    record_case_changes(session, deleted, ChangeOperation.DELETE)


def latest_change_seq(session: Session) -> int:
    """The highest sequence number in the change log (0 when it is empty)."""
    return session.scalar(select(func.coalesce(func.max(ChangeLog.seq), 0)))


class LoginFailure(db.Model):
    """One failed login, counted against the email address typed and the client address.

    Kept in the database so that every worker counts the same failures
    (docs/security.md). Each failure adds one row per ``scope``
    (``"account"``, ``"address"``); ``key`` is the SHA-256 of the email
    address or client address, so typed text (sometimes a password typed
    into the wrong field) is not stored. Rows older than the throttling
    window are deleted by :mod:`kb.services.throttle`.
    """

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_scope_key_created", "scope", "key", "created_at"),)

    # A sustained attack adds rows for as long as it lasts: 64-bit ids.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    scope: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ApiToken(db.Model):
    """A per-user secret for the JSON API (``Authorization: Bearer <token>``).

    Only the SHA-256 of the token is stored: tokens are long random strings,
    so a plain hash cannot be reversed by guessing, and lookup by hash needs
    no per-token salt. ``prefix`` (the token's first characters) lets the
    account page tell tokens apart without showing them. A revoked token
    keeps its row, so the page can say when it stopped working.
    """

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def __repr__(self) -> str:
        return f"<ApiToken {self.prefix}… of user {self.user_id}>"
