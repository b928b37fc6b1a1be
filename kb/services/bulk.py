"""Bulk import of case studies from JSON Lines or CSV, and their export in the same format.

The format is documented in README.md ("Bulk import and export"); the
columns are :data:`COLUMNS`: one for each of :data:`kb.case_fields.FIELDS`,
then the status. Each row becomes one new case study, written
through :func:`kb.services.case_studies.create_case` exactly as the web
form writes one: the same validation, sanitizer, revision, change log and
search index. Cities and vocabulary terms are named by slug.

Importing is all or nothing:

1. :func:`read_rows` parses the whole file and reports every problem by
   line and field (bad UTF-8, bad JSON or CSV, unknown columns, values of
   the wrong type or outside their choices) before anything else happens;
2. :func:`import_cases` resolves every city and term, then creates the
   terms and case studies in the session's transaction, collecting every
   refusal of the case-study service by line. If any row fails, or on a
   dry run, it rolls the transaction back, so nothing of the file is
   written; otherwise the caller commits once.

Every problem is an :class:`~kb.errors.ImportProblem` inside one
:class:`~kb.errors.ImportRejected`: no other exception comes out of a
file, however malformed.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from kb import case_fields
from kb.case_fields import MESSAGE_MAX, CaseField, Kind
from kb.csvsafe import csv_document, spreadsheet_value
from kb.errors import (
    Conflict,
    ImportProblem,
    ImportRejected,
    PermissionDenied,
    ValidationError,
)
from kb.extensions import db
from kb.models import (
    AdaptationContext,
    CaseStudy,
    City,
    ContextKind,
    ProblemOfPractice,
    User,
)
from kb.sanitize import clean_text
from kb.services import case_studies, policy, review, vocabularies
from kb.services.case_studies import CaseInput
from kb.services.vocabularies import TermInput

FORMATS = ("jsonl", "csv")
# File name endings that say which format a file is in.
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv"}
# Problems listed before the import stops looking: a file of garbage
# should not produce a report longer than itself.
MAX_PROBLEMS = 100
# Separates terms in a CSV cell; sources go one per line.
TERM_SEPARATOR = ";"
STATUSES = ("draft", "submitted", "published")
_IMPORTED_FROM = "Imported from "

# Kinds of column, which decide how a value is read and written.
LINE = "line"  # one line of text
TEXT = "text"  # text of several lines; Markdown where the column says so
CHOICE = "choice"  # one of a fixed list of values
SLUG = "slug"  # names a row of another table
YEAR = "year"  # a whole year, or nothing
TERMS = "terms"  # vocabulary terms by slug
SOURCES = "sources"  # web addresses with optional labels


@dataclass(frozen=True)
class Column:
    """One field of an import row: its name (the JSON key and CSV header), kind and meaning."""

    name: str
    kind: str
    description: str
    required: bool = False
    choices: tuple[str, ...] = ()
    default: str = ""


# The column kind of each kind of case-study field.
_COLUMN_KINDS = {
    Kind.LINE: LINE, Kind.PARAGRAPH: TEXT, Kind.MARKDOWN: TEXT, Kind.CITY: SLUG,
    Kind.CHOICE: CHOICE, Kind.TERMS: TERMS, Kind.YEAR: YEAR, Kind.SOURCES: SOURCES,
}


def _field_column(spec: CaseField) -> Column:
    """The import column of a case-study field; an unrated choice is an empty cell."""
    unset = ("",) if spec.kind is Kind.CHOICE and spec.default is None else ()
    return Column(spec.name, _COLUMN_KINDS[spec.kind], spec.described, required=spec.required,
                  choices=(*unset, *spec.choice_values), default=spec.default or "")


COLUMNS: tuple[Column, ...] = (
    *(_field_column(spec) for spec in case_fields.FIELDS),
    Column("status", CHOICE, "Where it enters the review workflow; a draft by default.",
           choices=STATUSES, default="draft"),
)
COLUMN_NAMES = tuple(column.name for column in COLUMNS)
_BY_NAME = {column.name: column for column in COLUMNS}
# The case-study service names some fields by what the form holds.
_SERVICE_FIELDS = {spec.input_name: spec.name for spec in case_fields.FIELDS}
_SOURCE_LINE = re.compile(r"^(.*?)\s*<([^<>\s]+)>$")


@dataclass(frozen=True)
class TermRef:
    """A vocabulary term a row names: its slug and, for creating it, a name and kind."""

    slug: str
    kind: str | None = None
    name: str | None = None


@dataclass
class ParsedRow:
    """One row of an import file, its values read into Python types."""

    line: int
    values: dict[str, Any]


@dataclass(frozen=True)
class ImportedCase:
    """A case study an import created (or, on a dry run, would create)."""

    line: int
    title: str
    slug: str
    city: str
    status: str


@dataclass(frozen=True)
class NewTerm:
    """A vocabulary term an import created (or would create) because a row named it."""

    vocabulary: str
    slug: str
    name: str
    kind: str | None


@dataclass
class ImportReport:
    """What an import did, or on a dry run would do."""

    dry_run: bool
    cases: list[ImportedCase] = field(default_factory=list)
    new_terms: list[NewTerm] = field(default_factory=list)


class _Stop(Exception):
    """Ends the reading or importing of a file early: the problems found so far are reported."""


class _Problems:
    """Collects problems by line and field; stops the work once there are too many."""

    def __init__(self) -> None:
        self.found: list[ImportProblem] = []

    def add(self, line: int | None, field_name: str, message: str) -> None:
        self.found.append(ImportProblem(line, field_name, message))
        if len(self.found) >= MAX_PROBLEMS:
            raise _Stop

    def rejected(self) -> ImportRejected:
        found = list(self.found)
        if len(found) >= MAX_PROBLEMS:
            found.append(ImportProblem(
                None, "", f"Stopped looking after {MAX_PROBLEMS} problems; correct these first."
            ))
        return ImportRejected(found)


def shown(text: str, limit: int = 60) -> str:
    """User text quoted in a message: control characters removed, cut to ``limit`` characters."""
    text = clean_text(text, multiline=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- size and format --------------------------------------------------------

def check_size(size: int, max_bytes: int) -> None:
    """Refuse a file of ``size`` bytes when it is over ``max_bytes`` (IMPORT_MAX_BYTES)."""
    if size > max_bytes:
        size_text, limit_text = size_label(size), size_label(max_bytes)
        if size_text == limit_text:
            # Too close to tell apart in megabytes: "2.0 MB; at most 2.0 MB" explains nothing.
            size_text, limit_text = f"{size:,} bytes", f"{max_bytes:,} bytes"
        raise ImportRejected([ImportProblem(
            None, "",
            f"The file is {size_text}; files of at most {limit_text} are "
            "imported (the IMPORT_MAX_BYTES setting). Split it into smaller files.",
        )])


def size_label(size: int) -> str:
    """A file size for people: megabytes from a tenth of one, bytes below."""
    return f"{size / 1_048_576:.1f} MB" if size >= 104_858 else f"{size:,} bytes"


def counted(count: int, singular: str, plural: str) -> str:
    """``count`` with the noun it counts: "1 case study", "2 case studies"."""
    return f"{count} {singular if count == 1 else plural}"


def format_for(filename: str, requested: str | None = None) -> str:
    """The format to read a file in: ``requested`` if given, else the file name's ending."""
    if requested:
        if requested not in FORMATS:
            raise ImportRejected([ImportProblem(
                None, "", f"Unknown format “{shown(requested)}”: use jsonl or csv."
            )])
        return requested
    found = SUFFIXES.get(PurePath(filename or "").suffix.lower())
    if found is None:
        raise ImportRejected([ImportProblem(
            None, "", "Say whether the file is JSON Lines or CSV: its name ends in neither "
            ".jsonl nor .csv.",
        )])
    return found


