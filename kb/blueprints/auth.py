"""Logging in and out, one's own account, changing the password, self-registration."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    request,
    session,
    url_for,
)
from flask_login import login_required, login_user, logout_user
from werkzeug.exceptions import TooManyRequests

from kb.acting import acting_user
from kb.blueprints.auth_forms import (
    ApiTokenForm,
    ChangePasswordForm,
    LoginForm,
    RegisterForm,
)
from kb.blueprints.forms import render_form, save_posted_form
from kb.errors import PermissionDenied, ValidationError
from kb.extensions import db
from kb.models import User
from kb.services import accounts, api_tokens, throttle

bp = Blueprint("auth", __name__, url_prefix="/auth")

# Longer ``next`` values are not links this site makes.
NEXT_MAX = 2_000


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None.

    Absolute URLs, scheme-relative ``//host`` ones and anything a browser
    could read as another host (backslashes, control characters, which
    browsers drop) are refused, so the login form cannot send people away.
    """
    if not target or len(target) > NEXT_MAX:
        return None
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(char) < 32 or ord(char) == 127 for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _start_session(user: User) -> None:
    # Permanent, so PERMANENT_SESSION_LIFETIME bounds the session instead of
    # the browser, which may keep "session" cookies across restarts.
    login_user(user)
    session.permanent = True


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with email and password, then go to ``next`` if it is on this site."""
    form = LoginForm()
    next_url = safe_next(request.args.get("next"))
    if form.validate_on_submit():
        try:
            # Behind a proxy, remote_addr is the client's only when
            # TRUSTED_PROXIES is set (kb.config).
            user = accounts.log_in(form.email.data, form.password.data, request.remote_addr,
                                   throttle.LoginLimits.from_config(current_app.config))
        except throttle.TooManyAttempts as error:
            raise TooManyRequests(error.message, retry_after=error.retry_after) from None
        except PermissionDenied as error:
            # The failure counts towards throttling only once committed.
            db.session.commit()
            form.form_errors.append(error.message)
        else:
            db.session.commit()
            _start_session(user)
            flash(f"Welcome, {user.name}.", "success")
            return redirect(next_url or url_for("main.home"))
    return render_form(
        "auth/login.html",
        form,
        next_url=next_url,
        registration_open=current_app.config.get("ALLOW_SELF_REGISTRATION", False),
    )


@bp.post("/logout")
def logout():
    """End this session and every other one of the same user."""
    user = acting_user()
    if user is not None:
        accounts.end_sessions(user)
        db.session.commit()
        logout_user()
        flash("You have logged out.", "info")
    return redirect(url_for("main.home"))


def _account_page(form: ApiTokenForm, issued: api_tokens.IssuedToken | None = None):
    """The account page; ``issued`` is a token just created, whose secret it shows this once."""
    user = acting_user()
    response = make_response(render_form("auth/account.html", form, user=user, issued=issued,
                                          tokens=api_tokens.list_tokens(user)))
    # A token's secret must not linger in caches or the browser's history.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/account")
@login_required
def account():
    """The signed-in user's name, email, role and city, and their API tokens."""
    return _account_page(ApiTokenForm(formdata=None))


@bp.post("/account/tokens")
@login_required
def create_token():
    """Create an API token and show its secret, once, on the account page."""
    form = ApiTokenForm()
    if not form.validate():
        return _account_page(form)
    try:
        issued = api_tokens.create_token(acting_user(), form.name.data)
    except ValidationError as error:
        db.session.rollback()
        form.show_errors(error)
        return _account_page(form)
    db.session.commit()
    # Rendered, not redirected: the secret must not travel through the session cookie.
    return _account_page(ApiTokenForm(formdata=None), issued)


@bp.post("/account/tokens/<id:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    """Revoke one of the signed-in user's API tokens."""
    token = api_tokens.revoke_token(acting_user(), token_id)
    db.session.commit()
    flash(f"Revoked the API token “{token.name}”: it no longer works.", "success")
    return redirect(url_for("auth.account"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    """Change one's password; other sessions end, this one continues."""
    form = ChangePasswordForm()
    user = acting_user()
    done = save_posted_form(
        form,
        lambda: accounts.change_password(user, form.current_password.data,
                                         form.new_password.data),
        "Your password has been changed, and any other sessions have ended.",
        lambda _: url_for("auth.account"), after_commit=lambda _: _start_session(user),
    )
    return done or render_form("auth/password.html", form)


@bp.route("/register", methods=["GET", "POST"])
def register():
    """Open a member account; exists only when ALLOW_SELF_REGISTRATION is set."""
    if not current_app.config.get("ALLOW_SELF_REGISTRATION", False):
        abort(404)
    form = RegisterForm(accounts.list_cities())
    done = save_posted_form(
        form,
        lambda: accounts.register(accounts.AccountInput(
            name=form.name.data,
            email=form.email.data,
            password=form.password.data,
            city_id=form.city_id.data,
        )),
        lambda user: f"Welcome, {user.name}. Your account is ready.",
        lambda _: url_for("main.home"), after_commit=_start_session,
    )
    return done or render_form("auth/register.html", form)
