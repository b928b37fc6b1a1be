"""CSV files that spreadsheets open as data, never as formulas.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
is run as a formula by Excel, LibreOffice and Google Sheets (OWASP's "CSV
injection"). Every CSV file kb writes goes through :func:`csv_document`,
which prefixes such cells with a single quote; spreadsheets show the quote
as "this is text" and drop it. :func:`spreadsheet_value` undoes the prefix
when kb reads such a file back (bulk import), so text survives a round trip.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

# What a spreadsheet may take for the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell) -> str:
    """``cell`` as text a spreadsheet will not run as a formula.

    Text starting with one of :data:`FORMULA_STARTS` gets a leading single
    quote, which spreadsheets show as plain text. So does text whose own
    quotes come before one, or reading the file back would take its first
    quote for the prefix and drop it.
    """
    text = "" if cell is None else str(cell)
    if text.lstrip("'").startswith(FORMULA_STARTS):
        return "'" + text
    return text


def spreadsheet_value(cell: str) -> str:
    """The text a :func:`spreadsheet_safe` cell stands for: its quote prefix removed."""
    if cell.startswith("'") and cell.lstrip("'").startswith(FORMULA_STARTS):
        return cell[1:]
    return cell


def csv_document(lines: Iterable[Iterable]) -> bytes:
    """``lines`` as a UTF-8 CSV file with every cell made spreadsheet-safe.

    The file starts with a byte-order mark, which makes Excel read it as
    UTF-8 rather than the machine's legacy code page.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for line in lines:
        writer.writerow([spreadsheet_safe(cell) for cell in line])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
