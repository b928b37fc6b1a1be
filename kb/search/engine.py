"""Matching and BM25F scoring over the Whoosh index, term at a time.

Whoosh stores the index and parses queries, but its matchers walk the
postings one document at a time in Python: a query of a few common words
over a large index took seconds here (docs/search.md, "Measured quality
and speed"). This module takes each term's postings once per index
segment as arrays (from the segment's scoring postings file where the
rebuild wrote one, kb.search.scoring_postings, otherwise decoded from
Whoosh's blocks), keeps them while the segment lives, and evaluates the
query trees the parser produces with set operations on bitsets (the match
set, which the facet counts need anyway) and NumPy arrays (the scores: one
float per document, added to a word at a time). The same results, a few
milliseconds per query.

Scoring is BM25F (Robertson and Zaragoza, "The Probabilistic Relevance
Framework: BM25 and Beyond", 2009): for each query term the weighted,
length-normalised frequencies in the fields searched are summed first and
saturated once, so a word repeated in the title and the body does not
count twice as a word found twice. Then a coordination factor ranks
documents matching more of the query's terms first
(:data:`kb.search.query.COORD_EXPONENT`).

Query nodes understood: Term, Or, And, AndNot, AndMaybe, Require, Not,
Every, Phrase (positions checked by Whoosh, scored as its words) and the
``Coordinated`` wrapper. Anything else (ranges) is matched by Whoosh and
adds no score.
"""

from __future__ import annotations

import math
import os
import threading
from array import array
from collections import Counter, OrderedDict
from dataclasses import dataclass
from itertools import accumulate, repeat

import numpy as np
from whoosh import query as wq
from whoosh.classify import Bo1Model
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, _lenfield
from whoosh.matching.wrappers import FilterMatcher
from whoosh.util.numeric import byte_to_length

from kb.search import query as search_query
from kb.search import scoring_postings
from kb.search.facets import FacetTable, mask_of
from kb.search.query import Coordinated, positive_terms
from kb.search.scoring_postings import ScoringPostings

# Postings kept in memory at most, counted in postings (about 8 bytes each).
POSTINGS_CACHE_LIMIT = 8_000_000
# Term bitsets an engine keeps (each is the index size in bits).
TERM_MASKS_KEPT = 20_000
PHRASE_MASKS_KEPT = 2_000
# Terms of the feedback documents whose Bo1 weight is computed.
FEEDBACK_CANDIDATES = 100
# Phrase answers kept per segment.
PHRASES_KEPT = 20_000
# Word scores an engine keeps, counted in entries (12 bytes each).
WORD_SCORES_KEPT = 4_000_000
# Answers an engine keeps for Engine.recall (a case study page's related boxes
# and compare list, kb.search.remembered).
RESULTS_KEPT = 5_000
# Collection frequencies kept per segment and field (about 150 bytes each).
FREQUENCIES_KEPT = 200_000


