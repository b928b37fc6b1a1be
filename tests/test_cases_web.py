"""The case-study pages, through HTTP: lists, detail, writing, editing, deleting.

Review (submitting, publishing, archiving) is tested in test_review_web.py.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from factories import write_case_in
from flask import url_for
from pages import case_form, load, structure, text, url
from sqlalchemy import func, select

from kb.extensions import db
from kb.models import (
    CaseStatus, CaseStudy, ChangeLog, ChangeOperation, City, ProblemOfPractice, User,
)
from kb.services import cities

# Endpoints the case pages and the layout link to that sibling blueprints own.
_LINKED_ENDPOINTS = {
    "browse.search": "/search",
    "cities.index": "/cities/",
    "cities.detail": "/cities/<slug>",
    "vocabularies.problems": "/problems/",
    "vocabularies.problem": "/problems/<slug>",
    "vocabularies.context": "/contexts/<slug>",
    "admin.index": "/admin/",
    "auth.account": "/auth/account",
}


@pytest.fixture(autouse=True)
def linked_endpoints(app):
    """Stand in for a sibling's endpoint while it does not exist yet, so url_for works."""
    for endpoint, rule in _LINKED_ENDPOINTS.items():
        if endpoint not in app.view_functions:
            app.add_url_rule(f"/_stand-in{rule}", endpoint=endpoint, view_func=lambda **_: "")


def revision_numbers(app, slug: str) -> list[int]:
    """The revision numbers of the case study at ``slug``, newest first."""
    with app.app_context():
        case = db.session.scalar(select(CaseStudy).where(CaseStudy.slug == slug))
        return [revision.number for revision in case.revisions]


