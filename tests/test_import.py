"""Bulk import of case studies (kb/services/bulk.py, ``flask kb import``, the upload page).

Reading a file reports every problem by line and field; importing is all
or nothing, goes through the case-study service (sanitizer, revision,
change log, search index) and writes nothing on a dry run.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from index_checks import assert_index_matches_database

from kb import search
from kb.errors import ImportProblem, ImportRejected, PermissionDenied
from kb.extensions import db
from kb.models import (
    AdaptationContext,
    CaseStatus,
    CaseStudy,
    ChangeLog,
    ContextKind,
    ProblemOfPractice,
    ReviewEvent,
)
from kb.services import bulk
from kb.services.policy import case_visibility
from kb.services.demo import DEMO_DIR

MAX = 1_000_000


def row(**overrides) -> dict:
    """A valid import row (a Toronto work-based-learning case study) with ``overrides``."""
    values = {
        "title": "Imported apprenticeships",
        "summary": "Students spend two days a week with an employer.",
        "city": "toronto",
        "education_level": "upper_secondary",
        "problems": ["work-based-learning"],
        "body": "Illustrative sample data.",
    }
    values.update(overrides)
    return values


def jsonl(*rows) -> bytes:
    """Rows as a JSON Lines file; a str is written as the line itself."""
    return "".join(
        (line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)) + "\n"
        for line in rows
    ).encode("utf-8")


def problems_of(data: bytes, file_format: str = "jsonl", max_bytes: int = MAX) -> list:
    """The problems read_rows reports for ``data``; fails if it reports none."""
    with pytest.raises(ImportRejected) as caught:
        bulk.read_rows(data, file_format, max_bytes=max_bytes)
    return caught.value.problems


def counts() -> dict[str, int]:
    """How many case studies, terms, revisions and change-log rows the database holds."""
    return {
        model.__name__: db.session.scalar(select(func.count()).select_from(model))
        for model in (CaseStudy, ProblemOfPractice, AdaptationContext, ChangeLog, ReviewEvent)
    }


# -- reading ----------------------------------------------------------------

def test_a_jsonl_row_is_read_into_typed_values():
    data = jsonl(row(year_start=2019, year_end=None, contexts=["funding:public-funding"],
                     sources=["https://example.org/a", {"label": "R", "url": "https://x.org/b"}],
                     evidence_level=None, status="submitted"))

    [parsed] = bulk.read_rows(data, "jsonl", max_bytes=MAX)

    assert parsed.line == 1
    assert parsed.values["year_start"] == 2019
    assert parsed.values["year_end"] is None
    assert parsed.values["problems"] == [bulk.TermRef("work-based-learning")]
    assert parsed.values["contexts"] == [bulk.TermRef("public-funding", kind="funding")]
    assert parsed.values["sources"] == [("", "https://example.org/a"), ("R", "https://x.org/b")]
    assert parsed.values["evidence_level"] == ""
    assert parsed.values["status"] == "submitted"


def test_every_problem_is_reported_by_line_and_field():
    data = jsonl(
        row(),
        "",
        "{not json",
        "[1, 2]",
        row(title=5, year_start="2019", education_level="bogus", colour="red"),
        row(problems="work-based-learning", sources=[{"href": "x"}]),
        row(problems=["Work Based"], contexts=[7]),
        '{"title": "a", "title": "b"}',
        "[" * 100_000,
    )

    problems = problems_of(data)

    assert [(p.line, p.field) for p in problems] == [
        (3, ""), (4, ""),
        (5, "title"), (5, "education_level"), (5, "year_start"), (5, "colour"),
        (6, "problems"), (6, "sources"),
        (7, "problems"), (7, "contexts"),
        (8, ""), (9, ""),
    ]
    by_place = {(p.line, p.field): p.message for p in problems}
    assert "Expecting property name" in by_place[(3, "")]
    assert by_place[(4, "")] == "must be one JSON object, {…}, per line."
    assert by_place[(5, "education_level")].startswith("“bogus” is not one of: lower_secondary")
    assert by_place[(5, "year_start")] == "Give a whole year such as 2015, or null."
    assert "is not a field of the import format" in by_place[(5, "colour")]
    assert "is not a slug" in by_place[(7, "problems")]
    assert "appears twice" in by_place[(8, "")]
    assert "nests too deeply" in by_place[(9, "")]


def test_bad_utf8_nul_bytes_and_surrogates_are_problems_by_line():
    data = (jsonl(row()) + b'{"title": "caf\xe9"}\n' + b'{"title": "a\x00b"}\n'
            + b'{"title": "\\ud800"}\n')

    problems = problems_of(data)

    assert [(p.line, p.field) for p in problems] == [(2, ""), (3, "")]
    assert "is not UTF-8 text (byte 0xe9" in problems[0].message
    assert "NUL byte" in problems[1].message
    # Read once the lines decode: half a surrogate pair is no text.
    assert problems_of(jsonl(row(), '{"title": "\\ud800x"}')) == [
        ImportProblem(2, "title", bulk.NOT_TEXT)
    ]


def test_a_byte_order_mark_and_windows_line_ends_are_accepted():
    data = b"\xef\xbb\xbf" + jsonl(row()).replace(b"\n", b"\r\n") + jsonl(row(title="Second"))

    rows = bulk.read_rows(data, "jsonl", max_bytes=MAX)

    assert [(r.line, r.values["title"]) for r in rows] == [
        (1, "Imported apprenticeships"), (2, "Second")
    ]


def test_an_empty_file_and_a_dump_are_refused_with_a_clear_message():
    assert problems_of(b"\n  \n") == [
        ImportProblem(None, "", "The file has no case studies in it.")
    ]
    [problem] = problems_of(jsonl({"kb_dump": 1}))
    assert "flask kb import --dump" in problem.message


def test_problems_stop_after_the_limit():
    problems = problems_of(b"nonsense\n" * 500)

    assert len(problems) == bulk.MAX_PROBLEMS + 1
    assert problems[-1].message.startswith(f"Stopped looking after {bulk.MAX_PROBLEMS} problems")


def test_a_file_over_the_size_limit_is_refused_before_it_is_read():
    [problem] = problems_of(b"x" * 2_000_000, max_bytes=1_048_576)

    assert problem.line is None
    assert problem.message.startswith("The file is 1.9 MB; files of at most 1.0 MB are imported "
                                      "(the IMPORT_MAX_BYTES setting)")


def test_a_file_just_over_the_limit_is_told_apart_from_it():
    limit = 2 * 1_048_576
    [problem] = problems_of(b"x" * (limit + 1), max_bytes=limit)

    assert problem.message.startswith("The file is 2,097,153 bytes; files of at most 2,097,152 "
                                      "bytes are imported")


def test_the_format_comes_from_the_name_unless_given():
    assert bulk.format_for("cases.CSV") == "csv"
    assert bulk.format_for("cases.ndjson") == "jsonl"
    assert bulk.format_for("cases.txt", "csv") == "csv"
    with pytest.raises(ImportRejected, match="neither .jsonl nor .csv"):
        bulk.format_for("cases.txt")
    with pytest.raises(ImportRejected, match="Unknown format"):
        bulk.format_for("cases.csv", "xml")


CSV_HEADER = "title,summary,city,education_level,problems,contexts,year_start,sources\n"


def test_a_csv_file_is_read_with_lists_sources_and_escaped_cells():
    data = (CSV_HEADER
            + '"Quoted, with\na line break",\'- a list item,toronto,adult,'
              '"work-based-learning; career-guidance",,2019,'
              '"Report <https://x.org/r>\nhttps://y.org"\n'
            + ",,,,,,,\n"
            + "\n"
            + "Second,'=1+1,seoul,adult,work-based-learning,funding:public-funding,,\n").encode()

    rows = bulk.read_rows(data, "csv", max_bytes=MAX)

    assert [r.line for r in rows] == [2, 7]  # the first record spans lines 2 to 4
    first, second = (r.values for r in rows)
    assert first["title"] == "Quoted, with\na line break"
    assert first["summary"] == "- a list item"
    assert first["problems"] == [bulk.TermRef("work-based-learning"),
                                 bulk.TermRef("career-guidance")]
    assert first["sources"] == [("Report", "https://x.org/r"), ("", "https://y.org")]
    assert first["year_start"] == 2019
    assert second["summary"] == "=1+1"
    assert second["contexts"] == [bulk.TermRef("public-funding", kind="funding")]
    assert second["year_start"] is None


def test_a_csv_header_that_does_not_fit_is_a_problem_on_line_1():
    problems = problems_of(b"title,summary,colour,summary\nx,y,z,w\n", "csv")

    assert [(p.line, p.field) for p in problems] == [(1, "colour"), (1, "summary"), (1, "")]
    assert problems[2].message == ("The first line must name the columns; it lacks city, "
                                   "education_level, problems.")


def test_csv_rows_with_the_wrong_number_of_cells_bad_years_and_broken_quoting():
    data = (CSV_HEADER + "a,b,toronto,adult,work-based-learning,,20x9,\n"
            + "only,three,cells\n"
            + 'a,b,toronto,adult,work-based-learning,,,"never closed\n').encode()

    problems = problems_of(data, "csv")

    assert [(p.line, p.field) for p in problems] == [(2, "year_start"), (3, ""), (4, "")]
    assert problems[1].message == "has 3 cells, but the header names 8 columns."
    assert problems[2].message == "cannot be read as CSV: a quoted cell is never closed."


def test_a_huge_csv_cell_is_a_problem_not_a_crash():
    data = (CSV_HEADER + "a," + "x" * 200_000 + ",toronto,adult,w,,,\n").encode()

    [problem] = problems_of(data, "csv")

    assert problem.line == 2
    assert problem.message.startswith("cannot be read as CSV: a cell is longer than")


# -- importing --------------------------------------------------------------

def read(*rows) -> list[bulk.ParsedRow]:
    return bulk.read_rows(jsonl(*rows), "jsonl", max_bytes=MAX)


def rejected(user, rows, **options) -> list[ImportProblem]:
    with pytest.raises(ImportRejected) as caught:
        bulk.import_cases(user, rows, **options)
    return caught.value.problems


def test_rows_become_case_studies_through_the_case_study_service(app_ctx, taxonomy, users):
    facilitator = users["facilitator"]
    rows = read(
        row(title="  Tabs\tand\u202econtrol ", sources=["https://example.org/a"],
            contexts=["public-funding"], year_start=2018, year_end=2020,
            evidence_level="experimental", language="fr"),
        row(),
        row(),  # the same title again: its own slug
    )

    report = bulk.import_cases(facilitator, rows, source_name="cases.jsonl")
    db.session.commit()

    assert [(c.line, c.slug, c.city, c.status) for c in report.cases] == [
        (1, "tabs-andcontrol", "Toronto", "draft"),
        (2, "imported-apprenticeships", "Toronto", "draft"),
        (3, "imported-apprenticeships-2", "Toronto", "draft"),
    ]
    case = db.session.scalar(select(CaseStudy).where(CaseStudy.slug == "tabs-andcontrol"))
    assert case.title == "Tabs andcontrol"  # cleaned like the form's text
    assert case.author_id == facilitator.id
    assert [p.slug for p in case.problems] == ["work-based-learning"]
    assert [c.slug for c in case.contexts] == ["public-funding"]
    assert [(s.label, s.url) for s in case.sources] == [("", "https://example.org/a")]
    assert (case.year_start, case.year_end, case.language) == (2018, 2020, "fr")
    assert case.evidence_level.value == "experimental"
    assert [(r.number, r.message) for r in case.revisions] == [(1, "Imported from cases.jsonl")]
    assert_index_matches_database()
    assert search.search(case_visibility(facilitator), "andcontrol").total == 1


def test_a_bad_last_row_leaves_nothing_written(app_ctx, taxonomy, users):
    before = counts()
    rows = read(row(), row(title="Two", problems=["new-problem"]), row(title="Three"),
                row(title="Four", city="atlantis"))

    problems = rejected(users["facilitator"], rows, create_terms=True)

    assert problems == [ImportProblem(4, "city", "No city has the slug “atlantis”.")]
    assert counts() == before


def test_the_case_study_services_refusals_are_reported_by_line_and_field(app_ctx, taxonomy,
                                                                         users):
    before = counts()
    rows = read(
        row(),
        row(title="   ", year_start=2020, year_end=2019),
        row(body="x" * 101, sources=["javascript:alert(1)"]),
        row(problems=["old-term"], city=""),
    )

    problems = rejected(users["facilitator"], rows, max_text=100)

    assert [(p.line, p.field) for p in problems] == [
        (2, "title"), (2, "year_end"), (3, "body"), (3, "sources"), (4, "city"), (4, "problems"),
    ]
    assert problems[0].message == "A title is required."
    assert problems[5].message == "“Old term” is retired and cannot be added."
    assert counts() == before


def test_a_dry_run_reports_what_it_would_create_and_writes_nothing(app_ctx, taxonomy, users):
    before = counts()
    rows = read(row(problems=["new-problem"], contexts=["culture:new-context"]), row())

    report = bulk.import_cases(users["facilitator"], rows, create_terms=True, dry_run=True)
    db.session.commit()

    assert report.dry_run
    assert [(c.line, c.slug) for c in report.cases] == [
        (1, "imported-apprenticeships"), (2, "imported-apprenticeships-2")
    ]
    assert report.new_terms == [
        bulk.NewTerm("problem of practice", "new-problem", "New problem", None),
        bulk.NewTerm("adaptation context", "new-context", "New context", "culture"),
    ]
    assert counts() == before
    assert_index_matches_database()


def test_unknown_terms_are_problems_unless_they_may_be_created(app_ctx, taxonomy, users):
    facilitator = users["facilitator"]
    rows = read(row(problems=["work-based-learning", "youth-guarantee"],
                    contexts=["social-partnership"]))

    problems = rejected(facilitator, rows)
    assert [(p.line, p.field) for p in problems] == [(1, "problems"), (1, "contexts")]
    assert problems[0].message.startswith("No problem of practice has the slug “youth-guarantee”")
    # A new context needs its kind.
    problems = rejected(facilitator, rows, create_terms=True)
    assert problems[0].field == "contexts"
    assert "write its kind before it, kind:social-partnership" in problems[0].message

    rows = read(
        row(problems=["work-based-learning",
                      {"slug": "youth-guarantee", "name": "Youth Guarantee"}],
            contexts=["culture:social-partnership"]),
        row(title="Again", problems=["youth-guarantee"], contexts=["social-partnership"]),
    )
    report = bulk.import_cases(facilitator, rows, create_terms=True)
    db.session.commit()

    assert [term.slug for term in report.new_terms] == ["youth-guarantee", "social-partnership"]
    youth = db.session.scalar(select(ProblemOfPractice).where(
        ProblemOfPractice.slug == "youth-guarantee"))
    partnership = db.session.scalar(select(AdaptationContext).where(
        AdaptationContext.slug == "social-partnership"))
    assert youth.name == "Youth Guarantee"
    assert partnership.kind is ContextKind.CULTURE and partnership.name == "Social partnership"
    assert {case.title for case in youth.case_studies} == {"Imported apprenticeships", "Again"}


def test_terms_must_be_described_consistently(app_ctx, taxonomy, users):
    rows = read(row(contexts=["culture:new-context"]),
                row(title="Two", contexts=["funding:new-context"]),
                row(title="Three", contexts=["governance:large-system", "scale:large-system"]))

    problems = rejected(users["facilitator"], rows, create_terms=True)

    assert [(p.line, p.field) for p in problems] == [(2, "contexts"), (3, "contexts")]
    assert "described differently on line 1" in problems[0].message
    assert problems[1].message == ("“large-system” is an adaptation context of the kind scale, "
                                   "not governance.")


def test_statuses_go_through_the_review_workflow(app, app_ctx, taxonomy, users):
    facilitator = users["facilitator"]
    rows = read(row(title="Draft"), row(title="Submitted", status="submitted"),
                row(title="Published", status="published"))

    # Nobody publishes their own work on the web ...
    problems = rejected(facilitator, rows)
    assert [(p.line, p.field) for p in problems] == [(3, "status")]
    assert "Import it as a draft or as submitted" in problems[0].message

    # ... but the operator's command line loads published data.
    bulk.import_cases(facilitator, rows, as_operator=True)
    db.session.commit()
    statuses = dict(db.session.execute(select(CaseStudy.title, CaseStudy.status)).all())
    assert statuses == {"Draft": CaseStatus.DRAFT, "Submitted": CaseStatus.SUBMITTED,
                        "Published": CaseStatus.PUBLISHED}
    published = db.session.scalar(select(CaseStudy).where(CaseStudy.title == "Published"))
    assert [event.action.value for event in reversed(published.review_events)] == [
        "submitted", "published"
    ]
    assert search.search(case_visibility(None), "Published").total == 1

    app.config["REVIEW_ALLOW_SELF_APPROVAL"] = True
    bulk.import_cases(facilitator, read(row(title="Self-approved", status="published")))
    db.session.commit()
    assert db.session.scalar(select(CaseStudy.status).where(
        CaseStudy.title == "Self-approved")) is CaseStatus.PUBLISHED


def test_only_curators_import(app_ctx, taxonomy, users):
    with pytest.raises(PermissionDenied):
        bulk.import_cases(users["member"], read(row()))


# -- command line -----------------------------------------------------------

def kb_import(runner, path, *options):
    return runner.invoke(args=["kb", "import", str(path), *options])


def test_the_command_imports_with_a_progress_bar_and_the_index_follows(
        app, runner, taxonomy, people, tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_bytes(jsonl(row(), row(title="Second", status="published")))

    result = kb_import(runner, path, "--as", "FACILITATOR@example.org")

    assert result.exit_code == 0, result.output
    assert "Importing case studies" in result.output
    assert "line 2: published second (Toronto)" in result.output
    assert "Imported 2 case studies as facilitator@example.org." in result.output
    check = runner.invoke(args=["kb", "search", "check"])
    assert check.exit_code == 0, check.output
    with app.app_context():
        assert search.search(case_visibility(None), "Second").total == 1


def test_the_command_lists_problems_and_imports_nothing(app, runner, taxonomy, people, tmp_path):
    path = tmp_path / "cases.csv"
    path.write_text(CSV_HEADER + "a,b,toronto,adult,nowhere,,,\n", encoding="utf-8")

    result = kb_import(runner, path, "--as", "facilitator@example.org")

    assert result.exit_code == 1
    assert "line 2, problems: No problem of practice has the slug “nowhere”" in result.output
    assert "Error: Nothing was imported." in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CaseStudy)) == 0


def test_the_command_dry_run_writes_nothing(app, runner, taxonomy, people, tmp_path):
    path = tmp_path / "cases.txt"
    path.write_text(CSV_HEADER + "a,b,toronto,adult,new-term,,,\n", encoding="utf-8")

    result = kb_import(runner, path, "--as", "facilitator@example.org", "--format", "csv",
                       "--dry-run", "--create-terms")

    assert result.exit_code == 0, result.output
    assert "New problem of practice: new-term (New term)" in result.output
    assert "1 case study would be imported. Nothing was written (--dry-run)." in result.output
    with app.app_context():
        assert counts()["CaseStudy"] == 0 and counts()["ProblemOfPractice"] == 3


def test_the_command_refuses_a_file_over_the_size_limit(app, runner, taxonomy, people, tmp_path):
    app.config["IMPORT_MAX_BYTES"] = 100
    path = tmp_path / "cases.jsonl"
    path.write_bytes(jsonl(row()))

    result = kb_import(runner, path, "--as", "facilitator@example.org")

    assert result.exit_code == 1
    assert "files of at most 100 bytes are imported (the IMPORT_MAX_BYTES setting)" in result.output


@pytest.mark.parametrize("options, message", [
    ((), "with --as EMAIL"),
    (("--dump", "--as", "facilitator@example.org"), "--dump restores a whole instance"),
])
def test_the_command_needs_an_author_and_no_author_for_a_dump(runner, tmp_path, options, message):
    path = tmp_path / "cases.jsonl"
    path.write_bytes(jsonl(row()))

    result = kb_import(runner, path, *options)

    assert result.exit_code == 2
    assert message in result.output


def test_the_command_refuses_an_unknown_or_unauthorised_author(runner, taxonomy, people,
                                                               tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_bytes(jsonl(row()))

    unknown = kb_import(runner, path, "--as", "nobody@example.org")
    member = kb_import(runner, path, "--as", "member@example.org")

    assert unknown.exit_code == 1 and "Error:" in unknown.output
    assert member.exit_code == 1
    assert "Only facilitators and admins import case studies." in member.output


# -- the upload page --------------------------------------------------------

def upload(client, content: bytes, name: str = "cases.jsonl", **fields):
    data = {"file": (io.BytesIO(content), name), **fields}
    return client.post("/curate/import", data=data, content_type="multipart/form-data")


@pytest.fixture
def facilitator_client(app, client, auth, people):
    auth.login_as(app, people["facilitator"])
    return client


def test_the_page_shows_the_form_and_the_format(facilitator_client):
    page = facilitator_client.get("/curate/import").get_data(as_text=True)

    assert '<h1>Import case studies</h1>' in page
    assert 'enctype="multipart/form-data"' in page
    assert 'name="file"' in page and 'name="create_terms"' in page
    for name in bulk.COLUMN_NAMES:
        assert f"<code>{name}</code>" in page
    assert "Files of at most 2.0 MB are accepted." in page
    assert '/curate/import/example.csv' in page


def test_checking_a_file_shows_what_it_would_create_and_saves_nothing(app, facilitator_client,
                                                                       taxonomy):
    response = upload(facilitator_client, jsonl(row(), row(title="Neue <Praxis>",
                                                           problems=["brand-new"])),
                      create_terms="y", check="Check the file")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "cases.jsonl is ready to import" in page
    assert "create 2 case studies and 1 new vocabulary term" in page
    assert "Neue &lt;Praxis&gt;" in page
    assert "<code>brand-new</code>" in page
    with app.app_context():
        assert counts()["CaseStudy"] == 0 and counts()["ProblemOfPractice"] == 3


def test_importing_a_file_creates_its_case_studies_and_lists_them_as_mine(app, facilitator_client,
                                                                           taxonomy, people):
    response = upload(facilitator_client, jsonl(row(), row(title="Second")), save="Import")

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/cases/mine")
    mine = facilitator_client.get("/cases/mine").get_data(as_text=True)
    assert "Imported 2 case studies from cases.jsonl; you are their author." in mine
    assert "Second" in mine
    with app.app_context():
        authors = set(db.session.scalars(select(CaseStudy.author_id)))
        assert authors == {people["facilitator"]}
        assert_index_matches_database()


def test_a_file_with_problems_is_answered_400_with_a_table_by_line_and_field(
        app, facilitator_client, taxonomy):
    response = upload(facilitator_client,
                      (CSV_HEADER + "a,b,toronto,adult,work-based-learning,,,\n"
                       + "<script>alert(1)</script>,b,atlantis,adult,work-based-learning,,,\n"
                       ).encode(), name="cases.csv", save="Import")

    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "cases.csv was not imported" in page
    assert '<td class="count">3</td>' in page
    assert "<code>city</code>" in page
    assert "No city has the slug “atlantis”." in page
    assert "<script>alert(1)</script>" not in page
    with app.app_context():
        assert counts()["CaseStudy"] == 0


def test_the_page_refuses_a_file_over_the_size_limit(app, facilitator_client, taxonomy):
    app.config["IMPORT_MAX_BYTES"] = 200

    response = upload(facilitator_client, jsonl(row(), row(), row()), save="Import")

    assert response.status_code == 400
    assert "files of at most 200 bytes are imported" in response.get_data(as_text=True)


def test_a_request_over_max_content_length_gets_413(app, facilitator_client, taxonomy):
    app.config["MAX_CONTENT_LENGTH"] = 1_000

    response = upload(facilitator_client, b"x" * 5_000, save="Import")

    assert response.status_code == 413


def test_the_page_asks_for_a_file_and_a_known_format(facilitator_client, taxonomy):
    missing = facilitator_client.post("/curate/import", data={"save": "Import"})
    unknown = upload(facilitator_client, jsonl(row()), name="cases.txt", save="Import")

    assert missing.status_code == 400
    assert "Choose the file to import." in missing.get_data(as_text=True)
    assert unknown.status_code == 400
    assert "neither .jsonl nor .csv" in unknown.get_data(as_text=True)


def test_the_curate_page_links_to_the_import(facilitator_client):
    assert "/curate/import" in facilitator_client.get("/admin/").get_data(as_text=True)


# -- the example files ------------------------------------------------------

@pytest.mark.parametrize("ending", ["jsonl", "csv"])
def test_the_example_files_download_and_import_cleanly_into_the_demo(app, runner, client, auth,
                                                                      demo_network, ending):
    auth.login("facilitator@demo.kb", "demo-facilitator-pass")

    response = client.get(f"/curate/import/example.{ending}")

    assert response.status_code == 200
    assert f"import-example.{ending}" in response.headers["Content-Disposition"]
    checked = upload(client, response.data, name=f"example.{ending}", check="Check")
    assert checked.status_code == 200, checked.get_data(as_text=True)
    assert "create 2 case studies." in checked.get_data(as_text=True)


def test_the_example_files_hold_the_same_case_studies():
    def values(ending):
        data = (DEMO_DIR / f"import-example.{ending}").read_bytes()
        return [r.values for r in bulk.read_rows(data, ending, max_bytes=MAX)]

    from_csv, from_jsonl = values("csv"), values("jsonl")
    defaults = {c.name: c.default for c in bulk.COLUMNS}
    # CSV has every column; the JSON example leaves some out.
    assert from_csv == [{**defaults, "contexts": [], "sources": [], "year_start": None,
                         "year_end": None, **row} for row in from_jsonl]


def test_a_row_cannot_name_another_author():
    """The importer is the author of every row: ``author`` is not a field."""
    [problem] = problems_of(jsonl(row(author="member@example.org")))

    assert (problem.line, problem.field) == (1, "author")


# -- a realistic file -----------------------------------------------------------

# The benchmarks' copy of the Cranfield collection (bench/data/README.md).
CRANFIELD = Path(__file__).resolve().parents[1] / "bench" / "data" / "cranfield" / "corpus.jsonl"


def cranfield_rows(count: int) -> list[dict]:
    """The first ``count`` Cranfield abstracts (bench/data/cranfield) as import rows."""
    if not CRANFIELD.is_file():
        pytest.fail(f"the Cranfield collection is missing: {CRANFIELD}")
    rows = []
    with CRANFIELD.open(encoding="utf-8") as lines:
        for line in lines:
            document = json.loads(line)
            text = document["text"]
            rows.append(row(
                title=document["title"] or f"Cranfield document {document['_id']}",
                summary=text.split(" . ")[0], body=text, education_level="tertiary",
                city=("toronto", "seoul")[len(rows) % 2], year_start=1950 + len(rows) % 20,
                sources=[f"https://example.org/cranfield/{document['_id']}"],
                status="published",
            ))
            if len(rows) == count:
                return rows
    return rows


@pytest.mark.slow
def test_a_file_of_200_abstracts_imports_and_is_searchable(app, runner, taxonomy, people,
                                                           tmp_path):
    path = tmp_path / "cranfield.jsonl"
    path.write_bytes(jsonl(*cranfield_rows(200)))

    result = kb_import(runner, path, "--as", "facilitator@example.org")

    assert result.exit_code == 0, result.output
    assert "Imported 200 case studies" in result.output
    with app.app_context():
        assert_index_matches_database()
        found = search.search(case_visibility(None), "propeller slipstream wing")
        assert found.total >= 1
        top = db.session.get(CaseStudy, found.ids[0])
        assert "slipstream" in top.title
