"""kb.search's facade: what the search page and case pages get."""

from __future__ import annotations

import random

import pytest
from factories import write_case
from markupsafe import Markup
from sqlalchemy import select

from kb import search
from kb.extensions import db
from kb.models import CaseStudy, ProblemOfPractice
from kb.search.query import NOTICE_PLAIN_WORDS
from kb.services import case_studies, lineage, policy, review, vocabularies

ANONYMOUS = policy.case_visibility(None)


def found(user, q: str, **options) -> list[int]:
    return search.search(policy.case_visibility(user), q, **options).ids


# Matching ------------------------------------------------------------------

def test_stemming_finds_other_forms_of_a_word(taxonomy, users):
    case_id = write_case(users["member"], taxonomy, title="Apprenticeships for nurses",
                         body="Students learned on the ward.").id
    assert found(None, "apprenticeship") == [case_id]
    assert found(None, "learning nurse") == [case_id]


def test_phrases_need_the_words_together(taxonomy, users):
    together = write_case(users["member"], taxonomy, title="Career guidance in schools").id
    apart = write_case(users["member"], taxonomy, title="Guidance on a career change").id
    assert found(None, '"career guidance"') == [together]
    assert set(found(None, "career guidance")) == {together, apart}


def test_excluded_words(taxonomy, users):
    welding = write_case(users["member"], taxonomy, title="Welding apprenticeships").id
    nursing = write_case(users["member"], taxonomy, title="Nursing apprenticeships").id
    assert found(None, "apprenticeships -welding") == [nursing]
    assert found(None, "apprenticeships NOT nursing") == [welding]
    assert found(None, "-welding") == [nursing]


def test_field_queries(taxonomy, users):
    in_title = write_case(users["member"], taxonomy, title="Harbour training").id
    in_body = write_case(users["member"], taxonomy, title="Port training",
                         body="Near the harbour.").id
    in_seoul = write_case(users["member"], taxonomy, title="Seoul training",
                          city_id=taxonomy["cities"]["seoul"]).id
    assert found(None, "title:harbour") == [in_title]
    assert set(found(None, "harbour")) == {in_title, in_body}
    assert found(None, "city:Seoul") == [in_seoul]
    assert set(found(None, "training AND city:toronto")) == {in_title, in_body}
    assert found(None, 'problem:"Work-based learning" AND title:seoul') == [in_seoul]


@pytest.mark.parametrize("language, text, query", [
    ("zh", "我们的职业教育改革计划", "教育"),
    ("ja", "地域の職業教育プログラムを実施した", "教育"),
    ("ko", "서울시 직업교육을 통한 진로지도", "교육"),
    ("ja", "キャリア教育と企業連携", "企業"),
    ("ko", "현장실습 프로그램을 운영한다", "실습"),
])
def test_cjk_word_inside_a_longer_run(taxonomy, users, language, text, query):
    case_id = write_case(users["member"], taxonomy, title=text, summary=text, language=language).id
    write_case(users["member"], taxonomy, title="An English case study")
    result = search.search(ANONYMOUS, query)
    assert result.ids == [case_id]
    assert "<mark" in result.highlights[case_id].title


def test_one_character_cjk_query(taxonomy, users):
    chinese = write_case(users["member"], taxonomy, title="职业教育改革", summary="改革", language="zh").id
    japanese = write_case(users["member"], taxonomy, title="職業教育の改革", summary="改革",
                          language="ja").id
    write_case(users["member"], taxonomy, title="学徒制", summary="学徒", language="zh")
    assert set(found(None, "教")) == {chinese, japanese}


def test_coordination_ranks_documents_matching_more_words_first(taxonomy, users):
    one_word = write_case(users["member"], taxonomy, title="Welding welding welding",
                          summary="Welding, welding and more welding.").id
    both = write_case(users["member"], taxonomy, title="Nurses", summary="Welding for nurses.").id
    assert found(None, "welding nurses")[0] == both
    assert found(None, "welding")[0] == one_word


@pytest.mark.parametrize("q", [
    "(((", "title:", "*", '"', "\x00\x07\x1b[2J", "' OR 1=1; DROP TABLE case_study; --",
    "a" * 5000, "nurse " * 1000, "AND OR NOT", "year:[x TO", 'city:"', "-", "+", "^", "~",
    "<script>alert(1)</script>", "%00", "\ud7ff", "NOT", "教" * 3000,
])
def test_hostile_queries_return_a_results_page(taxonomy, users, q):
    write_case(users["member"], taxonomy, title="Nurses")
    result = search.search(ANONYMOUS, q)
    assert result.total >= 0 and result.page == 1


def test_unreadable_query_is_searched_as_plain_words_with_a_notice(taxonomy, users):
    case_id = write_case(users["member"], taxonomy, title="Nurses").id
    result = search.search(ANONYMOUS, "(((nurses")
    assert result.ids == [case_id]
    assert NOTICE_PLAIN_WORDS in result.notices


