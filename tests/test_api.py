"""The JSON API's endpoints through HTTP: what they return, what they change, what they refuse.

Authentication and CSRF are tested in test_api_auth.py, the OpenAPI
document and schemathesis in test_api_openapi.py, and who may call what in
the authorization table (test_authorization.py).
"""

from __future__ import annotations

import pytest
from factories import write_case
from instances import seed
from clients import bearer, field_errors, problem
from sqlalchemy import func, select

from kb.api import schemas
from kb.extensions import db
from kb.models import CaseStatus, CaseStudy, ReviewEvent, Revision, User
from kb.services import case_studies

NEW_CASE = {
    "title": "Employer-led apprenticeships",
    "summary": "Students spend two days a week with an employer.",
    "city": "toronto",
    "education_level": "upper_secondary",
    "problems": ["work-based-learning"],
    "contexts": ["public-funding", "large-system"],
    "body": "Illustrative **sample** data.",
    "year_start": 2018,
    "evidence_level": "correlational",
    "sources": [{"label": "Report", "url": "https://example.org/report"}],
    "message": "First written through the API",
}


@seed("taxonomy", "people")
def corpus(taxonomy, people):
    """``member``'s draft and two published case studies (Toronto, Seoul); their slugs."""
    member = db.session.get(User, people["member"])
    draft = write_case(member, taxonomy, title="Draft on apprenticeship mentors",
                       summary="A summary.", publish=False)
    toronto = write_case(member, taxonomy, title="Apprenticeship hubs",
                         summary="Hubs place apprentices with <employers> & unions.")
    seoul = write_case(db.session.get(User, people["other_member"]), taxonomy,
                       title="Career counselling in Seoul", summary="A summary.", city="seoul",
                       problems=("career-guidance",))
    return {"draft": draft.slug, "toronto": toronto.slug, "seoul": seoul.slug}


def count_cases(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(CaseStudy))


# -- listing ------------------------------------------------------------------

def test_list_shows_what_the_caller_may_see(app, client, corpus, people):
    anonymous = client.get("/api/v1/cases").get_json()
    assert {item["slug"] for item in anonymous["items"]} == {corpus["toronto"], corpus["seoul"]}
    assert anonymous["total"] == 2 and anonymous["pages"] == 1

    own = client.get("/api/v1/cases", headers=bearer(app, people["member"])).get_json()
    assert corpus["draft"] in {item["slug"] for item in own["items"]}
    draft = next(item for item in own["items"] if item["slug"] == corpus["draft"])
    assert draft["status"] == "draft" and draft["url"] == f"/api/v1/cases/{corpus['draft']}"
    assert draft["city"] == {"slug": "toronto", "name": "Toronto", "country": "Canada",
                             "url": "/api/v1/cities/toronto"}


def test_list_filters_sorts_and_pages_like_the_search_page(client, corpus):
    seoul = client.get("/api/v1/cases?city=seoul").get_json()
    assert [item["slug"] for item in seoul["items"]] == [corpus["seoul"]]
    either = client.get("/api/v1/cases?problem=career-guidance&problem=work-based-learning")
    assert either.get_json()["total"] == 2
    assert client.get("/api/v1/cases?city=seoul&problem=work-based-learning").get_json()["total"] == 0

    by_title = client.get("/api/v1/cases?sort=title").get_json()
    assert [item["title"] for item in by_title["items"]] == ["Apprenticeship hubs",
                                                            "Career counselling in Seoul"]
    second = client.get("/api/v1/cases?sort=title&per_page=1&page=2").get_json()
    assert second["page"] == 2 and second["pages"] == 2 and second["per_page"] == 1
    assert [item["title"] for item in second["items"]] == ["Career counselling in Seoul"]