# -- reading ----------------------------------------------------------------

def read_rows(data: bytes, file_format: str, *, max_bytes: int) -> list[ParsedRow]:
    """Parse an import file into rows; ImportRejected lists every problem by line and field.

    Checks the size, the encoding (UTF-8, an optional byte-order mark), the
    syntax of each line, the columns and the type and choices of every
    value. Whether cities and terms exist is checked by :func:`import_cases`.
    """
    check_size(len(data), max_bytes)
    problems = _Problems()
    try:
        lines = _decoded_lines(data, problems)
        if problems.found:
            raise problems.rejected()
        rows = _read_csv(lines, problems) if file_format == "csv" else _read_jsonl(lines, problems)
    except _Stop:
        raise problems.rejected() from None
    if problems.found:
        raise problems.rejected()
    if not rows:
        raise ImportRejected([ImportProblem(None, "", "The file has no case studies in it.")])
    return rows


class LineUnreadable(Exception):
    """A line of a file that cannot be read; the message says why, for people."""


def line_text(raw: bytes) -> str:
    """One line of a file as text; LineUnreadable if it holds a NUL byte or is not UTF-8."""
    if b"\x00" in raw:
        raise LineUnreadable("contains a NUL byte, which no text file has. Is this the right "
                             "file, saved as UTF-8 text?")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise LineUnreadable(f"is not UTF-8 text (byte {raw[error.start]:#04x} at position "
                             f"{error.start + 1}); save the file as UTF-8.") from None


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    found: dict = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"the key “{shown(key)}” appears twice")
        found[key] = value
    return found


