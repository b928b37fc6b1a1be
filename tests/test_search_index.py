"""The index stays true to the database through the change log (docs/change-log-and-index.md)."""

from __future__ import annotations

import json
import time

import pytest
from factories import case_input, write_case
from index_checks import assert_index_matches_database, indexed_ids
from sqlalchemy import delete, insert, select, update
from whoosh.index import LockError

from kb import search
from kb.extensions import db
from kb.models import CaseStatus, CaseStudy, ChangeLog, ChangeOperation
from kb.search import indexer, lifecycle
from kb.search.indexer import IndexState
from kb.search.schema import SCHEMA_VERSION, STATE_DOC_ID
from kb.services import case_studies, review
from kb.services.policy import case_visibility


def found(user, q: str) -> list[int]:
    return search.search(case_visibility(user), q).ids


def test_new_index_is_empty_and_at_the_start(app_ctx):
    assert indexed_ids() == set()
    state = search.index_state()
    assert (state.seq, state.gaps, state.schema) == (0, [], SCHEMA_VERSION)


def test_index_follows_create_edit_publish_archive_delete(taxonomy, users):
    member, admin = users["member"], users["admin"]
    case = case_studies.create_case(member, case_input(taxonomy, title="Harbour welding academy"))
    db.session.commit()
    assert_index_matches_database()
    assert found(member, "harbour") == [case.id]
    assert found(None, "harbour") == []  # a draft

    case_studies.update_case(member, case, case_input(taxonomy, title="Riverside welding academy"))
    db.session.commit()
    assert_index_matches_database()
    assert found(member, "harbour") == []
    assert found(member, "riverside") == [case.id]

    review.submit(member, case)
    review.publish(users["facilitator"], case)
    db.session.commit()
    assert_index_matches_database()
    assert found(None, "riverside") == [case.id]

    review.archive(member, case)
    db.session.commit()
    assert_index_matches_database()
    assert found(None, "riverside") == []
    assert found(member, "riverside") == [case.id]  # the author still finds it

    case_studies.delete_case(admin, case)
    db.session.commit()
    assert_index_matches_database()
    assert found(admin, "riverside") == []
    assert indexed_ids() == set()


def test_rolled_back_transaction_leaves_no_ghost_document(taxonomy, users):
    kept = write_case(users["member"], taxonomy, title="Kept practice").id
    case_studies.create_case(users["member"], case_input(taxonomy, title="Ghost practice"))
    db.session.flush()  # written to the database, and to the change log
    db.session.rollback()
    kept_case = db.session.get(CaseStudy, kept)
    case_studies.update_case(users["member"], kept_case,
                             case_input(taxonomy, title="Ghost edit"))
    db.session.rollback()

    assert_index_matches_database()
    assert found(users["admin"], "ghost") == []
    assert found(users["admin"], "kept") == [kept]


def test_failure_after_commit_is_repaired_by_the_next_catch_up(taxonomy, users, monkeypatch,
                                                                caplog):
    def broken(self, engine, writer):
        raise OSError("disk full")

    monkeypatch.setattr(indexer.SearchIndex, "_apply_pending", broken)
    case_id = write_case(users["member"], taxonomy, title="Orchard cooperative").id
    # The commit went through, the failure was logged, nothing raised.
    assert db.session.get(CaseStudy, case_id) is not None
    assert "updating the search index after a commit failed" in caplog.text
    assert case_id not in indexed_ids()
    assert not search.check().ok

    monkeypatch.undo()
    assert search.catch_up() == 1  # one entry: created and published in one transaction
    assert_index_matches_database()
    assert found(None, "orchard") == [case_id]


def test_search_catches_up_entries_committed_elsewhere(app, taxonomy, users):
    """A row committed by another process (here: with the hook off) is found by the next search."""
    app.config["SEARCH_CATCH_UP_ON_COMMIT"] = False
    case_id = write_case(users["member"], taxonomy, title="Lantern mentoring").id
    assert case_id not in indexed_ids()
    assert found(None, "lantern") == [case_id]
    assert_index_matches_database()


def test_replaying_the_change_log_changes_nothing(taxonomy, users):
    first = write_case(users["member"], taxonomy, title="Quarry apprenticeships").id
    case = db.session.get(CaseStudy, first)
    case_studies.update_case(users["member"], case, case_input(taxonomy, title="Quarry mentoring"))
    db.session.commit()
    write_case(users["member"], taxonomy, title="Second quarry")
    assert search.catch_up() == 0
    index = lifecycle.extension().index
    with index._writer() as writer:  # forget having applied anything
        writer.update_document(id=STATE_DOC_ID, state=IndexState().to_json())
        writer.commit()
    assert search.catch_up() == 3
    assert_index_matches_database()
    with index.searcher() as searcher:
        assert searcher.doc_count() == 3  # two case studies and the state, no duplicates


