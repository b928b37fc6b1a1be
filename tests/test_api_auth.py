"""Who an API request acts for: API tokens (service, account page, Bearer header) and the session with CSRF.

The last tests make every API request of the authorization table again with
an API token instead of the session, and expect the same outcome for every
role: the site's permission rules, unchanged.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from clients import bearer, problem, token_for
from factories import PASSWORD
from sqlalchemy import select

# The authorization table (tests/permissions.py) and its world, reused as they are.
from permissions import ROLES, TABLE, filled, outcome

from kb.errors import NotAuthenticated, NotFound, PermissionDenied, ValidationError
from kb.extensions import db
from kb.models import ApiToken, Role, User
from kb.services import accounts, api_tokens

NEW_CASE = {"title": "Through the API", "summary": "A summary.", "city": "toronto",
            "education_level": "adult", "problems": ["work-based-learning"]}


def user(user_id: int) -> User:
    return db.session.get(User, user_id)


# -- the service --------------------------------------------------------------

def test_a_token_is_stored_only_as_its_hash(app_ctx, people):
    issued = api_tokens.create_token(user(people["member"]), "  Nightly export  ")
    db.session.commit()

    assert re.fullmatch(r"kb_[A-Za-z0-9_-]{43}", issued.secret)
    row = db.session.scalar(select(ApiToken))
    assert row.name == "Nightly export" and row.prefix == issued.secret[:10]
    assert row.token_hash == hashlib.sha256(issued.secret.encode()).hexdigest()
    assert issued.secret not in (row.token_hash, row.prefix, row.name)
    assert api_tokens.authenticate(issued.secret).id == people["member"]


def test_tokens_are_named_and_limited(app_ctx, people):
    member = user(people["member"])
    with pytest.raises(ValidationError):
        api_tokens.create_token(member, "   ")
    with pytest.raises(ValidationError):
        api_tokens.create_token(member, "x" * 101)
    for number in range(api_tokens.ACTIVE_TOKENS_MAX):
        api_tokens.create_token(member, f"Script {number}")
    with pytest.raises(ValidationError, match="revoke one"):
        api_tokens.create_token(member, "One too many")
    with pytest.raises(PermissionDenied):
        api_tokens.create_token(None, "Anonymous")


@pytest.mark.parametrize("secret", [None, "", "kb_unknown", "not-a-kb-token", "kb_" + "x" * 200])
def test_an_unknown_token_authenticates_no_one(app_ctx, people, secret):
    with pytest.raises(NotAuthenticated):
        api_tokens.authenticate(secret)


def test_a_revoked_token_or_a_deactivated_owner_stops_working(app_ctx, people):
    member, other = user(people["member"]), user(people["other_member"])
    revoked = api_tokens.create_token(member, "Old script")
    kept = api_tokens.create_token(member, "New script")
    with pytest.raises(NotFound):
        api_tokens.revoke_token(other, revoked.token.id)  # not theirs to revoke

    api_tokens.revoke_token(member, revoked.token.id)
    with pytest.raises(NotAuthenticated, match="revoked"):
        api_tokens.authenticate(revoked.secret)
    assert [t.name for t in api_tokens.list_tokens(member)] == ["New script", "Old script"]

    accounts.deactivate(user(people["admin"]), member)
    with pytest.raises(NotAuthenticated, match="deactivated"):
        api_tokens.authenticate(kept.secret)


def test_last_use_is_recorded_to_the_minute(app_ctx, people):
    issued = api_tokens.create_token(user(people["member"]), "Script")
    api_tokens.authenticate(issued.secret)
    first = issued.token.last_used_at
    assert first is not None
    api_tokens.authenticate(issued.secret)
    assert issued.token.last_used_at == first
    issued.token.last_used_at = first - timedelta(minutes=2)
    api_tokens.authenticate(issued.secret)
    assert issued.token.last_used_at > first - timedelta(minutes=2)


# -- the account page ---------------------------------------------------------

def test_the_account_page_shows_a_new_token_once(app, client, auth, people):
    auth.login_as(app, people["researcher"])

    response = client.post("/auth/account/tokens", data={"name": "Analysis notebook"})

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    secret = re.search(r'value="(kb_[^"]+)"', page).group(1)
    assert "shown only this once" in page
    assert secret not in response.headers.get("Set-Cookie", "")
    again = client.get("/auth/account").get_data(as_text=True)
    assert secret not in again and "Analysis notebook" in again and secret[:10] in again
    # The secret works at once, as the researcher.
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.get_json()["role"] == "researcher"


def test_a_token_needs_a_name(app, client, auth, people):
    auth.login_as(app, people["member"])
    response = client.post("/auth/account/tokens", data={"name": ""})
    assert response.status_code == 400 and "Give the token a name." in response.get_data(as_text=True)


def test_revoking_on_the_account_page_ends_the_token(app, client, auth, people):
    secret = token_for(app, people["member"], "Old script")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    with app.app_context():
        token_id = db.session.scalar(select(ApiToken.id))
    auth.login_as(app, people["other_member"])
    assert client.post(f"/auth/account/tokens/{token_id}/revoke").status_code == 404

    auth.login_as(app, people["member"])
    response = client.post(f"/auth/account/tokens/{token_id}/revoke", follow_redirects=True)

    assert "Revoked the API token “Old script”" in response.get_data(as_text=True)
    assert "Revoked" in response.get_data(as_text=True)
    problem(client.get("/api/v1/me", headers=headers), 401)


# -- the Bearer header --------------------------------------------------------

@pytest.mark.parametrize("header", [
    "Bearer kb_not-a-real-token",
    "Bearer ",
    "Basic dXNlcjpwYXNz",
    "kb_no-scheme",
])
def test_a_bad_authorization_header_is_a_401_even_where_anonymous_may_read(client, people, header):
    response = client.get("/api/v1/cases", headers={"Authorization": header})
    body = problem(response, 401)
    assert body["type"] == "/api/v1/docs#problem-invalid-token"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="kb", error="invalid_token"'


def test_a_token_acts_with_its_owners_current_role(app, client, people, taxonomy):
    headers = bearer(app, people["member"])
    assert client.post("/api/v1/cases", json=NEW_CASE, headers=headers).status_code == 201
    with app.app_context():
        accounts.set_role(user(people["admin"]), user(people["member"]), Role.RESEARCHER)
        db.session.commit()
    problem(client.post("/api/v1/cases", json=NEW_CASE, headers=headers), 403)


def test_a_token_wins_over_the_session(app, client, auth, people):
    auth.login_as(app, people["admin"])
    me = client.get("/api/v1/me", headers=bearer(app, people["researcher"])).get_json()
    assert me["role"] == "researcher" and me["authenticated_by"] == "token"


def test_anonymous_writes_are_refused_with_a_challenge(client, people):
    response = client.post("/api/v1/cases", json=NEW_CASE)
    problem(response, 401)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="kb"'


# -- the session and CSRF -----------------------------------------------------

@pytest.fixture
def csrf_app(app):
    """``app`` checking CSRF tokens as in production."""
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def log_in_with_csrf(app, client, user_id: int) -> str:
    """Log in through the form and return the page's CSRF token for this session."""
    def page_token():
        page = client.get("/auth/login").get_data(as_text=True)
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)

    with app.app_context():
        email = user(user_id).email
    response = client.post("/auth/login", data={"email": email, "password": PASSWORD,
                                                "csrf_token": page_token()})
    assert response.status_code == 302
    return page_token()


