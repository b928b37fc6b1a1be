"""Logging in and out, the account page, changing the password, self-registration."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from clients import AuthActions
from factories import PASSWORD
from kb.blueprints.auth import safe_next
from kb.errors import PermissionDenied, ValidationError
from kb.extensions import db
from kb.models import Role, User
from kb.services import accounts

NEW_PASSWORD = "a fresh and long passphrase"


def _user(app, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def _form_errors(response) -> str:
    """The text of the form-level error box of a page."""
    match = re.search(r'<div class="form-errors".*?</div>', response.get_data(as_text=True), re.S)
    assert match, "the page shows no form errors"
    return match.group(0)


def _signed_in(client) -> bool:
    return client.get("/auth/account").status_code == 200


# --- Logging in -------------------------------------------------------------

def test_login_page_labels_its_fields(client):
    page = client.get("/auth/login").get_data(as_text=True)
    assert page.count("<h1") == 1
    assert '<label for="email">' in page and '<label for="password">' in page
    assert 'autocomplete="current-password"' in page


def test_login_succeeds_and_account_page_shows_who(client, auth, people):
    response = auth.login("member@example.org")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/auth/account").get_data(as_text=True)
    assert "Test member" in page
    assert "member@example.org" in page
    assert "Member" in page
    assert "Toronto" in page
    assert page.count("<h1") == 1


def test_login_session_is_permanent(auth, people):
    response = auth.login("member@example.org")
    cookie = response.headers["Set-Cookie"]
    # A permanent session cookie carries an expiry; a browser session one does not.
    assert "Expires=" in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_unknown_email_and_wrong_password_get_the_same_message(client, auth, people):
    unknown = auth.login("nobody@example.org", PASSWORD)
    wrong = auth.login("member@example.org", "not the password")
    assert unknown.status_code == wrong.status_code == 400
    assert _form_errors(unknown) == _form_errors(wrong)
    assert accounts.LOGIN_FAILED in _form_errors(unknown)
    assert not _signed_in(client)


def test_email_is_case_insensitive_at_login(client, auth, people):
    assert auth.login("  MEMBER@Example.ORG ").status_code == 302
    assert _signed_in(client)


def test_inactive_user_cannot_log_in(app, client, auth, people):
    with app.app_context():
        db.session.get(User, people["member"]).active = False
        db.session.commit()
    response = auth.login("member@example.org")
    assert response.status_code == 400
    assert accounts.ACCOUNT_INACTIVE in _form_errors(response)
    assert not _signed_in(client)


INCOMPLETE_LOGINS = [
    {},
    {"email": "member@example.org"},
    {"password": PASSWORD},
    {"email": "x" * 10_000 + "@example.org", "password": PASSWORD},
    {"email": "member@example.org", "password": "p" * 10_000},
]


def test_incomplete_or_oversized_login_is_refused_without_error(client, people):
    for data in INCOMPLETE_LOGINS:
        response = client.post("/auth/login", data=data)
        assert response.status_code == 400, data
        assert "Please correct the fields" in response.get_data(as_text=True), data
        assert not _signed_in(client)


def test_login_form_needs_csrf_token_when_protection_is_on(app_config, people):
    from kb import create_app

    app_config["WTF_CSRF_ENABLED"] = True
    app = create_app(app_config)
    client = app.test_client()
    response = client.post("/auth/login",
                           data={"email": "member@example.org", "password": PASSWORD})
    assert response.status_code == 400
    with app.app_context():
        db.engine.dispose()


# --- Where login leads --------------------------------------------------------

OFF_SITE_TARGETS = [
    "https://evil.example/steal",
    "//evil.example/steal",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "javascript:alert(1)",
    "evil.example",
]


def test_login_refuses_to_redirect_off_site(client, people):
    for target in OFF_SITE_TARGETS:
        response = client.post("/auth/login", query_string={"next": target},
                               data={"email": "member@example.org", "password": PASSWORD})
        assert response.status_code == 302, target
        assert response.headers["Location"] == "/", target


def test_login_follows_a_local_next(client, people):
    response = client.post("/auth/login", query_string={"next": "/auth/password?x=1"},
                           data={"email": "member@example.org", "password": PASSWORD})
    assert response.headers["Location"] == "/auth/password?x=1"


def test_protected_page_sends_to_login_and_back(client, people):
    response = client.get("/auth/account")
    assert response.status_code == 302
    login_url = response.headers["Location"]
    assert login_url.startswith("/auth/login?next=")
    form = client.get(login_url).get_data(as_text=True)
    assert 'action="/auth/login?next=/auth/account"' in form
    response = client.post(login_url, data={"email": "member@example.org", "password": PASSWORD})
    assert response.headers["Location"] == "/auth/account"


def test_safe_next_accepts_only_local_paths():
    assert safe_next("/cities/toronto?tab=cases#top") == "/cities/toronto?tab=cases#top"
    assert safe_next("/" + "a" * 3_000) is None
    assert safe_next("") is None
    assert safe_next(None) is None
    assert safe_next("/ok\x00") is None


# --- Logging out --------------------------------------------------------------

def test_logout_ends_the_session_and_a_replayed_cookie_is_refused(app, client, auth, people):
    auth.login("member@example.org")
    old_cookie = client.get_cookie("session").value
    assert _signed_in(client)

    response = auth.logout()
    assert response.status_code == 302
    assert not _signed_in(client)

    client.set_cookie("session", old_cookie)
    response = client.get("/auth/account")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")
    assert _user(app, people["member"]).session_version == 2


def test_logout_ends_the_users_other_sessions_too(app, people):
    laptop, phone = app.test_client(), app.test_client()
    AuthActions(laptop).login("member@example.org")
    AuthActions(phone).login("member@example.org")
    AuthActions(laptop).logout()
    assert not _signed_in(phone)


def test_logout_is_post_only_and_harmless_when_anonymous(client, auth, people):
    assert auth.logout().headers["Location"] == "/"
    auth.login("member@example.org")
    assert client.get("/auth/logout").status_code == 405
    assert _signed_in(client)


def test_logout_needs_csrf_token_when_protection_is_on(app_config, people):
    from kb import create_app

    app_config["WTF_CSRF_ENABLED"] = True
    app = create_app(app_config)
    client = app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/auth/login", data={
        "email": "member@example.org", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    assert client.post("/auth/logout").status_code == 400
    assert _signed_in(client)
    with app.app_context():
        db.engine.dispose()


# --- Changing the password ------------------------------------------------------

def _change_password(client, current=PASSWORD, new=NEW_PASSWORD, confirm=None):
    return client.post("/auth/password", data={
        "current_password": current, "new_password": new,
        "confirm": new if confirm is None else confirm,
    })


def test_password_page_needs_login(client):
    response = client.get("/auth/password")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")


def test_password_page_labels_its_fields(client, auth, people):
    auth.login()
    page = client.get("/auth/password").get_data(as_text=True)
    for name in ("current_password", "new_password", "confirm"):
        assert f'<label for="{name}">' in page
    assert page.count("<h1") == 1


def test_password_change_requires_the_current_password(app, client, auth, people):
    auth.login()
    response = _change_password(client, current="not my password")
    assert response.status_code == 400
    assert "Your current password is not correct." in response.get_data(as_text=True)
    assert _user(app, people["member"]).check_password(PASSWORD)


WEAK_PASSWORDS = [
    ("short", "Use at least 8 characters."),
    ("password", "among the most common"),
    ("12345678", "among the most common"),
    ("QwertyUI", "among the most common"),
    ("x" * 300, "Field cannot be longer than 256 characters."),
]


def test_password_change_rejects_weak_passwords(app, client, auth, people):
    auth.login()
    for new, message in WEAK_PASSWORDS:
        response = _change_password(client, new=new)
        assert response.status_code == 400, new
        assert message in response.get_data(as_text=True), new
    assert _user(app, people["member"]).check_password(PASSWORD)


def test_password_change_needs_matching_confirmation(app, client, auth, people):
    auth.login()
    response = _change_password(client, confirm=NEW_PASSWORD + "!")
    assert "The two passwords are not the same." in response.get_data(as_text=True)
    assert _user(app, people["member"]).check_password(PASSWORD)


def test_password_change_ends_other_sessions_but_keeps_this_one(app, client, auth, people):
    other_device = app.test_client()
    AuthActions(other_device).login("member@example.org")
    auth.login("member@example.org")

    response = _change_password(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/account"
    assert _signed_in(client)
    assert not _signed_in(other_device)

    assert AuthActions(other_device).login("member@example.org", PASSWORD).status_code == 400
    assert AuthActions(other_device).login("member@example.org", NEW_PASSWORD).status_code == 302


# --- Self-registration ------------------------------------------------------------

def _registration(**overrides):
    data = {"name": "New Person", "email": "New.Person@Example.org", "city_id": "",
            "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    data.update(overrides)
    return data


def test_self_registration_is_off_by_default(client, taxonomy):
    assert client.get("/auth/register").status_code == 404
    assert client.post("/auth/register", data=_registration()).status_code == 404
    assert "Register" not in client.get("/auth/login").get_data(as_text=True)


@pytest.fixture
def open_registration(app_config):
    app_config["ALLOW_SELF_REGISTRATION"] = True


def test_self_registration_when_configured_creates_a_member(open_registration, app, client,
                                                            taxonomy):
    assert 'href="/auth/register"' in client.get("/auth/login").get_data(as_text=True)
    page = client.get("/auth/register").get_data(as_text=True)
    assert '<label for="city_id">' in page and page.count("<h1") == 1

    response = client.post("/auth/register",
                           data=_registration(city_id=str(taxonomy["cities"]["seoul"])))
    assert response.status_code == 302
    assert _signed_in(client)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "new.person@example.org"))
        assert user.role is Role.MEMBER
        assert user.city.slug == "seoul"


def test_self_registration_refuses_taken_email_and_bad_city(open_registration, app, client, people):
    response = client.post("/auth/register", data=_registration(email="MEMBER@example.org"))
    assert accounts.EMAIL_TAKEN in response.get_data(as_text=True)
    response = client.post("/auth/register", data=_registration(city_id="99999999999999999999"))
    assert "Not a valid choice" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == len(people)


# --- The service directly -------------------------------------------------------------

def test_authenticate_service(app_ctx, people):
    assert accounts.authenticate("Member@Example.org", PASSWORD).id == people["member"]
    for email, password in [("nobody@example.org", PASSWORD), ("member@example.org", "wrong"),
                            ("member@example.org", "x" * 100_000), ("", "")]:
        with pytest.raises(PermissionDenied) as caught:
            accounts.authenticate(email, password)
        assert caught.value.message == accounts.LOGIN_FAILED


def test_change_password_service_bumps_session_version(app_ctx, people):
    user = db.session.get(User, people["member"])
    with pytest.raises(ValidationError) as caught:
        accounts.change_password(user, "wrong", NEW_PASSWORD)
    assert set(caught.value.errors) == {"current_password"}
    accounts.change_password(user, PASSWORD, NEW_PASSWORD)
    assert user.session_version == 2
    assert user.check_password(NEW_PASSWORD)


def test_passwords_are_stored_as_salted_scrypt_hashes(app_ctx, people, monkeypatch):
    from werkzeug import security

    from kb import models

    # Undo the suite's quick hashing to see what production stores.
    monkeypatch.setattr(models, "generate_password_hash", security.generate_password_hash)
    user = db.session.get(User, people["member"])
    accounts.change_password(user, PASSWORD, NEW_PASSWORD)
    assert user.password_hash.startswith("scrypt:")
    assert NEW_PASSWORD not in user.password_hash
    assert user.check_password(NEW_PASSWORD)


def test_password_problems():
    assert accounts.password_problems("a perfectly fine one") == []
    assert accounts.password_problems("") == ["Use at least 8 characters."]
    assert accounts.password_problems("Password1")
