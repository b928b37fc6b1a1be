"""Spreadsheet-safe CSV (kb/csvsafe.py): no cell a spreadsheet would run, text kept."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kb.csvsafe import FORMULA_STARTS, csv_document, spreadsheet_safe, spreadsheet_value


@pytest.mark.parametrize("cell, expected", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("a=1", "a=1"), ("", ""), (None, ""), (2015, "2015"),
    # The text's own quotes before a formula start get one more, so reading keeps them.
    ("'=x", "''=x"), ("''-x", "'''-x"), ("'x", "'x"),
])
def test_spreadsheet_safe(cell, expected):
    assert spreadsheet_safe(cell) == expected


@pytest.mark.parametrize("cell, expected", [
    ("'=1+1", "=1+1"), ("'-x", "-x"), ("'\tx", "\tx"), ("'plain", "'plain"), ("'", "'"),
    ("''-alert(1)-'", "'-alert(1)-'"), ("'''=x", "''=x"),
    ("plain", "plain"), ("", ""),
])
def test_spreadsheet_value_removes_only_the_safety_quote(cell, expected):
    assert spreadsheet_value(cell) == expected


def _parsed(document: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(document.decode("utf-8-sig"), newline="")))


def test_csv_document_starts_with_a_byte_order_mark_and_escapes_every_cell():
    document = csv_document([["Field", "\tTabbed", "\rReturn", "-x"], [1, None, "=SUM(A1)", "ok"]])

    assert document.startswith("\ufeff".encode())
    rows = _parsed(document)
    assert rows == [["Field", "'\tTabbed", "'\rReturn", "'-x"], ["1", "", "'=SUM(A1)", "ok"]]
    assert not [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS)]


@settings(derandomize=True, max_examples=200, deadline=None, database=None)
@given(st.lists(st.lists(st.text(max_size=20), max_size=5), max_size=5))
@example([["'-alert(1)-'", "''=x", "'", "'@"]])
def test_any_text_survives_a_csv_round_trip_and_no_cell_is_a_formula(lines):
    rows = _parsed(csv_document(lines))

    assert not [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS)]
    restored = [[spreadsheet_value(cell) for cell in row] for row in rows]
    assert restored == lines
