"""A segment's postings without positions, in a file NumPy maps straight into memory.

Scoring needs each term's document numbers and weights; Whoosh's
postings also hold every posting's positions, pickled and compressed
block by block, and decoding them costs about 1.3 µs per posting in
Python, most of a long question's search time the first time its words
are seen. The rebuild (kb.search.bulk) already has every term's document
numbers and weights in arrays, so it also writes them here, beside the
segment, and the engine slices them out of a memory map: no decoding, and
the pages are the operating system's cache, shared by every process.

The file, ``<segment id>.kbscore`` in the index folder: the number of
postings n (8 bytes, little-endian), n int32 document numbers, n float32
weights, then a pickled dict mapping ``(field name, term bytes)`` to the
``(start, stop)`` of the term's postings. Whoosh deletes it together with
the segment's own files (its name starts with the segment id). Segments
written by Whoosh's own writer (catch-ups, merges) have no such file and
are read through Whoosh.
"""

from __future__ import annotations

import os
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EXTENSION = ".kbscore"
_COUNT = struct.Struct("<q")


def path_for(folder: str | os.PathLike, segment_id: str) -> Path:
    """Where the scoring postings of segment ``segment_id`` are kept."""
    return Path(folder) / f"{segment_id}{EXTENSION}"


def write(path: Path, terms: dict[tuple[str, bytes], tuple[int, int]], ids: np.ndarray,
          weights: np.ndarray) -> None:
    """Write the postings ``ids`` and ``weights``, and where each term's are, to ``path``."""
    staging = path.with_name(f".{path.name}.tmp")
    with open(staging, "wb") as out:
        out.write(_COUNT.pack(len(ids)))
        out.write(np.asarray(ids, dtype="<i4").tobytes())
        out.write(np.asarray(weights, dtype="<f4").tobytes())
        pickle.dump(terms, out, protocol=pickle.HIGHEST_PROTOCOL)
    # Readers never see a half-written file.
    os.replace(staging, path)


@dataclass
class ScoringPostings:
    """One segment's scoring postings, mapped into memory."""

    terms: dict[tuple[str, bytes], tuple[int, int]]
    ids: np.ndarray
    weights: np.ndarray

    @classmethod
    def open(cls, path: Path) -> ScoringPostings | None:
        """The postings kept in ``path``; None when the segment has none."""
        try:
            with open(path, "rb") as source:
                count = _COUNT.unpack(source.read(_COUNT.size))[0]
                source.seek(_COUNT.size + 8 * count)
                terms = pickle.load(source)
        except FileNotFoundError:
            return None
        # Plain array views of the maps: a memmap's slices each carry a
        # dictionary of their own (tens of MB over a worker's cached postings).
        ids = np.memmap(path, dtype="<i4", mode="r", offset=_COUNT.size,
                        shape=(count,)).view(np.ndarray)
        weights = np.memmap(path, dtype="<f4", mode="r", offset=_COUNT.size + 4 * count,
                            shape=(count,)).view(np.ndarray)
        return cls(terms, ids, weights)

    def postings(self, fieldname: str, btext: bytes) -> tuple[np.ndarray, np.ndarray]:
        """Document numbers and weights of a term (empty when the segment lacks it)."""
        start, stop = self.terms.get((fieldname, btext), (0, 0))
        return self.ids[start:stop], self.weights[start:stop]
