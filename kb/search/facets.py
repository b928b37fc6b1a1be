"""Facet counts, visibility and sorting from the index's columns, as bitsets.

Every keyword value (a city, a problem, a year...) gets the set of
documents that carry it, held as a Python integer used as a bitset (bit n
is document number n). Counting the hits of a facet value under any
filters is then one AND and one ``int.bit_count()``, whatever the number of
hits; the multi-select rule (counts for a facet computed with the *other*
facets' filters applied) costs one AND per facet.

The sets are built once per index segment from the column values and kept
until the segment goes away (segments are immutable; only their deletions
change, and those are applied as a separate "live" set), so a commit that
adds a few documents costs a few bitsets, not a pass over the index.
"""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict
from itertools import compress
from dataclasses import dataclass, field

from whoosh.searching import Searcher

from kb.search.schema import FACET_FIELDS, STATE_DOC_ID

# Translation tables between a bitset's binary digits and one flag byte per bit.
_DIGITS_TO_FLAGS = bytes.maketrans(b"01", b"\x00\x01")
_FLAGS_TO_DIGITS = bytes.maketrans(b"\x00\x01", b"01")


def bits_of(mask: int) -> list[int]:
    """The positions of the set bits of ``mask``, ascending.

    Through the binary digits and ``itertools.compress``: the work per bit
    happens in C, which matters for sets of thousands of documents.
    """
    if mask <= 0:
        return []
    flags = bin(mask)[:1:-1].encode("ascii").translate(_DIGITS_TO_FLAGS)
    return list(compress(range(len(flags)), flags))


def mask_of(docnums) -> int:
    """A bitset with the bits of ``docnums`` set."""
    if not isinstance(docnums, (list, tuple, array)):
        docnums = list(docnums)
    if not docnums:
        return 0
    flags = bytearray(max(docnums) + 1)
    for docnum in docnums:
        flags[docnum] = 1
    return int(flags.translate(_FLAGS_TO_DIGITS)[::-1], 2)


class Membership:
    """Answers "is bit n set?" for a big bitset in constant time.

    ``mask >> n & 1`` copies the integer each time, which over thousands of
    documents costs more than the rest of a search.
    """

    __slots__ = ("_bytes", "_size")

    def __init__(self, mask: int):
        self._bytes = mask.to_bytes((mask.bit_length() + 7) // 8, "little")
        self._size = len(self._bytes)

    def __call__(self, docnum: int) -> bool:
        index = docnum >> 3
        return index < self._size and (self._bytes[index] >> (docnum & 7)) & 1 == 1


@dataclass
class _SegmentTable:
    """Bitsets and per-document values of one segment (local document numbers)."""

    size: int
    values: dict[str, dict[str, int]]  # field -> value -> bitset
    case_ids: list[int | None]
    updated: list[int]
    title_sort: list[bytes]
    cases: int  # documents that are case studies (not the state document)


def _segment_table(reader) -> _SegmentTable:
    size = reader.doc_count_all()
    fields = (*FACET_FIELDS.values(), "status", "author")
    members: dict[str, dict[str, list[int]]] = {name: {} for name in fields}
    for name in fields:
        if not reader.has_column(name):
            continue
        column = members[name]
        for docnum, value in enumerate(reader.column_reader(name)):
            if value:
                for item in value.split():
                    column.setdefault(item, []).append(docnum)
    ids = list(reader.column_reader("id")) if reader.has_column("id") else [""] * size
    case_ids = [int(value) if value and value != STATE_DOC_ID else None for value in ids]
    return _SegmentTable(
        size=size,
        values={name: {value: mask_of(docs) for value, docs in column.items()}
                for name, column in members.items()},
        case_ids=case_ids,
        updated=list(reader.column_reader("updated")) if reader.has_column("updated")
        else [0] * size,
        title_sort=list(reader.column_reader("title_sort")) if reader.has_column("title_sort")
        else [b""] * size,
        cases=mask_of(d for d, case_id in enumerate(case_ids) if case_id is not None),
    )


@dataclass
class FacetTable:
    """The whole index's bitsets and per-document values (global document numbers)."""

    values: dict[str, dict[str, int]] = field(default_factory=dict)
    case_ids: list[int | None] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    title_sort: list[bytes] = field(default_factory=list)
    live_cases: int = 0  # case-study documents not deleted

    def value_mask(self, fieldname: str, value: str) -> int:
        """Documents whose ``fieldname`` holds ``value``."""
        return self.values.get(fieldname, {}).get(value, 0)

    def any_of(self, fieldname: str, values) -> int:
        """Documents holding at least one of ``values`` in ``fieldname``."""
        mask = 0
        column = self.values.get(fieldname, {})
        for value in values:
            mask |= column.get(value, 0)
        return mask


class FacetTables:
    """Per-process cache of segment tables, shared by every searcher of one index."""

    def __init__(self, max_segments: int = 256):
        self._segments: OrderedDict[str, _SegmentTable] = OrderedDict()
        self._reader = None
        self._table: FacetTable | None = None
        self._max_segments = max_segments
        self._lock = threading.Lock()

    def table(self, searcher: Searcher) -> FacetTable:
        """The table of ``searcher``'s reader, built from cached segment tables."""
        reader = searcher.reader()
        with self._lock:
            if self._table is None or self._reader is not reader:
                self._table = self._build(reader)
                self._reader = reader
            return self._table

    def _build(self, reader) -> FacetTable:
        table = FacetTable()
        values: dict[str, dict[str, int]] = {}
        for leaf, offset in reader.leaf_readers():
            if leaf.segment() is None:  # an index without segments
                continue
            segment = self._segment(leaf)
            for name, column in segment.values.items():
                target = values.setdefault(name, {})
                for value, mask in column.items():
                    target[value] = target.get(value, 0) | (mask << offset)
            live = (1 << segment.size) - 1
            if leaf.has_deletions():
                live &= ~mask_of(leaf.segment().deleted_docs())
            table.live_cases |= (segment.cases & live) << offset
            table.case_ids.extend(segment.case_ids)
            table.updated.extend(segment.updated)
            table.title_sort.extend(segment.title_sort)
        table.values = {name: {value: mask & table.live_cases for value, mask in column.items()}
                        for name, column in values.items()}
        return table

    def _segment(self, leaf) -> _SegmentTable:
        key = leaf.segment().segment_id()
        segment = self._segments.get(key)
        if segment is None:
            segment = _segment_table(leaf)
            self._segments[key] = segment
            while len(self._segments) > self._max_segments:
                self._segments.popitem(last=False)
        else:
            self._segments.move_to_end(key)
        return segment
