"""What the API takes and returns, declared once as pydantic models.

The same classes validate requests, shape responses and, through
:mod:`kb.api.spec`, become the OpenAPI document, so the document cannot
drift from what the code does. Request models are strict (a number sent as
a string is refused) and forbid unknown fields; the fields a client may
never set are listed in :data:`READ_ONLY_CASE_FIELDS` so that the error
says why. Limits repeat the services' own (imported from them), so most
bad input is refused by the schema before a service sees it; the services
still check everything. A case study's fields, and their limits, come from
:data:`kb.case_fields.FIELDS`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from flask import url_for
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from kb import case_fields
from kb import search as search_index
from kb.case_fields import (
    EARLIEST_YEAR,
    LATEST_YEAR,
    MESSAGE_MAX,
    SHORT_TEXT_MAX,
    URL_MAX,
    CaseField,
    Kind,
)
from kb.models import (
    LANGUAGES,
    AdaptationContext,
    AdaptationKind,
    CaseStatus,
    CaseStudy,
    Collection,
    CollectionItem,
    CollectionVisibility,
    ContextKind,
    EducationLevel,
    EvidenceLevel,
    ProblemOfPractice,
    Role,
    User,
)
from kb.models import Adaptation as AdaptationRow
from kb.models import City as CityRow
from kb.services import case_studies, policy
from kb.services.collections import MAX_ITEMS as COLLECTION_MAX_ITEMS
from kb.services.collections import TITLE_MAX as COLLECTION_TITLE_MAX
from kb.services.review import COMMENT_MAX

# -- shared types ----------------------------------------------------------


class RequestModel(BaseModel):
    """A request body or query: strict types, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ResponseModel(BaseModel):
    """A response body: every field is always present, so the schema lists each as required."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


def _values(enum_class) -> tuple[str, ...]:
    return tuple(member.value for member in enum_class)


EducationLevelValue = Literal[_values(EducationLevel)]
EvidenceLevelValue = Literal[_values(EvidenceLevel)]
LanguageValue = Literal[tuple(LANGUAGES)]
CaseStatusValue = Literal[_values(CaseStatus)]
ContextKindValue = Literal[_values(ContextKind)]
SortValue = Literal[tuple(search_index.SORTS)]

Slug = Annotated[str, StringConstraints(min_length=1, max_length=case_studies.SLUG_MAX * 2)]
FilterValue = Annotated[str, StringConstraints(min_length=1,
                                               max_length=search_index.MAX_FILTER_VALUE_CHARS)]
# Text that must say something: at least one character that is not white space.
Required = StringConstraints(min_length=1, pattern=r"\S")
Year = Annotated[int, Field(ge=EARLIEST_YEAR, le=LATEST_YEAR)]
Markdown = Annotated[str, Field(description="Markdown; raw HTML is shown as text.")]
ApiUrl = Annotated[str, Field(description="Path of this resource in the API.")]
PageUrl = Annotated[str, Field(description="Path of the page people read on the site.")]


# -- errors ------------------------------------------------------------------


class FieldProblem(ResponseModel):
    """What is wrong with one field of the request."""

    field: str = Field(description="The field (a body field or a query parameter); empty for "
                                   "the request as a whole.")
    pointer: str | None = Field(None, description="JSON Pointer (as a URI fragment) to the body "
                                                  "field, when the field is in the body.")
    detail: str

    model_config = ConfigDict(json_schema_serialization_defaults_required=False)


class Problem(ResponseModel):
    """An error, as RFC 9457 problem details (``application/problem+json``)."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=False)

    type: str = Field(description="`about:blank`, or the address of this problem type's "
                                  "explanation on the reference page.")
    title: str
    status: int
    detail: str
    instance: str = Field(description="The path the request was made to.")
    errors: list[FieldProblem] | None = Field(
        None, description="Validation problems only: one entry per field problem.")


# -- vocabularies and cities -------------------------------------------------


class TermRef(ResponseModel):
    """A term of a vocabulary, as case studies refer to it."""

    slug: str
    name: str
    url: ApiUrl


class ContextRef(TermRef):
    """An adaptation context, as case studies refer to it."""

    kind: ContextKindValue


class CityRef(ResponseModel):
    """A city, as case studies refer to it."""

    slug: str
    name: str
    country: str
    url: ApiUrl