def bools_of(mask: int, size: int) -> np.ndarray:
    """Bitset ``mask`` as ``size`` booleans (bit n -> element n)."""
    packed = np.frombuffer(mask.to_bytes((size + 7) // 8, "little"), dtype=np.uint8)
    return np.unpackbits(packed, count=size, bitorder="little").view(bool)


def mask_of_bools(flags: np.ndarray) -> int:
    """The bitset with bit n set where ``flags[n]`` is true."""
    return int.from_bytes(np.packbits(flags, bitorder="little").tobytes(), "little")


_NO_IDS = np.zeros(0, dtype=np.intc)
_NO_WEIGHTS = np.zeros(0, dtype=np.float32)


@dataclass
class _Postings:
    ids: np.ndarray  # local document numbers, ascending (int32)
    tfs: np.ndarray  # term frequencies (weights, float32)
    size: int  # documents in the segment
    _mask: int | None = None

    @property
    def mask(self) -> int:
        """The documents as a bitset of local document numbers."""
        if self._mask is None:
            flags = np.zeros(self.size, dtype=bool)
            flags[self.ids] = True
            self._mask = mask_of_bools(flags)
        return self._mask


def _read_postings(leaf, fieldname: str, btext: bytes) -> _Postings:
    """All postings of a term in one segment, deleted documents included."""
    matcher = leaf.postings(fieldname, btext)
    if isinstance(matcher, FilterMatcher):
        matcher = matcher.child
    ids, tfs = array("i"), array("f")
    if isinstance(matcher, W3LeafMatcher) and not matcher._byteids:
        # Block by block, straight from the block's data: Whoosh's own
        # decoding walks the delta-coded ids in a Python generator, and its
        # matcher steps posting by posting, which costs far more.
        while not matcher._atend:
            matcher._read_data()
            block_ids, weights = matcher._data[0], matcher._data[1]
            count = matcher._blocklength
            ids.extend(accumulate(block_ids))
            if weights is None:
                tfs.extend(repeat(1.0, count))
            elif isinstance(weights, float):
                tfs.extend(repeat(weights, count))
            else:
                tfs.extend(weights)
            matcher._next_block()
    else:
        while matcher.is_active():
            ids.append(matcher.id())
            tfs.append(matcher.weight())
            matcher.next()
    return _Postings(np.frombuffer(ids, dtype=np.intc), np.frombuffer(tfs, dtype=np.float32),
                     leaf.doc_count_all())


# Whoosh's field-length bytes decoded: length of byte value n (0 means none).
_BYTE_LENGTHS = np.array([0] + [byte_to_length(value) for value in range(1, 256)],
                         dtype=np.float64)


def _read_lengths(leaf, fieldname: str) -> np.ndarray:
    """Every document's length of ``fieldname`` in one segment (Whoosh's byte-coded lengths)."""
    size = leaf.doc_count_all()
    perdoc = getattr(leaf, "_perdoc", None)
    reader = perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN) if perdoc else None
    if reader is None:
        return np.array([leaf.doc_field_length(d, fieldname, 0) or 0 for d in range(size)],
                        dtype=np.float64)
    return _BYTE_LENGTHS[np.fromiter(reader, dtype=np.uint8, count=size)]


class PostingsCache:
    """Per-process cache of postings and lengths by segment; segments never change.

    Postings come from the segment's scoring postings file when the
    rebuild wrote one (kb.search.scoring_postings: slices of a memory map,
    nothing to decode), otherwise from Whoosh.
    """

    def __init__(self, folder: str | os.PathLike, limit: int = POSTINGS_CACHE_LIMIT):
        self._folder = folder
        self._scoring: dict[str, ScoringPostings | None] = {}
        self._postings: OrderedDict[tuple, _Postings] = OrderedDict()
        self._lengths: dict[tuple, np.ndarray] = {}
        self._phrases: OrderedDict[tuple, int] = OrderedDict()
        self._frequencies: dict[tuple[str, str], dict[bytes, float]] = {}
        self._size = 0
        self._limit = limit
        self._lock = threading.Lock()

    def postings(self, leaf, fieldname: str, btext: bytes) -> _Postings:
        """A term's postings in segment ``leaf`` (none when the segment lacks the term)."""
        key = (leaf.segment().segment_id(), fieldname, btext)
        with self._lock:
            found = self._postings.get(key)
            if found is not None:
                self._postings.move_to_end(key)
                return found
        scoring = self._scoring_postings(key[0])
        if scoring is not None:
            found = _Postings(*scoring.postings(fieldname, btext), leaf.doc_count_all())
        elif (fieldname, btext) in leaf:
            found = _read_postings(leaf, fieldname, btext)
        else:
            found = _Postings(_NO_IDS, _NO_WEIGHTS, leaf.doc_count_all())
        with self._lock:
            self._postings[key] = found
            self._size += len(found.ids)
            while self._size > self._limit and len(self._postings) > 1:
                _, dropped = self._postings.popitem(last=False)
                self._size -= len(dropped.ids)
        return found

    def _scoring_postings(self, segment_id: str) -> ScoringPostings | None:
        if segment_id not in self._scoring:
            self._scoring[segment_id] = ScoringPostings.open(
                scoring_postings.path_for(self._folder, segment_id))
        return self._scoring[segment_id]

    def phrase(self, subsearcher, q: wq.Phrase) -> int:
        """The documents of one segment's searcher holding phrase ``q`` (local numbers).

        Whoosh checks the positions; the answer is kept for as long as the
        segment lives, as checking positions is the slowest part of a search.
        """
        key = (subsearcher.reader().segment().segment_id(), q)
        with self._lock:
            found = self._phrases.get(key)
            if found is not None:
                self._phrases.move_to_end(key)
                return found
        found = mask_of(q.docs(subsearcher))
        with self._lock:
            _remember(self._phrases, key, found, PHRASES_KEPT)
        return found

    def frequency(self, leaf, fieldname: str, btext: bytes) -> float:
        """How often a term occurs in segment ``leaf``, deleted documents included (0: never).

        Whoosh's own figure, looked up in the segment's term file once: a
        "similar practices" box weighs a couple of hundred terms this way.
        """
        key = (leaf.segment().segment_id(), fieldname)
        known = self._frequencies.get(key)
        found = known.get(btext) if known is not None else None
        if found is None:
            found = leaf.frequency(fieldname, btext)
            with self._lock:
                known = self._frequencies.setdefault(key, {})
                if len(known) >= FREQUENCIES_KEPT:
                    known.clear()
                known[btext] = found
        return found

    def lengths(self, leaf, fieldname: str) -> np.ndarray:
        """Field lengths of every document of segment ``leaf``."""
        key = (leaf.segment().segment_id(), fieldname)
        found = self._lengths.get(key)
        if found is None:
            found = self._lengths[key] = _read_lengths(leaf, fieldname)
        return found

    def forget_segments_except(self, segment_ids: set[str]) -> None:
        """Drop what belongs to segments no longer in the index."""
        with self._lock:
            for key in [k for k in self._postings if k[0] not in segment_ids]:
                self._size -= len(self._postings.pop(key).ids)
            for key in [k for k in self._lengths if k[0] not in segment_ids]:
                del self._lengths[key]
            for key in [k for k in self._phrases if k[0] not in segment_ids]:
                del self._phrases[key]
            for key in [k for k in self._scoring if k not in segment_ids]:
                del self._scoring[key]
            for key in [k for k in self._frequencies if k[0] not in segment_ids]:
                del self._frequencies[key]


@dataclass
class _Scored:
    """Documents (ascending, int32) and their scores (float64) for one query word."""

    docs: np.ndarray
    scores: np.ndarray

    @property
    def size(self) -> int:
        return len(self.docs)


class Engine:
    """Evaluates queries against one reader; made once per index commit and reused.

    It remembers the bitsets of the terms it looked up, the scores of the
    words it scored and each field's length normalisation, all valid until
    the next commit.
    """

    def __init__(self, searcher, table: FacetTable, cache: PostingsCache):
        self.searcher = searcher
        self.reader = searcher.reader()
        self.table = table
        self.cache = cache
        self.k1 = search_query.BM25_K1
        self.b = search_query.BM25_B
        self.leaves = [(leaf, offset) for leaf, offset in self.reader.leaf_readers()
                       if leaf.segment() is not None]
        self.size = self.reader.doc_count_all()
        self.live = table.live_cases
        self._live_flags = bools_of(self.live, self.size)
        self.doc_count = max(1, self.live.bit_count())
        # Tie-breakers of the ranking, as arrays (indexed by document number).
        self.updated = np.array(table.updated, dtype=np.int64)
        self.case_ids = np.array([case_id or 0 for case_id in table.case_ids], dtype=np.int64)
        self._term_masks: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._phrase_masks: OrderedDict[wq.Phrase, int] = OrderedDict()
        self._words: OrderedDict[tuple, _Scored] = OrderedDict()
        self._words_size = 0
        self._norms: dict[str, np.ndarray] = {}
        self._frequencies: OrderedDict[tuple, float] = OrderedDict()
        self._results: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()

    def recall(self, key: tuple):
        """What :meth:`keep` kept for ``key`` while this engine lives, or None.

        For answers that depend only on the index, or on data whose every
        change is an index commit: the next commit brings a new engine, so
        nothing kept outlives a change.
        """
        with self._lock:
            found = self._results.get(key)
            if found is not None:
                self._results.move_to_end(key)
            return found

    def keep(self, key: tuple, answer):
        """Keep ``answer`` (shared by every caller: immutable) for :meth:`recall`; returns it."""
        with self._lock:
            _remember(self._results, key, answer, RESULTS_KEPT)
        return answer

    # Matching ------------------------------------------------------------

    def term_mask(self, fieldname: str, text: str) -> int:
        """Live documents containing ``text`` in ``fieldname``."""
        key = (fieldname, text)
        mask = self._term_masks.get(key)
        if mask is None:
            mask = 0
            btext = text.encode("utf-8")
            for leaf, offset in self.leaves:
                postings = self.cache.postings(leaf, fieldname, btext)
                if len(postings.ids):
                    mask |= postings.mask << offset
            mask &= self.live
            _remember(self._term_masks, key, mask, TERM_MASKS_KEPT)
        else:
            self._term_masks.move_to_end(key)
        return mask

    def match(self, q: wq.Query) -> int:
        """The live documents ``q`` matches, as a bitset."""
        if isinstance(q, Coordinated):
            return self.match(q.child)
        if isinstance(q, wq.Term):
            return self.term_mask(q.fieldname, q.text)
        if isinstance(q, wq.Or):
            mask = 0
            for sub in q.subqueries:
                mask |= self.match(sub)
            return mask
        if isinstance(q, wq.And):
            mask = self.live
            for sub in q.subqueries:
                mask &= self.match(sub)
                if not mask:
                    break
            return mask
        if isinstance(q, wq.AndNot):
            return self.match(q.a) & ~self.match(q.b)
        if isinstance(q, wq.AndMaybe):
            return self.match(q.a)
        if isinstance(q, wq.Require):
            return self.match(q.a) & self.match(q.b)
        if isinstance(q, wq.Not):
            return self.live & ~self.match(q.query)
        if isinstance(q, wq.Every):
            return self.live
        if q is wq.NullQuery:
            return 0
        if isinstance(q, wq.Phrase):
            return self._phrase_mask(q)
        return mask_of(self.searcher.docs_for_query(q)) & self.live

    def _phrase_mask(self, q: wq.Phrase) -> int:
        mask = self._phrase_masks.get(q)
        if mask is not None:
            return mask
        # Only documents with every word can hold the phrase; Whoosh checks
        # the positions, and only when that set is not empty.
        mask = self.live
        for word in q.words:
            mask &= self.term_mask(q.fieldname, word)
        if mask:
            found = 0
            for subsearcher, offset in self.searcher.subsearchers or [(self.searcher, 0)]:
                found |= self.cache.phrase(subsearcher, q) << offset
            mask &= found
        _remember(self._phrase_masks, q, mask, PHRASE_MASKS_KEPT)
        return mask

    # Scoring -------------------------------------------------------------

    def _norm(self, fieldname: str) -> np.ndarray:
        """Per document, 1 / the BM25 length normalisation of ``fieldname``."""
        norm = self._norms.get(fieldname)
        if norm is None:
            lengths = np.concatenate([self.cache.lengths(leaf, fieldname)
                                      for leaf, _ in self.leaves] or [np.zeros(0)])
            average = float(lengths.mean()) if len(lengths) else 0.0
            average = average or 1.0
            b = self.b
            norm = self._norms[fieldname] = 1.0 / ((1 - b) + b * lengths / average)
        return norm

    def word(self, text: str, fields: dict[str, float]) -> _Scored:
        """BM25F scores of the live documents holding ``text`` in any of ``fields``.

        ``fields`` maps a field to its weight. The weighted, normalised
        frequencies are summed over the fields, then saturated once.
        """
        key = (text, tuple(sorted(fields.items())))
        found = self._words.get(key)
        if found is not None:
            self._words.move_to_end(key)
            return found
        btext = text.encode("utf-8")
        pseudo = np.zeros(self.size)
        present = np.zeros(self.size, dtype=bool)
        for fieldname, weight in fields.items():
            for leaf, offset in self.leaves:
                postings = self.cache.postings(leaf, fieldname, btext)
                if not len(postings.ids):
                    continue
                docs = postings.ids + offset
                # A term has one posting per document, so the indices are distinct.
                pseudo[docs] += weight * postings.tfs * self._norm(fieldname)[docs]
                present[docs] = True
        docs = np.flatnonzero(present & self._live_flags).astype(np.int32)
        df = len(docs)
        n = self.doc_count
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        k1 = self.k1
        x = pseudo[docs]
        found = _Scored(docs, idf * (k1 + 1) * x / (k1 + x))
        self._words[key] = found
        self._words_size += found.size
        while self._words_size > WORD_SCORES_KEPT and len(self._words) > 1:
            _, dropped = self._words.popitem(last=False)
            self._words_size -= dropped.size
        return found

    def accumulate(self, q: wq.Query, acc: np.ndarray, weight: float = 1.0,
                   within: int | None = None, top: bool = False) -> None:
        """Add ``weight`` times ``q``'s score to ``acc`` (indexed by document number).

        Only documents ``q`` matches positively get a score: ``within`` (a
        bitset) limits the documents scored, for the parts of a query that
        match fewer documents than their words (And, Phrase, AndNot inside
        an Or). At the top of the query (``top``) no limit is needed: only
        documents the whole query matches are ranked.
        """
        boost = weight * (q.boost if not isinstance(q, (wq.Term, wq.Phrase, Coordinated))
                          else 1.0)

        def narrowed() -> int | None:
            return within if top else self._narrow(within, self.match(q))

        if isinstance(q, Coordinated):
            self.accumulate(q.child, acc, weight, within, top)
        elif isinstance(q, wq.Term):
            self._add(self.word(q.text, {q.fieldname: q.boost}), acc, weight, within)
        elif isinstance(q, wq.Phrase):
            self._add_words(q.words, {q.fieldname: q.boost}, acc, weight, narrowed())
        elif isinstance(q, wq.Or):
            self._accumulate_or(q, acc, boost, within)
        elif isinstance(q, wq.And):
            limit = narrowed()
            for sub in q.subqueries:
                self.accumulate(sub, acc, boost, limit, top)
        elif isinstance(q, (wq.AndNot, wq.Require)):
            self.accumulate(q.a, acc, boost, narrowed(), top)
        elif isinstance(q, wq.AndMaybe):
            limit = narrowed()
            self.accumulate(q.a, acc, boost, limit, top)
            self.accumulate(q.b, acc, boost, limit)

    def _accumulate_or(self, q: wq.Or, acc: np.ndarray, weight: float,
                       within: int | None) -> None:
        """An Or's parts: the Terms (and Phrases) of one word are scored across their fields."""
        by_text: dict[str, dict[str, float]] = {}
        phrases: dict[tuple, list[wq.Phrase]] = {}
        for sub in q.subqueries:
            if isinstance(sub, wq.Term):
                fields = by_text.setdefault(sub.text, {})
                fields[sub.fieldname] = max(fields.get(sub.fieldname, 0.0), sub.boost)
            elif isinstance(sub, wq.Phrase):
                phrases.setdefault(tuple(sub.words), []).append(sub)
            else:
                self.accumulate(sub, acc, weight, within)
        for text, fields in by_text.items():
            self._add(self.word(text, fields), acc, weight, within)
        for words, group in phrases.items():
            matched = 0
            for phrase in group:
                matched |= self.match(phrase)
            self._add_words(words, {p.fieldname: p.boost for p in group}, acc, weight,
                            self._narrow(within, matched))

    def _add_words(self, words, fields: dict[str, float], acc: np.ndarray, weight: float,
                   within: int) -> None:
        for word in words:
            self._add(self.word(word, fields), acc, weight, within)

    @staticmethod
    def _narrow(within: int | None, mask: int) -> int:
        # A None limit means "no limit".
        return mask if within is None else within & mask

    def _add(self, scored: _Scored, acc: np.ndarray, weight: float, within: int | None) -> None:
        docs, scores = scored.docs, scored.scores
        if within is not None:
            inside = bools_of(within, self.size)[docs]
            docs, scores = docs[inside], scores[inside]
        acc[docs] += weight * scores

    def term_sets(self, q: wq.Query) -> list[int]:
        """One bitset per distinct positive term text of ``q``: the documents holding it."""
        texts: dict[str, int] = {}
        for fieldname, text in positive_terms(q):
            texts[text] = texts.get(text, 0) | self.term_mask(fieldname, text)
        return list(texts.values())

    def rank(self, q: wq.Query, candidates: int, limit: int, *,
             scored_only: bool = False) -> list[int]:
        """The ``limit`` best of the ``candidates`` bitset for ``q``, best first.

        A user's query (``Coordinated``) of up to KEYWORD_QUERY_TERMS terms
        is coordinated; a longer one is reordered with pseudo-relevance
        feedback (kb.search.query explains both). Ties go to the newest;
        documents the query matches without scoring them ("everything but
        x") come last. With ``scored_only``, candidates the query gives no
        score are left out: for an Or of positively weighted terms, which
        scores exactly the documents it matches, that spares matching first.
        """
        acc = np.zeros(self.size)
        self.accumulate(q, acc, top=True)
        inside = bools_of(candidates, self.size)
        if scored_only:
            inside &= acc > 0
        docnums = np.flatnonzero(inside)
        final = acc
        if isinstance(q, Coordinated):
            sets = self.term_sets(q)
            if len(sets) > search_query.KEYWORD_QUERY_TERMS:
                # The best first, ties in document order.
                best = docnums[np.argsort(-acc[docnums], kind="stable")]
                feedback = self.feedback_query(best[:search_query.FEEDBACK_DOCS].tolist(), q)
                if feedback is not None:
                    self.accumulate(feedback, acc)
            elif len(sets) > 1 and q.exponent:
                matched = np.zeros(self.size, dtype=np.intp)
                for mask in sets:
                    matched += bools_of(mask, self.size)
                factors = np.array([(count / len(sets)) ** q.exponent
                                    for count in range(len(sets) + 1)])
                final = acc * factors[matched]
        scores = final[docnums]
        if len(docnums) > limit:
            # Everything scoring at least the limit-th best score; ties sorted below.
            kept = scores >= np.partition(scores, len(scores) - limit)[len(scores) - limit]
            docnums, scores = docnums[kept], scores[kept]
        # Best score first, then the newest, then the highest id (then document number).
        order = np.lexsort((docnums, self.case_ids[docnums], self.updated[docnums], scores))
        return docnums[order[::-1][:limit]].tolist()

    def _frequency(self, text: str, fields: tuple[str, ...]) -> float:
        """How often ``text`` occurs in ``fields`` over the whole index (remembered)."""
        key = (text, fields)
        found = self._frequencies.get(key)
        if found is None:
            found = sum(self.collection_frequency(fieldname, text) for fieldname in fields)
            _remember(self._frequencies, key, found, TERM_MASKS_KEPT)
        return found

    def collection_frequency(self, fieldname: str, text: str) -> float:
        """How often ``text`` occurs in ``fieldname`` over the index (Whoosh's ``frequency``)."""
        btext = text.encode("utf-8")
        return sum(self.cache.frequency(leaf, fieldname, btext) for leaf, _ in self.leaves)

    def key_terms(self, fieldname: str, text: str, number: int) -> list[tuple[str, float]]:
        """The ``number`` terms of ``text`` that say most about it, with normalised weights.

        Whoosh's ``Searcher.key_terms_from_text`` (Bo1 against ``fieldname``'s
        collection frequencies, the weights divided by Bo1's normaliser), to
        the same bits, but with the text analysed by the analyzer's
        token-free path and each frequency read from the segments' cache:
        Whoosh's own took most of a case study page's time.
        """
        analyzer = self.searcher.schema[fieldname].analyzer
        counts = {term: float(len(at)) for term, at in analyzer.positions(text).items()}
        if not counts:
            return []
        model = Bo1Model(self.reader.doc_count_all(), self.reader.field_length(fieldname))
        top_total = sum(counts.values())
        scored, best = [], 0
        for term, count in counts.items():
            frequency = self.collection_frequency(fieldname, term)
            if frequency:  # the term is in the index
                score = model.score(count, frequency, top_total)
                best = max(best, score)
                scored.append((score, term))
        norm = model.normalizer(best, top_total)
        weighted = sorted(((score / norm, term) for score, term in scored),
                          key=lambda pair: (-pair[0], pair[1]))
        return [(term, weight) for weight, term in weighted[:number]]

    def feedback_query(self, docnums: list[int], q: wq.Query) -> wq.Query | None:
        """The most informative terms of ``docnums`` as a weighted query (Bo1).

        A term's weight is ``tf * log2((1 + P) / P) + log2(1 + P)``, tf its
        frequency in those documents' FEEDBACK_FIELDS and P its frequency in
        the collection per document. The query's own terms take part, so
        the ones the best documents use most are weighted up too. Only the
        most frequent FEEDBACK_CANDIDATES terms are weighed: Bo1 weights
        grow with tf, and each weight costs a dictionary lookup.
        """
        analyzer = self.searcher.schema["body"].analyzer
        fields = search_query.FEEDBACK_FIELDS
        terms: list[str] = []
        for docnum in docnums:
            stored = self.searcher.stored_fields(docnum)
            for fieldname in fields:
                text = stored.get(fieldname)
                if text:
                    terms.extend(analyzer.terms(text, mode="query"))
        counts = Counter(terms)
        n = self.doc_count
        weighed = []
        for text, tf in counts.most_common(FEEDBACK_CANDIDATES):
            frequency = self._frequency(text, fields)
            if frequency:
                p = frequency / n
                weighed.append((tf * math.log2((1 + p) / p) + math.log2(1 + p), text))
        weighed.sort(reverse=True)
        chosen = weighed[:search_query.FEEDBACK_TERMS]
        if not chosen:
            return None
        top = chosen[0][0]
        return wq.Or([
            wq.Or([wq.Term(fieldname, text, boost=boost)
                   for fieldname, boost in search_query.FIELD_BOOSTS.items()],
                  boost=search_query.FEEDBACK_WEIGHT * weight / top)
            for weight, text in chosen
        ])


def _remember(cache: OrderedDict, key, value, limit: int) -> None:
    cache[key] = value
    if len(cache) > limit:
        cache.popitem(last=False)


class Engines:
    """The engine of the current reader, replaced when a commit brings a new one."""

    def __init__(self, folder: str | os.PathLike):
        self.cache = PostingsCache(folder)
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def engine(self, searcher, table: FacetTable) -> Engine:
        """The engine for ``searcher``'s reader."""
        with self._lock:
            engine = self._engine
            if engine is None or engine.reader is not searcher.reader() \
                    or engine.table is not table:
                engine = self._engine = Engine(searcher, table, self.cache)
                self.cache.forget_segments_except(
                    {leaf.segment().segment_id() for leaf, _ in engine.leaves}
                )
            return engine
