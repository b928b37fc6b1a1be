"""``flask kb search rebuild | check | catch-up``."""

from __future__ import annotations

from factories import write_case
from index_checks import indexed_ids
from sqlalchemy import insert, update

from kb import search
from kb.extensions import db
from kb.models import CaseStudy
from kb.search import lifecycle


def kb(runner, *args):
    return runner.invoke(args=["kb", "search", *args])


def test_check_passes_when_the_index_matches(runner, app, taxonomy, users):
    write_case(users["member"], taxonomy)
    result = kb(runner, "check")
    assert result.exit_code == 0, result.output
    assert "The index matches the database." in result.output


def test_check_fails_on_drift_and_rebuild_repairs_it(runner, app, taxonomy, users):
    kept = write_case(users["member"], taxonomy, title="Kept").id
    changed = write_case(users["member"], taxonomy, title="Changed").id
    with db.engine.begin() as connection:  # behind the change log's back
        connection.execute(update(CaseStudy).where(CaseStudy.id == changed).values(title="X"))
        connection.execute(insert(CaseStudy).values(
            slug="bulk", title="Bulk", summary="No change log.",
            city_id=taxonomy["cities"]["seoul"], education_level="adult", status="published",
            author_id=users["member"].id, language="en",
        ))

    result = kb(runner, "check")
    assert result.exit_code == 1
    assert f"Stale in the index (case study ids): {changed}" in result.output
    assert f"Missing from the index (case study ids): {changed + 1}" in result.output
    listed = [line.split(": ")[1] for line in result.output.splitlines()
              if "(case study ids)" in line]
    assert str(kept) not in ", ".join(listed).split(", ")

    result = kb(runner, "rebuild", "--procs", "1")
    assert result.exit_code == 0, result.output
    assert "Indexing case studies" in result.output
    assert "Indexed 3 case studies" in result.output
    assert kb(runner, "check").exit_code == 0


def test_check_lists_extra_documents(runner, app, taxonomy, users):
    with app.app_context():
        index = lifecycle.extension().index
        with index._writer() as writer:
            writer.add_document(id="4242", title="Orphan")
            writer.commit()
    result = kb(runner, "check")
    assert result.exit_code == 1
    assert "In the index but not in the database (document ids): 4242" in result.output


def test_check_lists_documents_held_twice(runner, app, taxonomy, users):
    case_id = write_case(users["member"], taxonomy, title="Twice").id
    with app.app_context():
        index = lifecycle.extension().index
        with index._writer() as writer:
            # add_document, not update_document: what two racing writers would leave.
            writer.add_document(id=str(case_id), title="Twice")
            writer.commit()
        assert search.check().duplicated == [str(case_id)]
    result = kb(runner, "check")
    assert result.exit_code == 1
    assert f"In the index more than once (document ids): {case_id}" in result.output


def test_catch_up_applies_pending_entries(runner, app, taxonomy, users):
    app.config["SEARCH_CATCH_UP_ON_COMMIT"] = False
    case_id = write_case(users["member"], taxonomy, title="Pending").id
    assert case_id not in indexed_ids()
    result = kb(runner, "catch-up")
    assert result.exit_code == 0, result.output
    assert "Applied 1 change-log entries" in result.output
    assert case_id in indexed_ids()
    assert "Applied 0 change-log entries" in kb(runner, "catch-up").output


def test_catch_up_when_another_process_holds_the_lock(runner, app):
    app.config["SEARCH_WRITER_TIMEOUT"] = 0.1
    with app.app_context():
        index = lifecycle.extension().index
        index.writer_timeout = 0.1
        lock = index._index().lock("WRITELOCK")
        assert lock.acquire()
    try:
        result = kb(runner, "catch-up")
        assert result.exit_code == 0
        assert "Another process is writing to the search index" in result.output
        result = kb(runner, "rebuild")
        assert result.exit_code == 1
        assert "Another process is writing to the search index" in result.output
    finally:
        lock.release()


def test_rebuild_on_an_empty_database(runner):
    result = kb(runner, "rebuild")
    assert result.exit_code == 0, result.output
    assert "Indexed 0 case studies" in result.output
