"""The cross-city search page: a GET form, so every result page has a shareable URL."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for

from kb import search as search_index
from kb.acting import acting_user
from kb.services import policy

bp = Blueprint("browse", __name__)

PER_PAGE = 20


def search_args() -> dict:
    """The query string's search parameters, as the facade takes them (the search feed's too)."""
    return {
        "q": request.args.get("q", ""),
        "filters": {name: request.args.getlist(name) for name in search_index.FACETS},
        "sort": request.args.get("sort", "relevance"),
        "page": request.args.get("page", 1),
    }


def search_url(results: search_index.SearchResults, endpoint: str = "browse.search",
               **changes) -> str:
    """The URL of ``results`` with some parameters changed (``None`` removes one).

    ``endpoint`` "feeds.search" gives the Atom feed of the same search.
    """
    params: dict = {"q": results.query or None, "sort": None if results.sort == "relevance" else results.sort}
    params.update({name: list(values) for name, values in results.filters.items()})
    params.update(changes)
    return url_for(endpoint, **{k: v for k, v in params.items() if v not in (None, "", [])})


def without_filter(results: search_index.SearchResults, name: str, value: str) -> str:
    """The URL of ``results`` with one chosen facet value taken off (and back on page 1)."""
    remaining = [v for v in results.filters.get(name, []) if v != value]
    return search_url(results, **{name: remaining or None, "page": None})


@bp.get("/search")
def search():
    """Search every case study the visitor may see, with facets to narrow down."""
    args = search_args()
    visibility = policy.case_visibility(acting_user())
    results = search_index.search(visibility, args["q"], args["filters"], sort=args["sort"],
                                  page=args["page"], per_page=PER_PAGE)
    cases = search_index.cases_in_order(visibility, results.ids)
    labels = {name: {v.value: v.label for v in values} for name, values in results.facets.items()}
    return render_template(
        "browse/search.html",
        results=results,
        cases=cases,
        labels=labels,
        facets=search_index.FACETS,
        sorts=search_index.SORTS,
        search_url=search_url,
        without_filter=without_filter,
    )
