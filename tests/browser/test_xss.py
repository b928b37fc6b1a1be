"""Cross-site scripting in a real browser, with every payload of tests/data/xss/payloads.txt.

The corpus is stored through kb's services into every field people write
(see ``xss_site.py``, and ``xss_features.py`` for collections, review,
lineage and imported rows); then Chromium loads every page that shows those
fields, and every place that echoes what a visitor sends (the search query
and filters, the address of a missing page, a form sent back with a
preview or errors, the import page's report on a file). On each page the
:class:`~.xss_harness.ScriptWatch` focuses and hovers every element, fires
every inline handler, and reports anything that ran script, markup that
could, and any request off 127.0.0.1. One finding fails the test.

kb's Content-Security-Policy is bypassed on these pages: the escaping and
the sanitizer must hold by themselves, the policy is the second layer
(:func:`test_content_security_policy_alone_stops_the_raw_payloads` checks
that one on its own).

The positive control renders the same payloads raw (``|safe``) on a route
only this test server has, and the same watch must catch them running.

The viewer is an admin (who sees every page), and takes the next batch of
payloads as their account name before each page: the header, the author
of every case study and the revision tables show every payload too. The
writer, a facilitator with a city, owns the collections and sees what only
an owner, an importer or someone with a city sees.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import pytest

from kb.blueprints.main import HOME_FEATURED_COLLECTIONS
from kb.extensions import db
from kb.models import User
from kb.sanitize import clean_text
from kb.search import FACETS, MAX_FILTER_VALUE_CHARS
from kb.search.query import normalise_query_text

from .support import XSS_PAYLOADS, LiveServer, build_app, log_in, served
from .xss_features import (
    WRITER_EMAIL,
    WRITER_PASSWORD,
    FeatureSite,
    build_feature_site,
    refused_import_files,
)
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

# Payloads per page of the positive control.
CONTROL_BATCH = 60
# Half of what tests/data/xss/README.md counts running when rendered raw into an element.
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
    if not XSS_PAYLOADS.is_file():
        pytest.fail(f"the XSS payload corpus is missing: {XSS_PAYLOADS}")
    return load_payloads(XSS_PAYLOADS)


@pytest.fixture(scope="module")
def payloads() -> list[str]:
    """The whole corpus."""
    return _payloads()


@dataclass
class PayloadKb:
    """The live payload instance and what was put in it."""

    server: LiveServer
    site: PayloadSite
    features: FeatureSite
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
    features = build_feature_site(app, payloads, site)
    with served(app) as server:
        yield PayloadKb(server, site, features)


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

    def send_form(self, path: str, fill, button: str, *, status: int, expected=()) -> None:
        """Open ``path``, ``fill(page)`` its form, press ``button``; keep what the answer shows.

        ``status`` is the status of the answer to the form's POST (a
        redirect's own, when the form redirects).
        """
        page = self.watch.page
        page.goto(self.kb.server.url(path))
        fill(page)

        def press():
            with page.expect_response(lambda r: r.request.method == "POST") as answer:
                page.get_by_role("button", name=button).click()
            page.wait_for_load_state()
            return answer.value

        self.record(self.watch.after(press, list(expected)), status)

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


def _logged_in_sweep(kb: PayloadKb, new_page, offsite_requests, email: str, password: str, *,
                     rename: bool) -> Sweep:
    page = new_page(bypass_csp=True)
    watch = ScriptWatch(page, offsite_requests)
    log_in(page, kb.server, email, password)
    return Sweep(watch, kb, rename=rename)


@pytest.fixture
def viewer_sweep(payload_kb, new_page, offsite_requests) -> Sweep:
    """A sweep by the logged-in viewer, on a page with kb's CSP bypassed."""
    return _logged_in_sweep(payload_kb, new_page, offsite_requests, VIEWER_EMAIL, VIEWER_PASSWORD,
                            rename=True)


@pytest.fixture
def writer_sweep(payload_kb, new_page, offsite_requests) -> Sweep:
    """A sweep by the logged-in writer (a facilitator with a city; their name stays)."""
    return _logged_in_sweep(payload_kb, new_page, offsite_requests, WRITER_EMAIL, WRITER_PASSWORD,
                            rename=False)


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
    for slug, names in site.terms_cases:
        viewer_sweep.visit(f"/cases/{quote(slug)}", expected=names)
    viewer_sweep.assert_clean()


