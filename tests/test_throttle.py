"""Login throttling: per email address and per client address, counted in the database."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from factories import PASSWORD
from kb import create_app
from kb.errors import PermissionDenied
from kb.extensions import db
from kb.models import LoginFailure, utcnow
from kb.services import accounts, throttle

PER_ACCOUNT = 3
PER_ADDRESS = 5
WINDOW = 600
LIMITS = throttle.LoginLimits(PER_ACCOUNT, PER_ADDRESS, timedelta(seconds=WINDOW))
WRONG = "not the password at all"


@pytest.fixture
def app_config(app_config):
    """Small limits, so a few requests reach them."""
    app_config.update(
        LOGIN_MAX_ATTEMPTS=PER_ACCOUNT,
        LOGIN_MAX_ATTEMPTS_PER_ADDRESS=PER_ADDRESS,
        LOGIN_WINDOW_SECONDS=WINDOW,
    )
    return app_config


def login(client, email="member@example.org", password=WRONG, address="10.0.0.1", **kwargs):
    """Post the login form from client ``address``."""
    return client.post("/auth/login", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address}, **kwargs)


def statuses(client, count, **kwargs) -> list[int]:
    """The statuses of ``count`` logins made with the same arguments."""
    return [login(client, **kwargs).status_code for _ in range(count)]


def signed_in(client) -> bool:
    return client.get("/auth/account").status_code == 200


def failure_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(LoginFailure))


def age_failures(app, by: timedelta) -> None:
    """Move every recorded failure ``by`` into the past."""
    with app.app_context():
        for row in db.session.scalars(select(LoginFailure)):
            row.created_at = row.created_at - by
        db.session.commit()


def retry_after(response) -> int:
    value = response.headers["Retry-After"]
    assert value.isdigit(), value
    return int(value)


def test_failures_beyond_the_limit_are_answered_429_with_retry_after(client, people):
    assert statuses(client, PER_ACCOUNT) == [400] * PER_ACCOUNT

    # Even the right password waits: otherwise guessing could go on.
    response = login(client, password=PASSWORD)

    assert response.status_code == 429
    assert WINDOW - 5 <= retry_after(response) <= WINDOW
    page = response.get_data(as_text=True)
    assert '<main id="content"' in page and "<h1>Too many attempts" in page
    assert "Wait 10 minutes and try again." in page
    assert not signed_in(client)


def test_unknown_email_and_wrong_password_are_throttled_alike(client, people):
    known = statuses(client, PER_ACCOUNT + 1, email="member@example.org", address="10.0.0.1")
    unknown = statuses(client, PER_ACCOUNT + 1, email="nobody@example.org", address="10.0.0.2")
    known_429 = login(client, email="member@example.org", address="10.0.0.1")
    unknown_429 = login(client, email="nobody@example.org", address="10.0.0.2")

    assert known == unknown == [400] * PER_ACCOUNT + [429]
    assert known_429.get_data() == unknown_429.get_data()
    assert abs(retry_after(known_429) - retry_after(unknown_429)) <= 1


def test_the_account_limit_counts_failures_from_every_address(client, people):
    for number in range(PER_ACCOUNT):
        assert login(client, address=f"10.0.1.{number}").status_code == 400

    assert login(client, password=PASSWORD, address="10.0.2.1").status_code == 429
    # Another account from a fresh address is not affected.
    assert login(client, email="admin@example.org", password=PASSWORD,
                 address="10.0.2.2").status_code == 302


def test_the_address_limit_counts_failures_across_accounts(client, people):
    for number in range(PER_ADDRESS):
        assert login(client, email=f"guess{number}@example.org").status_code == 400

    assert login(client, password=PASSWORD).status_code == 429
    assert not signed_in(client)
    assert login(client, password=PASSWORD, address="10.0.0.2").status_code == 302


def test_a_successful_login_clears_the_accounts_count(client, auth, people):
    assert statuses(client, PER_ACCOUNT - 1) == [400] * (PER_ACCOUNT - 1)
    assert login(client, password=PASSWORD).status_code == 302
    auth.logout()

    # Without the reset this would be one failure too many.
    assert statuses(client, PER_ACCOUNT - 1, address="10.0.0.2") == [400] * (PER_ACCOUNT - 1)
    assert login(client, password=PASSWORD, address="10.0.0.2").status_code == 302


def test_a_successful_login_keeps_the_addresses_count(client, auth, people):
    for number in range(PER_ADDRESS - 1):
        assert login(client, email=f"guess{number}@example.org").status_code == 400
    assert login(client, password=PASSWORD).status_code == 302
    auth.logout()

    assert login(client, email="another-guess@example.org").status_code == 400
    assert login(client, email="admin@example.org", password=PASSWORD).status_code == 429


def test_refused_attempts_are_not_counted_and_the_block_ends_with_the_window(app, client, people):
    statuses(client, PER_ACCOUNT)
    assert statuses(client, 3) == [429] * 3
    assert failure_rows(app) == 2 * PER_ACCOUNT

    age_failures(app, timedelta(seconds=WINDOW))

    assert login(client, password=PASSWORD).status_code == 302


def test_expired_failures_are_deleted_at_the_next_failure(app, client, people):
    statuses(client, PER_ACCOUNT)
    age_failures(app, timedelta(seconds=WINDOW + 1))

    assert login(client).status_code == 400
    assert failure_rows(app) == 2


def test_failures_are_stored_as_hashes_of_what_was_typed(app, client, people):
    login(client, email="Member@Example.org", password=WRONG)

    with app.app_context():
        rows = db.session.scalars(select(LoginFailure)).all()
        assert sorted(row.scope for row in rows) == ["account", "address"]
        for row in rows:
            assert re.fullmatch(r"[0-9a-f]{64}", row.key)
            assert row.key not in ("member@example.org", "10.0.0.1")


def test_invalid_forms_are_not_counted(app, client, people):
    for _ in range(PER_ACCOUNT + 1):
        assert client.post("/auth/login", data={"email": "member@example.org"}).status_code == 400

    assert failure_rows(app) == 0


def _app_with(app_config, tmp_path, name: str, **settings):
    """Another app on the test's database, built with ``settings``."""
    return create_app({**app_config, "INSTANCE_PATH": str(tmp_path / name), **settings})


