"""CSRF: every state-changing route refuses a request without a valid token, and changes nothing.

The routes come from the URL map: a new POST route is checked without
anyone adding it here, and a route exempted from CSRF protection fails.
"""

from __future__ import annotations

import re

import pytest

from factories import PASSWORD
from kb.extensions import db
from kb.models import CaseStatus, CaseStudy, User
from route_walk import db_snapshot, rules_with, snapshot_difference, urls_for

# Every state-changing route, walked as several roles.
pytestmark = pytest.mark.slow

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_REFUSAL = "The form was too old or came from elsewhere"
# Drafts belong to ``member``: posting as them covers the owner's routes.
ROLES = ("anonymous", "member", "admin")


@pytest.fixture
def app_config(app_config):
    """CSRF checked as in production; self-registration on, so its route is live."""
    app_config.update(WTF_CSRF_ENABLED=True, ALLOW_SELF_REGISTRATION=True)
    return app_config


def page_token(client) -> str:
    """The CSRF token a page gives this client's session."""
    page = client.get("/auth/login").get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def log_in(app, client, user_id: int) -> None:
    """Log ``client`` in as ``user_id`` through the form, with its token."""
    with app.app_context():
        email = db.session.get(User, user_id).email
    response = client.post("/auth/login", data={"email": email, "password": PASSWORD,
                                                "csrf_token": page_token(client)})
    assert response.status_code == 302, response.get_data(as_text=True)


def state_changing_requests(app, world) -> list[tuple[str, str]]:
    """``(method, url)`` for every state-changing route, filled from the world."""
    return [(method, url) for rule in rules_with(app, STATE_CHANGING)
            for method in sorted(rule.methods & STATE_CHANGING)
            for url in urls_for(rule, world)]


def is_csrf_refusal(response) -> bool:
    if response.mimetype == "application/problem+json":
        # The JSON API refuses a session call without the token with its CSRF
        # problem; an anonymous call it refuses before the token matters,
        # since it lets anonymous callers change nothing.
        problem = response.get_json()
        return problem["type"].endswith("#problem-csrf") or response.status_code == 401
    return response.status_code == 400 and CSRF_REFUSAL in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ROLES)
def test_requests_without_a_valid_token_are_refused_and_change_nothing(app, client, people,
                                                                      walk_world, role):
    if role != "anonymous":
        log_in(app, client, people[role])
    # Someone else's token, as a forged form would carry.
    stranger = app.test_client()
    foreign_token = page_token(stranger)
    requests = state_changing_requests(app, walk_world)
    assert {url for _, url in requests} >= {"/auth/login", "/auth/logout", "/cases/new"}

    accepted, changed = [], {}
    with app.app_context():
        before = db_snapshot()
    for method, url in requests:
        for data in ({}, {"csrf_token": ""}, {"csrf_token": foreign_token}):
            response = client.open(url, method=method, data=data)
            if not is_csrf_refusal(response):
                accepted.append((method, url, data, response.status_code))
            with app.app_context():
                after = db_snapshot()
            if after != before:
                changed[(method, url)] = snapshot_difference(before, after)
                before = after
    assert not accepted, f"accepted without a valid CSRF token: {accepted}"
    assert not changed, f"changed the database without a valid CSRF token: {changed}"
    # Still signed in: a refused logout logged no one out.
    assert client.get("/auth/account").status_code == (302 if role == "anonymous" else 200)


def test_a_token_in_the_header_is_accepted_like_one_in_the_form(app, client, people, walk_world):
    log_in(app, client, people["member"])

    response = client.post(f"/cases/{walk_world['draft']}/submit",
                           headers={"X-CSRFToken": page_token(client)})

    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(CaseStudy, walk_world["draft_id"]).status is CaseStatus.SUBMITTED


def test_the_same_requests_with_a_valid_token_are_not_refused_for_csrf(app, client, people,
                                                                       walk_world):
    with app.app_context():
        start = db_snapshot()
    refused = []
    for method, url in state_changing_requests(app, walk_world):
        # Some of these log out or end sessions: sign in afresh each time.
        log_in(app, client, people["admin"])
        response = client.open(url, method=method, data={"csrf_token": page_token(client)})
        if is_csrf_refusal(response):
            refused.append((method, url))
    assert not refused, f"refused with a valid CSRF token: {refused}"
    with app.app_context():
        # The requests reached their views: publishing, deleting and the rest did something.
        assert db_snapshot() != start
