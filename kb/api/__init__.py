"""The JSON API under ``/api/v1``: case studies, search, vocabularies and cities.

A blueprint like the site's own, and as thin: each view parses the request
(:mod:`kb.api.spec` validates it against :mod:`kb.api.schemas`), calls the
same services and search facade as the pages, commits once and returns a
response model. Permissions are the site's (:mod:`kb.services.policy`);
who a request acts for is decided by :mod:`kb.api.auth`; every error is a
problem-details response (:mod:`kb.api.problems`). The OpenAPI document
and its reference page are generated from the same declarations
(:mod:`kb.api.reference`).
"""

from __future__ import annotations

from flask import Blueprint, Flask

from kb.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# The modules below register their handlers and routes on ``bp``.
from kb.api import auth, problems

problems.register(bp)
bp.before_request(auth.identify_caller)

from kb.api import cases, catalogue, collections, lineage, reference, search  # noqa: F401


def init_app(app: Flask) -> None:
    """Register the API blueprint on ``app``."""
    # Session calls are checked for CSRF by kb.api.auth; token calls need none.
    csrf.exempt(bp)
    app.register_blueprint(bp)
