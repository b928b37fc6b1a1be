"""The fast paths of search: each gives exactly what the slow path it replaces gives.

The rebuild's segment writer (kb.search.bulk), scoring postings
(kb.search.scoring_postings), the analyzer's token-free paths, the
windowed search for snippets (kb.search.highlight) and the key terms of a
"similar practices" box (kb.search.engine).
"""

from __future__ import annotations

from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh import index as whoosh_index
from whoosh import query as wq

from kb import search
from kb.extensions import db
from kb.models import CaseStudy
from kb.services import case_studies
from kb.services.policy import case_visibility
from kb.search import highlight, indexer, lifecycle, scoring_postings
from kb.search.analysis import text_analyzer
from kb.search.bulk import BulkSegmentWriter
from kb.search.query import FIELD_BOOSTS
from kb.search.scoring_postings import ScoringPostings
from kb.search.schema import SNIPPET_FIELDS, build_schema
from factories import write_case
from index_checks import assert_index_matches_database

# Documents exercising every kind of field: stop words, repeated words, CJK
# runs (bigrams and unigrams), accents, several keyword values, columns,
# stored-only fields and fields left out.
DOCUMENTS = [
    {"id": "1", "title": "Work-based learning in the harbour",
     "summary": "Students learn welding; students learn to weld.",
     "body": "The harbour school and the harbour employers. Éducation à Montréal.",
     "labels": "Toronto\nWork-based learning", "city": "toronto",
     "problem": "work-based-learning career-guidance", "year": "2021 2022 2023",
     "status": "published", "author": "3", "updated": 1_700_000_000,
     "title_sort": b"work-based learning in the harbour", "fingerprint": "a"},
    {"id": "2", "title": "職業教育の改革", "summary": "서울의 직업 교육 Seoul의 학교",
     "body": "Vocational 職業教育 reform, e.g. 3.5 days a week.", "city": "seoul",
     "language": "ja", "status": "draft", "author": "4", "updated": 1_700_000_100,
     "title_sort": "職業教育の改革".encode(), "fingerprint": "b"},
    {"id": "3", "title": "Harbour", "city": "toronto", "status": "published", "author": "3",
     "updated": 5, "title_sort": b"harbour", "fingerprint": "c"},
]


def _bulk_index(folder):
    """The reader of an index of DOCUMENTS written by the bulk writer (one segment)."""
    folder.mkdir(exist_ok=True)
    ix = whoosh_index.create_in(str(folder), build_schema())
    writer = BulkSegmentWriter(ix)
    for fields in DOCUMENTS:
        writer.add_document(**fields)
    writer.commit_segments([])
    return ix.reader()


def _postings(reader, fieldname, btext):
    matcher = reader.postings(fieldname, btext)
    return list(matcher.items_as("weight")), list(matcher.all_items())


def test_bulk_writer_writes_what_whooshs_writer_writes(tmp_path):
    (tmp_path / "whoosh").mkdir()
    ix = whoosh_index.create_in(str(tmp_path / "whoosh"), build_schema())
    with ix.writer() as writer:
        for fields in DOCUMENTS:
            writer.add_document(**fields)
    expected = ix.reader()
    actual = _bulk_index(tmp_path / "bulk")

    assert list(actual.all_terms()) == list(expected.all_terms())
    for fieldname, btext in expected.all_terms():
        # Document numbers, weights and the encoded positions, block by block.
        assert _postings(actual, fieldname, btext) == _postings(expected, fieldname, btext)
        assert actual.doc_frequency(fieldname, btext) == expected.doc_frequency(fieldname, btext)
        assert actual.frequency(fieldname, btext) == expected.frequency(fieldname, btext)
    assert list(actual.all_stored_fields()) == list(expected.all_stored_fields())
    for name in expected.schema.names():
        if expected.has_column(name):
            assert list(actual.column_reader(name)) == list(expected.column_reader(name))
        if expected.schema[name].scorable:
            assert actual.field_length(name) == expected.field_length(name)
            assert [actual.doc_field_length(d, name) for d in range(len(DOCUMENTS))] == \
                [expected.doc_field_length(d, name) for d in range(len(DOCUMENTS))]


