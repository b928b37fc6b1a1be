"""Collections: the service (making, adding, ordering, notes, featuring, exports) and the pages.

The world: ``member`` wrote three published case studies and a draft;
``other_member`` wrote a draft of their own. No one sees another member's
drafts or private collections by any path: page, list, export or feed
(tests/test_feeds.py covers the feeds, tests/test_authorization.py every
route for every role).
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from factories import write_case
from instances import seed
from sqlalchemy import func, select

from kb.errors import Conflict, NotFound, PermissionDenied, ValidationError
from kb.extensions import db
from kb.blueprints import main
from kb.models import CaseStudy, Collection, CollectionItem, CollectionVisibility, User
from kb.services import case_studies, collections, policy, review
from kb.services.collections import CollectionInput


@seed("taxonomy", "people")
def library(taxonomy, people):
    """Case studies to collect: member's published three and draft, other_member's draft; ids."""
    member, other = user(people, "member"), user(people, "other_member")
    made = {
        "first": write_case(member, taxonomy, title="Apprenticeships with employers",
                            outcomes="Completion rose **12 points**.", cost_notes="Modest."),
        "second": write_case(member, taxonomy, title="Career guidance in grade 9", city="seoul"),
        "third": write_case(member, taxonomy, title="Dual credits"),
        "draft": write_case(member, taxonomy, title="Member's unpublished draft", publish=False),
        "other_draft": write_case(other, taxonomy, title="Other member's secret draft",
                                  city="seoul", publish=False),
    }
    return {name: case.id for name, case in made.items()}


def user(people, name: str) -> User:
    """The test user called ``name``; call inside an app context."""
    return db.session.get(User, people[name])


def make(owner: User, title: str = "Meeting in Seoul", visibility: str = "private",
         case_ids=(), introduction: str = "") -> Collection:
    """A collection of ``owner`` holding ``case_ids``, committed."""
    collection = collections.create_collection(
        owner, CollectionInput(title=title, introduction=introduction, visibility=visibility))
    if case_ids:
        collections.add_cases(owner, collection, list(case_ids))
    db.session.commit()
    return collection


def shown_ids(viewer: User | None, collection: Collection) -> list[int]:
    return [item.case_study_id for item in collections.visible_items(viewer, collection)]


# Making and editing ------------------------------------------------------------

def test_anyone_signed_in_makes_collections_researchers_included(app_ctx, people):
    for name in ("researcher", "member", "facilitator", "admin"):
        collection = collections.create_collection(user(people, name),
                                                   CollectionInput(title=f"{name}'s list"))
        assert collection.owner_id == people[name]
        assert collection.visibility is CollectionVisibility.PRIVATE
        assert not collection.featured
    with pytest.raises(PermissionDenied):
        collections.create_collection(None, CollectionInput(title="Anonymous list"))


def test_slugs_come_from_titles_are_unique_and_avoid_page_names(app_ctx, people):
    member = user(people, "member")
    slugs = [collections.create_collection(member, CollectionInput(title=title)).slug
             for title in ("Work-based learning", "Work-based learning", "New", "!!!", "職業教育")]
    assert slugs == ["work-based-learning", "work-based-learning-2", "new-2", "collection", "職業教育"]


def test_a_slug_with_like_wildcards_is_numbered_correctly(app_ctx, people):
    member = user(people, "member")
    first = collections.create_collection(member, CollectionInput(title="100% apprenticeships"))
    second = collections.create_collection(member, CollectionInput(title="100 apprenticeships"))
    assert (first.slug, second.slug) == ("100-apprenticeships", "100-apprenticeships-2")


def test_numbered_slugs_of_long_titles_stay_within_the_limit(app_ctx, people):
    member = user(people, "member")
    title = "apprenticeships " * 12
    slugs = [collections.create_collection(member, CollectionInput(title=title)).slug
             for _ in range(3)]
    assert len(set(slugs)) == 3
    assert all(len(slug) <= collections.SLUG_MAX for slug in slugs)
    assert slugs[1].endswith("-2") and slugs[2].endswith("-3")


@pytest.mark.parametrize("data, field", [
    (CollectionInput(title="   "), "title"),
    (CollectionInput(title="x" * 201), "title"),
    (CollectionInput(title="Fine", visibility="everyone"), "visibility"),
    (CollectionInput(title="Fine", introduction="x" * 101), "introduction"),
])
def test_bad_input_is_refused_field_by_field(app_ctx, people, data, field):
    with pytest.raises(ValidationError) as refused:
        collections.create_collection(user(people, "member"), data, max_text=100)
    assert field in refused.value.errors


def test_text_is_cleaned_before_it_is_stored(app_ctx, people):
    collection = collections.create_collection(user(people, "member"), CollectionInput(
        title="  Two\nlines\u202e ", introduction="Intro\r\nwith CRLF\x00"))
    assert collection.title == "Two lines"
    assert collection.introduction == "Intro\nwith CRLF"


def test_editing_keeps_the_slug_and_making_it_private_unfeatures_it(app_ctx, people):
    member = user(people, "member")
    collection = make(member, visibility="public")
    collections.set_featured(user(people, "facilitator"), collection, True)
    collections.update_collection(member, collection, CollectionInput(
        title="A new title", introduction="Now with an introduction", visibility="private"))
    assert collection.slug == "meeting-in-seoul"
    assert collection.title == "A new title"
    assert collection.introduction == "Now with an introduction"
    assert not collection.featured
    with pytest.raises(PermissionDenied):
        collections.update_collection(user(people, "admin"), collection,
                                      CollectionInput(title="Mine"))


def test_only_the_owner_or_an_admin_for_a_shared_one_deletes(app_ctx, people, library):
    member = user(people, "member")
    shared = make(member, "Shared", "network", [library["first"]])
    private = make(member, "Private", "private")
    with pytest.raises(PermissionDenied):
        collections.delete_collection(user(people, "facilitator"), shared)
    assert not policy.can_delete_collection(user(people, "admin"), private)
    collections.delete_collection(user(people, "admin"), shared)
    collections.delete_collection(member, private)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Collection)) == 0
    assert db.session.scalar(select(func.count()).select_from(CollectionItem)) == 0
    assert db.session.get(CaseStudy, library["first"]) is not None


# Who sees what -------------------------------------------------------------------

@pytest.mark.parametrize("visibility, seen_by", [
    ("private", {"member"}),
    ("network", {"member", "other_member", "researcher", "facilitator", "admin"}),
    ("public", {"anonymous", "member", "other_member", "researcher", "facilitator", "admin"}),
])
def test_private_means_the_owner_only_network_signed_in_public_everyone(app_ctx, people,
                                                                        visibility, seen_by):
    collection = make(user(people, "member"), visibility=visibility)
    for name in ("anonymous", "researcher", "member", "other_member", "facilitator", "admin"):
        viewer = None if name == "anonymous" else user(people, name)
        assert policy.can_view_collection(viewer, collection) == (name in seen_by), name
        listed = db.session.scalars(
            select(Collection.id).where(policy.visible_collections_clause(viewer))).all()
        assert (collection.id in listed) == (name in seen_by), name
        if name not in seen_by:
            with pytest.raises(NotFound):
                collections.get_collection(viewer, collection.slug)


def test_get_collection_rejects_malformed_slugs_as_missing(app_ctx):
    for slug in ("", "a\x00b", "x" * 500, "no/such"):
        with pytest.raises(NotFound):
            collections.get_collection(None, slug)


def test_lists_show_featured_and_shared_collections_never_private_ones(app_ctx, people):
    member = user(people, "member")
    private = make(member, "Private", "private")
    network = make(member, "Network", "network")
    public = make(member, "Public", "public")
    facilitator = user(people, "facilitator")
    collections.set_featured(facilitator, network, True)
    collections.set_featured(facilitator, public, True)
    db.session.commit()

    def titles(found):
        return {collection.title for collection in found}

    assert titles(collections.featured_collections(None)) == {"Public"}
    both = {"Public", "Network"}
    assert titles(collections.featured_collections(user(people, "researcher"))) == both
    assert titles(collections.shared_collections(None).items) == {"Public"}
    assert titles(collections.shared_collections(member).items) == {"Public", "Network"}
    assert titles(collections.shared_collections(user(people, "admin")).items) == both
    assert titles(collections.own_collections(member)) == {"Private", "Network", "Public"}
    assert collections.own_collections(None) == []
    assert private not in collections.own_collections(user(people, "admin"))


def test_shared_collections_are_paged(app_ctx, people):
    member = user(people, "member")
    for number in range(5):
        make(member, f"Shared {number}", "public")
    page = collections.shared_collections(None, page=9, per_page=2)
    assert (page.page, page.pages, page.total, len(page.items)) == (3, 3, 5, 1)


# Items --------------------------------------------------------------------------

def test_adding_appends_in_order_and_reports_what_was_already_there(app_ctx, people, library):
    member = user(people, "member")
    collection = make(member, case_ids=[library["second"]])
    added = collections.add_cases(member, collection,
                                  [library["first"], library["second"], library["first"]])
    assert [case.id for case in added.added] == [library["first"]]
    assert [case.id for case in added.already] == [library["second"]]
    assert shown_ids(member, collection) == [library["second"], library["first"]]
    assert [item.position for item in collection.items] == [0, 1]


def test_only_visible_case_studies_can_be_added_alike_for_missing_ones(app_ctx, people, library):
    member = user(people, "member")
    collection = make(member)
    for ids in ([library["other_draft"]], [999_999], [2**40], [library["first"], 999_999]):
        with pytest.raises(NotFound) as refused:
            collections.add_cases(member, collection, ids)
        assert "can be added" in refused.value.message
    assert collection.items == []
    with pytest.raises(ValidationError):
        collections.add_cases(member, collection, [])


def test_only_the_owner_adds_removes_moves_and_notes(app_ctx, people, library):
    collection = make(user(people, "member"), visibility="public", case_ids=[library["first"]])
    for name in ("other_member", "facilitator", "admin"):
        stranger = user(people, name)
        with pytest.raises(PermissionDenied):
            collections.add_cases(stranger, collection, [library["second"]])
        with pytest.raises(PermissionDenied):
            collections.remove_case(stranger, collection, library["first"])
        with pytest.raises(PermissionDenied):
            collections.move_case(stranger, collection, library["first"], 1)
        with pytest.raises(PermissionDenied):
            collections.set_note(stranger, collection, library["first"], "Mine now")


def test_a_collection_holds_a_bounded_number_of_case_studies(app_ctx, people, library,
                                                             monkeypatch):
    monkeypatch.setattr(collections, "MAX_ITEMS", 2)
    member = user(people, "member")
    collection = make(member, case_ids=[library["first"], library["second"]])
    with pytest.raises(ValidationError):
        collections.add_cases(member, collection, [library["third"]])


def test_a_draft_in_a_collection_is_shown_only_to_who_may_see_the_draft(app_ctx, people, library):
    member = user(people, "member")
    collection = make(member, visibility="public",
                      case_ids=[library["first"], library["draft"], library["second"]])
    everything = [library["first"], library["draft"], library["second"]]
    assert shown_ids(member, collection) == everything
    assert shown_ids(user(people, "facilitator"), collection) == everything
    for viewer in (None, user(people, "other_member"), user(people, "researcher")):
        assert shown_ids(viewer, collection) == [library["first"], library["second"]]
        assert collections.visible_item_counts(viewer, [collection]) == {collection.id: 2}
        with pytest.raises(NotFound):
            collections.get_item(viewer, collection, library["draft"])
    assert collections.hidden_item_count(member, collection) == 0
    assert collections.hidden_item_count(None, collection) == 1


def test_an_archived_case_study_leaves_every_view_and_comes_back_when_published(app_ctx, people,
                                                                               library):
    member = user(people, "member")
    other = user(people, "other_member")
    collection = make(other, visibility="network", case_ids=[library["first"], library["second"]])
    case = db.session.get(CaseStudy, library["first"])
    review.archive(member, case)
    db.session.commit()
    assert shown_ids(other, collection) == [library["second"]]
    assert collections.hidden_item_count(other, collection) == 1
    review.unarchive(user(people, "facilitator"), case)
    db.session.commit()
    assert shown_ids(other, collection) == [library["first"], library["second"]]


def test_moving_up_down_and_to_a_position(app_ctx, people, library):
    member = user(people, "member")
    a, b, c = library["first"], library["second"], library["third"]
    collection = make(member, case_ids=[a, b, c])
    assert collections.shift_case(member, collection, c, -1) == 2
    assert shown_ids(member, collection) == [a, c, b]
    assert collections.shift_case(member, collection, a, -1) == 1  # already first
    assert collections.move_case(member, collection, a, 99) == 3
    assert shown_ids(member, collection) == [c, b, a]
    assert collections.move_case(member, collection, a, -5) == 1
    assert shown_ids(member, collection) == [a, c, b]
    assert [item.position for item in collection.items] == [0, 1, 2]


def test_moving_among_visible_items_leaves_hidden_ones_in_place(app_ctx, people, library):
    member = user(people, "member")
    other = user(people, "other_member")
    a, b, c = library["first"], library["second"], library["third"]
    collection = make(other, case_ids=[a, b, c])
    review.archive(member, db.session.get(CaseStudy, b))  # other no longer sees b
    db.session.commit()
    assert collections.shift_case(other, collection, c, -1) == 1
    assert shown_ids(other, collection) == [c, a]
    order = [item.case_study_id for item in sorted(collection.items, key=lambda i: i.position)]
    assert order == [c, b, a]  # b kept its place, the second
    with pytest.raises(NotFound):
        collections.shift_case(other, collection, b, 1)


def test_removing_keeps_the_order_without_gaps(app_ctx, people, library):
    member = user(people, "member")
    collection = make(member, case_ids=[library["first"], library["second"], library["third"]])
    removed = collections.remove_case(member, collection, library["second"])
    db.session.commit()
    assert removed.id == library["second"]
    assert shown_ids(member, collection) == [library["first"], library["third"]]
    assert [item.position for item in collection.items] == [0, 1]
    with pytest.raises(NotFound):
        collections.remove_case(member, collection, library["second"])


def test_notes_are_cleaned_bounded_and_move_the_update_times(app_ctx, people, library):
    member = user(people, "member")
    collection = make(member, case_ids=[library["first"]])
    long_ago = collection.updated_at - timedelta(days=3)
    collection.updated_at = long_ago
    item = collections.set_note(member, collection, library["first"], "  Read **this**\r\n ")
    assert item.note == "Read **this**"
    assert collection.updated_at > long_ago and item.updated_at > long_ago
    with pytest.raises(ValidationError) as refused:
        collections.set_note(member, collection, library["first"], "x" * 11, max_text=10)
    assert "note" in refused.value.errors


def test_deleting_a_case_study_takes_it_out_of_every_collection(app_ctx, people, library):
    member = user(people, "member")
    collection = make(member, case_ids=[library["draft"], library["first"]])
    case_studies.delete_case(member, db.session.get(CaseStudy, library["draft"]))
    db.session.commit()
    assert shown_ids(member, collection) == [library["first"]]
    assert db.session.scalar(select(func.count()).select_from(CollectionItem)) == 1


# Featuring ----------------------------------------------------------------------

def test_only_curators_feature_and_never_a_private_collection(app_ctx, people):
    member = user(people, "member")
    shared = make(member, "Shared", "network")
    private = make(member, "Private", "private")
    for name in ("member", "researcher"):
        with pytest.raises(PermissionDenied):
            collections.set_featured(user(people, name), shared, True)
    with pytest.raises(Conflict):
        collections.set_featured(user(people, "admin"), private, True)
    collections.set_featured(user(people, "facilitator"), shared, True)
    assert shared.featured
    collections.set_featured(user(people, "admin"), shared, False)
    assert not shared.featured


# Exports ------------------------------------------------------------------------

def _urls(case: CaseStudy) -> str:
    return f"https://kb.example/cases/{case.slug}"


def test_the_exports_carry_the_key_fields_notes_and_links(app_ctx, people, library):
    member = user(people, "member")
    collection = make(member, "Briefing [draft] *one*", "public",
                      [library["first"], library["second"]], introduction="## Why\n\nBecause.")
    collections.set_note(member, collection, library["first"], "Look at the **costs**.")
    items = collections.visible_items(None, collection)

    pack = collections.briefing_markdown(collection, items, "https://kb.example/c", _urls)
    assert pack.startswith("# Briefing \\[draft\\] \\*one\\*\n")
    assert "## Why\n\nBecause." in pack
    assert "## 1. Apprenticeships with employers" in pack
    assert "- **City:** Toronto" in pack and "- **Country:** Canada" in pack
    assert "<https://kb.example/cases/apprenticeships-with-employers>" in pack
    assert "### Curator's note\n\nLook at the **costs**." in pack
    assert "### Outcomes\n\nCompletion rose **12 points**." in pack
    assert pack.index("## 1.") < pack.index("Curator's note") < pack.index("## 2. Career")

    lines = collections.table_lines(items, _urls)
    header = lines[0]
    assert header[:3] == ["Position", "Case study number", "Title"]
    first = dict(zip(header, lines[1]))
    assert first["Curator's note"] == "Look at the **costs**."
    assert first["City"] == "Toronto" and first["Problems of practice"] == "Work-based learning"
    assert first["Address"] == "https://kb.example/cases/apprenticeships-with-employers"

    data = collections.as_json(collection, items, "https://kb.example/c", _urls)
    assert data["title"] == "Briefing [draft] *one*" and data["visibility"] == "public"
    assert [item["case"]["id"] for item in data["items"]] == [library["first"], library["second"]]
    assert data["items"][0]["case"]["outcomes"] == "Completion rose **12 points**."
    assert json.loads(json.dumps(data)) == data


# Pages ------------------------------------------------------------------------------

def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def _made(app, people, **kwargs) -> str:
    with app.app_context():
        return make(user(people, "member"), **kwargs).slug


def test_making_a_collection_through_the_form(app, client, auth, people):
    auth.login_as(app, people["researcher"])
    refused = client.post("/collections/new", data={"title": "", "visibility": "public"})
    assert refused.status_code == 400
    assert "Give the collection a title." in refused.get_data(as_text=True)
    response = client.post("/collections/new", data={
        "title": "Questions for Seoul", "introduction": "For the *March* meeting.",
        "visibility": "network"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/collections/questions-for-seoul")
    page = _page(client, "/collections/questions-for-seoul")
    assert "<em>March</em>" in page and "Network: everyone signed in" in page


def test_editing_through_the_form(app, client, auth, people):
    slug = _made(app, people)
    auth.login_as(app, people["member"])
    assert 'value="Meeting in Seoul"' in _page(client, f"/collections/{slug}/edit")
    response = client.post(f"/collections/{slug}/edit", data={
        "title": "Renamed", "introduction": "", "visibility": "public"})
    assert response.status_code == 302
    assert "Renamed" in _page(client, f"/collections/{slug}")
    assert client.post(f"/collections/{slug}/edit", data={
        "title": "Renamed", "visibility": "nobody"}).status_code == 400


def test_the_collection_page_shows_notes_and_the_owners_tools(app, client, auth, people, library):
    with app.app_context():
        member = user(people, "member")
        collection = make(member, visibility="public", introduction="Read *these*.",
                          case_ids=[library["first"], library["draft"]])
        collections.set_note(member, collection, library["first"], "Start **here**.")
        db.session.commit()
        slug = collection.slug
    page = _page(client, f"/collections/{slug}")
    assert "<em>these</em>" in page and "Start <strong>here</strong>." in page
    assert "Apprenticeships with employers" in page
    assert "Member&#39;s unpublished draft" not in page and "unpublished draft" not in page
    assert "/move" not in page and "/edit" not in page
    assert 'type="application/atom+xml"' in page

    auth.login_as(app, people["member"])
    page = _page(client, f"/collections/{slug}")
    assert "unpublished draft" in page
    assert f"/collections/{slug}/items/{library['first']}/move" in page
    assert f"/collections/{slug}/items/{library['first']}/remove" in page
    assert f"/collections/{slug}/edit" in page


def test_the_owner_is_told_how_many_items_are_hidden(app, client, auth, people, library):
    with app.app_context():
        other = user(people, "other_member")
        slug = make(other, visibility="network",
                    case_ids=[library["first"], library["second"]]).slug
        review.archive(user(people, "member"), db.session.get(CaseStudy, library["second"]))
        db.session.commit()
    auth.login_as(app, people["other_member"])
    page = _page(client, f"/collections/{slug}")
    assert "1 case study in this collection cannot be shown to you" in page
    assert "Career guidance in grade 9" not in page


def test_the_lists_pages(app, client, auth, people):
    _made(app, people, title="Private plans", visibility="private")
    _made(app, people, title="Network notes", visibility="network")
    public = _made(app, people, title="Public picks", visibility="public")
    with app.app_context():
        collections.set_featured(user(people, "facilitator"),
                                 collections.get_collection(None, public), True)
        db.session.commit()
    page = _page(client, "/collections/")
    assert "Public picks" in page and "Network notes" not in page and "Private plans" not in page
    auth.login_as(app, people["other_member"])
    page = _page(client, "/collections/")
    assert "Network notes" in page and "Private plans" not in page
    main = page[page.index("featured-heading"):page.index("shared-heading")]
    assert "Public picks" in main and "Network notes" not in main
    auth.logout()
    auth.login_as(app, people["member"])
    mine = _page(client, "/collections/mine")
    assert all(title in mine for title in ("Private plans", "Network notes", "Public picks"))


def test_home_page_shows_the_featured_collections_the_visitor_may_see(app, client, auth, people):
    slugs = {visibility: _made(app, people, title=f"Featured {visibility}", visibility=visibility)
             for visibility in ("network", "public")}
    assert "Featured collections" not in _page(client, "/")
    with app.app_context():
        for slug in slugs.values():
            collections.set_featured(user(people, "facilitator"),
                                     collections.get_collection(user(people, "member"), slug), True)
        db.session.commit()
    home = _page(client, "/")
    assert "Featured public" in home and "Featured network" not in home
    auth.login_as(app, people["researcher"])
    home = _page(client, "/")
    assert "Featured public" in home and "Featured network" in home
    later = [_made(app, people, title=f"Later {n}", visibility="public")
             for n in range(main.HOME_FEATURED_COLLECTIONS)]
    with app.app_context():
        for slug in later:
            collections.set_featured(user(people, "facilitator"),
                                     collections.get_collection(None, slug), True)
        db.session.commit()
    home = _page(client, "/")
    assert home.count('href="/collections/later-') == main.HOME_FEATURED_COLLECTIONS
    assert "Featured public" not in home


def test_facilitators_feature_from_the_page(app, client, auth, people):
    slug = _made(app, people, visibility="public")
    auth.login_as(app, people["facilitator"])
    assert "Feature it on the home and collections pages" in _page(client, f"/collections/{slug}")
    assert client.post(f"/collections/{slug}/feature").status_code == 302
    assert "Stop featuring it" in _page(client, f"/collections/{slug}")
    assert client.post(f"/collections/{slug}/unfeature").status_code == 302
    with app.app_context():
        assert not collections.get_collection(None, slug).featured


def test_deleting_through_the_confirmation_page(app, client, auth, people):
    slug = _made(app, people)
    auth.login_as(app, people["member"])
    assert "Delete it" in _page(client, f"/collections/{slug}/delete")
    response = client.post(f"/collections/{slug}/delete")
    assert response.headers["Location"].endswith("/collections/mine")
    assert client.get(f"/collections/{slug}").status_code == 404


def _add_form(html: str, form_id: str) -> str:
    start = html.index(f'id="{form_id}"')
    return html[html.rindex("<form", 0, start):html.index("</form>", start)]


def test_add_from_a_case_page_to_an_existing_or_a_new_collection(app, client, auth, people,
                                                                 library):
    slug = _made(app, people, title="Existing")
    with app.app_context():
        case = db.session.get(CaseStudy, library["first"])
        case_slug = case.slug
        existing_id = collections.get_collection(user(people, "member"), slug).id
    assert "add-to-collection" not in _page(client, f"/cases/{case_slug}")

    auth.login_as(app, people["member"])
    form = _add_form(_page(client, f"/cases/{case_slug}"), "add-to-collection")
    assert f'<input type="hidden" name="ids" value="{library["first"]}">' in form
    assert f'<option value="{existing_id}" selected>Existing</option>' in form
    assert '<option value="0">A new collection</option>' in form
    assert f'name="next" value="/cases/{case_slug}"' in form

    response = client.post("/collections/add", data={
        "ids": library["first"], "collection": existing_id, "next": f"/cases/{case_slug}"})
    assert response.headers["Location"] == f"/cases/{case_slug}"
    flashed = _page(client, f"/cases/{case_slug}")
    assert "Added “Apprenticeships with employers” to “Existing”." in flashed

    response = client.post("/collections/add", data={
        "ids": [library["first"], library["draft"]], "collection": 0, "title": "Fresh"})
    assert response.headers["Location"] == "/collections/fresh"
    page = _page(client, "/collections/fresh")
    assert "Apprenticeships with employers" in page and "Not published yet" in page

    again = client.post("/collections/add", data={
        "ids": library["first"], "collection": existing_id, "next": "https://evil.example/"})
    assert again.headers["Location"] == f"/collections/{slug}"
    assert "Already in “Existing”" in _page(client, f"/collections/{slug}")


def test_add_refuses_bad_input_on_a_page_of_its_own(app, client, auth, people, library):
    theirs = _made(app, people, title="Not yours")
    with app.app_context():
        their_id = collections.get_collection(user(people, "member"), theirs).id
    auth.login_as(app, people["other_member"])
    no_title = client.post("/collections/add", data={"ids": library["first"], "collection": 0})
    assert no_title.status_code == 400
    page = no_title.get_data(as_text=True)
    assert "Give the collection a title." in page and "Apprenticeships with employers" in page
    assert client.post("/collections/add", data={
        "ids": library["first"], "collection": their_id}).status_code == 400
    assert client.post("/collections/add", data={
        "ids": "many", "collection": 0, "title": "T"}).status_code == 400
    nothing = client.post("/collections/add", data={"collection": 0, "title": "Empty"})
    assert nothing.status_code == 400
    assert "Choose at least one case study" in nothing.get_data(as_text=True)
    hidden = client.post("/collections/add", data={
        "ids": library["draft"], "collection": 0, "title": "Snooping"})
    assert hidden.status_code == 404
    assert "unpublished draft" not in hidden.get_data(as_text=True)
    with app.app_context():
        assert {c.title for c in db.session.scalars(select(Collection))} == {"Not yours"}


def test_search_results_have_collect_boxes_for_a_form_outside_the_search_form(app, client, auth,
                                                                            people, library):
    assert "collect-form" not in _page(client, "/search?q=apprenticeships")
    auth.login_as(app, people["member"])
    page = _page(client, "/search?q=apprenticeships")
    box = f'form="collect-form" name="ids" value="{library["first"]}"'
    assert box in page
    search_form_end = page.index("</form>", page.index('role="search"'))
    assert page.index('id="collect-form"') > search_form_end
    form = _add_form(page, "collect-form")
    assert 'action="/collections/add"' in form and 'name="csrf_token"' in form
    assert 'name="next" value="/search?q=apprenticeships"' in form


def test_the_comparison_page_adds_all_its_case_studies(app, client, auth, people, library):
    auth.login_as(app, people["member"])
    first, second = library["first"], library["second"]
    form = _add_form(_page(client, f"/compare?ids={first}&ids={second}"), "add-to-collection")
    assert re.findall(r'name="ids" value="(\d+)"', form) == [str(first), str(second)]
    response = client.post("/collections/add", data={
        "ids": [first, second], "collection": 0, "title": "Side by side",
        "next": f"/compare?ids={first}&ids={second}"})
    assert response.headers["Location"] == f"/compare?ids={first}&ids={second}"
    with app.app_context():
        shown = collections.get_collection(user(people, "member"), "side-by-side")
        assert shown_ids(user(people, "member"), shown) == [first, second]


def test_moving_removing_and_notes_through_the_page(app, client, auth, people, library):
    a, b, c = library["first"], library["second"], library["third"]
    slug = _made(app, people, case_ids=[a, b, c])
    auth.login_as(app, people["member"])
    base = f"/collections/{slug}/items"
    response = client.post(f"{base}/{c}/move", data={"direction": "up"})
    assert response.headers["Location"] == f"/collections/{slug}#item-{c}"
    client.post(f"{base}/{a}/move", data={"position": "3"})
    client.post(f"{base}/{b}/move", data={"direction": "down"})
    assert client.post(f"{base}/{b}/move", data={"position": "two"}).status_code == 400
    assert client.post(f"{base}/{b}/move", data={"direction": "sideways"}).status_code == 400
    hidden = client.post(f"{base}/{library['draft']}/move", data={"direction": "up"})
    assert hidden.status_code == 404

    assert "Curator&#39;s note" in _page(client, f"{base}/{b}")
    response = client.post(f"{base}/{b}", data={"note": "Compare with *Toronto*."})
    assert response.headers["Location"] == f"/collections/{slug}#item-{b}"
    assert client.post(f"{base}/{c}/remove").status_code == 302
    with app.app_context():
        collection = collections.get_collection(user(people, "member"), slug)
        assert shown_ids(user(people, "member"), collection) == [a, b]
        assert collection.items[1].note == "Compare with *Toronto*."
    assert "Compare with <em>Toronto</em>." in _page(client, f"/collections/{slug}")


def test_the_csv_export_escapes_formulas_and_hides_drafts(app, client, auth, people, library):
    with app.app_context():
        member = user(people, "member")
        collection = make(member, visibility="public",
                          case_ids=[library["first"], library["draft"]])
        collections.set_note(member, collection, library["first"], "=HYPERLINK(\"http://x\")")
        db.session.commit()
        slug, collection_id = collection.slug, collection.id
    response = client.get(f"/collections/{slug}/export.csv")
    assert response.mimetype == "text/csv"
    assert f'filename="collection-{collection_id}.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 2
    line = dict(zip(rows[0], rows[1]))
    assert line["Curator's note"] == "'=HYPERLINK(\"http://x\")"
    assert line["Address"] == "http://localhost/cases/apprenticeships-with-employers"
    assert "unpublished draft" not in response.get_data(as_text=True)

    auth.login_as(app, people["member"])
    owner_rows = list(csv.reader(io.StringIO(
        client.get(f"/collections/{slug}/export.csv").get_data(as_text=True))))
    assert len(owner_rows) == 3


def test_the_briefing_and_json_exports(app, client, people, library):
    slug = _made(app, people, title="Briefing", visibility="public",
                 case_ids=[library["first"], library["draft"]])
    pack = client.get(f"/collections/{slug}/briefing.md")
    assert pack.mimetype == "text/markdown"
    assert "attachment" in pack.headers["Content-Disposition"]
    text = pack.get_data(as_text=True)
    assert text.startswith("# Briefing\n")
    assert "<http://localhost/collections/briefing>" in text
    assert "Apprenticeships with employers" in text and "unpublished draft" not in text
    exported = client.get(f"/collections/{slug}/export.json")
    assert exported.mimetype == "application/json"
    assert exported.headers["Content-Disposition"].startswith('attachment; filename="collection-')
    data = exported.get_json()
    assert [item["case"]["id"] for item in data["items"]] == [library["first"]]
    assert data["url"] == "http://localhost/collections/briefing"


def test_no_path_shows_a_private_collection_to_anyone_but_its_owner(app, client, auth, people,
                                                                   library):
    slug = _made(app, people, title="Secret plans", visibility="private",
                 case_ids=[library["first"]])
    paths = [f"/collections/{slug}", f"/collections/{slug}/briefing.md",
             f"/collections/{slug}/export.csv", f"/collections/{slug}/export.json",
             f"/feeds/collections/{slug}.atom", f"/collections/{slug}/items/{library['first']}"]
    for name in ("anonymous", "other_member", "facilitator", "admin"):
        if name != "anonymous":
            auth.login_as(app, people[name])
        for path in paths:
            response = client.get(path)
            assert response.status_code in (302, 404), (name, path)
            assert "Secret plans" not in response.get_data(as_text=True), (name, path)
        for page in ("/collections/", "/collections/mine", "/search?q=apprenticeships"):
            assert "Secret plans" not in client.get(page).get_data(as_text=True), (name, page)
        auth.logout()
    auth.login_as(app, people["member"])
    assert "Secret plans" in _page(client, "/collections/mine")
    assert client.get(f"/feeds/collections/{slug}.atom").status_code == 404


def test_the_demo_has_a_featured_public_collection_and_a_network_one(app, client, demo_network):
    assert "2 collections" in demo_network
    with app.app_context():
        featured = collections.featured_collections(None)
        assert len(featured) == 1 and featured[0].is_public
        assert len(collections.visible_items(None, featured[0])) == 6
        assert all(item.note for item in collections.visible_items(None, featured[0]))
        network = db.session.scalar(select(Collection).where(
            Collection.visibility == CollectionVisibility.NETWORK))
        owner = network.owner
        researcher = db.session.scalar(select(User).where(User.email == "researcher@demo.kb"))
        assert len(collections.visible_items(owner, network)) == 3
        assert len(collections.visible_items(researcher, network)) == 2
        slugs = featured[0].slug, network.slug
    page = _page(client, "/collections/")
    assert "Apprenticeships across the network" in page and "Newcomer youth" not in page
    assert client.get(f"/feeds/collections/{slugs[0]}.atom").status_code == 200
    assert client.get(f"/collections/{slugs[1]}").status_code == 404


class _Structure(HTMLParser):
    """Headings in order, form controls and the labels pointing at them."""

    def __init__(self):
        super().__init__()
        self.levels: list[int] = []
        self.controls: list[str] = []
        self.labelled: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if re.fullmatch(r"h[1-6]", tag):
            self.levels.append(int(tag[1]))
        elif tag == "label" and attrs.get("for"):
            self.labelled.add(attrs["for"])
        elif tag in ("select", "textarea") or (
                tag == "input" and attrs.get("type") not in ("hidden", "submit")):
            self.controls.append(attrs.get("id", f"<{tag} without id>"))


def test_collection_pages_have_one_h1_headings_in_order_and_labelled_controls(app, client, auth,
                                                                            people, library):
    with app.app_context():
        member = user(people, "member")
        slug = make(member, visibility="public",
                    case_ids=[library["first"], library["second"]]).slug
        case_slug = db.session.get(CaseStudy, library["first"]).slug
    auth.login_as(app, people["member"])
    pages = ["/collections/", "/collections/mine", "/collections/new", f"/collections/{slug}",
             f"/collections/{slug}/edit", f"/collections/{slug}/delete",
             f"/collections/{slug}/items/{library['first']}", f"/cases/{case_slug}",
             "/search?q=apprenticeships", f"/compare?ids={library['first']}&ids={library['second']}"]
    bodies = {path: _page(client, path) for path in pages}
    refused = client.post("/collections/add", data={"collection": 0})
    bodies["/collections/add"] = refused.get_data(as_text=True)
    for path, body in bodies.items():
        found = _Structure()
        found.feed(body)
        assert found.levels.count(1) == 1, path
        assert all(b - a <= 1 for a, b in zip(found.levels, found.levels[1:])), (path, found.levels)
        unlabelled = [control for control in found.controls if control not in found.labelled]
        assert not unlabelled, (path, unlabelled)


def _holding(page: str) -> list[str]:
    """The collection titles of a case page's "In collections" section, in order."""
    if 'id="holding-heading"' not in page:
        return []
    section = page[page.index('id="holding-heading"'):]
    section = section[:section.index("</section>")]
    return re.findall(r'href="/collections/[^"]+">([^<]+)</a>', section)


