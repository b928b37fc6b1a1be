"""Side-by-side comparison of case studies: the page, its permalink, the CSV and JSON exports."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from factories import write_case
from instances import seed
from pages import TableGrid, cell_text

from kb.errors import NotFound, ValidationError
from kb.extensions import db
from kb.models import City, User
from kb.services import case_studies, comparison


def rows_by_label(table: list[list[dict]]) -> dict[str, list[str]]:
    """Rows headed by a ``<th scope="row">``: label -> the texts of the other cells."""
    return {
        cell_text(row[0]): [cell_text(cell) for cell in row[1:]]
        for row in table
        if row and row[0]["tag"] == "th" and row[0].get("scope") == "row"
    }


@seed("taxonomy", "people")
def cases(taxonomy, people):
    """Three published case studies (two cities), and a draft by ``member``; name -> id."""
    db.session.get(City, taxonomy["cities"]["seoul"]).profile_funding = "Central government grants"
    db.session.commit()
    member = db.session.get(User, people["member"])
    facilitator = db.session.get(User, people["facilitator"])
    return {
        "toronto": write_case(
            member, taxonomy, title="Toronto apprenticeships", summary="Employers host students.",
            implementation="1. Recruit employers\n2. Match students", outcomes="More hires.",
            evidence_level="correlational", cost_notes="Paid by the board.",
            enablers="Union support", barriers="Insurance", year_start=2015, year_end=2019,
            contexts=("public-funding",), sources=[("Board report", "https://example.org/report")],
        ).id,
        "seoul": write_case(
            facilitator, taxonomy, city="seoul", problems=("career-guidance",),
            title="서울 진로 교육", summary="진로 상담.", language="ko",
            education_level="lower_secondary",
        ).id,
        "seoul2": write_case(facilitator, taxonomy, city="seoul",
                             title="Seoul work placements").id,
        "draft": write_case(member, taxonomy, problems=("career-guidance",),
                            title="Secret member draft", publish=False).id,
    }


def compare_url(*ids, path: str = "/compare") -> str:
    """The comparison address of ``ids``, with one ``ids`` parameter each."""
    return path + "?" + "&".join(f"ids={i}" for i in ids)


# -- the page ----------------------------------------------------------------

def test_the_page_aligns_fields_in_rows_and_case_studies_in_columns(client, cases):
    response = client.get(compare_url(cases["toronto"], cases["seoul"]))
    assert response.status_code == 200
    page = TableGrid.of(response.get_data(as_text=True))
    assert page.h1_count == 1
    [table] = page.tables
    headers = [cell_text(cell) for cell in table[0] if cell["tag"] == "th"]
    assert headers == ["Toronto apprenticeships", "서울 진로 교육"]
    assert all(cell.get("scope") == "col" for cell in table[0] if cell["tag"] == "th")
    rows = rows_by_label(table)
    assert rows["City"] == ["Toronto", "Seoul"]
    assert rows["Problems of practice"] == ["Work-based learning", "Career guidance"]
    assert rows["Adaptation contexts"] == ["Public funding (Funding)", "None."]
    assert rows["Education level"] == ["Upper secondary", "Lower secondary"]
    assert rows["Years active"] == ["2015–2019", "Not given."]
    assert rows["Approach (summary)"] == ["Employers host students.", "진로 상담."]
    assert rows["Implementation steps"] == ["Recruit employers Match students", "Not given."]
    assert rows["Outcomes"] == ["More hires.", "Not given."]
    assert rows["Strength of the evidence"] == ["Correlational", "Not rated"]
    assert rows["Cost"] == ["Paid by the board.", "Not given."]
    assert rows["Enablers"] == ["Union support", "Not given."]
    assert rows["Barriers"] == ["Insurance", "Not given."]
    assert rows["Sources"] == ["Board report", "No sources listed."]
    # Every profile heading is a row, each city's text in its column.
    assert rows["Governance and decision-making"] == [
        "Elected school board", "Metropolitan office of education"
    ]
    assert rows["Languages of instruction"] == ["English, French", "Korean"]
    assert rows["Funding"] == ["Not given.", "Central government grants"]
    assert rows["Student population"] == ["Not given.", "Not given."]


def test_korean_text_is_marked_with_its_language(client, cases):
    html = client.get(compare_url(cases["toronto"], cases["seoul"])).get_data(as_text=True)
    assert '<td lang="ko">' in html and 'lang="ko">서울 진로 교육</a>' in html


def test_ids_may_be_one_comma_separated_value_and_keep_their_order(client, cases):
    one = client.get(f"/compare?ids={cases['seoul']},{cases['toronto']},{cases['seoul2']}")
    assert one.status_code == 200
    page = TableGrid.of(one.get_data(as_text=True))
    assert rows_by_label(page.tables[0])["City"] == ["Seoul", "Toronto", "Seoul"]


def test_the_page_links_its_permalink_and_exports(client, cases):
    ids = (cases["toronto"], cases["seoul"])
    html = client.get(compare_url(*ids)).get_data(as_text=True)
    query = "ids=%d&amp;ids=%d" % ids
    for path in ("/compare?", "/compare.csv?", "/compare.json?"):
        assert f'href="{path}{query}"' in html


def test_the_comparison_prints_without_navigation_or_tools():
    css = (Path(__file__).resolve().parents[1] / "kb" / "static" / "kb.css").read_text()
    ours = css[css.index("/* Comparison, revision diffs and coverage"):]
    print_rules = ours[ours.index("@media print"):]
    assert ".compare-tools" in print_rules and ".compare-table" in print_rules


@pytest.mark.parametrize("query", [
    "",
    "?ids=1",
    "?ids=1&ids=1",
    "?ids=1,2,3,4,5",
    "?ids=1&ids=2&ids=3&ids=4&ids=5",
    "?ids=abc&ids=1",
    "?ids=1.5,2",
    "?ids=-1,2",
    "?ids=１,２",  # full-width digits
    "?ids=99999999999999999999999,1",
])
def test_wrong_number_of_ids_or_garbage_is_a_400(client, cases, query):
    response = client.get("/compare" + query)
    assert response.status_code == 400
    assert "Choose between 2 and 4 case studies" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/compare", "/compare.csv", "/compare.json"])
def test_unknown_and_out_of_range_ids_are_404(client, cases, path):
    assert client.get(compare_url(cases["toronto"], 987654, path=path)).status_code == 404
    assert client.get(compare_url(cases["toronto"], 2**31, path=path)).status_code == 404
    assert client.get(compare_url(cases["toronto"], 0, path=path)).status_code == 404


@pytest.mark.parametrize("path", ["/compare", "/compare.csv", "/compare.json"])
def test_another_members_draft_is_not_found_and_not_leaked(app, client, auth, people, cases, path):
    url = compare_url(cases["toronto"], cases["draft"], path=path)
    unknown = compare_url(cases["toronto"], 987654, path=path)
    for who in (None, "other_member", "researcher"):
        if who:
            auth.login_as(app, people[who])
            client.get("/")  # shows the welcome message, so neither page below has it
        response = client.get(url)
        body = response.get_data(as_text=True)
        assert response.status_code == 404
        assert "Secret member draft" not in body
        # Word for word what a case study that does not exist gives, but for the number.
        assert _main(body).replace(f"number {cases['draft']} ", "number N ") == (
            _main(client.get(unknown).get_data(as_text=True)).replace("number 987654 ", "number N ")
        )
    auth.login_as(app, people["member"])
    assert client.get(url).status_code == 200
    auth.login_as(app, people["facilitator"])
    assert client.get(url).status_code == 200


def _main(html: str) -> str:
    return html[html.index("<main"):html.index("</main>")]


# -- choosing what to compare ------------------------------------------------------

def test_search_results_have_compare_boxes_outside_the_search_form(client, cases):
    html = client.get("/search").get_data(as_text=True)
    search_form_end = html.index("</form>", html.index('role="search"'))
    for case_id in (cases["toronto"], cases["seoul"]):
        box = f'<input type="checkbox" form="compare-form" name="ids" value="{case_id}"'
        assert box in html and html.index(box) < search_form_end
        assert f'<label for="compare-{case_id}"' in html
    compare_form = html.index('<form id="compare-form" method="get" action="/compare"')
    assert compare_form > search_form_end
    assert "Compare selected" in html[compare_form:]
    assert "Secret member draft" not in html


def test_the_case_list_has_compare_boxes(client, cases):
    html = client.get("/cases/").get_data(as_text=True)
    assert f'form="compare-form" name="ids" value="{cases["toronto"]}"' in html
    assert '<form id="compare-form" method="get" action="/compare"' in html


def test_the_boxes_of_a_results_page_lead_to_the_comparison(client, cases):
    # What the browser sends when two boxes are ticked and "Compare selected" is pressed.
    ticked = [("ids", cases["toronto"]), ("ids", cases["seoul2"])]
    response = client.get("/compare", query_string=ticked)
    assert response.status_code == 200


def test_compare_with_offers_the_other_visible_case_studies(app, client, auth, people, cases):
    auth.login_as(app, people["other_member"])
    html = client.get(f"/cases/{_slug(app, cases['toronto'])}").get_data(as_text=True)
    form = html[html.index('<form method="get" action="/compare" class="compare-with">'):]
    form = form[:form.index("</form>")]
    assert f'<input type="hidden" name="ids" value="{cases["toronto"]}">' in form
    assert '<label for="compare-with">Compare with…</label>' in form
    assert '<select id="compare-with" name="ids">' in form
    offered = {int(value) for value in re.findall(r'<option value="(\d+)"', form)}
    assert offered == {cases["seoul"], cases["seoul2"]}
    assert f'<option value="{cases["seoul"]}">서울 진로 교육</option>' in form
    assert "Secret member draft" not in html


def _slug(app, case_id: int) -> str:
    with app.app_context():
        return db.session.get(case_studies.CaseStudy, case_id).slug


# -- exports -----------------------------------------------------------------------

@seed("taxonomy", "people")
def hostile(taxonomy, people):
    """Two published case studies whose texts start like spreadsheet formulas."""
    member = db.session.get(User, people["member"])
    first = write_case(
        member, taxonomy,
        title="=HYPERLINK(\"http://evil.example\",\"click\")", summary="+1 more apprentices",
        enablers="-2 barriers removed", barriers="@SUM(A1:A9)", outcomes="Plain text, “quoted”",
    )
    second = write_case(member, taxonomy, city="seoul", problems=("career-guidance",),
                        title="Ordinary title", summary="Ordinary summary", language="ko")
    return first.id, second.id


def _csv_rows(response) -> list[list[str]]:
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 byte-order mark for Excel"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_csv_escapes_formula_cells_and_keeps_the_rest(client, hostile):
    response = client.get(compare_url(*hostile, path="/compare.csv"))
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = _csv_rows(response)
    by_label = {row[0]: row[1:] for row in rows}
    assert rows[0] == ["Field", "'=HYPERLINK(\"http://evil.example\",\"click\")", "Ordinary title"]
    assert by_label["Approach (summary)"] == ["'+1 more apprentices", "Ordinary summary"]
    assert by_label["Enablers"] == ["'-2 barriers removed", ""]
    assert by_label["Barriers"] == ["'@SUM(A1:A9)", ""]
    assert by_label["Outcomes"] == ["Plain text, “quoted”", ""]
    assert by_label["Case study number"] == [str(i) for i in hostile]
    assert by_label["City"] == ["Toronto", "Seoul"]
    assert by_label["Governance and decision-making"] == [
        "Elected school board", "Metropolitan office of education"
    ]
    assert all(len(row) == 3 for row in rows)
    # No cell a spreadsheet would run.
    formula_starts = ("=", "+", "-", "@", "\t", "\r")
    assert not [cell for row in rows for cell in row if cell[:1] in formula_starts]


def test_json_export_has_the_cases_and_every_field(client, cases):
    ids = [cases["toronto"], cases["seoul"]]
    response = client.get(compare_url(*ids, path="/compare.json"))
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    data = json.loads(response.get_data(as_text=True))
    assert data["ids"] == ids
    assert [case["id"] for case in data["cases"]] == ids
    toronto, seoul = data["cases"]
    assert toronto["title"] == "Toronto apprenticeships"
    assert toronto["city"] == {"slug": "toronto", "name": "Toronto", "country": "Canada"}
    assert seoul["title"] == "서울 진로 교육" and seoul["language"] == "ko"
    assert toronto["url"].endswith(f"/cases/{toronto['slug']}")
    fields = {field["key"]: field for field in data["fields"]}
    assert all(len(field["values"]) == 2 for field in data["fields"])
    assert fields["city"]["values"] == ["Toronto", "Seoul"]
    assert fields["profile_governance"]["label"] == "Governance and decision-making"
    assert fields["profile_governance"]["values"] == ["Elected school board",
                                                      "Metropolitan office of education"]
    assert fields["problems"]["values"] == [["Work-based learning"], ["Career guidance"]]
    assert fields["sources"]["values"] == [
        [{"label": "Board report", "url": "https://example.org/report"}], []
    ]
    assert fields["evidence_level"]["values"] == ["Correlational", "Not rated"]
    assert fields["implementation"]["values"][0] == "1. Recruit employers\n2. Match students"
    # The same data as the CSV, row for row.
    rows = _csv_rows(client.get(compare_url(*ids, path="/compare.csv")))
    assert [row[0] for row in rows[3:]] == [field["label"] for field in data["fields"]]


# -- the service -------------------------------------------------------------------

def test_compare_cases_refuses_a_wrong_count_and_unknown_ids(app, cases):
    with app.app_context():
        for ids in ([cases["toronto"]], [cases["toronto"]] * 2, [1, 2, 3, 4, 5]):
            with pytest.raises(ValidationError, match="Choose between 2 and 4"):
                comparison.compare_cases(None, ids)
        with pytest.raises(NotFound, match=f"number {2**40} "):
            comparison.compare_cases(None, [cases["toronto"], 2**40])
        with pytest.raises(NotFound):
            comparison.compare_cases(None, [cases["toronto"], cases["draft"]])
        found = comparison.compare_cases(None, [cases["seoul"], cases["toronto"]])
        assert found.ids == [cases["seoul"], cases["toronto"]]