@pytest.mark.parametrize("query, field", [
    ("page=0", "page"),
    ("page=two", "page"),
    ("page=2.5", "page"),
    ("per_page=101", "per_page"),
    ("sort=relevance", "sort"),
    ("evidence=anecdotal", "evidence.0"),
    ("year=20x1", "year.0"),
    ("city=" + "x" * 101, "city.0"),
    ("page=1&page=2", "page"),
])
def test_list_refuses_bad_parameters_by_name(client, corpus, query, field):
    body = problem(client.get(f"/api/v1/cases?{query}"), 400)
    assert body["type"] == "/api/v1/docs#problem-validation"
    assert field in field_errors(body)


# -- reading ------------------------------------------------------------------

def test_a_case_study_has_every_field_and_working_links(app, client, auth, corpus, people):
    headers = bearer(app, people["member"])
    created = client.post("/api/v1/cases", json=NEW_CASE, headers=headers).get_json()

    case = client.get(created["url"], headers=headers).get_json()

    assert case["title"] == NEW_CASE["title"] and case["body"] == NEW_CASE["body"]
    assert [c["slug"] for c in case["contexts"]] == ["large-system", "public-funding"]
    assert case["contexts"][1]["kind"] == "funding"
    assert case["sources"] == [{"label": "Report", "url": "https://example.org/report"}]
    assert case["year_start"] == 2018 and case["year_end"] is None
    assert case["evidence_level"] == "correlational" and case["language"] == "en"
    assert case["author"] == {"name": "Test member"} and case["pending_edit"] is None
    for url in (case["city"]["url"], case["problems"][0]["url"], case["contexts"][0]["url"]):
        assert client.get(url, headers=headers).status_code == 200, url
    # The site's pages know the session, not API tokens: the draft is for its author.
    assert client.get(case["html_url"], headers=headers).status_code == 404
    auth.login_as(app, people["member"])
    for url in (case["html_url"], *case["citations"].values()):
        assert client.get(url).status_code == 200, url


def test_a_draft_does_not_exist_for_others(app, client, corpus, people):
    problem(client.get(f"/api/v1/cases/{corpus['draft']}"), 404)
    problem(client.get(f"/api/v1/cases/{corpus['draft']}",
                       headers=bearer(app, people["other_member"])), 404)
    assert client.get(f"/api/v1/cases/{corpus['draft']}",
                      headers=bearer(app, people["facilitator"])).status_code == 200


@pytest.mark.parametrize("slug", ["no-such-case", "x" * 300, "bad%00slug", "%E2%80%AE"])
def test_unknown_slugs_are_404_problems(client, corpus, slug):
    problem(client.get(f"/api/v1/cases/{slug}"), 404)


# -- creating -----------------------------------------------------------------

def test_create_saves_a_draft_written_by_the_caller(app, client, taxonomy, people):
    response = client.post("/api/v1/cases", json={**NEW_CASE, "title": "  Apprenticeships\x00 "},
                           headers=bearer(app, people["member"]))

    assert response.status_code == 201
    created = response.get_json()
    assert response.headers["Location"] == created["url"] == "/api/v1/cases/apprenticeships"
    assert created["title"] == "Apprenticeships"  # cleaned like the form's text
    assert created["status"] == "draft" and created["version"] == 1
    with app.app_context():
        case = db.session.scalar(select(CaseStudy).where(CaseStudy.slug == "apprenticeships"))
        assert case.author_id == people["member"] and case.status is CaseStatus.DRAFT
        revision = db.session.scalar(select(Revision).where(Revision.case_study_id == case.id))
        assert revision.message == "First written through the API"
    # Indexed after the commit, like a case study saved by the form.
    found = client.get("/api/v1/search?q=apprenticeships", headers=bearer(app, people["member"]))
    assert [item["slug"] for item in found.get_json()["items"]] == ["apprenticeships"]


@pytest.mark.parametrize("field, value, says", [
    ("status", "published", "through review"),
    ("author", "Someone else", "whoever creates"),
    ("author_id", 1, "whoever creates"),
    ("id", 99, "kb keeps this field"),
    ("slug", "chosen-slug", "made from the title"),
    ("version", 7, "starts at version 1"),
    ("published_at", "2020-01-01T00:00:00Z", "curator publishes"),
])
def test_create_refuses_fields_kb_keeps_and_applies_nothing(app, client, taxonomy, people,
                                                            field, value, says):
    before = count_cases(app)

    response = client.post("/api/v1/cases", json={**NEW_CASE, field: value},
                           headers=bearer(app, people["member"]))

    body = problem(response, 422)
    errors = field_errors(body)
    assert list(errors) == [field] and says in errors[field][0]
    assert body["errors"][0]["pointer"] == f"#/{field}"
    assert count_cases(app) == before


