"""Problems of practice and adaptation contexts: public pages, curation and their services."""

from __future__ import annotations

import re

import pytest
from change_log import last_seq, logged_since
from factories import case_input, write_case
from instances import seed

from kb.errors import Conflict, PermissionDenied, ValidationError
from kb.extensions import db
from kb.models import (
    AdaptationContext,
    ChangeOperation,
    CaseStudy,
    ContextKind,
    ProblemOfPractice,
    User,
)
from kb.services import case_studies, vocabularies
from kb.services.vocabularies import TermInput


def problem_slugs(app, case_id: int) -> list[str]:
    """The slugs of a case study's problems of practice, as stored."""
    with app.app_context():
        return [p.slug for p in db.session.get(CaseStudy, case_id).problems]


@seed("taxonomy", "people")
def cases(taxonomy, people):
    """Published case studies in Toronto and Seoul, a Toronto draft, and a career-guidance one."""
    member, other = as_user(people["member"]), as_user(people["other_member"])
    return {
        "toronto": write_case(member, taxonomy, title="Toronto apprenticeships",
                              problems=("work-based-learning", "career-guidance"),
                              contexts=("public-funding",)).id,
        "seoul": write_case(member, taxonomy, title="Seoul Meister schools", city="seoul").id,
        "draft": write_case(other, taxonomy, title="Unfinished draft", publish=False).id,
        "guidance": write_case(member, taxonomy, title="Seoul career counsellors", city="seoul",
                               problems=("career-guidance",)).id,
    }


def as_user(user_id: int) -> User:
    """The user with ``user_id``; call inside an app context."""
    return db.session.get(User, user_id)


def active_slugs(model=ProblemOfPractice) -> list[str]:
    """Slugs of the terms offered for new case studies; call inside an app context."""
    return [term.slug for term in vocabularies.active_terms(model)]


# -- services ---------------------------------------------------------------

def test_active_terms_leave_out_retired_ones(app_ctx, taxonomy):
    assert active_slugs() == ["career-guidance", "work-based-learning"]


def test_retired_term_is_not_offered_but_stays_on_old_cases(app, people, cases, taxonomy):
    with app.app_context():
        facilitator = as_user(people["facilitator"])
        term = db.session.get(ProblemOfPractice, taxonomy["problems"]["career-guidance"])
        vocabularies.retire_term(facilitator, ProblemOfPractice, term)
        db.session.commit()
        assert "career-guidance" not in active_slugs()
    assert "career-guidance" in problem_slugs(app, cases["toronto"])
    with app.app_context():
        member = as_user(people["member"])
        with pytest.raises(ValidationError) as raised:
            case_studies.create_case(member, case_input(taxonomy, problems=("career-guidance",)))
        assert "problem_ids" in raised.value.errors


def test_restore_offers_the_term_again(app_ctx, taxonomy, people):
    facilitator = as_user(people["facilitator"])
    old = db.session.get(ProblemOfPractice, taxonomy["problems"]["old-term"])
    vocabularies.restore_term(facilitator, ProblemOfPractice, old)
    assert old in vocabularies.active_terms(ProblemOfPractice)
    with pytest.raises(Conflict):
        vocabularies.restore_term(facilitator, ProblemOfPractice, old)


def test_create_term_refuses_duplicate_names_and_slugs_whatever_the_case(app_ctx, taxonomy, people):
    facilitator = as_user(people["facilitator"])
    with pytest.raises(ValidationError) as raised:
        vocabularies.create_term(facilitator, ProblemOfPractice, TermInput(name="CAREER guidance"))
    assert "already called" in raised.value.errors["name"][0]
    assert "career-guidance" in raised.value.errors["slug"][0]
    with pytest.raises(ValidationError) as raised:
        vocabularies.create_term(facilitator, ProblemOfPractice,
                                 TermInput(name="Guidance", slug="Career-Guidance"))
    assert list(raised.value.errors) == ["slug"]


