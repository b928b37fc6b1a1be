"""Cross-city full-text search: the facade the rest of kb uses.

Nothing outside this package touches Whoosh. The facade is split by job:

- :mod:`kb.search.lifecycle`: the index attached to the app, created,
  caught up after commits and before searches, rebuilt and checked;
- :mod:`kb.search.results`: the search page's results, and the rows that
  result ids name (:func:`cases_in_order`, :func:`links_in_order`);
- :mod:`kb.search.related`: the related boxes of a case study page, and
  answers kept until a case study changes (:func:`remembered`).

Search sits beside the services and imports none of them. What a user may
find is the rule of :mod:`kb.services.policy`, which callers pass in as a
value: ``search.search(policy.case_visibility(user), q)``.
"""

from __future__ import annotations

from kb.search.indexer import Drift
from kb.search.lifecycle import (
    case_count, catch_up, check, ensure_index, index_state, init_app, rebuild,
)
from kb.search.related import other_cities_on_problems, remembered, similar_cases
from kb.search.results import (
    FACETS, LINEAGE_LABELS, MAX_FILTER_VALUE_CHARS, MAX_FILTER_VALUES, MAX_PER_PAGE,
    MAX_RESULT_WINDOW, SORTS, SearchResults, cases_in_order, links_in_order, search,
)

__all__ = [
    "Drift", "case_count", "catch_up", "check", "ensure_index", "index_state", "init_app",
    "rebuild",
    "other_cities_on_problems", "remembered", "similar_cases",
    "FACETS", "LINEAGE_LABELS", "MAX_FILTER_VALUE_CHARS", "MAX_FILTER_VALUES", "MAX_PER_PAGE",
    "MAX_RESULT_WINDOW", "SORTS", "SearchResults", "cases_in_order", "links_in_order", "search",
]
