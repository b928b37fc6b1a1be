"""A full dump of an instance as JSON Lines, and restoring one into an empty instance.

The dump holds every row of :data:`DUMPED_TABLES` as stored, ids and
timestamps included, so that exporting, restoring into an empty instance
and exporting again gives the same file, byte for byte. Its lines:

- ``{"kb_dump": 1}``: what the file is, and the format's version;
- ``{"table": "city", "row": {"id": 1, "slug": "toronto", …}}``: one line
  per row, tables parents first (a row only refers to rows above it),
  rows in primary-key order, keys sorted. Timestamps are ISO 8601 with
  their UTC offset, enumerations their stored value;
- ``{"kb_dump_end": {"city": 11, …}}``: the number of rows of each table,
  so a file cut short is refused rather than half restored.

Users' password hashes and API tokens are left out unless asked for; an
account restored without its hash cannot log in until someone sets its
password, and its owner creates new API tokens.

Restoring (:func:`restore_dump`) reads the file twice: first every line is
checked (types, lengths, required values, unique values and references
between rows), and only a file without problems is inserted, in the
session's transaction, which the caller commits. Text goes through
:func:`kb.sanitize.clean_text` as everywhere else; every restored case
study gets a change-log entry, so the search index follows after the commit.
"""

from __future__ import annotations

import enum
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, BinaryIO

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError
from werkzeug.security import generate_password_hash

from kb.errors import Conflict, ImportProblem, ImportRejected
from kb.extensions import db
from kb.models import ChangeOperation, UTCDateTime, record_case_changes
from kb.sanitize import clean_text
from kb.services.bulk import (
    MAX_PROBLEMS,
    NOT_TEXT,
    LineUnreadable,
    is_text,
    json_line,
    line_text,
    shown,
)

DUMP_VERSION = 1

# Tables a dump holds. Every table of the schema is either here or in
# NOT_DUMPED (tests/test_export.py checks), so a new table needs a decision.
DUMPED_TABLES = frozenset({
    "city", "user", "problem_of_practice", "adaptation_context",
    "case_study", "case_problem", "case_context", "source", "revision",
    "review_event", "proposed_edit", "collection", "collection_item", "adaptation", "api_token",
})
# Tables left out, and why.
NOT_DUMPED = {
    "change_log": "the search index's replication log; restored case studies are logged anew",
    "login_failure": "login throttling counts, which expire within minutes",
}
# Credentials, left out unless asked for: columns (table, column), and
# whole tables (API tokens are stored hashed, like passwords).
SECRET_COLUMNS = frozenset({("user", "password_hash")})
SECRET_TABLES = frozenset({"api_token"})
# Rows inserted per statement while restoring.
BATCH = 500

_INT_RANGE = {32: (-(2**31), 2**31 - 1), 64: (-(2**63), 2**63 - 1)}


@dataclass
class DumpSummary:
    """How many rows of each table a dump holds (or a restore inserted)."""

    counts: dict[str, int] = field(default_factory=dict)


def dumped_tables() -> list[Table]:
    """The dumped tables, parents before the tables that refer to them."""
    return [table for table in db.metadata.sorted_tables if table.name in DUMPED_TABLES]


def _primary_key(table: Table) -> list:
    return list(table.primary_key.columns)


# -- export -----------------------------------------------------------------

def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        # PostgreSQL answers in the connection's time zone: one form for all.
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _line(record: dict) -> str:
    # Keys in the order written ("table" before "row", for people reading
    # the file); within a row, sorted.
    return "{" + ",".join(f"{_json(key)}:{_json(value)}" for key, value in record.items()) + "}\n"


def dump_lines(*, with_password_hashes: bool = False) -> Iterator[str]:
    """The whole dump, line by line (each ends with a newline).

    For the command line's operator: every row, drafts and deactivated
    accounts included. Password hashes and API tokens only with
    ``with_password_hashes``.
    """
    yield _line({"kb_dump": DUMP_VERSION})
    counts: dict[str, int] = {}
    for table in dumped_tables():
        if table.name in SECRET_TABLES and not with_password_hashes:
            continue
        columns = [
            column for column in table.columns
            if with_password_hashes or (table.name, column.name) not in SECRET_COLUMNS
        ]
        query = select(*columns).order_by(*_primary_key(table)).execution_options(yield_per=BATCH)
        counts[table.name] = 0
        for row in db.session.execute(query):
            values = {column.name: _plain(value)
                      for column, value in zip(columns, row, strict=True)}
            yield _line({"table": table.name, "row": values})
            counts[table.name] += 1
    yield _line({"kb_dump_end": counts})


# -- reading a dump ------------------------------------------------------------

