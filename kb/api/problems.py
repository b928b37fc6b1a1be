"""Errors of the JSON API as RFC 9457 problem details (``application/problem+json``).

Every error under ``/api/v1`` is answered this way: the API's own refusals,
the services' domain errors, Werkzeug's HTTP errors (a 404 for an unknown
address, a 405, a 413 for a body over ``MAX_CONTENT_LENGTH``) and a 500
for anything unexpected. A problem has ``type``, ``title``, ``status``,
``detail`` and ``instance``; a validation problem adds ``errors``, one
entry per field. Types other than ``about:blank`` point at their
explanation on the reference page (:data:`PROBLEM_TYPES`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus

from flask import Blueprint, Response, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from kb import case_fields
from kb.errors import KbError, NotAuthenticated
from kb.errors import ValidationError as ServiceValidationError
from kb.extensions import db

MEDIA_TYPE = "application/problem+json"
# The part of the site the API answers under; routing errors there (an
# unknown address, a method the address does not take) never reach the
# blueprint, so the site's error handler asks :func:`is_api_request`.
PATH_PREFIX = "/api/"
# Service field names that the API calls otherwise (it takes terms and cities by slug):
# the case-study fields the registry names so, and an adaptation's source.
SERVICE_FIELD_NAMES = {
    **{spec.input_name: spec.name for spec in case_fields.FIELDS if spec.input_name != spec.name},
    "source_id": "source",
}


@dataclass(frozen=True)
class ProblemType:
    """A kind of problem the API defines beyond the HTTP status, explained on the reference page."""

    anchor: str
    title: str
    status: int
    explanation: str


VALIDATION = ProblemType(
    "problem-validation", "The request has invalid fields", 422,
    "The body (or, with status 400, the query string) broke a rule. `errors` lists each field "
    "(`field`, a JSON Pointer `pointer` into the body where there is one, and `detail`). "
    "Fields a client may not set (such as `status`, `author`, `id` or `slug`) are reported "
    "here and never applied.",
)
STALE_VERSION = ProblemType(
    "problem-stale-version", "Someone else saved first", 409,
    "The `version` sent is not the case study's current version: someone saved it after you "
    "read it. Read it again, reapply your change and send the new `version`.",
)
CSRF = ProblemType(
    "problem-csrf", "Missing or invalid CSRF token", 403,
    "A state-changing request authenticated by the site's session cookie must carry the "
    "page's CSRF token in the `X-CSRFToken` header. Requests with an API token do not need one.",
)
INVALID_TOKEN = ProblemType(
    "problem-invalid-token", "Invalid API token", 401,
    "The `Authorization` header is not `Bearer` followed by a token, or the token is unknown, "
    "revoked, or belongs to a deactivated account. Create a new token on your account page.",
)
PROBLEM_TYPES = (VALIDATION, STALE_VERSION, CSRF, INVALID_TOKEN)


class ApiProblem(Exception):
    """Raised by the API's views and helpers to answer with a problem of a given type."""

    def __init__(self, status: int, detail: str, *, kind: ProblemType | None = None,
                 errors: list[dict] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.errors = errors
        self.headers = headers or {}


def is_api_request() -> bool:
    """True when the current request is addressed to the API."""
    return request.path.startswith(PATH_PREFIX)


def problem_response(status: int, detail: str, *, kind: ProblemType | None = None,
                     errors: list[dict] | None = None, headers=None) -> Response:
    """A problem-details response; ``kind`` None means ``about:blank`` with the status's phrase."""
    body: dict = {
        "type": url_for("api.reference", _anchor=kind.anchor) if kind else "about:blank",
        "title": kind.title if kind else HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.path,
    }
    if errors is not None:
        body["errors"] = errors
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=MEDIA_TYPE)
    if headers:
        response.headers.extend(headers)
    if status == 401:
        response.headers.setdefault("WWW-Authenticate", 'Bearer realm="kb"')
    return response


def field_errors(errors: dict[str, list[str]], names: dict[str, str] | None = None) -> list[dict]:
    """A service's field -> messages mapping as the problem's ``errors`` list.

    ``names`` renames service fields to the API's (``city_id`` -> ``city``);
    an error about the whole input has the field ``""``.
    """
    names = names or {}
    listed = []
    for field, messages in errors.items():
        name = names.get(field, field)
        for message in messages:
            entry = {"field": name, "detail": message}
            if name:
                entry["pointer"] = "#/" + name.replace("~", "~0").replace("/", "~1")
            listed.append(entry)
    return listed


def http_problem(error: HTTPException) -> Response:
    """Werkzeug's HTTP error as a problem, keeping its headers (``Allow`` on a 405)."""
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    return problem_response(error.code, error.description or HTTPStatus(error.code).description,
                            headers=headers)


def register(bp: Blueprint) -> None:
    """Answer every error of the blueprint's views as a problem."""

    @bp.errorhandler(ApiProblem)
    def api_problem(error: ApiProblem):
        db.session.rollback()
        return problem_response(error.status, error.detail, kind=error.kind, errors=error.errors,
                                headers=error.headers)

    @bp.errorhandler(ServiceValidationError)
    def invalid(error: ServiceValidationError):
        db.session.rollback()
        return problem_response(422, "The request has invalid fields.", kind=VALIDATION,
                                errors=field_errors(error.errors, SERVICE_FIELD_NAMES))

    @bp.errorhandler(NotAuthenticated)
    def unauthenticated(error: NotAuthenticated):
        db.session.rollback()
        return problem_response(401, error.message)

    @bp.errorhandler(KbError)
    def domain_error(error: KbError):
        db.session.rollback()
        return problem_response(error.status_code, error.message)

    # Registered for the CSRF error and the 500 explicitly: the site registers
    # handlers for exactly those classes, which Flask would prefer to a
    # handler for their base class here.
    @bp.errorhandler(CSRFError)
    def csrf_refused(error: CSRFError):
        db.session.rollback()
        return problem_response(403, f"{error.description} Send the page's token in the X-CSRFToken header, "
                                     "or use an API token.", kind=CSRF)

    @bp.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        db.session.rollback()
        return http_problem(error)

    @bp.errorhandler(InternalServerError)
    def server_error(error: InternalServerError):
        db.session.rollback()
        return problem_response(500, "The error has been logged. Please try again later.")