@pytest.mark.parametrize("changes, field", [
    ({"title": None}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "x" * 301}, "title"),
    ({"year_start": "2018"}, "year_start"),  # strict: a number, not a string
    ({"year_start": 1899}, "year_start"),
    ({"problems": []}, "problems"),
    ({"education_level": "primary"}, "education_level"),
    ({"sources": [{"label": "x", "url": "javascript:alert(1)"}]}, "sources.0.url"),
    ({"colour": "blue"}, "colour"),
    ({"city": "atlantis"}, "city"),
    ({"problems": ["work-based-learning", "no-such-problem"]}, "problems"),
    ({"problems": ["old-term"]}, "problems"),  # retired terms cannot be added
    ({"year_start": 2020, "year_end": 2019}, "year_end"),
])
def test_create_reports_each_invalid_field(app, client, taxonomy, people, changes, field):
    body = problem(client.post("/api/v1/cases", json={**NEW_CASE, **changes},
                               headers=bearer(app, people["member"])), 422)
    assert body["type"] == "/api/v1/docs#problem-validation"
    assert field in field_errors(body), body


def test_a_body_that_is_not_json_is_refused(app, client, taxonomy, people):
    headers = bearer(app, people["member"])
    body = problem(client.post("/api/v1/cases", data="{not json", headers=headers,
                               content_type="application/json"), 400)
    assert "not valid JSON" in body["detail"]
    problem(client.post("/api/v1/cases", data={"title": "A form"}, headers=headers), 415)
    problem(client.post("/api/v1/cases", json=["a", "list"], headers=headers), 422)
    problem(client.post("/api/v1/cases", data=b"\xff\xfe", headers=headers,
                        content_type="application/json"), 400)


def test_a_body_over_the_size_limit_is_a_413_problem(app, client, taxonomy, people):
    headers = bearer(app, people["member"])
    app.config["MAX_CONTENT_LENGTH"] = 1_000
    problem(client.post("/api/v1/cases", json={**NEW_CASE, "body": "x" * 2_000},
                        headers=headers), 413)


# -- updating -----------------------------------------------------------------

def test_an_update_changes_only_the_fields_sent(app, client, corpus, people):
    headers = bearer(app, people["member"])
    url = f"/api/v1/cases/{corpus['draft']}"

    response = client.patch(url, json={"version": 1, "summary": "A new summary.",
                                       "problems": ["career-guidance"], "message": "Refocused"},
                            headers=headers)

    assert response.status_code == 200
    case = response.get_json()
    assert case["summary"] == "A new summary." and case["version"] == 2
    assert case["title"] == "Draft on apprenticeship mentors"
    assert [p["slug"] for p in case["problems"]] == ["career-guidance"]
    cleared = client.patch(url, json={"version": 2, "year_start": 2015}, headers=headers).get_json()
    assert cleared["year_start"] == 2015 and cleared["summary"] == "A new summary."
    assert client.patch(url, json={"version": 3, "year_start": None},
                        headers=headers).get_json()["year_start"] is None


def test_an_update_from_an_old_version_is_refused(app, client, corpus, people):
    headers = bearer(app, people["member"])
    url = f"/api/v1/cases/{corpus['draft']}"
    client.patch(url, json={"version": 1, "summary": "Saved first."}, headers=headers)

    body = problem(client.patch(url, json={"version": 1, "summary": "Saved second."},
                                headers=headers), 409)

    assert body["type"] == "/api/v1/docs#problem-stale-version"
    assert client.get(url, headers=headers).get_json()["summary"] == "Saved first."


