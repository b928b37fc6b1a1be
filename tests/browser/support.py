"""What the browser tests share besides fixtures: a live kb server and a few page steps."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from playwright.sync_api import Page, expect
from werkzeug.serving import WSGIRequestHandler, make_server

from kb import create_app, search
from kb.extensions import db

LOCAL_HOST = "127.0.0.1"
HERE = Path(__file__).resolve().parent
AXE_SCRIPT = HERE / "node_modules" / "axe-core" / "axe.min.js"
# Screenshots of failed tests; /test-artifacts/ is ignored by git.
ARTIFACTS = HERE.parents[1] / "test-artifacts"
# The XSS payload corpus kept with the tests (tests/data/xss/README.md).
XSS_PAYLOADS = HERE.parent / "data" / "xss" / "payloads.txt"


def build_app(instance: Path, **settings) -> Flask:
    """A kb app on a fresh SQLite database and index in ``instance``.

    Unlike the Flask-client tests, CSRF protection is on and ``TESTING`` is
    off: the browser posts the real forms and sees the real error pages.
    """
    app = create_app({
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "browser-tests",
        "DATABASE_URL": f"sqlite:///{instance / 'kb.sqlite'}",
        "WTF_CSRF_ENABLED": True,
        **settings,
    })
    with app.app_context():
        db.create_all()
        search.ensure_index()
    return app


class _QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without its line per request on stderr."""

    def log_request(self, code="-", size="-") -> None:
        pass


def _whole_bodies(app: Flask):
    """``app`` as a WSGI app that reads each response body whole and closes it before sending.

    Werkzeug's development server skips closing a response when the client
    resets the connection (Chromium does, for an image that is not one),
    leaving a static file open: a ResourceWarning, which fails the run.
    """
    def wsgi(environ, start_response):
        body = app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()

    return wsgi


class LiveServer:
    """``app`` served over HTTP on 127.0.0.1, on a free port, from a background thread."""

    def __init__(self, app: Flask):
        self.app = app
        # Port 0: the system picks a free one.
        self._server = make_server(LOCAL_HOST, 0, _whole_bodies(app), threaded=True,
                                   request_handler=_QuietRequestHandler)
        self.base_url = f"http://{LOCAL_HOST}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="kb-live-server", daemon=True)
        self._thread.start()

    def url(self, path: str = "/") -> str:
        """The absolute URL of ``path`` (which starts with a slash) on this server."""
        return self.base_url + path

    def close(self) -> None:
        """Stop serving and release the database."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()


@contextmanager
def served(app: Flask):
    """Serve ``app`` for the duration of the ``with`` block."""
    server = LiveServer(app)
    try:
        yield server
    finally:
        server.close()


def log_in(page: Page, server: LiveServer, email: str, password: str) -> None:
    """Log in through the login form and check the header then names an account."""
    page.goto(server.url("/auth/login"))
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def log_out(page: Page) -> None:
    """Press the header's log-out button and wait for the logged-out header."""
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
