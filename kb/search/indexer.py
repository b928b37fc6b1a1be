"""Keeping the index true to the database through the change log.

The design is docs/change-log-and-index.md. Every change to a case study
writes a ``change_log`` row in the same transaction. After a commit, and
before a search that finds the index behind, the indexer applies the
entries it has not applied yet, in sequence order and idempotently: it
reads each case study's current row and replaces its document
(``update_document`` on the unique id), or deletes the document when the
row is gone. The index records, in a state document committed together
with the changes, the last sequence number it applied.

Sequence numbers are allocated when a row is inserted but become visible
when its transaction commits, so under PostgreSQL a later number can be
seen before an earlier one. Numbers skipped below the high-water mark are
kept as *gaps* and looked for again on every catch-up for
``SEARCH_GAP_SECONDS``; a gap that never fills (its transaction rolled
back) is then forgotten. Applying an entry twice is harmless.

Writers wait ``SEARCH_WRITER_TIMEOUT`` seconds for the index lock; a
process that cannot get it leaves the work to the process holding it (the
entries stay in the log for the next catch-up, so nothing is lost).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import queue
import shutil
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session, selectinload
from whoosh import index as whoosh_index
from whoosh.index import LockError
from whoosh.searching import Searcher
from whoosh.writing import SegmentWriter

from kb.models import Adaptation, CaseStudy, ChangeLog, latest_change_seq
from kb.search.bulk import BulkSegmentWriter
from kb.search.schema import SCHEMA_VERSION, STATE_DOC_ID, build_schema, case_document

log = logging.getLogger("kb.search")

# Change-log entries applied per index commit during a catch-up.
CATCH_UP_BATCH = 2_000
# Case studies loaded from the database at once.
LOAD_CHUNK = 200
# Gap ranges remembered at most; the oldest are forgotten first.
MAX_GAP_RANGES = 100
# Case studies in one segment written by the rebuild: bounds a rebuild
# process's memory (about 15 MB per 1,000 case studies).
REBUILD_SEGMENT_CASES = 5_000
# Seconds between checks that the rebuild's processes are still alive.
REBUILD_POLL_SECONDS = 1.0
# How far below the newest entry a rebuild looks for gaps.
REBUILD_GAP_WINDOW = 1_000


@dataclass
class IndexState:
    """What the index has applied: the high-water mark and the gaps below it."""

    seq: int = 0
    # [first seq, last seq, time first seen] of numbers not seen yet.
    gaps: list[list[float]] = field(default_factory=list)
    schema: int = SCHEMA_VERSION

    def to_json(self) -> str:
        """The state as stored in the state document."""
        return json.dumps({"seq": self.seq, "gaps": self.gaps, "schema": self.schema})

    @classmethod
    def from_json(cls, text: str | None) -> IndexState:
        """The state stored in ``text``; an index without one starts from zero."""
        if not text:
            return cls(schema=0)
        data = json.loads(text)
        return cls(seq=int(data["seq"]), gaps=[list(g) for g in data.get("gaps", [])],
                   schema=int(data.get("schema", 0)))

    def gap_seqs_filter(self):
        """A SQL condition selecting change-log rows in the gaps."""
        return or_(*(ChangeLog.seq.between(int(lo), int(hi)) for lo, hi, _ in self.gaps))

    def advanced(self, seen: Iterable[int], high: int, now: float,
                 gap_seconds: float) -> IndexState:
        """The state after applying entries ``seen`` up to ``high``.

        Numbers between the old mark and ``high`` that were not seen become
        gaps; gaps that were seen or are older than ``gap_seconds`` go.
        """
        seen = sorted(set(seen))
        gaps: list[list[float]] = []
        for lo, hi, first_seen in self.gaps:
            if now - first_seen > gap_seconds:
                continue
            gaps.extend([a, b, first_seen] for a, b in _missing_ranges(int(lo), int(hi), seen))
        if high > self.seq:
            gaps.extend([a, b, now] for a, b in _missing_ranges(self.seq + 1, high, seen))
        gaps.sort(key=lambda g: g[2])
        return IndexState(seq=max(self.seq, high), gaps=gaps[-MAX_GAP_RANGES:])


def _missing_ranges(lo: int, hi: int, seen: list[int]) -> Iterator[tuple[int, int]]:
    """Ranges of the numbers in ``lo..hi`` that are not in sorted ``seen``."""
    start = lo
    for number in seen:
        if number < start:
            continue
        if number > hi:
            break
        if number > start:
            yield start, number - 1
        start = number + 1
    if start <= hi:
        yield start, hi


@dataclass
class Drift:
    """How the index differs from the database (see :meth:`SearchIndex.check`)."""

    missing: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    # Document ids held more than once (two writers adding the same case study).
    duplicated: list[str] = field(default_factory=list)
    behind_by: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.stale or self.extra or self.duplicated)


@dataclass
class _Batch:
    """What one catch-up step did."""

    applied: int = 0
    more: bool = False  # a full batch: look again
    dirty: bool = False  # something to commit
    reset: bool = False  # the database is older than the index


def load_cases(session: Session, ids: Iterable[int]) -> list[CaseStudy]:
    """The case studies with ``ids`` that exist, with what their documents need loaded."""
    ids = list(ids)
    if not ids:
        return []
    return list(session.scalars(
        select(CaseStudy)
        .where(CaseStudy.id.in_(ids))
        .options(selectinload(CaseStudy.city), selectinload(CaseStudy.problems),
                 selectinload(CaseStudy.contexts),
                 selectinload(CaseStudy.adapted_from_links).selectinload(Adaptation.source),
                 selectinload(CaseStudy.adapted_by_links).selectinload(Adaptation.adapting))
    ))


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class _Written:
    """What the rebuild's writers have reported: segments, documents added, progress."""

    def __init__(self, progress: Callable[[int], None] | None):
        self.segments: list = []
        self.added = 0
        self._progress = progress

    def report(self, kind: str, value) -> None:
        """Take one report of :func:`_write_segments`."""
        if kind == "segment":
            self.segments.append(value)
        elif kind == "chunk":
            looked_at, added = value
            self.added += added
            if self._progress is not None:
                self._progress(looked_at)


