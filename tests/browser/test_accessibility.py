"""Accessibility of kb's main pages, by axe-core in Chromium; and CJK text drawn with real glyphs.

axe-core comes from npm (``npm ci`` in tests/browser; package-lock.json pins
the version) and is injected into each page of the demo network; a
violation of impact "serious" or "critical" fails the test. kb's
Content-Security-Policy is bypassed on these pages, only so that the
injected script may run.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from kb.extensions import db
from kb.models import Adaptation, CaseStatus, CaseStudy, Collection
from kb.services.demo import DEMO_DIR

from .support import AXE_SCRIPT, log_in

pytestmark = pytest.mark.browser

FAILING_IMPACTS = ("serious", "critical")


@pytest.fixture(scope="session")
def axe_script():
    """The path of axe.min.js; its absence fails the test (CI installs it with npm ci)."""
    if not AXE_SCRIPT.is_file():
        pytest.fail(f"axe-core is not installed ({AXE_SCRIPT} is missing): run npm ci in tests/browser")
    return AXE_SCRIPT


def _published(server, **where) -> list[CaseStudy]:
    with server.app.app_context():
        return list(db.session.scalars(
            select(CaseStudy).filter_by(status=CaseStatus.PUBLISHED, **where).order_by(CaseStudy.id)
        ))


def _paths(server) -> dict[str, str]:
    english = _published(server, language="en")
    japanese = _published(server, language="ja")[0]
    with server.app.app_context():
        # The demo's featured collection: public, with an introduction and a note on each item.
        featured = db.session.scalar(select(Collection).where(Collection.featured))
        collection = f"/collections/{featured.slug}"
        noted = f"{collection}/items/{featured.items[0].case_study_id}"
        adapting = db.session.scalar(select(CaseStudy.slug).join(
            Adaptation, Adaptation.adapting_id == CaseStudy.id).order_by(Adaptation.id))
    return {
        "home": "/",
        "search with results and facets": "/search?q=apprenticeship&city=toronto",
        "case study": f"/cases/{english[0].slug}",
        "case study in Japanese": f"/cases/{japanese.slug}",
        "comparison": f"/compare?ids={english[0].id}&ids={japanese.id}",
        "city": "/cities/hiroshima",
        "login": "/auth/login",
        "collections": "/collections",
        "collection with notes": collection,
        "lineage": f"/cases/{adapting}/lineage",
        "coverage matrix": "/coverage",
        "new case study form": "/cases/new",
        "collection with notes, as its curator": collection,
        "curator's note form": noted,
        "new collection form": "/collections/new",
        "my collections": "/collections/mine",
        "cities like mine": "/cities-like-mine",
        "import page": "/curate/import",
    }


# The pages a visitor reaches without logging in.
PUBLIC_PAGES = ["home", "search with results and facets", "case study", "case study in Japanese",
                "comparison", "city", "login", "collections", "collection with notes", "lineage",
                "coverage matrix"]
# The pages that need an account, with the demo role that opens them (the
# facilitator curates the featured collection).
SIGNED_IN_PAGES = {
    "collection with notes, as its curator": "facilitator",
    "curator's note form": "facilitator",
    "new collection form": "member",
    "my collections": "member",
    "cities like mine": "researcher",
    "import page": "facilitator",
}


def serious_violations(page, axe_script) -> list[str]:
    """axe-core's serious and critical violations on ``page``, one line per element."""
    page.add_script_tag(path=axe_script)
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{violation['impact']}: {violation['id']} ({violation['help']}) at {node['target']}: "
        f"{node['failureSummary']}"
        for violation in results["violations"] if violation["impact"] in FAILING_IMPACTS
        for node in violation["nodes"]
    ]


@pytest.mark.parametrize("name", PUBLIC_PAGES)
def test_public_page_has_no_serious_violation(name, demo_server, new_page, axe_script):
    page = new_page(bypass_csp=True)
    response = page.goto(demo_server.url(_paths(demo_server)[name]))
    assert response.status == 200
    assert serious_violations(page, axe_script) == []


@pytest.mark.parametrize("name", SIGNED_IN_PAGES)
def test_signed_in_page_has_no_serious_violation(name, demo_server, demo_logins, new_page,
                                                 axe_script):
    page = new_page(bypass_csp=True)
    account = demo_logins[SIGNED_IN_PAGES[name]]
    log_in(page, demo_server, account.email, account.password)
    assert page.goto(demo_server.url(_paths(demo_server)[name])).status == 200
    assert serious_violations(page, axe_script) == []


