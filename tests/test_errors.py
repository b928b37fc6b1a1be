"""Hostile or broken requests get clear 4xx pages in the site layout, never a 500."""

from __future__ import annotations

import re

import pytest

from factories import PASSWORD
from kb.errors import NotFound
from kb.models import MAX_ID

# Past the key range: PostgreSQL's integer columns raise on such ids
# instead of finding nothing, so the URL must refuse them.
HUGE_IDS = (str(MAX_ID + 1), str(2**63), "99999999999999999999999")


def assert_error_page(response, status: int, title: str) -> str:
    """The response is ``status`` rendered in the site layout; returns the page text."""
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert '<html lang="en">' in page
    assert '<main id="content"' in page
    assert 'class="site-header"' in page
    assert re.search(rf"<h1>{re.escape(title)}\b", page), page
    return page


def test_unknown_url_is_a_404_page_in_the_layout(client):
    page = assert_error_page(client.get("/no/such/page"), 404, "Not found")

    assert 'href="/"' in page


def test_wrong_method_is_a_405_page_with_allow_header(client):
    response = client.post("/")

    assert_error_page(response, 405, "Method not allowed")
    assert "GET" in response.headers["Allow"]


def _add_test_routes(app):
    """Routes that exercise the id converter and the domain and server error handlers."""

    @app.get("/test-ids/<id:item_id>")
    def show_id(item_id):
        return f"id {item_id}"

    @app.get("/test-missing")
    def raise_not_found():
        raise NotFound("No such case study.")

    @app.get("/test-crash")
    def crash():
        raise RuntimeError("secret internals")


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("1", 200),
        (str(MAX_ID), 200),
        *((huge, 404) for huge in HUGE_IDS),
        ("0", 404),
        ("-1", 404),
        ("007", 404),
        ("1e3", 404),
    ],
)
def test_id_converter_accepts_only_database_sized_positive_ids(app, client, raw, status):
    _add_test_routes(app)

    response = client.get(f"/test-ids/{raw}")

    assert response.status_code == status
    if status == 200:
        assert response.get_data(as_text=True) == f"id {int(raw)}"


def _urls_with_ids(app, ids):
    """Every route with an ``<id:...>`` part, filled with each of ``ids``."""
    placeholder = re.compile(r"<(?:([^:<>]+):)?([^<>]+)>")
    for rule in app.url_map.iter_rules():
        if not any(conv == "id" for conv, _ in placeholder.findall(rule.rule)):
            continue
        for number in ids:
            # Built by hand: url_for would refuse an out-of-range id.
            path = placeholder.sub(lambda m: number if m.group(1) == "id" else "x", rule.rule)
            for method in sorted(rule.methods & {"GET", "POST"}):
                yield method, path


def test_every_id_route_answers_unknown_and_huge_ids_with_404(app, client, auth, people):
    auth.login_as(app, people["admin"])
    # The largest accepted id names no row: the view itself must answer 404.
    checked = list(_urls_with_ids(app, (str(MAX_ID), *HUGE_IDS)))

    assert checked, "no route uses the id converter"
    for method, path in checked:
        response = client.open(path, method=method)
        assert response.status_code == 404, (method, path, response.status_code)


def test_domain_error_shows_its_message(app, client):
    _add_test_routes(app)

    page = assert_error_page(client.get("/test-missing"), 404, "Not found")

    assert "No such case study." in page


def test_server_error_is_a_500_page_that_hides_the_cause(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    _add_test_routes(app)

    page = assert_error_page(client.get("/test-crash"), 500, "Something went wrong")

    assert "secret internals" not in page


QUERY_PAGES = ("/", "/auth/login", "/cities", "/problems", "/search")


@pytest.mark.parametrize("query", ["q=%FF%FE%FD", "next=%C0%AF&q=%ED%A0%80&page=%FF"])
def test_percent_encoded_invalid_utf8_in_query_strings_is_harmless(client, query):
    for path in QUERY_PAGES:
        assert client.get(f"{path}?{query}").status_code == 200, path


def test_raw_non_utf8_bytes_in_query_strings_are_a_page_not_a_crash(client):
    # WSGI carries the raw bytes as a latin-1 string; curl sends them unencoded.
    for path in QUERY_PAGES:
        response = client.get(path, environ_overrides={"QUERY_STRING": "q=\xff\xfe&next=/\xc0"})
        assert response.status_code in (200, 400), path
        assert '<main id="content"' in response.get_data(as_text=True), path


def test_invalid_utf8_in_a_path_segment_is_a_404(client, taxonomy):
    for path in ("/cities/%FF%FE", "/problems/%C0%AF", "/contexts/%ED%A0%80"):
        assert_error_page(client.get(path), 404, "Not found")


def test_invalid_utf8_in_a_form_body_is_rejected_cleanly(client, people):
    response = client.post(
        "/auth/login",
        data=b"email=%FF%FEmember%40example.org&password=\xff\xfe",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code in (200, 400)
    assert '<main id="content"' in response.get_data(as_text=True)
    # Not logged in: the account page still asks for a login.
    assert client.get("/auth/account").status_code == 302


def test_oversized_body_is_a_413_page(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1024

    response = client.post("/auth/login", data={"email": "a" * 2048, "password": "x"})

    assert_error_page(response, 413, "Too large")


def test_untrusted_host_is_a_400(client):
    response = client.get("/", headers={"Host": "evil.example"})

    assert response.status_code == 400
    # No link may be built on the attacker's host name.
    assert "//evil.example" not in response.get_data(as_text=True)


def test_trusted_hosts_are_served(client):
    for host in ("localhost", "localhost:5000", "127.0.0.1:5000"):
        assert client.get("/", headers={"Host": host}).status_code == 200, host


@pytest.fixture
def csrf_client(app):
    """A client of an app that checks CSRF tokens, as production does."""
    app.config["WTF_CSRF_ENABLED"] = True
    return app.test_client()


def test_post_without_csrf_token_is_a_400_page(csrf_client, people):
    response = csrf_client.post(
        "/auth/login", data={"email": "member@example.org", "password": PASSWORD}
    )

    page = assert_error_page(response, 400, "Bad request")
    assert "reload the page and try again" in page
    assert csrf_client.get("/auth/account").status_code == 302


def test_post_with_the_pages_csrf_token_is_accepted(csrf_client, people):
    form_page = csrf_client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form_page).group(1)

    response = csrf_client.post(
        "/auth/login",
        data={"email": "member@example.org", "password": PASSWORD,
              "csrf_token": token},
    )

    assert response.status_code == 302
    assert csrf_client.get("/auth/account").status_code == 200
