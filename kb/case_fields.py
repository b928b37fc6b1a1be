"""The fields of a case study, each declared once: what it is, its limits, where it shows.

:data:`FIELDS` lists every field a person writes, in the order of the
import and export columns, the API's request body and the form. Each
:class:`CaseField` says what kind of value it holds, its limits, and which
surfaces carry it: the search index (:class:`Searched`), the revision
history, the comparison table and the collection exports (:class:`Shown`),
the import and export columns (``described``). The form, the API schemas,
the case-study service, the import and export, the revision diff, the
pages and the search index are built from it (see
``docs/case-study-fields.md``).

Adding a Markdown section or a short text takes its model column, its
migration and one entry here. Fields of the other kinds (a city, terms,
years, choices, sources) also need a line in each surface that shows them,
because each shows them its own way.

This module sits just above :mod:`kb.models`: it imports nothing else
from kb, so the services, the search index, the blueprints and the API
can all read it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from flask import current_app

from kb.models import (
    LANGUAGES,
    AdaptationContext,
    EducationLevel,
    EvidenceLevel,
    ProblemOfPractice,
)


class Kind(enum.Enum):
    """What a field holds, which decides how each surface reads, checks and shows it."""

    LINE = "line"            # short text on one line
    PARAGRAPH = "paragraph"  # plain text of one paragraph
    MARKDOWN = "markdown"    # a section written in Markdown
    CITY = "city"            # the city, a row of another table
    CHOICE = "choice"        # one value of a fixed list
    TERMS = "terms"          # vocabulary terms
    YEAR = "year"            # a whole year, or nothing
    SOURCES = "sources"      # web addresses with optional labels


# Kinds held as plain strings on the model, read and checked alike everywhere.
TEXT_KINDS = frozenset({Kind.LINE, Kind.PARAGRAPH, Kind.MARKDOWN})

# Limits shared by several fields, and by the revision message beside them.
TITLE_MAX = 300
SUMMARY_MAX = 2_000
SHORT_TEXT_MAX = 300
URL_MAX = 2_000
SOURCES_MAX = 30
TERMS_MAX = 50
EARLIEST_YEAR = 1900
LATEST_YEAR = 2100
# The revision message saved with each version (``Revision.message`` holds this many).
MESSAGE_MAX = 500
# Markdown sections have no limit of their own: each instance sets one for
# every long text (the MAX_TEXT_LENGTH setting, read by markdown_max()).


@dataclass(frozen=True)
class Searched:
    """How the search index holds a field: in which full-text field, weighed how."""

    index_field: str
    # Query-time weight of a word found in ``index_field``; every field the index field
    # holds gives the same one (kb.search.schema.FIELD_BOOSTS is made from them).
    weight: float = 1.0


@dataclass(frozen=True)
class Shown:
    """Where a field appears in a table of case studies: history, comparison, collection exports.

    Rows are put in order of ``rank`` together with the surface's own rows
    (the city's country, a snapshot's status), so a new field is placed by
    its rank alone. ``key`` and ``label`` default to the field's own.
    """

    rank: int
    label: str = ""
    key: str = ""
    # The comparison table's section the row sits in.
    section: str = ""


@dataclass(frozen=True)
class CaseField:
    """One field of a case study as a person writes it."""

    name: str
    label: str
    kind: Kind
    # Longest text (characters) or longest list (items); None: no limit of its own.
    max_length: int | None = None
    # What the service says when a required field is left empty; empty: optional.
    missing: str = ""
    # What the form's label says instead of ``label`` (for a longer prompt).
    prompt: str = ""
    # Help shown under the form's input, and in the API's schema.
    hint: str = ""
    api_hint: str = ""
    # The ``(value, label)`` pairs of a choice, and the label of choosing none.
    choices: tuple[tuple[str, str], ...] = ()
    unset: str = ""
    default: str | None = ""
    # The name in the service's input and the form when it differs: a row
    # of another table is written there as its id.
    written_as: str = ""
    # The vocabulary a term list draws from (a model of kb.models).
    vocabulary: type | None = None
    # The import and export column's meaning; the column is named after the field.
    described: str = ""
    searched: Searched | None = None
    history: Shown | None = None
    compared: Shown | None = None
    collected: Shown | None = None

    @property
    def required(self) -> bool:
        """True when a case study cannot be saved without it."""
        return bool(self.missing)

    @property
    def input_name(self) -> str:
        """The name the service's ``CaseInput`` and the form give the field."""
        return self.written_as or self.name

    @property
    def form_label(self) -> str:
        """The label of the field's input on the form."""
        if self.prompt:
            return self.prompt
        return f"{self.label} (required)" if self.required else self.label

    @property
    def choice_values(self) -> tuple[str, ...]:
        """The values a choice may take, as stored."""
        return tuple(value for value, _ in self.choices)


