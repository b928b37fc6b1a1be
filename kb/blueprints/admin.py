"""The curators' landing page and the admin's management of accounts."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, current_app, render_template, url_for

from kb.acting import acting_user
from kb.blueprints.admin_forms import EditUserForm, NewUserForm
from kb.blueprints.forms import render_form, save_posted_form
from kb.extensions import login_manager
from kb.services import accounts, policy

bp = Blueprint("admin", __name__, url_prefix="/admin")

# The curation pages other blueprints provide: endpoint, title, what it is for.
CURATION_PAGES = (
    ("vocabularies.curate_problems", "Problems of practice",
     "Add, rename, merge and retire the problems of practice case studies are filed under."),
    ("vocabularies.curate_contexts", "Adaptation contexts",
     "Add, rename, merge and retire the context factors a practice depends on."),
    ("cities.curate", "Cities", "Add cities and keep their context profiles up to date."),
    ("imports.upload", "Import case studies",
     "Load many case studies at once from a JSON Lines or CSV file, all rows or none."),
)


def _allowed_for(check):
    """Let a view run only for a signed-in user passing ``check``.

    Anonymous visitors are sent to the login page, everyone else gets 403.
    """
    def decorator(view):
        @wraps(view)
        def guarded(**kwargs):
            user = acting_user()
            if user is None:
                return login_manager.unauthorized()
            if not check(user):
                abort(403)
            return view(**kwargs)
        return guarded
    return decorator


def _available_pages(pages) -> list[tuple[str, str, str]]:
    """``(url, title, description)`` of the pages whose endpoint this app has.

    A curation page that is not (yet) registered is left out rather than
    letting ``url_for`` fail the whole landing page.
    """
    return [
        (url_for(endpoint), title, description)
        for endpoint, title, description in pages
        if endpoint in current_app.view_functions
    ]


@bp.get("/")
@_allowed_for(policy.can_curate_vocabularies)
def index():
    """The Curate landing page: vocabularies and cities, and accounts for admins."""
    return render_template("admin/index.html", pages=_available_pages(CURATION_PAGES))


@bp.get("/users")
@_allowed_for(policy.can_manage_users)
def users():
    """Every account with its role, city and whether it is active."""
    return render_template("admin/users.html", users=accounts.list_users(acting_user()))


@bp.route("/users/new", methods=["GET", "POST"])
@_allowed_for(policy.can_manage_users)
def new_user():
    """Open an account for someone, with a first password they should change."""
    form = NewUserForm(accounts.list_cities())
    done = save_posted_form(
        form,
        lambda: accounts.create_user(
            acting_user(),
            name=form.name.data,
            email=form.email.data,
            password=form.password.data,
            role=form.role.data,
            city_id=form.city_id.data,
        ),
        lambda user: f"Created an account for {user.name} ({user.email}).",
        lambda _: url_for("admin.users"),
    )
    return done or render_form("admin/user_new.html", form)


@bp.route("/users/<id:user_id>", methods=["GET", "POST"])
@_allowed_for(policy.can_manage_users)
def edit_user(user_id: int):
    """Change an account's role, city and whether it may log in."""
    user = accounts.get_user(acting_user(), user_id)
    form = EditUserForm(
        accounts.list_cities(),
        data={"role": user.role.value, "city_id": user.city_id, "active": user.active},
    )
    done = save_posted_form(
        form,
        lambda: accounts.update_user(
            acting_user(), user,
            role=form.role.data, city_id=form.city_id.data, active=form.active.data,
        ),
        f"Saved the account of {user.name}.", lambda _: url_for("admin.users"),
    )
    return done or render_form("admin/user_edit.html", form, user=user)
