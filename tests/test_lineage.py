"""Adaptation lineage: recording which practice a case study adapts, the pages, the search filter.

Service rules (who may record, no self-links, no cycles, drafts never
shown to those who may not see them) are tested through
:mod:`kb.services.lineage`; the pages through the test client.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from factories import write_case
from index_checks import assert_index_matches_database

from kb import search
from kb.errors import Conflict, NotFound, PermissionDenied, ValidationError
from kb.extensions import db
from kb.models import Adaptation, AdaptationKind, CaseStudy, City, User
from kb.services import case_studies, lineage, review
from kb.services.lineage import AdaptationInput
from kb.services.policy import case_visibility


@pytest.fixture
def denver(app_ctx, taxonomy):
    """A third city, so that lineages can cross three."""
    city = City(slug="denver", name="Denver", country="United States")
    db.session.add(city)
    db.session.commit()
    return city.id


@pytest.fixture
def practices(users, taxonomy, denver):
    """Published case studies by member in three cities, and member's draft; by name."""
    made = {
        "toronto": write_case(users["member"], taxonomy, title="Toronto mentors").id,
        "seoul": write_case(users["member"], taxonomy, title="Seoul mentors",
                            city_id=taxonomy["cities"]["seoul"]).id,
        "denver": write_case(users["member"], taxonomy, title="Denver mentors", city_id=denver).id,
        "denver_two": write_case(users["member"], taxonomy, title="Denver guides",
                                 city_id=denver).id,
        "draft": write_case(users["member"], taxonomy, title="Draft mentors", publish=False).id,
    }
    return {name: db.session.get(CaseStudy, case_id) for name, case_id in made.items()}


def link(user, adapting, source, kind="adapted", **texts) -> Adaptation:
    """Record (and commit) that ``adapting`` adapts ``source``."""
    made = lineage.record_adaptation(user, adapting, source.id, AdaptationInput(kind=kind, **texts))
    db.session.commit()
    return made


# Recording, editing, removing ------------------------------------------------------------

def test_recording_keeps_the_kind_the_cleaned_texts_and_who_recorded_it(users, practices):
    made = link(users["member"], practices["seoul"], practices["toronto"], "inspired_by",
                kept=" Mentors\r\nfrom firms ", changed="Shorter\x00 placements", reasons="Law",
                results="**Better** attendance")
    assert made.kind is AdaptationKind.INSPIRED_BY
    assert (made.kept, made.changed) == ("Mentors\nfrom firms", "Shorter placements")
    assert (made.reasons, made.results) == ("Law", "**Better** attendance")
    assert made.author_id == users["member"].id
    assert made.created_at is not None and made.updated_at is not None


@pytest.mark.parametrize("who, allowed", [
    ("member", True), ("facilitator", True), ("admin", True),
    ("other_member", False), ("researcher", False),
])
def test_the_adapting_case_studys_author_and_curators_record_links(users, practices, who, allowed):
    if allowed:
        assert link(users[who], practices["seoul"], practices["toronto"]).id
    else:
        with pytest.raises(PermissionDenied):
            link(users[who], practices["seoul"], practices["toronto"])


def test_a_case_study_cannot_adapt_itself(users, practices):
    with pytest.raises(ValidationError) as raised:
        link(users["member"], practices["seoul"], practices["seoul"])
    assert "source_id" in raised.value.errors


@pytest.mark.parametrize("source_id", [None, 0, -3, 2**40, 999_999])
def test_an_unknown_source_is_refused_on_its_field(users, practices, source_id):
    with pytest.raises(ValidationError) as raised:
        lineage.record_adaptation(users["member"], practices["seoul"], source_id,
                                  AdaptationInput(kind="adapted"))
    assert "source_id" in raised.value.errors


def test_a_draft_the_user_cannot_see_is_refused_like_a_missing_source(users, taxonomy,
                                                                     practices):
    other_draft = write_case(users["other_member"], taxonomy, title="Other draft", publish=False).id
    with pytest.raises(ValidationError) as raised:
        lineage.record_adaptation(users["member"], practices["seoul"], other_draft,
                                  AdaptationInput(kind="adapted"))
    assert raised.value.errors == {"source_id": ["Choose the case study this practice adapts."]}