def test_locked_index_leaves_entries_for_later(app, taxonomy, users, caplog):
    index = lifecycle.extension().index
    app.config["SEARCH_CATCH_UP_ON_COMMIT"] = False
    case_id = write_case(users["member"], taxonomy, title="Beacon internships").id
    lock = index._index().lock("WRITELOCK")
    assert lock.acquire()
    try:
        assert search.catch_up(timeout=0.1) is None
        # A search does not wait for the lock: it shows what the index has.
        assert found(None, "beacon") == []
    finally:
        lock.release()
    assert search.catch_up() == 1
    assert found(None, "beacon") == [case_id]


def test_rebuild_raises_when_the_index_is_locked(app_ctx):
    index = lifecycle.extension().index
    lock = index._index().lock("WRITELOCK")
    assert lock.acquire()
    try:
        with pytest.raises(LockError):
            index.rebuild(db.engine, timeout=0.1)
    finally:
        lock.release()


def test_rebuild_indexes_rows_the_change_log_never_saw(taxonomy, users):
    write_case(users["member"], taxonomy, title="Logged practice")
    db.session.execute(insert(CaseStudy).values(
        slug="bulk", title="Bulk loaded practice", summary="Inserted without the ORM.",
        city_id=taxonomy["cities"]["seoul"], education_level="adult", status="published",
        author_id=users["member"].id, language="en",
    ))
    db.session.commit()
    drift = search.check()
    assert len(drift.missing) == 1 and not drift.stale and not drift.extra

    assert search.rebuild(procs=1) == 2
    assert_index_matches_database()
    assert len(found(None, "bulk")) == 1


def test_rebuild_with_two_processes(taxonomy, users):
    for number in range(5):
        write_case(users["member"], taxonomy, title=f"Parallel practice {number}")
    assert search.rebuild(procs=2) == 5
    assert_index_matches_database()
    assert len(search.search(case_visibility(None), "parallel").ids) == 5


def test_check_reports_missing_stale_and_extra(taxonomy, users, app):
    app.config["SEARCH_CATCH_UP_ON_COMMIT"] = False
    first = write_case(users["member"], taxonomy, title="First").id
    second = write_case(users["member"], taxonomy, title="Second").id
    search.catch_up()
    with db.engine.begin() as connection:
        # Changed behind the change log's back: the index is now stale.
        connection.execute(update(CaseStudy).where(CaseStudy.id == second).values(title="Renamed"))
        connection.execute(delete(ChangeLog))
    write_case(users["member"], taxonomy, title="Third")  # logged, but not applied yet
    index = lifecycle.extension().index
    with index._writer() as writer:
        writer.add_document(id="999", title="Orphan")
        writer.commit()
    drift = search.check()
    assert drift.missing == [second + 1]
    assert drift.stale == [second]
    assert drift.extra == ["999"]
    assert first not in drift.missing + drift.stale


def test_database_older_than_index_triggers_a_rebuild(taxonomy, users):
    case_id = write_case(users["member"], taxonomy, title="Survivor").id
    with db.engine.begin() as connection:
        connection.execute(delete(ChangeLog))  # as if the database were restored from a dump
    assert search.catch_up() == 1
    assert search.index_state().seq == 0
    assert found(None, "survivor") == [case_id]


def test_old_schema_version_is_rebuilt_by_ensure_index(taxonomy, users):
    case_id = write_case(users["member"], taxonomy, title="Upgraded").id
    index = lifecycle.extension().index
    with index._writer() as writer:
        writer.update_document(id=STATE_DOC_ID, state=json.dumps({"seq": 0, "schema": 0}))
        writer.commit()
    assert search.index_state().schema == 0
    search.ensure_index()
    assert search.index_state().schema == SCHEMA_VERSION
    assert found(None, "upgraded") == [case_id]
    assert_index_matches_database()


def test_ensure_index_rebuilds_a_lost_index(app, taxonomy, users, tmp_path):
    case_id = write_case(users["member"], taxonomy, title="Remembered").id
    with db.engine.begin() as connection:
        connection.execute(delete(ChangeLog))  # the log no longer reaches back to the row
    lifecycle.extension().index.close()
    lifecycle.extension().index.path = tmp_path / "replacement"
    search.ensure_index()
    assert found(None, "remembered") == [case_id]
    assert_index_matches_database()