def test_names_are_compared_case_insensitively_beyond_ascii(app_ctx, taxonomy, people):
    facilitator = as_user(people["facilitator"])
    vocabularies.create_term(facilitator, ProblemOfPractice, TermInput(name="Équité", slug="equite"))
    with pytest.raises(ValidationError) as raised:
        vocabularies.create_term(facilitator, ProblemOfPractice,
                                 TermInput(name="éQUITÉ", slug="fairness"))
    assert list(raised.value.errors) == ["name"]


def test_create_term_derives_and_normalises_the_slug(app_ctx, taxonomy, people):
    facilitator = as_user(people["facilitator"])
    data = TermInput(name="  Teacher preparation for CTE ", description="x")
    term = vocabularies.create_term(facilitator, ProblemOfPractice, data)
    assert (term.name, term.slug, term.retired) == ("Teacher preparation for CTE",
                                                    "teacher-preparation-for-cte", False)
    chinese = vocabularies.create_term(facilitator, ProblemOfPractice, TermInput(name="职业教育"))
    assert chinese.slug == "职业教育"


@pytest.mark.parametrize("data, field", [
    (TermInput(name=""), "name"),
    (TermInput(name="x" * 121), "name"),
    (TermInput(name="Fine", slug="!!!"), "slug"),
    (TermInput(name="Fine", description="d" * 5_001), "description"),
])
def test_create_term_rejects_invalid_input(app_ctx, taxonomy, people, data, field):
    facilitator = as_user(people["facilitator"])
    with pytest.raises(ValidationError) as raised:
        vocabularies.create_term(facilitator, ProblemOfPractice, data)
    assert field in raised.value.errors


def test_contexts_need_a_valid_kind(app_ctx, taxonomy, people):
    facilitator = as_user(people["facilitator"])
    with pytest.raises(ValidationError) as raised:
        vocabularies.create_term(facilitator, AdaptationContext,
                                 TermInput(name="Dual system", kind="nope"))
    assert "kind" in raised.value.errors
    term = vocabularies.create_term(facilitator, AdaptationContext,
                                    TermInput(name="Dual system", kind="culture"))
    assert term.kind is ContextKind.CULTURE


@pytest.mark.parametrize("role", ["member", "researcher"])
def test_only_curators_change_vocabularies(app_ctx, taxonomy, people, role):
    user = as_user(people[role])
    term = db.session.get(ProblemOfPractice, taxonomy["problems"]["career-guidance"])
    with pytest.raises(PermissionDenied):
        vocabularies.create_term(user, ProblemOfPractice, TermInput(name="Anything"))
    with pytest.raises(PermissionDenied):
        vocabularies.retire_term(user, ProblemOfPractice, term)
    with pytest.raises(PermissionDenied):
        vocabularies.merge_term(user, ProblemOfPractice, term,
                                taxonomy["problems"]["work-based-learning"])
    with pytest.raises(PermissionDenied):
        vocabularies.curation_overview(user, ProblemOfPractice)


def test_rename_logs_every_affected_case_for_reindexing(app, people, cases, taxonomy):
    before = last_seq(app)
    with app.app_context():
        term = db.session.get(ProblemOfPractice, taxonomy["problems"]["career-guidance"])
        vocabularies.update_term(as_user(people["facilitator"]), ProblemOfPractice, term,
                                 TermInput(name="Careers guidance", slug="", description="New."))
        db.session.commit()
        assert term.slug == "careers-guidance"
    assert logged_since(app, before) == {
        (cases["toronto"], ChangeOperation.UPSERT), (cases["guidance"], ChangeOperation.UPSERT)
    }


def test_editing_only_the_description_logs_nothing(app, people, cases, taxonomy):
    before = last_seq(app)
    with app.app_context():
        term = db.session.get(ProblemOfPractice, taxonomy["problems"]["career-guidance"])
        vocabularies.update_term(as_user(people["facilitator"]), ProblemOfPractice, term,
                                 TermInput(name=term.name, slug=term.slug, description="Reworded."))
        db.session.commit()
    assert logged_since(app, before) == set()