@pytest.mark.parametrize("changes, field", [
    ({"status": "published"}, "status"),
    ({"author": "Someone"}, "author"),
    ({"slug": "new-address"}, "slug"),
    ({"title": None}, "title"),
    ({}, "version"),
    ({"version": 0}, "version"),
])
def test_an_update_refuses_fields_kb_keeps(app, client, corpus, people, changes, field):
    headers = bearer(app, people["member"])
    url = f"/api/v1/cases/{corpus['draft']}"
    body = problem(client.patch(url, json={"version": 1, **changes} if "version" not in changes
                                and changes else changes, headers=headers), 422)
    assert field in field_errors(body)
    case = client.get(url, headers=headers).get_json()
    assert case["status"] == "draft" and case["version"] == 1 and case["slug"] == corpus["draft"]


def test_an_update_of_a_published_case_study_waits_for_review(app, client, corpus, people):
    url = f"/api/v1/cases/{corpus['toronto']}"
    headers = bearer(app, people["member"])

    response = client.patch(url, json={"version": 1, "summary": "Proposed wording."},
                            headers=headers)

    assert response.status_code == 202
    case = response.get_json()
    assert case["summary"] != "Proposed wording." and case["version"] == 1
    assert case["pending_edit"]["version"] == 2 and case["pending_edit"]["status"] == "submitted"
    # The public sees the published version, and nothing of the review.
    public = client.get(url).get_json()
    assert public["summary"] == case["summary"] and public["pending_edit"] is None


# -- submitting ---------------------------------------------------------------

def test_the_author_submits_a_draft_for_review(app, client, corpus, people):
    url = f"/api/v1/cases/{corpus['draft']}/submit"
    problem(client.post(url, json={}, headers=bearer(app, people["facilitator"])), 403)

    author = bearer(app, people["member"])
    response = client.post(url, json={"comment": "Ready for a look."}, headers=author)

    assert response.status_code == 200 and response.get_json()["status"] == "submitted"
    with app.app_context():
        event = db.session.scalar(select(ReviewEvent).order_by(ReviewEvent.id.desc()))
        assert event.comment == "Ready for a look." and event.to_state is CaseStatus.SUBMITTED
    assert "cannot be submitted" in problem(client.post(url, headers=author), 409)["detail"]


def test_a_submission_needs_no_body(app, client, corpus, people):
    response = client.post(f"/api/v1/cases/{corpus['draft']}/submit",
                           headers=bearer(app, people["member"]))
    assert response.status_code == 200


# -- search -------------------------------------------------------------------

def test_search_returns_ranked_hits_facets_and_escaped_highlights(client, corpus):
    results = client.get("/api/v1/search?q=employers").get_json()

    assert [item["slug"] for item in results["items"]] == [corpus["toronto"]]
    snippet = results["items"][0]["highlight"]["snippet"]
    assert '<mark class="match term0">employers</mark>' in snippet
    assert "&lt;" in snippet and "&amp;" in snippet  # the text around matches is escaped
    cities = {facet["value"]: facet for facet in results["facets"]["city"]}
    assert cities["toronto"]["count"] == 1 and cities["toronto"]["label"] == "Toronto"


def test_search_counts_each_facet_under_the_other_filters(client, corpus):
    results = client.get("/api/v1/search?city=seoul").get_json()
    assert results["total"] == 1 and results["filters"] == {"city": ["seoul"]}
    cities = {facet["value"]: facet for facet in results["facets"]["city"]}
    assert cities["seoul"]["selected"] and cities["toronto"]["count"] == 1
    problems = {facet["value"] for facet in results["facets"]["problem"]}
    assert problems == {"career-guidance"}


def test_search_offers_a_suggestion_and_notices(client, corpus):
    results = client.get("/api/v1/search?q=aprenticeship").get_json()
    assert results["total"] == 0 and results["suggestion"]


def test_search_refuses_bad_parameters(client, corpus):
    assert "q" in field_errors(problem(client.get("/api/v1/search?q=" + "x" * 1001), 400))
    assert "sort" in field_errors(problem(client.get("/api/v1/search?sort=random"), 400))