def json_line(text: str) -> Any:
    """The JSON value on one line; LineUnreadable if it is not JSON, or repeats a key."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as error:
        raise LineUnreadable(f"is not valid JSON: {error.msg} at column {error.colno}.") from None
    except RecursionError:
        raise LineUnreadable("is not valid JSON: it nests too deeply.") from None
    except ValueError as error:  # a repeated key, a number too long to read
        raise LineUnreadable(f"is not valid JSON: {error}.") from None


def _decoded_lines(data: bytes, problems: _Problems) -> list[str]:
    """The file's lines as text; a line that cannot be read is a problem (and left empty)."""
    data = data.removeprefix(codecs.BOM_UTF8)
    lines = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        try:
            lines.append(line_text(raw))
        except LineUnreadable as error:
            problems.add(number, "", str(error))
            lines.append("")
    return lines


def _read_jsonl(lines: list[str], problems: _Problems) -> list[ParsedRow]:
    rows = []
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            record = json_line(text)
        except LineUnreadable as error:
            problems.add(number, "", str(error))
            continue
        if not isinstance(record, dict):
            problems.add(number, "", "must be one JSON object, {…}, per line.")
            continue
        if "kb_dump" in record:
            raise ImportRejected([ImportProblem(number, "", (
                "This is a full kb dump, not a file of case studies: restore it into an empty "
                "instance with `flask kb import --dump FILE`."
            ))])
        values = {}
        for key, value in record.items():
            column = _BY_NAME.get(key)
            if column is None:
                problems.add(number, shown(key, 40),
                             "is not a field of the import format; the fields are "
                             + ", ".join(COLUMN_NAMES) + ".")
                continue
            values[key] = _value(column, value, number, problems, _from_json)
        rows.append(ParsedRow(number, values))
    return rows


def _read_csv(lines: list[str], problems: _Problems) -> list[ParsedRow]:
    reader = csv.reader(io.StringIO("\n".join(lines), newline=""), strict=True)
    records = _csv_records(reader, problems)
    header = next(records, None)
    if header is None:
        return []
    names = _csv_header(header[1], problems)
    if names is None:
        return []
    rows = []
    for number, cells in records:
        if not any(cell.strip() for cell in cells):
            continue  # a blank line, or a spreadsheet's row of empty cells
        if len(cells) != len(names):
            problems.add(number, "", f"has {len(cells)} cells, but the header names "
                         f"{len(names)} columns.")
            continue
        values = {
            name: _value(_BY_NAME[name], spreadsheet_value(cell), number, problems, _from_cell)
            for name, cell in zip(names, cells, strict=True)
        }
        rows.append(ParsedRow(number, values))
    return rows


