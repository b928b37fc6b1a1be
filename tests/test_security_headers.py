"""Security headers on every kind of response, HSTS in production only, no inline script."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from factories import PASSWORD
from kb import create_app

TEMPLATES = Path(__file__).resolve().parents[1] / "kb" / "templates"

REQUIRED_CSP = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "img-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'none'"},
    "frame-ancestors": {"'none'"},
    "form-action": {"'self'"},
}
# Referrer policies that never send a page's address to another site.
PRIVATE_REFERRER_POLICIES = {"no-referrer", "same-origin", "strict-origin",
                             "strict-origin-when-cross-origin"}


def csp_directives(header: str) -> dict[str, set[str]]:
    """A Content-Security-Policy header as directive -> set of sources."""
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        assert name not in directives, f"directive {name} given twice"
        directives[name] = set(sources)
    return directives


def header_problems(response) -> list[str]:
    """What is missing or too lax in ``response``'s security headers (development app)."""
    headers = response.headers
    problems = []
    if headers.get("X-Content-Type-Options") != "nosniff":
        problems.append("X-Content-Type-Options is not nosniff")
    if headers.get("Referrer-Policy") not in PRIVATE_REFERRER_POLICIES:
        problems.append(f"Referrer-Policy {headers.get('Referrer-Policy')!r}")
    if headers.get("X-Frame-Options") != "DENY":
        problems.append("X-Frame-Options is not DENY")
    if "Strict-Transport-Security" in headers:
        problems.append("HSTS sent outside production")
    csp = headers.get("Content-Security-Policy")
    if csp is None:
        problems.append("no Content-Security-Policy")
    elif (directives := csp_directives(csp)) != REQUIRED_CSP:
        problems.append(f"Content-Security-Policy is {directives}")
    return problems


def _add_crashing_route(app):
    @app.get("/test-crash")
    def crash():
        raise RuntimeError("boom")


@pytest.fixture
def app_config(app_config):
    """One failed login is enough for a 429; the 500 page is rendered, not raised."""
    app_config.update(LOGIN_MAX_ATTEMPTS=1, PROPAGATE_EXCEPTIONS=False)
    return app_config


def test_every_kind_of_response_carries_the_security_headers(app, client, auth, people):
    _add_crashing_route(app)
    responses = {
        "page": client.get("/"),
        "head": client.head("/"),
        "static file": client.get("/static/kb.css"),
        "redirect to login": client.get("/auth/account"),
        "form with errors": client.post("/auth/login", data={}),
        "404": client.get("/no/such/page"),
        "405": client.post("/"),
        "500": client.get("/test-crash"),
        "untrusted host": client.get("/", headers={"Host": "evil.example"}),
        "failed login": auth.login("nobody@example.org", "wrong password"),
        "429": auth.login("nobody@example.org", "wrong password"),
        "login redirect": auth.login("member@example.org", PASSWORD),
        "signed-in page": client.get("/auth/account"),
        "logout redirect": auth.logout(),
    }
    app.config["MAX_CONTENT_LENGTH"] = 100
    responses["413"] = client.post("/auth/login", data={"email": "x" * 200})
    app.config["WTF_CSRF_ENABLED"] = True
    responses["CSRF refusal"] = client.post("/auth/login", data={})

    expected_status = {"page": 200, "head": 200, "static file": 200, "redirect to login": 302,
                       "form with errors": 400, "404": 404, "405": 405, "500": 500,
                       "untrusted host": 400, "failed login": 400, "429": 429,
                       "login redirect": 302, "signed-in page": 200, "logout redirect": 302,
                       "413": 413, "CSRF refusal": 400}
    for response in responses.values():
        response.close()  # the static file's stream
    assert {name: r.status_code for name, r in responses.items()} == expected_status
    problems = {name: found for name, r in responses.items() if (found := header_problems(r))}
    assert not problems


def _bare_app(tmp_path, **settings):
    """An app without database tables: static files need none."""
    return create_app({
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite'}",
        **settings,
    })


PRODUCTION = {"ENV": "production"}
YEAR = "max-age=31536000"


@pytest.mark.parametrize(("settings", "request_kwargs", "expected"), [
    ({}, {"base_url": "https://localhost"}, None),
    (PRODUCTION, {"base_url": "https://localhost"}, YEAR),
    (PRODUCTION, {}, None),
    ({**PRODUCTION, "HSTS_ASSUME_HTTPS": True}, {}, YEAR),
    ({**PRODUCTION, "HSTS_SECONDS": 600}, {"base_url": "https://localhost"}, "max-age=600"),
    ({**PRODUCTION, "HSTS_SECONDS": 0}, {"base_url": "https://localhost"}, None),
    # The proxy's word that the request came over HTTPS counts only when trusted.
    (PRODUCTION, {"headers": {"X-Forwarded-Proto": "https"}}, None),
    ({**PRODUCTION, "TRUSTED_PROXIES": 1}, {"headers": {"X-Forwarded-Proto": "https"}}, YEAR),
], ids=["development", "production-https", "production-http", "assume-https", "custom-age",
        "turned-off", "untrusted-proxy", "trusted-proxy"])
def test_hsts_only_in_production_over_https(tmp_path, settings, request_kwargs, expected):
    client = _bare_app(tmp_path, **settings).test_client()

    with client.get("/static/kb.css", **request_kwargs) as response:
        assert response.status_code == 200
        assert response.headers.get("Strict-Transport-Security") == expected
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_production_session_cookie_is_secure_httponly_and_lax(tmp_path):
    client = _bare_app(tmp_path, **PRODUCTION).test_client()

    # The login form puts a CSRF token in the session, which sets the cookie.
    response = client.get("/auth/login", base_url="https://localhost")

    cookie = response.headers["Set-Cookie"]
    assert "; Secure" in cookie and "; HttpOnly" in cookie and "SameSite=Lax" in cookie


INLINE_CODE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "event handler attribute": re.compile(r"<[^>]*\son[a-z]+\s*=", re.I),
    "style attribute": re.compile(r"<[^>]*\sstyle\s*=", re.I),
    "style element": re.compile(r"<style\b", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def test_templates_have_no_inline_script_or_style():
    """The CSP forbids them, so a browser would silently ignore them."""
    templates = sorted(TEMPLATES.rglob("*.html"))
    assert templates
    found = [
        f"{path.relative_to(TEMPLATES)}: {what}"
        for path in templates
        for what, pattern in INLINE_CODE.items()
        if pattern.search(path.read_text())
    ]
    assert not found