# -- vocabularies, cities, the caller ------------------------------------------

def test_vocabularies_list_every_term_with_published_counts(client, corpus):
    problems = {term["slug"]: term for term in client.get("/api/v1/problems").get_json()["items"]}
    assert problems["work-based-learning"]["published_cases"] == 1
    assert problems["old-term"]["retired"] is True
    assert problems["career-guidance"]["cases_url"] == "/api/v1/cases?problem=career-guidance"
    contexts = client.get("/api/v1/contexts").get_json()["items"]
    assert {(c["slug"], c["kind"]) for c in contexts} >= {("public-funding", "funding")}

    term = client.get("/api/v1/contexts/large-system").get_json()
    assert term["kind_label"] == "Scale" and term["html_url"] == "/contexts/large-system"
    problem(client.get("/api/v1/problems/no-such-term"), 404)


def test_cities_carry_their_profile_under_the_fixed_headings(client, corpus):
    cities = client.get("/api/v1/cities").get_json()["items"]
    assert [city["slug"] for city in cities] == ["seoul", "toronto"]
    toronto = client.get("/api/v1/cities/toronto").get_json()
    assert toronto["published_cases"] == 1
    assert [section["key"] for section in toronto["profile"]][:2] == ["governance", "funding"]
    assert toronto["profile"][0] == {"key": "governance",
                                     "heading": "Governance and decision-making",
                                     "text": "Elected school board"}
    assert client.get(toronto["cases_url"]).get_json()["total"] == 1


def test_me_says_who_the_request_acts_for(app, client, auth, people, taxonomy):
    problem(client.get("/api/v1/me"), 401)
    by_token = client.get("/api/v1/me", headers=bearer(app, people["researcher"])).get_json()
    assert by_token == {"name": "Test researcher", "email": "researcher@example.org",
                        "role": "researcher", "city": None, "authenticated_by": "token"}
    auth.login_as(app, people["member"])
    by_session = client.get("/api/v1/me").get_json()
    assert by_session["authenticated_by"] == "session" and by_session["city"]["slug"] == "toronto"


# -- errors -------------------------------------------------------------------

def test_unknown_addresses_and_methods_are_problems(client, corpus):
    assert problem(client.get("/api/v1/nothing-here"), 404)["instance"] == "/api/v1/nothing-here"
    response = client.delete(f"/api/v1/cases/{corpus['toronto']}")
    problem(response, 405)
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "PATCH"}
    # The site's own pages keep their HTML error pages.
    assert client.get("/no-such-page").mimetype == "text/html"


def test_an_unexpected_error_is_a_500_problem(app, client, corpus, monkeypatch):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(case_studies, "get_case", broken)
    body = problem(client.get(f"/api/v1/cases/{corpus['toronto']}"), 500)
    assert "boom" not in body["detail"]


def test_the_case_schema_is_filled_from_a_row(app, corpus):
    # Every field of the response model is set from the row: none is left at a default.
    with app.test_request_context(), app.app_context():
        case = db.session.scalar(select(CaseStudy).where(CaseStudy.slug == corpus["toronto"]))
        detail = schemas.case_detail(case, None)
    assert detail.model_fields_set == set(schemas.CaseDetail.model_fields)


# -- collections --------------------------------------------------------------

def test_a_collection_is_made_filled_and_read(app, client, corpus, people):
    owner = bearer(app, people["member"])
    made = client.post("/api/v1/collections", json={"title": "Apprenticeship briefing",
                                                     "introduction": "For the *June* meeting.",
                                                     "visibility": "public"}, headers=owner)
    assert made.status_code == 201
    url = made.headers["Location"]
    assert url == made.get_json()["url"] == "/api/v1/collections/apprenticeship-briefing"

    filled = client.post(f"{url}/cases", json={"cases": [corpus["seoul"], corpus["draft"]]},
                         headers=owner)

    assert filled.status_code == 200
    assert [item["case"]["slug"] for item in filled.get_json()["items"]] == [corpus["seoul"],
                                                                            corpus["draft"]]
    public = client.get(url).get_json()
    # The draft stays the owner's to see.
    assert [item["case"]["slug"] for item in public["items"]] == [corpus["seoul"]]
    assert public["case_count"] == 1 and public["owner"] == {"name": "Test member"}
    assert public["items"][0]["position"] == 1 and public["introduction"] == "For the *June* meeting."
    shared = client.get("/api/v1/collections").get_json()
    assert [c["slug"] for c in shared["items"]] == ["apprenticeship-briefing"]


