"""What people do with kb, in a real browser: write, review, publish, find, collect, link, import.

Stories on the demo network (one live server for the session, so each story
writes under its own titles):

- a working-group member writes a case study with the form (previewing it
  first), saves it as a draft and submits it for review; a facilitator
  finds it in the review queue and publishes it; a researcher searches,
  narrows the results with a facet, ticks two results to compare them side
  by side, adds both to a new collection from the comparison, opens the
  collection, moves an item, writes a curator's note and takes the
  collection away as a briefing pack, a spreadsheet and JSON data;
- a facilitator asks for changes to a submission; its author reads the
  comment on the case study, edits it and submits it again;
- a member records which other city's practice one of theirs adapts, and
  follows the link to the practice's lineage;
- a facilitator downloads the example import file, checks it (nothing is
  saved) and imports it.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from .support import log_in, log_out

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Draft:
    """What a member types into the new case study form."""

    title: str
    summary: str
    body: str
    problem: str

    @property
    def bold(self) -> str:
        """The words the description sets in bold: the preview must render them so."""
        return re.search(r"\*\*(.+?)\*\*", self.body)[1]


WELDING = Draft(
    title="Welding apprenticeships shared by three firms",
    summary="Three welding firms share apprentices, who rotate between them every term.",
    body="Apprentices rotate between **three firms**.\n\n- one mentor per firm\n- a shared logbook",
    problem="Work-based learning",
)
MENTORING = Draft(
    title="Retired engineers mentor first-year technicians",
    summary="Retired engineers meet first-year technician students once a fortnight.",
    body="Each mentor follows **four students** through their first year.",
    problem="Employer partnerships",
)
COLLECTION = "Shared apprenticeships: for the Toronto working group"
NOTE = "Read this one **first**: the firms share a single logbook."
CHANGES_WANTED = "Say how many students took part and what the mentors were paid."


def _write_case(page, draft: Draft) -> None:
    page.get_by_role("link", name="New case study").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New case study")
    page.get_by_label("Title (required)").fill(draft.title)
    page.get_by_label("Summary (required)").fill(draft.summary)
    page.get_by_label("City (required)").select_option(label="Toronto")
    page.get_by_label("Education level (required)").select_option(label="Upper secondary")
    page.get_by_label("First year active").fill("2019")
    page.get_by_role("group", name=re.compile("Problems of practice")).get_by_label(
        draft.problem).check()
    page.get_by_label("Description").fill(draft.body)
    page.get_by_label("What changed (revision message)").fill("First draft")

    page.get_by_role("button", name="Preview").click()
    preview = page.get_by_role("region", name="Preview (not saved)")
    expect(preview.locator("strong")).to_have_text(draft.bold)
    expect(page.get_by_label("Title (required)")).to_have_value(draft.title)

    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(draft.title)
    expect(page.get_by_role("status")).to_contain_text("Draft saved")
    expect(page.locator(".fields")).to_contain_text("Draft")
    _submit_for_review(page, "Ready for review.")


def _submit_for_review(page, note: str) -> None:
    page.get_by_label("Note for the reviewer (optional)").fill(note)
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_role("status")).to_contain_text("Submitted for review")
    expect(page.locator(".fields")).to_contain_text("Submitted")


def _search(page, words: str) -> None:
    page.get_by_role("link", name="Search", exact=True).click()
    page.get_by_label(re.compile("^Words")).fill(words)
    page.get_by_role("button", name="Search", exact=True).click()


def _open_submission(page, title: str) -> None:
    # Curators find what waits for them in the review queue.
    page.get_by_role("link", name="Review queue").click()
    submissions = page.get_by_role("region", name=re.compile("^Submitted case studies"))
    submissions.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)


def _publish_submission(page, title: str) -> None:
    _open_submission(page, title)
    expect(page.get_by_role("region", name="Review history")).to_contain_text("Ready for review.")
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Published")
    expect(page.get_by_role("button", name="Archive")).to_be_visible()


def _compare_two_toronto_results(page) -> str:
    """Search, narrow to Toronto, compare WELDING with another result; that result's title."""
    _search(page, "apprenticeships")
    results = page.locator("ol.search-results > li")
    cities_before = set(results.locator(".meta a").all_inner_texts())
    assert len(cities_before) > 1, cities_before

    filters = page.get_by_role("complementary", name="Filters")
    filters.get_by_role("group", name="City").get_by_label(re.compile(r"^Toronto \(")).check()
    filters.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("list", name="Active filters")).to_contain_text("Remove city: Toronto")
    assert set(results.locator(".meta a").all_inner_texts()) == {"Toronto"}

    ours = results.filter(has=page.get_by_role("link", name=WELDING.title))
    other = results.filter(has_not=page.get_by_role("link", name=WELDING.title)).first
    other_title = other.get_by_role("heading").inner_text()
    ours.get_by_role("checkbox", name=re.compile("^Compare")).check()
    other.get_by_role("checkbox", name=re.compile("^Compare")).check()
    page.get_by_role("button", name="Compare selected").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Compare 2 case studies")
    columns = page.get_by_role("table").get_by_role("columnheader")
    expect(columns.filter(has_text=WELDING.title)).to_have_count(1)
    expect(columns.filter(has_text=other_title)).to_have_count(1)
    expect(page.get_by_role("row", name=re.compile("^Approach"))).to_contain_text(WELDING.summary)
    return other_title