def term_ref(term: ProblemOfPractice) -> TermRef:
    """The short form of a problem of practice."""
    return TermRef(slug=term.slug, name=term.name, url=url_for("api.get_problem", slug=term.slug))


def context_ref(term: AdaptationContext) -> ContextRef:
    """The short form of an adaptation context."""
    return ContextRef(slug=term.slug, name=term.name, kind=term.kind.value,
                      url=url_for("api.get_context", slug=term.slug))


def city_ref(city: CityRow) -> CityRef:
    """The short form of a city."""
    return CityRef(slug=city.slug, name=city.name, country=city.country,
                   url=url_for("api.get_city", slug=city.slug))


class Term(ResponseModel):
    """A problem of practice: a common problem cities work on."""

    slug: str
    name: str
    description: Markdown
    retired: bool = Field(description="Retired terms stay on the case studies that carry them "
                                      "but cannot be added to others.")
    merged_into: str | None = Field(description="Slug of the term this one was merged into.")
    published_cases: int = Field(description="How many published case studies carry the term.")
    url: ApiUrl
    html_url: PageUrl
    cases_url: ApiUrl = Field(description="The case studies carrying the term.")


class Context(Term):
    """An adaptation context: a factor a practice depends on, grouped by kind."""

    kind: ContextKindValue
    kind_label: str


class TermList(ResponseModel):
    """Every problem of practice, by name."""

    items: list[Term]


class ContextList(ResponseModel):
    """Every adaptation context, by name."""

    items: list[Context]


def term(model, row, published_cases: int) -> Term | Context:
    """The full form of a term of either vocabulary."""
    problems = model is ProblemOfPractice
    kind = "problem" if problems else "context"
    fields = {
        "slug": row.slug, "name": row.name, "description": row.description,
        "retired": row.retired, "merged_into": row.merged_into.slug if row.merged_into else None,
        "published_cases": published_cases,
        "url": url_for(f"api.get_{kind}", slug=row.slug),
        "html_url": url_for(f"vocabularies.{kind}", slug=row.slug),
        "cases_url": url_for("api.list_cases", **{kind: row.slug}),
    }
    if problems:
        return Term(**fields)
    return Context(**fields, kind=row.kind.value, kind_label=row.kind.label)


class ProfileSection(ResponseModel):
    """One heading of a city's context profile."""

    key: str
    heading: str
    text: Markdown


class City(ResponseModel):
    """A city of the network, with its context profile under the fixed headings."""

    slug: str
    name: str
    country: str
    published_cases: int
    profile: list[ProfileSection]
    url: ApiUrl
    html_url: PageUrl
    cases_url: ApiUrl


class CityList(ResponseModel):
    """Every city of the network, by name."""

    items: list[City]


def city(row: CityRow, published_cases: int) -> City:
    """The full form of a city."""
    return City(
        slug=row.slug, name=row.name, country=row.country, published_cases=published_cases,
        profile=[ProfileSection(key=key, heading=heading, text=text)
                 for key, heading, text in row.profile()],
        url=url_for("api.get_city", slug=row.slug),
        html_url=url_for("cities.detail", slug=row.slug),
        cases_url=url_for("api.list_cases", city=row.slug),
    )


# -- case studies ------------------------------------------------------------


