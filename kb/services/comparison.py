"""Side-by-side comparison of two to four case studies on one framework.

The framework is the same for every case study: where it happened (the
city and its context profile), what problem it works on, what was done,
what came of it, and at what cost. Rows are those fields (the case-study
fields :data:`kb.case_fields.FIELDS` marks as compared, and the city's
own), columns the case studies, in the order they were asked for. The web page, the CSV and the
JSON exports are all built from one :class:`Comparison`.

A case study the viewer may not see is reported exactly like one that does
not exist, so a comparison URL never reveals someone else's draft.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kb import case_fields
from kb.case_fields import Kind, Shown
from kb.errors import NotFound, ValidationError
from kb.extensions import db
from kb.models import PROFILE_HEADINGS, CaseStudy, City, User, is_valid_id
from kb.services import policy

MIN_CASES = 2
MAX_CASES = 4
# How many case studies the "compare with…" list on a case page offers.
MAX_CANDIDATES = 500
CHOOSE_CASES = f"Choose between {MIN_CASES} and {MAX_CASES} case studies to compare."

# Kinds of row value, which decide how a value is shown:
TEXT = "text"          # plain text
MARKDOWN = "markdown"  # Markdown source, rendered on the page
LIST = "list"          # a list of names
SOURCES = "sources"    # a list of {"label", "url"}


@dataclass
class Row:
    """One field of the framework, with one value per compared case study."""

    key: str
    label: str
    kind: str
    values: list


@dataclass
class Section:
    """A group of rows under one heading."""

    key: str
    heading: str
    rows: list[Row]


@dataclass
class Comparison:
    """The compared case studies (in the order asked for) and the framework's rows."""

    cases: list[CaseStudy]
    sections: list[Section]

    @property
    def ids(self) -> list[int]:
        return [case.id for case in self.cases]

    @property
    def rows(self) -> list[Row]:
        return [row for section in self.sections for row in section.rows]


def _load_visible(user: User | None, ids: list[int]) -> list[CaseStudy]:
    """The case studies ``ids`` in that order; NotFound if ``user`` cannot see every one."""
    # A number beyond the key range names no row (and PostgreSQL refuses to compare it).
    found = {
        case.id: case
        for case in db.session.scalars(
            select(CaseStudy)
            .where(CaseStudy.id.in_([i for i in ids if is_valid_id(i)]),
                   policy.visible_cases_clause(user))
            .options(selectinload(CaseStudy.city), selectinload(CaseStudy.problems),
                     selectinload(CaseStudy.contexts), selectinload(CaseStudy.sources))
        )
    }
    missing = [number for number in ids if number not in found]
    if missing:
        listed = ", ".join(str(number) for number in missing)
        raise NotFound(f"No case study with the number {listed} can be compared.")
    return [found[number] for number in ids]


# The framework's sections, in order: key -> heading.
SECTIONS = {
    "place": "City and its context",
    "practice": "The practice",
    "results": "Results and conditions",
}
# Rows that are the city's, not the case study's: its country and context profile.
_CITY_ROWS = {
    "country": Shown(20, "Country", section="place"),
    **{f"profile_{key}": Shown(30 + position, heading, section="place")
       for position, (key, heading) in enumerate(PROFILE_HEADINGS.items())},
}
# The row kind of each kind of field; the rest are plain text.
_ROW_KINDS = {Kind.MARKDOWN: MARKDOWN, Kind.TERMS: LIST, Kind.SOURCES: SOURCES}


@dataclass(frozen=True)
class _Framework:
    """One row of the framework, before any case study fills it."""

    section: str
    key: str
    label: str
    kind: str
    value: Callable[[CaseStudy], object]


def _city_value(attribute: str):
    def value(case: CaseStudy) -> str:
        return getattr(case.city, attribute) or ""
    return value


def _field_value(name: str):
    """How the row of the case-study field ``name`` reads a case study."""
    if name == "contexts":
        # Contexts of different kinds can share a name; the kind tells them apart.
        return lambda c: [f"{x.name} ({x.kind.label})" for x in c.contexts]
    spec = case_fields.BY_NAME[name]
    return lambda c: case_fields.case_value(spec, c)


