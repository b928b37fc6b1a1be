"""How tests talk to kb as its users do: logging in through the form, API tokens, problem details."""

from __future__ import annotations

from factories import PASSWORD, email_of

from kb.extensions import db
from kb.models import User
from kb.services import api_tokens

PROBLEM = "application/problem+json"


def token_for(app, user_id: int, name: str = "Test script") -> str:
    """A new API token of the user ``user_id``: the secret to send."""
    with app.app_context():
        secret = api_tokens.create_token(db.session.get(User, user_id), name).secret
        db.session.commit()
    return secret


def bearer(app, user_id: int) -> dict[str, str]:
    """Headers that authenticate as ``user_id`` with a new API token."""
    return {"Authorization": f"Bearer {token_for(app, user_id)}"}


def problem(response, status: int) -> dict:
    """The problem details of ``response``, checked to be a well-formed RFC 9457 problem."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail", "instance"} <= set(body)
    assert body["title"] and body["detail"]
    return body


def field_errors(body: dict) -> dict[str, list[str]]:
    """A validation problem's ``errors`` as field -> details."""
    found: dict[str, list[str]] = {}
    for error in body["errors"]:
        found.setdefault(error["field"], []).append(error["detail"])
    return found


class AuthActions:
    """Log a test client in and out through the real login form."""

    def __init__(self, client):
        self._client = client

    def login(self, email: str = "member@example.org", password: str = PASSWORD):
        """Post the login form; returns the response."""
        return self._client.post("/auth/login", data={"email": email, "password": password})

    def login_as(self, app, user_id: int):
        """Log in as the user with ``user_id``."""
        with app.app_context():
            email = email_of(user_id)
        response = self.login(email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return response

    def logout(self):
        """Post the logout form; returns the response."""
        return self._client.post("/auth/logout")