def test_merge_moves_cases_without_duplicates_and_retires_the_source(app, people, cases, taxonomy):
    problems = taxonomy["problems"]
    before = last_seq(app)
    with app.app_context():
        source = db.session.get(ProblemOfPractice, problems["career-guidance"])
        target = vocabularies.merge_term(as_user(people["facilitator"]), ProblemOfPractice,
                                         source, problems["work-based-learning"])
        db.session.commit()
        assert target.id == problems["work-based-learning"]
        assert source.retired and source.merged_into_id == target.id
        assert source.case_studies == []
    # Toronto had both terms and keeps one; the guidance case moves over.
    assert problem_slugs(app, cases["toronto"]) == ["work-based-learning"]
    assert problem_slugs(app, cases["guidance"]) == ["work-based-learning"]
    assert logged_since(app, before) == {
        (cases["toronto"], ChangeOperation.UPSERT), (cases["guidance"], ChangeOperation.UPSERT)
    }


def test_merge_refuses_itself_retired_targets_and_missing_ones(app_ctx, taxonomy, people):
    problems = taxonomy["problems"]
    facilitator = as_user(people["facilitator"])
    source = db.session.get(ProblemOfPractice, problems["career-guidance"])
    for target_id in (problems["career-guidance"], problems["old-term"], 2**31, 2**62, None):
        with pytest.raises(ValidationError) as raised:
            vocabularies.merge_term(facilitator, ProblemOfPractice, source, target_id)
        assert "target_id" in raised.value.errors
    assert not source.retired


def test_merge_repoints_earlier_merges_and_refuses_merging_twice(app_ctx, taxonomy, people):
    problems = taxonomy["problems"]
    facilitator = as_user(people["facilitator"])
    first = db.session.get(ProblemOfPractice, problems["career-guidance"])
    middle = db.session.get(ProblemOfPractice, problems["work-based-learning"])
    last = vocabularies.create_term(facilitator, ProblemOfPractice, TermInput(name="Pathways"))
    vocabularies.merge_term(facilitator, ProblemOfPractice, first, middle.id)
    vocabularies.merge_term(facilitator, ProblemOfPractice, middle, last.id)
    assert first.merged_into is last
    with pytest.raises(Conflict):
        vocabularies.merge_term(facilitator, ProblemOfPractice, first, last.id)


def test_term_cases_follow_the_viewers_visibility(app, people, cases, taxonomy):
    with app.app_context():
        term = db.session.get(ProblemOfPractice, taxonomy["problems"]["work-based-learning"])
        anonymous = vocabularies.term_cases(None, ProblemOfPractice, term)
        curator = vocabularies.term_cases(as_user(people["facilitator"]), ProblemOfPractice, term)
        assert anonymous.page.total == 2
        assert curator.page.total == 3
        grouped = [(city.slug, len(group)) for city, group in curator.by_city]
        assert grouped == [("seoul", 1), ("toronto", 2)]


# -- public pages -------------------------------------------------------------

def test_problems_page_lists_active_terms_with_published_counts_and_retired_apart(client, cases):
    page = client.get("/problems").get_data(as_text=True)
    assert "<h1>Problems of practice</h1>" in page
    active, retired = page.split('id="retired-heading"')
    assert "Work-based learning" in active and "(2 published case studies)" in active
    assert "Career guidance" in active and "Learning in real workplaces." in active
    assert "Old term" in retired and "Old term" not in active


