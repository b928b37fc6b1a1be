"""City pages, city curation and the cities service."""

from __future__ import annotations

import pytest
from change_log import last_seq, logged_since
from factories import write_case
from instances import seed
from sqlalchemy import select

from kb.errors import PermissionDenied, ValidationError
from kb.extensions import db
from kb.models import PROFILE_HEADINGS, ChangeOperation, City, User
from kb.services import cities
from kb.services.cities import CityInput


@seed("taxonomy", "people")
def cases(taxonomy, people):
    """Two published Toronto case studies, a Toronto draft and a published Seoul one."""
    member, other = _user(people["member"]), _user(people["other_member"])
    return {
        "first": write_case(member, taxonomy, title="Toronto apprenticeships").id,
        "second": write_case(member, taxonomy, title="Toronto co-op terms").id,
        "draft": write_case(other, taxonomy, title="Toronto draft idea", publish=False).id,
        "seoul": write_case(member, taxonomy, title="서울 마이스터고", city="seoul",
                            language="ko").id,
    }


def _user(user_id: int) -> User:
    return db.session.get(User, user_id)


def _full_profile(text: str = "About {heading}.") -> dict[str, str]:
    return {key: text.format(heading=heading) for key, heading in PROFILE_HEADINGS.items()}


# -- public pages -------------------------------------------------------------

def test_index_lists_every_city_with_country_and_published_count(client, cases):
    page = client.get("/cities").get_data(as_text=True)
    assert "<h1>Cities</h1>" in page
    seoul, toronto = page.index(">Seoul</a>"), page.index(">Toronto</a>")
    assert seoul < toronto
    seoul_row = page[seoul:toronto]
    assert "South Korea" in seoul_row and '<td class="count">1</td>' in seoul_row
    # The draft is not counted.
    assert "Canada" in page[toronto:] and '<td class="count">2</td>' in page[toronto:]


def test_detail_shows_the_profile_under_the_fixed_headings(client, cases):
    page = client.get("/cities/toronto").get_data(as_text=True)
    assert "<h1>Toronto</h1>" in page and "Canada" in page
    positions = [page.index(f">{heading}</h3>") for heading in PROFILE_HEADINGS.values()]
    assert positions == sorted(positions)
    assert "Elected school board" in page and "English, French" in page
    assert "Not described yet." in page  # headings without text say so


def test_detail_shows_published_cases_to_anonymous_and_drafts_to_facilitators(client, auth, app,
                                                                              people, cases):
    page = client.get("/cities/toronto").get_data(as_text=True)
    assert "Toronto apprenticeships" in page and "Toronto co-op terms" in page
    assert "Toronto draft idea" not in page and "서울" not in page
    auth.login_as(app, people["facilitator"])
    page = client.get("/cities/toronto").get_data(as_text=True)
    assert "Toronto draft idea" in page and "Edit this city" in page


def test_detail_marks_cjk_titles_with_their_language(client, cases):
    page = client.get("/cities/seoul").get_data(as_text=True)
    assert 'lang="ko">서울 마이스터고</a>' in page


def test_detail_is_paginated(app_config, client, cases):
    client.application.config["CASES_PER_PAGE"] = 1
    first = client.get("/cities/toronto").get_data(as_text=True)
    assert "Page 1 of 2" in first and 'href="/cities/toronto?page=2"' in first
    second = client.get("/cities/toronto?page=2").get_data(as_text=True)
    assert "Page 2 of 2" in second
    titles = {"Toronto apprenticeships", "Toronto co-op terms"}
    assert {t for t in titles if t in first} | {t for t in titles if t in second} == titles
    assert client.get("/cities/toronto?page=999999999999999999999999").status_code == 200


def test_profile_markdown_is_rendered_and_sanitized(client, app, taxonomy):
    with app.app_context():
        city = db.session.get(City, taxonomy["cities"]["seoul"])
        city.profile_funding = "**National** grants <script>alert(1)</script>"
        db.session.commit()
    page = client.get("/cities/seoul").get_data(as_text=True)
    assert "<strong>National</strong>" in page
    assert "<script>alert(1)" not in page


