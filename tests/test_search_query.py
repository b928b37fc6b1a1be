"""Unit tests of kb.search.query: the search box's syntax, fallbacks and caps."""

from __future__ import annotations

import random

import pytest
from whoosh import query as wq

from kb.search.query import (
    MAX_QUERY_CHARS,
    MAX_QUERY_TERMS,
    NOTICE_PLAIN_WORDS,
    Coordinated,
    _finish,
    build_parser,
    parse_user_query,
    plain_words,
    positive_terms,
)
from kb.search.schema import build_schema


@pytest.fixture(scope="module")
def parser():
    return build_parser(build_schema())


def parsed(parser, text):
    return parse_user_query(parser, text)


def fields_of(q) -> set[str]:
    return {field for field, _ in positive_terms(q)}


def test_plain_words_are_a_coordinated_disjunction_over_the_text_fields(parser):
    q = parsed(parser, "apprenticeship nurses").query
    assert isinstance(q, Coordinated) and isinstance(q.child, wq.Or)
    assert len(q.child.subqueries) == 2 * 7  # each word in each field
    assert fields_of(q) == {"title", "summary", "body", "implementation", "outcomes", "other",
                            "labels"}
    assert {text for _, text in positive_terms(q)} == {"apprenticeship", "nurs"}


def test_fast_plain_word_parse_equals_whoosh_parse(parser):
    words = ["work-based", "learning", "the", "of", "Éducation", "職業教育", "教", "직업교육을",
             "3.5", "e.g.", "K-12", "teachers,", "students!", "a", "x/y", "50%", "R&D",
             "don't", "Seoul의", "ｶﾞｯｺｳ", "**bold**", "1=1;", "#tag", "naïve", "...", "?"]
    rng = random.Random(11)
    for _ in range(500):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 6)))
        assert plain_words(parser, text) == _finish(parser.parse(text)), text


def test_quoted_phrases(parser):
    q = parsed(parser, '"career guidance"').query
    assert all(isinstance(sub, wq.Phrase) for sub in q.child.subqueries)
    assert q.child.subqueries[0].words == ["career", "guidanc"]


def test_hyphenated_words_are_searched_as_words(parser):
    q = parsed(parser, "work-based").query
    assert all(isinstance(sub, wq.Term) for sub in q.child.subqueries)
    assert {text for _, text in positive_terms(q)} == {"work", "base"}


def test_excluded_words(parser):
    q = parsed(parser, "apprenticeship -toronto").query.child
    assert isinstance(q, wq.AndNot)
    assert {text for _, text in positive_terms(q)} == {"apprenticeship"}
    only_exclusion = parsed(parser, "-toronto").query.child
    assert isinstance(only_exclusion, wq.AndNot) and isinstance(only_exclusion.a, wq.Every)


def test_not_inside_a_disjunction_means_and_not(parser):
    q = parsed(parser, "nurses welders NOT toronto").query.child
    assert isinstance(q, wq.AndNot)
    assert {text for _, text in positive_terms(q)} == {"nurs", "welder"}


def test_and_or_operators(parser):
    assert isinstance(parsed(parser, "nurses AND welders").query.child, wq.And)
    assert isinstance(parsed(parser, "nurses OR welders").query.child, wq.Or)


def test_required_words(parser):
    q = parsed(parser, "+nurses welders").query.child
    assert isinstance(q, wq.AndMaybe)
    # A required stop word is no requirement at all.
    assert isinstance(parsed(parser, "+the welders").query.child, wq.Or)


@pytest.mark.parametrize("text, field, value", [
    ("city:Toronto", "city", "toronto"),
    ('problem:"Career guidance"', "problem", "career-guidance"),
    ("level:adult", "education", "adult"),
    ("evidence:quasi_experimental", "evidence", "quasi-experimental"),
    ("title:nurses", "title", "nurs"),
    ("year:2019", "year", "2019"),
])
def test_field_queries(parser, text, field, value):
    q = parsed(parser, text).query.child
    assert isinstance(q, wq.Term) and (q.fieldname, q.text) == (field, value)


def test_internal_fields_cannot_be_named(parser):
    q = parsed(parser, "status:draft").query
    assert "status" not in fields_of(q)


def test_year_range(parser):
    q = parsed(parser, "year:[2015 TO 2018]").query.child
    assert isinstance(q, wq.TermRange) and (q.start, q.end) == ("2015", "2018")


@pytest.mark.parametrize("text", ["(((", '"', "title:", "nurses)", "[2015", '"open phrase'])
def test_malformed_queries_are_searched_as_plain_words_with_a_notice(parser, text):
    result = parsed(parser, text)
    assert result.plain_words and NOTICE_PLAIN_WORDS in result.notices


@pytest.mark.parametrize("text", [
    "(((", "title:", "*", '"', "\x00\x1b[31m", "' OR 1=1; DROP TABLE case_study; --",
    "a" * 5000, "x " * 3000, "AND OR NOT", ")(", "::::", "[[[]]]", "{}", "^~?*", "-", "+",
    "title:(", 'city:"', "year:[a TO", "教" * 600, "NOT NOT NOT x", "-(-(-x))",
])
def test_hostile_queries_never_raise(parser, text):
    result = parsed(parser, text)
    assert len(result.text) <= MAX_QUERY_CHARS
    if result.query is not None:
        assert len({t for _, t in positive_terms(result.query)}) <= MAX_QUERY_TERMS * 2


def test_long_queries_are_cut_with_a_notice(parser):
    result = parsed(parser, " ".join(f"word{n}" for n in range(100)))
    assert result.text.split()[-1] == f"word{MAX_QUERY_TERMS - 1}"
    assert any("first 32 words" in notice for notice in result.notices)
    assert parsed(parser, "the " * 100 + "nurses").text.endswith("nurses")  # stop words are free


def test_empty_queries_browse(parser):
    for text in ("", "   ", None, "the of and"):
        assert parsed(parser, text).query is None