def test_problem_page_groups_cases_by_city_and_hides_drafts_from_anonymous(client, auth, app,
                                                                          people, cases):
    page = client.get("/problems/work-based-learning").get_data(as_text=True)
    assert "<h1>Work-based learning</h1>" in page
    assert page.index(">Seoul</a></h2>") < page.index("Seoul Meister schools")
    assert page.index(">Toronto</a></h2>") < page.index("Toronto apprenticeships")
    assert "Unfinished draft" not in page
    auth.login_as(app, people["facilitator"])
    page = client.get("/problems/work-based-learning").get_data(as_text=True)
    assert "Unfinished draft" in page
    assert "Edit this problem of practice" in page


def test_retired_problem_page_still_lists_its_cases(client, app, people, cases, taxonomy):
    with app.app_context():
        term = db.session.get(ProblemOfPractice, taxonomy["problems"]["career-guidance"])
        vocabularies.retire_term(as_user(people["facilitator"]), ProblemOfPractice, term)
        db.session.commit()
    page = client.get("/problems/career-guidance").get_data(as_text=True)
    assert "is retired" in page and "Seoul career counsellors" in page


def test_contexts_are_grouped_by_kind(client, cases):
    page = client.get("/contexts").get_data(as_text=True)
    order = [">Governance</h2>", "Centralised governance", ">Funding</h2>", "Public funding",
             ">Scale</h2>"]
    positions = [page.index(text) for text in order]
    assert positions == sorted(positions)
    assert "(1 published case study)" in page
    page = client.get("/contexts/public-funding").get_data(as_text=True)
    assert "Toronto apprenticeships" in page and "Funding" in page


def test_merged_term_url_redirects_permanently(client, app, people, cases, taxonomy):
    with app.app_context():
        source = db.session.get(AdaptationContext, taxonomy["contexts"]["large-system"])
        vocabularies.merge_term(as_user(people["facilitator"]), AdaptationContext, source,
                                taxonomy["contexts"]["public-funding"])
        db.session.commit()
    response = client.get("/contexts/large-system")
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/contexts/public-funding")
    assert "merged into" in client.get("/contexts").get_data(as_text=True)


@pytest.mark.parametrize("url", [
    "/problems/no-such-term",
    "/problems/" + "a" * 5_000,
    "/problems/bad%00slug",
    "/problems/%E2%80%AE%3Cscript%3E",
    "/contexts/no-such-term",
])
def test_unknown_or_malformed_slugs_are_404(client, cases, url):
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("page", ["99999999999999999999999999", "-3", "abc", "0"])
def test_any_page_number_shows_a_page(client, cases, page):
    response = client.get(f"/problems/work-based-learning?page={page}")
    assert response.status_code == 200
    assert "Seoul Meister schools" in response.get_data(as_text=True)


# -- curation over HTTP ------------------------------------------------------

CURATION_GETS = ["/curate/problems", "/curate/contexts", "/curate/problems/{problem}",
                 "/curate/contexts/{context}"]
CURATION_POSTS = ["/curate/problems", "/curate/problems/{problem}",
                  "/curate/problems/{problem}/retire", "/curate/problems/{problem}/restore",
                  "/curate/problems/{problem}/merge", "/curate/contexts/{context}/retire"]


def _urls(templates, taxonomy):
    ids = {"problem": taxonomy["problems"]["career-guidance"],
           "context": taxonomy["contexts"]["public-funding"]}
    return [template.format(**ids) for template in templates]


def test_anonymous_curation_requests_go_to_login(client, taxonomy, people):
    for url in _urls(CURATION_GETS, taxonomy):
        response = client.get(url)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"], url
    for url in _urls(CURATION_POSTS, taxonomy):
        response = client.post(url, data={"name": "x"})
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"], url


@pytest.mark.parametrize("role", ["member", "researcher"])
def test_members_and_researchers_may_not_curate(client, auth, app, taxonomy, people, role):
    auth.login_as(app, people[role])
    for url in _urls(CURATION_GETS, taxonomy):
        assert client.get(url).status_code == 403, url
    for url in _urls(CURATION_POSTS, taxonomy):
        response = client.post(url, data={"name": "x", "target_id": "1", "confirm": "y"})
        assert response.status_code == 403, url
    with app.app_context():
        term = db.session.get(ProblemOfPractice, taxonomy["problems"]["career-guidance"])
        assert (term.name, term.retired) == ("Career guidance", False)