@pytest.mark.parametrize("url", [
    "/cities/atlantis",
    "/cities/" + "x" * 10_000,
    "/cities/to%00ronto",
    "/cities/%3Cscript%3E",
])
def test_unknown_or_malformed_city_slugs_are_404(client, taxonomy, url):
    assert client.get(url).status_code == 404


# -- service ----------------------------------------------------------------

def test_create_city_cleans_and_derives_the_slug(app_ctx, taxonomy, people):
    city = cities.create_city(_user(people["facilitator"]), CityInput(
        name=" Hong Kong ", country="China", profile=_full_profile(),
    ))
    assert (city.slug, city.name) == ("hong-kong", "Hong Kong")
    assert city.profile_student_population == "About Student population."


def test_create_city_refuses_duplicates_whatever_the_case(app_ctx, taxonomy, people):
    with pytest.raises(ValidationError) as raised:
        cities.create_city(_user(people["facilitator"]),
                           CityInput(name="TORONTO", country="Canada"))
    assert "Another city is already called" in raised.value.errors["name"][0]
    assert "slug" in raised.value.errors


@pytest.mark.parametrize("data, field", [
    (CityInput(name="", country="Nowhere"), "name"),
    (CityInput(name="Denver", country=""), "country"),
    (CityInput(name="Denver", country="c" * 121), "country"),
    (CityInput(name="Denver", country="USA", profile={"funding": "f" * 20_001}), "profile_funding"),
])
def test_create_city_rejects_invalid_input(app_ctx, taxonomy, people, data, field):
    with pytest.raises(ValidationError) as raised:
        cities.create_city(_user(people["facilitator"]), data)
    assert field in raised.value.errors


@pytest.mark.parametrize("role", ["member", "researcher"])
def test_only_curators_change_cities(app_ctx, taxonomy, people, role):
    user = _user(people[role])
    city = db.session.get(City, taxonomy["cities"]["seoul"])
    with pytest.raises(PermissionDenied):
        cities.create_city(user, CityInput(name="Denver", country="USA"))
    with pytest.raises(PermissionDenied):
        cities.update_city(user, city, CityInput(name="Seoul", country="Korea"))
    with pytest.raises(PermissionDenied):
        cities.curation_overview(user)


def test_rename_logs_the_citys_cases_and_profile_edits_do_not(app, people, cases, taxonomy):
    before = last_seq(app)
    with app.app_context():
        city = db.session.get(City, taxonomy["cities"]["toronto"])
        cities.update_city(_user(people["facilitator"]), city, CityInput(
            name="Toronto", country="Canada", slug="toronto", profile=_full_profile("Revised."),
        ))
        db.session.commit()
    assert logged_since(app, before) == set()
    with app.app_context():
        city = db.session.get(City, taxonomy["cities"]["toronto"])
        cities.update_city(_user(people["facilitator"]), city, CityInput(
            name="City of Toronto", country="Canada", slug="", profile=_full_profile("Revised."),
        ))
        db.session.commit()
        assert city.slug == "city-of-toronto"
    assert logged_since(app, before) == {
        (cases[name], ChangeOperation.UPSERT) for name in ("first", "second", "draft")
    }


# -- curation over HTTP ------------------------------------------------------

def _city_form(**overrides) -> dict[str, str]:
    data = {"name": "Denver", "country": "United States", "slug": ""}
    data.update({f"profile_{key}": f"{heading} in Denver."
                 for key, heading in PROFILE_HEADINGS.items()})
    data.update(overrides)
    return data


def test_anonymous_curation_requests_go_to_login(client, taxonomy):
    city_id = taxonomy["cities"]["toronto"]
    for url in ("/curate/cities", f"/curate/cities/{city_id}"):
        for response in (client.get(url), client.post(url, data=_city_form())):
            assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["member", "researcher"])
