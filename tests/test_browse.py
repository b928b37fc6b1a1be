"""The search page over HTTP: query, facets, sorting, paging, snippets, hostile input."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from factories import write_case, write_case_in
from instances import seed

from kb.extensions import db
from kb.models import User


@seed("taxonomy", "people")
def corpus(taxonomy, people):
    """Three published case studies in two cities and a member's draft; maps names to links."""
    facilitator = db.session.get(User, people["facilitator"])
    guidance = ("career-guidance",)
    written = {
        "apprentices": write_case(
            facilitator, taxonomy, title="Apprenticeships with employers",
            summary="Students learn a trade in paid apprenticeships.",
            body="Employers mentor apprentices."),
        "meister": write_case(
            facilitator, taxonomy, city="seoul", title="Meister high schools",
            summary="Industry-led schools train technicians.",
            body="Companies co-design the curriculum and employers host apprentices."),
        "korean": write_case(
            facilitator, taxonomy, city="seoul", problems=guidance, title="진로 상담 프로그램",
            summary="학생들의 진로 상담을 지원합니다.", body="", language="ko"),
        "draft": write_case(
            db.session.get(User, people["member"]), taxonomy, problems=guidance,
            title="Secret guidance draft", summary="Not yet published apprenticeships.", body="",
            publish=False),
    }
    return {name: f'href="/cases/{quote(case.slug)}"' for name, case in written.items()}


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
    write_case_in(app, people["facilitator"], taxonomy, problems=("career-guidance",),
                  title="Mentoring <img src=x onerror=alert(1)>",
                  summary="Mentoring students <script>alert(1)</script> into careers.")
    page = client.get("/search?q=mentoring").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;" in page


def test_sort_and_pagination_links_keep_the_query(app, client, taxonomy, people):
    for n in range(25):
        write_case_in(app, people["facilitator"], taxonomy, problems=("career-guidance",),
                      title=f"Guidance model {n:02d}", summary="Career guidance in schools.")
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
