"""Property tests (Hypothesis) of the bulk import: any file, any rows.

Whatever the bytes, the parser answers with rows or an ImportRejected that
lists problems by line, never another exception; whatever the rows, the
import either creates case studies whose stored text is clean and renders
to safe HTML, or rejects the file and writes nothing. The settings,
the safe-HTML checker, the Markdown fragments and the XSS payload corpus
are tests/hostile.py's, shared with tests/test_properties.py.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from hostile import CI, FRAGMENTS, PAYLOADS, html_problems
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kb.errors import ImportRejected
from kb.extensions import db
from kb.models import CaseStudy, EducationLevel, EvidenceLevel, User
from kb.sanitize import clean_text, render_markdown
from kb.services import bulk

# Property-based: hundreds of generated examples a test.
pytestmark = pytest.mark.slow

MAX = 200_000


def _payload(index: int) -> str:
    return PAYLOADS[index]


# tests/test_properties.py's Markdown pieces, payloads drawn by index: a
# strategy listing a thousand payloads has a repr too long for Hypothesis.
hostile_text = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS),
              st.integers(min_value=0, max_value=len(PAYLOADS) - 1).map(_payload),
              st.text(max_size=12)),
    max_size=16,
).map("".join)
MARKDOWN_FIELDS = ("body", "implementation", "outcomes", "cost_notes", "enablers", "barriers")


def read_or_reject(data: bytes, file_format: str) -> list[bulk.ParsedRow] | None:
    """The rows of ``data``, or None when it is rejected with problems that say where."""
    try:
        return bulk.read_rows(data, file_format, max_bytes=MAX)
    except ImportRejected as error:
        assert error.problems
        for problem in error.problems:
            assert problem.line is None or problem.line >= 1
            assert problem.message
        return None


# Fragments of JSON Lines and CSV files, broken and whole.
FILE_PIECES = [
    "{", "}", "[", "]", '"', ",", ":", "\n", "\r\n", "\r", "\\", "\\u0000", "\\ud800", "null",
    '"title"', '"city"', '"problems"', '["work-based-learning"]', "1e999", "9" * 5000,
    "\ufeff", "\x00", "'=", "'", '""', "title,summary,city,education_level,problems\n",
    '{"kb_dump": 1}', "\u202e", "é", "学校",
]
file_text = st.lists(st.one_of(st.sampled_from(FILE_PIECES), st.text(max_size=20)),
                     max_size=40).map("".join)


@CI
@given(data=st.one_of(st.binary(max_size=3000), file_text.map(str.encode),
                      file_text.map(lambda text: text.encode("utf-16"))),
       file_format=st.sampled_from(bulk.FORMATS))
def test_any_bytes_give_rows_or_problems_by_line(data, file_format):
    read_or_reject(data, file_format)


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20), hostile_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)
term_slugs = ["work-based-learning", "career-guidance", "old-term", "brand-new", "Not A Slug",
              "public-funding", "culture:fresh-context", "fresh-context", "governance:large-system"]
# Values that are mostly of the right shape, so that rows get past the
# parser and into the case-study service with hostile text.
plausible = {
    "title": st.one_of(hostile_text, st.text(max_size=40)),
    "summary": hostile_text,
    "city": st.sampled_from(["toronto", "seoul", "atlantis", "", " toronto "]),
    "education_level": st.sampled_from([level.value for level in EducationLevel] + ["bogus"]),
    "problems": st.lists(st.sampled_from(term_slugs), max_size=3),
    "contexts": st.lists(st.one_of(st.sampled_from(term_slugs),
                                   st.fixed_dictionaries({"slug": st.sampled_from(term_slugs)},
                                                         optional={"kind": st.text(max_size=8)})),
                         max_size=3),
    **{name: hostile_text for name in MARKDOWN_FIELDS},
    "contact": hostile_text,
    "language": st.sampled_from(["en", "ja", "xx", ""]),
    "year_start": st.one_of(st.none(), st.integers(min_value=1800, max_value=2200)),
    "year_end": st.one_of(st.none(), st.integers(min_value=1800, max_value=2200)),
    "evidence_level": st.sampled_from([level.value for level in EvidenceLevel] + ["", "strong"]),
    "sources": st.lists(st.one_of(
        st.sampled_from(["https://example.org/a", "javascript:alert(1)", "http://", "//x.org"]),
        st.fixed_dictionaries({"url": hostile_text}, optional={"label": hostile_text}),
    ), max_size=3),
    "status": st.sampled_from(list(bulk.STATUSES) + ["archived"]),
}
REQUIRED = [column.name for column in bulk.COLUMNS if column.required]
plausible_rows = st.fixed_dictionaries(
    {name: plausible[name] for name in REQUIRED},
    optional={name: strategy for name, strategy in plausible.items() if name not in REQUIRED},
)
any_rows = st.dictionaries(st.one_of(st.sampled_from(bulk.COLUMN_NAMES), st.text(max_size=6)),
                           json_values, max_size=6)
jsonl_files = st.lists(
    st.one_of(plausible_rows.map(json.dumps), any_rows.map(json.dumps), file_text),
    min_size=1, max_size=4,
).map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass"))


def _cell(value) -> str:
    if isinstance(value, list):
        return "; ".join(str(item) for item in value)
    return "" if value is None else str(value)


def _csv_file(rows: list[dict], extra: str) -> bytes:
    names = list(bulk.COLUMN_NAMES)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(names)
    for row in rows:
        writer.writerow([_cell(row.get(name)) for name in names])
    return (buffer.getvalue() + extra).encode("utf-8", "surrogatepass")


csv_files = st.builds(_csv_file, st.lists(plausible_rows, min_size=1, max_size=3),
                      st.one_of(st.just(""), file_text))


@CI
@given(data=st.one_of(jsonl_files.map(lambda data: (data, "jsonl")),
                      csv_files.map(lambda data: (data, "csv"))))
def test_any_rows_give_rows_or_problems_by_line(data):
    read_or_reject(*data)


def _prefixed(prefix: str, limit: int):
    """Hostile text after ``prefix`` (so that some text survives cleaning), cut to ``limit``."""
    return st.builds(lambda text: (prefix + text)[:limit], hostile_text)


# Rows every part of which is valid, with hostile text in every text field:
# these get past every check, so their stored text can be looked at.
valid_rows = st.fixed_dictionaries(
    {
        "title": _prefixed("Case ", 250),
        "summary": _prefixed("Summary ", 1_500),
        "city": st.sampled_from(["toronto", "seoul"]),
        "education_level": st.sampled_from([level.value for level in EducationLevel]),
        "problems": st.lists(st.sampled_from(["work-based-learning", "career-guidance"]),
                             min_size=1, max_size=2),
        **{name: hostile_text for name in MARKDOWN_FIELDS},
    },
    optional={
        "contexts": st.lists(st.sampled_from(["public-funding", "scale:large-system"]),
                             max_size=2),
        "contact": _prefixed("Office ", 250),
        "sources": st.lists(st.fixed_dictionaries(
            {"url": st.sampled_from(["https://example.org/a", "http://example.org/b?c=1&d"])},
            optional={"label": _prefixed("Source ", 250)}), max_size=2),
        "language": st.sampled_from(["en", "ja", "ko", "zh"]),
        "evidence_level": st.sampled_from([level.value for level in EvidenceLevel]),
        "status": st.sampled_from(bulk.STATUSES),
    },
)


def _as_csv(rows: list[dict]) -> bytes:
    # A NUL byte is refused in any file; JSON Lines carries one as \u0000.
    rows = [{name: value.replace("\x00", "") if isinstance(value, str) else value
             for name, value in row.items()} for row in rows]
    # A CSV cell has one source a line: a label is one line (as kb stores it).
    flat = [{**row, "sources": "\n".join(
        f"{' '.join(source.get('label', '').split())} <{source['url']}>"
        for source in row.get("sources", []))} for row in rows]
    return _csv_file(flat, "")


valid_files = st.lists(valid_rows, min_size=1, max_size=3).flatmap(lambda rows: st.sampled_from([
    ("\n".join(json.dumps(row) for row in rows).encode(), "jsonl"),
    (_as_csv(rows), "csv"),
]))


@pytest.fixture
def importer(app, taxonomy, people):
    """An app context and the facilitator who imports."""
    with app.app_context():
        yield people["facilitator"]


def _assert_clean_and_safe(case: CaseStudy) -> None:
    for name in ("title", "contact"):
        assert clean_text(getattr(case, name), multiline=False) == getattr(case, name)
    for name in ("summary", *MARKDOWN_FIELDS):
        text = getattr(case, name)
        assert clean_text(text) == text
        html = str(render_markdown(text))
        assert not html_problems(html), (text, html)
    for source in case.sources:
        assert source.url.startswith(("http://", "https://"))
        assert clean_text(source.label, multiline=False) == source.label


def _import(importer, data, **options) -> bulk.ImportReport | None:
    """Import ``data``; None when it is rejected, in which case nothing is written."""
    rows = read_or_reject(*data)
    if rows is None:
        return None
    try:
        return bulk.import_cases(db.session.get(User, importer), rows, **options)
    except ImportRejected as error:
        assert error.problems
        assert db.session.scalar(select(func.count()).select_from(CaseStudy)) == 0
        return None


@settings(CI, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(jsonl_files.map(lambda data: (data, "jsonl")),
                      csv_files.map(lambda data: (data, "csv"))),
       create_terms=st.booleans(), as_operator=st.booleans())
def test_any_rows_are_imported_whole_or_not_at_all(importer, data, create_terms, as_operator):
    try:
        report = _import(importer, data, create_terms=create_terms, as_operator=as_operator)
        if report is not None:
            cases = db.session.scalars(select(CaseStudy)).all()
            assert len(cases) == len(report.cases)
            for case in cases:
                _assert_clean_and_safe(case)
    finally:
        db.session.rollback()


@settings(CI, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=valid_files)
def test_hostile_text_in_valid_rows_is_stored_clean_and_renders_safely(importer, data):
    try:
        report = _import(importer, data, as_operator=True)
        assert report is not None, data
        db.session.expire_all()
        cases = db.session.scalars(select(CaseStudy)).all()
        assert len(cases) == len(report.cases) > 0
        for case in cases:
            _assert_clean_and_safe(case)
    finally:
        db.session.rollback()