class SourceIn(RequestModel):
    """A link to where a case study's facts come from."""

    label: Annotated[str, StringConstraints(max_length=SHORT_TEXT_MAX)] = ""
    url: Annotated[str, StringConstraints(min_length=1, max_length=URL_MAX,
                                          pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/$.?#][^\s]*$")] = Field(
        description="An http:// or https:// address.")


class Source(ResponseModel):
    """A link to where a case study's facts come from."""

    label: str
    url: str


class Citations(ResponseModel):
    """Where to download a citation of the case study."""

    bibtex: PageUrl
    ris: PageUrl
    csl_json: PageUrl


class AuthorRef(ResponseModel):
    """The person who wrote a case study."""

    name: str


class CaseSummary(ResponseModel):
    """A case study as lists show it."""

    slug: str
    title: str
    summary: str
    city: CityRef
    problems: list[TermRef]
    education_level: EducationLevelValue
    evidence_level: EvidenceLevelValue | None
    language: LanguageValue
    year_start: int | None
    year_end: int | None = Field(description="None while the practice is still running.")
    status: CaseStatusValue
    version: int = Field(description="Send it back with an update (optimistic locking).")
    updated_at: datetime
    published_at: datetime | None
    url: ApiUrl
    html_url: PageUrl


class PendingEdit(ResponseModel):
    """An edit of a published case study waiting for review (author and curators only)."""

    version: int = Field(description="The version it becomes when published.")
    status: CaseStatusValue
    message: str
    author: AuthorRef
    updated_at: datetime


# The texts of a case study that lists leave out.
_DETAIL_TEXTS = tuple(spec for spec in case_fields.TEXT_FIELDS
                      if spec.name not in CaseSummary.model_fields)

CaseDetail = create_model(
    "CaseDetail",
    __base__=CaseSummary,
    __doc__="Every field of a case study.",
    contexts=(list[ContextRef], ...),
    **{spec.name: (Markdown if spec.kind is Kind.MARKDOWN else str, ...)
       for spec in _DETAIL_TEXTS},
    sources=(list[Source], ...),
    author=(AuthorRef, ...),
    created_at=(datetime, ...),
    citations=(Citations, ...),
    pending_edit=(PendingEdit | None, Field(
        description="Shown to the author and curators only; otherwise always null.")),
)


class CasePage(ResponseModel):
    """One page of case studies."""

    items: list[CaseSummary]
    page: int
    per_page: int
    total: int
    pages: int


def _summary_fields(case: CaseStudy) -> dict:
    return {
        "slug": case.slug, "title": case.title, "summary": case.summary,
        "city": city_ref(case.city), "problems": [term_ref(p) for p in case.problems],
        "education_level": case.education_level.value,
        "evidence_level": case.evidence_level.value if case.evidence_level else None,
        "language": case.language, "year_start": case.year_start, "year_end": case.year_end,
        "status": case.status.value, "version": case.version, "updated_at": case.updated_at,
        "published_at": case.published_at,
        "url": url_for("api.get_case", slug=case.slug),
        "html_url": url_for("cases.detail", slug=case.slug),
    }


def case_summary(case: CaseStudy) -> CaseSummary:
    """A case study as lists show it."""
    return CaseSummary(**_summary_fields(case))


def case_detail(case: CaseStudy, viewer: User | None) -> CaseDetail:
    """Every field of ``case``, and its pending edit if ``viewer`` may see the review."""
    edit = case.proposed_edit if policy.can_see_review(viewer, case) else None
    return CaseDetail(
        **_summary_fields(case),
        contexts=[context_ref(c) for c in case.contexts],
        **{spec.name: getattr(case, spec.name) for spec in _DETAIL_TEXTS},
        sources=[Source(label=s.label, url=s.url) for s in case.sources],
        author=AuthorRef(name=case.author.name),
        created_at=case.created_at,
        citations=Citations(
            bibtex=url_for("citations.bibtex", slug=case.slug),
            ris=url_for("citations.ris", slug=case.slug),
            csl_json=url_for("citations.csl_json", slug=case.slug),
        ),
        pending_edit=PendingEdit(
            version=edit.snapshot.get("version", case.version + 1), status=edit.status.value,
            message=edit.message, author=AuthorRef(name=edit.author.name),
            updated_at=edit.updated_at,
        ) if edit else None,
    )


# Fields a client may not set, with the reason the error gives.
_KEPT_BY_KB = "kb keeps this field itself; it cannot be set."
READ_ONLY_CASE_FIELDS = {
    "id": _KEPT_BY_KB,
    "slug": "The slug is made from the title when the case study is created, and then kept.",
    "status": ("The status changes only through review: POST /api/v1/cases/{slug}/submit sends "
               "a draft for review, and curators publish it."),
    "author": "The author is whoever creates the case study: the owner of the token or session.",
    "author_id": "The author is whoever creates the case study: the owner of the token or session.",
    "created_at": _KEPT_BY_KB,
    "updated_at": _KEPT_BY_KB,
    "published_at": "Set when a curator publishes the case study.",
    "pending_edit": _KEPT_BY_KB,
    "citations": _KEPT_BY_KB,
    "url": _KEPT_BY_KB,
    "html_url": _KEPT_BY_KB,
}
NEW_CASE_READ_ONLY = {"version": "A new case study starts at version 1; leave `version` out."}


def _text_type(spec: CaseField):
    if spec.kind is Kind.MARKDOWN:
        return Markdown
    limit = StringConstraints(max_length=spec.max_length)
    return Annotated[str, Required, limit] if spec.required else Annotated[str, limit]


def _choice_type(spec: CaseField):
    values = Literal[spec.choice_values]
    return values | None if spec.default is None else values


def _terms_type(spec: CaseField):
    at_least = {"min_length": 1} if spec.required else {}
    return Annotated[list[Slug], Field(**at_least, max_length=spec.max_length)]


# The type of each kind of field in a request.
_REQUEST_TYPES = {
    Kind.LINE: _text_type, Kind.PARAGRAPH: _text_type, Kind.MARKDOWN: _text_type,
    Kind.CITY: lambda spec: Slug, Kind.CHOICE: _choice_type, Kind.TERMS: _terms_type,
    Kind.YEAR: lambda spec: Year | None,
    Kind.SOURCES: lambda spec: Annotated[list[SourceIn], Field(max_length=spec.max_length)],
}


def _request_field(spec: CaseField) -> tuple:
    """The request-body field of ``spec``: its type, and its default unless it is required."""
    kind_type = _REQUEST_TYPES[spec.kind](spec)
    if spec.required:
        default = ...
    elif spec.kind in (Kind.TERMS, Kind.SOURCES):
        default = []
    else:
        default = "" if spec.kind in case_fields.TEXT_KINDS else spec.default
    # A field without a hint keeps the description its type carries (Markdown's).
    return (kind_type, Field(default, description=spec.api_hint) if spec.api_hint else default)


class _NewCase(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "title": "Employer-led apprenticeship pathways",
        "summary": "Employers co-design two-year apprenticeships with upper-secondary schools.",
        "city": "toronto",
        "education_level": "upper_secondary",
        "problems": ["work-based-learning"],
        "contexts": ["public-funding"],
        "year_start": 2019,
        "evidence_level": "correlational",
        "sources": [{"label": "Evaluation report", "url": "https://example.org/report"}],
    }]})
    read_only: ClassVar[dict[str, str]] = {**READ_ONLY_CASE_FIELDS, **NEW_CASE_READ_ONLY}