def _csv_records(reader, problems: _Problems) -> Iterator[tuple[int, list[str]]]:
    """Each record with the line it starts on; a record that cannot be read ends the file."""
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            message = str(error)
            if "field limit" in message:
                reason = f"a cell is longer than {csv.field_size_limit():,} characters"
            elif "end of data" in message:
                reason = "a quoted cell is never closed"
            else:
                reason = f"the quoting is broken ({message})"
            problems.add(start, "", f"cannot be read as CSV: {reason}.")
            return
        yield start, cells
        start = reader.line_num + 1


def _csv_header(cells: list[str], problems: _Problems) -> list[str] | None:
    """The header's column names, or None (with problems on line 1) when it is unusable."""
    names = [cell.strip().lower() for cell in cells]
    unknown = [name for name in names if name not in _BY_NAME]
    repeated = sorted({name for name in names if names.count(name) > 1})
    missing = [column.name for column in COLUMNS if column.required and column.name not in names]
    for name in unknown:
        problems.add(1, shown(name, 40), "is not a column of the import format; the columns are "
                     + ", ".join(COLUMN_NAMES) + ".")
    for name in repeated:
        problems.add(1, shown(name, 40), "is named twice in the header.")
    if missing:
        problems.add(1, "", "The first line must name the columns; it lacks "
                     + ", ".join(missing) + ".")
    return None if unknown or repeated or missing else names


# -- values -----------------------------------------------------------------

class _BadValue(Exception):
    """A value that cannot be read; the message says what was expected."""


def _value(column: Column, raw, line: int, problems: _Problems, read) -> Any:
    """``raw`` read by ``read`` (JSON or CSV) and checked; a problem and None when it is bad."""
    try:
        value = read(column, raw)
        if column.kind == CHOICE and value not in column.choices and value != "":
            allowed = ", ".join(choice for choice in column.choices if choice)
            raise _BadValue(f"“{shown(value)}” is not one of: {allowed}.")
    except _BadValue as error:
        problems.add(line, column.name, str(error))
        return None
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")
NOT_TEXT = "Holds half of a surrogate pair (\\ud800-\\udfff), which is not text."


def is_text(value: str) -> bool:
    """False for a string from JSON that holds half of a surrogate pair: no database stores it."""
    return not _SURROGATE.search(value)


def _text(value) -> str:
    """A JSON string that is text."""
    if not isinstance(value, str):
        raise _BadValue("Give text (a JSON string).")
    if not is_text(value):
        raise _BadValue(NOT_TEXT)
    return value


def _from_json(column: Column, value) -> Any:
    kind = column.kind
    if kind == YEAR:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise _BadValue("Give a whole year such as 2015, or null.")
        return value
    if kind == TERMS:
        if value is None:
            return []
        if not isinstance(value, list):
            raise _BadValue("Give a list of slugs, e.g. [\"work-based-learning\"].")
        return [_json_term(column, item) for item in value]
    if kind == SOURCES:
        if value is None:
            return []
        if not isinstance(value, list):
            raise _BadValue("Give a list of sources: addresses, or {\"label\": …, \"url\": …}.")
        return [_json_source(item) for item in value]
    if value is None:
        return column.default
    return _text(value)


def _json_term(column: Column, item) -> TermRef:
    if isinstance(item, str):
        return _term_ref(column, _text(item))
    if not isinstance(item, dict) or not isinstance(item.get("slug"), str) or (
        set(item) - {"slug", "name", "kind"}
    ):
        raise _BadValue("Name each term by its slug, or as {\"slug\": …, \"name\": …, "
                        "\"kind\": …} to create it.")
    name, kind = item.get("name"), item.get("kind")
    if kind is not None and column.name != "contexts":
        raise _BadValue("Only adaptation contexts have a kind.")
    ref = _term_ref(column, _text(item["slug"]))
    return TermRef(
        ref.slug,
        kind=_text(kind) if kind is not None else ref.kind,
        name=_text(name) if name is not None else None,
    )


def _json_source(item) -> tuple[str, str]:
    if isinstance(item, str):
        return ("", _text(item))
    if isinstance(item, dict) and isinstance(item.get("url"), str) and not (
        set(item) - {"label", "url"}
    ):
        return (_text(item.get("label") or ""), _text(item["url"]))
    raise _BadValue("Give each source as an address, or as {\"label\": …, \"url\": …}.")


