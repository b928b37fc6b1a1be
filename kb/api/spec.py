"""Each API operation declared once: its route, its checks, and its part of the OpenAPI document.

:func:`operation` registers a view on the blueprint together with what it
takes (path, query and body models from :mod:`kb.api.schemas`), what it
returns and which errors it may answer with. The same declaration parses
and validates the request before the view runs and is turned into the
OpenAPI 3.1 document by :func:`openapi_document`, so the document covers
every operation and cannot disagree with the code.

A view receives its path values, ``query`` (the validated query model) and
``read_body``, a function returning the validated body. A view calls it
itself, after its own permission checks, so that someone who may not do a
thing learns that before being told what is wrong with their input, as on
the site's pages.
"""

from __future__ import annotations

import inspect
import re
import typing
from dataclasses import dataclass, field
from functools import wraps
from http import HTTPStatus

from flask import Blueprint, Response, request
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from kb.api import auth
from kb.api.problems import MEDIA_TYPE as PROBLEM_MEDIA_TYPE
from kb.api.problems import VALIDATION, ApiProblem
from kb.api.schemas import Problem, ResponseModel
from kb.models import MAX_ID

JSON = "application/json"
HTML = "text/html"
REF_TEMPLATE = "#/components/schemas/{model}"
OPENAPI_VERSION = "3.1.0"
API_VERSION = "1"
# Query integers as written by people and scripts: digits, perhaps a minus.
_QUERY_INTEGER = re.compile(r"-?[0-9]{1,30}")
_RULE_PARAMETER = re.compile(r"<(?:([^:<>]+):)?([^<>]+)>")

