"""Writing whole index segments at once, for the rebuild.

Whoosh's ``SegmentWriter`` sends every posting of every document through
a generic pipeline: a tuple per posting into a pool, a sort of all those
tuples (spilled to disk past ``limitmb``), then, posting by posting, a
look-up of the document's field length read back from disk. That is most
of a rebuild's time (about 6 ms of CPU per case study here).
:class:`BulkSegmentWriter` writes the same segment files through the same
codec, but gathers each term's postings in memory as the documents come
(documents arrive in document-number order, so they are already sorted)
and only sorts the terms at the end; full-text fields are analysed
straight into positions by :meth:`TextTokenizer.positions`. Everything
else (stored fields, columns, lengths, the segment's files) is Whoosh's
own per-document writer and codec, so the index reads exactly as if
Whoosh had written it; a test compares the two term by term. Each segment
also gets its scoring postings file (kb.search.scoring_postings), made
from the same arrays.

The rebuild runs one such writer per process, each over its own share of
the case studies (:func:`kb.search.indexer.SearchIndex.rebuild`), and
commits the segments together.
"""

from __future__ import annotations

from array import array

import numpy as np
from whoosh.formats import Positions
from whoosh.writing import SegmentWriter

from kb.search import scoring_postings
from kb.search.analysis import TextTokenizer

# A term's postings while they are gathered: document numbers, weights and
# the format's encoded values (positions), in document order.
_Postings = tuple[array, array, list]

# Positions' encodings of a single position, shared by every writer: the
# encoding depends on the position alone.
_ONE_POSITION: dict[int, bytes] = {}


class BulkSegmentWriter(SegmentWriter):
    """A ``SegmentWriter`` that builds its postings in memory (see the module docstring).

    Used like Whoosh's writer: ``add_document`` for each document, then
    :meth:`finish_segment` (a writer in another process, without the lock)
    or :meth:`commit_segments` (the writer holding the lock). Only adding
    is supported: a rebuild deletes nothing.
    """

    def __init__(self, ix, **kwargs):
        super().__init__(ix, **kwargs)
        # field name -> term bytes -> (document numbers, weights, encoded values)
        self._postings: dict[str, dict[bytes, _Postings]] = {}
        # What the scoring postings file gets, gathered while the postings are written.
        self._scoring_terms: dict[tuple[str, bytes], tuple[int, int]] = {}
        self._scoring_ids = array("I")
        self._scoring_weights = array("f")

    def add_document(self, **fields) -> None:
        """Add one document (the same keyword arguments as Whoosh's writer, without boosts)."""
        self._check_state()
        perdocwriter = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        names = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, names)
        perdocwriter.start_doc(docnum)
        for fieldname in names:
            value = fields[fieldname]
            if value is None:
                continue
            field = schema[fieldname]
            length = 0
            if field.indexed:
                terms = self._postings.setdefault(fieldname, {})
                if _is_positional_text(field, value):
                    length = _add_text(terms, docnum, field, value)
                else:
                    length = _add_terms(terms, docnum, field, value)
                if not field.scorable:
                    length = 0
            perdocwriter.add_field(fieldname, field, value if field.stored else None, length)
            if field.column_type is not None:
                perdocwriter.add_column_value(fieldname, field.column_type,
                                              field.to_column_value(value))
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def _flush_segment(self) -> None:
        """Write the gathered postings, term by term in the codec's order."""
        self.perdocwriter.close()
        fieldwriter = self.fieldwriter
        for fieldname in sorted(self._postings):
            terms = self._postings.pop(fieldname)
            fieldwriter.start_field(fieldname, self.schema[fieldname])
            for btext in sorted(terms):
                docnums, weights, values = terms.pop(btext)
                fieldwriter.start_term(btext)
                _fill_blocks(fieldwriter._postwriter, docnums, weights, values)
                fieldwriter.finish_term()
                start = len(self._scoring_ids)
                self._scoring_ids.extend(docnums)
                self._scoring_weights.extend(weights)
                self._scoring_terms[(fieldname, btext)] = (start, len(self._scoring_ids))
            fieldwriter.finish_field()
        fieldwriter.close()

    def _finalize_segment(self):
        """Whoosh's segment, then its scoring postings file beside it.

        Written after Whoosh has assembled the segment's files into one, so
        that it stays a file of its own for the engine to map.
        """
        segment = super()._finalize_segment()
        if self._scoring_ids:
            scoring_postings.write(
                scoring_postings.path_for(self.storage.folder, segment.segment_id()),
                self._scoring_terms, np.frombuffer(self._scoring_ids, dtype=np.uint32),
                np.frombuffer(self._scoring_weights, dtype=np.float32),
            )
        return segment

    def finish_segment(self):
        """Write this writer's segment and return it, for the writer holding the lock to commit."""
        self._check_state()
        return self._finalize_segment()

    def commit_segments(self, segments: list) -> None:
        """Make ``segments`` and this writer's documents the whole index (the old segments go)."""
        self._check_state()
        final = list(segments)
        if self._added:
            final.append(self._finalize_segment())
        else:
            self._close_segment()
        self._commit_toc(final)
        self._finish()