def test_collections_refuse_what_their_pages_refuse(app, client, corpus, people):
    owner = bearer(app, people["member"])
    url = client.post("/api/v1/collections", json={"title": "Mine"}, headers=owner).headers["Location"]
    problem(client.get(url), 404)  # private
    problem(client.post(f"{url}/cases", json={"cases": [corpus["seoul"]]},
                        headers=bearer(app, people["admin"])), 404)
    errors = field_errors(problem(client.post(f"{url}/cases", json={"cases": ["no-such-case"]},
                                              headers=owner), 422))
    assert "no-such-case" in errors["cases"][0]
    assert "featured" in field_errors(problem(client.post(
        "/api/v1/collections", json={"title": "Star", "featured": True}, headers=owner), 422))
    problem(client.get("/api/v1/collections?scope=mine"), 401)
    mine = client.get("/api/v1/collections?scope=mine&per_page=1&page=9", headers=owner).get_json()
    assert mine["total"] == 1 and mine["page"] == 1 and mine["items"][0]["visibility"] == "private"


# -- adaptations --------------------------------------------------------------

def test_an_adaptation_is_recorded_and_listed_from_both_ends(app, client, corpus, people):
    author = bearer(app, people["other_member"])  # writes the Seoul case study
    response = client.post(f"/api/v1/cases/{corpus['seoul']}/adaptations", headers=author, json={
        "source": corpus["toronto"], "kind": "adapted", "kept": "Employer hubs.",
        "changed": "Run by the *district*.", "reasons": "Smaller firms."})

    assert response.status_code == 201
    link = response.get_json()
    assert response.headers["Location"] == link["url"] == f"/api/v1/adaptations/{link['id']}"
    assert link["source"]["slug"] == corpus["toronto"] and link["adapting"]["slug"] == corpus["seoul"]
    assert link["kind_label"] == "Adapted" and link["author"] == {"name": "Other member"}
    from_toronto = client.get(f"/api/v1/cases/{corpus['toronto']}/adaptations").get_json()
    assert [a["adapting"]["slug"] for a in from_toronto["adapted_by"]] == [corpus["seoul"]]
    assert client.get(link["url"]).get_json()["changed"] == "Run by the *district*."


def test_adaptations_refuse_what_their_pages_refuse(app, client, corpus, people):
    seoul = f"/api/v1/cases/{corpus['seoul']}/adaptations"
    author = bearer(app, people["other_member"])
    problem(client.post(seoul, json={"source": corpus["toronto"], "kind": "adopted"},
                        headers=bearer(app, people["member"])), 403)
    for source, field in ((corpus["seoul"], "source"), ("no-such-case", "source"),
                          (corpus["draft"], "source")):  # a draft they may not see
        errors = field_errors(problem(client.post(seoul, json={"source": source, "kind": "adopted"},
                                                  headers=author), 422))
        assert field in errors
    assert client.post(seoul, json={"source": corpus["toronto"], "kind": "adopted"},
                       headers=author).status_code == 201
    problem(client.post(seoul, json={"source": corpus["toronto"], "kind": "adopted"},
                        headers=author), 409)
    # Toronto cannot now adapt Seoul: it would descend from itself.
    problem(client.post(f"/api/v1/cases/{corpus['toronto']}/adaptations", headers=bearer(
        app, people["member"]), json={"source": corpus["seoul"], "kind": "adopted"}), 409)
    problem(client.get("/api/v1/adaptations/2147483648"), 404)