def _collect_compared(page, titles: list[str]) -> None:
    """From the comparison page, add every compared case study to a new collection."""
    collect = page.get_by_role("region", name="Add all 2 to a collection")
    collect.get_by_label("Collection", exact=True).select_option(label="A new collection")
    collect.get_by_label("Title of the new collection").fill(COLLECTION)
    collect.get_by_role("button", name="Add all to the collection").click()
    # Back on the comparison, which says what was added where.
    expect(page.get_by_role("heading", level=1)).to_have_text("Compare 2 case studies")
    added = page.get_by_role("status")
    expect(added).to_contain_text(f"to “{COLLECTION}”")
    for title in titles:
        expect(added).to_contain_text(f"“{title}”")


def _open_own_collection(page, title: str) -> None:
    page.get_by_role("link", name="Collections", exact=True).click()
    page.get_by_role("link", name="My collections").click()
    page.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)


def _collection_titles(page) -> list[str]:
    items = page.locator("ol.collection-items > li")
    return items.get_by_role("heading", level=3).all_inner_texts()


def _download(page, link_name: str) -> tuple[str, str]:
    """Click the download link ``link_name``; the file's suggested name and its text."""
    with page.expect_download() as started:
        page.get_by_role("link", name=link_name).click()
    download = started.value
    assert download.failure() is None
    with open(download.path(), encoding="utf-8-sig") as downloaded:
        return download.suggested_filename, downloaded.read()


def _arrange_collection(page, titles: list[str]) -> list[str]:
    """Swap the two items of the open collection and note WELDING; the titles in their new order."""
    assert sorted(_collection_titles(page)) == sorted(titles)
    first, second = _collection_titles(page)
    page.get_by_role("button", name=f"Move down “{first}”").click()
    expect(page.get_by_role("status")).to_contain_text(f"“{first}” is now number 2.")
    assert _collection_titles(page) == [second, first]

    page.get_by_role("link", name=f"Write a note on “{WELDING.title}”").click()
    page.get_by_label("Curator's note").fill(NOTE)
    page.get_by_role("button", name="Save the note").click()
    expect(page.get_by_role("status")).to_contain_text(f"Note saved on “{WELDING.title}”")
    welding_item = page.locator("ol.collection-items > li").filter(
        has=page.get_by_role("link", name=WELDING.title))
    expect(welding_item.locator(".curator-note")).to_contain_text("Curator's note")
    expect(welding_item.locator(".curator-note strong")).to_have_text("first")
    return [second, first]


