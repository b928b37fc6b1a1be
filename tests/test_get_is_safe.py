"""GET never changes state: every GET route, as every role, leaves the database as it was.

The routes come from the URL map, so a new GET route is visited without
anyone adding it here; a parameter the walk cannot fill fails the test
(see ``route_walk.parameter_values``).
"""

from __future__ import annotations

import pytest

from kb.extensions import db
from kb.models import CaseStudy
from route_walk import ROLES, db_snapshot, rules_with, snapshot_difference, urls_for

# Every GET route, walked as every role.
pytestmark = pytest.mark.slow

# Endpoints the walk must reach, so that it cannot pass by visiting nothing.
MUST_VISIT = {"main.home", "cases.detail", "cases.edit", "cases.confirm_delete", "admin.edit_user",
              "vocabularies.curate_problem", "review.queue", "review.proposed_edit", "static"}


@pytest.fixture
def app_config(app_config):
    """Self-registration on, so that its page is visited too."""
    app_config["ALLOW_SELF_REGISTRATION"] = True
    return app_config


def get_urls(app, world) -> list[tuple[str, str]]:
    """``(endpoint, url)`` for every GET route, filled from the world."""
    return [(rule.endpoint, url) for rule in rules_with(app, {"GET"})
            for url in urls_for(rule, world)]


@pytest.mark.parametrize("role", ROLES)
def test_no_get_request_changes_the_database(app, client, auth, people, walk_world, role):
    if role != "anonymous":
        auth.login_as(app, people[role])
    visits = get_urls(app, walk_world)
    assert MUST_VISIT <= {endpoint for endpoint, _ in visits}

    changed = {}
    with app.app_context():
        before = db_snapshot()
    for _, url in visits:
        with client.get(url) as response:
            assert response.status_code < 500, url
        with app.app_context():
            after = db_snapshot()
        if after != before:
            changed[url] = snapshot_difference(before, after)
            before = after
    assert not changed, f"GET requests changed the database as {role}: {changed}"


def test_the_snapshot_notices_a_change_that_keeps_every_row_count(app, walk_world):
    with app.app_context():
        before = db_snapshot()
        case = db.session.get(CaseStudy, walk_world["draft_id"])
        case.summary = "A different summary."
        db.session.commit()
        after = db_snapshot()

    assert set(snapshot_difference(before, after)) == {"case_study", "change_log",
                                                      "change_log max seq"}
    assert before["case_study"][0] == after["case_study"][0]


def test_a_parameter_the_walk_does_not_know_fails_loudly(app, walk_world):
    @app.get("/test-widgets/<widget_id>")
    def widget(widget_id):
        return widget_id

    rule = next(r for r in app.url_map.iter_rules() if r.rule == "/test-widgets/<widget_id>")
    with pytest.raises(pytest.fail.Exception, match="<widget_id>"):
        urls_for(rule, walk_world)