def test_a_case_page_names_the_collections_holding_it_that_the_visitor_may_see(
        app, client, auth, people, library):
    for title, visibility in (("Open reading", "public"), ("Network reading", "network"),
                              ("My shortlist", "private")):
        _made(app, people, title=title, visibility=visibility, case_ids=[library["first"]])
    _made(app, people, title="Other practice only", visibility="public",
          case_ids=[library["second"]])
    with app.app_context():
        network = db.session.scalar(
            select(Collection).where(Collection.title == "Network reading"))
        collections.set_featured(user(people, "facilitator"), network, True)
        db.session.commit()
        first, second = (db.session.get(CaseStudy, library[name]).slug
                         for name in ("first", "second"))

    assert _holding(_page(client, f"/cases/{first}")) == ["Open reading"]
    assert _holding(_page(client, f"/cases/{second}")) == ["Other practice only"]
    auth.login_as(app, people["researcher"])
    page = _page(client, f"/cases/{first}")
    assert _holding(page) == ["Network reading", "Open reading"]  # the featured one first
    assert 'Network reading</a> <span class="badge">Featured</span>' in page
    auth.logout()
    auth.login_as(app, people["member"])
    page = _page(client, f"/cases/{first}")
    assert _holding(page) == ["Network reading", "My shortlist", "Open reading"]
    assert "My shortlist</a> <span class=\"meta\">(private: only you see it)</span>" in page
    # Taken out of every collection, the case page has no such section.
    with app.app_context():
        for collection in db.session.scalars(select(Collection).where(Collection.title.in_(
                ["Open reading", "Network reading", "My shortlist"]))):
            collections.remove_case(user(people, "member"), collection, library["first"])
        db.session.commit()
    assert 'id="holding-heading"' not in _page(client, f"/cases/{first}")
