"""Relevance on a test collection (Cranfield unless told): kb's search beside SQLite FTS5's BM25.

    .venv/bin/python -m bench.relevance [--dataset PATH] [--variants]

The collection's documents become published case studies (title ->
title, text -> body) in a throw-away kb instance; the index is built with
kb's own rebuild and each judged query goes through ``kb.search.search``
exactly as the search page sends it, with the defaults kb ships. FTS5
(Porter stemming, BM25, the same words OR-ed) indexes the same titles and
texts in the same run. Printed: nDCG@10, Recall@100 and MAP (over the
first 1,000 results) and kb's ratio to FTS5.

The collection is Cranfield (bench/data/cranfield) unless ``--dataset``
names another folder in BEIR's layout: ``corpus.jsonl`` (``_id``,
``title``, ``text``), ``queries.jsonl`` (``_id``, ``text``) and
``qrels/test.tsv`` (a header, then query id, document id and graded score,
tab-separated). As BEIR's own loader does, only the queries judged in
``qrels/test.tsv`` are run.

``--variants`` also runs kb with one default changed at a time (no
feedback, coordination for every query, equal field weights, the low end
of BM25's k1 range) to show what each contributes; the defaults follow
from principles, not from individual queries (see bench/README.md).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import insert

from bench.fts5 import TOKENIZER, connect, match_expression, sqlite_version
from bench.relevance.metrics import summarise
from kb import create_app, search
from kb.extensions import db
from kb.models import CaseStatus, CaseStudy, City, EducationLevel, Role, User
from kb.search import query as search_query
from kb.services.policy import case_visibility

DATASET = Path(__file__).resolve().parents[1] / "data" / "cranfield"
DATASET_FILES = ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv")
RESULTS = 1_000
PAGE = 100


def load(dataset: Path):
    """Documents, judged queries and graded judgements of a collection in BEIR's layout.

    BEIR's identifiers are strings (``MED-10``, ``4983``); each document
    also gets ``case_id``, its line number from 1, to be a case study's id.
    """
    missing = [name for name in DATASET_FILES if not (dataset / name).is_file()]
    if missing:
        raise SystemExit(f"{dataset} is not a collection in BEIR's layout: "
                         f"{', '.join(missing)} missing")
    with (dataset / "corpus.jsonl").open(encoding="utf-8") as lines:
        documents = [{**json.loads(line), "case_id": number}
                     for number, line in enumerate(filter(str.strip, lines), start=1)]
    qrels: dict[str, dict[str, int]] = {}
    with (dataset / "qrels" / "test.tsv").open(encoding="utf-8", newline="") as lines:
        rows = csv.reader(lines, delimiter="\t")
        next(rows)
        for query_id, doc_id, score, *_ in filter(None, rows):
            qrels.setdefault(query_id, {})[doc_id] = int(score)
    with (dataset / "queries.jsonl").open(encoding="utf-8") as lines:
        queries = {q["_id"]: q["text"] for q in map(json.loads, filter(str.strip, lines))
                   if q["_id"] in qrels}
    return documents, queries, qrels


def kb_instance(folder: Path, documents: list[dict]):
    """A kb app whose published case studies are the collection's documents, indexed."""
    app = create_app({
        "TESTING": True, "INSTANCE_PATH": str(folder / "instance"), "SECRET_KEY": "benchmark",
        "DATABASE_URL": f"sqlite:///{folder / 'kb.sqlite'}", "INDEX_DIR": str(folder / "index"),
    })
    with app.app_context():
        db.create_all()
        search.ensure_index()  # empty, before the rows: kb's rebuild below fills it
        city = City(slug="cranfield", name="Cranfield", country="United Kingdom")
        author = User(name="Cleverdon", email="cranfield@example.org", role=Role.MEMBER,
                      password_hash="!")
        db.session.add_all([city, author])
        db.session.commit()
        db.session.execute(insert(CaseStudy), [
            {"id": d["case_id"], "slug": f"document-{d['case_id']}", "title": d.get("title") or "",
             "summary": "", "body": d.get("text") or "", "city_id": city.id,
             "education_level": EducationLevel.TERTIARY, "status": CaseStatus.PUBLISHED,
             "author_id": author.id, "language": "en"}
            for d in documents
        ])
        db.session.commit()
        search.rebuild()
    return app


