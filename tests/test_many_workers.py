"""kb under gunicorn with several workers (issue 5, item 5).

A real gunicorn master (``kb/gunicorn_conf.py``, as ``make serve`` runs it)
with 3 workers on a free loopback port, and 4 client processes posting the
case-study form over HTTP with login and CSRF, as browsers do. Then workers
are killed with SIGKILL in the middle of the writes, the first one while it
holds the index's write lock.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from factories import PASSWORD, case_input
from instances import BASE_DATABASE_URL
from live_kb import (
    ClientReport,
    compare_index,
    fresh_schema,
    index_lock_holder,
    kill,
    local_app,
    seed,
    server_settings,
    submit_cases,
    unfound,
)

from bench.load.client import WebClient
from bench.load.server import GunicornServer
from kb.extensions import db
from kb.models import User
from kb.services import case_studies, collections
from kb.services.collections import CollectionInput

WORKERS = 3
CLIENTS = 4
SUBMISSIONS = 50
# Phase two: submissions per client while workers are killed.
MORE = 25
# How long the first kill waits for a worker to be caught holding the index
# lock: the clients may take a while to start on a busy machine, and every
# save holds the lock for a moment once they have.
CATCH_LOCK_HOLDER_SECONDS = 60.0


@pytest.fixture
def database_url():
    """A fresh schema of the test database, dropped afterwards."""
    with fresh_schema(BASE_DATABASE_URL) as url:
        yield url


def clients_submit(url: str, world, first: int, count: int, search_after: bool,
                   while_running=None) -> list[ClientReport]:
    """``CLIENTS`` processes, each submitting ``count`` case studies as its own member.

    ``while_running`` is called in this process while they work.
    """
    with ProcessPoolExecutor(CLIENTS, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(submit_cases, url, world.members[n], world, n, first, count,
                               search_after) for n in range(CLIENTS)]
        if while_running is not None:
            while_running()
        return [future.result() for future in futures]


def kill_workers(server: GunicornServer, index_dir: Path) -> list[tuple[int, float, bool]]:
    """SIGKILL two workers during the writes: first one holding the index lock, then any.

    Returns (pid, when, held the index lock) for each kill.
    """
    killed = []
    deadline = time.monotonic() + CATCH_LOCK_HOLDER_SECONDS
    holder = None
    while holder is None and time.monotonic() < deadline:
        holder = index_lock_holder(index_dir, server.worker_pids())
        if holder is None:
            time.sleep(0.002)
    victim = holder or server.worker_pids()[0]
    kill(victim)
    killed.append((victim, time.time(), holder is not None))
    time.sleep(0.5)
    victim = server.worker_pids()[-1]
    kill(victim)
    killed.append((victim, time.time(), False))
    return killed


@pytest.mark.postgres
@pytest.mark.slow
def test_many_workers_keep_every_submission_indexed_once(tmp_path, database_url):
    instance = tmp_path / "instance"
    settings = server_settings(database_url, instance)
    with GunicornServer(settings, tmp_path / "gunicorn.log", workers=WORKERS) as server, \
            local_app(database_url, instance) as app:
        log = server.log()
        # `flask kb init` ran once, in the master, before any worker was forked.
        assert log.count("running `flask kb init`") == 1
        assert log.count("Database and search index are ready.") == 1
        assert log.index("Database and search index are ready.") < log.index("Booting worker")
        world = seed(app, CLIENTS)

        # Phase one: 4 clients x 50 submissions, then each searches for its own.
        reports = clients_submit(server.url, world, 0, SUBMISSIONS, search_after=True)
        assert [(r.failures, r.broken, r.unfound) for r in reports] == [([], [], [])] * CLIENTS
        assert [len(r.accepted) for r in reports] == [SUBMISSIONS] * CLIENTS
        # Every row in the index exactly once, with no catch-up beyond the servers' own.
        first = compare_index(app, catch_up=False)
        assert first.cases == CLIENTS * SUBMISSIONS
        assert (first.missing, first.stale, first.extra, first.duplicated, first.behind_by) \
            == ([], [], [], [], 0)

        # Phase two: workers are killed while the clients write.
        killed: list[tuple[int, float, bool]] = []
        reports = clients_submit(server.url, world, SUBMISSIONS, MORE, search_after=False,
                                 while_running=lambda: killed.extend(
                                     kill_workers(server, instance / "index")))
        assert killed[0][2], "no worker was caught holding the index lock"
        # Only a request in flight in a killed worker may break; writes went on after.
        broken = sum(len(r.broken) for r in reports)
        assert broken <= len(killed)
        assert [r.failures for r in reports] == [[]] * CLIENTS
        assert sum(len(r.accepted) for r in reports) == CLIENTS * MORE - broken
        last_kill = killed[-1][1]
        assert any(when > last_kill for r in reports for when in r.accepted_at)

        # gunicorn replaced the killed workers; the index still opens and searches.
        server.wait_until_ready(time.monotonic() + 60)
        assert not {pid for pid, _, _ in killed} & set(server.worker_pids())
        curator = WebClient(server.url)
        curator.log_in(world.facilitator, PASSWORD)
        assert curator.search("apprenticeship")[0] >= CLIENTS * SUBMISSIONS

        # After a catch-up the index equals the database, each case study once,
        # and every accepted submission is found.
        repaired = compare_index(app, catch_up=True)
        assert repaired.cases >= CLIENTS * (SUBMISSIONS + MORE) - broken
        assert (repaired.missing, repaired.stale, repaired.extra, repaired.duplicated,
                repaired.behind_by) == ([], [], [], [], 0)
        assert [unfound(app, world.members[n], reports[n].accepted) for n in range(CLIENTS)] \
            == [[]] * CLIENTS


def _create_case_titled(taxonomy, user: User, title: str) -> str:
    return case_studies.create_case(user, case_input(taxonomy, title=title)).slug


def _create_collection_titled(taxonomy, user: User, title: str) -> str:
    return collections.create_collection(user, CollectionInput(title=title)).slug


@pytest.mark.postgres
@pytest.mark.parametrize("create", [_create_case_titled, _create_collection_titled],
                         ids=["case study", "collection"])
def test_concurrent_saves_of_one_title_get_different_slugs(app, taxonomy, people, create):
    """Two transactions creating the same title: the second waits for the first's slug."""
    first_flushed, first_may_commit = threading.Event(), threading.Event()
    slugs: dict[str, str] = {}

    def save(name: str, user_id: int, hold: bool) -> None:
        with app.app_context():
            slug = create(taxonomy, db.session.get(User, user_id), "Shared title")
            if hold:
                first_flushed.set()
                first_may_commit.wait(10)
            db.session.commit()
            slugs[name] = slug

    first = threading.Thread(target=save, args=("first", people["member"], True))
    second = threading.Thread(target=save, args=("second", people["other_member"], False))
    first.start()
    assert first_flushed.wait(10)
    second.start()
    second.join(0.5)
    assert second.is_alive(), "the second save did not wait for the first's slug"
    first_may_commit.set()
    first.join(10)
    second.join(10)
    assert slugs == {"first": "shared-title", "second": "shared-title-2"}