def test_index_is_created_on_first_use_when_missing(app, taxonomy, users, tmp_path):
    lifecycle.extension().index.close()
    other = tmp_path / "elsewhere"
    lifecycle.extension().index.path = other
    case_id = write_case(users["member"], taxonomy, title="Fresh start").id
    assert other.exists()
    assert found(None, "fresh") == [case_id]


# Gaps: sequence numbers that commit after a higher one (PostgreSQL).

def test_state_advances_and_records_gaps():
    state = IndexState(seq=10)
    later = state.advanced([11, 12, 15], high=15, now=100.0, gap_seconds=60)
    assert later.seq == 15
    assert later.gaps == [[13, 14, 100.0]]
    filled = later.advanced([13], high=15, now=110.0, gap_seconds=60)
    assert filled.gaps == [[14, 14, 100.0]]
    expired = filled.advanced([], high=15, now=200.0, gap_seconds=60)
    assert expired.gaps == []
    assert IndexState.from_json(later.to_json()) == later


def test_gap_filled_by_a_late_commit_is_applied(app, taxonomy, users):
    """Entry 2 commits after entry 3: the catch-up that saw 3 still applies 2 later."""
    app.config["SEARCH_CATCH_UP_ON_COMMIT"] = False
    early = write_case(users["member"], taxonomy, publish=False, title="Early bird").id
    late = write_case(users["member"], taxonomy, publish=False, title="Late owl").id
    entries = db.session.execute(select(ChangeLog.seq, ChangeLog.entity_id)
                                 .order_by(ChangeLog.seq)).all()
    assert [e.entity_id for e in entries] == [early, late]
    # Hide the first entry, as an uncommitted transaction would.
    with db.engine.begin() as connection:
        connection.execute(delete(ChangeLog).where(ChangeLog.seq == entries[0].seq))
    assert search.catch_up() == 1
    assert search.index_state().gaps[0][:2] == [entries[0].seq, entries[0].seq]
    assert indexed_ids() == {late}
    # Now the first transaction commits.
    with db.engine.begin() as connection:
        connection.execute(insert(ChangeLog).values(
            seq=entries[0].seq, entity="case_study", entity_id=early,
            operation=ChangeOperation.UPSERT,
        ))
    assert lifecycle.extension().index.is_behind(db.session)
    assert search.catch_up() == 1
    assert indexed_ids() == {early, late}
    assert search.index_state().gaps == []


def test_gaps_expire(app, taxonomy, users):
    app.config["SEARCH_CATCH_UP_ON_COMMIT"] = False
    index = lifecycle.extension().index
    first = write_case(users["member"], taxonomy, publish=False, title="Only").id
    write_case(users["member"], taxonomy, publish=False, title="Other")
    with db.engine.begin() as connection:
        connection.execute(delete(ChangeLog).where(ChangeLog.entity_id == first))
    search.catch_up()
    assert search.index_state().gaps
    index.gap_seconds = 0.0
    time.sleep(0.01)
    assert index.is_behind(db.session)
    assert search.catch_up() == 0
    assert search.index_state().gaps == []
    assert not index.is_behind(db.session)


def test_drafts_are_indexed_with_status_and_author(taxonomy, users):
    case_id = write_case(users["member"], taxonomy, publish=False, title="Drafted").id
    index = lifecycle.extension().index
    with index.searcher() as searcher:
        docnum = searcher.document_number(id=str(case_id))
        reader = searcher.reader()
        assert reader.column_reader("status")[docnum] == CaseStatus.DRAFT.value
        assert reader.column_reader("author")[docnum] == str(users["member"].id)


def test_fast_postings_reader_agrees_with_whoosh(taxonomy, users):
    """The engine reads Whoosh's posting blocks directly; it must see what Whoosh's matcher sees."""
    from kb.search.engine import _read_postings

    for number in range(30):
        write_case(users["member"], taxonomy, title=f"Nurses {number}",
                   body="nurses train nurses " * (number % 4 + 1))
    with lifecycle.extension().index.searcher() as searcher:
        for leaf, _ in searcher.reader().leaf_readers():
            for fieldname, text in (("body", b"nurs"), ("title", b"nurs"), ("body", b"train")):
                if (fieldname, text) not in leaf:
                    continue
                matcher = leaf.postings(fieldname, text)
                expected = []
                while matcher.is_active():
                    expected.append((matcher.id(), matcher.weight()))
                    matcher.next()
                postings = _read_postings(leaf, fieldname, text)
                deleted = set(leaf.segment().deleted_docs()) if leaf.has_deletions() else set()
                found = [(d, w) for d, w in zip(postings.ids, postings.tfs) if d not in deleted]
                assert found == expected