def _write_segments(ix, schema, engine: Engine, ids: list[int],
                    report: Callable[[str, object], None]) -> None:
    """Index the case studies ``ids`` into new segments, which the lock holder commits.

    ``report`` gets ``("chunk", (ids looked at, documents added))`` after each
    chunk loaded and ``("segment", segment)`` for each segment written.
    """
    with Session(engine) as session:
        for share in _chunks(ids, REBUILD_SEGMENT_CASES):
            writer = BulkSegmentWriter(ix, _lk=False)
            writer.schema = schema
            for chunk in _chunks(share, LOAD_CHUNK):
                cases = load_cases(session, chunk)
                for case in cases:
                    writer.add_document(**case_document(case).fields)
                session.expunge_all()
                report("chunk", (len(chunk), len(cases)))
            if writer.doc_count():
                report("segment", writer.finish_segment())


def _reachable_from_children(engine: Engine) -> bool:
    """False for an in-memory SQLite database, which another process cannot open."""
    url = engine.url
    return not (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"))


def _write_in_processes(ix, schema, engine: Engine, ids: list[int], procs: int,
                        written: _Written) -> None:
    """Run :func:`_write_segments` in ``procs`` forked processes, on consecutive shares of ``ids``.

    The children report through a queue; any failure in one stops them all
    and raises here, leaving the index as it was (segment files that were
    written but never committed are removed by the next commit).
    """
    context = multiprocessing.get_context("fork")
    reports = context.Queue()
    size = -(-len(ids) // procs)
    children = [context.Process(target=_write_in_child,
                                args=(ix, schema, engine, ids[start:start + size], reports),
                                daemon=True)
                for start in range(0, len(ids), size)]
    for child in children:
        child.start()
    try:
        running = len(children)
        while running:
            try:
                kind, value = reports.get(timeout=REBUILD_POLL_SECONDS)
            except queue.Empty:
                if any(child.exitcode for child in children):
                    raise RuntimeError("a rebuild process died; the index is unchanged") from None
                continue
            if kind == "error":
                raise RuntimeError(f"a rebuild process failed; the index is unchanged:\n{value}")
            if kind == "done":
                running -= 1
            else:
                written.report(kind, value)
        for child in children:
            child.join()
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
                child.join()


def _write_in_child(ix, schema, engine: Engine, ids: list[int], reports) -> None:
    """A rebuild process: write its share, report everything on ``reports``, then "done"."""
    # The parent's pooled connections belong to the parent: this process
    # opens its own (SQLAlchemy's advice for forked processes).
    engine.dispose(close=False)
    try:
        _write_segments(ix, schema, engine, ids, lambda kind, value: reports.put((kind, value)))
    except Exception:  # whatever it is, the parent raises it with this traceback
        reports.put(("error", traceback.format_exc()))
    else:
        reports.put(("done", None))


class SearchIndex:
    """One process's handle on one index folder: opened once, searchers reused.

    All methods are safe to call from several threads; searches share one
    searcher, refreshed when another writer (in this process or another)
    has committed.
    """

    def __init__(self, path: str | os.PathLike, *, writer_timeout: float = 10.0,
                 gap_seconds: float = 300.0):
        self.path = Path(path)
        self.writer_timeout = writer_timeout
        self.gap_seconds = gap_seconds
        self._lock = threading.RLock()
        self._ix = None
        self._searcher: Searcher | None = None
        self._state_cache: tuple[int, IndexState] | None = None

    # Opening -------------------------------------------------------------

    def exists(self) -> bool:
        """True when the folder holds an index."""
        return whoosh_index.exists_in(str(self.path))

    def create(self) -> bool:
        """Create an empty index unless one exists; True when this call created it.

        The index is made in a private folder and renamed into place, so
        processes starting together cannot half-create it twice.
        """
        if self.exists():
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}")
        staging.mkdir()
        try:
            ix = whoosh_index.create_in(str(staging), build_schema())
            writer = ix.writer()
            writer.add_document(id=STATE_DOC_ID, state=IndexState().to_json())
            writer.commit()
            if self.path.exists() and not any(self.path.iterdir()):
                self.path.rmdir()
            os.rename(staging, self.path)
        except OSError:
            if self.exists():
                return False  # another process got there first
            raise
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        log.info("created search index in %s", self.path)
        return True

    def _index(self):
        if self._ix is None:
            # A process started without `flask kb init` still gets an index;
            # the catch-up before its first search fills it from the log.
            self.create()
            self._ix = whoosh_index.open_dir(str(self.path))
        return self._ix

    def close(self) -> None:
        """Release the searcher and the index (tests, and before deleting the folder)."""
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
            self._searcher = None
            self._ix = None
            self._state_cache = None

    # Reading -------------------------------------------------------------

    @contextmanager
    def searcher(self) -> Iterator[Searcher]:
        """The process's searcher over the newest commit, for the duration of the block."""
        with self._lock:
            searcher = self._searcher
            if searcher is not None and not searcher.up_to_date():
                # Not Searcher.refresh(): its reader reuse keeps a segment's
                # old deletions (and can bring back merged-away segments).
                searcher.close()
                searcher = None
            if searcher is None:
                searcher = self._index().searcher()
            self._searcher = searcher
            yield searcher

    def state(self, searcher: Searcher | None = None) -> IndexState:
        """The state the newest commit (or ``searcher``'s) recorded."""
        if searcher is None:
            with self.searcher() as current:
                return self.state(current)
        generation = searcher.reader().generation()
        cached = self._state_cache
        if cached is not None and cached[0] == generation and searcher is self._searcher:
            return cached[1]
        stored = searcher.document(id=STATE_DOC_ID)
        state = IndexState.from_json(stored.get("state") if stored else None)
        if searcher is self._searcher:
            self._state_cache = (generation, state)
        return state

    def is_behind(self, session: Session) -> bool:
        """True when the change log holds entries the index has not applied."""
        state = self.state()
        if latest_change_seq(session) != state.seq:
            return True
        if not state.gaps:
            return False
        now = time.time()
        if any(now - first_seen > self.gap_seconds for _, _, first_seen in state.gaps):
            return True
        return session.scalar(select(ChangeLog.seq).where(state.gap_seqs_filter()).limit(1)) \
            is not None

    # Writing -------------------------------------------------------------

    @contextmanager
    def _writer(self, timeout: float | None = None,
                writer_class: type[SegmentWriter] = SegmentWriter) -> Iterator[SegmentWriter]:
        """A writer holding the index lock; committed by the caller, cancelled on error.

        Raises :class:`whoosh.index.LockError` when another process holds
        the lock for longer than ``timeout`` seconds.
        """
        timeout = self.writer_timeout if timeout is None else timeout
        writer = writer_class(self._index(), timeout=timeout, delay=0.05)
        try:
            yield writer
        finally:
            if not writer.is_closed:
                writer.cancel()

    def catch_up(self, engine: Engine, *, timeout: float | None = None) -> int | None:
        """Apply the change-log entries the index lacks; returns how many, or None if locked.

        None means another process holds the lock and is doing this work;
        the entries stay in the log either way.
        """
        applied = 0
        while True:
            try:
                with self._writer(timeout) as writer:
                    batch = self._apply_pending(engine, writer)
                    if batch.reset:
                        break
                    if batch.dirty:
                        writer.commit()
            except LockError:
                log.info("search index %s is locked by another writer; it will catch up",
                         self.path)
                return None
            applied += batch.applied
            if not batch.more:
                return applied
        # The change log is behind the index: the database was replaced.
        log.warning("the change log is older than search index %s; rebuilding it", self.path)
        return self.rebuild(engine, timeout=timeout)

    def _apply_pending(self, engine: Engine, writer: SegmentWriter) -> _Batch:
        """Apply one batch of pending entries inside ``writer``."""
        stored = writer.searcher().document(id=STATE_DOC_ID)
        state = IndexState.from_json(stored.get("state") if stored else None)
        now = time.time()
        with Session(engine) as session:
            if latest_change_seq(session) < state.seq:
                return _Batch(reset=True)
            columns = (ChangeLog.seq, ChangeLog.entity, ChangeLog.entity_id)
            fresh = session.execute(
                select(*columns).where(ChangeLog.seq > state.seq)
                .order_by(ChangeLog.seq).limit(CATCH_UP_BATCH)
            ).all()
            filled = session.execute(
                select(*columns).where(state.gap_seqs_filter())
            ).all() if state.gaps else []
            entries = sorted(fresh + filled)
            high = fresh[-1].seq if fresh else state.seq
            new_state = state.advanced((e.seq for e in entries), high, now, self.gap_seconds)
            if not entries and new_state.gaps == state.gaps:
                return _Batch()
            ids = list(dict.fromkeys(e.entity_id for e in entries if e.entity == "case_study"))
            self._write_cases(session, writer, ids)
        writer.update_document(id=STATE_DOC_ID, state=new_state.to_json())
        return _Batch(applied=len(entries), more=len(fresh) == CATCH_UP_BATCH, dirty=True)

    @staticmethod
    def _write_cases(session: Session, writer: SegmentWriter, ids: list[int]) -> None:
        """Make the documents of ``ids`` match their rows: replace, or delete if gone."""
        for chunk in _chunks(ids, LOAD_CHUNK):
            found = {case.id: case for case in load_cases(session, chunk)}
            for case_id in chunk:
                case = found.get(case_id)
                if case is None:
                    writer.delete_by_term("id", str(case_id))
                else:
                    writer.update_document(**case_document(case).fields)
            session.expunge_all()

    def rebuild(self, engine: Engine, progress: Callable[[int], None] | None = None,
                *, timeout: float | None = None, procs: int = 1) -> int:
        """Replace every document with one made from the database; returns the count.

        Holds the index lock throughout, so concurrent catch-ups wait or
        leave their entries for later; entries committed during the rebuild
        are above the recorded mark and are applied by the next catch-up.
        An index of an older SCHEMA_VERSION gets the new schema here.

        The documents are written by :class:`kb.search.bulk.BulkSegmentWriter`
        in segments of at most REBUILD_SEGMENT_CASES case studies, by
        ``procs`` processes that each load, convert and index their own share
        of the case studies; the segments are committed together at the end.
        """
        with self._writer(timeout, BulkSegmentWriter) as writer:
            writer.schema = build_schema()
            with Session(engine) as session:
                high = latest_change_seq(session)
                recent = session.scalars(
                    select(ChangeLog.seq).where(ChangeLog.seq > high - REBUILD_GAP_WINDOW)
                ).all()
                state = IndexState(seq=max(0, high - REBUILD_GAP_WINDOW)).advanced(
                    recent, high, time.time(), self.gap_seconds
                )
                ids = list(session.scalars(select(CaseStudy.id).order_by(CaseStudy.id)))
            written = _Written(progress)
            if procs > 1 and ids and _reachable_from_children(engine):
                _write_in_processes(self._index(), writer.schema, engine, ids, procs, written)
            else:
                _write_segments(self._index(), writer.schema, engine, ids, written.report)
            writer.add_document(id=STATE_DOC_ID, state=state.to_json())
            writer.commit_segments(written.segments)
        with self.searcher() as searcher:
            indexed = searcher.doc_count() - 1
        if indexed != written.added:
            raise RuntimeError(
                f"the rebuilt index holds {indexed} case studies instead of {written.added}; "
                "run the rebuild again"
            )
        return written.added

    # Checking ------------------------------------------------------------

    def check(self, engine: Engine) -> Drift:
        """Compare every document with its row: missing, stale (differs) and extra ones."""
        with self.searcher() as searcher, Session(engine) as session:
            state = self.state(searcher)
            indexed: dict[str, str] = {}
            duplicated: set[str] = set()
            for fields in searcher.all_stored_fields():
                if fields.get("id") != STATE_DOC_ID:
                    if fields["id"] in indexed:
                        duplicated.add(fields["id"])
                    indexed[fields["id"]] = fields.get("fingerprint", "")
            drift = Drift(behind_by=max(0, latest_change_seq(session) - state.seq),
                          duplicated=sorted(duplicated, key=lambda i: (len(i), i)))
            ids = session.scalars(select(CaseStudy.id).order_by(CaseStudy.id)).all()
            for chunk in _chunks(list(ids), LOAD_CHUNK):
                for case in load_cases(session, chunk):
                    fingerprint = indexed.pop(str(case.id), None)
                    if fingerprint is None:
                        drift.missing.append(case.id)
                    elif fingerprint != case_document(case).fingerprint:
                        drift.stale.append(case.id)
                session.expunge_all()
            drift.extra = sorted(indexed, key=lambda i: (len(i), i))
        return drift