def kb_run(app, queries: dict[str, str], documents: list[dict]) -> dict[str, list[str]]:
    """kb's ranking of the first RESULTS documents for every query, through the facade."""
    doc_ids = {d["case_id"]: d["_id"] for d in documents}
    runs = {}
    for query_id, text in queries.items():
        ranked: list[str] = []
        for page in range(1, RESULTS // PAGE + 1):
            with app.app_context():
                results = search.search(case_visibility(None), text, {}, "relevance", page, PAGE)
            ranked.extend(doc_ids[case_id] for case_id in results.ids)
            if page >= results.pages:
                break
        runs[query_id] = ranked
    return runs


def fts5_run(documents: list[dict], queries: dict[str, str]) -> dict[str, list[str]]:
    """FTS5's BM25 ranking of the same documents for the same words."""
    fts = connect()
    fts.execute(f"CREATE VIRTUAL TABLE doc USING fts5(title, text, tokenize='{TOKENIZER}')")
    fts.executemany("INSERT INTO doc (rowid, title, text) VALUES (?, ?, ?)",
                    [(d["case_id"], d.get("title") or "", d.get("text") or "")
                     for d in documents])
    doc_ids = {d["case_id"]: d["_id"] for d in documents}
    runs = {}
    for query_id, text in queries.items():
        expression = match_expression(text)
        rows = fts.execute("SELECT rowid FROM doc WHERE doc MATCH ? ORDER BY bm25(doc) LIMIT ?",
                           (expression, RESULTS)) if expression else []
        runs[query_id] = [doc_ids[row[0]] for row in rows]
    return runs


@contextmanager
def variant(**settings):
    """kb's search with some module settings changed for the duration."""
    saved = {name: getattr(search_query, name) for name in settings}
    for name, value in settings.items():
        setattr(search_query, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(search_query, name, value)


VARIANTS = {
    "no feedback": {"FEEDBACK_TERMS": 0},
    "every query coordinated": {"KEYWORD_QUERY_TERMS": 1_000},
    "equal field weights": {"FIELD_BOOSTS": {name: 1.0 for name in search_query.FIELD_BOOSTS}},
    "BM25 k1=1.2": {"BM25_K1": 1.2},
}


def main(argv: list[str] | None = None) -> None:
    """Build both indexes, run every query, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DATASET, metavar="PATH",
                        help="a folder in BEIR's layout (corpus.jsonl, queries.jsonl, "
                        "qrels/test.tsv); default: bench/data/cranfield")
    parser.add_argument("--variants", action="store_true",
                        help="also run kb with one default changed at a time")
    options = parser.parse_args(argv)
    documents, queries, qrels = load(options.dataset)
    folder = Path(tempfile.mkdtemp(prefix="kb-relevance-"))
    try:
        start = time.perf_counter()
        app = kb_instance(folder, documents)
        indexed = time.perf_counter() - start
        start = time.perf_counter()
        rows = {"kb (defaults)": summarise(kb_run(app, queries, documents), qrels)}
        kb_seconds = time.perf_counter() - start
        start = time.perf_counter()
        rows["SQLite FTS5 bm25 (reference)"] = summarise(fts5_run(documents, queries), qrels)
        fts_seconds = time.perf_counter() - start
        if options.variants:
            for name, settings in VARIANTS.items():
                with variant(**settings):
                    app.extensions["kb_search"].reset()
                    rows[f"kb, {name}"] = summarise(kb_run(app, queries, documents), qrels)
                app.extensions["kb_search"].reset()
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    print(f"\nRelevance on {options.dataset.resolve().name} ({len(documents)} documents, "
          f"{len(queries)} queries), "
          f"SQLite {sqlite_version()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'system':<34} {'nDCG@10':>8} {'R@100':>7} {'MAP':>7}")
    for name, scores in rows.items():
        print(f"{name:<34} {scores['ndcg@10']:>8.4f} {scores['recall@100']:>7.4f} "
              f"{scores['map']:>7.4f}")
    kb_scores, reference = rows["kb (defaults)"], rows["SQLite FTS5 bm25 (reference)"]
    print(f"{'kb / FTS5':<34} {kb_scores['ndcg@10'] / reference['ndcg@10']:>7.2f}x "
          f"{kb_scores['recall@100'] / reference['recall@100']:>6.2f}x "
          f"{kb_scores['map'] / reference['map']:>6.2f}x")
    print(f"(kb: indexed in {indexed:.1f}s, {len(queries)} queries x {RESULTS} results in "
          f"{kb_seconds:.1f}s; FTS5: indexed and searched in {fts_seconds:.1f}s; target for kb: "
          "nDCG@10 >= 0.40)")


if __name__ == "__main__":
    main()
