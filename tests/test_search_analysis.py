"""Unit tests of kb.search.analysis: English stemming, CJK bigrams, mixed scripts, slugs."""

from __future__ import annotations

import pickle
import random

import pytest

from kb.search.analysis import (
    contains_cjk,
    fold_latin,
    slug_analyzer,
    slugify_term,
    text_analyzer,
)


def terms(text: str, mode: str = "index") -> list[str]:
    return [t.text for t in text_analyzer()(text, mode=mode)]


def positions(text: str, mode: str = "index") -> list[tuple[str, int]]:
    return [(t.text, t.pos) for t in text_analyzer()(text, positions=True, mode=mode)]


def test_english_is_lowercased_stemmed_and_stripped_of_stop_words():
    assert terms("The Teachers were TEACHING what they learned") == ["teacher", "teach", "learn"]


def test_words_keep_dots_but_not_markdown_punctuation():
    assert terms("**teaching** ~~mentoring~~ e.g. 3.5 K-12 [link](x)") == [
        "teach", "mentor", "e.g", "3.5", "k", "12", "link", "x"
    ]


def test_accents_and_full_width_forms_are_folded():
    assert terms("Éducation naïve ＫＩ２") == ["educ", "naiv", "ki2"]
    assert fold_latin("Ça") == "Ca"


@pytest.mark.parametrize("text, expected", [
    ("职业教育", ["职", "职业", "业", "业教", "教", "教育", "育"]),
    ("教", ["教"]),
])
def test_cjk_runs_become_bigrams_and_unigrams_when_indexing(text, expected):
    assert terms(text) == expected


def test_cjk_queries_use_bigrams_only_unless_one_character():
    assert terms("职业教育", mode="query") == ["职业", "业教", "教育"]
    assert terms("教", mode="query") == ["教"]


def test_mixed_text_is_handled_run_by_run():
    assert terms("Seoul의 직업교육 work-based learning", mode="query") == [
        "seoul", "의", "직업", "업교", "교육", "work", "base", "learn"
    ]


def test_positions_make_bigrams_and_words_consecutive():
    assert positions("教育改革 school of work", mode="query") == [
        ("教育", 0), ("育改", 1), ("改革", 2), ("school", 3), ("work", 4)
    ]
    indexed = positions("教育改革 school")
    assert ("教", 0) in indexed and ("革", 2) in indexed and ("school", 3) in indexed


def test_offsets_point_into_the_original_text():
    text = "Our 职业教育 plan"
    spans = {t.text: text[t.startchar:t.endchar]
             for t in text_analyzer()(text, chars=True, mode="index")}
    assert spans["业教"] == "业教" and spans["plan"] == "plan"
    half_width = "ｶﾞｯｺｳ"
    token = next(iter(text_analyzer()(half_width, chars=True, mode="query")))
    assert token.text == "ガッ"  # normalised, pointing at the whole run
    assert (token.startchar, token.endchar) == (0, len(half_width))


def test_stop_words_are_kept_but_marked_for_highlighting():
    tokens = [(t.text, t.stopped) for t in text_analyzer()("the plan", removestops=False)]
    assert tokens == [("the", True), ("plan", False)]


def test_term_spans_agree_with_the_tokenizer():
    """The highlighter's fast scan finds exactly the tokens the tokenizer yields."""
    analyzer = text_analyzer()
    rng = random.Random(7)
    alphabet = ["a", "b", "y", "E", ".", "_", " ", "-", "1", "é", "教", "育", "ing", "the "]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 25)))
        tokens = [(t.text, t.startchar, t.endchar)
                  for t in analyzer(text, chars=True, mode="index")]
        wanted = frozenset(term for term, _, _ in tokens if rng.random() < 0.5)
        assert analyzer.term_spans(text, wanted) == [t for t in tokens if t[0] in wanted], text


def test_script_helpers():
    assert contains_cjk("abc 한국") and contains_cjk("ｶ") and not contains_cjk("abc é")


def test_slugs_in_queries_and_documents():
    slug = slug_analyzer()
    assert [t.text for t in slug("Hong Kong", mode="query")] == ["hong-kong"]
    assert [t.text for t in slug("work-based-learning quasi_experimental", mode="index")] == [
        "work-based-learning", "quasi-experimental"
    ]
    assert slugify_term("  Career Guidance! ") == "career-guidance"


def test_analyzers_survive_pickling():
    """Whoosh stores the schema, analyzers included, as a pickle in the index."""
    analyzer = pickle.loads(pickle.dumps(text_analyzer()))
    assert analyzer == text_analyzer()
    assert [t.text for t in analyzer("teaching 教育")] == ["teach", "教", "教育", "育"]
