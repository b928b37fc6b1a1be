"""Atom 1.0 feeds (RFC 4287): newly published case studies, any search, each public collection.

Feeds are anonymous. A feed reader has no session and a feed address is
passed around like any link, so every feed holds what an anonymous visitor
may see, whoever opens it: published case studies, and public collections
only (:mod:`kb.services.policy` with no user).

This module chooses the case studies of the "newly published" feed, turns
case studies into :class:`Entry` values and a :class:`Feed` into XML. The
blueprint finds the rest (search results through the search facade,
collection items through :mod:`kb.services.collections`) and passes every
address in, so nothing here builds a URL or reads the request.

Entry content is HTML made only of escaped text and
:func:`kb.sanitize.render_markdown` output, sent as ``type="html"``. XML 1.0
cannot carry some characters at all (NUL, lone surrogates, U+FFFE); they are
dropped from every text written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from xml.etree import ElementTree

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kb.extensions import db
from kb.models import CaseStudy, Collection, CollectionItem
from kb.sanitize import render_markdown
from kb.services import policy
from kb.services.collections import KEY_FIELDS, MARKDOWN, PARAGRAPH, TEXT

ATOM_NAMESPACE = "http://www.w3.org/2005/Atom"
XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"
# Entries in the "newly published" and search feeds.
FEED_ENTRIES = 50
# The "updated" of a feed with no entries: a fixed instant, so that an empty
# feed does not look changed at every fetch.
EMPTY_FEED_UPDATED = datetime(2026, 1, 1, tzinfo=timezone.utc)
GENERATOR = "kb"

# Characters outside XML 1.0's Char production.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass
class Entry:
    """One entry of a feed; ``content`` is sanitized HTML."""

    id: str
    title: str
    link: str
    updated: datetime
    author: str
    summary: str
    content: Markup
    published: datetime | None = None
    categories: list[tuple[str, str]] = field(default_factory=list)  # (term, label)


@dataclass
class Feed:
    """A feed: what it is, where it lives, and its entries, newest first or in curated order."""

    id: str
    title: str
    subtitle: str
    self_url: str
    page_url: str  # the HTML page showing the same thing
    site_url: str  # base of relative links in entry content
    author: str
    entries: list[Entry]
    changed: datetime | None = None  # besides the entries, e.g. a collection's own edits

    @property
    def updated(self) -> datetime:
        """The newest of the entries' and the feed's own changes."""
        times = [entry.updated for entry in self.entries]
        if self.changed is not None:
            times.append(self.changed)
        return max(times, default=EMPTY_FEED_UPDATED)


def recently_published(limit: int = FEED_ENTRIES) -> list[CaseStudy]:
    """The case studies published most recently, newest first (what anyone may see)."""
    return list(db.session.scalars(
        select(CaseStudy)
        .where(policy.visible_cases_clause(None))
        .options(selectinload(CaseStudy.city), selectinload(CaseStudy.problems),
                 selectinload(CaseStudy.author))
        .order_by(CaseStudy.published_at.desc().nulls_last(), CaseStudy.id.desc())
        .limit(limit)
    ))


def _case_html(case: CaseStudy, note: str = "") -> Markup:
    """An entry's content: the curator's note if any, the summary, key facts and texts."""
    parts: list[Markup] = []
    if note:
        parts.append(Markup("<h2>Curator's note</h2>") + render_markdown(note))
    parts.extend(Markup("<p>{}</p>").format(text) for key_field in KEY_FIELDS
                 if key_field.kind == PARAGRAPH and (text := key_field.value(case)))
    facts = [Markup("<li><strong>{}:</strong> {}</li>").format(key_field.label, text)
             for key_field in KEY_FIELDS
             if key_field.kind == TEXT and (text := key_field.value(case))]
    parts.append(Markup("<ul>") + Markup("").join(facts) + Markup("</ul>"))
    parts.extend(Markup("<h2>{}</h2>").format(key_field.label) + render_markdown(text)
                 for key_field in KEY_FIELDS
                 if key_field.kind == MARKDOWN and (text := key_field.value(case)))
    return Markup("\n").join(parts)


def _case_entry(case: CaseStudy, url: str) -> Entry:
    """The entry of a published case study; its address is its id."""
    return Entry(
        id=url, title=case.title, link=url, updated=case.updated_at,
        published=case.published_at, author=case.author.name, summary=case.summary,
        content=_case_html(case), categories=_categories(case),
    )


def _categories(case: CaseStudy) -> list[tuple[str, str]]:
    return [(case.city.slug, case.city.name),
            *[(problem.slug, problem.name) for problem in case.problems]]


def cases_feed(cases: list[CaseStudy], *, title: str, subtitle: str, self_url: str,
               page_url: str, site_url: str, case_url: Callable[[CaseStudy], str]) -> Feed:
    """A feed of published case studies (the newest, or a search's results), its address its id."""
    if not all(policy.can_view_case(None, case) for case in cases):
        raise ValueError("a feed holds published case studies only")
    return Feed(
        id=self_url, title=title, subtitle=subtitle, self_url=self_url, page_url=page_url,
        site_url=site_url, author=GENERATOR,
        entries=[_case_entry(case, case_url(case)) for case in cases],
    )


def collection_feed(collection: Collection, items: list[CollectionItem], *, self_url: str,
                    page_url: str, site_url: str, case_url: Callable[[CaseStudy], str]) -> Feed:
    """The feed of a public collection: one entry per item, with the curator's note.

    An entry's id is the collection's address with the case study's number
    as fragment: the same case study in another feed is another entry.
    """
    if not policy.can_view_collection(None, collection):
        raise ValueError("only a public collection has a feed")
    entries = [
        Entry(
            id=f"{page_url}#case-{item.case_study.id}", title=item.case_study.title,
            link=case_url(item.case_study),
            updated=max(item.updated_at, item.case_study.updated_at), published=item.added_at,
            author=item.case_study.author.name, summary=item.case_study.summary,
            content=_case_html(item.case_study, item.note),
            categories=_categories(item.case_study),
        )
        for item in items
    ]
    return Feed(
        id=self_url, title=collection.title,
        subtitle=f"A collection curated by {collection.owner.name}",
        self_url=self_url, page_url=page_url, site_url=site_url,
        author=collection.owner.name, entries=entries, changed=collection.updated_at,
    )


# XML -------------------------------------------------------------------------------

def _text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC, e.g. 2026-11-23T18:27:43Z."""
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _add(parent: ElementTree.Element, tag: str, text: str | None = None,
         **attributes: str) -> ElementTree.Element:
    element = ElementTree.SubElement(
        parent, tag, {name: _text(value) for name, value in attributes.items()}
    )
    if text is not None:
        element.text = _text(text)
    return element


def _add_author(parent: ElementTree.Element, name: str) -> None:
    _add(_add(parent, "author"), "name", name or "kb")


def atom_xml(feed: Feed) -> bytes:
    """``feed`` as an Atom 1.0 document, UTF-8 encoded."""
    root = ElementTree.Element("feed", {"xmlns": ATOM_NAMESPACE,
                                        f"{{{XML_NAMESPACE}}}base": _text(feed.site_url)})
    _add(root, "id", feed.id)
    _add(root, "title", feed.title, type="text")
    if feed.subtitle:
        _add(root, "subtitle", feed.subtitle, type="text")
    _add(root, "updated", _timestamp(feed.updated))
    _add_author(root, feed.author)
    _add(root, "link", rel="self", type="application/atom+xml", href=feed.self_url)
    _add(root, "link", rel="alternate", type="text/html", href=feed.page_url)
    _add(root, "generator", GENERATOR)
    for entry in feed.entries:
        element = _add(root, "entry")
        _add(element, "id", entry.id)
        _add(element, "title", entry.title, type="text")
        _add(element, "link", rel="alternate", type="text/html", href=entry.link)
        _add(element, "updated", _timestamp(entry.updated))
        if entry.published is not None:
            _add(element, "published", _timestamp(entry.published))
        _add_author(element, entry.author)
        for term, label in entry.categories:
            _add(element, "category", term=term, label=label)
        _add(element, "summary", entry.summary, type="text")
        _add(element, "content", str(entry.content), type="html")
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