def test_a_bad_kind_and_overlong_texts_are_refused_per_field(users, practices):
    with pytest.raises(ValidationError) as raised:
        lineage.record_adaptation(users["member"], practices["seoul"], practices["toronto"].id,
                                  AdaptationInput(kind="borrowed", kept="x" * 11), max_text=10)
    assert set(raised.value.errors) == {"kind", "kept"}


def test_a_pair_is_recorded_once(users, practices):
    link(users["member"], practices["seoul"], practices["toronto"])
    with pytest.raises(Conflict, match="already recorded"):
        link(users["facilitator"], practices["seoul"], practices["toronto"], "adopted")


@pytest.mark.parametrize("closing", [("toronto", "seoul"), ("toronto", "denver")])
def test_no_case_study_may_descend_from_itself(users, practices, closing):
    # toronto -> seoul -> denver: seoul or denver cannot also be a source of toronto.
    link(users["member"], practices["seoul"], practices["toronto"])
    link(users["member"], practices["denver"], practices["seoul"])
    adapting, source = closing
    with pytest.raises(Conflict, match="already descends from"):
        link(users["member"], practices[adapting], practices[source])
    db.session.rollback()
    assert db.session.scalar(select(db.func.count()).select_from(Adaptation)) == 2


def test_the_database_refuses_self_links_and_repeated_pairs(users, practices):
    seoul, toronto = practices["seoul"], practices["toronto"]
    db.session.add(Adaptation(source_id=seoul.id, adapting_id=seoul.id, kind=AdaptationKind.ADOPTED,
                              author_id=users["member"].id))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    for _ in range(2):
        db.session.add(Adaptation(source_id=toronto.id, adapting_id=seoul.id,
                                  kind=AdaptationKind.ADOPTED, author_id=users["member"].id))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_editing_changes_the_kind_and_texts_only(users, practices):
    made = link(users["member"], practices["seoul"], practices["toronto"], kept="Old")
    created = made.updated_at
    lineage.update_adaptation(users["facilitator"], made,
                              AdaptationInput(kind="tried_and_dropped", kept="New", results="Ended"))
    db.session.commit()
    assert (made.kind, made.kept, made.results) == (AdaptationKind.TRIED_AND_DROPPED, "New", "Ended")
    assert (made.source_id, made.adapting_id) == (practices["toronto"].id, practices["seoul"].id)
    assert made.updated_at >= created
    with pytest.raises(PermissionDenied):
        lineage.update_adaptation(users["other_member"], made, AdaptationInput(kind="adopted"))
    with pytest.raises(ValidationError):
        lineage.update_adaptation(users["member"], made, AdaptationInput(kind=""))


def test_removing_deletes_the_link_and_never_the_case_studies(users, practices):
    made = link(users["member"], practices["seoul"], practices["toronto"])
    with pytest.raises(PermissionDenied):
        lineage.remove_adaptation(users["researcher"], made)
    lineage.remove_adaptation(users["member"], made)
    db.session.commit()
    assert db.session.scalars(select(Adaptation)).all() == []
    assert db.session.get(CaseStudy, practices["toronto"].id) is not None


def test_deleting_a_case_study_deletes_its_links(users, practices):
    link(users["member"], practices["draft"], practices["toronto"])
    link(users["member"], practices["seoul"], practices["draft"])
    case_studies.delete_case(users["member"], practices["draft"])
    db.session.commit()
    assert db.session.scalars(select(Adaptation)).all() == []
    assert_index_matches_database()


def test_source_candidates_leave_out_what_would_be_refused(users, practices):
    link(users["member"], practices["seoul"], practices["toronto"])
    link(users["member"], practices["denver"], practices["seoul"])
    offered = {c.id for c in lineage.source_candidates(users["member"], practices["seoul"])}
    # Not itself, not its source (toronto) already taken, not its descendant (denver).
    assert offered == {practices["denver_two"].id, practices["draft"].id}
    hidden = {c.id for c in lineage.source_candidates(users["other_member"], practices["seoul"])}
    assert practices["draft"].id not in hidden


