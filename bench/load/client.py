"""A small HTTP client of kb's web pages: cookies, login, CSRF tokens, the case-study form.

Standard library only (``http.client``), one new connection per request:
gunicorn's synchronous workers close the connection after each response
anyway. Redirects are not followed, so a form post's 302 and its
``Location`` are what the caller sees.
"""

from __future__ import annotations

import html
import http.client
import re
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

# Network-level failures of one request: refused, reset, closed mid-answer, timed out.
REQUEST_ERRORS = (OSError, http.client.HTTPException)

_CSRF_INPUT = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*>')
_VALUE = re.compile(r'\bvalue="([^"]*)"')
_RESULTS_LIST = re.compile(r'<ol class="case-list search-results".*?</ol>', re.DOTALL)
_CASE_LINK = re.compile(r'<h3><a href="/cases/([^"/?#]+)"')
_RESULTS_HEADING = re.compile(r'<h2 id="results-heading">(\d+) case stud')


@dataclass
class Response:
    """One answer: status, the Location header (or ""), and the body as text."""

    status: int
    location: str
    text: str


class WebClient:
    """One visitor of a kb server at ``base_url`` (``http://127.0.0.1:PORT``), with its cookies."""

    def __init__(self, base_url: str, timeout: float = 60.0):
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.timeout = timeout
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: list[tuple[str, object]] | None = None
                ) -> Response:
        """Send one request; raises one of REQUEST_ERRORS when the connection fails."""
        headers = {"Host": f"{self.host}:{self.port}", "Connection": "close"}
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            answer = connection.getresponse()
            text = answer.read().decode("utf-8", "replace")
            self._keep_cookies(answer.headers.get_all("Set-Cookie") or [])
            return Response(answer.status, answer.headers.get("Location", ""), text)
        finally:
            connection.close()

    def _keep_cookies(self, headers: list[str]) -> None:
        for header in headers:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def get(self, path: str) -> Response:
        """GET ``path``."""
        return self.request("GET", path)

    def post(self, path: str, form: list[tuple[str, object]]) -> Response:
        """POST ``form`` (name, value pairs; a name may repeat) to ``path``."""
        return self.request("POST", path, form)

    def csrf_token(self, path: str) -> str:
        """The CSRF token of the form on the page at ``path`` (the same for the whole session)."""
        page = self.get(path)
        found = _CSRF_INPUT.search(page.text)
        value = _VALUE.search(found.group(0)) if found else None
        if page.status != 200 or value is None:
            raise RuntimeError(f"no CSRF token on {path} (status {page.status})")
        return html.unescape(value.group(1))

    def log_in(self, email: str, password: str) -> str:
        """Log in through the login form; returns the session's CSRF token for later forms."""
        token = self.csrf_token("/auth/login")
        answer = self.post("/auth/login", [("csrf_token", token), ("email", email),
                                           ("password", password)])
        if answer.status != 302:
            raise RuntimeError(f"login as {email} answered {answer.status}")
        # Logging in starts a new session, and with it a new token.
        return self.csrf_token("/cases/new")

    def search(self, query: str) -> tuple[int, list[str]]:
        """The search page for ``query``: the total it reports and the slugs of its first page."""
        answer = self.get("/search?" + urlencode({"q": query}))
        if answer.status != 200:
            raise RuntimeError(f"search for {query!r} answered {answer.status}")
        total = _RESULTS_HEADING.search(answer.text)
        listing = _RESULTS_LIST.search(answer.text)
        slugs = _CASE_LINK.findall(listing.group(0)) if listing else []
        return (int(total.group(1)) if total else 0), slugs


def case_form(token: str, title: str, *, city_id: int, problem_id: int, summary: str,
              body: str = "", version: int | None = None) -> list[tuple[str, object]]:
    """The fields of the case-study form as a browser posts them (``version`` for an edit)."""
    form: list[tuple[str, object]] = [
        ("csrf_token", token), ("title", title), ("summary", summary), ("city_id", city_id),
        ("education_level", "upper_secondary"), ("language", "en"),
        ("problem_ids", problem_id), ("body", body), ("save", "Save"),
    ]
    if version is not None:
        form.append(("version", version))
    return form


def slug_of(location: str) -> str:
    """The case-study slug a ``/cases/<slug>`` redirect points at."""
    path = urlsplit(location).path
    if not path.startswith("/cases/"):
        raise ValueError(f"not a case-study address: {location!r}")
    return path.removeprefix("/cases/")
