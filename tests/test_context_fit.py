"""Context fit: a case study's context beside the reader's city, and "cities like mine"."""

from __future__ import annotations

import pytest
from factories import write_case

from kb.errors import PermissionDenied
from kb.extensions import db
from kb.models import AdaptationContext, CaseStudy, City, ContextKind
from kb.services import context_fit
from kb.services.context_fit import Verdict


@pytest.mark.parametrize("theirs, mine, verdict", [
    ("English.", "**english**", Verdict.SAME),
    ("Public  funding,\nmostly", "public funding mostly", Verdict.SAME),
    ("Ｋorean", "korean", Verdict.SAME),
    ("Korean", "English, French", Verdict.DIFFERENT),
    ("", "English", Verdict.UNKNOWN),
    ("English", "  ", Verdict.UNKNOWN),
    ("—", "English", Verdict.UNKNOWN),
])
def test_profile_texts_are_the_same_when_their_words_are(theirs, mine, verdict):
    assert context_fit._text_verdict(theirs, mine) is verdict


@pytest.fixture
def network(users, taxonomy):
    """Toronto (the member's city) and Seoul with profiles; case studies carrying contexts.

    Toronto's published case studies record public funding and a large system;
    its draft records centralised governance, which must not count.
    """
    contexts = taxonomy["contexts"]
    toronto = db.session.get(City, taxonomy["cities"]["toronto"])
    seoul = db.session.get(City, taxonomy["cities"]["seoul"])
    toronto.profile_funding, seoul.profile_funding = "Public, mostly provincial.", "public mostly provincial"
    db.session.commit()
    write_case(users["member"], taxonomy, title="Toronto one",
               context_ids=[contexts["public-funding"], contexts["large-system"]])
    write_case(users["member"], taxonomy, title="Toronto draft", publish=False,
               context_ids=[contexts["centralised-governance"]])
    seoul_case = write_case(users["other_member"], taxonomy, title="Seoul practice", city="seoul",
                            contexts=("centralised-governance", "public-funding")).id
    return {"seoul_case": db.session.get(CaseStudy, seoul_case), "toronto": toronto, "seoul": seoul}


def by_key(rows, key):
    return {getattr(row, key): row for row in rows}


def test_a_case_studys_context_beside_the_readers_city(users, network):
    fit = context_fit.case_fit(users["member"], network["seoul_case"])
    assert fit.own_city is network["toronto"] and not fit.same_city
    profile = by_key(fit.profile, "key")
    assert [row.key for row in fit.profile] == ["governance", "funding", "vet_structure",
                                                 "employer_role", "labour_market", "languages",
                                                 "student_population"]
    assert profile["governance"].verdict is Verdict.DIFFERENT
    assert profile["governance"].theirs == "Metropolitan office of education"
    assert profile["governance"].mine == "Elected school board"
    assert profile["funding"].verdict is Verdict.SAME
    assert profile["languages"].verdict is Verdict.DIFFERENT
    assert profile["labour_market"].verdict is Verdict.UNKNOWN

    contexts = by_key(fit.contexts, "kind")
    assert list(contexts) == list(ContextKind)
    funding = contexts[ContextKind.FUNDING]
    assert funding.verdict is Verdict.SAME
    assert [term.slug for term in funding.shared] == ["public-funding"]
    # Toronto's draft names centralised governance: not recorded for the city.
    governance = contexts[ContextKind.GOVERNANCE]
    assert [t.slug for t in governance.theirs] == ["centralised-governance"]
    assert governance.mine == [] and governance.verdict is Verdict.UNKNOWN
    assert contexts[ContextKind.SCALE].verdict is Verdict.UNKNOWN
    assert dict(fit.tally) == {Verdict.SAME: 2, Verdict.DIFFERENT: 2, Verdict.UNKNOWN: 9}


def test_contexts_of_one_kind_with_none_in_common_are_different(users, taxonomy, network):
    other_scale = AdaptationContext(slug="small-system", name="Small system", kind=ContextKind.SCALE)
    db.session.add(other_scale)
    db.session.commit()
    small = write_case(users["other_member"], taxonomy, title="Seoul small",
                       city_id=network["seoul"].id, context_ids=[other_scale.id]).id
    fit = context_fit.case_fit(users["member"], db.session.get(CaseStudy, small))
    scale = by_key(fit.contexts, "kind")[ContextKind.SCALE]
    assert scale.verdict is Verdict.DIFFERENT and scale.shared == []
    assert [t.slug for t in scale.mine] == ["large-system"]