PATH_PARAMETERS = {
    "slug": "The slug: the last part of the address of the case study, term, city or collection.",
    "adaptation_id": "The number of the adaptation link.",
}
# Path parameters by URL converter: ``<id:...>`` takes a database key (kb.blueprints.IdConverter).
_PATH_SCHEMAS = {
    None: {"type": "string", "minLength": 1, "maxLength": 200},
    "id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}

TAGS = {
    "Case studies": "Read, write and submit case studies. Lists and search show what the caller "
                    "may see: published case studies, their own, and for curators everything.",
    "Search": "Full-text search with facets and highlights, as on the search page.",
    "Adaptations": "Which city took up which practice, and what it kept and changed.",
    "Collections": "Curated lists of case studies, for a meeting, a briefing or research.",
    "Vocabularies and cities": "The curated problems of practice, adaptation contexts and cities.",
    "Account": "The account a request acts for.",
    "Reference": "This document, as JSON and as a page.",
}

# Errors every operation may answer with, whatever it declares.
_ALWAYS = (401, 500)


@dataclass
class Operation:
    """One method on one address of the API, as declared with :func:`operation`."""

    method: str
    rule: str  # the Flask rule, prefix included
    endpoint: str
    tag: str
    summary: str
    description: str
    response: type[BaseModel] | None
    status: int
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    body_required: bool
    login: bool
    errors: tuple[int, ...]
    also: dict[int, str] = field(default_factory=dict)  # other success statuses, same body
    media_type: str = JSON
    location: bool = False  # a 201 says where the new resource is
    # OpenAPI links from the success response to operations on what it returned.
    links: dict[str, dict] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The OpenAPI path template: ``/api/v1/cases/{slug}``."""
        return _RULE_PARAMETER.sub(r"{\2}", self.rule)

    @property
    def path_parameters(self) -> list[tuple[str, str | None]]:
        """``(name, converter)`` of each parameter of the rule; converter None for plain strings."""
        return [(name, converter or None) for converter, name in _RULE_PARAMETER.findall(self.rule)]

    def error_statuses(self) -> list[int]:
        """Every error status this operation may answer with, declared or implied."""
        statuses = set(_ALWAYS) | set(self.errors)
        if self.query or self.body:
            statuses.add(400)
        if self.body:
            statuses |= {413, 415, 422}
        if self.method not in auth.SAFE_METHODS:
            statuses.add(403)  # a session call without its CSRF token
        if self.path_parameters:
            statuses.add(404)
        return sorted(statuses)


OPERATIONS: list[Operation] = []


def operation(bp: Blueprint, method: str, rule: str, *, tag: str,
              response: type[BaseModel] | None, status: int = 200,
              query: type[BaseModel] | None = None, body: type[BaseModel] | None = None,
              body_required: bool = True, login: bool = False, errors: tuple[int, ...] = (),
              also: dict[int, str] | None = None, media_type: str = JSON, location: bool = False,
              links: dict[str, dict] | None = None):
    """Register the decorated view as an API operation (see the module's docstring).

    The view's docstring gives the summary (first line) and description.
    ``login`` refuses anonymous callers with a 401 before the view runs.
    The view returns a response model, ``(model, status)`` or
    ``(model, status, headers)``, or a ready :class:`~flask.Response`.
    """
    def decorate(view):
        summary, _, description = (inspect.getdoc(view) or "").partition("\n")
        op = Operation(
            method=method, rule=bp.url_prefix + rule, endpoint=view.__name__, tag=tag,
            summary=summary.strip(), description=description.strip(), response=response,
            status=status, query=query, body=body, body_required=body_required, login=login,
            errors=errors, also=also or {}, media_type=media_type, location=location,
            links=links or {},
        )
        OPERATIONS.append(op)

        @wraps(view)
        def handle(**path_values):
            if op.login:
                auth.required_user()
            arguments = dict(path_values)
            if query is not None:
                arguments["query"] = read_query(query)
            if body is not None:
                arguments["read_body"] = lambda: read_body(body, required=body_required)
            return _respond(view(**arguments), status)

        bp.add_url_rule(rule, view.__name__, handle, methods=[method])
        return handle

    return decorate


def _respond(result, status: int) -> Response:
    if isinstance(result, Response):
        return result
    headers = {}
    if isinstance(result, tuple):
        result, status, *rest = result
        headers = rest[0] if rest else {}
    response = Response(result.model_dump_json(), status=status, mimetype=JSON)
    response.headers.extend(headers)
    return response


# -- reading requests ----------------------------------------------------------

def _is_list(annotation) -> bool:
    return typing.get_origin(annotation) is list


def read_query(model: type[BaseModel]) -> BaseModel:
    """The query string as ``model``; a 400 problem listing each bad parameter.

    Parameters the model does not know are ignored, as browsers and proxies
    add their own. A list parameter is repeated (``?city=a&city=b``); any
    other must be given once.
    """
    data: dict = {}
    problems: list[dict] = []
    for name, info in model.model_fields.items():
        values = request.args.getlist(name)
        if not values:
            continue
        if _is_list(info.annotation):
            data[name] = values
        elif len(values) > 1:
            problems.append({"field": name, "detail": "Give this parameter once."})
        elif info.annotation is int and _QUERY_INTEGER.fullmatch(values[0]):
            data[name] = int(values[0])
        else:
            data[name] = values[0]
    try:
        parsed = model.model_validate(data)
    except PydanticValidationError as error:
        problems += [{"field": ".".join(str(part) for part in item["loc"]), "detail": item["msg"]}
                     for item in error.errors(include_url=False)]
    if problems:
        raise ApiProblem(400, "The query string has invalid parameters.", kind=VALIDATION,
                         errors=problems)
    return parsed


def read_body(model: type[BaseModel], *, required: bool = True) -> BaseModel:
    """The JSON body as ``model``: 415 if it is not JSON, 400 if malformed, 422 if invalid.

    Unknown fields are refused; a field the client may not set (the model's
    ``read_only`` mapping, see :mod:`kb.api.schemas`) is refused with the
    reason it cannot be set.
    """
    raw = request.get_data(cache=False)
    if not raw and not required:
        return model()
    if request.mimetype != JSON and not request.mimetype.endswith("+json"):
        raise ApiProblem(415, "Send the body as JSON, with “Content-Type: application/json”.")
    try:
        return model.model_validate_json(raw)
    except PydanticValidationError as error:
        items = error.errors(include_url=False)
        malformed = [item for item in items if item["type"] == "json_invalid"]
        if malformed:
            raise ApiProblem(400, f"The body is not valid JSON: {malformed[0]['msg']}") from None
        read_only = getattr(model, "read_only", {})
        raise ApiProblem(422, "The request has invalid fields.", kind=VALIDATION,
                         errors=[_body_problem(item, read_only) for item in items]) from None


def _body_problem(item: dict, read_only: dict[str, str]) -> dict:
    location = [str(part) for part in item["loc"]]
    name = ".".join(location)
    detail = item["msg"]
    if item["type"] == "extra_forbidden":
        detail = read_only.get(name) or f"kb does not take a field called “{name}”."
    return {"field": name, "pointer": "#/" + "/".join(
        part.replace("~", "~0").replace("/", "~1") for part in location), "detail": detail}


# -- the OpenAPI document ------------------------------------------------------

class _SchemaGenerator(GenerateJsonSchema):
    """Pydantic's JSON Schema, without a title on every property."""

    def field_title_should_be_set(self, schema) -> bool:
        return False


def _component(model: type[BaseModel]) -> dict:
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


def _content(media_type: str, model: type[BaseModel] | None) -> dict:
    if model is not None:
        schema = _component(model)
    elif media_type == HTML:
        schema = {"type": "string"}
    else:
        schema = {"type": "object"}
    return {media_type: {"schema": schema}}


def _query_parameters(model: type[BaseModel]) -> list[dict]:
    schema = model.model_json_schema(ref_template=REF_TEMPLATE, schema_generator=_SchemaGenerator)
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        parameter = {"name": name, "in": "query", "required": name in required}
        if "description" in prop:
            parameter["description"] = prop.pop("description")
        if prop.get("type") == "array":
            parameter.update(style="form", explode=True)
        parameter["schema"] = prop
        parameters.append(parameter)
    return parameters


def _problem_response(status: int) -> dict:
    response = {"description": HTTPStatus(status).phrase,
                "content": _content(PROBLEM_MEDIA_TYPE, Problem)}
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {
            "description": "The Bearer challenge.", "required": True, "schema": {"type": "string"}}}
    return response


_ERROR_MEANINGS = {
    400: "The query string or the JSON is malformed.",
    401: "Not signed in, or the API token is invalid.",
    403: "The caller may not do this (or a session call lacks its CSRF token).",
    404: "No such resource, or not one the caller may see.",
    409: "The resource changed meanwhile, or is not in a state that allows this.",
    413: "The body is larger than the server accepts.",
    415: "The body is not JSON.",
    422: "The body has invalid fields; `errors` says which.",
    500: "An unexpected error; it has been logged.",
}


def _operation_document(op: Operation) -> dict:
    document: dict = {
        "operationId": op.endpoint,
        "tags": [op.tag],
        "summary": op.summary,
        "description": op.description,
        "parameters": [
            {"name": name, "in": "path", "required": True,
             "description": PATH_PARAMETERS.get(name, ""), "schema": _PATH_SCHEMAS[converter]}
            for name, converter in op.path_parameters
        ] + (_query_parameters(op.query) if op.query else []),
    }
    if op.body is not None:
        document["requestBody"] = {"required": op.body_required,
                                   "content": _content(JSON, op.body)}
    success = {"description": HTTPStatus(op.status).phrase,
               "content": _content(op.media_type, op.response)}
    if op.location:
        success["headers"] = {"Location": {"description": "The new resource's address in the API.",
                                           "required": True, "schema": {"type": "string"}}}
    if op.links:
        success["links"] = op.links
    responses = {str(op.status): success}
    for status, meaning in op.also.items():
        responses[str(status)] = {"description": meaning,
                                  "content": _content(op.media_type, op.response)}
    for status in op.error_statuses():
        responses[str(status)] = _problem_response(status)
        responses[str(status)]["description"] = _ERROR_MEANINGS.get(status, HTTPStatus(status).phrase)
    responses["default"] = {"description": "Any other error, as problem details.",
                            "content": _content(PROBLEM_MEDIA_TYPE, Problem)}
    document["responses"] = responses
    credentials = [{"bearerAuth": []}, {"sessionCookie": []}]
    document["security"] = credentials if op.login else [{}, *credentials]
    return document


DESCRIPTION = """\
The JSON API of kb, the knowledge base of case studies shared by a network of
city school systems. It follows the site's rules: what a caller may see and do
is what the same person may see and do on the site's pages.

**Authentication.** Create an API token on your account page (it is shown
once) and send it as `Authorization: Bearer <token>`. Without a token a request
acts for the browser session, if any; a state-changing request made with the
session must carry the page's CSRF token in `X-CSRFToken`. Anonymous callers
may read what anonymous visitors may.

**Errors** are RFC 9457 problem details (`application/problem+json`) with
`type`, `title`, `status`, `detail` and `instance`; validation problems list
each field in `errors`.

**Paging.** Lists take `page` and `per_page` (at most 100) and return `total`
and `pages`.
"""


def openapi_document() -> dict:
    """The OpenAPI 3.1 document of every registered operation."""
    models = {Problem}
    for op in OPERATIONS:
        models |= {m for m in (op.body, op.response) if m is not None}
    ordered = sorted(models, key=lambda m: m.__name__)
    _, definitions = models_json_schema(
        [(m, "serialization" if issubclass(m, ResponseModel) else "validation") for m in ordered],
        ref_template=REF_TEMPLATE, schema_generator=_SchemaGenerator,
    )
    paths: dict[str, dict] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation_document(op)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "kb API", "version": API_VERSION, "description": DESCRIPTION},
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "An API token from your account page."},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "session",
                                  "description": "The site's own session; state-changing "
                                                 "requests also need `X-CSRFToken`."},
            },
        },
    }