def test_scoring_postings_hold_every_terms_documents_and_weights(tmp_path):
    reader = _bulk_index(tmp_path)
    scoring = ScoringPostings.open(
        scoring_postings.path_for(tmp_path, reader.segment().segment_id()))

    assert set(scoring.terms) == set(reader.all_terms())
    for fieldname, btext in reader.all_terms():
        ids, weights = scoring.postings(fieldname, btext)
        expected = list(reader.postings(fieldname, btext).items_as("weight"))
        assert list(zip(ids.tolist(), weights.tolist())) == expected
    assert [len(a) for a in scoring.postings("body", b"nowhere")] == [0, 0]
    assert ScoringPostings.open(tmp_path / "missing.kbscore") is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list("abc ÉéXY.-_12 職業教育서울の\n")
                                + ["the ", "school ", "schools ", "of ", "e.g. "]),
                max_size=40).map("".join))
def test_fast_analysis_agrees_with_the_tokens(text):
    analyzer = text_analyzer()
    for mode in ("index", "query"):
        assert analyzer.terms(text, mode=mode) == \
            [token.text for token in analyzer(text, mode=mode)]
    positions: dict[str, list[int]] = {}
    for token in analyzer(text, positions=True, mode="index"):
        positions.setdefault(token.text, []).append(token.pos)
    assert analyzer.positions(text) == positions
    assert list(analyzer.positions(text)) == list(positions)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["harbour ", "welding ", "schools ", "the ", "x ", "\n",
                                 "apprentice ", "職業教育 ", "e.g. "]), max_size=120).map("".join),
       st.sampled_from([5, 20, 60, 1_000]))
def test_snippets_from_a_window_are_snippets_from_the_whole_text(text, window):
    analyzer = text_analyzer()
    words = frozenset(analyzer.terms("harbour welding 職業", mode="query"))
    with patch.object(highlight, "SNIPPET_WINDOW", len(text) + 1):
        whole_text = highlight.snippet(text, words, analyzer)
    with patch.object(highlight, "SNIPPET_WINDOW", window):
        assert highlight.snippet(text, words, analyzer) == whole_text


def _searches():
    """What a set of searches finds, in order, with the page's snippets."""
    results = []
    question = "students learning welding apprenticeships employers weekly placement programme"
    for q in ("harbour welding", "welding", question, '"harbour welding"', "職業",
              "-harbour welding"):
        page = search.search(case_visibility(None), q)
        results.append((page.total, page.ids, {i: (h.title, h.snippet)
                                              for i, h in page.highlights.items()}))
    return results


def test_searches_find_the_same_with_or_without_scoring_postings(app, taxonomy, users):
    for number, title in enumerate(["Harbour welding academy", "Welding for adults",
                                    "Harbour apprenticeships", "職業教育 reform"]):
        write_case(users["member"], taxonomy, title=title,
                   body=f"Students learning welding with employers, week {number}.")
    search.rebuild(procs=2)
    index = lifecycle.extension().index
    kept = sorted(index.path.glob(f"*{scoring_postings.EXTENSION}"))
    assert kept  # the rebuild wrote them
    with_files = _searches()

    for path in kept:
        path.unlink()
    lifecycle.extension().reset()
    assert _searches() == with_files


def test_rebuild_in_processes_matches_one_process(app, taxonomy, users, monkeypatch):
    monkeypatch.setattr(indexer, "REBUILD_SEGMENT_CASES", 2)  # several segments per process
    for number in range(7):
        write_case(users["member"], taxonomy, title=f"Segmented practice {number}",
                   publish=number % 3 != 0)
    assert search.rebuild(procs=3) == 7
    assert_index_matches_database()
    with lifecycle.extension().index.searcher() as searcher:
        assert len(searcher.reader().leaf_readers()) >= 4
    assert search.search(case_visibility(users["admin"]), "segmented").total == 7