def test_search_results_highlights_and_snippets(viewer_sweep, payload_kb):
    """Every page of results: highlighted titles, snippets of summaries and bodies, facets."""
    site = payload_kb.site
    # Every title-sized case study's body has the body keyword, and so has
    # every rich and every imported case study's (their bodies are paragraphs too).
    bodies = len(site.cases) + len(site.rich_cases) + len(payload_kb.features.imported_cases)
    expected_totals = {KEYWORD: len(site.cases), BODY_KEYWORD: bodies}
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
        viewer_sweep.send_form("/cases/new", _filling(values), button, status=status,
                               expected=[clean_text(values["title"], multiline=False)[:200]])
    viewer_sweep.assert_clean()


def _filling(values: dict[str, str]):
    """A ``fill`` for :meth:`Sweep.send_form`: each field named in ``values`` gets its value."""
    return lambda page: page.evaluate(FILL_FORM, values)


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


def test_collections_shared_and_featured(viewer_sweep, payload_kb):
    """Shared collections' titles in the list; the rich ones' texts, notes and case pages."""
    site, features = payload_kb.site, payload_kb.features
    viewer_sweep.visit("/collections/", expected=features.shared_titles)
    # The home page shows as many featured collections as it has room for.
    featured_titles = features.collection_titles[:len(features.rich_collections)]
    viewer_sweep.visit("/", expected=featured_titles[:HOME_FEATURED_COLLECTIONS])
    for slug, items in zip(features.rich_collections, features.rich_items):
        viewer_sweep.visit(f"/collections/{quote(slug)}", expected=_titles_of(site, items))
    # A case study's page names the collections holding it.
    slugs = dict(zip(site.case_ids, site.cases))
    for title, items in zip(featured_titles, features.rich_items):
        viewer_sweep.visit(f"/cases/{quote(slugs[items[0]])}", expected=[title])
    viewer_sweep.assert_clean()


def test_collections_of_their_owner(writer_sweep, payload_kb):
    """Every title in the owner's list and "add to a collection" choices; the owner's tools."""
    site, features = payload_kb.site, payload_kb.features
    every_title = features.collection_titles
    writer_sweep.visit("/collections/mine", expected=every_title)
    # The choice of collection on a case study page, search results and a comparison.
    writer_sweep.visit(f"/cases/{quote(features.review_cases[0])}", expected=every_title)
    writer_sweep.visit(f"/search?{urlencode({'q': KEYWORD})}", expected=every_title)
    writer_sweep.visit(f"/compare?{urlencode({'ids': site.case_ids[:2]}, doseq=True)}",
                       expected=every_title)
    for slug, items in zip(features.rich_collections, features.rich_items):
        writer_sweep.visit(f"/collections/{quote(slug)}", expected=_titles_of(site, items))
        writer_sweep.visit(f"/collections/{quote(slug)}/items/{items[0]}",
                           expected=_titles_of(site, items[:1]))
    # An XML document: no page text to look for, but nothing in it may run either.
    for slug in features.public_collections:
        writer_sweep.visit(f"/feeds/collections/{quote(slug)}.atom")
    first = quote(features.rich_collections[0])
    writer_sweep.visit(f"/collections/{first}/edit")
    writer_sweep.visit(f"/collections/{first}/delete")
    # Adding a case study says so, naming both: into the newest collection, the one offered first.
    writer_sweep.send_form(f"/cases/{quote(features.review_cases[0])}", _filling({}),
                           "Add to the collection", status=302,
                           expected=[features.review_titles[0], every_title[-1]])
    writer_sweep.assert_clean()


def _titles_of(site: PayloadSite, case_ids: list[int]) -> list[str]:
    titles = dict(zip(site.case_ids, site.titles))
    return [titles[case_id] for case_id in case_ids]


