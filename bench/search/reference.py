"""SQLite FTS5 doing the search page's job on the same documents, for the timing comparison.

The same work as kb's facade for an anonymous visitor: the published
matches of an OR query ranked by BM25 with kb's field weights, the top 20,
the total, counts for every facet over all matches, and highlighted
snippets for the page.
"""

from __future__ import annotations

import sqlite3

from bench.fts5 import TOKENIZER, connect, match_expression
from kb.search.query import FIELD_BOOSTS

TEXT_COLUMNS = list(FIELD_BOOSTS)
SINGLE_FACETS = ("city", "evidence", "education", "language")
MULTI_FACETS = ("problem", "context", "year")


class Fts5Search:
    """An FTS5 index of kb's documents with the facet columns beside it."""

    def __init__(self, path: str = ":memory:"):
        self.db: sqlite3.Connection = connect(path)
        columns = ", ".join(TEXT_COLUMNS)
        self.db.executescript(f"""
            CREATE VIRTUAL TABLE doc_text USING fts5({columns}, tokenize='{TOKENIZER}');
            CREATE TABLE doc (id INTEGER PRIMARY KEY, city TEXT, evidence TEXT, education TEXT,
                              language TEXT, status TEXT);
            CREATE TABLE doc_value (doc INTEGER, facet TEXT, value TEXT);
            CREATE INDEX doc_value_doc ON doc_value (doc, facet);
        """)
        weights = ", ".join(str(FIELD_BOOSTS[name]) for name in TEXT_COLUMNS)
        self._rank = f"bm25(doc_text, {weights})"

    def add(self, documents: list[dict]) -> None:
        """Index kb's index documents (``CaseDocument.fields``)."""
        with self.db:
            self.db.executemany(
                f"INSERT INTO doc_text (rowid, {', '.join(TEXT_COLUMNS)}) "
                f"VALUES (?, {', '.join('?' for _ in TEXT_COLUMNS)})",
                [(int(d["id"]), *(d.get(name, "") for name in TEXT_COLUMNS)) for d in documents],
            )
            self.db.executemany(
                "INSERT INTO doc VALUES (?, ?, ?, ?, ?, ?)",
                [(int(d["id"]), *(d.get(name, "") for name in SINGLE_FACETS), d["status"])
                 for d in documents],
            )
            self.db.executemany(
                "INSERT INTO doc_value VALUES (?, ?, ?)",
                [(int(d["id"]), facet, value) for d in documents for facet in MULTI_FACETS
                 for value in d.get(facet, "").split()],
            )

    def search(self, text: str, limit: int = 20) -> tuple[list[int], int, dict, dict]:
        """Top ids, total, facet counts and snippets for ``text`` (published documents)."""
        expression = match_expression(text)
        db = self.db
        db.execute("DROP TABLE IF EXISTS temp.hits")
        if expression is None:
            return [], 0, {}, {}
        db.execute(
            f"CREATE TEMP TABLE hits AS SELECT doc_text.rowid AS id, {self._rank} AS score "
            "FROM doc_text JOIN doc ON doc.id = doc_text.rowid "
            "WHERE doc_text MATCH ? AND doc.status = 'published'",
            (expression,),
        )
        total = db.execute("SELECT count(*) FROM hits").fetchone()[0]
        ids = [row[0] for row in db.execute(
            "SELECT id FROM hits ORDER BY score LIMIT ?", (limit,))]
        facets = {}
        for facet in SINGLE_FACETS:
            facets[facet] = dict(db.execute(
                f"SELECT doc.{facet}, count(*) FROM hits JOIN doc ON doc.id = hits.id "
                f"GROUP BY doc.{facet}"))
        for facet in MULTI_FACETS:
            facets[facet] = dict(db.execute(
                "SELECT value, count(*) FROM hits JOIN doc_value ON doc_value.doc = hits.id "
                "AND doc_value.facet = ? GROUP BY value", (facet,)))
        snippets = {}
        if ids:
            marks = ", ".join("?" for _ in ids)
            for row in db.execute(
                "SELECT rowid, highlight(doc_text, 0, '<mark>', '</mark>'), "
                "snippet(doc_text, -1, '<mark>', '</mark>', ' … ', 24) "
                f"FROM doc_text WHERE doc_text MATCH ? AND rowid IN ({marks})",
                (expression, *ids),
            ):
                snippets[row[0]] = (row[1], row[2])
        return ids, total, facets, snippets
