"""The Curate landing page and the admin's management of accounts."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from clients import AuthActions
from factories import PASSWORD
from kb.blueprints.admin import _available_pages
from kb.errors import PermissionDenied, ValidationError
from kb.extensions import db
from kb.models import Role, User
from kb.services import accounts

NEW_PASSWORD = "welcome to the network"


def _user(app, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def _count_users(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


def _new_user_form(taxonomy, **overrides) -> dict:
    data = {"name": "Min-jun Park", "email": "Minjun.Park@Example.org", "role": "member",
            "city_id": str(taxonomy["cities"]["seoul"]), "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD}
    data.update(overrides)
    return data


def _edit_form(role="member", city_id="", active=True) -> dict:
    data = {"role": role, "city_id": city_id}
    if active:
        data["active"] = "y"
    return data


# --- Who may come in --------------------------------------------------------------

ADMIN_ROUTES = [("get", "/admin/users"), ("get", "/admin/users/new"), ("post", "/admin/users/new"),
                ("get", "/admin/users/{member}"), ("post", "/admin/users/{member}")]


def test_anonymous_visitors_are_sent_to_login(client, people):
    for method, url in [("get", "/admin/"), *ADMIN_ROUTES]:
        response = getattr(client, method)(url.format(**people))
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/auth/login?next="), (method, url)


def test_facilitators_may_not_manage_accounts(app, client, auth, people):
    auth.login_as(app, people["facilitator"])
    for method, url in ADMIN_ROUTES:
        response = getattr(client, method)(url.format(**people), data=_edit_form(active=False))
        assert response.status_code == 403, (method, url)
    assert _user(app, people["member"]).active


@pytest.mark.parametrize("who", ["member", "researcher"])
def test_members_and_researchers_may_not_curate(app, client, auth, people, who):
    auth.login_as(app, people[who])
    assert client.get("/admin/").status_code == 403
    assert client.get("/admin/users").status_code == 403


def test_facilitator_sees_the_curate_page_without_account_links(app, client, auth, people):
    auth.login_as(app, people["facilitator"])
    response = client.get("/admin/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert page.count("<h1") == 1 and "<h1>Curate</h1>" in page
    assert "/admin/users" not in page


def test_admin_sees_the_curate_page_with_account_links(app, client, auth, people):
    auth.login_as(app, people["admin"])
    page = client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/users"' in page and 'href="/admin/users/new"' in page


def test_curate_links_leave_out_pages_that_do_not_exist(app):
    pages = [("admin.users", "Accounts", "who"), ("nowhere.curate", "Missing", "not written yet")]
    with app.test_request_context("/admin/"):
        assert _available_pages(pages) == [("/admin/users", "Accounts", "who")]


# --- The list --------------------------------------------------------------------

def test_user_list_shows_role_city_and_status(app, client, auth, people):
    with app.app_context():
        db.session.get(User, people["researcher"]).active = False
        db.session.commit()
    auth.login_as(app, people["admin"])
    response = client.get("/admin/users")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert page.count("<h1") == 1
    assert f'href="/admin/users/{people["member"]}"' in page
    assert "member@example.org" in page and "Toronto" in page and "Facilitator" in page
    assert "Deactivated" in page and "researcher@example.org" in page


# --- Creating accounts -------------------------------------------------------------

def test_new_user_form_labels_every_field(app, client, auth, people):
    auth.login_as(app, people["admin"])
    page = client.get("/admin/users/new").get_data(as_text=True)
    for name in ("name", "email", "role", "city_id", "password", "confirm"):
        assert f'<label for="{name}">' in page
    assert page.count("<h1") == 1


def test_admin_creates_a_user_who_can_then_log_in(app, client, auth, people, taxonomy):
    auth.login_as(app, people["admin"])
    response = client.post("/admin/users/new", data=_new_user_form(taxonomy, role="researcher"))
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/users"
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "minjun.park@example.org"))
        assert user.name == "Min-jun Park"
        assert user.role is Role.RESEARCHER
        assert user.city.slug == "seoul"
        assert user.active
    newcomer = app.test_client()
    assert AuthActions(newcomer).login("minjun.park@example.org", NEW_PASSWORD).status_code == 302


def test_duplicate_email_in_another_case_is_refused(app, client, auth, people, taxonomy):
    auth.login_as(app, people["admin"])
    before = _count_users(app)
    response = client.post("/admin/users/new",
                           data=_new_user_form(taxonomy, email="MEMBER@Example.ORG"))
    assert response.status_code == 400
    assert accounts.EMAIL_TAKEN in response.get_data(as_text=True)
    assert _count_users(app) == before


INVALID_NEW_USERS = [
    ({"role": "overlord"}, "Not a valid choice"),
    ({"city_id": "999"}, "Not a valid choice"),
    ({"city_id": "toronto"}, "Invalid Choice: could not coerce"),
    ({"city_id": "9" * 40}, "Not a valid choice"),
    ({"email": "not-an-address"}, "Enter an email address such as name@example.org."),
    ({"name": "   "}, "Enter a name."),
    ({"name": "n" * 500}, "Field cannot be longer than 120 characters."),
    ({"password": "abcdefgh", "confirm": "abcdefgh"}, "among the most common"),
    ({"confirm": "something else"}, "The two passwords are not the same."),
    ({"email": None, "name": None, "role": None, "city_id": None, "password": None},
     "Enter an email address."),
]


def test_invalid_new_user_input_is_explained(app, client, auth, people, taxonomy):
    auth.login_as(app, people["admin"])
    before = _count_users(app)
    for overrides, message in INVALID_NEW_USERS:
        data = {key: value for key, value in _new_user_form(taxonomy, **overrides).items()
                if value is not None}
        response = client.post("/admin/users/new", data=data)
        assert response.status_code == 400, overrides
        assert message in response.get_data(as_text=True), overrides
    assert _count_users(app) == before


# --- Editing accounts --------------------------------------------------------------------

def test_edit_form_shows_the_current_values(app, client, auth, people, taxonomy):
    auth.login_as(app, people["admin"])
    page = client.get(f"/admin/users/{people['member']}").get_data(as_text=True)
    assert '<option selected value="member">' in page
    assert f'<option selected value="{taxonomy["cities"]["toronto"]}">' in page
    assert 'id="active" name="active" type="checkbox" value="y"' in page and "checked" in page
    assert page.count("<h1") == 1


def test_admin_sets_role_and_city(app, client, auth, people, taxonomy):
    auth.login_as(app, people["admin"])
    seoul = str(taxonomy["cities"]["seoul"])
    response = client.post(f"/admin/users/{people['member']}",
                           data=_edit_form(role="facilitator", city_id=seoul))
    assert response.status_code == 302
    user = _user(app, people["member"])
    assert user.role is Role.FACILITATOR
    assert user.city_id == taxonomy["cities"]["seoul"]
    response = client.post(f"/admin/users/{people['member']}", data=_edit_form(role="member"))
    assert _user(app, people["member"]).city_id is None


def test_deactivated_user_cannot_log_in_and_loses_open_sessions(app, client, auth, people):
    members_browser = app.test_client()
    AuthActions(members_browser).login("member@example.org")
    auth.login_as(app, people["admin"])

    response = client.post(f"/admin/users/{people['member']}", data=_edit_form(active=False))
    assert response.status_code == 302
    assert not _user(app, people["member"]).active
    assert members_browser.get("/auth/account").status_code == 302
    response = AuthActions(members_browser).login("member@example.org")
    assert response.status_code == 400
    assert accounts.ACCOUNT_INACTIVE in response.get_data(as_text=True)

    client.post(f"/admin/users/{people['member']}", data=_edit_form(active=True))
    assert AuthActions(members_browser).login("member@example.org").status_code == 302


def test_admin_cannot_deactivate_or_demote_themselves(app, client, auth, people):
    auth.login_as(app, people["admin"])
    url = f"/admin/users/{people['admin']}"
    response = client.post(url, data=_edit_form(role="admin", active=False))
    assert response.status_code == 400
    assert "You cannot deactivate your own account" in response.get_data(as_text=True)
    response = client.post(url, data=_edit_form(role="member"))
    assert "You cannot take away your own admin role" in response.get_data(as_text=True)
    admin = _user(app, people["admin"])
    assert admin.active and admin.role is Role.ADMIN
    assert client.get("/admin/users").status_code == 200


def test_admin_can_demote_another_admin(app, client, auth, people):
    with app.app_context():
        db.session.get(User, people["facilitator"]).role = Role.ADMIN
        db.session.commit()
    auth.login_as(app, people["admin"])
    client.post(f"/admin/users/{people['facilitator']}", data=_edit_form(role="facilitator"))
    assert _user(app, people["facilitator"]).role is Role.FACILITATOR


def test_unknown_user_is_404(app, client, auth, people):
    auth.login_as(app, people["admin"])
    for user_id in ["999", "99999999999999999999", "0", "abc", "-1"]:
        assert client.get(f"/admin/users/{user_id}").status_code == 404, user_id
        assert client.post(f"/admin/users/{user_id}", data=_edit_form()).status_code == 404, user_id


def test_invalid_edit_values_are_explained(app, client, auth, people):
    auth.login_as(app, people["admin"])
    response = client.post(f"/admin/users/{people['member']}",
                           data=_edit_form(role="root", city_id="x"))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Not a valid choice" in page and "Invalid Choice: could not coerce" in page
    assert _user(app, people["member"]).role is Role.MEMBER


# --- The service directly ---------------------------------------------------------------

def test_services_check_the_actor(app_ctx, people):
    facilitator = db.session.get(User, people["facilitator"])
    member = db.session.get(User, people["member"])
    with pytest.raises(PermissionDenied):
        accounts.create_user(facilitator, "X", "x@example.org", NEW_PASSWORD, "member")
    with pytest.raises(PermissionDenied):
        accounts.deactivate(facilitator, member)
    with pytest.raises(TypeError):
        accounts.deactivate(None, member)
    with pytest.raises(TypeError):
        accounts.deactivate(facilitator, member, system=True)


def test_set_role_and_deactivate_services(app_ctx, people):
    admin = db.session.get(User, people["admin"])
    member = db.session.get(User, people["member"])
    accounts.set_role(admin, member, "researcher")
    assert member.role is Role.RESEARCHER
    with pytest.raises(ValidationError) as caught:
        accounts.set_role(admin, admin, Role.FACILITATOR)
    assert set(caught.value.errors) == {"role"}
    with pytest.raises(ValidationError) as caught:
        accounts.deactivate(admin, admin)
    assert set(caught.value.errors) == {"active"}
    version = member.session_version
    accounts.deactivate(admin, member)
    assert not member.active and member.session_version == version + 1
    accounts.activate(admin, member)
    assert member.active
    with pytest.raises(ValidationError) as caught:
        accounts.create_user(admin, "Dup", "Member@example.org", PASSWORD, "member")
    assert set(caught.value.errors) == {"email"}
