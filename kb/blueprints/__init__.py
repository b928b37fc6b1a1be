"""The web layer: thin blueprints that parse a request, call a service and render.

:func:`init_app` registers every blueprint together with what they share:
the id URL converter, template filters, error pages and response headers.
The JSON API (:mod:`kb.api`) is registered beside it by :func:`kb.create_app`.
"""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import BaseConverter, ValidationError as RoutingValidationError

from kb import case_fields, models
from kb.api import problems as api_problems
from kb.errors import KbError
from kb.extensions import db
from kb.sanitize import render_markdown
from kb.services import policy


class IdConverter(BaseConverter):
    """Positive integer ids that fit a database key; anything else is a 404.

    Werkzeug's ``int`` converter accepts any length, and an id beyond the
    key's range makes SQLite and psycopg raise instead of finding nothing.
    """

    regex = r"[1-9][0-9]{0,18}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not models.is_valid_id(number):
            raise RoutingValidationError()
        return number

    def to_url(self, value: int) -> str:
        return str(int(value))


def _register_error_pages(app: Flask) -> None:
    titles = {
        400: "Bad request",
        403: "Not allowed",
        404: "Not found",
        405: "Method not allowed",
        409: "Conflict",
        413: "Too large",
        429: "Too many attempts",
        500: "Something went wrong",
    }

    def render_error(status: int, message: str):
        title = titles.get(status, "Error")
        return render_template("errors/error.html", status=status, title=title, message=message), status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        # An untrusted Host header leaves no URL adapter to build the layout's
        # links with: answer with Werkzeug's plain page.
        if error.code is None or error.code < 400 or isinstance(error, SecurityError):
            return error
        if api_problems.is_api_request():
            # An unknown address or method under the API matched no view, so
            # the API blueprint's own handlers never saw the error.
            return api_problems.http_problem(error)
        response = error.get_response()
        body, status = render_error(error.code, error.description or "")
        response.set_data(body)
        response.content_type = "text/html; charset=utf-8"
        response.status_code = status
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        db.session.rollback()
        return render_error(
            400, "The form was too old or came from elsewhere. Go back, reload the page and try again."
        )

    @app.errorhandler(KbError)
    def domain_error(error: KbError):
        db.session.rollback()
        return render_error(error.status_code, error.message)

    @app.errorhandler(InternalServerError)
    def server_error(error: InternalServerError):
        db.session.rollback()
        return render_error(500, "The error has been logged. Please try again later.")


def current_location() -> str:
    """This page's path and query, for a "log in and come back" link.

    ``request.full_path`` raises on a query string that is not UTF-8; such
    bytes are replaced here instead.
    """
    query = request.query_string.decode("utf-8", "replace")
    return f"{request.path}?{query}" if query else request.path


def _register_template_helpers(app: Flask) -> None:
    app.jinja_env.filters["markdown"] = render_markdown
    app.jinja_env.globals.update(
        current_location=current_location,
        policy=policy,
        CaseStatus=models.CaseStatus,
        ReviewAction=models.ReviewAction,
        EvidenceLevel=models.EvidenceLevel,
        EducationLevel=models.EducationLevel,
        ContextKind=models.ContextKind,
        Role=models.Role,
        LANGUAGES=models.LANGUAGES,
        # The case-study sections, in the order every page shows them, and every
        # field's labels, so that pages name a field as the registry does.
        MARKDOWN_SECTIONS=case_fields.markdown_sections(),
        CASE_FIELDS=case_fields.BY_NAME,
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True


# No inline script or style anywhere: scripts and styles are files served by
# kb, images come only from kb (the sanitizer drops others), and no page may
# be framed, change its base URL or post forms elsewhere.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
))


def _sends_hsts(app: Flask) -> bool:
    """HSTS in production only, on HTTPS requests or when configured to assume HTTPS.

    Sent over plain HTTP during development, it would make browsers refuse
    ``http://localhost`` for a year.
    """
    if app.config["ENV"] != "production" or not app.config["HSTS_SECONDS"]:
        return False
    return request.is_secure or bool(app.config["HSTS_ASSUME_HTTPS"])


def _register_headers(app: Flask) -> None:
    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if _sends_hsts(app):
            response.headers.setdefault(
                "Strict-Transport-Security", f"max-age={app.config['HSTS_SECONDS']}"
            )
        return response


def _trust_proxies(app: Flask) -> None:
    """Read the client's address and scheme from the configured number of proxies.

    Without this, behind a proxy every client has the proxy's address (one
    login throttle for everyone) and HTTPS requests look like HTTP. The
    Host header is not taken from X-Forwarded-Host: proxies pass it on as
    it came, and TRUSTED_HOSTS checks it.
    """
    hops = app.config["TRUSTED_PROXIES"]
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0,
                                x_port=0, x_prefix=0)


class PercentEncodeRawQuery:
    """WSGI middleware: percent-encode raw non-ASCII bytes in the query string.

    Browsers always percent-encode, but any client can send raw bytes, and
    Werkzeug decodes a raw query string strictly as UTF-8, so ``request.args``
    would raise. Percent-escapes it decodes leniently, replacing bad bytes.
    """

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        query = environ.get("QUERY_STRING", "")
        if not query.isascii():
            # WSGI strings carry bytes as latin-1 code points.
            environ["QUERY_STRING"] = "".join(
                char if ord(char) < 128 else f"%{ord(char):02X}" for char in query
            )
        return self.wsgi_app(environ, start_response)


def init_app(app: Flask) -> None:
    """Register the site's blueprints, converters, filters, error pages, headers and proxies.

    The error pages and headers serve the whole app, the JSON API included,
    which :func:`kb.create_app` registers beside these blueprints.
    """
    app.wsgi_app = PercentEncodeRawQuery(app.wsgi_app)
    _trust_proxies(app)
    from kb.blueprints import (
        admin, auth, browse, cases, cities, citations, collections, compare, context_fit, feeds,
        imports, lineage, main, review, vocabularies,
    )

    app.url_map.converters["id"] = IdConverter
    for module in (main, auth, cases, cities, vocabularies, admin, browse, compare, review,
                   imports, collections, feeds, citations, lineage, context_fit):
        app.register_blueprint(module.bp)
    _register_error_pages(app)
    _register_template_helpers(app)
    _register_headers(app)