def test_did_you_mean(taxonomy, users):
    write_case(users["member"], taxonomy, title="Apprenticeships for nurses")
    result = search.search(ANONYMOUS, "aprenticeships")
    assert result.total == 0
    assert result.suggestion == "apprenticeships"
    assert search.search(ANONYMOUS, "nurses -aprenticeship").suggestion is None  # excluded words stay
    assert search.search(ANONYMOUS, "nurses").suggestion is None  # found: nothing to correct


@pytest.mark.parametrize("status", ["draft", "submitted", "archived"])
def test_did_you_mean_offers_only_words_the_reader_may_see(taxonomy, users, status):
    hidden = write_case(users["member"], taxonomy, publish=status == "archived",
                        title="Quokkabridge mentoring")
    if status == "submitted":
        review.submit(users["member"], hidden)
    elif status == "archived":
        review.archive(users["member"], hidden)
    db.session.commit()
    write_case(users["member"], taxonomy, title="Apprenticeships for nurses")

    def offered(user) -> str | None:
        return search.search(policy.case_visibility(user), "quokkabrige").suggestion

    assert offered(None) is None
    assert offered(users["other_member"]) is None
    assert offered(users["researcher"]) is None
    assert offered(users["member"]) == "quokkabridge"  # the author sees their own
    assert offered(users["facilitator"]) == "quokkabridge"


# Visibility ----------------------------------------------------------------

def _visible_ids(user) -> set[int]:
    return set(db.session.scalars(select(CaseStudy.id).where(policy.visible_cases_clause(user))))


def test_drafts_are_found_by_who_may_see_them(taxonomy, users):
    write_case(users["member"], taxonomy, title="Published plan")
    own = write_case(users["member"], taxonomy, publish=False, title="Member draft plan").id
    other = write_case(users["other_member"], taxonomy, publish=False, title="Other draft plan").id
    for name in ("admin", "facilitator", "member", "other_member", "researcher"):
        user = users[name]
        assert set(found(user, "plan")) == _visible_ids(user), name
        everything = search.search(policy.case_visibility(user), "")
        assert everything.total == len(_visible_ids(user)), name
    assert _visible_ids(users["member"]) >= {own} and other not in _visible_ids(users["member"])
    assert set(found(None, "plan")) == _visible_ids(None)


def test_rows_are_loaded_in_rank_order_and_only_if_visible(taxonomy, users):
    first = write_case(users["member"], taxonomy, title="Alpha").id
    second = write_case(users["member"], taxonomy, title="Beta").id
    draft = write_case(users["member"], taxonomy, publish=False, title="Gamma").id
    rows = search.cases_in_order(ANONYMOUS, [second, draft, first, 10**12])
    assert [row.id for row in rows] == [second, first]
    member = policy.case_visibility(users["member"])
    assert [row.id for row in search.cases_in_order(member, [draft, first])] == [
        draft, first]


# Facets, filters, sorting, pages ---------------------------------------------

EVIDENCE = [None, "descriptive", "correlational", "quasi_experimental", "experimental"]
EDUCATION = ["upper_secondary", "post_secondary", "adult"]


@pytest.fixture
def corpus(taxonomy, users):
    """Forty varied case studies by two authors, some of them drafts."""
    rng = random.Random(5)
    problems = [taxonomy["problems"]["work-based-learning"],
                taxonomy["problems"]["career-guidance"]]
    contexts = list(taxonomy["contexts"].values())
    for number in range(40):
        start = rng.choice([None, 2015, 2018, 2020])
        case = case_studies.create_case(
            rng.choice([users["member"], users["other_member"]]),
            case_studies.CaseInput(
                title=f"Practice {number} {rng.choice(['welding', 'nursing', 'coding'])}",
                summary=rng.choice(["Mentors and employers.", "Schools and colleges.",
                                    "Employers train apprentices."]),
                city_id=rng.choice(list(taxonomy["cities"].values())),
                education_level=rng.choice(EDUCATION),
                evidence_level=rng.choice(EVIDENCE),
                language=rng.choice(["en", "en", "fr"]),
                year_start=start,
                year_end=None if start is None else start + rng.choice([0, 1, 3]),
                problem_ids=rng.sample(problems, rng.randint(1, 2)),
                context_ids=rng.sample(contexts, rng.randint(0, 2)),
            ),
        )
        if rng.random() < 0.75:
            review.publish_as_system(case)
    # Links from earlier to later case studies (so never a loop), drafts at either end.
    cases = db.session.scalars(select(CaseStudy).order_by(CaseStudy.id)).all()
    for _ in range(25):
        source, adapting = sorted(rng.sample(cases, 2), key=lambda case: case.id)
        if not any(link.source_id == source.id for link in adapting.adapted_from_links):
            lineage.record_adaptation(users["facilitator"], adapting, source.id,
                                      lineage.AdaptationInput(kind="adapted"))
    db.session.commit()


