"""The coverage matrix: published case studies per city and problem of practice."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from factories import write_case
from instances import seed
from pages import TableGrid, cell_text
from sqlalchemy import event, select

from kb.extensions import db
from kb.models import CaseStatus, CaseStudy, City, EducationLevel, ProblemOfPractice, User
from kb.services import coverage


@seed("taxonomy", "people")
def spread(taxonomy, people):
    """Case studies of both cities at two levels: one a draft, one also on a retired term."""
    member = db.session.get(User, people["member"])
    facilitator = db.session.get(User, people["facilitator"])
    guidance = ("career-guidance",)
    write_case(member, taxonomy, title="T1")
    write_case(member, taxonomy, problems=("work-based-learning", "career-guidance"), title="T2")
    write_case(member, taxonomy, title="T3", education_level="tertiary")
    write_case(member, taxonomy, problems=guidance, title="T draft", publish=False)
    write_case(facilitator, taxonomy, city="seoul", problems=guidance, title="S1",
               education_level="tertiary")
    # Retired terms are kept only where already carried, so add it behind the service's back.
    case = write_case(facilitator, taxonomy, city="seoul", problems=guidance, title="S2")
    case.problems.append(db.session.get(ProblemOfPractice, taxonomy["problems"]["old-term"]))
    db.session.commit()
    return taxonomy


def brute_force(app, education: EducationLevel | None = None) -> dict[tuple[str, str], int]:
    """(city slug, problem slug) -> published case studies, counted one by one in Python."""
    counts: dict[tuple[str, str], int] = {}
    with app.app_context():
        for case in db.session.scalars(select(CaseStudy)):
            if case.status is not CaseStatus.PUBLISHED:
                continue
            if education is not None and case.education_level is not education:
                continue
            for problem in case.problems:
                if not problem.retired:
                    key = (case.city.slug, problem.slug)
                    counts[key] = counts.get(key, 0) + 1
    return counts


def matrix_counts(matrix: coverage.CoverageMatrix) -> dict[tuple[str, str], int]:
    """The non-zero cells of ``matrix`` keyed like :func:`brute_force`."""
    return {
        (row.city.slug, problem.slug): count
        for row in matrix.rows
        for problem, count in zip(matrix.problems, row.counts, strict=True)
        if count
    }


@pytest.mark.parametrize("education", [
    None, EducationLevel.UPPER_SECONDARY, EducationLevel.TERTIARY, EducationLevel.ADULT,
])
def test_counts_equal_a_brute_force_count(app, spread, education):
    with app.app_context():
        matrix = coverage.coverage_matrix(education)
        assert matrix_counts(matrix) == brute_force(app, education)
        assert [p.slug for p in matrix.problems] == ["career-guidance", "work-based-learning"]
        assert [row.city.slug for row in matrix.rows] == ["seoul", "toronto"]
        for index, problem in enumerate(matrix.problems):
            assert matrix.column_totals[index] == sum(
                n for (_, slug), n in brute_force(app, education).items() if slug == problem.slug
            )


def test_totals_count_each_case_study_once(app, spread):
    with app.app_context():
        matrix = coverage.coverage_matrix()
        totals = {row.city.slug: row.total for row in matrix.rows}
        # T2 is on two problems: two cells, one case study. The draft does not count.
        assert totals == {"toronto": 3, "seoul": 2}
        assert matrix.total == 5
        assert matrix.column_totals == [3, 3]
        assert matrix.gaps == 1  # nothing from Seoul on work-based learning
        tertiary = coverage.coverage_matrix(EducationLevel.TERTIARY)
        assert {row.city.slug: row.total for row in tertiary.rows} == {"toronto": 1, "seoul": 1}
        assert tertiary.gaps == 2


def test_the_counts_take_a_fixed_number_of_queries(app, spread):
    """Counting is GROUP BY work in the database, not a query per cell."""
    with app.app_context():
        db.session.add_all(City(slug=f"city-{n}", name=f"City {n}", country="X") for n in range(6))
        db.session.add_all(ProblemOfPractice(slug=f"problem-{n}", name=f"Problem {n}")
                           for n in range(6))
        db.session.commit()
        statements = []

        def count(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            matrix = coverage.coverage_matrix()
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert len(matrix.rows) == 8 and len(matrix.problems) == 8
        assert len(statements) == 4  # problems, cities, cells, row totals
        assert sum("GROUP BY" in statement for statement in statements) == 2


def _coverage_table(client, query: str = ""):
    response = client.get("/coverage" + query)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    page = TableGrid.of(html)
    assert page.h1_count == 1
    [table] = page.tables
    return html, table


def test_the_page_shows_counts_links_gaps_and_totals(client, spread):
    html, table = _coverage_table(client, "?education=tertiary")
    header = [cell_text(cell) for cell in table[0]]
    assert header == ["City", "Career guidance", "Work-based learning", "Total"]
    assert all(cell.get("scope") == "col" for cell in table[0])
    seoul, toronto, totals = table[1], table[2], table[3]
    assert seoul[0]["tag"] == "th" and seoul[0]["scope"] == "row"
    # A count: the number, and for screen readers what it counts; links to the search.
    assert cell_text(seoul[1]) == "1 case study from Seoul on Career guidance"
    link = urlsplit(seoul[1]["links"][0])
    assert link.path == "/search"
    assert parse_qs(link.query) == {"city": ["seoul"], "problem": ["career-guidance"],
                                    "education": ["tertiary"]}
    # A gap says so in words, not only in colour.
    assert cell_text(seoul[2]).startswith("gap")
    assert "gap" in seoul[2]["class"] and not seoul[2]["links"]
    assert cell_text(toronto[1]).startswith("gap") and cell_text(toronto[2]).startswith("1 ")
    assert cell_text(totals[0]) == "Total"
    assert [cell_text(cell).split(" ")[0] for cell in totals[1:]] == ["1", "1", "2"]
    assert "2 of 4 cells are gaps" in html


def test_links_lead_to_a_search_with_the_same_count(client, spread):
    _, table = _coverage_table(client)
    for row in table[1:-1]:
        for cell in row[1:]:
            if cell["links"]:
                search = client.get(cell["links"][0]).get_data(as_text=True)
                number = cell_text(cell).split(" ")[0]
                assert f'id="results-heading">{number} case stud' in search


def test_the_education_filter_is_a_labelled_get_select(client, spread):
    html, _ = _coverage_table(client, "?education=upper_secondary")
    assert '<form method="get" action="/coverage"' in html
    assert '<label for="education">Education level</label>' in html
    assert '<option value="upper_secondary" selected>Upper secondary</option>' in html


@pytest.mark.parametrize("value", ["nursery", "UPPER_SECONDARY", "x" * 5000, "\x00"])
def test_an_invalid_education_level_is_ignored_with_a_notice(client, spread, value):
    response = client.get("/coverage", query_string={"education": value})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "is not one of the list, so every level is counted" in html
    assert _coverage_table(client)[1] == TableGrid.of(html).tables[0]


def test_everyone_sees_the_same_matrix(app, client, auth, people, spread):
    _, anonymous = _coverage_table(client)
    for who in ("member", "facilitator"):
        auth.login_as(app, people[who])
        assert _coverage_table(client)[1] == anonymous


def test_header_links_to_coverage(client, spread):
    assert '<a href="/coverage">Coverage</a>' in client.get("/").get_data(as_text=True)