class _Unusable(Exception):
    """A value that cannot be stored in its column; the message says why."""


def _integer(column, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Unusable("Give a whole number.")
    low, high = _INT_RANGE[64 if isinstance(column.type, BigInteger) else 32]
    if not low <= value <= high:
        raise _Unusable("The number is out of range.")
    return value


def _string(column, value) -> str:
    if not isinstance(value, str):
        raise _Unusable("Give text.")
    if not is_text(value):
        raise _Unusable(NOT_TEXT)
    cleaned = clean_text(value, multiline=isinstance(column.type, Text))
    length = column.type.length
    if length is not None and len(cleaned) > length:
        raise _Unusable(f"Longer than the {length} characters the column holds.")
    return cleaned


def _timestamp(column, value) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise _Unusable("Give a date and time in ISO 8601 with its UTC offset.")
    return moment


def _choice(column, value):
    enum_class = column.type.enum_class
    allowed = [member.value for member in enum_class] if enum_class else list(column.type.enums)
    if value not in allowed:
        raise _Unusable("Not one of: " + ", ".join(allowed) + ".")
    return enum_class(value) if enum_class else value


def _boolean(column, value) -> bool:
    if not isinstance(value, bool):
        raise _Unusable("Give true or false.")
    return value


def _json_value(column, value):
    def check(item) -> None:
        if isinstance(item, str) and not is_text(item):
            raise _Unusable(NOT_TEXT)
        if isinstance(item, dict):
            for key, inner in item.items():
                check(key)
                check(inner)
        elif isinstance(item, list):
            for inner in item:
                check(inner)

    check(value)
    return value


def _reader(column) -> Callable:
    """How values of ``column`` are checked and turned into what it stores."""
    kind = column.type
    # Most specific first: Enum is a String, UTCDateTime wraps a DateTime.
    for type_, reader in ((UTCDateTime, _timestamp), (Enum, _choice), (Boolean, _boolean),
                          (Integer, _integer), (String, _string), (JSON, _json_value)):
        if isinstance(kind, type_):
            return reader
    raise TypeError(f"{column.table.name}.{column.name}: no dump reader for {kind!r}")


class _Restore:
    """Checks a dump line by line (first pass), then inserts its rows (second pass)."""

    def __init__(self) -> None:
        self.tables = {table.name: table for table in dumped_tables()}
        self.readers = {
            (table.name, column.name): _reader(column)
            for table in self.tables.values() for column in table.columns
        }
        self.problems: list[ImportProblem] = []
        self.counts: dict[str, int] = {}
        # Values of the columns rows refer to, by (table, column).
        referenced = {
            (fk.column.table.name, fk.column.name)
            for table in self.tables.values() for fk in table.foreign_keys
        }
        self.seen: dict[tuple[str, str], set] = {key: set() for key in referenced}
        # Column sets whose values are unique in each table, and the values read.
        self.unique_keys = {name: _unique_keys(table) for name, table in self.tables.items()}
        self.unique_seen: dict[tuple[str, tuple[str, ...]], set] = {}
        # References to the row's own table, checked once the whole table is read.
        self.own_references: list[tuple[int, str, str, str, Any]] = []
        self.placeholder_hash: str | None = None

    # -- first pass --

    def problem(self, line: int | None, where: str, message: str) -> None:
        self.problems.append(ImportProblem(line, where, message))
        if len(self.problems) >= MAX_PROBLEMS:
            raise _Stop

    def check(self, lines: Iterator[tuple[int, bytes]]) -> None:
        """Read every line; problems for all that is wrong with the dump."""
        started = ended = False
        for number, raw in lines:
            try:
                record = json_line(line_text(raw))
            except LineUnreadable as error:
                self.problem(number, "", str(error))
                continue
            if not started:
                started = True
                if record != {"kb_dump": DUMP_VERSION}:
                    self.problem(number, "", f"This is not a kb dump of version {DUMP_VERSION}: "
                                 f"its first line is not {{\"kb_dump\": {DUMP_VERSION}}}.")
                    raise _Stop
            elif ended:
                self.problem(number, "", "Comes after the dump's last line.")
            elif isinstance(record, dict) and set(record) == {"kb_dump_end"}:
                ended = True
                self._check_counts(number, record["kb_dump_end"])
            else:
                self._check_row(number, record)
        if not started:
            self.problem(None, "", "The file is empty.")
        elif not ended:
            self.problem(None, "", "The dump ends without its last line "
                         "({\"kb_dump_end\": …}): the file was cut short.")
        self._check_own_references()

    def _check_counts(self, number: int, counts) -> None:
        listed = {name: count for name, count in counts.items() if count != 0} if isinstance(
            counts, dict) else counts
        if listed != self.counts:
            self.problem(number, "", f"The dump says it holds {shown(repr(counts), 200)} rows, "
                         f"but {shown(repr(self.counts), 200)} came before.")

    def _check_row(self, number: int, record) -> None:
        if not (isinstance(record, dict) and set(record) == {"table", "row"}
                and isinstance(record["row"], dict)):
            self.problem(number, "", "Each line is {\"table\": …, \"row\": {…}}.")
            return
        table = self.tables.get(record["table"]) if isinstance(record["table"], str) else None
        if table is None:
            self.problem(number, "table", f"“{shown(str(record['table']))}” is not a table kb "
                         "restores.")
            return
        self.counts[table.name] = self.counts.get(table.name, 0) + 1
        values = self.values(number, table, record["row"])
        if values is None:
            # Rows referring to this one are not reported too.
            self._remember(table, record["row"])
            return
        self._check_references(number, table, values)
        self._check_unique(number, table, values)
        self._remember(table, values)

    def _remember(self, table: Table, values: dict) -> None:
        """Note the values of ``table``'s row that other rows may refer to."""
        for (name, column), seen in self.seen.items():
            value = values.get(column) if name == table.name else None
            if isinstance(value, (int, str)):
                seen.add(value)

    def values(self, number: int, table: Table, row: dict) -> dict | None:
        """``row`` checked and converted column by column; None (and problems) if it is bad."""
        found_before = len(self.problems)
        unknown = set(row) - set(table.columns.keys())
        for name in sorted(unknown, key=str):
            self.problem(number, f"{table.name}.{shown(str(name), 40)}",
                         "Not a column of the table.")
        values = {}
        for column in table.columns:
            where = f"{table.name}.{column.name}"
            if column.name not in row:
                if (table.name, column.name) in SECRET_COLUMNS:
                    values[column.name] = self._placeholder_hash()
                elif column.nullable:
                    values[column.name] = None
                else:
                    self.problem(number, where, "Missing.")
                continue
            value = row[column.name]
            if value is None:
                if not column.nullable:
                    self.problem(number, where, "Needs a value.")
                values[column.name] = None
                continue
            try:
                values[column.name] = self.readers[(table.name, column.name)](column, value)
            except _Unusable as error:
                self.problem(number, where, str(error))
        return values if len(self.problems) == found_before else None

    def _placeholder_hash(self) -> str:
        # The hash of a password nobody knows: the account exists, but no
        # one logs in to it until a password is set.
        if self.placeholder_hash is None:
            self.placeholder_hash = generate_password_hash(secrets.token_urlsafe(32))
        return self.placeholder_hash

    def _check_references(self, number: int, table: Table, values: dict) -> None:
        for fk in table.foreign_keys:
            value = values.get(fk.parent.name)
            if value is None:
                continue
            parent = (fk.column.table.name, fk.column.name)
            if parent[0] == table.name:
                self.own_references.append((number, table.name, fk.parent.name, parent[1], value))
            elif value not in self.seen[parent]:
                self.problem(number, f"{table.name}.{fk.parent.name}",
                             f"Refers to {parent[0]} {value}, which no line above holds.")

    def _check_own_references(self) -> None:
        for number, table, column, target, value in self.own_references:
            if value not in self.seen[(table, target)]:
                self.problem(number, f"{table}.{column}",
                             f"Refers to {table} {value}, which the dump does not hold.")

    def _check_unique(self, number: int, table: Table, values: dict) -> None:
        for names in self.unique_keys[table.name]:
            key = tuple(values[name] for name in names)
            if any(part is None for part in key):
                continue
            seen = self.unique_seen.setdefault((table.name, names), set())
            if key in seen:
                self.problem(number, f"{table.name}.{','.join(names)}",
                             f"Another row of {table.name} has the same {', '.join(names)}.")
            seen.add(key)

    # -- second pass --

    def _insert(self, table: Table | None, rows: list[dict], first: int, last: int) -> None:
        """Insert ``rows`` of ``table`` (from lines ``first`` to ``last``)."""
        if table is None or not rows:
            return
        try:
            db.session.execute(insert(table), rows)
        except DBAPIError as error:
            # A rule only the database checks (a CHECK constraint): the
            # session is unusable until it is rolled back.
            reason = str(error.orig).strip().splitlines()[0][:300]
            self.problems.append(ImportProblem(
                first, table.name, f"The database refused a row of lines {first} to {last}: "
                f"{reason}"))
            raise _Stop from None

    def insert(self, lines: Iterator[tuple[int, bytes]],
               progress: Callable[[int], None] | None) -> None:
        """Insert every row of the checked dump, parents first, in batches."""
        batch: list[dict] = []
        batch_table: Table | None = None
        first_line = 0
        own_references: dict[tuple[str, str], list[dict]] = {}
        case_ids: list[int] = []
        for number, raw in lines:
            record = json_line(line_text(raw))
            if progress is not None:
                progress(len(raw) + 1)
            if "table" not in record:
                continue
            table = self.tables[record["table"]]
            values = self.values(number, table, record["row"])
            if values is None:  # the file changed since it was checked
                raise _Stop
            for fk in table.foreign_keys:
                if fk.column.table is table and values[fk.parent.name] is not None:
                    # Inserted empty and filled in below: the row it names may come later.
                    own_references.setdefault((table.name, fk.parent.name), []).append(
                        {"row_key": values[_primary_key(table)[0].name],
                         "target": values[fk.parent.name]}
                    )
                    values[fk.parent.name] = None
            if table is not batch_table or len(batch) >= BATCH:
                self._insert(batch_table, batch, first_line, number - 1)
                batch, batch_table, first_line = [], table, number
            batch.append(values)
            if table.name == "case_study":
                case_ids.append(values["id"])
        self._insert(batch_table, batch, first_line, first_line + len(batch) - 1)
        for (table_name, column_name), pairs in own_references.items():
            table = self.tables[table_name]
            key = _primary_key(table)[0]
            db.session.execute(
                update(table).where(key == bindparam("row_key"))
                .values({column_name: bindparam("target")}),
                pairs,
            )
        record_case_changes(db.session, case_ids, ChangeOperation.UPSERT)
        _continue_sequences(list(self.tables.values()))
        db.session.flush()


class _Stop(Exception):
    """Ends the reading of a dump early: the problems found so far are reported."""


def _unique_keys(table: Table) -> list[tuple[str, ...]]:
    """The column sets of ``table`` that no two rows may share: its key, constraints, indexes."""
    keys = [tuple(column.name for column in _primary_key(table))]
    keys += [
        tuple(column.name for column in constraint.columns)
        for constraint in table.constraints if isinstance(constraint, UniqueConstraint)
    ]
    keys += [tuple(column.name for column in index.columns)
             for index in table.indexes if index.unique]
    return list(dict.fromkeys(keys))


def _continue_sequences(tables: list[Table]) -> None:
    """On PostgreSQL, make new ids follow the restored ones.

    Rows inserted with their ids leave the tables' sequences where they
    were; the next new row would reuse id 1.
    """
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        return
    preparer = connection.dialect.identifier_preparer
    for table in tables:
        key = _primary_key(table)
        if len(key) != 1 or not isinstance(key[0].type, Integer):
            continue
        quoted_table = preparer.format_table(table)
        quoted_column = preparer.quote(key[0].name)
        connection.execute(
            text(f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                 f"coalesce(max({quoted_column}), 0) + 1, false) FROM {quoted_table}"),
            {"table": quoted_table, "column": key[0].name},
        )


def _numbered_lines(file: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """The file's non-blank lines with their numbers, from the start, line ends removed."""
    file.seek(0)
    for number, raw in enumerate(file, 1):
        raw = raw.rstrip(b"\r\n")
        if raw.strip():
            yield number, raw


def instance_is_empty() -> bool:
    """True when no dumped table has a row: the only instance a dump is restored into."""
    return not any(
        db.session.scalar(select(func.count()).select_from(table)) for table in dumped_tables()
    )


def restore_dump(file: BinaryIO, *, dry_run: bool = False,
                 progress: Callable[[int], None] | None = None) -> DumpSummary:
    """Check the dump in ``file`` (opened for binary reading) and restore it.

    Raises ImportRejected listing the problems, by line and column, of a
    dump that is not restorable, and Conflict on an instance that already
    has data. ``dry_run`` only checks the file (on any instance).
    ``progress`` is called with the bytes of each line inserted. The rows
    are inserted into the session's transaction; the caller commits.
    """
    restore = _Restore()
    try:
        restore.check(_numbered_lines(file))
    except _Stop:
        pass
    if restore.problems:
        raise ImportRejected(restore.problems)
    summary = DumpSummary(dict(restore.counts))
    if dry_run:
        return summary
    if not instance_is_empty():
        raise Conflict("This instance already has data: a dump is restored only into an empty "
                       "instance. Point KB_DATABASE_URL at a new database, run "
                       "`flask kb init`, and import the dump there.")
    try:
        restore.insert(_numbered_lines(file), progress)
    except _Stop:
        db.session.rollback()
        raise ImportRejected(restore.problems or [ImportProblem(
            None, "", "The file changed while it was being restored; nothing was restored."
        )]) from None
    return summary