def _from_cell(column: Column, cell: str) -> Any:
    kind = column.kind
    if kind == YEAR:
        digits = cell.strip()
        if not digits:
            return None
        if not (digits.isascii() and digits.isdigit() and len(digits) <= 9):
            raise _BadValue(f"“{shown(digits)}” is not a year; give one such as 2015.")
        return int(digits)
    if kind == TERMS:
        return [_term_ref(column, part) for part in cell.split(TERM_SEPARATOR) if part.strip()]
    if kind == SOURCES:
        return [_cell_source(line) for line in cell.splitlines() if line.strip()]
    if kind == CHOICE:
        return cell.strip() or column.default
    return cell


def _cell_source(line: str) -> tuple[str, str]:
    """A source written ``label <address>``, or just the address."""
    match = _SOURCE_LINE.match(line.strip())
    return (match.group(1), match.group(2)) if match else ("", line.strip())


def _term_ref(column: Column, text: str) -> TermRef:
    """``slug``, or for adaptation contexts ``kind:slug``."""
    text = text.strip()
    kind = None
    if column.name == "contexts" and ":" in text:
        kind, text = (part.strip() for part in text.split(":", 1))
    if not text or case_studies.slugify(text, max_length=vocabularies.SLUG_MAX) != text:
        raise _BadValue(f"“{shown(text)}” is not a slug: use lower-case letters, digits and "
                        "hyphens, e.g. work-based-learning.")
    return TermRef(text, kind=kind)


# -- importing --------------------------------------------------------------

@dataclass(frozen=True)
class _Vocabulary:
    column: str
    model: type
    noun: str


_VOCABULARIES = (
    _Vocabulary("problems", ProblemOfPractice, "problem of practice"),
    _Vocabulary("contexts", AdaptationContext, "adaptation context"),
)


def _name_from_slug(slug: str) -> str:
    words = slug.replace("-", " ").replace("_", " ")
    return words[:1].upper() + words[1:]


class _Resolver:
    """Finds the ids of the cities and terms rows name, and plans the terms to create."""

    def __init__(self, problems: _Problems, create_terms: bool) -> None:
        self.problems = problems
        self.create_terms = create_terms
        self.cities = dict(db.session.execute(select(City.slug, City.id)).all())
        self.existing = {
            vocabulary.column: {term.slug: term for term in db.session.scalars(
                select(vocabulary.model))}
            for vocabulary in _VOCABULARIES
        }
        # slug -> (first line naming it, the term to create)
        self.planned: dict[str, dict[str, tuple[int, NewTerm]]] = {
            vocabulary.column: {} for vocabulary in _VOCABULARIES
        }

    def city_id(self, row: ParsedRow) -> int | None:
        """The id of the row's city; None (the service then says a city is needed) if blank."""
        slug = (row.values.get("city") or "").strip()
        city_id = self.cities.get(slug)
        if city_id is None and slug:
            self.problems.add(row.line, "city", f"No city has the slug “{shown(slug)}”.")
        return city_id

    def terms(self, row: ParsedRow, vocabulary: _Vocabulary) -> list[str]:
        """The slugs of the row's terms (existing or planned); problems for the others."""
        slugs = []
        for ref in row.values.get(vocabulary.column) or []:
            term = self.existing[vocabulary.column].get(ref.slug)
            if term is not None:
                if ref.kind is not None and term.kind.value != ref.kind:
                    self.problems.add(row.line, vocabulary.column, (
                        f"“{ref.slug}” is an adaptation context of the kind {term.kind.value}, "
                        f"not {shown(ref.kind)}."))
                    continue
            elif not self._plan(row.line, vocabulary, ref):
                continue
            slugs.append(ref.slug)
        return slugs

    def _plan(self, line: int, vocabulary: _Vocabulary, ref: TermRef) -> bool:
        """Plan to create the unknown term ``ref``; False (and a problem) if it cannot be."""
        planned = self.planned[vocabulary.column]
        if ref.slug in planned:
            first, new = planned[ref.slug]
            if (ref.kind or new.kind) != new.kind or (ref.name or new.name) != new.name:
                self.problems.add(line, vocabulary.column, (
                    f"The new {vocabulary.noun} “{ref.slug}” is described differently on line "
                    f"{first}; describe it the same way everywhere, or only once."))
                return False
            return True
        if not self.create_terms:
            self.problems.add(line, vocabulary.column, (
                f"No {vocabulary.noun} has the slug “{ref.slug}”. Correct it, or allow "
                "new terms to be created."))
            return False
        kinds = [kind.value for kind in ContextKind]
        if vocabulary.model is AdaptationContext and ref.kind not in kinds:
            self.problems.add(line, vocabulary.column, (
                f"“{ref.slug}” would be a new adaptation context: write its kind before it, "
                f"kind:{ref.slug}, with kind one of {', '.join(kinds)}."))
            return False
        name = ref.name or _name_from_slug(ref.slug)
        planned[ref.slug] = (line, NewTerm(vocabulary.noun, ref.slug, name, ref.kind))
        return True


