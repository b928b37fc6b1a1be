"""Atom feeds: ``cases`` (newly published), ``search`` (any search), ``collection`` (public ones).

Every feed is built for an anonymous visitor, whoever asks
(:mod:`kb.services.feeds`): a feed address carries no login and is shared
like any link. The search feed takes the search page's query and filters
(:func:`kb.blueprints.browse.search_args`) and lists the newest matches; it
ignores the page's sort and page number. Responses carry ``ETag`` and
``Last-Modified``, so feed readers polling an unchanged feed get a 304.
"""

from __future__ import annotations

from flask import Blueprint, current_app, request, url_for

from kb import search as search_index
from kb.blueprints.browse import search_args, search_url
from kb.models import CaseStudy
from kb.services import collections, feeds, policy

bp = Blueprint("feeds", __name__, url_prefix="/feeds")


def _case_url(case: CaseStudy) -> str:
    return url_for("cases.detail", slug=case.slug, _external=True)


def _site_url() -> str:
    return url_for("main.home", _external=True)


def _atom(feed: feeds.Feed):
    response = current_app.response_class(feeds.atom_xml(feed), mimetype="application/atom+xml")
    response.last_modified = feed.updated
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/cases.atom")
def cases():
    """The most recently published case studies."""
    feed = feeds.cases_feed(
        feeds.recently_published(), title="kb: newly published case studies",
        subtitle="Case studies of education practice across the network's cities",
        self_url=url_for("feeds.cases", _external=True),
        page_url=url_for("cases.index", _external=True), site_url=_site_url(), case_url=_case_url,
    )
    return _atom(feed)


def _search_title(results: search_index.SearchResults) -> str:
    """The feed's title: the words searched for and the filters chosen, by their labels."""
    labels = {name: {value.value: value.label for value in values}
              for name, values in results.facets.items()}
    chosen = [f"{search_index.FACETS[name]}: {labels.get(name, {}).get(value, value)}"
              for name, values in results.filters.items() for value in values]
    words = f"“{results.query}”" if results.query else "every case study"
    return f"kb search: {words}" + (f" ({'; '.join(chosen)})" if chosen else "")


@bp.get("/search.atom")
def search():
    """The newest published case studies matching a search's words and filters."""
    args = search_args()
    anonymous = policy.case_visibility(None)
    results = search_index.search(anonymous, args["q"], args["filters"], sort="newest", page=1,
                                  per_page=feeds.FEED_ENTRIES)
    found = search_index.cases_in_order(anonymous, results.ids, with_problems=True,
                                         with_texts=True)
    feed = feeds.cases_feed(
        found, title=_search_title(results),
        subtitle="The newest published case studies matching this search",
        self_url=search_url(results, endpoint="feeds.search", sort=None, _external=True),
        page_url=search_url(results, sort="newest", _external=True),
        site_url=_site_url(), case_url=_case_url,
    )
    return _atom(feed)


@bp.get("/collections/<slug>.atom")
def collection(slug: str):
    """A public collection's case studies with the curator's notes, in the curated order."""
    shown = collections.get_collection(None, slug)
    feed = feeds.collection_feed(
        shown, collections.visible_items(None, shown),
        self_url=url_for("feeds.collection", slug=slug, _external=True),
        page_url=url_for("collections.detail", slug=slug, _external=True),
        site_url=_site_url(), case_url=_case_url,
    )
    return _atom(feed)