def _values(case: CaseStudy) -> dict[str, set[str]]:
    years = set()
    if case.year_start is not None:
        years = {str(y) for y in range(case.year_start, (case.year_end or case.year_start) + 1)}
    return {
        "city": {case.city.slug},
        "problem": {p.slug for p in case.problems},
        "context": {c.slug for c in case.contexts},
        "evidence": {case.evidence_level.value} if case.evidence_level else set(),
        "education": {case.education_level.value},
        "language": {case.language},
        "year": years,
        # A link counts when the case study at its other end is published.
        "lineage": {value for value, links, end in (
            ("adapts", case.adapted_from_links, "source"),
            ("adapted", case.adapted_by_links, "adapting"),
        ) if any(getattr(link, end).is_published for link in links)},
    }


def _all_ids(user, q, filters) -> list[int]:
    ids, page = [], 1
    while True:
        result = search.search(policy.case_visibility(user), q, filters, "relevance", page, 7)
        ids.extend(result.ids)
        if not result.has_next:
            return ids
        page += 1


def test_facet_counts_equal_a_brute_force_count(corpus, users):
    rng = random.Random(9)
    viewers = [None, users["member"], users["facilitator"]]
    for _ in range(40):
        user = rng.choice(viewers)
        q = rng.choice(["", "employers", "welding OR nursing", "schools -colleges"])
        rows = [c for c in db.session.scalars(select(CaseStudy).where(
            policy.visible_cases_clause(user)))]
        if q:
            matched = set(found(user, q, per_page=100))
            rows = [c for c in rows if c.id in matched]
        values = {c.id: _values(c) for c in rows}
        options = {name: sorted(set().union(*(v[name] for v in values.values())) or {"none"})
                   for name in search.FACETS}
        filters = {name: rng.sample(choices, rng.randint(1, min(2, len(choices))))
                   for name, choices in options.items() if rng.random() < 0.35}

        def passes(case_id, skip=None):
            return all(values[case_id][name] & set(chosen)
                       for name, chosen in filters.items() if name != skip)

        result = search.search(policy.case_visibility(user), q, filters, "relevance", 1, 100)
        expected = {c for c in values if passes(c)}
        assert result.total == len(expected)
        assert set(_all_ids(user, q, filters)) == expected
        for name, facet in result.facets.items():
            counts = {v.value: v.count for v in facet}
            for value in set().union(*(v[name] for v in values.values())):
                brute = sum(1 for c in values if passes(c, skip=name) and value in values[c][name])
                assert counts.get(value, 0) == brute, (name, value, filters, q)
            for chosen in filters.get(name, []):
                assert any(v.value == chosen and v.selected for v in facet)


def test_facet_labels_come_from_the_vocabularies(corpus):
    facets = search.search(ANONYMOUS, "").facets
    cities = {v.value: v.label for v in facets["city"]}
    assert cities == {"toronto": "Toronto", "seoul": "Seoul"}
    assert {v.label for v in facets["language"]} <= {"English", "French"}
    assert [v.label for v in facets["lineage"]] == ["Has been adapted", "Adapts another practice"]
    assert [v.value for v in facets["year"]] == sorted((v.value for v in facets["year"]),
                                                       reverse=True)


def test_facet_labels_follow_renamed_and_new_terms(corpus, users):
    def labels(facet: str, **filters) -> dict[str, str]:
        return {v.value: v.label for v in search.search(ANONYMOUS, "", filters).facets[facet]}

    assert labels("problem")["career-guidance"] == "Career guidance"  # names kept from here
    problem = db.session.scalar(select(ProblemOfPractice).where(
        ProblemOfPractice.slug == "career-guidance"))
    vocabularies.update_term(users["admin"], ProblemOfPractice, problem,
                             vocabularies.TermInput(name="Choosing a pathway",
                                                    slug="career-guidance"))
    db.session.commit()
    assert labels("problem")["career-guidance"] == "Choosing a pathway"
    # A term no case study carries yet, chosen as a filter, then renamed.
    unused = vocabularies.create_term(users["admin"], ProblemOfPractice,
                                      vocabularies.TermInput(name="Teacher supply"))
    db.session.commit()
    assert labels("problem", problem=[unused.slug])[unused.slug] == "Teacher supply"
    vocabularies.update_term(users["admin"], ProblemOfPractice, unused,
                             vocabularies.TermInput(name="Teacher shortage", slug=unused.slug))
    db.session.commit()
    assert labels("problem", problem=[unused.slug])[unused.slug] == "Teacher shortage"