def case_count(app) -> int:
    """How many case studies exist."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(CaseStudy))


# -- writing -----------------------------------------------------------------

def test_hostile_markdown_in_a_chinese_case_study_is_shown_harmless(app, client, auth, people,
                                                                    taxonomy):
    auth.login_as(app, people["member"])
    title = "职业教育中的企业学徒制"
    body = ("## 做法\n\n<script>alert('owned')</script>\n\n**学徒** [点击](javascript:alert(1))\n\n"
            "<img src=x onerror=alert(2)>")
    response = client.post("/cases/new", data=case_form(
        taxonomy, title=title, language="zh", body=body, outcomes="[ok](https://example.org)",
        sources="Annual report | https://example.org/report\nhttps://example.org/plain",
        message="first version",
    ))
    assert response.status_code == 302
    slug = unquote(response.headers["Location"].rsplit("/", 1)[1])
    assert slug == title

    page = text(client.get(response.headers["Location"]))
    assert f'<h1 lang="zh">{title}</h1>' in page
    assert "<script>alert" not in page
    attributes = structure(page).attributes
    assert not [value for name, value in attributes if "javascript:" in (value or "").lower()]
    assert not [name for name, value in attributes if name.startswith("on")]
    assert "&lt;script&gt;alert" in page  # shown as text, never run
    assert "<strong>学徒</strong>" in page and "<h2>做法</h2>" in page
    assert ('<a href="https://example.org/report" rel="noopener noreferrer nofollow">'
            'Annual report</a>') in page
    assert '>https://example.org/plain</a>' in page
    assert "Draft saved" in page


def test_detail_shows_every_field(app, client, people, taxonomy):
    slug = write_case_in(
        app, people["member"], taxonomy, title="Seoul pathways", language="ko", city="seoul",
        problems=("career-guidance",), contexts=("public-funding",), year_start=2016,
        year_end=2019, evidence_level="correlational", contact="Office of pathways",
        **{name: f"{name} *text*" for name in
           ("body", "implementation", "outcomes", "cost_notes", "enablers", "barriers")},
    ).slug
    page = text(client.get(url(slug)))
    assert '<h1 lang="ko">Seoul pathways</h1>' in page
    with app.test_request_context():
        links = [
            f'<a href="{url_for("cities.detail", slug="seoul")}">Seoul</a>',
            f'<a href="{url_for("vocabularies.problem", slug="career-guidance")}">'
            "Career guidance</a>",
            f'<a href="{url_for("vocabularies.context", slug="public-funding")}">'
            "Public funding</a>",
        ]
    for link in links:
        assert link in page
    for expected in ("Upper secondary", "Korean", "2016\u20132019", "Correlational",
                     "Office of pathways", "Test member", "Version 1", "Created"):
        assert expected in page, expected
    for name in ("body", "implementation", "outcomes", "cost_notes", "enablers", "barriers"):
        assert f"{name} <em>text</em>" in page
    assert '<span class="badge">' not in page  # published: no status badge
    assert page.count("<time datetime=") >= 4  # created, updated, published, revision


def test_edit_shows_two_revisions_and_each_revision_page(app, client, auth, people, taxonomy):
    auth.login_as(app, people["member"])
    response = client.post("/cases/new", data=case_form(taxonomy, message="first version",
                                                        body="Version **one**"))
    slug = load(app, "employer-led-apprenticeships").slug
    edit_page = text(client.get(url(slug, "/edit")))
    assert '<input id="version" name="version" type="hidden" value="1">' in edit_page
    assert "Employer-led apprenticeships" in edit_page and "Version **one**" in edit_page

    response = client.post(url(slug, "/edit"), data=case_form(
        taxonomy, title="Employer-led apprenticeships, revised", body="Version **two**",
        message="second version", version="1",
    ))
    assert response.status_code == 302
    page = text(client.get(response.headers["Location"]))
    assert "first version" in page and "second version" in page
    for number in (1, 2):
        assert f'href="/cases/{slug}/revisions/{number}"' in page
    assert revision_numbers(app, slug) == [2, 1]

    old = text(client.get(url(slug, "/revisions/1")))
    assert "Employer-led apprenticeships" in old and "Version <strong>one</strong>" in old
    assert "revised" not in old.split("<main", 1)[1].split("</h1>", 1)[0]
    assert "Version <strong>two</strong>" in text(client.get(url(slug, "/revisions/2")))
    for missing in ("/revisions/3", "/revisions/0", "/revisions/" + "9" * 30, "/revisions/x"):
        assert client.get(url(slug, missing)).status_code == 404


def test_preview_renders_markdown_and_saves_nothing(app, client, auth, people, taxonomy):
    auth.login_as(app, people["member"])
    form = case_form(taxonomy, body="Some **bold** <script>alert(1)</script>",
                     barriers="- one\n- two")
    form.pop("save")
    response = client.post("/cases/new", data={**form, "preview": "Preview"})
    page = text(response)
    assert response.status_code == 200
    assert "Preview (not saved)" in page
    assert "Some <strong>bold</strong>" in page and "<li>one</li>" in page
    assert "<script>alert" not in page
    assert 'value="Employer-led apprenticeships"' in page  # the form keeps what was typed
    assert case_count(app) == 0

    slug = write_case_in(app, people["member"], taxonomy, publish=False, title="A case study").slug
    response = client.post(url(slug, "/edit"), data={**form, "version": "1", "preview": "Preview"})
    assert response.status_code == 200 and "Some <strong>bold</strong>" in text(response)
    case = load(app, slug)
    assert (case.version, case.title) == (1, "A case study")


@pytest.mark.parametrize("missing, sent, message", [
    ("title", "", "A title is required."),
    ("title", None, "A title is required."),
    ("summary", "  ", "A one-paragraph summary is required."),
    ("problem_ids", None, "Choose at least one problem of practice."),  # no box ticked
    ("city_id", "", "Choose the city this practice comes from."),
    ("city_id", None, "Choose the city this practice comes from."),
    ("education_level", "", "Choose an education level from the list."),
    ("education_level", None, "Choose an education level from the list."),
])
def test_missing_required_fields_are_explained_on_the_form(app, client, auth, people, taxonomy,
                                                           missing, sent, message):
    auth.login_as(app, people["member"])
    response = client.post("/cases/new", data=case_form(taxonomy, **{missing: sent}))
    page = text(response)
    assert response.status_code == 400
    assert message in page
    assert f'id="{missing}-errors"' in page  # tied to the field
    assert case_count(app) == 0


@pytest.mark.parametrize("field, value, message", [
    ("year_start", "abc", "Give a year as a number"),
    ("year_start", "99999999999999999999", "Give a year between 1900 and 2100."),
    ("year_end", "9" * 5000, "Give a year as a number"),
    ("year_end", "1999", "The last year cannot come before the first."),
    ("city_id", "abc", "Choose from the list."),
    ("city_id", "99999999999999999999", "Choose from the list."),
    ("education_level", "nursery", "Choose from the list."),
    ("evidence_level", "anecdote", "Choose from the list."),
    ("language", "xx", "Choose from the list."),
    ("problem_ids", ["abc"], "Choose from the list."),
    ("problem_ids", ["99999999999999999999"], "Choose from the list."),
    ("context_ids", ["-1"], "Choose from the list."),
    ("title", "x" * 301, "Keep the title under 300 characters."),
    ("contact", "c" * 301, "Keep the contact under 300 characters."),
    ("sources", "Bad | javascript:alert(1)", "Not a web address"),
    ("message", "m" * 501, "Field cannot be longer than 500 characters."),
])
def test_invalid_values_are_form_errors_never_500(app, client, auth, people, taxonomy,
                                                  field, value, message):
    auth.login_as(app, people["member"])
    extra = {"year_start": "2005"} if field == "year_end" and value == "1999" else {}
    response = client.post("/cases/new", data=case_form(taxonomy, **{field: value}, **extra))
    assert response.status_code == 400
    assert message in text(response)
    assert case_count(app) == 0


def test_text_beyond_the_configured_limit_is_refused(app, client, auth, people, taxonomy):
    app.config["MAX_TEXT_LENGTH"] = 1000
    auth.login_as(app, people["member"])
    response = client.post("/cases/new", data=case_form(taxonomy, outcomes="o" * 1001))
    assert response.status_code == 400 and "Keep this under 1,000 characters." in text(response)


def test_a_form_missing_every_optional_field_still_saves(app, client, auth, people, taxonomy):
    auth.login_as(app, people["member"])
    response = client.post("/cases/new", data={
        "title": "Bare", "summary": "Minimal.", "city_id": str(taxonomy["cities"]["seoul"]),
        "education_level": "adult", "problem_ids": str(taxonomy["problems"]["career-guidance"]),
        "save": "Save draft",
    })
    assert response.status_code == 302
    case = load(app, "bare")
    assert (case.language, case.evidence_level, case.year_start) == ("en", None, None)


def test_retired_terms_are_offered_only_where_already_used(app, client, auth, people, taxonomy):
    auth.login_as(app, people["member"])
    old = taxonomy["problems"]["old-term"]
    new_page = text(client.get("/cases/new"))
    assert "Work-based learning" in new_page and "Old term" not in new_page
    response = client.post("/cases/new", data=case_form(taxonomy, problem_ids=[str(old)]))
    assert response.status_code == 400 and "Choose from the list." in text(response)

    slug = write_case_in(app, people["member"], taxonomy, publish=False,
                         problems=("career-guidance",)).slug
    with app.app_context():
        case = db.session.scalar(select(CaseStudy).where(CaseStudy.slug == slug))
        case.problems.append(db.session.get(ProblemOfPractice, old))
        db.session.commit()
    edit_page = text(client.get(url(slug, "/edit")))
    assert re.search(
        rf'value="{old}" checked>\s*<label for="problem_ids-{old}">Old term \(retired\)', edit_page
    )

    kept = [str(old), str(taxonomy["problems"]["career-guidance"])]
    response = client.post(url(slug, "/edit"),
                           data=case_form(taxonomy, problem_ids=kept, version="1"))
    assert response.status_code == 302
    assert "Old term" in text(client.get(url(slug)))


def test_the_form_is_accessible(app, client, auth, people, taxonomy):
    auth.login_as(app, people["member"])
    page = text(client.get("/cases/new"))
    parsed = structure(page)
    assert parsed.h1_count == 1
    assert parsed.control_ids and all(parsed.control_ids)
    assert set(parsed.control_ids) <= parsed.label_targets
    # practice, problems, contexts and its three kinds, texts, contact and sources
    assert parsed.fieldsets_with_legend == 8
    for kind in ("Governance", "Funding", "Scale"):
        assert f"<legend>{kind}</legend>" in page
    assert 'name="preview" type="submit" value="Preview"' in page
    assert 'name="save" type="submit" value="Save draft"' in page


# -- who may do what ----------------------------------------------------------

def test_researchers_may_not_write_and_anonymous_visitors_must_log_in(app, client, auth, people,
                                                                      taxonomy):
    response = client.get("/cases/new")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    assert client.get("/cases/mine").status_code == 302
    auth.login_as(app, people["researcher"])
    assert client.get("/cases/new").status_code == 403
    assert client.post("/cases/new", data=case_form(taxonomy)).status_code == 403
    assert case_count(app) == 0


def test_members_cannot_edit_other_peoples_case_studies(app, client, auth, people, taxonomy):
    published = write_case_in(app, people["member"], taxonomy, title="Public one").slug
    draft = write_case_in(app, people["member"], taxonomy, publish=False, title="Private one").slug
    auth.login_as(app, people["other_member"])

    assert client.get(url(published, "/edit")).status_code == 403
    edit = client.post(url(published, "/edit"), data=case_form(taxonomy, version="1"))
    assert edit.status_code == 403
    assert client.post(url(published, "/archive")).status_code == 403
    assert client.get(url(published, "/delete")).status_code == 403
    assert client.post(url(published, "/delete")).status_code == 403
    page = text(client.get(url(published)))
    assert "/edit" not in page and "/archive" not in page

    for suffix in ("", "/edit", "/delete", "/revisions/1"):
        assert client.get(url(draft, suffix)).status_code == 404
    assert client.post(url(draft, "/publish")).status_code == 404
    assert load(app, published).title == "Public one"
    assert load(app, draft).status is CaseStatus.DRAFT


def test_anonymous_visitors_see_published_case_studies_only(app, client, people, taxonomy):
    public = write_case_in(app, people["member"], taxonomy, title="Shared practice").slug
    draft = write_case_in(app, people["member"], taxonomy, publish=False,
                          title="Unfinished draft").slug
    assert client.get(url(public)).status_code == 200
    assert client.get(url(public, "/revisions/1")).status_code == 200
    assert client.get(url(draft)).status_code == 404
    assert client.get(url(draft, "/revisions/1")).status_code == 404
    listing = text(client.get("/cases/"))
    assert "Shared practice" in listing and "Unfinished draft" not in listing
    assert client.post(url(public, "/archive")).status_code == 302  # to the login page
    assert load(app, public).status is CaseStatus.PUBLISHED


def test_facilitators_see_and_curate_drafts(app, client, auth, people, taxonomy):
    draft = write_case_in(app, people["member"], taxonomy, publish=False,
                          title="Unfinished draft").slug
    auth.login_as(app, people["facilitator"])
    page = text(client.get(url(draft)))
    assert '<span class="badge">Draft</span>' in page
    assert f'href="/cases/{draft}/edit"' in page
    # Not submitted yet: nothing to publish.
    assert "its author has not submitted it for review" in page
    assert f'action="/cases/{draft}/publish"' not in page
    assert f'href="/cases/{draft}/delete"' not in page  # only admins and the author delete
    assert "Unfinished draft" in text(client.get("/cases/"))


def test_mine_lists_own_case_studies_with_drafts(app, client, auth, people, taxonomy):
    write_case_in(app, people["member"], taxonomy, publish=False, title="My draft")
    write_case_in(app, people["other_member"], taxonomy, title="Their public")
    auth.login_as(app, people["member"])
    page = text(client.get("/cases/mine"))
    assert "My draft" in page and "Their public" not in page
    everything = text(client.get("/cases/"))
    assert "My draft" in everything and "Their public" in everything


# -- deleting --------------------------------------------------------------------

def test_delete_asks_first_and_writes_the_change_log(app, client, auth, people, taxonomy):
    auth.login_as(app, people["member"])
    client.post("/cases/new", data=case_form(taxonomy))
    slug = "employer-led-apprenticeships"
    client.post(url(slug, "/edit"), data=case_form(taxonomy, title="Edited", version="1"))
    case_id = load(app, slug).id

    confirm = client.get(url(slug, "/delete"))
    assert confirm.status_code == 200
    assert f'<form method="post" action="/cases/{slug}/delete"' in text(confirm)
    assert load(app, slug) is not None  # asking deletes nothing

    response = client.post(url(slug, "/delete"))
    assert response.status_code == 302
    assert load(app, slug) is None
    assert client.get(url(slug)).status_code == 404
    with app.app_context():
        operations = db.session.scalars(
            select(ChangeLog.operation)
            .where(ChangeLog.entity_id == case_id)
            .order_by(ChangeLog.seq)
        ).all()
    assert operations == [ChangeOperation.UPSERT, ChangeOperation.UPSERT, ChangeOperation.DELETE]


def test_only_admins_delete_published_case_studies(app, client, auth, people, taxonomy):
    slug = write_case_in(app, people["member"], taxonomy, title="A case study").slug
    auth.login_as(app, people["member"])
    assert client.post(url(slug, "/delete")).status_code == 403
    auth.logout()
    auth.login_as(app, people["admin"])
    assert 'href="/cases/a-case-study/delete"' in text(client.get(url(slug)))
    assert client.post(url(slug, "/delete")).status_code == 302
    assert load(app, slug) is None


def test_posts_need_a_csrf_token(app, client, auth, people, taxonomy):
    app.config["WTF_CSRF_ENABLED"] = True
    slug = write_case_in(app, people["member"], taxonomy, publish=False).slug
    with app.app_context():
        email = db.session.get(User, people["member"]).email
    page = text(client.get("/auth/login"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page)
    client.post("/auth/login", data={"email": email, "password": "correct horse battery",
                                     "csrf_token": token.group(1)})
    detail = text(client.get(url(slug)))
    assert 'name="csrf_token"' in detail
    assert client.post(url(slug, "/submit")).status_code == 400
    assert client.post("/cases/new", data=case_form(taxonomy)).status_code == 400
    assert load(app, slug).status is CaseStatus.DRAFT and case_count(app) == 1
    form_token = re.search(r'name="csrf_token" value="([^"]+)"', detail).group(1)
    assert client.post(url(slug, "/submit"), data={"csrf_token": form_token}).status_code == 302
    assert load(app, slug).status is CaseStatus.SUBMITTED


# -- editing conflicts ---------------------------------------------------------------

def test_a_stale_edit_is_refused_and_keeps_the_typed_text(app, client, auth, people, taxonomy):
    slug = write_case_in(app, people["member"], taxonomy, publish=False).slug
    auth.login_as(app, people["member"])
    first = client.post(url(slug, "/edit"),
                        data=case_form(taxonomy, title="First editor", version="1"))
    assert first.status_code == 302

    stale = client.post(url(slug, "/edit"), data=case_form(
        taxonomy, title="Second editor", body="My careful words", version="1"))
    page = text(stale)
    assert stale.status_code == 409
    assert "Someone saved this case study while you were editing it." in page
    assert 'value="Second editor"' in page and "My careful words" in page
    case = load(app, slug)
    assert (case.title, case.version) == ("First editor", 2)


@pytest.mark.parametrize("version", [None, "", "abc", "99999999999999999999999"])
def test_a_damaged_version_field_is_an_error_not_a_silent_overwrite(app, client, auth, people,
                                                                    taxonomy, version):
    slug = write_case_in(app, people["member"], taxonomy, publish=False, title="A case study").slug
    auth.login_as(app, people["member"])
    response = client.post(url(slug, "/edit"),
                           data=case_form(taxonomy, title="Changed", version=version))
    expected = {400: "The form was damaged; open the case study again",
                409: "Someone saved this case study while you were editing it."}
    assert expected[response.status_code] in text(response)
    assert load(app, slug).title == "A case study"


# -- addresses people type ---------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/cases/" + "x" * 5000,
    "/cases/%00",
    "/cases/a%00b/edit",
    "/cases/%ED%A0%80",
    "/cases/%F0%9F%92%A9%E2%80%AE",
    "/cases/..%2F..%2Fetc",
    "/cases/%3Cscript%3E/revisions/1",
    "/cases/a-case-study/revisions/99999999999999999999999999",
])
def test_malformed_addresses_are_404(app, client, auth, people, taxonomy, path):
    write_case_in(app, people["member"], taxonomy, title="A case study")
    assert client.get(path).status_code == (302 if path.endswith("/edit") else 404)  # login first
    auth.login_as(app, people["admin"])
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("page, shown", [
    ("99999999999999999999999", 2), ("3", 2),
    ("abc", 1), ("-5", 1), ("0", 1), ("9" * 5000, 1), ("", 1),
])
def test_any_page_number_shows_a_page(app, client, auth, people, taxonomy, page, shown):
    app.config["CASES_PER_PAGE"] = 2
    for n in range(3):
        write_case_in(app, people["member"], taxonomy, title=f"Case {n}")
    response = client.get(f"/cases/?page={page}")
    assert response.status_code == 200
    assert f"Page {shown} of 2" in text(response)
    auth.login_as(app, people["member"])
    assert client.get(f"/cases/mine?page={page}").status_code == 200


def test_pagination_links_reach_every_case_study(app, client, people, taxonomy):
    app.config["CASES_PER_PAGE"] = 2
    for n in range(3):
        write_case_in(app, people["member"], taxonomy, title=f"Case {n}")
    first = text(client.get("/cases/"))
    assert 'href="/cases/?page=2" rel="next"' in first
    last = text(client.get("/cases/?page=99999999999999999999999"))
    assert "Page 2 of 2" in last and 'href="/cases/?page=1" rel="prev"' in last
    titles = set(re.findall(r">(Case \d)</a>", first + last))
    assert titles == {"Case 0", "Case 1", "Case 2"}


def test_titles_that_look_like_page_names_get_their_own_address(app, client, auth, people,
                                                                taxonomy):
    auth.login_as(app, people["member"])
    response = client.post("/cases/new", data=case_form(taxonomy, title="New"))
    assert response.headers["Location"].endswith("/cases/new-2")
    assert '<h1 lang="en">New</h1>' in text(client.get("/cases/new-2"))


def test_every_case_page_has_one_h1(app, client, auth, people, taxonomy):
    slug = write_case_in(app, people["member"], taxonomy, publish=False).slug
    auth.login_as(app, people["member"])
    for path in ("/cases/", "/cases/mine", "/cases/new", url(slug), url(slug, "/edit"),
                 url(slug, "/delete"), url(slug, "/revisions/1")):
        response = client.get(path)
        assert response.status_code == 200, path
        assert structure(text(response)).h1_count == 1, path


def _related_parts(page: str) -> tuple[str, str]:
    """The "compare with…" list and the related boxes of a case study page."""
    compare = re.search(r'<select id="compare-with".*?</select>', page, re.DOTALL)
    related = re.search(r'<aside class="related.*?</aside>', page, re.DOTALL)
    return (compare.group(0) if compare else ""), related.group(0)


def test_what_case_pages_remember_is_never_stale_nor_someone_elses(app, client, auth, people,
                                                                   taxonomy):
    """The compare list and the related boxes are kept between pages (kb.search.remembered)."""
    seoul = taxonomy["cities"]["seoul"]
    text_of = {"summary": "Nurses train in hospital wards with mentors.",
               "body": "Hospital wards, nurses and mentors."}
    base = write_case_in(app, people["member"], taxonomy,
                         title="Hospital nursing apprenticeships", **text_of).slug
    other = write_case_in(app, people["other_member"], taxonomy,
                          title="Nurses on the wards", city_id=seoul, **text_of).slug
    write_case_in(app, people["member"], taxonomy, publish=False,
                  title="Secret nursing draft", city_id=seoul, **text_of)

    def parts() -> tuple[str, str]:
        return _related_parts(text(client.get(url(base))))

    for _ in range(2):  # computed, then remembered
        compare, related = parts()
        assert "Nurses on the wards" in compare and "Nurses on the wards" in related
        assert "Secret nursing draft" not in compare + related
    auth.login_as(app, people["member"])  # the draft's author sees it
    compare, related = parts()
    assert "Secret nursing draft" in compare and "Secret nursing draft" in related
    auth.logout()
    auth.login_as(app, people["other_member"])
    assert "Secret nursing draft" not in "".join(parts())
    auth.logout()
    assert "Secret nursing draft" not in "".join(parts())

    with app.app_context():  # a change of title, then of the city's name
        db.session.scalar(select(CaseStudy).where(CaseStudy.slug == other)).title = "Renamed"
        db.session.commit()
    compare, related = parts()
    assert "Nurses on the wards" not in compare + related
    assert ">Renamed</option>" in compare and ">Renamed</a>" in related
    with app.app_context():
        cities.update_city(db.session.get(User, people["admin"]), db.session.get(City, seoul),
                           cities.CityInput(name="Sejong", country="Korea", slug="seoul"))
        db.session.commit()
    compare, related = parts()
    assert '<optgroup label="Sejong">' in compare and "Seoul" not in compare + related

    with app.app_context():  # withdrawn: gone from every box at once
        db.session.scalar(select(CaseStudy).where(CaseStudy.slug == other)).status = \
            CaseStatus.DRAFT
        db.session.commit()
    assert "Renamed" not in "".join(parts())
