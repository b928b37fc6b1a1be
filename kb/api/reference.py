"""The OpenAPI document at ``/api/v1/openapi.json`` and the reference page rendered from it.

The page is drawn on the server from the same document (no script, so no
CDN and nothing the Content-Security-Policy forbids): one section per tag
with each operation's parameters, body and responses, then every schema
and the problem types errors point at.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from flask import Response, render_template

from kb.api import bp
from kb.api.problems import PROBLEM_TYPES
from kb.api.spec import HTML, JSON, openapi_document, operation

TAG = "Reference"

# A piece of a type as the page shows it: text, and the anchor it links to (or None).
TypePart = tuple[str, str | None]


@cache
def document() -> dict:
    """The OpenAPI document; built once per process, as the operations never change."""
    return openapi_document()


@operation(bp, "GET", "/openapi.json", tag=TAG, response=None)
def openapi():
    """The OpenAPI document

    This API described in OpenAPI 3.1, generated from the code that serves it.
    """
    return Response(json.dumps(document(), ensure_ascii=False), mimetype=JSON)


@operation(bp, "GET", "/docs", tag=TAG, response=None, media_type=HTML)
def reference():
    """The reference page

    This document as a page to read.
    """
    return Response(render_template("api/reference.html", page=reference_page(document()),
                                    problem_types=PROBLEM_TYPES), mimetype=HTML)


# -- the page's contents -------------------------------------------------------

@dataclass
class FieldRow:
    """A parameter or a property of a schema, as one row of a table."""

    name: str
    type: list[TypePart]
    required: bool
    description: str
    rules: list[str]


@dataclass
class ResponseRow:
    """One response an operation may give."""

    status: str
    description: str
    type: list[TypePart]
    media_type: str


@dataclass
class OperationView:
    """One operation as the page shows it."""

    method: str
    path: str
    anchor: str
    summary: str
    description: str
    needs_login: bool
    parameters: list[FieldRow]
    body: list[TypePart] | None
    body_required: bool
    responses: list[ResponseRow]


@dataclass
class SchemaView:
    """One schema of the document's components."""

    name: str
    anchor: str
    description: str
    fields: list[FieldRow]


@dataclass
class Section:
    """The operations of one tag."""

    name: str
    anchor: str
    description: str
    operations: list[OperationView]


@dataclass
class ReferencePage:
    """Everything the reference page shows."""

    title: str
    version: str
    description: str
    sections: list[Section]
    schemas: list[SchemaView]


def schema_anchor(name: str) -> str:
    """The page's anchor for the schema ``name``."""
    return f"schema-{name}"


def type_parts(schema: dict) -> list[TypePart]:
    """The type of a JSON Schema in words, with links to the schemas it names."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return [(name, "#" + schema_anchor(name))]
    if "anyOf" in schema:
        parts: list[TypePart] = []
        for index, alternative in enumerate(schema["anyOf"]):
            if index:
                parts.append((" or ", None))
            parts += type_parts(alternative)
        return parts
    if "enum" in schema:
        return [("one of " + ", ".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"]), None)]
    kind = schema.get("type", "any value")
    if kind == "array":
        return [("array of ", None), *type_parts(schema.get("items", {}))]
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return [("object whose values are ", None), *type_parts(schema["additionalProperties"])]
    if "format" in schema:
        return [(f"{kind} ({schema['format']})", None)]
    return [(str(kind), None)]


_RULES = (
    ("minLength", "at least {} characters"),
    ("maxLength", "at most {} characters"),
    ("pattern", "matches {}"),
    ("minimum", "at least {}"),
    ("maximum", "at most {}"),
    ("minItems", "at least {} items"),
    ("maxItems", "at most {} items"),
)


def rules(schema: dict) -> list[str]:
    """The constraints of a JSON Schema in words (those of an array's items included)."""
    found = [text.format(schema[key]) for key, text in _RULES if key in schema]
    for alternative in schema.get("anyOf", ()):
        found += rules(alternative)
    if isinstance(schema.get("items"), dict):
        found += [f"each: {rule}" for rule in rules(schema["items"])]
    if "default" in schema:
        found.append(f"default: {json.dumps(schema['default'], ensure_ascii=False)}")
    return found


def _field_rows(schema: dict) -> list[FieldRow]:
    required = set(schema.get("required", ()))
    return [FieldRow(name, type_parts(prop), name in required, prop.get("description", ""),
                     rules(prop))
            for name, prop in schema.get("properties", {}).items()]


def _operation_view(method: str, path: str, spec: dict) -> OperationView:
    body = spec.get("requestBody")
    responses = []
    for status, response in spec["responses"].items():
        media_type, content = next(iter(response.get("content", {"": {}}).items()))
        responses.append(ResponseRow(status, response["description"],
                                     type_parts(content.get("schema", {})), media_type))
    return OperationView(
        method=method.upper(), path=path, anchor=f"op-{spec['operationId']}",
        summary=spec["summary"], description=spec.get("description", ""),
        needs_login={} not in spec["security"],
        parameters=[FieldRow(f"{p['name']} ({p['in']})", type_parts(p["schema"]), p["required"],
                             p.get("description", ""), rules(p["schema"]))
                    for p in spec.get("parameters", ())],
        body=type_parts(body["content"][JSON]["schema"]) if body else None,
        body_required=bool(body and body.get("required")),
        responses=responses,
    )


def reference_page(spec: dict) -> ReferencePage:
    """The reference page's contents, drawn from the OpenAPI document ``spec``."""
    by_tag: dict[str, list[OperationView]] = {tag["name"]: [] for tag in spec["tags"]}
    for path, methods in spec["paths"].items():
        for method, operation_spec in methods.items():
            by_tag[operation_spec["tags"][0]].append(_operation_view(method, path, operation_spec))
    return ReferencePage(
        title=spec["info"]["title"],
        version=spec["info"]["version"],
        description=spec["info"]["description"],
        sections=[Section(tag["name"], "tag-" + tag["name"].lower().replace(" ", "-"),
                          tag["description"], by_tag[tag["name"]]) for tag in spec["tags"]],
        schemas=[SchemaView(name, schema_anchor(name), schema.get("description", ""),
                            _field_rows(schema))
                 for name, schema in sorted(spec["components"]["schemas"].items())],
    )