def _export_collection(page, order: list[str]) -> None:
    """Each export of the open collection names its case studies in ``order``, with the note."""
    name, briefing = _download(page, "Briefing pack (Markdown)")
    assert name.endswith(".md"), name
    assert briefing.startswith(f"# {COLLECTION}\n")
    assert briefing.index(f"## 1. {order[0]}") < briefing.index(f"## 2. {order[1]}")
    assert NOTE in briefing

    name, table = _download(page, "Spreadsheet (CSV)")
    assert name.endswith(".csv"), name
    lines = list(csv.DictReader(io.StringIO(table)))
    assert [line["Title"] for line in lines] == order
    assert {line["Title"]: line["Curator's note"] for line in lines}[WELDING.title] == NOTE

    name, data = _download(page, "Data (JSON)")
    assert name.endswith(".json"), name
    exported = json.loads(data)
    assert exported["title"] == COLLECTION
    assert [item["case"]["title"] for item in exported["items"]] == order
    notes = {item["case"]["title"]: item["note"] for item in exported["items"]}
    assert notes[WELDING.title] == NOTE


def test_member_writes_facilitator_publishes_researcher_compares_and_collects(
        demo_server, demo_logins, page):
    member, facilitator, researcher = (
        demo_logins[role] for role in ("member", "facilitator", "researcher")
    )

    log_in(page, demo_server, member.email, member.password)
    _write_case(page, WELDING)
    case_url = page.url
    log_out(page)

    # Nobody but its author and the curators sees a case study before it is published.
    response = page.goto(case_url)
    assert response.status == 404

    log_in(page, demo_server, facilitator.email, facilitator.password)
    _publish_submission(page, WELDING.title)
    log_out(page)

    log_in(page, demo_server, researcher.email, researcher.password)
    other_title = _compare_two_toronto_results(page)
    compared = [WELDING.title, other_title]
    _collect_compared(page, compared)

    page.get_by_role("table").get_by_role("columnheader").get_by_role(
        "link", name=WELDING.title).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(WELDING.title)
    expect(page.locator(".case-section").first).to_contain_text("one mentor per firm")
    assert page.url == case_url

    _open_own_collection(page, COLLECTION)
    _export_collection(page, _arrange_collection(page, compared))


def test_facilitator_requests_changes_and_member_resubmits(demo_server, demo_logins, page):
    member, facilitator = demo_logins["member"], demo_logins["facilitator"]

    log_in(page, demo_server, member.email, member.password)
    _write_case(page, MENTORING)
    log_out(page)

    log_in(page, demo_server, facilitator.email, facilitator.password)
    _open_submission(page, MENTORING.title)
    page.get_by_label("What should change").fill(CHANGES_WANTED)
    page.get_by_role("button", name="Request changes").click()
    expect(page.get_by_role("status")).to_contain_text("Sent back to the author")
    page.get_by_role("link", name="Review queue").click()
    expect(page.get_by_role("region", name=re.compile("^Sent back to their authors"))
           .get_by_role("link", name=MENTORING.title)).to_be_visible()
    log_out(page)

    # The author finds the case study among theirs, with the reviewer's comment on it.
    log_in(page, demo_server, member.email, member.password)
    page.get_by_role("link", name="My case studies").click()
    page.get_by_role("link", name=MENTORING.title).click()
    review = page.get_by_role("region", name="Review", exact=True)
    expect(review).to_contain_text("A reviewer asked for changes")
    expect(review.locator("blockquote")).to_contain_text(CHANGES_WANTED)

    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("Summary (required)").fill(
        MENTORING.summary + " Twelve students took part; mentors were volunteers.")
    page.get_by_label("What changed (revision message)").fill("Numbers and pay, as asked")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text("Changes saved as a new version.")
    _submit_for_review(page, "Added the numbers and the pay.")
    log_out(page)

    log_in(page, demo_server, facilitator.email, facilitator.password)
    _open_submission(page, MENTORING.title)
    history = page.get_by_role("region", name="Review history")
    expect(history).to_contain_text(CHANGES_WANTED)
    expect(history).to_contain_text("Added the numbers and the pay.")
    expect(page.locator("p").filter(has_text="Twelve students took part")).to_have_count(1)
    expect(page.get_by_role("button", name="Publish", exact=True)).to_be_visible()


