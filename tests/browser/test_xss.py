"""Cross-site scripting in a real browser, with every payload of ../shared/xss/payloads.txt.

The corpus is stored through kb's services into every field people write
(see ``xss_site.py``); then Chromium loads every page that shows those
fields, and every place that echoes what a visitor sends (the search query
and filters, the address of a missing page, a form sent back with a
preview or errors). On each page the :class:`~.xss_harness.ScriptWatch`
focuses and hovers every element, fires every inline handler, and reports
anything that ran script, markup that could, and any request off
127.0.0.1. One finding fails the test.

kb's Content-Security-Policy is bypassed on these pages: the escaping and
the sanitizer must hold by themselves, the policy is the second layer
(:func:`test_content_security_policy_alone_stops_the_raw_payloads` checks
that one on its own).

The positive control renders the same payloads raw (``|safe``) on a route
only this test server has, and the same watch must catch them running.

The viewer is an admin (who sees every page), and takes the next batch of
payloads as their account name before each page: the header, the author
of every case study and the revision tables show every payload too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import pytest

from kb.extensions import db
from kb.models import User
from kb.sanitize import clean_text
from kb.search import FACETS, MAX_FILTER_VALUE_CHARS
from kb.search.query import normalise_query_text

from .support import SHARED, LiveServer, build_app, log_in, served
from .xss_harness import Finding, ScriptWatch, Visit
from .xss_site import (
    BODY_KEYWORD,
    KEYWORD,
    HOME_CITIES,
    MARKDOWN_STYLES,
    PROFILE_CITIES,
    TERMS_KEYWORD,
    PayloadSite,
    VIEWER_EMAIL,
    VIEWER_PASSWORD,
    build_payload_site,
    load_payloads,
    pack,
    unsafe_blueprint,
)

pytestmark = pytest.mark.browser

PAYLOAD_FILE = SHARED / "xss" / "payloads.txt"
# Payloads per page of the positive control.
CONTROL_BATCH = 60
# The README of the corpus: about 200 run when rendered raw into an element.
CONTROL_LEAST_RUN = 100
SEARCH_PER_PAGE = 20
# Every city, term and case of a kind on one listing page.
LISTING_PAGE_SIZE = 5_000
# Pages of single cities and terms visited besides the carriers' (every n-th).
SAMPLE_EVERY = 50
# Pages of title-sized case studies visited (every n-th; see test_case_revision_and_change_pages).
SAMPLE_CASES = 10
# Case studies per comparison (kb compares two to four).
COMPARED = 4


def _payloads() -> list[str]:
    if not PAYLOAD_FILE.is_file():
        pytest.fail(f"the XSS payload corpus is missing: {PAYLOAD_FILE}")
    return load_payloads(PAYLOAD_FILE)


@pytest.fixture(scope="module")
def payloads() -> list[str]:
    """The whole corpus."""
    return _payloads()


@dataclass
class PayloadKb:
    """The live payload instance and what was put in it."""

    server: LiveServer
    site: PayloadSite
    # Numbers of the account names the viewer has had while a page was checked.
    names_shown: set[int] = field(default_factory=set)

    def take_next_name(self) -> str:
        """Rename the viewer to the first name not yet shown (any, once all were)."""
        names = self.site.names
        number = next((n for n in range(len(names)) if n not in self.names_shown),
                      len(self.names_shown) % len(names))
        self.names_shown.add(number)
        with self.server.app.app_context():
            # No service renames accounts; this stores the name as
            # accounts.create_user does, through clean_text (done by the builder).
            db.session.get(User, self.site.viewer_id).name = names[number]
            db.session.commit()
        return names[number]


@pytest.fixture(scope="module")
def payload_kb(tmp_path_factory, payloads) -> PayloadKb:
    """A live kb whose every field holds the corpus, plus the positive control's route."""
    app = build_app(tmp_path_factory.mktemp("xss-instance"), CASES_PER_PAGE=LISTING_PAGE_SIZE)
    app.register_blueprint(unsafe_blueprint(payloads, CONTROL_BATCH))
    site = build_payload_site(app, payloads)
    with served(app) as server:
        yield PayloadKb(server, site)