CaseInput = create_model(
    "CaseInput",
    __base__=_NewCase,
    __doc__=(
        "A new case study. It is saved as a draft written by the caller.\n\n"
        "Terms and the city are given by slug. The fields kb keeps itself\n"
        "(`id`, `slug`, `status`, `author`, `version`, the dates and the links)\n"
        "are refused with a 422, never applied."
    ),
    **{spec.name: _request_field(spec) for spec in case_fields.FIELDS},
    message=(Annotated[str, StringConstraints(max_length=MESSAGE_MAX)], Field(
        "", description="What this save changed, kept with the revision.")),
)


def _omit_default(schema: dict) -> None:
    # An update leaves out what it does not change: no default to document.
    schema.pop("default", None)


def _optional_copy(field):
    annotation = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    return (annotation, Field(None, description=field.description, json_schema_extra=_omit_default))


class _ChangesBase(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"version": 1, "summary": "A shorter summary.", "year_end": 2024},
    ]})
    read_only: ClassVar[dict[str, str]] = READ_ONLY_CASE_FIELDS


CaseChanges = create_model(
    "CaseChanges",
    __base__=_ChangesBase,
    __doc__=(
        "Changes to a case study: only the fields sent change, and `version` is required.\n\n"
        "`version` is the version the change starts from; if someone saved since, the "
        "update is refused with a 409 instead of overwriting their work. A change to a "
        "published case study is kept as a proposed edit waiting for review (202), while "
        "the published version stays on show."
    ),
    version=(int, Field(ge=1, description="The version this change starts from.")),
    **{name: _optional_copy(field) for name, field in CaseInput.model_fields.items()},
)


class SubmitInput(RequestModel):
    """An optional comment for the reviewers."""

    comment: Annotated[str, StringConstraints(max_length=COMMENT_MAX)] = ""


# -- listing and searching ---------------------------------------------------

FilterList = Annotated[list[FilterValue], Field(max_length=search_index.MAX_FILTER_VALUES)]
PageNumber = Annotated[int, Field(ge=1, le=search_index.MAX_RESULT_WINDOW,
                                  description="Pages past the last give the last page.")]
PerPage = Annotated[int, Field(ge=1, le=search_index.MAX_PER_PAGE)]


