"""Full dumps (kb/services/dump.py, ``flask kb export`` / ``import --dump``) and case exports.

The round trip the issue asks for: export, import into an empty instance,
export again, identical. It runs on SQLite and, with KB_TEST_DATABASE_URL,
on PostgreSQL (where restored ids must also move the sequences on).
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat

import pytest
from instances import drop_every_table
from sqlalchemy import func, select
from factories import write_case
from index_checks import assert_index_matches_database

from kb import create_app, search
from kb.errors import Conflict, ImportRejected
from kb.extensions import db
from kb.models import (
    Adaptation,
    AdaptationKind,
    ApiToken,
    CaseStudy,
    Collection,
    CollectionItem,
    CollectionVisibility,
    ProblemOfPractice,
    User,
)
from kb.services import accounts, bulk, dump, vocabularies
from kb.services.policy import case_visibility
from kb.services.vocabularies import TermInput

# Whole-site dumps, restored into second instances.
pytestmark = pytest.mark.slow


@pytest.fixture
def network(app, runner):
    """The demo network (revisions, reviews, a proposed edit, CJK text), a merged term (a row
    referring to its own table), a deactivated account, a collection, an adaptation, a token."""
    assert runner.invoke(args=["kb", "demo"]).exit_code == 0
    with app.app_context():
        curator = db.session.scalar(select(User).where(User.email == "facilitator@demo.kb"))
        merged = vocabularies.create_term(curator, ProblemOfPractice,
                                          TermInput(name="Apprenticeships (old name)"))
        target = db.session.scalar(select(ProblemOfPractice).where(
            ProblemOfPractice.slug == "work-based-learning"))
        vocabularies.merge_term(curator, ProblemOfPractice, merged, target.id)
        member = db.session.scalar(select(User).where(User.email == "member@demo.kb"))
        accounts.deactivate(None, member, system=True)
        collection = Collection(owner=member, title="Reading for the Seoul meeting",
                                slug="seoul-meeting", introduction="Two **practices**.",
                                visibility=CollectionVisibility.NETWORK)
        first, second = db.session.scalars(select(CaseStudy).order_by(CaseStudy.id).limit(2))
        collection.items = [
            CollectionItem(case_study=second, position=0, note="Start here."),
            CollectionItem(case_study=first, position=1),
        ]
        db.session.add(collection)
        db.session.add(Adaptation(source=second, adapting=first, kind=AdaptationKind.ADAPTED,
                                  kept="The *timetable*.", changed="Funding.", author=curator))
        db.session.add(ApiToken(user_id=curator.id, name="Scripts", token_hash="ab" * 32,
                                prefix="kb_abcdef"))
        db.session.commit()
    return app


@pytest.fixture
def empty_instance(app_config, tmp_path):
    """Makes a second instance, with its own folder and index, on ``app``'s database emptied.

    The same database keeps the test runnable on the one PostgreSQL
    database a test run is given.
    """
    made = []

    def make(app, name: str = "restored"):
        with app.app_context():
            db.session.remove()
            drop_every_table(db.engine)
            db.engine.dispose()
        for earlier in made:
            with earlier.app_context():
                db.engine.dispose()
        other = create_app({**app_config, "INSTANCE_PATH": str(tmp_path / name)})
        made.append(other)
        result = other.test_cli_runner().invoke(args=["kb", "init"])
        assert result.exit_code == 0, result.output
        return other

    yield make
    for other in made:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def dump_text(**options) -> str:
    return "".join(dump.dump_lines(**options))


def test_export_restore_export_gives_the_same_dump(network, empty_instance):
    with network.app_context():
        first = dump_text(with_password_hashes=True)
        cases = db.session.scalar(select(func.count()).select_from(CaseStudy))
        newest = db.session.scalar(select(func.max(CaseStudy.id)))
    other = empty_instance(network)

    with other.app_context():
        summary = dump.restore_dump(io.BytesIO(first.encode()))
        db.session.commit()

        assert dump_text(with_password_hashes=True) == first
        assert summary.counts["case_study"] == cases
        assert {"revision", "review_event", "proposed_edit", "source", "collection",
                "collection_item", "adaptation", "api_token"} <= set(summary.counts)
        assert_index_matches_database()
        assert search.search(case_visibility(None), "CareerConnect").total == 1
        # New rows get new ids after the restored ones (PostgreSQL sequences moved on).
        curator = db.session.scalar(select(User).where(User.email == "facilitator@demo.kb"))
        term = select(ProblemOfPractice.id).where(ProblemOfPractice.slug == "work-based-learning")
        ids = {
            "cities": {"toronto": db.session.scalar(select(func.min(CaseStudy.city_id)))},
            "problems": {"work-based-learning": db.session.scalar(term)},
        }
        assert write_case(curator, ids, publish=False).id == newest + 1


def test_the_commands_round_trip_and_the_index_matches(network, empty_instance, tmp_path):
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    exported = network.test_cli_runner().invoke(args=["kb", "export", str(first)])
    assert exported.exit_code == 0, exported.output
    assert f"Wrote {first}." in exported.output
    assert stat.S_IMODE(os.stat(first).st_mode) == 0o600
    other = empty_instance(network)
    runner = other.test_cli_runner()

    restored = runner.invoke(args=["kb", "import", "--dump", str(first)])
    assert restored.exit_code == 0, restored.output
    assert "Restoring" in restored.output
    assert "Restored the dump (adaptation_context: 21" in restored.output
    assert runner.invoke(args=["kb", "export", str(second)]).exit_code == 0

    assert second.read_bytes() == first.read_bytes()
    check = runner.invoke(args=["kb", "search", "check"])
    assert check.exit_code == 0, check.output


def test_password_hashes_are_left_out_unless_asked_for(network, empty_instance):
    with network.app_context():
        without, with_hashes = dump_text(), dump_text(with_password_hashes=True)
    assert '"password_hash"' not in without
    assert '"password_hash":"' in with_hashes

    for text, logs_in in ((without, False), (with_hashes, True)):
        other = empty_instance(network, f"restored-{logs_in}")
        with other.app_context():
            dump.restore_dump(io.BytesIO(text.encode()))
            db.session.commit()
        response = other.test_client().post("/auth/login", data={
            "email": "admin@demo.kb", "password": "demo-admin-pass"})
        assert (response.status_code == 302) is logs_in


def test_a_dump_is_restored_only_into_an_empty_instance(network, tmp_path):
    path = tmp_path / "dump.jsonl"
    runner = network.test_cli_runner()
    assert runner.invoke(args=["kb", "export", str(path)]).exit_code == 0

    result = runner.invoke(args=["kb", "import", "--dump", str(path)])
    checked = runner.invoke(args=["kb", "import", "--dump", "--dry-run", str(path)])

    assert result.exit_code == 1
    assert "a dump is restored only into an empty instance" in result.output
    assert checked.exit_code == 0, checked.output
    assert "The dump can be restored (adaptation_context: 21" in checked.output
    with network.app_context(), pytest.raises(Conflict):
        dump.restore_dump(io.BytesIO(path.read_bytes()))


@pytest.fixture
def small_dump(app, taxonomy, people) -> list[str]:
    """A dump of the test world with one case study, as a list of lines."""
    with app.app_context():
        write_case(db.session.get(User, people["member"]), taxonomy)
        return dump_text().splitlines()


def dump_problems(lines: list[str]) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ImportRejected) as caught:
        dump.restore_dump(io.BytesIO("\n".join(lines).encode()), dry_run=True)
    return [(p.line, p.field, p.message) for p in caught.value.problems]


def line_of(lines: list[str], table: str) -> int:
    """The 0-based index of the first row of ``table``."""
    return next(i for i, line in enumerate(lines) if line.startswith(f'{{"table":"{table}"'))


def edited(lines: list[str], table: str, **changes) -> tuple[list[str], int]:
    """``lines`` with the first row of ``table`` changed; also its 1-based line number."""
    index = line_of(lines, table)
    record = json.loads(lines[index])
    record["row"].update(changes)
    return [*lines[:index], json.dumps(record), *lines[index + 1:]], index + 1


def test_a_good_dump_passes_the_check(app_ctx, small_dump):
    summary = dump.restore_dump(io.BytesIO("\n".join(small_dump).encode()), dry_run=True)

    assert summary.counts["case_study"] == 1


def test_dump_problems_are_reported_by_line_and_column(app_ctx, small_dump):
    lines, number = edited(small_dump, "case_study", title=5, status="lost", colour="red",
                           created_at="yesterday", city_id=999)
    assert sorted(dump_problems(lines)) == [
        (number, "case_study.colour", "Not a column of the table."),
        (number, "case_study.created_at", "Give a date and time in ISO 8601 with its UTC offset."),
        (number, "case_study.status",
         "Not one of: draft, submitted, changes_requested, published, archived."),
        (number, "case_study.title", "Give text."),
    ]
    lines, number = edited(small_dump, "case_study", city_id=999, summary=None)
    assert dump_problems(lines) == [
        (number, "case_study.summary", "Needs a value."),
    ]
    lines, number = edited(small_dump, "case_study", city_id=999)
    assert dump_problems(lines) == [
        (number, "case_study.city_id", "Refers to city 999, which no line above holds."),
    ]
    lines, number = edited(small_dump, "problem_of_practice", merged_into_id=777)
    assert dump_problems(lines) == [
        (number, "problem_of_practice.merged_into_id",
         "Refers to problem_of_practice 777, which the dump does not hold."),
    ]


def test_a_cut_short_repeated_or_foreign_dump_is_refused(app_ctx, small_dump):
    assert dump_problems(small_dump[:-1])[-1] == (
        None, "", ("The dump ends without its last line ({\"kb_dump_end\": …}): the file was "
                   "cut short."))
    index = line_of(small_dump, "city")
    repeated = [*small_dump[:index + 1], small_dump[index], *small_dump[index + 1:]]
    problems = dump_problems(repeated)
    assert (index + 2, "city.id", "Another row of city has the same id.") in problems
    assert "came before" in problems[-1][2]
    assert dump_problems(['{"title": "x"}']) == [
        (1, "", "This is not a kb dump of version 1: its first line is not {\"kb_dump\": 1}.")
    ]
    assert dump_problems([small_dump[0], '{"table": "login_failure", "row": {}}',
                          small_dump[-1]])[0][:2] == (2, "table")
    assert dump_problems([small_dump[0], "\xe9t\xe9", small_dump[-1]])[0][0] == 2


def test_every_table_is_dumped_or_left_out_on_purpose():
    tables = set(db.metadata.tables)

    assert dump.DUMPED_TABLES | set(dump.NOT_DUMPED) == tables
    assert not dump.DUMPED_TABLES & set(dump.NOT_DUMPED)
    # A dumped row never refers to a table the dump leaves out.
    for table in dump.dumped_tables():
        assert {fk.column.table.name for fk in table.foreign_keys} <= dump.DUMPED_TABLES, table


def test_export_writes_to_standard_output(runner, small_dump):
    result = runner.invoke(args=["kb", "export"])

    assert result.exit_code == 0
    assert result.output.splitlines() == small_dump


# -- case studies in the import format -----------------------------------------

IMPORTED_FIELDS = [name for name in bulk.COLUMN_NAMES if name != "status"]


def test_case_studies_export_as_an_import_file_that_imports_back(app, runner, taxonomy, people,
                                                                  tmp_path):
    with app.app_context():
        member = db.session.get(User, people["member"])
        write_case(member, taxonomy, title="=HYPERLINK(\"http://evil.example\")",
                   summary="- a list\n- of two", year_start=2019,
                   sources=[("Report", "https://example.org/r"), ("", "https://example.org/s")],
                   evidence_level="correlational",
                   context_ids=[taxonomy["contexts"]["public-funding"]])
    paths = [tmp_path / f"cases.{file_format}" for file_format in bulk.FORMATS]
    for path in paths:
        result = runner.invoke(args=["kb", "export", "--cases", path.suffix[1:], str(path)])
        assert result.exit_code == 0, result.output
    for path in paths:
        imported = runner.invoke(args=["kb", "import", str(path), "--as",
                                       "facilitator@example.org"])
        assert imported.exit_code == 0, imported.output

    with app.app_context():
        records = [bulk.case_record(case) for case in db.session.scalars(
            select(CaseStudy).order_by(CaseStudy.id))]
    assert len(records) == 3
    original, *copies = records
    for copy in copies:
        assert {name: copy[name] for name in IMPORTED_FIELDS} == {
            name: original[name] for name in IMPORTED_FIELDS}
        assert copy["status"] == "published"


def test_the_csv_export_escapes_formulas(app, runner, taxonomy, people):
    with app.app_context():
        write_case(db.session.get(User, people["member"]), taxonomy, title="@SUM(A1:A9)",
                   summary="+1 more", body="=1+1")

    result = runner.invoke(args=["kb", "export", "--cases", "csv"])

    rows = list(csv.reader(io.StringIO(result.stdout_bytes.decode("utf-8-sig"), newline="")))
    assert rows[0] == list(bulk.COLUMN_NAMES)
    values = dict(zip(rows[0], rows[1], strict=True))
    assert (values["title"], values["summary"], values["body"]) == ("'@SUM(A1:A9)", "'+1 more",
                                                                    "'=1+1")


def test_case_export_takes_no_password_hashes(runner):
    result = runner.invoke(args=["kb", "export", "--cases", "csv", "--with-password-hashes"])

    assert result.exit_code == 2
    assert "no password hashes" in result.output


def test_a_row_the_database_refuses_is_a_problem_and_nothing_is_restored(network,
                                                                          empty_instance):
    with network.app_context():
        lines = dump_text().splitlines()
    lines, number = edited(lines, "adaptation", adapting_id=json.loads(
        lines[line_of(lines, "adaptation")])["row"]["source_id"])
    other = empty_instance(network)

    with other.app_context():
        with pytest.raises(ImportRejected) as caught:
            dump.restore_dump(io.BytesIO("\n".join(lines).encode()))
        db.session.rollback()
        [problem] = caught.value.problems
        assert (problem.line, problem.field) == (number, "adaptation")
        assert problem.message.startswith(f"The database refused a row of lines {number} to")
        assert dump.instance_is_empty()