def test_the_count_is_shared_by_every_worker(app, app_config, client, people, tmp_path):
    """Two apps on one database stand for two gunicorn workers."""
    other_worker = _app_with(app_config, tmp_path, "worker2")
    other_client = other_worker.test_client()
    try:
        assert login(client).status_code == 400
        assert login(other_client).status_code == 400
        assert login(client).status_code == 400

        assert login(other_client, password=PASSWORD).status_code == 429
        assert login(client, password=PASSWORD).status_code == 429
    finally:
        with other_worker.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.mark.parametrize(("hops", "separate"), [(0, False), (1, True)])
def test_forwarded_addresses_count_only_behind_trusted_proxies(app, app_config, people, tmp_path,
                                                               hops, separate):
    proxied = _app_with(app_config, tmp_path, f"proxied{hops}", TRUSTED_PROXIES=hops)
    client = proxied.test_client()
    try:
        for number in range(PER_ADDRESS):
            response = login(client, email=f"guess{number}@example.org", address="192.0.2.1",
                             headers={"X-Forwarded-For": "203.0.113.1"})
            assert response.status_code == 400
        # A client claiming another forwarded address is a separate client
        # only when the proxy in front of kb is trusted to set the header.
        response = login(client, password=PASSWORD, address="192.0.2.1",
                         headers={"X-Forwarded-For": "203.0.113.2"})
        assert response.status_code == (302 if separate else 429)
    finally:
        with proxied.app_context():
            db.engine.dispose()


# --- The service ---------------------------------------------------------------

def test_retry_after_lasts_until_the_oldest_counted_failure_leaves_the_window(app_ctx):
    start = utcnow()
    for seconds in (0, 100, 200):
        throttle.record_login_failure("a@example.org", "10.0.0.1", LIMITS,
                                      now=start + timedelta(seconds=seconds))

    at = start + timedelta(seconds=250)
    assert throttle.login_retry_after("a@example.org", "10.0.0.9", LIMITS, now=at) == 350

    throttle.record_login_failure("a@example.org", "10.0.0.1", LIMITS,
                                  now=start + timedelta(seconds=300))
    # Four failures: the block lasts until the second one leaves the window.
    assert throttle.login_retry_after("a@example.org", "10.0.0.9", LIMITS, now=at) == 450
    assert throttle.login_retry_after("b@example.org", "10.0.0.9", LIMITS, now=at) is None
    assert throttle.login_retry_after(
        "a@example.org", "10.0.0.9", LIMITS, now=start + timedelta(seconds=700)) is None


def test_log_in_service_refuses_before_checking_the_password(app_ctx, people):
    for _ in range(PER_ACCOUNT):
        with pytest.raises(PermissionDenied):
            accounts.log_in("MEMBER@example.org", WRONG, "10.0.0.1", LIMITS)

    with pytest.raises(throttle.TooManyAttempts) as refused:
        accounts.log_in("member@example.org", PASSWORD, "10.0.0.2", LIMITS)

    assert 0 < refused.value.retry_after <= WINDOW
    assert refused.value.status_code == 429


def test_log_in_service_returns_the_user_and_clears_the_account(app_ctx, people):
    with pytest.raises(PermissionDenied):
        accounts.log_in("member@example.org", WRONG, "10.0.0.1", LIMITS)

    user = accounts.log_in("member@example.org", PASSWORD, "10.0.0.1", LIMITS)

    assert user.id == people["member"]
    scopes = db.session.scalars(select(LoginFailure.scope)).all()
    assert scopes == ["address"]


def test_limits_come_from_the_configuration(app):
    limits = throttle.LoginLimits.from_config(app.config)

    assert limits == LIMITS