def test_sorting_and_pages(corpus):
    newest = search.search(ANONYMOUS, "", sort="newest", per_page=100)
    rows = search.cases_in_order(ANONYMOUS, newest.ids)
    assert [r.updated_at for r in rows] == sorted((r.updated_at for r in rows), reverse=True)
    titles = [r.title.casefold() for r in
              search.cases_in_order(
                  ANONYMOUS, search.search(ANONYMOUS, "", sort="title", per_page=100).ids)]
    assert titles == sorted(titles)
    pages = [search.search(ANONYMOUS, "employers", page=p, per_page=5) for p in (1, 2, 3)]
    seen = [i for page in pages for i in page.ids]
    assert len(seen) == len(set(seen))
    assert pages[0].has_next and not pages[0].has_prev


def test_bad_filters_pages_and_sorts_are_tolerated(corpus):
    total = search.search(ANONYMOUS, "").total
    result = search.search(ANONYMOUS, "", {"colour": ["red"], "city": ["", "x" * 500, 7]},
                           sort="cheapest", page=10**9, per_page=10**6)
    assert result.total == total and result.sort == "relevance"
    assert result.page == result.pages and result.per_page == search.MAX_PER_PAGE
    assert search.search(ANONYMOUS, "", {"city": ["atlantis"]}).total == 0
    assert search.search(ANONYMOUS, "", page="two").page == 1


# Highlights ------------------------------------------------------------------

def test_highlights_are_escaped_markup_from_the_field_that_matched(taxonomy, users):
    case_id = write_case(users["member"], taxonomy, title="<script>alert(1)</script> nurses",
                         summary="A summary without the word.",
                         outcomes="Graduates found jobs as <b>nurses</b> & midwives.").id
    result = search.search(ANONYMOUS, "nurses")
    hit = result.highlights[case_id]
    assert isinstance(hit.title, Markup) and isinstance(hit.snippet, Markup)
    assert "&lt;script&gt;" in hit.title and "<script>" not in hit.title
    assert '<mark class="match term0">nurses</mark>' in hit.title
    assert hit.field == "outcomes"
    assert "&lt;b&gt;<mark" in hit.snippet and "&amp; midwives" in hit.snippet


def test_no_highlights_when_browsing(taxonomy, users):
    write_case(users["member"], taxonomy)
    assert search.search(ANONYMOUS, "").highlights == {}


# Case pages ------------------------------------------------------------------

def test_similar_cases_come_from_other_cities(taxonomy, users):
    toronto, seoul = taxonomy["cities"]["toronto"], taxonomy["cities"]["seoul"]
    base = write_case(users["member"], taxonomy, title="Hospital apprenticeships for nurses",
                      body="Nurses train in hospital wards with mentors.", city_id=toronto).id
    same_city = write_case(users["member"], taxonomy, title="Hospital nurses mentoring",
                           body="Nurses and mentors in hospital wards.", city_id=toronto).id
    similar = write_case(users["member"], taxonomy, title="Nurses in hospital wards",
                         body="Mentors guide nurses in hospital wards.", city_id=seoul).id
    draft = write_case(users["member"], taxonomy, publish=False, title="Hospital nurses draft",
                       body="Nurses in hospital wards with mentors.", city_id=seoul).id
    unrelated = write_case(users["member"], taxonomy, title="Coding bootcamp",
                           body="Software for adults.", city_id=seoul).id
    anonymous = search.similar_cases(ANONYMOUS, base)
    assert anonymous[0] == similar
    assert same_city not in anonymous and base not in anonymous and draft not in anonymous
    assert unrelated not in anonymous
    assert draft in search.similar_cases(policy.case_visibility(users["member"]), base)
    assert search.similar_cases(ANONYMOUS, draft) == []  # a draft the visitor may not see
    assert search.similar_cases(ANONYMOUS, 10**12) == []


def test_other_cities_working_on_the_problems(taxonomy, users):
    wbl, guidance = (taxonomy["problems"]["work-based-learning"],
                     taxonomy["problems"]["career-guidance"])
    toronto, seoul = taxonomy["cities"]["toronto"], taxonomy["cities"]["seoul"]
    base = write_case(users["member"], taxonomy, city_id=toronto, problem_ids=[wbl, guidance]).id
    write_case(users["member"], taxonomy, city_id=toronto, problem_ids=[wbl])
    one = write_case(users["member"], taxonomy, city_id=seoul, problem_ids=[wbl]).id
    both = write_case(users["member"], taxonomy, city_id=seoul, problem_ids=[wbl, guidance]).id
    write_case(users["member"], taxonomy, city_id=seoul, problem_ids=[wbl], publish=False)
    groups = search.other_cities_on_problems(ANONYMOUS, base)
    assert [(g.city, g.case_ids) for g in groups] == [("seoul", [both, one])]