@pytest.mark.parametrize("role", ["facilitator", "admin"])
def test_curators_see_the_curation_pages(client, auth, app, taxonomy, people, role):
    auth.login_as(app, people[role])
    for url in _urls(CURATION_GETS, taxonomy):
        assert client.get(url).status_code == 200, url
    page = client.get("/curate/contexts").get_data(as_text=True)
    assert '<label for="kind">Kind</label>' in page and "Public funding" in page


@pytest.fixture
def facilitator(client, auth, app, people):
    """``client``, logged in as the facilitator."""
    auth.login_as(app, people["facilitator"])
    return client


def test_facilitator_adds_a_problem(facilitator, app, taxonomy):
    response = facilitator.post("/curate/problems", data={
        "name": "Employer partnerships", "slug": "", "description": "Working **with** employers.",
    })
    assert response.status_code == 302
    with app.app_context():
        term = vocabularies.get_term(ProblemOfPractice, "employer-partnerships")
        assert term.description == "Working **with** employers."
    assert "Employer partnerships" in facilitator.get("/problems").get_data(as_text=True)


def test_facilitator_adds_a_context_with_its_kind(facilitator, app, taxonomy):
    response = facilitator.post("/curate/contexts",
                                data={"name": "Bilingual schools", "kind": "language"})
    assert response.status_code == 302
    page = facilitator.get("/contexts").get_data(as_text=True)
    assert page.index(">Language</h2>") < page.index(">Bilingual schools</a>")