def test_a_session_write_needs_the_csrf_header(csrf_app, client, people, taxonomy):
    token = log_in_with_csrf(csrf_app, client, people["member"])

    refused = client.post("/api/v1/cases", json=NEW_CASE)
    body = problem(refused, 403)
    assert body["type"] == "/api/v1/docs#problem-csrf"
    assert problem(client.post("/api/v1/cases", json=NEW_CASE,
                               headers={"X-CSRFToken": "forged"}), 403)["type"].endswith("csrf")

    accepted = client.post("/api/v1/cases", json=NEW_CASE, headers={"X-CSRFToken": token})
    assert accepted.status_code == 201
    # Reads need no token.
    assert client.get("/api/v1/me").status_code == 200


def test_a_token_write_needs_no_csrf_token(csrf_app, client, people, taxonomy):
    response = client.post("/api/v1/cases", json=NEW_CASE, headers=bearer(csrf_app, people["member"]))
    assert response.status_code == 201


def test_the_account_forms_still_need_their_csrf_token(csrf_app, client, people):
    log_in_with_csrf(csrf_app, client, people["member"])
    response = client.post("/auth/account/tokens", data={"name": "Forged"})
    assert response.status_code == 400 and response.mimetype == "text/html"
    with csrf_app.app_context():
        assert db.session.scalar(select(ApiToken)) is None


# -- the site's permission rules, by token ------------------------------------

API_ROWS = [line for line in TABLE if line["rule"].startswith("/api/")]
API_READS = [line for line in API_ROWS if line["method"] == "GET"]
API_WRITES = [line for line in API_ROWS if line["method"] != "GET"]


def _by_token(app, people, world, line, role) -> str | None:
    """Make ``line``'s request as ``role`` with an API token; describe any mismatch."""
    client = app.test_client()
    headers = {} if role == "anonymous" else bearer(app, people[role])
    body = {} if line["json"] is None else {"json": filled(line["json"], world)}
    url = line["url"].format(**world)
    response = client.open(url, method=line["method"], headers=headers, **body)
    if outcome(response) != line["expected"][role]:
        return f"{role} {line['method']} {url}: expected {line['expected'][role]}, got {response.status_code}"
    return None


def test_the_table_lists_the_api():
    assert len(API_READS) >= 10 and {line["method"] for line in API_WRITES} == {"POST", "PATCH"}


@pytest.mark.slow
@pytest.mark.parametrize("line", API_READS, ids=lambda line: f"GET {line['url']}")
def test_tokens_may_read_what_the_session_may(app, people, authorization_world, line):
    mismatches = [_by_token(app, people, authorization_world, line, role) for role in ROLES]
    assert not [m for m in mismatches if m], mismatches


# Anonymous requests send no token: the table itself makes those.
@pytest.mark.slow
@pytest.mark.parametrize("role", [role for role in ROLES if role != "anonymous"])
@pytest.mark.parametrize("line", API_WRITES, ids=lambda line: f"{line['method']} {line['url']}")
def test_tokens_may_write_what_the_session_may(app, people, authorization_world, line, role):
    mismatch = _by_token(app, people, authorization_world, line, role)
    assert mismatch is None, mismatch