def import_cases(user: User, rows: list[ParsedRow], *, create_terms: bool = False,
                 dry_run: bool = False, max_text: int | None = None, source_name: str = "",
                 as_operator: bool = False,
                 progress: Callable[[int], None] | None = None) -> ImportReport:
    """Create a case study from each of ``rows``, written by ``user``, or none at all.

    Unknown cities are always problems; unknown vocabulary terms are
    problems unless ``create_terms``, which creates them (a new adaptation
    context needs its kind). A row's status takes it through the review
    workflow as it is created: "submitted" submits it for review;
    "published" publishes it, which the review rules let ``user`` do only
    with self-approval, except for the operator at the command line
    (``as_operator``), whose data is published with no reviewer
    (:func:`kb.services.review.publish_as_system`). ``progress`` is called
    with 1 after each row.

    Raises ImportRejected, after rolling the session back, when any row
    fails; on a dry run rolls back after a complete check and returns what
    would have been created. Otherwise returns the report and leaves the
    commit to the caller. Call it with no other pending changes: the
    rollback discards them too.
    """
    if not policy.can_import_cases(user):
        raise PermissionDenied("Only facilitators and admins import case studies.")
    problems = _Problems()
    try:
        report = _import(user, rows, problems, create_terms=create_terms, dry_run=dry_run,
                         max_text=max_text, source_name=source_name, as_operator=as_operator,
                         progress=progress)
    except _Stop:
        db.session.rollback()
        raise problems.rejected() from None
    if problems.found or dry_run:
        db.session.rollback()
    if problems.found:
        raise problems.rejected()
    return report


def _import(user: User, rows: list[ParsedRow], problems: _Problems, *, create_terms: bool,
            dry_run: bool, max_text: int | None, source_name: str, as_operator: bool,
            progress: Callable[[int], None] | None) -> ImportReport:
    resolver = _Resolver(problems, create_terms)
    resolved = [
        (row, resolver.city_id(row),
         {vocabulary.column: resolver.terms(row, vocabulary) for vocabulary in _VOCABULARIES})
        for row in rows
    ]
    report = ImportReport(dry_run=dry_run)
    if problems.found:
        return report
    terms = _create_terms(user, resolver, problems, report)
    if problems.found:
        return report
    # A file's name can be longer than a revision message may be.
    message = (_IMPORTED_FROM + shown(source_name, MESSAGE_MAX - len(_IMPORTED_FROM))
               if source_name else "Imported")
    for row, city_id, slugs in resolved:
        try:
            case = _create_case(user, row, city_id, slugs, terms, problems, max_text, message,
                                as_operator)
        except IntegrityError:
            # Someone saved a clashing row (a slug) while the import ran;
            # the session is unusable until it is rolled back.
            problems.add(row.line, "", "Clashed with a case study saved at the same moment; "
                         "import the file again.")
            raise _Stop from None
        if case is not None:
            report.cases.append(ImportedCase(row.line, case.title, case.slug, case.city.name,
                                             case.status.value))
        if progress is not None:
            progress(1)
    return report