@pytest.mark.slow
def test_serve_initialises_once_then_forks_the_workers(tmp_path):
    """``make serve``'s configuration on SQLite: init once, then every worker answers."""
    instance = tmp_path / "instance"
    settings = {"INSTANCE_PATH": str(instance), "SECRET_KEY": "serve-test"}
    with GunicornServer(settings, tmp_path / "gunicorn.log", workers=2) as server:
        assert WebClient(server.url).get("/").status == 200
        log = server.log()
    assert log.count("Database and search index are ready.") == 1
    assert log.index("Database and search index are ready.") < log.index("Booting worker")
    assert (instance / "kb.sqlite").exists() and (instance / "index").is_dir()
    # No control socket: a second server on the machine must not take over the first's.
    assert "Control socket" not in log


def test_serve_stops_when_init_fails(tmp_path):
    """A database that cannot be migrated stops the server before any worker starts."""
    settings = {"INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "serve-test",
                "DATABASE_URL": f"sqlite:///{tmp_path / 'missing' / 'folder' / 'kb.sqlite'}"}
    server = GunicornServer(settings, tmp_path / "gunicorn.log", workers=2)
    with pytest.raises(RuntimeError, match="gunicorn exited"):
        server.start(60)
    log = server.log()
    assert "`flask kb init` failed" in log
    assert "Booting worker" not in log