class Filters(RequestModel):
    """Facet filters: values of one facet are OR-ed, facets are AND-ed."""

    city: FilterList = Field([], description="City slugs.")
    problem: FilterList = Field([], description="Problem-of-practice slugs.")
    context: FilterList = Field([], description="Adaptation-context slugs.")
    evidence: Annotated[list[EvidenceLevelValue], Field(max_length=10)] = []
    education: Annotated[list[EducationLevelValue], Field(max_length=10)] = []
    language: Annotated[list[LanguageValue], Field(max_length=10)] = []
    year: Annotated[list[Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]],
                    Field(max_length=search_index.MAX_FILTER_VALUES)] = Field(
        [], description="Years the practice was running.")
    lineage: Annotated[list[Literal[tuple(search_index.LINEAGE_LABELS)]], Field(max_length=2)] = \
        Field([], description="Adaptation lineage: `adapted` (taken up by a published case "
                              "study), `adapts` (takes up a published case study's practice).")

    def facet_filters(self) -> dict[str, list[str]]:
        """The filters as the search facade takes them."""
        return {name: list(getattr(self, name)) for name in search_index.FACETS}


class CaseListQuery(Filters):
    """Filters, order and page of the case-study list."""

    sort: Literal["newest", "title"] = "newest"
    page: PageNumber = 1
    per_page: PerPage = 20


class SearchQuery(Filters):
    """A full-text search with filters."""

    q: Annotated[str, StringConstraints(max_length=1000)] = Field(
        "", description="The query: words, \"phrases\", -excluded words, OR.")
    sort: SortValue = "relevance"
    page: PageNumber = 1
    per_page: PerPage = 20


class Highlight(ResponseModel):
    """Where the query matched: HTML with each match in `<mark class="match">`, text escaped."""

    title: str | None
    snippet: str | None
    field: str | None = Field(description="The field the snippet comes from.")


class SearchHit(CaseSummary):
    """A case study found, with its highlights (null when nothing was highlighted)."""

    highlight: Highlight | None


class FacetCount(ResponseModel):
    """One value of a facet and how many results choosing it would give."""

    value: str
    label: str
    count: int
    selected: bool


class SearchPage(ResponseModel):
    """One page of search results, with facet counts and any "did you mean"."""

    query: str
    filters: dict[str, list[str]]
    sort: SortValue
    page: int
    per_page: int
    total: int
    pages: int
    suggestion: str | None
    notices: list[str] = Field(description="What was done with the query, e.g. words ignored.")
    facets: dict[str, list[FacetCount]]
    items: list[SearchHit]


def search_page(results: search_index.SearchResults, cases: list[CaseStudy]) -> SearchPage:
    """The facade's results and the rows they name, as the API returns them."""
    def highlight(case_id: int) -> Highlight | None:
        found = results.highlights.get(case_id)
        if found is None:
            return None
        return Highlight(title=str(found.title) if found.title is not None else None,
                         snippet=str(found.snippet) if found.snippet is not None else None,
                         field=found.field)

    return SearchPage(
        query=results.query, filters=results.filters, sort=results.sort, page=results.page,
        per_page=results.per_page, total=results.total, pages=results.pages,
        suggestion=results.suggestion, notices=list(results.notices),
        facets={name: [FacetCount(value=v.value, label=v.label, count=v.count, selected=v.selected)
                       for v in values] for name, values in results.facets.items()},
        items=[SearchHit(**_summary_fields(case), highlight=highlight(case.id)) for case in cases],
    )


# -- collections ---------------------------------------------------------------

CollectionVisibilityValue = Literal[_values(CollectionVisibility)]


class CollectionSummary(ResponseModel):
    """A curated list of case studies, as lists show it."""

    slug: str
    title: str
    visibility: CollectionVisibilityValue = Field(
        description="private: its owner only; network: everyone signed in; public: everyone.")
    featured: bool
    owner: AuthorRef
    case_count: int = Field(description="How many of its case studies the caller may see.")
    updated_at: datetime
    url: ApiUrl
    html_url: PageUrl


class CollectionEntry(ResponseModel):
    """A case study in a collection, with the curator's note."""

    position: int = Field(description="1-based, among the case studies the caller may see.")
    note: Markdown
    added_at: datetime
    case: CaseSummary


class CollectionDetail(CollectionSummary):
    """A collection with its introduction and the case studies the caller may see, in order."""

    introduction: Markdown
    created_at: datetime
    items: list[CollectionEntry]