def _create_terms(user: User, resolver: _Resolver, problems: _Problems,
                  report: ImportReport) -> dict[str, dict[str, int]]:
    """Create the planned terms; every term's id by vocabulary column and slug."""
    ids = {
        column: {slug: term.id for slug, term in existing.items()}
        for column, existing in resolver.existing.items()
    }
    for vocabulary in _VOCABULARIES:
        for slug, (line, new) in resolver.planned[vocabulary.column].items():
            try:
                term = vocabularies.create_term(
                    user, vocabulary.model,
                    TermInput(name=new.name, slug=slug, kind=new.kind),
                )
            except ValidationError as error:
                for messages in error.errors.values():
                    for text in messages:
                        problems.add(line, vocabulary.column, f"The new {vocabulary.noun} "
                                     f"“{slug}” cannot be created: {text}")
                continue
            ids[vocabulary.column][slug] = term.id
            report.new_terms.append(new)
    return ids


def _create_case(user: User, row: ParsedRow, city_id: int | None, slugs: dict[str, list[str]],
                 terms: dict[str, dict[str, int]], problems: _Problems, max_text: int | None,
                 message: str, as_operator: bool) -> CaseStudy | None:
    values = row.values

    def typed(spec: CaseField):
        value = values.get(spec.name)
        if spec.kind is Kind.CITY:
            return city_id
        if spec.kind is Kind.TERMS:
            return [terms[spec.name][slug] for slug in slugs[spec.name]]
        if spec.kind is Kind.SOURCES:
            return list(value or [])
        if spec.kind is Kind.YEAR:
            return value
        return value or ("" if spec.required else spec.default)

    data = CaseInput(**{spec.input_name: typed(spec) for spec in case_fields.FIELDS})
    try:
        case = case_studies.create_case(user, data, message, max_text=max_text)
    except ValidationError as error:
        for name, messages in error.errors.items():
            for text_ in messages:
                problems.add(row.line, _SERVICE_FIELDS.get(name, name), text_)
        return None
    try:
        _review(user, case, values.get("status") or "draft", message, as_operator)
    except (PermissionDenied, Conflict, ValidationError) as error:
        problems.add(row.line, "status", f"{error.message} Import it as a draft or as "
                     "submitted, for another facilitator to publish.")
        return None
    return case


def _review(user: User, case: CaseStudy, status: str, message: str, as_operator: bool) -> None:
    """Take the new draft ``case`` to ``status`` through the review workflow."""
    if status == "published" and as_operator:
        review.publish_as_system(case, message)
    elif status in ("submitted", "published"):
        review.submit(user, case, message)
        if status == "published":
            review.publish(user, case, message)


# -- exporting --------------------------------------------------------------

def _all_cases() -> Iterator[CaseStudy]:
    query = (
        select(CaseStudy)
        .order_by(CaseStudy.id)
        .options(selectinload(CaseStudy.city), selectinload(CaseStudy.problems),
                 selectinload(CaseStudy.contexts), selectinload(CaseStudy.sources))
    )
    yield from db.session.scalars(query)


def case_record(case: CaseStudy) -> dict[str, Any]:
    """``case`` as one JSON Lines row of the import format."""
    return {
        **{spec.name: case_fields.case_value(spec, case, readable=False)
           for spec in case_fields.FIELDS},
        # The states an import creates; any other (sent back, archived)
        # comes back as a draft.
        "status": case.status.value if case.status.value in STATUSES else "draft",
    }


def _cell(column: Column, value) -> str:
    if column.kind == TERMS:
        return f"{TERM_SEPARATOR} ".join(value)
    if column.kind == SOURCES:
        return "\n".join(f"{s['label']} <{s['url']}>" if s["label"] else s["url"] for s in value)
    return "" if value is None else str(value)


def export_cases(file_format: str) -> bytes:
    """Every case study, whatever its status, as an import file in ``file_format``.

    For the command line's operator: no permission applies. Importing the
    file into another instance creates the same case studies anew (new
    ids, a first revision, draft or published).
    """
    records = (case_record(case) for case in _all_cases())
    if file_format == "csv":
        return csv_document([
            COLUMN_NAMES,
            *([_cell(column, record[column.name]) for column in COLUMNS] for record in records),
        ])
    return "".join(
        json.dumps(record, ensure_ascii=False) + "\n" for record in records
    ).encode("utf-8")
