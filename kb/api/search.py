"""Full-text search in the API: the search page's query, filters, facets and highlights."""

from __future__ import annotations

from kb import search as search_index
from kb.acting import acting_user
from kb.api import bp, schemas
from kb.api.schemas import SearchPage, SearchQuery
from kb.api.spec import operation
from kb.services import policy


@operation(bp, "GET", "/search", tag="Search", response=SearchPage, query=SearchQuery)
def search(query: SearchQuery):
    """Search case studies

    What the search page does: the case studies the caller may see that match
    `q`, ranked, with facet counts (each facet counted under the other
    facets' filters), highlighted titles and snippets, and a "did you mean"
    when little is found.
    """
    visibility = policy.case_visibility(acting_user())
    results = search_index.search(visibility, query.q, query.facet_filters(), sort=query.sort,
                                  page=query.page, per_page=query.per_page)
    cases = search_index.cases_in_order(visibility, results.ids, with_problems=True)
    return schemas.search_page(results, cases)
