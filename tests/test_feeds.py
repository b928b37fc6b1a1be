"""Atom feeds, read back with feedparser: newly published case studies, any search, collections.

Feeds are anonymous: whoever asks, they hold published case studies and
public collections only, never a draft or a network or private collection.
"""

from __future__ import annotations

from datetime import datetime, timezone
from html.parser import HTMLParser
from xml.etree import ElementTree

import feedparser
import pytest
from factories import write_case
from instances import seed
from markupsafe import Markup

from kb.extensions import db
from kb.models import CaseStudy, User
from kb.services import collections, feeds
from kb.services.collections import CollectionInput

ATOM = "{http://www.w3.org/2005/Atom}"


@seed("taxonomy", "people")
def published(taxonomy, people):
    """Three published case studies (oldest first) and a draft by member; ids by name."""
    member = db.session.get(User, people["member"])
    made = {
        "old": write_case(member, taxonomy, title="Old apprenticeship scheme",
                          summary="What Old apprenticeship scheme did.", outcomes="It **worked**."),
        "seoul": write_case(member, taxonomy, title="Seoul apprenticeship schools", city="seoul"),
        "hostile": write_case(member, taxonomy, title="Tags <b>&amp; ampersands</b> & “quotes”",
                              summary="Summary with <script>alert(1)</script>",
                              body="<script>alert(2)</script> [link](javascript:alert(3))",
                              outcomes="<img src=x onerror=alert(4)> **bold**"),
        "draft": write_case(member, taxonomy, title="Secret draft apprenticeship", publish=False),
    }
    # Published in this order, a minute apart.
    for minutes, name in enumerate(("old", "seoul", "hostile")):
        made[name].published_at = datetime(2026, 3, 1, 9, minutes, tzinfo=timezone.utc)
    db.session.commit()
    return {name: case.id for name, case in made.items()}


def parsed(client, url: str, status: int = 200):
    """The feed at ``url``, parsed; it must be well-formed Atom."""
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.get_data())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return feed


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.found.add(tag)
        self.found.update(f"{tag}[{name}]" for name, _value in attrs)


def elements_and_attributes(html: str) -> set[str]:
    """The element names and ``tag[attribute]`` pairs in ``html``."""
    tags = _Tags()
    tags.feed(html)
    return tags.found


def test_newly_published_feed_lists_published_case_studies_newest_first(client, published):
    feed = parsed(client, "/feeds/cases.atom")
    assert feed.feed.title == "kb: newly published case studies"
    assert feed.feed.id == "http://localhost/feeds/cases.atom"
    links = {link.rel: link.href for link in feed.feed.links}
    assert links == {"self": "http://localhost/feeds/cases.atom",
                     "alternate": "http://localhost/cases/"}
    assert feed.feed.author == "kb"
    titles = [entry.title for entry in feed.entries]
    assert titles == ["Tags <b>&amp; ampersands</b> & “quotes”", "Seoul apprenticeship schools",
                      "Old apprenticeship scheme"]
    old = feed.entries[2]
    assert old.id == old.link == "http://localhost/cases/old-apprenticeship-scheme"
    assert old.author == "Test member"
    assert old.published_parsed[:5] == (2026, 3, 1, 9, 0)
    assert old.updated
    assert {tag.term for tag in old.tags} == {"toronto", "work-based-learning"}
    assert old.summary == "What Old apprenticeship scheme did."
    content = old.content[0]
    assert content.type == "text/html"
    assert "It <strong>worked</strong>." in content.value
    assert "<strong>City:</strong> Toronto" in content.value


def test_no_feed_carries_a_draft_even_for_its_author(app, client, auth, people, published):
    auth.login_as(app, people["member"])
    for url in ("/feeds/cases.atom", "/feeds/search.atom?q=apprenticeship",
                "/feeds/search.atom"):
        feed = parsed(client, url)
        assert "Secret draft apprenticeship" not in [entry.title for entry in feed.entries], url
        assert b"Secret draft" not in client.get(url).get_data(), url


def test_hostile_text_is_escaped_and_content_is_sanitized(client, published):
    response = client.get("/feeds/cases.atom")
    root = ElementTree.fromstring(response.get_data())
    entry = next(e for e in root.iter(f"{ATOM}entry")
                 if e.findtext(f"{ATOM}title").startswith("Tags"))
    assert entry.findtext(f"{ATOM}title") == "Tags <b>&amp; ampersands</b> & “quotes”"
    content = entry.find(f"{ATOM}content")
    assert content.get("type") == "html"
    html = content.text
    assert elements_and_attributes(html) <= {"p", "ul", "li", "strong", "h2"}
    assert "Summary with &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<strong>bold</strong>" in html


def test_the_search_feed_follows_the_query_and_filters_of_the_search_page(client, published):
    feed = parsed(client, "/feeds/search.atom?q=apprenticeship&city=seoul&sort=title&page=3")
    assert [entry.title for entry in feed.entries] == ["Seoul apprenticeship schools"]
    assert feed.feed.title == "kb search: “apprenticeship” (City: Seoul)"
    links = {link.rel: link.href for link in feed.feed.links}
    assert links["self"] == "http://localhost/feeds/search.atom?q=apprenticeship&city=seoul"
    assert links["alternate"] == "http://localhost/search?q=apprenticeship&sort=newest&city=seoul"
    everything = parsed(client, "/feeds/search.atom")
    assert len(everything.entries) == 3
    assert everything.feed.title == "kb search: every case study"