def test_duplicate_name_is_shown_on_the_form(facilitator, app, taxonomy):
    response = facilitator.post("/curate/problems", data={"name": "work-BASED learning"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Another problem of practice is already called" in page
    assert 'aria-invalid="true"' in page
    with app.app_context():
        assert len(active_slugs()) == 2


def test_context_form_refuses_an_unknown_kind(facilitator, taxonomy):
    response = facilitator.post("/curate/contexts", data={"name": "Something", "kind": "astrology"})
    assert response.status_code == 400
    assert "Not a valid choice" in response.get_data(as_text=True)


def test_oversized_and_missing_fields_are_400_not_500(facilitator, taxonomy):
    assert facilitator.post("/curate/problems", data={}).status_code == 400
    response = facilitator.post("/curate/problems", data={"name": "N" * 100_000})
    assert response.status_code == 400
    assert "Keep the name under 120 characters." in response.get_data(as_text=True)


def test_facilitator_renames_a_problem_and_cases_are_reindexed(facilitator, app, cases, taxonomy):
    term_id = taxonomy["problems"]["career-guidance"]
    before = last_seq(app)
    response = facilitator.post(f"/curate/problems/{term_id}", data={
        "name": "Career education", "slug": "career-education", "description": "Renamed.",
    })
    assert response.status_code == 302
    assert logged_since(app, before) == {
        (cases["toronto"], ChangeOperation.UPSERT), (cases["guidance"], ChangeOperation.UPSERT)
    }
    assert facilitator.get("/problems/career-education").status_code == 200
    assert facilitator.get("/problems/career-guidance").status_code == 404


def test_edit_refuses_another_terms_slug(facilitator, app, taxonomy):
    term_id = taxonomy["problems"]["career-guidance"]
    response = facilitator.post(f"/curate/problems/{term_id}", data={
        "name": "Career guidance", "slug": "work-based-learning",
    })
    assert response.status_code == 400
    assert "already uses the address" in response.get_data(as_text=True)


def test_facilitator_retires_and_restores_over_http(facilitator, app, taxonomy):
    term_id = taxonomy["problems"]["career-guidance"]
    assert facilitator.get(f"/curate/problems/{term_id}/retire").status_code == 405
    assert facilitator.post(f"/curate/problems/{term_id}/retire").status_code == 302
    with app.app_context():
        assert active_slugs() == ["work-based-learning"]
    assert facilitator.post(f"/curate/problems/{term_id}/retire").status_code == 409
    assert facilitator.post(f"/curate/problems/{term_id}/restore").status_code == 302
    with app.app_context():
        assert len(active_slugs()) == 2


def test_facilitator_merges_over_http(facilitator, app, cases, taxonomy):
    problems = taxonomy["problems"]
    source = problems["career-guidance"]
    edit_page = facilitator.get(f"/curate/problems/{source}").get_data(as_text=True)
    assert f'<option value="{problems["work-based-learning"]}">' in edit_page
    assert f'<option value="{source}">' not in edit_page
    response = facilitator.post(f"/curate/problems/{source}/merge", data={
        "target_id": str(problems["work-based-learning"]), "confirm": "y",
    })
    assert response.status_code == 302
    assert problem_slugs(app, cases["toronto"]) == ["work-based-learning"]
    assert problem_slugs(app, cases["guidance"]) == ["work-based-learning"]
    assert facilitator.get("/problems/career-guidance").status_code == 301


@pytest.mark.parametrize("data", [
    {"target_id": "{target}"},  # not confirmed
    {"target_id": "{source}", "confirm": "y"},  # itself
    {"target_id": "{retired}", "confirm": "y"},  # retired
    {"target_id": "99999999999999999999999", "confirm": "y"},
    {"target_id": "abc", "confirm": "y"},
    {"confirm": "y"},
])
def test_bad_merges_are_refused_on_the_form(facilitator, app, cases, taxonomy, data):
    problems = taxonomy["problems"]
    ids = {"target": problems["work-based-learning"], "source": problems["career-guidance"],
           "retired": problems["old-term"]}
    data = {key: value.format(**ids) for key, value in data.items()}
    response = facilitator.post(f"/curate/problems/{ids['source']}/merge", data=data)
    assert response.status_code == 400
    assert "Please correct the fields marked below." in response.get_data(as_text=True)
    assert problem_slugs(app, cases["guidance"]) == ["career-guidance"]


@pytest.mark.parametrize("url", [
    "/curate/problems/0",
    "/curate/problems/2147483648",
    "/curate/problems/9223372036854775807",
    "/curate/problems/9223372036854775808",
    "/curate/problems/99999999999999999999999999999",
    "/curate/problems/-1",
    "/curate/problems/abc",
    "/curate/contexts/9223372036854775807/merge",
])
def test_malformed_and_huge_ids_are_404(facilitator, taxonomy, url):
    method = facilitator.post if url.endswith("merge") else facilitator.get
    assert method(url).status_code == 404


def _csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has no CSRF token"
    return match.group(1)


def test_curation_posts_need_a_csrf_token(client, auth, app, people, taxonomy):
    # Log in with CSRF checks off, then switch them on for the curation posts.
    auth.login_as(app, people["facilitator"])
    app.config["WTF_CSRF_ENABLED"] = True
    term_id = taxonomy["problems"]["career-guidance"]
    assert client.post("/curate/problems", data={"name": "Sneaky"}).status_code == 400
    assert client.post(f"/curate/problems/{term_id}/retire").status_code == 400
    with app.app_context():
        assert db.session.get(ProblemOfPractice, term_id).retired is False
        assert "sneaky" not in active_slugs()

    add_token = _csrf_token(client.get("/curate/problems").get_data(as_text=True))
    response = client.post("/curate/problems", data={"name": "Proper", "csrf_token": add_token})
    assert response.status_code == 302
    retire_token = _csrf_token(client.get(f"/curate/problems/{term_id}").get_data(as_text=True))
    response = client.post(f"/curate/problems/{term_id}/retire", data={"csrf_token": retire_token})
    assert response.status_code == 302