# Reading: visibility ---------------------------------------------------------------------

def test_links_to_a_draft_are_seen_only_by_who_may_see_the_draft(users, practices):
    link(users["member"], practices["draft"], practices["toronto"])
    for who, sees in [(None, False), ("researcher", False), ("other_member", False),
                      ("member", True), ("facilitator", True)]:
        user = users[who] if who else None
        assert bool(lineage.case_links(user, practices["toronto"]).adapted_by) is sees, who
        made = db.session.scalars(select(Adaptation)).one()
        if sees:
            assert lineage.get_adaptation(user, made.id) is made
        else:
            with pytest.raises(NotFound):
                lineage.get_adaptation(user, made.id)


def test_adapted_from_and_by_are_sorted_by_city(users, practices):
    link(users["member"], practices["seoul"], practices["toronto"])
    link(users["member"], practices["denver"], practices["toronto"])
    link(users["member"], practices["denver"], practices["denver_two"])
    toronto, denver = (lineage.case_links(None, practices[city]) for city in ("toronto", "denver"))
    assert [a.adapting.city.name for a in toronto.adapted_by] == ["Denver", "Seoul"]
    assert [a.source.title for a in denver.adapted_from] == ["Denver guides", "Toronto mentors"]
    assert toronto.adapted_from == [] and denver.adapted_by == []


# The tree ------------------------------------------------------------------------------------

def shape(nodes, depth=0) -> list[tuple]:
    """A lineage tree as (depth, title, kind, repeat) in page order."""
    lines = []
    for node in nodes:
        lines.append((depth, node.case.title, node.link.kind.value if node.link else None,
                      node.repeat))
        lines += shape(node.children, depth + 1)
    return lines


def test_a_chain_across_three_cities_is_one_tree_from_its_root(users, practices):
    link(users["member"], practices["seoul"], practices["toronto"])
    link(users["member"], practices["denver"], practices["seoul"], "tried_and_dropped")
    for start in ("toronto", "seoul", "denver"):
        tree = lineage.lineage(None, practices[start])
        assert shape(tree.roots) == [(0, "Toronto mentors", None, False),
                                     (1, "Seoul mentors", "adapted", False),
                                     (2, "Denver mentors", "tried_and_dropped", False)]
        assert [city.name for city in tree.cities] == ["Toronto", "Seoul", "Denver"]
        assert tree.links == 2 and not tree.truncated


def test_a_case_study_with_two_sources_appears_under_both_and_in_full_once(users, practices):
    link(users["member"], practices["seoul"], practices["toronto"])
    link(users["member"], practices["denver"], practices["seoul"])
    link(users["member"], practices["denver"], practices["denver_two"], "inspired_by")
    tree = lineage.lineage(None, practices["denver"])
    assert shape(tree.roots) == [(0, "Denver guides", None, False),
                                 (1, "Denver mentors", "inspired_by", False),
                                 (0, "Toronto mentors", None, False),
                                 (1, "Seoul mentors", "adapted", False),
                                 (2, "Denver mentors", "adapted", True)]
    # From the root of one branch, the other source is named but not drawn.
    toronto_tree = lineage.lineage(None, practices["toronto"])
    denver_node = toronto_tree.roots[0].children[0].children[0]
    assert [c.title for c in denver_node.other_sources] == ["Denver guides"]
    assert len(toronto_tree.cases) == 3


def test_a_draft_in_the_middle_is_left_out_for_those_who_may_not_see_it(users, practices):
    link(users["member"], practices["draft"], practices["toronto"])
    link(users["member"], practices["seoul"], practices["draft"])
    anonymous = lineage.lineage(None, practices["seoul"])
    assert shape(anonymous.roots) == [(0, "Seoul mentors", None, False)]
    assert "Draft mentors" not in {c.title for c in lineage.lineage(None, practices["toronto"]).cases}
    author = lineage.lineage(users["member"], practices["seoul"])
    assert [title for _, title, _, _ in shape(author.roots)] == [
        "Toronto mentors", "Draft mentors", "Seoul mentors"]
    with pytest.raises(NotFound):
        lineage.lineage(users["other_member"], practices["draft"])