def test_an_account_without_a_city_and_a_practice_of_ones_own_city(users, network):
    nothing = context_fit.case_fit(users["researcher"], network["seoul_case"])
    assert nothing.own_city is None and nothing.profile == [] and nothing.contexts == []
    own = context_fit.case_fit(users["member"], db.session.scalar(
        db.select(CaseStudy).where(CaseStudy.title == "Toronto one")))
    assert own.same_city


def test_context_fit_needs_someone_signed_in(network):
    with pytest.raises(PermissionDenied):
        context_fit.case_fit(None, network["seoul_case"])
    with pytest.raises(PermissionDenied):
        context_fit.cities_like_mine(None)


@pytest.fixture
def more_cities(users, taxonomy, network):
    """Denver shares everything with Toronto; two cities tie at 50%; Hiroshima records nothing."""
    contexts = taxonomy["contexts"]
    employers = AdaptationContext(slug="employers", name="Employer co-funding",
                                  kind=ContextKind.FUNDING)
    cities = {slug: City(slug=slug, name=slug.capitalize(), country="Somewhere")
              for slug in ("denver", "lisbon", "oslo", "hiroshima")}
    db.session.add_all([employers, *cities.values()])
    db.session.commit()
    recorded = {
        "denver": [contexts["public-funding"], contexts["large-system"]],
        "lisbon": [contexts["large-system"]],  # 1 shared of 2
        "oslo": [contexts["large-system"], contexts["public-funding"],  # 2 shared of 4
                 contexts["centralised-governance"], employers.id],
    }
    for slug, context_ids in recorded.items():
        write_case(users["other_member"], taxonomy, title=f"{slug} case", city_id=cities[slug].id,
                   context_ids=context_ids)
    write_case(users["other_member"], taxonomy, title="hiroshima draft", publish=False,
               city_id=cities["hiroshima"].id, context_ids=[contexts["public-funding"]])
    return cities


def test_cities_like_mine_ranks_by_the_share_of_contexts_in_common(users, more_cities):
    ranking = context_fit.cities_like_mine(users["member"])
    assert ranking.own_city.slug == "toronto"
    assert [t.slug for t in ranking.own_contexts] == ["large-system", "public-funding"]
    assert [(like.city.slug, like.percent) for like in ranking.ranked] == [
        ("denver", 100), ("oslo", 50), ("lisbon", 50), ("seoul", 33)]
    oslo = ranking.ranked[1]
    assert (len(oslo.shared), oslo.in_either) == (2, 4)
    assert [t.slug for t in oslo.only_theirs] == ["centralised-governance", "employers"]
    seoul = ranking.ranked[3]
    assert ([t.slug for t in seoul.only_mine], [t.slug for t in seoul.only_theirs]) == (
        ["large-system"], ["centralised-governance"])
    # A draft records nothing: Hiroshima cannot be scored.
    assert [like.city.slug for like in ranking.unscored] == ["hiroshima"]


def test_cities_like_mine_without_a_city_ranks_nothing(users, more_cities):
    ranking = context_fit.cities_like_mine(users["researcher"])
    assert ranking.own_city is None and ranking.ranked == [] and ranking.unscored == []


# Pages -----------------------------------------------------------------------------------

def test_the_case_page_shows_the_fit_to_signed_in_readers_with_a_city(client, auth, app, people,
                                                                     network):
    url = f"/cases/{network['seoul_case'].slug}"
    assert "Context fit" not in client.get(url).get_data(as_text=True)
    auth.login_as(app, people["member"])
    page = client.get(url).get_data(as_text=True)
    assert "Context fit with your city" in page and "Toronto (yours)" in page
    assert "2 same, 2 different, 9 unknown." in page
    assert 'class="verdict verdict-same">Same' in page
    auth.logout()
    auth.login_as(app, people["researcher"])
    assert "names no city" in client.get(url).get_data(as_text=True)


def test_the_cities_like_mine_page(client, auth, app, people, more_cities):
    assert client.get("/cities-like-mine").status_code == 302
    auth.login_as(app, people["member"])
    page = client.get("/cities-like-mine").get_data(as_text=True)
    ranked = [page.index(f">{name}</a></th>") for name in ("Denver", "Oslo", "Lisbon", "Seoul")]
    assert ranked == sorted(ranked)
    assert "100%" in page and "(2 of 4)" in page
    assert "Not scored" in page and "Hiroshima" in page
    assert 'href="/cities-like-mine"' in client.get("/cities").get_data(as_text=True)
    auth.logout()
    auth.login_as(app, people["researcher"])
    assert "names no city" in client.get("/cities-like-mine").get_data(as_text=True)