def test_import_results_have_no_serious_violation(demo_server, demo_logins, new_page, axe_script,
                                                  tmp_path):
    page = new_page(bypass_csp=True)
    facilitator = demo_logins["facilitator"]
    log_in(page, demo_server, facilitator.email, facilitator.password)
    page.goto(demo_server.url(_paths(demo_server)["import page"]))
    # A file that checks out: what it would create.
    page.get_by_label("File of case studies").set_input_files(DEMO_DIR / "import-example.jsonl")
    page.get_by_role("button", name="Check the file").click()
    ready = page.get_by_role("region", name="import-example.jsonl is ready to import")
    expect(ready).to_be_visible()
    assert serious_violations(page, axe_script) == []
    # A file that does not: its problems by line and field.
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"title": ""}\n', encoding="utf-8")
    page.get_by_label("File of case studies").set_input_files(broken)
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("alert")).to_contain_text("broken.jsonl was not imported")
    assert serious_violations(page, axe_script) == []


def test_new_case_study_form_has_no_serious_violation(demo_server, demo_logins, new_page,
                                                      axe_script):
    page = new_page(bypass_csp=True)
    member = demo_logins["member"]
    log_in(page, demo_server, member.email, member.password)
    page.goto(demo_server.url(_paths(demo_server)["new case study form"]))
    assert serious_violations(page, axe_script) == []
    # The form after a refused save: errors tied to their fields.
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert serious_violations(page, axe_script) == []


def test_review_pages_have_no_serious_violation(demo_server, demo_logins, new_page, axe_script):
    with demo_server.app.app_context():
        submitted = db.session.scalar(select(CaseStudy.slug).where(
            CaseStudy.status == CaseStatus.SUBMITTED).order_by(CaseStudy.id))
        edited = db.session.scalar(select(CaseStudy.slug).where(CaseStudy.proposed_edit.has()))
    page = new_page(bypass_csp=True)
    facilitator = demo_logins["facilitator"]
    log_in(page, demo_server, facilitator.email, facilitator.password)
    for path in ("/review", f"/cases/{submitted}", f"/cases/{edited}/proposed-edit"):
        assert page.goto(demo_server.url(path)).status == 200
        assert serious_violations(page, axe_script) == [], path
    # A request for changes without a comment: the form again, its error tied to the field.
    page.goto(demo_server.url(f"/cases/{submitted}"))
    page.locator(f'form[action="/cases/{submitted}/request-changes"]').evaluate(
        "form => form.noValidate = true")
    page.get_by_role("button", name="Request changes").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert serious_violations(page, axe_script) == []


# Draws each character of a text on a canvas in the element's own font and
# returns one fingerprint per character, and one of a code point no font
# has (U+10FFFD, private use): the "tofu" box a missing glyph becomes.
GLYPH_FINGERPRINTS = """(element) => {
  const style = getComputedStyle(element);
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 64;
  const context = canvas.getContext("2d", {willReadFrequently: true});
  const fingerprint = (character) => {
    context.clearRect(0, 0, 64, 64);
    context.font = `48px ${style.fontFamily}`;
    context.textBaseline = "top";
    context.fillText(character, 4, 4);
    const pixels = context.getImageData(0, 0, 64, 64).data;
    let hash = 0, inked = 0;
    for (let i = 3; i < pixels.length; i += 4) {
      if (pixels[i]) inked++;
      hash = (hash * 31 + pixels[i]) | 0;
    }
    return inked ? `${inked}:${hash}` : "blank";
  };
  const characters = [...new Set(element.textContent.match(/[\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\\p{Script=Hangul}]/gu))];
  return {glyphs: characters.slice(0, 12).map(fingerprint), tofu: fingerprint("\\u{10FFFD}")};
}"""


@pytest.mark.parametrize("language", ["zh", "ja", "ko"])
def test_cjk_case_study_is_drawn_with_real_glyphs(language, demo_server, page):
    """Each CJK character of the title draws as its own glyph, not as one shared "tofu" box.

    Without a CJK font (Debian's fonts-noto-cjk) Chromium draws every such
    character as the same missing-glyph box.
    """
    case = _published(demo_server, language=language)[0]
    page.goto(demo_server.url(f"/cases/{case.slug}"))
    title = page.get_by_role("heading", level=1)
    expect(title).to_have_text(case.title)
    expect(title).to_have_attribute("lang", language)
    drawn = title.evaluate(GLYPH_FINGERPRINTS)
    glyphs = drawn["glyphs"]
    assert len(glyphs) >= 4, case.title
    assert "blank" not in glyphs
    assert drawn["tofu"] not in glyphs
    # Different characters, different pictures (tofu boxes would all be alike).
    assert len(set(glyphs)) == len(glyphs)