def test_a_huge_family_is_cut_short_and_says_so(users, practices, monkeypatch):
    monkeypatch.setattr(lineage, "MAX_LINEAGE_CASES", 3)
    for name in ("seoul", "denver", "denver_two", "draft"):
        link(users["member"], practices[name], practices["toronto"])
    tree = lineage.lineage(users["member"], practices["toronto"])
    assert tree.truncated and len(tree.cases) == 3


# Search: the lineage filter ------------------------------------------------------------------

def lineage_facet(user=None) -> dict[str, int]:
    facets = search.search(case_visibility(user), "").facets
    return {v.value: v.count for v in facets.get("lineage", [])}


def test_the_lineage_filter_follows_links_and_counts_only_published_ends(users, practices):
    toronto, seoul, draft = practices["toronto"], practices["seoul"], practices["draft"]
    assert lineage_facet() == {}
    made = link(users["member"], seoul, toronto)
    assert lineage_facet() == {"adapted": 1, "adapts": 1}
    assert search.search(case_visibility(None), "", {"lineage": ["adapted"]}).ids == [toronto.id]
    assert search.search(case_visibility(None), "", {"lineage": ["adapts"]}).ids == [seoul.id]
    assert_index_matches_database()

    # A draft adapting a practice counts as adapting it for those who may see the draft,
    # but the practice it adapts is not "adapted" in anyone's counts.
    link(users["member"], draft, practices["denver"])
    assert lineage_facet() == {"adapted": 1, "adapts": 1}
    assert lineage_facet(users["facilitator"]) == {"adapted": 1, "adapts": 2}
    curator = case_visibility(users["facilitator"])
    assert search.search(curator, "", {"lineage": ["adapted"]}).ids == [toronto.id]
    # Publishing it re-indexes the practice it adapts; archiving undoes that.
    review.publish_as_system(draft)
    db.session.commit()
    assert lineage_facet() == {"adapted": 2, "adapts": 2}
    review.archive(users["member"], draft)
    db.session.commit()
    assert lineage_facet() == {"adapted": 1, "adapts": 1}
    assert_index_matches_database()

    lineage.remove_adaptation(users["member"], made)
    db.session.commit()
    assert lineage_facet() == {}
    assert_index_matches_database()


# Pages ----------------------------------------------------------------------------------------

@pytest.fixture
def linked(users, practices):
    """toronto -> seoul (published) and toronto -> draft (member's)."""
    link(users["member"], practices["seoul"], practices["toronto"], kept="Mentor **training**",
         reasons="Korean labour law")
    link(users["member"], practices["draft"], practices["toronto"], "adopted")
    return {name: (case.slug, case.id) for name, case in practices.items()}


def test_case_pages_show_adapted_from_and_adapted_by_without_drafts(client, auth, app, people,
                                                                     linked):
    page = client.get(f"/cases/{linked['toronto'][0]}").get_data(as_text=True)
    assert "Adapted by" in page and "Seoul mentors" in page and "Draft mentors" not in page
    assert "Mentor <strong>training</strong>" in page
    assert "lineage/new" not in page and "/adaptations/new" not in page
    seoul = client.get(f"/cases/{linked['seoul'][0]}").get_data(as_text=True)
    assert "Adapted from" in seoul and "Toronto mentors" in seoul
    auth.login_as(app, people["member"])
    page = client.get(f"/cases/{linked['toronto'][0]}").get_data(as_text=True)
    assert "Draft mentors" in page and f"/cases/{linked['toronto'][0]}/adaptations/new" in page


def test_the_lineage_page_draws_the_tree_without_drafts_for_visitors(client, auth, app, people,
                                                                   linked):
    response = client.get(f"/cases/{linked['seoul'][0]}/lineage")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    tree = page[page.index("lineage-root"):]
    assert tree.index("Toronto mentors") < tree.index("Seoul mentors")
    assert "Korean labour law" in page and "Draft mentors" not in page
    assert '<ul class="lineage-tree">' in page and "<script" not in page
    assert client.get(f"/cases/{linked['draft'][0]}/lineage").status_code == 404
    auth.login_as(app, people["member"])
    assert "Draft mentors" in client.get(f"/cases/{linked['seoul'][0]}/lineage").get_data(
        as_text=True)