def _framework_row(name: str, place: Shown) -> _Framework:
    if name in _CITY_ROWS:
        # The profile is written in Markdown; the country is a name.
        kind = TEXT if name == "country" else MARKDOWN
        return _Framework(place.section, name, place.label, kind, _city_value(name))
    spec = case_fields.BY_NAME[name]
    return _Framework(place.section, place.key or name, place.label or spec.label,
                      _ROW_KINDS.get(spec.kind, TEXT), _field_value(name))


FRAMEWORK: tuple[_Framework, ...] = tuple(
    _framework_row(name, place) for name, place in case_fields.rows("compared", _CITY_ROWS)
)


def compare_cases(user: User | None, ids: list[int]) -> Comparison:
    """Case studies ``ids`` aligned field by field.

    ValidationError for fewer than two, more than four or repeated ids;
    NotFound if any is unknown or hidden from ``user``, alike.
    """
    if not MIN_CASES <= len(ids) <= MAX_CASES or len(set(ids)) != len(ids):
        raise ValidationError(CHOOSE_CASES)
    cases = _load_visible(user, ids)
    sections = [
        Section(key, heading, [
            Row(row.key, row.label, row.kind, [row.value(case) for case in cases])
            for row in FRAMEWORK if row.section == key
        ])
        for key, heading in SECTIONS.items()
    ]
    return Comparison(cases=cases, sections=sections)


def plain_value(row: Row, value) -> str:
    """A row's value as one piece of text, for a spreadsheet cell."""
    if row.kind == LIST:
        return "; ".join(value)
    if row.kind == SOURCES:
        return "\n".join(f"{s['label']} <{s['url']}>" if s["label"] else s["url"] for s in value)
    return value or ""


@dataclass(frozen=True)
class Candidate:
    """A case study offered by "compare with…"."""

    id: int
    title: str
    city: str


def compare_candidates(user: User | None, case: CaseStudy) -> list[Candidate]:
    """Other case studies ``user`` may see, by city then title, to compare ``case`` with."""
    return candidates_besides(case, offered_candidates(user))


def candidates_besides(case: CaseStudy, offered: Iterable[Candidate]) -> list[Candidate]:
    """What :func:`compare_candidates` offers, chosen from ``offered``: all but ``case``."""
    return [candidate for candidate in offered if candidate.id != case.id][:MAX_CANDIDATES]


def offered_candidates(user: User | None) -> tuple[Candidate, ...]:
    """What :func:`compare_candidates` chooses from: one more than it offers, for the page's own.

    Every case study page offers them, so the page keeps them until a case
    study changes (:func:`kb.blueprints.cases.detail`); they are immutable
    for that reason.
    """
    rows = db.session.execute(
        select(CaseStudy.id, CaseStudy.title, City.name)
        .join(City, CaseStudy.city_id == City.id)
        .where(policy.visible_cases_clause(user))
        .order_by(City.name, CaseStudy.title, CaseStudy.id)
        .limit(MAX_CANDIDATES + 1)
    ).all()
    return tuple(Candidate(id=row.id, title=row.title, city=row.name) for row in rows)


def table_lines(compared: Comparison, case_urls: list[str]) -> list[list]:
    """The comparison as table lines: a header of titles, then one line per field."""
    return [
        ["Field", *[case.title for case in compared.cases]],
        ["Case study number", *compared.ids],
        ["Address", *case_urls],
        *[[row.label, *[plain_value(row, value) for value in row.values]] for row in compared.rows],
    ]


def as_json(compared: Comparison, case_urls: list[str]) -> dict:
    """The comparison as JSON-ready data: the case studies, then each field's values."""
    return {
        "ids": compared.ids,
        "cases": [
            {
                "id": case.id,
                "slug": case.slug,
                "title": case.title,
                "language": case.language,
                "status": case.status.value,
                "url": url,
                "city": {"slug": case.city.slug, "name": case.city.name,
                         "country": case.city.country},
            }
            for case, url in zip(compared.cases, case_urls, strict=True)
        ],
        "fields": [
            {"key": row.key, "label": row.label, "section": section.key, "kind": row.kind,
             "values": row.values}
            for section in compared.sections
            for row in section.rows
        ],
    }