ADAPTING = "Youth apprenticeship through cooperative education"  # Toronto, by the demo member
ADAPTED = "Youth apprenticeship through an employer intermediary"  # Denver
KEPT = "- a paid apprenticeship during the last two years"
CHANGED = "- co-op teachers find the employers, **no intermediary**"
REASONS = "Every school already has co-op teachers."


def test_member_records_an_adaptation_and_views_the_lineage(demo_server, demo_logins, page):
    member = demo_logins["member"]
    log_in(page, demo_server, member.email, member.password)
    page.get_by_role("link", name="My case studies").click()
    page.get_by_role("link", name=ADAPTING).click()

    lineage = page.get_by_role("region", name="Adaptation lineage")
    expect(lineage).to_contain_text("This case study does not say it adapts another practice.")
    lineage.get_by_role("link", name=re.compile("^Record a practice this one adapts")).click()
    page.get_by_label("This practice adapts").select_option(label=ADAPTED)
    page.get_by_label("How it was taken up").select_option(label="Adapted")
    page.get_by_label("What was kept").fill(KEPT)
    page.get_by_label("What was changed").fill(CHANGED)
    page.get_by_label("Why: the differences of context").fill(REASONS)
    page.get_by_role("button", name="Record the adaptation").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Recorded that “{ADAPTING}” takes up “{ADAPTED}”")

    lineage = page.get_by_role("region", name="Adaptation lineage")
    expect(lineage.get_by_role("link", name=ADAPTED, exact=True)).to_be_visible()
    lineage.get_by_role("link", name="See this practice's whole lineage across cities").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Lineage of “{ADAPTING}”")
    root = page.get_by_role("region", name=f"From Denver: {ADAPTED}")
    expect(root).to_contain_text(ADAPTING)
    expect(root.locator("strong").filter(has_text="no intermediary")).to_have_count(1)

    # What was recorded is public: a visitor reads the same lineage.
    lineage_url = page.url
    log_out(page)
    page.goto(lineage_url)
    expect(page.get_by_role("region", name=f"From Denver: {ADAPTED}")).to_contain_text(REASONS)


def test_facilitator_checks_then_imports_a_file(demo_server, demo_logins, page, tmp_path):
    facilitator = demo_logins["facilitator"]
    log_in(page, demo_server, facilitator.email, facilitator.password)
    page.get_by_role("link", name="Curate").click()
    page.get_by_role("link", name="Import case studies").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import case studies")

    name, text = _download(page, "import-example.csv")
    example = tmp_path / name
    example.write_text(text, encoding="utf-8")
    titles = [row["title"] for row in csv.DictReader(io.StringIO(text))]
    assert len(titles) == 2, titles

    page.get_by_label("File of case studies").set_input_files(example)
    page.get_by_role("button", name="Check the file").click()
    report = page.get_by_role("region", name=f"{name} is ready to import")
    expect(report).to_contain_text("Nothing has been saved yet")
    rows = report.get_by_role("table").get_by_role("row")
    for title in titles:
        expect(rows.filter(has_text=title)).to_have_count(1)
    page.get_by_role("link", name="My case studies").click()
    for title in titles:
        expect(page.get_by_role("link", name=title)).to_have_count(0)

    page.get_by_role("link", name="Curate").click()
    page.get_by_role("link", name="Import case studies").click()
    page.get_by_label("File of case studies").set_input_files(example)
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"Imported 2 case studies from {name}")
    expect(page.get_by_role("heading", level=1)).to_have_text("My case studies")
    for title in titles:
        expect(page.get_by_role("link", name=title)).to_have_count(1)