class Sweep:
    """Visits pages with one watch and keeps every finding and problem, to assert at the end.

    With ``rename``, the viewer takes the next account name of the corpus
    before each visit, and the page must show it.
    """

    def __init__(self, watch: ScriptWatch, kb: PayloadKb, *, rename: bool = True):
        self.watch = watch
        self.kb = kb
        self.rename = rename
        self.findings: list[Finding] = []
        self.problems: list[str] = []
        self.visits = 0

    def visit(self, path: str, *, status: int = 200, expected=()) -> None:
        """Visit ``path`` on the server; the ``expected`` texts must be on the page."""
        expected = [*expected, self.kb.take_next_name()] if self.rename else list(expected)
        self.record(self.watch.visit(self.kb.server.url(path), expected), status)

    def record(self, visit: Visit, status: int = 200) -> None:
        """Keep what ``visit`` found."""
        self.visits += 1
        self.findings += visit.findings
        if visit.status != status:
            self.problems.append(f"{visit.url}: status {visit.status}, expected {status}")
        if visit.missing:
            shown = ", ".join(repr(text[:60]) for text in visit.missing[:3])
            self.problems.append(f"{visit.url}: {len(visit.missing)} texts not shown: {shown}")

    def assert_clean(self) -> None:
        """Fail with the first findings and problems, if there are any."""
        print(f"{self.visits} pages checked")
        assert self.visits
        if self.findings:
            kinds = Counter(finding.kind for finding in self.findings)
            listed = "\n".join(str(finding) for finding in self.findings[:25])
            pytest.fail(f"{len(self.findings)} findings in {self.visits} pages {dict(kinds)}:\n{listed}")
        assert not self.problems, "\n".join(self.problems[:25])


@pytest.fixture
def viewer_sweep(payload_kb, new_page, offsite_requests) -> Sweep:
    """A sweep by the logged-in viewer, on a page with kb's CSP bypassed."""
    page = new_page(bypass_csp=True)
    watch = ScriptWatch(page, offsite_requests)
    log_in(page, payload_kb.server, VIEWER_EMAIL, VIEWER_PASSWORD)
    return Sweep(watch, payload_kb)


