"""The search page over HTTP: query, facets, sorting, paging, snippets, hostile input."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from instances import seed

from kb.extensions import db
from kb.models import User
from kb.services import case_studies, review


def _make_case(app, author_id, city_id, problem_id, title, summary, body="", publish=True,
               language="en"):
    with app.app_context():
        author = db.session.get(User, author_id)
        case = case_studies.create_case(author, case_studies.CaseInput(
            title=title, summary=summary, city_id=city_id, education_level="upper_secondary",
            body=body, language=language, problem_ids=[problem_id],
        ))
        if publish:
            review.publish_as_system(case)
        db.session.commit()
        return case.slug


@seed("taxonomy", "people")
def corpus(app, taxonomy, people):
    """Three published case studies in two cities and a member's draft; maps names to links."""
    cities, problems = taxonomy["cities"], taxonomy["problems"]
    wbl, guidance = problems["work-based-learning"], problems["career-guidance"]
    slugs = {
        "apprentices": _make_case(
            app, people["facilitator"], cities["toronto"], wbl, "Apprenticeships with employers",
            "Students learn a trade in paid apprenticeships.", "Employers mentor apprentices."),
        "meister": _make_case(
            app, people["facilitator"], cities["seoul"], wbl, "Meister high schools",
            "Industry-led schools train technicians.",
            "Companies co-design the curriculum and employers host apprentices."),
        "korean": _make_case(
            app, people["facilitator"], cities["seoul"], guidance, "진로 상담 프로그램",
            "학생들의 진로 상담을 지원합니다.", language="ko"),
        "draft": _make_case(
            app, people["member"], cities["toronto"], guidance, "Secret guidance draft",
            "Not yet published apprenticeships.", publish=False),
    }
    return {name: f'href="/cases/{quote(slug)}"' for name, slug in slugs.items()}


def test_plain_words_find_and_rank(client, corpus):
    page = client.get("/search?q=apprenticeships").get_data(as_text=True)
    assert corpus["apprentices"] in page
    assert corpus["meister"] not in page
    assert corpus["draft"] not in page
    assert '<mark class="match term0">Apprenticeships</mark> with employers' in page


def test_facets_filter_and_count(client, corpus):
    page = client.get("/search?city=seoul").get_data(as_text=True)
    assert corpus["meister"] in page and corpus["korean"] in page
    assert corpus["apprentices"] not in page
    assert "2 case studies" in page
    assert "Toronto <span class=\"count\">(1)</span>" in page  # counts ignore the facet's own filter
    both = client.get("/search?city=seoul&problem=work-based-learning").get_data(as_text=True)
    assert "1 case study" in both and corpus["meister"] in both


def test_empty_query_browses_everything_visible(client, corpus):
    page = client.get("/search").get_data(as_text=True)
    assert "3 case studies" in page
    assert "Toronto" in page and "Seoul" in page


def test_draft_visible_to_its_author_only(app, client, auth, corpus, people):
    auth.login_as(app, people["member"])
    assert corpus["draft"] in client.get("/search?q=apprenticeships").get_data(as_text=True)
    auth.logout()
    auth.login_as(app, people["other_member"])
    assert corpus["draft"] not in client.get("/search?q=apprenticeships").get_data(as_text=True)


def test_korean_query_finds_word_inside_run(client, corpus):
    page = client.get("/search?q=상담").get_data(as_text=True)
    assert corpus["korean"] in page and corpus["meister"] not in page


def test_snippet_is_highlighted_and_escaped(app, client, taxonomy, people):
    _make_case(app, people["facilitator"], taxonomy["cities"]["toronto"],
               taxonomy["problems"]["career-guidance"], "Mentoring <img src=x onerror=alert(1)>",
               "Mentoring students <script>alert(1)</script> into careers.")
    page = client.get("/search?q=mentoring").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;" in page


def test_sort_and_pagination_links_keep_the_query(app, client, taxonomy, people):
    for n in range(25):
        _make_case(app, people["facilitator"], taxonomy["cities"]["toronto"],
                   taxonomy["problems"]["career-guidance"], f"Guidance model {n:02d}",
                   "Career guidance in schools.")
    page = client.get("/search?q=guidance&sort=title").get_data(as_text=True)
    assert "Page 1 of 2" in page
    assert "page=2" in page and "sort=title" in page
    assert page.index('href="/cases/guidance-model-00"') < page.index('href="/cases/guidance-model-01"')
    second = client.get("/search?q=guidance&sort=title&page=2").get_data(as_text=True)
    assert 'href="/cases/guidance-model-24"' in second
    assert 'href="/cases/guidance-model-00"' not in second


@pytest.mark.parametrize("q", ["(((", "title:", "*", '"', "x" * 5000, "\x00\x01\x1b", "' OR 1=1 --",
                               "NOT", "AND OR", "city:", "-", "year:[1 TO"])
def test_hostile_queries_render_a_page(client, corpus, q):
    response = client.get("/search", query_string={"q": q, "page": "99999999999999999999999",
                                                   "city": ["x" * 500, "toronto"], "sort": "<b>"})
    assert response.status_code == 200
    assert "Search case studies" in response.get_data(as_text=True)


def test_invalid_utf8_in_the_query_string(client, corpus):
    response = client.get("/search?q=%ff%fe%ED%A0%80&city=%c3")
    assert response.status_code == 200


def test_case_page_shows_similar_practice_in_other_cities(client, corpus):
    page = client.get(corpus["apprentices"][6:-1]).get_data(as_text=True)
    similar = page[page.index('id="similar-heading"'):page.index('id="other-cities-heading"')]
    assert corpus["meister"] in similar and '<span class="meta">Seoul</span>' in similar
    others = page[page.index('id="other-cities-heading"'):]
    assert '<a href="/cities/seoul">Seoul</a>:' in others and corpus["meister"] in others
    assert corpus["korean"] not in others  # a different problem of practice