MARKDOWN_HINT = "Markdown: **bold**, *italic*, [link text](https://…), lists with “- ”."


def _pairs(enum_class) -> tuple[tuple[str, str], ...]:
    return tuple((member.value, member.label) for member in enum_class)


FIELDS: tuple[CaseField, ...] = (
    CaseField(
        "title", "Title", Kind.LINE, max_length=TITLE_MAX, missing="A title is required.",
        described="The case study's title.",
        searched=Searched("title", weight=3.0), history=Shown(10),
    ),
    CaseField(
        "summary", "Summary", Kind.PARAGRAPH, max_length=SUMMARY_MAX,
        missing="A one-paragraph summary is required.",
        hint="One paragraph: what was done, where, and with what result.",
        api_hint="One paragraph.",
        described="One paragraph on what was done and what came of it.",
        searched=Searched("summary", weight=2.0), history=Shown(20),
        compared=Shown(60, "Approach (summary)", "approach", section="practice"),
        collected=Shown(70),
    ),
    CaseField(
        "city", "City", Kind.CITY, written_as="city_id",
        missing="Choose the city this practice comes from.",
        api_hint="Slug of the city the practice comes from.",
        described="Slug of the city the practice comes from, e.g. toronto.",
        searched=Searched("labels"), history=Shown(30),
        compared=Shown(10, section="place"), collected=Shown(10),
    ),
    CaseField(
        "education_level", "Education level", Kind.CHOICE,
        missing="Choose an education level from the list.", choices=_pairs(EducationLevel),
        unset="Choose a level…", described="Where in the system the practice runs.",
        history=Shown(60), compared=Shown(30, section="practice"), collected=Shown(40),
    ),
    CaseField(
        "problems", "Problems of practice", Kind.TERMS, max_length=TERMS_MAX,
        written_as="problem_ids", vocabulary=ProblemOfPractice,
        missing="Choose at least one problem of practice.",
        prompt="Problems of practice (choose at least one)",
        described="Slugs of the problems of practice it addresses (at least one).",
        api_hint="Slugs of the problems of practice it addresses (at least one).",
        searched=Searched("labels"), history=Shown(40),
        compared=Shown(10, section="practice"), collected=Shown(30),
    ),
    CaseField(
        "contexts", "Adaptation contexts", Kind.TERMS, max_length=TERMS_MAX,
        written_as="context_ids", vocabulary=AdaptationContext,
        prompt="Adaptation contexts: what the practice depends on",
        api_hint="Slugs of the adaptation contexts it depends on.",
        described="Slugs of the adaptation contexts it depends on; a new one is written "
                  "kind:slug, e.g. funding:public-funding.",
        searched=Searched("labels"), history=Shown(50), compared=Shown(20, section="practice"),
    ),
    CaseField(
        "body", "Description", Kind.MARKDOWN, described="The case study in Markdown.",
        searched=Searched("body"), history=Shown(110),
    ),
    CaseField(
        "implementation", "Implementation steps", Kind.MARKDOWN,
        described="Implementation steps, in Markdown.",
        searched=Searched("implementation"), history=Shown(120),
        compared=Shown(70, section="practice"),
    ),
    CaseField(
        "outcomes", "Outcomes and evidence", Kind.MARKDOWN,
        described="Outcomes and evidence, in Markdown.",
        searched=Searched("outcomes"), history=Shown(130),
        compared=Shown(10, "Outcomes", section="results"), collected=Shown(80, "Outcomes"),
    ),
    CaseField(
        "cost_notes", "Cost notes", Kind.MARKDOWN, described="Cost, in Markdown.",
        searched=Searched("other"), history=Shown(140),
        compared=Shown(30, "Cost", "cost", section="results"),
        collected=Shown(90, "Cost", "cost"),
    ),
    CaseField(
        "enablers", "Enablers", Kind.MARKDOWN, described="What helped, in Markdown.",
        searched=Searched("other"), history=Shown(150), compared=Shown(40, section="results"),
    ),
    CaseField(
        "barriers", "Barriers", Kind.MARKDOWN, described="What stood in the way, in Markdown.",
        searched=Searched("other"), history=Shown(160), compared=Shown(50, section="results"),
    ),
    CaseField(
        "contact", "Contact", Kind.LINE, max_length=SHORT_TEXT_MAX,
        hint="Who to ask about this practice (name, office or email).",
        described="Whom to ask about it.", history=Shown(170),
    ),
    CaseField(
        "language", "Language of the text", Kind.CHOICE, choices=tuple(LANGUAGES.items()),
        default="en", described="The language it is written in.", history=Shown(70),
    ),
    # The years are shown as one span, under the first year's place.
    CaseField(
        "year_start", "First year active", Kind.YEAR, hint="For example 2016.",
        default=None, described="The first year it ran.",
        history=Shown(80, "Years active", "years"),
        compared=Shown(40, "Years active", "years", section="practice"),
        collected=Shown(50, "Years active", "years"),
    ),
    CaseField(
        "year_end", "Last year active", Kind.YEAR,
        hint="Leave empty while the practice is still running.",
        api_hint="Leave out or null while it is still running.",
        default=None, described="The last year it ran; empty while it still runs.",
    ),
    CaseField(
        "evidence_level", "Strength of the evidence", Kind.CHOICE, choices=_pairs(EvidenceLevel),
        unset="Not rated", default=None,
        hint="Descriptive is weakest, experimental strongest.",
        described="Strength of the evidence of impact; empty if not rated.",
        history=Shown(90), compared=Shown(20, section="results"), collected=Shown(60),
    ),
    CaseField(
        "sources", "Sources", Kind.SOURCES, max_length=SOURCES_MAX,
        hint="One per line: “label | https://…”, or just the web address.",
        described="Web addresses of its sources, each with an optional label.",
        history=Shown(180), compared=Shown(60, section="results"),
    ),
)

