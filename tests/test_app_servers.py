"""Two kb app servers sharing one PostgreSQL database (issue 5, item 6).

Each server is its own gunicorn with its own instance folder, and so its
own search index; they share the database and the secret key, as servers
behind one load balancer do. The change log is the replication log: a
server applies the entries the other one wrote before it next searches, so
after writes through either server both answer every search the same.
"""

from __future__ import annotations

import pytest
from factories import PASSWORD
from instances import BASE_DATABASE_URL
from live_kb import (
    applied_and_latest,
    compare_index,
    fresh_schema,
    local_app,
    marker,
    seed,
    server_settings,
)

from bench.load.client import WebClient, case_form, slug_of
from bench.load.server import GunicornServer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def database_url():
    """A fresh schema of the test database, dropped afterwards."""
    with fresh_schema(BASE_DATABASE_URL) as url:
        yield url


def write(web: WebClient, token: str, world, word: str, path: str = "/cases/new",
          version: int | None = None) -> str:
    """Save the case-study form with ``word`` in its title; returns the case study's slug."""
    answer = web.post(path, case_form(token, f"Dual training {word}", city_id=world.city_id,
                                      problem_id=world.problem_id, version=version,
                                      summary=f"A {word} shared across two servers."))
    assert answer.status == 302, answer.text[-2000:]
    return slug_of(answer.location)


def test_two_servers_converge_through_the_change_log(tmp_path, database_url):
    folders = [tmp_path / "server-a", tmp_path / "server-b"]
    servers = [GunicornServer(server_settings(database_url, folder), tmp_path / f"{n}.log",
                              workers=1) for n, folder in enumerate(folders)]
    with servers[0] as a, servers[1] as b, local_app(database_url, folders[0]) as app_a, \
            local_app(database_url, folders[1]) as app_b:
        assert a.url != b.url
        world = seed(app_a, 2)
        # The same member on both servers: one secret key, so either accepts the session.
        via_a, via_b = WebClient(a.url), WebClient(b.url)
        token_a = via_a.log_in(world.members[0], PASSWORD)
        token_b = via_b.log_in(world.members[0], PASSWORD)

        slugs = {}
        for number in range(6):
            web, token = (via_a, token_a) if number % 2 == 0 else (via_b, token_b)
            slugs[marker(0, number)] = write(web, token, world, marker(0, number))
        # Through B: edit a case study written through A (its old word goes, a new one comes).
        edited = slugs.pop(marker(0, 0))
        assert write(via_b, token_b, world, marker(0, 100), f"/cases/{edited}/edit", 1) == edited
        slugs[marker(0, 100)] = edited
        # Through A: delete one written through B.
        deleted = slugs.pop(marker(0, 1))
        answer = via_a.post(f"/cases/{deleted}/delete", [("csrf_token", token_a)])
        assert answer.status == 302

        # A's catch-up after its own last write applied B's entries too; B has
        # not seen that write yet, and will apply it before its next search.
        applied, latest = applied_and_latest(app_a)
        assert applied == latest
        applied, latest = applied_and_latest(app_b)
        assert applied < latest

        # Search on both, as a facilitator who sees every case study.
        results = []
        for server in (a, b):
            curator = WebClient(server.url)
            curator.log_in(world.facilitator, PASSWORD)
            results.append({word: curator.search(word)
                            for word in [*slugs, marker(0, 0), marker(0, 1), "dual training"]})
        assert results[0] == results[1]
        found = results[0]
        assert {word: found[word] for word in slugs} == {w: (1, [s]) for w, s in slugs.items()}
        assert found[marker(0, 0)] == found[marker(0, 1)] == (0, [])
        assert found["dual training"][0] == len(slugs)

        # Both replicas caught up before searching and equal the database.
        for app in (app_a, app_b):
            report = compare_index(app, catch_up=False)
            assert report.cases == len(slugs)
            assert (report.missing, report.stale, report.extra, report.duplicated,
                    report.behind_by) == ([], [], [], [], 0)
