"""Who may do what, checked route by route with the session (the table: tests/permissions.py).

A new route without a row fails :func:`test_every_route_is_in_the_table`.
"""

from __future__ import annotations

import pytest
from clients import AuthActions
from permissions import ROLES, TABLE, filled, outcome

# Every role on every route: the whole table is slow by nature.
pytestmark = pytest.mark.slow

# Rules that need no row: Flask's own static files.
UNLISTED_RULES = {"/static/<path:filename>"}


def test_every_route_is_in_the_table(app):
    listed = {(line["rule"], line["method"]) for line in TABLE}
    missing = sorted(
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.rule not in UNLISTED_RULES
        for method in rule.methods - {"HEAD", "OPTIONS"}
        if (rule.rule, method) not in listed
    )
    assert not missing, f"routes missing from the authorization table: {missing}"
    stale = sorted(
        key for key in listed
        if not any(r.rule == key[0] and key[1] in r.methods for r in app.url_map.iter_rules())
    )
    assert not stale, f"table rows for routes that no longer exist: {stale}"


def _check(app, client, auth, people, world, line, role) -> str | None:
    """Make ``line``'s request as ``role``; return a description of any mismatch."""
    if role != "anonymous":
        auth.login_as(app, people[role])
    url = line["url"].format(**world)
    body = {"data": {}} if line["json"] is None else {"json": filled(line["json"], world)}
    response = client.open(url, method=line["method"], **body)
    if outcome(response) != line["expected"][role]:
        return (f"{role} {line['method']} {url}: expected {line['expected'][role]}, got "
                f"{response.status_code} {response.headers.get('Location', '')}")
    return None


READS = [line for line in TABLE if line["method"] == "GET"]
WRITES = [line for line in TABLE if line["method"] != "GET"]


@pytest.mark.parametrize("line", READS, ids=lambda line: f"GET {line['url']}")
def test_who_may_read(app, people, authorization_world, line):
    # GET changes nothing (tests/test_get_is_safe.py), so one world serves every role.
    mismatches = []
    for role in ROLES:
        client = app.test_client()
        mismatches.append(_check(app, client, AuthActions(client), people, authorization_world,
                                 line, role))
    assert not [m for m in mismatches if m], mismatches


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("line", WRITES, ids=lambda line: f"{line['method']} {line['url']}")
def test_who_may_write(app, client, auth, people, authorization_world, line, role):
    mismatch = _check(app, client, auth, people, authorization_world, line, role)
    assert mismatch is None, mismatch
