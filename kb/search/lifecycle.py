"""The search index's life: attached to the app, created, caught up, rebuilt, checked.

The index is a Whoosh replica of the database kept true through the change
log (:mod:`kb.search.indexer`, docs/change-log-and-index.md): after every
commit that changed a case study, before a search that finds the index
behind (:func:`catch_up_if_behind`), and from ``flask kb search catch-up``.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app
from sqlalchemy import event, select

from kb.extensions import db
from kb.models import CaseStudy, ChangeLog
from kb.search.engine import Engine, Engines
from kb.search.facets import FacetTables
from kb.search.indexer import Drift, IndexState, SearchIndex
from kb.search.query import build_parser
from kb.search.schema import SCHEMA_VERSION, build_schema

log = logging.getLogger("kb.search")

_EXTENSION = "kb_search"


def init_app(app: Flask) -> None:
    """Attach a search index handle to ``app`` and index work to its commits.

    Nothing is opened here: the database and the index may not exist yet
    (``flask kb init`` creates them). The index is opened on first use.
    """
    app.extensions[_EXTENSION] = SearchExtension(SearchIndex(
        app.config["INDEX_DIR"],
        writer_timeout=float(app.config["SEARCH_WRITER_TIMEOUT"]),
        gap_seconds=float(app.config["SEARCH_GAP_SECONDS"]),
    ))
    _listen_to_commits()


class SearchExtension:
    """Per-app search state: the index handle, its parser and its facet tables."""

    def __init__(self, index: SearchIndex):
        self.index = index
        self.tables = FacetTables()
        self.engines = Engines(index.path)
        self._parser = None

    def reset(self) -> None:
        """Forget the parser and the engine, to pick up changed settings (benchmarks)."""
        self._parser = None
        self.engines = Engines(self.index.path)

    def engine(self, searcher) -> Engine:
        """The query engine (and through it the facet table) of ``searcher``'s reader."""
        return self.engines.engine(searcher, self.tables.table(searcher))

    @property
    def parser(self):
        """The search box's query parser (built on first use)."""
        if self._parser is None:
            self._parser = build_parser(build_schema())
        return self._parser


def extension() -> SearchExtension:
    """The current app's search extension (:func:`init_app` attached it)."""
    return current_app.extensions[_EXTENSION]


def ensure_index(catch_up: bool = True) -> None:
    """Make the index ready: created (and filled) if missing, rebuilt if old, caught up.

    Run by ``flask kb init`` before workers start, and by the test fixture.
    """
    index = extension().index
    created = index.create()
    if created and case_count():
        # A lost index folder: the change log may not reach back to every row.
        log.warning("search index %s was missing; rebuilding it", index.path)
        rebuild()
    elif index.state().schema != SCHEMA_VERSION:
        log.warning("search index %s has an old schema; rebuilding it", index.path)
        rebuild()
    elif catch_up:
        index.catch_up(db.engine)


def index_state() -> IndexState:
    """What the index has applied (for the CLI and diagnostics)."""
    return extension().index.state()


def catch_up(timeout: float | None = None) -> int | None:
    """Apply pending change-log entries; None when another process holds the index lock."""
    return extension().index.catch_up(db.engine, timeout=timeout)


def rebuild(progress=None, procs: int | None = None) -> int:
    """Rebuild every document from the database; returns how many were indexed.

    ``procs`` (default: the ``SEARCH_REBUILD_PROCS`` setting) processes
    load, convert and index the case studies.
    """
    if procs is None:
        procs = int(current_app.config["SEARCH_REBUILD_PROCS"])
    return extension().index.rebuild(db.engine, progress, procs=procs)


def check() -> Drift:
    """Compare the index with the database."""
    return extension().index.check(db.engine)


def case_count() -> int:
    """How many case studies the database holds (what a rebuild will index)."""
    return db.session.scalar(select(db.func.count()).select_from(CaseStudy)) or 0


_PENDING = "kb_search_pending"
# Set in a session's info once its transaction has found the index caught up.
_CAUGHT_UP = "kb_search_caught_up"
_listening = False


def _listen_to_commits() -> None:
    """Catch the index up after each commit that wrote change-log rows (once per process).

    Index work happens only after the commit (Invenio's rule): a rollback
    leaves no ghost documents, and a failure here never fails or loses the
    database change, whose change-log entry the next catch-up applies.
    """
    global _listening
    if _listening:
        return
    _listening = True
    event.listen(db.session, "after_flush", _note_change_log_rows)
    event.listen(db.session, "after_commit", _catch_up_after_commit)
    event.listen(db.session, "after_rollback", _forget_pending)
    event.listen(db.session, "after_transaction_end", _forget_caught_up)


def _note_change_log_rows(session, flush_context) -> None:
    if any(isinstance(obj, ChangeLog) for obj in session.new):
        session.info[_PENDING] = True


def _forget_pending(session) -> None:
    session.info.pop(_PENDING, None)


def _forget_caught_up(session, transaction) -> None:
    session.info.pop(_CAUGHT_UP, None)


def _catch_up_after_commit(session) -> None:
    if not session.info.pop(_PENDING, False):
        return
    try:
        app = current_app._get_current_object()
        if _EXTENSION not in app.extensions or not app.config["SEARCH_CATCH_UP_ON_COMMIT"]:
            return
        app.extensions[_EXTENSION].index.catch_up(db.engine)
    except Exception:
        # The change is committed and its change-log entry is safe: the
        # next catch-up (next commit, next search, or the CLI) applies it.
        log.exception("updating the search index after a commit failed; it will catch up later")


def catch_up_if_behind(index: SearchIndex) -> bool:
    """Before a search: apply entries other processes committed, if no one else is.

    True when the index is known to hold every change the transaction can
    see. Checked once per transaction: a page searching more than once (a
    case study's related boxes) asks the database once; a commit or
    rollback asks again.
    """
    session = db.session()
    if session.info.get(_CAUGHT_UP):
        return True
    try:
        if not index.is_behind(session) or index.catch_up(db.engine, timeout=0) is not None:
            session.info[_CAUGHT_UP] = True
    except Exception:
        log.exception("catching the search index up before a search failed")
    return bool(session.info.get(_CAUGHT_UP))