def _control_findings(kb: PayloadKb, watch: ScriptWatch, payloads: list[str]) -> list[Finding]:
    findings = []
    for number in range(-(-len(payloads) // CONTROL_BATCH)):
        findings += watch.visit(kb.server.url(f"/_unsafe/{number}")).findings
    return findings


def test_positive_control_catches_raw_payloads(payload_kb, payloads, new_page, offsite_requests):
    """The watch, pointed at the payloads rendered raw, catches at least 100 of them running."""
    watch = ScriptWatch(new_page(bypass_csp=True), offsite_requests)
    findings = _control_findings(payload_kb, watch, payloads)
    ran = [finding for finding in findings if finding.ran_script]
    payloads_ran = {finding.payload for finding in ran if finding.payload is not None}
    kinds = Counter(finding.kind for finding in findings)
    print(f"positive control: {len(payloads_ran)} payloads ran script ({len(ran)} calls), "
          f"findings by kind: {dict(kinds)}")
    assert len(payloads_ran) >= CONTROL_LEAST_RUN, dict(kinds)
    # The other signals work too.
    assert kinds["dom"] and kinds["offsite"] and kinds["navigation"], dict(kinds)


def test_content_security_policy_alone_stops_the_raw_payloads(payload_kb, payloads, new_page,
                                                              offsite_requests):
    """With kb's policy in force, the raw rendering injects markup but none of it runs."""
    watch = ScriptWatch(new_page(), offsite_requests)
    findings = _control_findings(payload_kb, watch, payloads)
    assert [f for f in findings if f.kind == "dom"], "the control page rendered nothing raw"
    ran = [str(f) for f in findings if f.ran_script or f.kind == "offsite"]
    assert not ran, "\n".join(ran[:25])


def _pages_of(keyword: str, total: int) -> list[str]:
    return [f"/search?{urlencode({'q': keyword, 'page': page})}"
            for page in range(1, -(-total // SEARCH_PER_PAGE) + 1)]


def test_comparisons(viewer_sweep, payload_kb):
    """Every title-sized case study, four at a time, side by side: every field of each.

    And the cities whose profiles hold the corpus, through one case study each.
    """
    site = payload_kb.site
    for first in range(0, len(site.case_ids), COMPARED):
        ids = site.case_ids[first:first + COMPARED]
        if len(ids) == 1:  # a comparison needs two
            ids = [site.case_ids[0], *ids]
        viewer_sweep.visit(f"/compare?{urlencode({'ids': ids}, doseq=True)}",
                           expected=site.titles[first:first + COMPARED])
    viewer_sweep.visit(f"/compare?{urlencode({'ids': site.profile_case_ids}, doseq=True)}",
                       expected=site.city_names[:PROFILE_CITIES])
    viewer_sweep.assert_clean()


def test_case_revision_and_change_pages(viewer_sweep, payload_kb):
    """The rich case studies' pages, revisions and changes; a sample of the others.

    Every case study's page lists every other title ("compare with"); the
    title-sized ones are visited one in :data:`SAMPLE_CASES`.
    """
    site = payload_kb.site
    for slug in map(quote, site.rich_cases):
        viewer_sweep.visit(f"/cases/{slug}")
        viewer_sweep.visit(f"/cases/{slug}/revisions/1")
        viewer_sweep.visit(f"/cases/{slug}/revisions/2")
        viewer_sweep.visit(f"/cases/{slug}/diff")
    for slug, title in list(zip(site.cases, site.titles))[::SAMPLE_CASES]:
        viewer_sweep.visit(f"/cases/{quote(slug)}", expected=[title])
        viewer_sweep.visit(f"/cases/{quote(slug)}/revisions/1", expected=[title])
    # Version 1 has no earlier version to compare with: an error page.
    viewer_sweep.visit(f"/cases/{quote(site.cases[0])}/diff", status=400)
    viewer_sweep.visit(f"/cases/{quote(site.terms_case)}",
                       expected=site.problem_names + site.context_names)
    viewer_sweep.assert_clean()


def test_search_results_highlights_and_snippets(viewer_sweep, payload_kb):
    """Every page of results: highlighted titles, snippets of summaries and bodies, facets."""
    site = payload_kb.site
    # Every title-sized case study's body has the body keyword, and so has
    # every rich case study's (its body is paragraphs too).
    expected_totals = {KEYWORD: len(site.cases), BODY_KEYWORD: len(site.cases) + len(site.rich_cases)}
    for keyword, total in expected_totals.items():
        for path in _pages_of(keyword, total):
            viewer_sweep.visit(path, expected=[f"{total} case studies for “{keyword}”"])
    viewer_sweep.assert_clean()


def echo_searches(payloads: list[str]) -> list[tuple[str, dict[str, list[str]]]]:
    """Searches that send every payload back as the query, and as a filter value where it fits.

    Each query is as many payloads as fit the parser's limits uncut (a longer
    payload alone, cut as the search cuts it). The filter values name no
    city, term or year, in two facets at least: no results, only the echo.
    """
    queries: list[str] = []
    for payload in payloads:
        joined = f"{queries[-1]} {payload}" if queries else payload
        if queries and normalise_query_text(joined)[0] == clean_text(joined, multiline=False):
            queries[-1] = joined
        else:
            queries.append(payload)
    values = [p.strip() for p in payloads if 0 < len(p.strip()) <= MAX_FILTER_VALUE_CHARS]
    facets = list(FACETS)
    searches = []
    for number, query in enumerate(queries):
        filters: dict[str, list[str]] = {}
        for k, value in enumerate(values[number::len(queries)] or ["none", "none"]):
            filters.setdefault(facets[k % len(facets)], []).append(value)
        searches.append((query, filters))
    return searches


def test_search_query_and_filters_sent_back(viewer_sweep, payloads):
    """The search page shows the query and every filter value as sent."""
    for query, filters in echo_searches(payloads):
        shown = [normalise_query_text(query)[0]]
        shown += [v for values in filters.values() for v in values if v == clean_text(v)]
        viewer_sweep.visit(f"/search?{urlencode({'q': query, **filters}, doseq=True)}",
                           expected=shown)
    viewer_sweep.assert_clean()


def test_listings_vocabularies_and_curation(viewer_sweep, payload_kb):
    """Lists of everything, the carriers' pages, a sample of single pages, curation forms."""
    site, visit = payload_kb.site, viewer_sweep.visit
    visit("/", expected=site.city_names)
    visit("/cases/", expected=site.titles)
    visit("/cases/mine", expected=site.titles)
    visit("/cases/new", expected=site.city_names + site.problem_names + site.context_names)
    visit("/cities", expected=site.city_names)
    visit("/problems", expected=site.problem_names)
    visit("/contexts", expected=site.context_names)
    for number, city in enumerate(HOME_CITIES):
        visit(f"/cities/{site.cities[city]}", expected=site.titles[number::len(HOME_CITIES)])
    for city in range(PROFILE_CITIES):
        visit(f"/cities/{site.cities[city]}", expected=[site.city_names[city]])
    visit(f"/problems/{site.problems[0]}", expected=site.titles)
    visit(f"/contexts/{site.contexts[0]}", expected=site.titles)
    visit(f"/search?{urlencode({'q': TERMS_KEYWORD})}",
          expected=site.problem_names + site.context_names)
    for kind, slugs, ids, names in (
        ("cities", site.cities, site.city_ids, site.city_names),
        ("problems", site.problems, site.problem_ids, site.problem_names),
        ("contexts", site.contexts, site.context_ids, site.context_names),
    ):
        visit(f"/curate/{kind}", expected=names)
        for slug, term_id, name in list(zip(slugs, ids, names))[::SAMPLE_EVERY]:
            visit(f"/{kind}/{slug}", expected=[name])
            visit(f"/curate/{kind}/{term_id}")
    for slug, title in list(zip(site.cases, site.titles))[::SAMPLE_EVERY]:
        visit(f"/cases/{quote(slug)}/edit", expected=[title])
        visit(f"/cases/{quote(slug)}/delete", expected=[title])
    visit("/admin/")
    visit("/admin/users")
    viewer_sweep.assert_clean()


def test_case_form_sends_every_payload_back(viewer_sweep, payload_kb, payloads):
    """A preview shows every payload in every field; a refused save shows them in its errors."""
    page, watch = viewer_sweep.watch.page, viewer_sweep.watch
    everything = {
        "title": " ".join(payloads),
        "summary": "\n".join(payloads),
        "contact": " ".join(payloads),
        "message": " ".join(payloads),
        "sources": "\n".join(f"{p} | https://example.org/" for p in payloads),
        **{name: style(payloads) for name, style in MARKDOWN_STYLES.items()},
    }
    refused = {
        **everything,
        "message": payloads[0][:500],
        # Not web addresses: the error names each of them.
        "sources": "\n".join(f"label | {p}" for p in payloads[:30]),
    }
    for values, button, status in ((everything, "Preview", 200), (refused, "Save draft", 400)):
        page.goto(payload_kb.server.url("/cases/new"))
        page.evaluate(FILL_FORM, values)

        def press(button=button):
            with page.expect_response(lambda r: r.request.method == "POST") as answer:
                page.get_by_role("button", name=button).click()
            page.wait_for_load_state()
            return answer.value

        viewer_sweep.record(watch.after(press, [clean_text(values["title"], multiline=False)[:200]]),
                            status)
    viewer_sweep.assert_clean()


FILL_FORM = """(values) => {
  for (const [name, value] of Object.entries(values)) {
    document.querySelector(`[name="${name}"]`).value = value;
  }
}"""


def test_error_pages_send_the_address_back(payload_kb, payloads, new_page, offsite_requests):
    """A missing page's "log in" link carries its address, every payload in path and query."""
    sweep = Sweep(ScriptWatch(new_page(bypass_csp=True), offsite_requests), payload_kb, rename=False)
    segments = pack(payloads, 300)
    queries = pack(payloads, 12_000, separator="\n")
    for number, query in enumerate(queries):
        segment = quote(segments[number % len(segments)], safe="")
        address = f"?{urlencode([('p', p) for p in query.split(chr(10))])}"
        sweep.visit(f"/cases/{segment}{address}", status=404)
        sweep.visit(f"/no-such-page/{segment}{address}", status=404)
    sweep.visit(f"/auth/logout?{urlencode({'p': payloads[0]})}", status=405)
    sweep.assert_clean()


def test_every_account_name_in_the_header(viewer_sweep, payload_kb):
    """The viewer's name in the header (and on the account page), every batch of the corpus.

    The other tests of this module show most of the names already.
    """
    viewer_sweep.visit("/auth/account")
    while len(payload_kb.names_shown) < len(payload_kb.site.names):
        viewer_sweep.visit("/auth/account")
    viewer_sweep.assert_clean()