def test_members_and_researchers_may_not_curate_cities(client, auth, app, taxonomy, people, role):
    auth.login_as(app, people[role])
    city_id = taxonomy["cities"]["toronto"]
    for url in ("/curate/cities", f"/curate/cities/{city_id}"):
        assert client.get(url).status_code == 403
        assert client.post(url, data=_city_form()).status_code == 403
    with app.app_context():
        assert db.session.scalar(select(City).where(City.name == "Denver")) is None
        assert db.session.get(City, city_id).name == "Toronto"


@pytest.fixture
def facilitator(client, auth, app, people):
    """``client``, logged in as the facilitator."""
    auth.login_as(app, people["facilitator"])
    return client


def test_curation_pages_render_for_curators(facilitator, taxonomy):
    page = facilitator.get("/curate/cities").get_data(as_text=True)
    assert "<h1>Curate cities</h1>" in page and "Toronto" in page
    for key, heading in PROFILE_HEADINGS.items():
        assert f'<label for="profile_{key}">{heading}</label>' in page
    page = facilitator.get(f"/curate/cities/{taxonomy['cities']['seoul']}").get_data(as_text=True)
    assert "<h1>Edit Seoul</h1>" in page and "Metropolitan office of education</textarea>" in page


def test_facilitator_adds_a_city(facilitator, app, taxonomy):
    response = facilitator.post("/curate/cities", data=_city_form())
    assert response.status_code == 302
    page = facilitator.get("/cities/denver").get_data(as_text=True)
    assert "<h1>Denver</h1>" in page and "Role of employers in Denver." in page
    assert "Denver" in facilitator.get("/cities").get_data(as_text=True)


def test_duplicate_city_name_is_shown_on_the_form(facilitator, app, taxonomy):
    response = facilitator.post("/curate/cities", data=_city_form(name="seoul"))
    assert response.status_code == 400
    assert "Another city is already called" in response.get_data(as_text=True)
    with app.app_context():
        assert len(cities.cities_with_counts()) == 2


def test_missing_and_oversized_city_fields_are_400(facilitator, taxonomy):
    assert facilitator.post("/curate/cities", data={}).status_code == 400
    response = facilitator.post("/curate/cities", data=_city_form(profile_governance="g" * 30_000))
    assert response.status_code == 400
    expected = "Keep “Governance and decision-making” under 20,000 characters."
    assert expected in response.get_data(as_text=True)


def test_facilitator_edits_a_city_and_its_cases_are_reindexed(facilitator, app, cases, taxonomy):
    city_id = taxonomy["cities"]["seoul"]
    before = last_seq(app)
    response = facilitator.post(f"/curate/cities/{city_id}", data=_city_form(
        name="Seoul Metropolitan", country="Republic of Korea", slug="seoul",
        profile_languages="Korean; English in some schools.",
    ))
    assert response.status_code == 302
    assert logged_since(app, before) == {(cases["seoul"], ChangeOperation.UPSERT)}
    page = facilitator.get("/cities/seoul").get_data(as_text=True)
    assert "<h1>Seoul Metropolitan</h1>" in page and "Republic of Korea" in page
    assert "Korean; English in some schools." in page


def test_edit_refuses_another_citys_slug(facilitator, taxonomy):
    response = facilitator.post(f"/curate/cities/{taxonomy['cities']['seoul']}",
                                data=_city_form(name="Seoul", slug="Toronto"))
    assert response.status_code == 400
    assert "already uses the address" in response.get_data(as_text=True)


@pytest.mark.parametrize("url", [
    "/curate/cities/0",
    "/curate/cities/2147483648",
    "/curate/cities/9223372036854775807",
    "/curate/cities/9223372036854775808",
    "/curate/cities/123456789012345678901234567890",
    "/curate/cities/seoul",
])
def test_malformed_and_huge_city_ids_are_404(facilitator, taxonomy, url):
    assert facilitator.get(url).status_code == 404
    assert facilitator.post(url, data=_city_form()).status_code == 404