def test_review_comments_history_and_queue(viewer_sweep, payload_kb, payloads):
    """Every comment in the review histories; the queue; proposed edits; a refused comment."""
    features = payload_kb.features
    viewer_sweep.visit("/review", expected=[*features.queued_titles, features.writer_name])
    for slug in features.review_cases:
        viewer_sweep.visit(f"/cases/{quote(slug)}", expected=features.review_comments[slug])
    for slug in features.edited_cases:
        viewer_sweep.visit(f"/cases/{quote(slug)}/proposed-edit")
    # The whole corpus as one comment is too long: the form comes back with it.
    corpus = "\n".join(payloads)
    viewer_sweep.send_form(
        f"/cases/{quote(features.submitted_case)}",
        # Set, not typed: typing stops at the field's maxlength.
        lambda page: page.locator("#request-changes-comment").evaluate(
            "(area, text) => { area.value = text; }", corpus),
        "Request changes", status=400, expected=[clean_text(corpus)[:200]],
    )
    viewer_sweep.assert_clean()


def test_feature_forms_send_every_payload_back(writer_sweep, payload_kb, payloads):
    """Collection, note and lineage forms refused as too long come back with every payload."""
    features = payload_kb.features
    corpus = "\n".join(payloads)
    rich, item = quote(features.rich_collections[0]), features.rich_items[0][0]
    forms = (
        ("/collections/new", {"title": " ".join(payloads), "introduction": corpus},
         "Make the collection"),
        (f"/collections/{rich}/items/{item}", {"note": corpus}, "Save the note"),
        (f"/cases/{quote(features.review_cases[0])}/adaptations/new",
         dict.fromkeys(("kept", "changed", "reasons", "results"), corpus),
         "Record the adaptation"),
    )
    for path, values, button in forms:
        writer_sweep.send_form(path, _filling(values), button, status=400,
                               expected=[clean_text(corpus)[:200]])
    writer_sweep.assert_clean()


def test_adaptation_lineage(viewer_sweep, payload_kb):
    """Each link's texts on both case study pages and on the lineage page; its edit and removal."""
    features = payload_kb.features
    for (source, adapting), titles in zip(features.lineage_pairs, features.lineage_titles):
        viewer_sweep.visit(f"/cases/{quote(source)}", expected=titles)
        viewer_sweep.visit(f"/cases/{quote(adapting)}", expected=titles)
        viewer_sweep.visit(f"/cases/{quote(source)}/lineage", expected=titles)
    viewer_sweep.visit(f"/adaptations/{features.link_ids[0]}/edit",
                       expected=features.lineage_titles[0][1:])
    viewer_sweep.visit(f"/adaptations/{features.link_ids[0]}/delete",
                       expected=features.lineage_titles[0])
    viewer_sweep.assert_clean()


def test_context_fit_and_cities_like_mine(writer_sweep, payload_kb):
    """The writer's city's profile beside every other profile; the cities ranked by likeness."""
    site, features = payload_kb.site, payload_kb.features
    own = site.city_names[0]
    for city, slug in enumerate(features.profile_cases):
        writer_sweep.visit(f"/cases/{quote(slug)}", expected=[own, site.city_names[city]])
    writer_sweep.visit("/cities-like-mine", expected=site.city_names + site.context_names)
    writer_sweep.assert_clean()


def test_imported_case_studies(viewer_sweep, payload_kb):
    """Case studies imported from JSON Lines and CSV, every Markdown text holding the corpus."""
    features = payload_kb.features
    for slug, title in zip(features.imported_cases, features.imported_titles):
        viewer_sweep.visit(f"/cases/{quote(slug)}", expected=[title])
        viewer_sweep.visit(f"/cases/{quote(slug)}/revisions/1", expected=[title])
    viewer_sweep.assert_clean()


def test_import_page_reports_the_values_it_read(writer_sweep, payload_kb, payloads):
    """A check lists the rows' titles; refused files list every payload as a value or field."""
    uploads = [("jsonl", payload_kb.features.check_file, payload_kb.features.imported_titles, 200)]
    uploads += [(file_format, content, quoted, 400)
                for file_format, content, quoted in refused_import_files(payloads)]
    for number, (file_format, content, expected, status) in enumerate(uploads):
        # The file's name is a payload too (as the browser sends it: the report names the file).
        name = payloads[number % len(payloads)][:150]

        def choose(page, name=name, content=content, file_format=file_format) -> None:
            page.get_by_label("File of case studies").set_input_files(
                {"name": name, "mimeType": "application/octet-stream", "buffer": content})
            page.get_by_label("Format", exact=True).select_option(file_format)

        writer_sweep.send_form("/curate/import", choose, "Check the file", status=status,
                               expected=expected)
    writer_sweep.assert_clean()
