"""SQLite FTS5 (from Python's standard library) as the reference both benchmarks compare with.

FTS5 is BM25 in C: a fair yardstick for how fast and how good a plain
search can be with no dependency. Queries are the same words kb searches
for: the English stop words kb drops are dropped here too, and the rest
are OR-ed, the disjunctive parse kb uses.
"""

from __future__ import annotations

import re
import sqlite3

from kb.search.analysis import ENGLISH_STOP_WORDS

# Porter stemming over Unicode words, accents removed: the closest FTS5
# gets to kb's analyzer (it has no CJK bigrams).
TOKENIZER = "porter unicode61 remove_diacritics 2"
_WORDS = re.compile(r"\w+")


def connect(path: str = ":memory:") -> sqlite3.Connection:
    """A connection, checking that this SQLite was built with FTS5."""
    connection = sqlite3.connect(path)
    connection.execute("CREATE VIRTUAL TABLE temp.fts5_probe USING fts5(x)")
    connection.execute("DROP TABLE temp.fts5_probe")
    return connection


def match_expression(text: str) -> str | None:
    """``text`` as an FTS5 query: its words without stop words, quoted and OR-ed."""
    words = [w for w in _WORDS.findall(text.lower()) if w not in ENGLISH_STOP_WORDS]
    if not words:
        return None
    return " OR ".join(f'"{word}"' for word in dict.fromkeys(words))


def sqlite_version() -> str:
    """The SQLite library version Python uses."""
    return sqlite3.sqlite_version
