"""What people do with kb, in a real browser: write, publish, find.

One story on the demo network: a working-group member writes a case study
with the form (previewing it first), saves it as a draft and submits it for
review; a facilitator finds it in the review queue and publishes it; a
researcher searches, narrows the results
with a facet, ticks two results to compare them side by side, and opens the
case study from the comparison.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .support import log_in, log_out

pytestmark = pytest.mark.browser

TITLE = "Welding apprenticeships shared by three firms"
SUMMARY = "Three welding firms share apprentices, who rotate between them every term."
BODY = "Apprentices rotate between **three firms**.\n\n- one mentor per firm\n- a shared logbook"


def _write_case(page) -> None:
    page.get_by_role("link", name="New case study").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New case study")
    page.get_by_label("Title (required)").fill(TITLE)
    page.get_by_label("Summary (required)").fill(SUMMARY)
    page.get_by_label("City (required)").select_option(label="Toronto")
    page.get_by_label("Education level (required)").select_option(label="Upper secondary")
    page.get_by_label("First year active").fill("2019")
    page.get_by_role("group", name=re.compile("Problems of practice")).get_by_label(
        "Work-based learning").check()
    page.get_by_label("Description").fill(BODY)
    page.get_by_label("What changed (revision message)").fill("First draft")

    page.get_by_role("button", name="Preview").click()
    preview = page.get_by_role("region", name="Preview (not saved)")
    expect(preview.locator("strong")).to_have_text("three firms")
    expect(page.get_by_label("Title (required)")).to_have_value(TITLE)

    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.get_by_role("status")).to_contain_text("Draft saved")
    expect(page.locator(".fields")).to_contain_text("Draft")

    page.get_by_label("Note for the reviewer (optional)").fill("Ready for review.")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_role("status")).to_contain_text("Submitted for review")
    expect(page.locator(".fields")).to_contain_text("Submitted")


def _search(page, words: str) -> None:
    page.get_by_role("link", name="Search", exact=True).click()
    page.get_by_label(re.compile("^Words")).fill(words)
    page.get_by_role("button", name="Search", exact=True).click()


def _publish_submission(page) -> None:
    # Curators find what waits for them in the review queue.
    page.get_by_role("link", name="Review queue").click()
    submissions = page.get_by_role("region", name=re.compile("^Submitted case studies"))
    submissions.get_by_role("link", name=TITLE).click()
    expect(page.get_by_role("region", name="Review history")).to_contain_text("Ready for review.")
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Published")
    expect(page.get_by_role("button", name="Archive")).to_be_visible()


def test_member_writes_facilitator_publishes_researcher_finds_and_compares(demo_server, demo_logins, page):
    member, facilitator, researcher = (
        demo_logins[role] for role in ("member", "facilitator", "researcher")
    )

    log_in(page, demo_server, member.email, member.password)
    _write_case(page)
    case_url = page.url
    log_out(page)

    # Nobody but its author and the curators sees a case study before it is published.
    response = page.goto(case_url)
    assert response.status == 404

    log_in(page, demo_server, facilitator.email, facilitator.password)
    _publish_submission(page)
    log_out(page)

    log_in(page, demo_server, researcher.email, researcher.password)
    _search(page, "apprenticeships")
    results = page.locator("ol.search-results > li")
    cities_before = set(results.locator(".meta a").all_inner_texts())
    assert len(cities_before) > 1, cities_before

    filters = page.get_by_role("complementary", name="Filters")
    filters.get_by_role("group", name="City").get_by_label(re.compile(r"^Toronto \(")).check()
    filters.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("list", name="Active filters")).to_contain_text("Remove city: Toronto")
    assert set(results.locator(".meta a").all_inner_texts()) == {"Toronto"}

    # Two results side by side.
    ours = results.filter(has=page.get_by_role("link", name=TITLE))
    other = results.filter(has_not=page.get_by_role("link", name=TITLE)).first
    other_title = other.get_by_role("heading").inner_text()
    ours.get_by_role("checkbox", name=re.compile("^Compare")).check()
    other.get_by_role("checkbox", name=re.compile("^Compare")).check()
    page.get_by_role("button", name="Compare selected").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Compare 2 case studies")
    columns = page.get_by_role("table").get_by_role("columnheader")
    expect(columns.filter(has_text=TITLE)).to_have_count(1)
    expect(columns.filter(has_text=other_title)).to_have_count(1)
    expect(page.get_by_role("row", name=re.compile("^Approach"))).to_contain_text(SUMMARY)

    columns.get_by_role("link", name=TITLE).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.locator(".case-section").first).to_contain_text("one mentor per firm")
    assert page.url == case_url