def test_recording_through_the_form(client, auth, app, people, practices):
    auth.login_as(app, people["member"])
    seoul, toronto = practices["seoul"], practices["toronto"]
    form = client.get(f"/cases/{seoul.slug}/adaptations/new").get_data(as_text=True)
    toronto_group = form[form.index('<optgroup label="Toronto">'):]
    assert f'<option value="{toronto.id}">Toronto mentors</option>' in toronto_group
    response = client.post(f"/cases/{seoul.slug}/adaptations/new", data={
        "source_id": toronto.id, "kind": "adapted", "changed": "Two days a week"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cases/{seoul.slug}#lineage-heading")
    made = db.session.scalars(select(Adaptation)).one()
    assert (made.source_id, made.adapting_id, made.changed) == (toronto.id, seoul.id,
                                                                "Two days a week")
    # The same link again, and one making a loop, are shown as errors on the form.
    again = client.post(f"/cases/{seoul.slug}/adaptations/new",
                        data={"source_id": toronto.id, "kind": "adopted"})
    assert again.status_code == 400 and "already recorded" in again.get_data(as_text=True)
    loop = client.post(f"/cases/{toronto.slug}/adaptations/new",
                       data={"source_id": seoul.id, "kind": "adopted"})
    assert loop.status_code == 400 and "already descends from" in loop.get_data(as_text=True)
    for bad in ("", "abc", "99999999999999999999"):
        response = client.post(f"/cases/{seoul.slug}/adaptations/new",
                               data={"source_id": bad, "kind": "adapted"})
        assert response.status_code == 400


def test_editing_and_removing_through_the_forms(client, auth, app, people, linked):
    made = db.session.scalar(select(Adaptation).where(Adaptation.adapting_id == linked["seoul"][1]))
    made_id = made.id
    auth.login_as(app, people["facilitator"])
    form = client.get(f"/adaptations/{made_id}/edit").get_data(as_text=True)
    assert "Korean labour law" in form
    response = client.post(f"/adaptations/{made_id}/edit",
                           data={"kind": "inspired_by", "kept": "", "changed": "Everything",
                                 "reasons": "", "results": ""})
    assert response.status_code == 302
    db.session.expire_all()
    made = db.session.get(Adaptation, made_id)
    assert (made.kind, made.changed, made.kept) == (AdaptationKind.INSPIRED_BY, "Everything", "")
    assert client.post(f"/adaptations/{made_id}/edit", data={"kind": "copied"}).status_code == 400
    assert "Remove the link" in client.get(f"/adaptations/{made_id}/delete").get_data(as_text=True)
    assert client.post(f"/adaptations/{made_id}/delete").status_code == 302
    db.session.expire_all()
    assert db.session.get(Adaptation, made_id) is None
    assert client.get(f"/adaptations/{made_id}/edit").status_code == 404


def test_the_search_page_offers_the_lineage_filter(client, linked):
    page = client.get("/search").get_data(as_text=True)
    assert "Adaptation lineage" in page and "Has been adapted" in page
    filtered = client.get("/search?lineage=adapts").get_data(as_text=True)
    assert "Seoul mentors" in filtered and "Denver mentors" not in filtered


def test_the_demo_has_a_lineage_across_three_cities_and_hides_its_draft(app, runner):
    assert runner.invoke(args=["kb", "demo"]).exit_code == 0
    with app.app_context():
        member = db.session.scalar(select(User).where(User.email == "member@demo.kb"))
        widest = max((lineage.lineage(None, case) for case in db.session.scalars(
            select(CaseStudy).where(CaseStudy.adapted_by_links.any()))),
            key=lambda tree: len(tree.cities))
        assert len(widest.cities) >= 3
        drafts = [case for case in db.session.scalars(select(CaseStudy))
                  if case.adapted_from_links and not case.is_published]
        assert drafts
        for draft in drafts:
            source = draft.adapted_from_links[0].source
            assert draft not in lineage.lineage(None, source).cases
            assert draft in lineage.lineage(member, source).cases