class CollectionPage(ResponseModel):
    """One page of collections."""

    items: list[CollectionSummary]
    page: int
    per_page: int
    total: int
    pages: int


def _collection_fields(collection: Collection, case_count: int) -> dict:
    return {
        "slug": collection.slug, "title": collection.title,
        "visibility": collection.visibility.value, "featured": collection.featured,
        "owner": AuthorRef(name=collection.owner.name), "case_count": case_count,
        "updated_at": collection.updated_at,
        "url": url_for("api.get_collection", slug=collection.slug),
        "html_url": url_for("collections.detail", slug=collection.slug),
    }


def collection_summary(collection: Collection, case_count: int) -> CollectionSummary:
    """A collection as lists show it."""
    return CollectionSummary(**_collection_fields(collection, case_count))


def collection_detail(collection: Collection, items: list[CollectionItem]) -> CollectionDetail:
    """``collection`` with ``items``, the entries the caller may see."""
    return CollectionDetail(
        **_collection_fields(collection, len(items)),
        introduction=collection.introduction, created_at=collection.created_at,
        items=[CollectionEntry(position=position, note=item.note, added_at=item.added_at,
                               case=case_summary(item.case_study))
               for position, item in enumerate(items, start=1)],
    )


class CollectionInput(RequestModel):
    """A new collection, owned by the caller. Case studies are added to it afterwards."""

    read_only: ClassVar[dict[str, str]] = {
        "slug": "The slug is made from the title when the collection is made.",
        "owner": "The owner is whoever makes the collection.",
        "featured": "Facilitators feature collections on the site.",
    }

    title: Annotated[str, Required, StringConstraints(max_length=COLLECTION_TITLE_MAX)]
    introduction: Markdown = ""
    visibility: CollectionVisibilityValue = "private"


class CollectionCases(RequestModel):
    """Case studies to append to a collection, by slug, in order."""

    cases: Annotated[list[Slug], Field(min_length=1, max_length=COLLECTION_MAX_ITEMS)] = Field(
        description="Case studies already in the collection stay where they are.")


class CollectionListQuery(RequestModel):
    """Which collections, and which page."""

    scope: Literal["shared", "mine"] = Field(
        "shared", description="shared: public and network collections the caller may see; "
                              "mine: the caller's own, private ones included (needs a user).")
    page: PageNumber = 1
    per_page: PerPage = 20


# -- adaptations ----------------------------------------------------------------

AdaptationKindValue = Literal[_values(AdaptationKind)]


class Adaptation(ResponseModel):
    """One city's case study taking up another's practice: what was kept, changed, and why."""

    id: int
    kind: AdaptationKindValue
    kind_label: str
    source: CaseSummary = Field(description="The practice taken up.")
    adapting: CaseSummary = Field(description="The city's own version of it.")
    kept: Markdown
    changed: Markdown
    reasons: Markdown = Field(description="The context differences that made the changes needed.")
    results: Markdown
    author: AuthorRef = Field(description="Who recorded the link.")
    created_at: datetime
    updated_at: datetime
    url: ApiUrl


class CaseAdaptations(ResponseModel):
    """The adaptation links of a case study that the caller may see."""

    adapted_from: list[Adaptation] = Field(description="The practices this case study adapts.")
    adapted_by: list[Adaptation] = Field(description="The case studies adapting this one.")


def adaptation(link: AdaptationRow) -> Adaptation:
    """The full form of an adaptation link."""
    return Adaptation(
        id=link.id, kind=link.kind.value, kind_label=link.kind.label,
        source=case_summary(link.source), adapting=case_summary(link.adapting),
        kept=link.kept, changed=link.changed, reasons=link.reasons, results=link.results,
        author=AuthorRef(name=link.author.name), created_at=link.created_at,
        updated_at=link.updated_at, url=url_for("api.get_adaptation", adaptation_id=link.id),
    )


class AdaptationInput(RequestModel):
    """Which practice the case study adapts (by slug), how, and what was kept and changed."""

    source: Slug = Field(description="Slug of the case study whose practice was taken up.")
    kind: AdaptationKindValue
    kept: Markdown = ""
    changed: Markdown = ""
    reasons: Markdown = ""
    results: Markdown = ""


# -- the caller --------------------------------------------------------------


class Me(ResponseModel):
    """The account the request acts for."""

    name: str
    email: str
    role: Literal[_values(Role)]
    city: CityRef | None
    authenticated_by: Literal["token", "session"]
