"""The OpenAPI document: valid OpenAPI 3.1, complete, rendered as a page, and true (schemathesis).

schemathesis runs its whole engine, as its command line does, in-process
against the WSGI app: every phase (examples, coverage, fuzzing, stateful
sequences through the document's links) and every check, once anonymously
and once with an API token, and must find nothing. The example count is
kept small for CI on two cores; a fixed seed makes the run repeatable
(``KB_SCHEMATHESIS_SEED`` picks another to explore).
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import secrets

import pytest
import schemathesis
from clients import token_for
from schemathesis.config._checks import POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES
from schemathesis.engine import Status, StopReason, events, from_schema
from schemathesis.transport.wsgi import WSGITransport
from whoosh.codec.base import Segment

from kb.api.problems import PROBLEM_TYPES

SEED = int(os.environ.get("KB_SCHEMATHESIS_SEED", "20261130"))
MAX_EXAMPLES = 8


@pytest.fixture
def app_config(app_config):
    """CSRF checked as in production: the anonymous run must meet the real refusals."""
    app_config["WTF_CSRF_ENABLED"] = True
    return app_config


@pytest.fixture
def document(client):
    return client.get("/api/v1/openapi.json").get_json()


def api_routes(app) -> set[tuple[str, str]]:
    """``(OpenAPI path, method)`` of every route the app serves under /api/v1."""
    return {
        (re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_the_document_is_valid_openapi_3_1(app, document):
    assert document["openapi"] == "3.1.0"
    # schemathesis checks it against the OpenAPI 3.1 meta-schema.
    schemathesis.openapi.from_dict(document).validate()


def test_the_document_covers_every_api_route_and_nothing_else(app, document):
    documented = {(path, method) for path, methods in document["paths"].items()
                  for method in methods}
    assert documented == api_routes(app)
    assert len(documented) >= 15


def test_every_error_is_documented_as_a_problem(document):
    problem = {"$ref": "#/components/schemas/Problem"}
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            responses = operation["responses"]
            assert {"401", "500", "default"} <= set(responses), (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415", "422"} <= set(responses), (method, path)
            if method != "get":
                assert "403" in responses, (method, path)  # a session call without CSRF
            for status, response in responses.items():
                if status == "default" or int(status) >= 400:
                    assert response["content"] == {"application/problem+json": {"schema": problem}}
            assert operation["summary"] and operation["operationId"]


def test_every_reference_resolves(document):
    text = str(document)
    for name in set(re.findall(r"#/components/schemas/([A-Za-z0-9_]+)", text)):
        assert name in document["components"]["schemas"], name


def test_the_document_states_the_input_rules(document):
    schemas = document["components"]["schemas"]
    new_case = schemas["CaseInput"]
    assert new_case["additionalProperties"] is False
    assert set(new_case["required"]) == {"title", "summary", "city", "education_level", "problems"}
    assert new_case["properties"]["title"]["maxLength"] == 300
    assert "status" not in new_case["properties"] and "author" not in new_case["properties"]
    changes = schemas["CaseChanges"]
    assert changes["required"] == ["version"]
    assert "default" not in changes["properties"]["title"]


def test_the_reference_page_shows_every_operation_schema_and_problem_type(client, document):
    response = client.get("/api/v1/docs")

    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            assert f'id="op-{operation["operationId"]}"' in page
            assert f"<code>{method.upper()} {path}</code>" in page
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name}"' in page
    for kind in PROBLEM_TYPES:
        assert f'id="{kind.anchor}"' in page
    assert "<script" not in page and "style=" not in page
    headings = [int(level) for level in re.findall(r"<h([1-6])", page)]
    assert headings[0] == 1 and all(b - a <= 1 for a, b in itertools.pairwise(headings))


def test_problem_types_point_at_the_reference_page(client, people):
    body = client.get("/api/v1/cases?page=0").get_json()
    page, anchor = body["type"].split("#")
    assert f'id="{anchor}"' in client.get(page).get_data(as_text=True)


# -- schemathesis ---------------------------------------------------------------

@pytest.fixture
def schemathesis_safe(monkeypatch):
    """Work around two things that are not kb's, for the length of a run.

    Hypothesis seeds Python's global ``random`` alike for every example it
    runs, and Whoosh names new index segments with it, so two index writes
    in one run would name their segments the same; a server process never
    reseeds ``random`` that way. And schemathesis 4.32's WSGI transport
    hands the Werkzeug client socket options (``max_redirects``...) when it
    probes a request again without credentials.
    """
    monkeypatch.setattr(Segment, "_random_id",
                        classmethod(lambda cls, size=16: secrets.token_hex(size // 2)))
    send = WSGITransport.send

    def send_without_socket_options(self, case, *, session=None, **kwargs):
        if session is None:
            for name in ("max_redirects", "verify", "cert", "proxies"):
                kwargs.pop(name, None)
        return send(self, case, session=session, **kwargs)

    monkeypatch.setattr(WSGITransport, "send", send_without_socket_options)


def run_schemathesis(app, headers: dict[str, str]) -> tuple[list[str], int]:
    """Run every phase and check against ``app``; the failures found and the scenarios run."""
    config = schemathesis.Config.from_dict({
        "seed": SEED,
        "headers": headers,
        "generation": {"max-examples": MAX_EXAMPLES},
        "checks": {
            # A 422 reports what a schema cannot say: the city or term
            # named must exist, the last year cannot come before the first.
            "positive_data_acceptance": {
                "expected-statuses": [*POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES, "422"],
            },
        },
    })
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)
    failures, scenarios, finished = [], 0, None
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            scenarios += 1
            for checks in event.recorder.checks.values():
                failures += [f"{event.phase.value} {event.label}: {check.name}: "
                             f"{check.failure_info.failure.title}\n{check.failure_info.code_sample}"
                             for check in checks if check.status is Status.FAILURE]
            if event.status is Status.ERROR:
                failures.append(f"{event.phase.value} {event.label}: error")
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            failures.append(f"error: {getattr(event, 'label', '')} {event}")
        elif isinstance(event, events.EngineFinished):
            finished = event.stop_reason
    assert finished is StopReason.COMPLETED
    return failures, scenarios


@pytest.mark.slow
@pytest.mark.parametrize("caller", ["anonymous", "token"])
def test_schemathesis_finds_nothing_wrong(app, taxonomy, people, schemathesis_safe, caplog, caller):
    headers = {} if caller == "anonymous" else {
        "Authorization": f"Bearer {token_for(app, people['member'])}"}

    with caplog.at_level(logging.ERROR):
        failures, scenarios = run_schemathesis(app, headers)

    assert not failures, "\n\n".join(failures)
    assert scenarios >= 40
    # The index kept up with every write (kb.search logs what it could not do).
    assert not [record.getMessage() for record in caplog.records if record.name.startswith("kb")]
