"""Reading the pages tests get: their text, tables and structure, and the case-study form.

Helpers shared by the tests of the pages; none of them touches the database
but :func:`load`, which opens its own app context.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import quote

from flask import Flask
from sqlalchemy import select

from kb.extensions import db
from kb.models import CaseStudy


def text(response) -> str:
    """The response body as text."""
    return response.get_data(as_text=True)


def url(slug: str, suffix: str = "") -> str:
    """The address of the case study at ``slug`` (plus ``suffix``), as a browser sends it."""
    return f"/cases/{quote(slug)}{suffix}"


_UNLABELLED = ("hidden", "submit")  # input types that need no label


class _PageStructure(HTMLParser):
    """Collects what the checks need: h1s, controls, labels, fieldsets, every attribute."""

    def __init__(self):
        super().__init__()
        self.h1_count = 0
        self.control_ids: list[str] = []
        self.label_targets: set[str] = set()
        self.fieldsets_with_legend = 0
        self.attributes: list[tuple[str, str | None]] = []
        self._open_fieldsets: list[bool] = []

    def handle_starttag(self, tag, attrs):
        self.attributes.extend(attrs)
        attrs = dict(attrs)
        if tag == "h1":
            self.h1_count += 1
        elif tag in ("input", "select", "textarea") and attrs.get("type") not in _UNLABELLED:
            self.control_ids.append(attrs.get("id", ""))
        elif tag == "label" and attrs.get("for"):
            self.label_targets.add(attrs["for"])
        elif tag == "fieldset":
            self._open_fieldsets.append(False)
        elif tag == "legend" and self._open_fieldsets:
            self._open_fieldsets[-1] = True

    def handle_endtag(self, tag):
        if tag == "fieldset" and self._open_fieldsets.pop():
            self.fieldsets_with_legend += 1


def structure(html: str) -> _PageStructure:
    """Parse ``html`` for the accessibility checks."""
    parser = _PageStructure()
    parser.feed(html)
    return parser


class TableGrid(HTMLParser):
    """Every <table> of a page as rows of cells: dicts of the tag, text, links and attributes."""

    def __init__(self):
        super().__init__()
        self.tables: list[list[list[dict]]] = []
        self._cell: dict | None = None
        self.h1_count = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "h1":
            self.h1_count += 1
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("th", "td") and self.tables:
            self._cell = {"tag": tag, "text": "", "links": [], **attrs}
            self.tables[-1][-1].append(self._cell)
        elif tag == "a" and self._cell is not None:
            self._cell["links"].append(attrs.get("href"))

    def handle_endtag(self, tag):
        if tag in ("th", "td"):
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data

    @classmethod
    def of(cls, html: str) -> TableGrid:
        """Parse ``html``."""
        parser = cls()
        parser.feed(html)
        return parser


def cell_text(cell: dict) -> str:
    """A cell's text with its white space collapsed."""
    return " ".join(cell["text"].split())


def case_form(taxonomy, **overrides) -> dict:
    """The POST data of a valid new-case form, with ``overrides`` (None removes a field)."""
    data = {
        "title": "Employer-led apprenticeships",
        "summary": "Students spend two days a week with an employer.",
        "city_id": str(taxonomy["cities"]["toronto"]),
        "education_level": "upper_secondary",
        "language": "en",
        "year_start": "",
        "year_end": "",
        "evidence_level": "",
        "problem_ids": [str(taxonomy["problems"]["work-based-learning"])],
        "context_ids": [],
        "body": "Illustrative sample data.",
        "implementation": "", "outcomes": "", "cost_notes": "", "enablers": "", "barriers": "",
        "contact": "", "sources": "", "message": "",
        "save": "Save draft",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def load(app: Flask, slug: str) -> CaseStudy | None:
    """The case study at ``slug`` (detached, its columns loaded), or None."""
    with app.app_context():
        case = db.session.scalar(select(CaseStudy).where(CaseStudy.slug == slug))
        if case is not None:
            db.session.expunge(case)
        return case