def _fill_blocks(postwriter, docnums: array, weights: array, values: list[bytes]) -> None:
    """Hand a term's postings to Whoosh's postings writer a block at a time.

    What ``add_posting`` does posting by posting, for a whole block: the
    block's document numbers, weights and non-empty values, and its
    highest weight. No field lengths: they only feed block statistics for
    Whoosh's own scorers, which kb does not use (kb.search.engine). The
    caller's ``finish_term`` writes the last block.
    """
    size = postwriter._blocklimit
    for start in range(0, len(docnums), size):
        if start:
            postwriter._write_block()
        block_weights = weights[start:start + size]
        postwriter._ids = docnums[start:start + size]
        postwriter._weights = block_weights
        postwriter._values = [value for value in values[start:start + size] if value]
        postwriter._maxweight = max(block_weights)


def _is_positional_text(field, value) -> bool:
    """True for a full-text field of kb's analyzer storing positions (the fast path)."""
    return isinstance(field.analyzer, TextTokenizer) and type(field.format) is Positions \
        and isinstance(value, str)


def _postings_of(terms: dict[bytes, _Postings], btext: bytes) -> _Postings:
    found = terms.get(btext)
    if found is None:
        found = terms[btext] = (array("I"), array("f"), [])
    return found


def _add_text(terms: dict[bytes, _Postings], docnum: int, field, value: str) -> int:
    """Add the postings of full-text ``value``; returns its length in terms.

    The same postings as Whoosh's positions format makes from the analyzer's
    tokens (frequency, weight = frequency x field boost, encoded positions),
    from :meth:`TextTokenizer.positions`. Most terms occur once in a field,
    so one-position encodings are made once per position.
    """
    format_ = field.format
    boost = format_.field_boost
    encode = format_.encode
    once = _ONE_POSITION
    length = 0
    for text, positions in field.analyzer.positions(value).items():
        frequency = len(positions)
        length += frequency
        if frequency == 1:
            encoded = once.get(positions[0])
            if encoded is None:
                encoded = once[positions[0]] = encode(positions)
        else:
            encoded = encode(positions)
        docnums, weights, values = _postings_of(terms, text.encode("utf-8"))
        docnums.append(docnum)
        weights.append(frequency * boost)
        values.append(encoded)
    return length


def _add_terms(terms: dict[bytes, _Postings], docnum: int, field, value) -> int:
    """Add the postings Whoosh's ``field.index`` makes of ``value``; returns its length."""
    length = 0
    for btext, frequency, weight, encoded in field.index(value):
        length += frequency
        docnums, weights, values = _postings_of(terms, btext)
        docnums.append(docnum)
        weights.append(weight)
        values.append(encoded)
    return length