def test_a_search_with_nothing_found_is_a_valid_empty_feed(client, published):
    feed = parsed(client, "/feeds/search.atom?q=zzzyzzx+-&city=nowhere")
    assert feed.entries == []
    assert feed.feed.updated_parsed[:3] == (2026, 1, 1)


def test_the_search_page_links_its_feed(client, published):
    page = client.get("/search?q=apprenticeship&city=seoul&sort=title").get_data(as_text=True)
    feed_url = "/feeds/search.atom?q=apprenticeship&amp;city=seoul"
    assert (f'<link rel="alternate" type="application/atom+xml" title="Atom feed of this search" '
            f'href="{feed_url}">') in page
    assert f'<a href="{feed_url}" type="application/atom+xml">' in page
    home = client.get("/").get_data(as_text=True)
    assert ('type="application/atom+xml" title="Newly published case studies" '
            'href="/feeds/cases.atom"') in home


def test_a_public_collections_feed_keeps_the_curated_order_and_notes(app, client, people,
                                                                    published):
    with app.app_context():
        member = db.session.get(User, people["member"])
        collection = collections.create_collection(member, CollectionInput(
            title="Apprenticeships & more", visibility="public"))
        collections.add_cases(member, collection,
                              [published["seoul"], published["draft"], published["old"]])
        collections.set_note(member, collection, published["seoul"], "Start *here*.")
        db.session.commit()
        slug = collection.slug
    feed = parsed(client, f"/feeds/collections/{slug}.atom")
    assert feed.feed.title == "Apprenticeships & more"
    assert feed.feed.author == "Test member"
    links = {link.rel: link.href for link in feed.feed.links}
    assert links["alternate"] == f"http://localhost/collections/{slug}"
    assert [entry.title for entry in feed.entries] == ["Seoul apprenticeship schools",
                                                       "Old apprenticeship scheme"]
    first = feed.entries[0]
    assert first.id == f"http://localhost/collections/{slug}#case-{published['seoul']}"
    assert first.link == "http://localhost/cases/seoul-apprenticeship-schools"
    assert "Start <em>here</em>." in first.content[0].value
    page = client.get(f"/collections/{slug}").get_data(as_text=True)
    assert f'href="/feeds/collections/{slug}.atom"' in page


def test_network_and_private_collections_have_no_feed_even_for_their_owner(app, client, auth,
                                                                          people, published):
    with app.app_context():
        member = db.session.get(User, people["member"])
        slugs = [collections.create_collection(member, CollectionInput(
            title=f"{visibility} list", visibility=visibility)).slug
            for visibility in ("network", "private")]
        db.session.commit()
    auth.login_as(app, people["member"])
    for slug in slugs:
        assert client.get(f"/feeds/collections/{slug}.atom").status_code == 404
        page = client.get(f"/collections/{slug}").get_data(as_text=True)
        assert "/feeds/collections/" not in page
    assert client.get("/feeds/collections/no-such.atom").status_code == 404


def test_feed_readers_get_a_304_for_an_unchanged_feed(client, published):
    first = client.get("/feeds/cases.atom")
    assert first.headers["ETag"] and first.headers["Last-Modified"]
    again = client.get("/feeds/cases.atom", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.get_data() == b""


def test_characters_xml_cannot_carry_are_dropped(app_ctx):
    moment = datetime(2026, 5, 1, tzinfo=timezone.utc)
    entry = feeds.Entry(id="https://kb.example/cases/x", title="Bad\x01\ufffe characters\x0b",
                        link="https://kb.example/cases/x", updated=moment, author="A\x00uthor",
                        summary="\ud800lone surrogate", content=Markup("<p>fine</p>"))
    feed = feeds.Feed(id="https://kb.example/f", title="T", subtitle="",
                      self_url="https://kb.example/f", page_url="https://kb.example/",
                      site_url="https://kb.example/", author="kb", entries=[entry])
    body = feeds.atom_xml(feed)
    parsed_feed = feedparser.parse(body)
    assert not parsed_feed.bozo
    assert parsed_feed.entries[0].title == "Bad characters"
    assert parsed_feed.entries[0].author == "Author"
    assert parsed_feed.feed.updated_parsed[:3] == (2026, 5, 1)


def test_the_feed_builders_refuse_what_is_not_public(app_ctx, people, published):
    member = db.session.get(User, people["member"])
    draft = db.session.get(CaseStudy, published["draft"])
    with pytest.raises(ValueError):
        feeds.cases_feed([draft], title="t", subtitle="", self_url="u", page_url="p",
                         site_url="s", case_url=lambda case: case.slug)
    private = collections.create_collection(member, CollectionInput(title="Mine"))
    with pytest.raises(ValueError):
        feeds.collection_feed(private, [], self_url="u", page_url="p", site_url="s",
                              case_url=lambda case: case.slug)