BY_NAME: dict[str, CaseField] = {spec.name: spec for spec in FIELDS}
TEXT_FIELDS: tuple[CaseField, ...] = tuple(spec for spec in FIELDS if spec.kind in TEXT_KINDS)
MARKDOWN_FIELDS: tuple[CaseField, ...] = tuple(
    spec for spec in FIELDS if spec.kind is Kind.MARKDOWN
)
TERMS_FIELDS: tuple[CaseField, ...] = tuple(spec for spec in FIELDS if spec.kind is Kind.TERMS)


def markdown_sections() -> dict[str, str]:
    """The Markdown sections' labels by name, in the order pages show them."""
    return {spec.name: spec.label for spec in MARKDOWN_FIELDS}


def markdown_max(given: int | None = None) -> int:
    """The limit on a Markdown section and every other long text: ``given``, else the setting.

    Services take an optional ``max_text`` (tests pass a small one) and
    read the instance's setting here when none is given.
    """
    return current_app.config["MAX_TEXT_LENGTH"] if given is None else given


def too_long(spec: CaseField, limit: int) -> str:
    """What the service says of a text of ``spec`` longer than ``limit`` characters."""
    what = "this" if spec.kind is Kind.MARKDOWN else f"the {spec.name}"
    return f"Keep {what} under {limit:,} characters."


def text_limit(spec: CaseField, markdown_max: int) -> int:
    """The most characters a text of ``spec`` may hold, ``markdown_max`` for Markdown sections."""
    return markdown_max if spec.max_length is None else spec.max_length


def choice_label(spec: CaseField, value) -> str:
    """How people read ``value`` (a member, a stored string or None) of the choice ``spec``."""
    value = value.value if isinstance(value, enum.Enum) else value
    return dict(spec.choices).get(value, spec.unset) if value else spec.unset


def case_value(spec: CaseField, case, *, readable: bool = True) -> object:
    """The value of ``spec`` on the case study ``case``: as people read it, or as stored.

    ``readable``: names of the city and terms, labels of choices, and a year
    as the whole span the case study ran. Otherwise slugs and stored choice
    values, as the import format writes them. Sources are ``{"label",
    "url"}`` dicts either way.
    """
    value = getattr(case, spec.name)
    attribute = "name" if readable else "slug"
    if spec.kind is Kind.CITY:
        return getattr(value, attribute)
    if spec.kind is Kind.TERMS:
        return [getattr(term, attribute) for term in value]
    if spec.kind is Kind.SOURCES:
        return [{"label": source.label, "url": source.url} for source in value]
    if spec.kind is Kind.CHOICE:
        if readable:
            return choice_label(spec, value)
        return value.value if isinstance(value, enum.Enum) else value or ""
    if spec.kind is Kind.YEAR and readable:
        return case.years_label
    return value


def rows(surface: str, extra: dict[str, Shown] | None = None) -> list[tuple[str, Shown]]:
    """``(field name, place)`` of the fields on ``surface``, with the surface's ``extra`` rows.

    ``surface`` is ``history``, ``compared`` or ``collected``; the rows are
    in order of rank. An extra row is named by its key.
    """
    placed = [(spec.name, getattr(spec, surface)) for spec in FIELDS if getattr(spec, surface)]
    placed += list((extra or {}).items())
    return sorted(placed, key=lambda row: row[1].rank)