def test_a_failing_rebuild_process_leaves_the_index_as_it_was(app, taxonomy, users, monkeypatch):
    kept = write_case(users["member"], taxonomy, title="Survivor practice").id
    for number in range(4):
        write_case(users["member"], taxonomy, title=f"Doomed practice {number}")

    def broken(case):
        raise ValueError("cannot convert this case study")

    monkeypatch.setattr(indexer, "case_document", broken)
    with pytest.raises(RuntimeError, match="(?s)rebuild process failed.*cannot convert"):
        search.rebuild(procs=2)
    monkeypatch.undo()
    assert search.search(case_visibility(None), "survivor").ids == [kept]
    assert_index_matches_database()
    # The lock was released: the index takes writes again.
    assert search.rebuild(procs=2) == 5


def _assert_key_terms_are_whooshs(texts):
    with lifecycle.extension().index.searcher() as searcher:
        engine = lifecycle.extension().engine(searcher)
        stored = [fields for fields in searcher.all_stored_fields() if "title" in fields]
        for text in [*("\n".join(fields.get(name, "") for name in ("title", *SNIPPET_FIELDS))
                       for fields in stored), *texts, "", "the of and", "unknownword"]:
            for number in (1, 5, 12):
                assert engine.key_terms("body", text, number) == \
                    searcher.key_terms_from_text("body", text, numterms=number)
        return len(searcher.reader().leaf_readers())


def test_key_terms_are_whooshs_key_terms(app, taxonomy, users, monkeypatch):
    monkeypatch.setattr(indexer, "REBUILD_SEGMENT_CASES", 2)  # several segments
    texts = ["Harbour welding academy", "Welding for adults in the harbour",
             "Harbour apprenticeships", "職業教育 reform, Éducation à Montréal",
             "Nurses train in hospital wards with mentors"]
    first = [write_case(users["member"], taxonomy, title=title, summary=f"{title} again.",
                        body=f"Students learning {title.lower()} with employers.").id
             for title in texts]
    search.rebuild(procs=1)
    assert _assert_key_terms_are_whooshs(texts) >= 3
    # A segment written by Whoosh's own writer, with deletions.
    write_case(users["member"], taxonomy, title="Welding nurses", body="Harbour wards.")
    case_studies.delete_case(users["admin"], db.session.get(CaseStudy, first[0]))
    db.session.commit()
    _assert_key_terms_are_whooshs(texts)


def test_ranking_the_scored_documents_is_ranking_the_matched_ones(app, taxonomy, users):
    texts = ["Harbour welding academy", "Welding for adults", "Harbour apprenticeships",
             "Nurses train in hospital wards", "Mentors for welding nurses"]
    for title in texts:
        write_case(users["member"], taxonomy, title=title, body=f"{title}, with employers.")
    # A deleted case study still has postings until the segment is merged.
    case_studies.delete_case(users["admin"], db.session.get(CaseStudy, write_case(
          users["member"], taxonomy, title="Welding harbour nurses").id))
    db.session.commit()
    with lifecycle.extension().index.searcher() as searcher:
        engine = lifecycle.extension().engine(searcher)
        everyone = engine.live
        queries = [wq.Or([wq.Or([wq.Term(fieldname, word, boost=boost)
                                 for fieldname, boost in FIELD_BOOSTS.items()], boost=weight)
                          for word, weight in engine.key_terms("body", text, 4)])
                   for text in [*texts, "Welding nurses, absent words"]]
        assert all(engine.match(q) for q in queries)
        for q in [*queries, wq.Or([wq.Term("body", "absent")])]:
            for candidates in (everyone, everyone & ~1, 0):
                for limit in (1, 3, 50):
                    matched_first = engine.rank(q, candidates & engine.match(q), limit)
                    assert engine.rank(q, candidates, limit, scored_only=True) == matched_first
                    assert len(matched_first) <= limit
        # Candidates the query does not match are left out, not ranked last.
        welding = engine.rank(queries[1], everyone, 50, scored_only=True)
        assert 0 < len(welding) < len(texts)
