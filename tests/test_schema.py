"""
The OpenAPI schema, as the real clients read it.

`arkindex-client` builds every call from our schema: it downloads it anonymously at construction,
validates the whole document with typesystem 0.4.1, then resolves each call by operationId, names
the request body from `x-name`, and picks its pagination mode from `x-paginated` and the declared
`page` or `cursor` parameter (see `../shared/API.md` §1). A schema that breaks any of this breaks
every client at once, whatever the endpoint, so the rules are checked here over the whole schema:
first in-process, rule by rule (for readable failures), then by the real client in its own
environment, loading the schema from the live server and from a file.

The rules also run on the schema of `arkindex.api.tests.urls`, whose test-only views carry the
constructs drf-spectacular emits that typesystem is strict about (see
`arkindex.api.schema.postprocess_arkindex_schema`), so that the fixes are tested even before a
real endpoint needs them.
"""

import json
import re
from urllib.parse import urljoin

import pytest
from django.test import Client

SCHEMA_PATH = "/api/v1/openapi/"
CLIENT_ACCEPT = "application/vnd.oai.openapi+json, application/json"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
OPERATION_ID = re.compile(r"^[A-Z][A-Za-z0-9]+$")
PARAMETER_LOCATIONS = {"query", "header", "path", "cookie"}

# Operations every client needs, whatever else the server implements.
REQUIRED_OPERATIONS = {"Login", "RetrieveUser", "HealthCheck"}

# Pagination modes the clients' own tests pin (API.md §1.9), checked for the operations that exist:
# False is `x-paginated: false` (the body is a JSON array), "page" is page-number pagination without
# `with_count`, "cursor" is cursor pagination with `with_count`.
KNOWN_PAGINATION = {
    "ListCorpus": False,
    "ListArtifacts": False,
    "ListElementMetaData": False,
    "ListElements": "page",
    "ListElementChildren": "page",
    "ListElementParents": "page",
    "ListTranscriptions": "page",
    "ListCorpusMLClasses": "page",
    "ListCorpusEntityTypes": "page",
    "ListEmbeddings": "page",
    "ListProcessSets": "page",
    "ListExports": "page",
    "ListProcessElements": "cursor",
    "ListDatasetElements": "cursor",
}


def fetch_schema(query="?format=json", **headers):
    """The schema as an anonymous client gets it: no credentials at all."""
    response = Client().get(SCHEMA_PATH + query, **headers)
    assert response.status_code == 200, response.content[:2000]
    assert response["Content-Type"].split(";")[0] in ("application/json", "application/vnd.oai.openapi+json")
    return json.loads(response.content)


@pytest.fixture(scope="module")
def schema():
    return fetch_schema()


@pytest.fixture
def test_views_schema():
    """The real schema plus the test-only operations of `arkindex.api.tests.urls`."""
    return fetch_schema()


def iter_operations(schema):
    for path, path_item in schema["paths"].items():
        for method in HTTP_METHODS:
            if method in path_item:
                yield path, method, path_item[method]


def resolve(schema, node):
    """Follow `$ref`s (and a lone `allOf` wrapper) to the schema they name."""
    while isinstance(node, dict):
        if "$ref" in node:
            node = schema["components"]["schemas"][node["$ref"].rpartition("/")[2]]
        elif len(node.get("allOf", [])) == 1:
            node = node["allOf"][0]
        else:
            break
    return node


def success_schema(schema, operation):
    """The JSON schema of the operation's 200 response, resolved, or None."""
    content = operation.get("responses", {}).get("200", {}).get("content", {})
    body = content.get("application/json", {}).get("schema")
    return resolve(schema, body) if body is not None else None


def is_list_response(schema, body):
    """A JSON array, or a paginated object (a `results` array): what a List operation returns."""
    if not isinstance(body, dict):
        return False
    if body.get("type") == "array":
        return True
    results = resolve(schema, body.get("properties", {}).get("results"))
    return body.get("type") == "object" and isinstance(results, dict) and results.get("type") == "array"


def parameter_names(operation, location="query"):
    return {parameter.get("name") for parameter in operation.get("parameters", []) if parameter.get("in") == location}


def iter_refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from iter_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from iter_refs(item)


# Each rule returns a list of problems, one readable line each, so a failure lists all offenders.


def rule_document(schema):
    problems = []
    if not isinstance(schema.get("openapi"), str) or not schema["openapi"].startswith("3."):
        problems.append(f"`openapi` must be a 3.x version string, got {schema.get('openapi')!r}")
    if not schema.get("paths"):
        problems.append("`paths` is missing or empty: the client refuses a document without operations")
    for server in schema.get("servers", []):
        if "url" not in server:
            problems.append(f"top-level server without `url`: {server}")
    for path, path_item in schema.get("paths", {}).items():
        if "servers" in path_item:
            problems.append(f"{path}: path-level `servers` would override the client's base URL")
        for method in HTTP_METHODS:
            if "servers" in path_item.get(method, {}):
                problems.append(f"{method.upper()} {path}: operation `servers` would override the base URL")
    return problems


def rule_paths_absolute(schema):
    return [
        f"{path}: paths must be absolute, under /api/v1/" for path in schema["paths"] if not path.startswith("/api/v1/")
    ]


def rule_operation_ids(schema):
    problems = []
    seen = {}
    for path, method, operation in iter_operations(schema):
        operation_id = operation.get("operationId")
        where = f"{method.upper()} {path}"
        if operation_id is None:
            problems.append(f"{where}: no operationId (the client raises KeyError)")
            continue
        if not OPERATION_ID.match(operation_id):
            problems.append(f"{where}: operationId {operation_id!r} is not PascalCase")
        if operation_id in seen:
            problems.append(f"{where}: operationId {operation_id!r} already used by {seen[operation_id]}")
        seen[operation_id] = where
    return problems


def rule_request_bodies(schema):
    problems = []
    for path, method, operation in iter_operations(schema):
        body = operation.get("requestBody")
        if body is None:
            continue
        where = f"{operation.get('operationId')} ({method.upper()} {path})"
        if body.get("x-name") != "body":
            problems.append(f"{where}: requestBody needs `x-name: body`, got {body.get('x-name')!r}")
        if "$ref" in body:
            problems.append(f"{where}: a requestBody $ref gives no body field in the client")
        if set(body.get("content", {})) != {"application/json"}:
            problems.append(
                f"{where}: requestBody media types must be only application/json: {list(body.get('content', {}))}"
            )
        elif "schema" not in body["content"]["application/json"]:
            problems.append(f"{where}: requestBody without a schema")
    return problems


def rule_parameters(schema):
    problems = []
    for path, path_item in schema["paths"].items():
        if "parameters" in path_item:
            problems.append(f"{path}: parameters must be on operations (the client leaks path-level ones)")
    for path, method, operation in iter_operations(schema):
        where = f"{operation.get('operationId')} ({method.upper()} {path})"
        declared = set()
        for parameter in operation.get("parameters", []):
            missing = [key for key in ("name", "in", "schema") if key not in parameter]
            if missing:
                problems.append(f"{where}: parameter {parameter.get('name')!r} lacks {missing}")
                continue
            if parameter["in"] not in PARAMETER_LOCATIONS:
                problems.append(f"{where}: parameter {parameter['name']!r} has `in: {parameter['in']}`")
            if parameter["in"] == "path" and parameter.get("required") is not True:
                problems.append(f"{where}: path parameter {parameter['name']!r} must be required")
            key = (parameter["name"], parameter["in"])
            if key in declared:
                problems.append(f"{where}: parameter {key} declared twice")
            declared.add(key)
        for name in re.findall(r"{\+?([^}]*)}", path):
            if (name, "path") not in declared:
                problems.append(f"{where}: path variable {name!r} is not declared as a parameter")
    return problems


def rule_lists_paginated(schema):
    problems = []
    for path, method, operation in iter_operations(schema):
        where = f"{operation.get('operationId')} ({method.upper()} {path})"
        paginated = operation.get("x-paginated")
        body = success_schema(schema, operation)
        if method == "get" and is_list_response(schema, body) and not isinstance(paginated, bool):
            problems.append(f"{where}: a list needs `x-paginated` true or false, got {paginated!r}")
        if paginated is True:
            query = parameter_names(operation)
            if method != "get":
                problems.append(f"{where}: only GET operations can be paginated")
            if "cursor" in query:
                if "with_count" not in query:
                    problems.append(f"{where}: cursor pagination must declare `with_count`")
            elif "page" not in query:
                problems.append(f"{where}: paginated without a `page` or `cursor` parameter (NotImplementedError)")
            if body is not None and "results" not in body.get("properties", {}):
                problems.append(f"{where}: paginated response without `results`")
        elif paginated is False and body is not None and body.get("type") != "array":
            problems.append(f"{where}: `x-paginated: false` lists must return a JSON array")
    return problems


def rule_known_pagination(schema):
    problems = []
    for path, method, operation in iter_operations(schema):
        expected = KNOWN_PAGINATION.get(operation.get("operationId"))
        if expected is None:
            continue
        where = f"{operation['operationId']} ({method.upper()} {path})"
        query = parameter_names(operation)
        if expected is False:
            if operation.get("x-paginated") is not False:
                problems.append(f"{where}: the clients read a plain list here: needs `x-paginated: false`")
        elif operation.get("x-paginated") is not True:
            problems.append(f"{where}: the clients paginate this list: needs `x-paginated: true`")
        elif expected == "page" and ("page" not in query or {"cursor", "with_count"} & query):
            problems.append(f"{where}: the clients expect page-number pagination without with_count: {sorted(query)}")
        elif expected == "cursor" and not {"cursor", "with_count"} <= query:
            problems.append(f"{where}: the clients expect cursor pagination with with_count: {sorted(query)}")
    return problems


def rule_refs_resolve(schema):
    components = schema.get("components", {}).get("schemas", {})
    problems = []
    for ref in sorted(set(iter_refs(schema))):
        prefix, _, name = ref.rpartition("/")
        if prefix != "#/components/schemas" or name not in components:
            problems.append(f"$ref {ref!r} does not name a component schema")
    return problems


RULES = [
    rule_document,
    rule_paths_absolute,
    rule_operation_ids,
    rule_request_bodies,
    rule_parameters,
    rule_lists_paginated,
    rule_known_pagination,
    rule_refs_resolve,
]


@pytest.mark.parametrize(
    "query, headers",
    [
        ("?format=json", {}),
        ("?format=openapi-json", {}),
        ("", {"HTTP_ACCEPT": CLIENT_ACCEPT}),
        ("?format=json", {"HTTP_ACCEPT": CLIENT_ACCEPT}),
    ],
    ids=["format-json", "format-openapi-json", "client-accept", "client-accept-format-json"],
)
def test_schema_served_as_json_anonymously(schema, query, headers):
    served = fetch_schema(query, **headers)
    assert "openapi" in served
    assert set(served["paths"]) == set(schema["paths"])


def test_schema_ignores_invalid_credentials(schema):
    """The schema is public: a stale token in a client's environment must not make it a 401."""
    response = Client().get(SCHEMA_PATH + "?format=json", HTTP_AUTHORIZATION="Token not-a-token")
    assert response.status_code == 200
    assert set(json.loads(response.content)["paths"]) == set(schema["paths"])


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_schema_rule(schema, rule):
    assert rule(schema) == []


def test_schema_required_operations(schema):
    operation_ids = {operation.get("operationId") for _, _, operation in iter_operations(schema)}
    assert REQUIRED_OPERATIONS <= operation_ids


@pytest.mark.urls("arkindex.api.tests.urls")
def test_test_views_schema_rules(test_views_schema):
    problems = [problem for rule in RULES for problem in rule(test_views_schema)]
    assert problems == []
    operations = {operation["operationId"]: operation for _, _, operation in iter_operations(test_views_schema)}
    assert operations["ListTestPageNumber"]["x-paginated"] is True
    assert operations["ListTestCursor"]["x-paginated"] is True
    assert operations["ListTestUnpaginated"]["x-paginated"] is False
    assert {"cursor", "with_count"} <= parameter_names(operations["ListTestCursor"])
    assert "page" in parameter_names(operations["ListTestPageNumber"])


@pytest.mark.urls("arkindex.api.tests.urls")
def test_postprocess_makes_parameters_typesystem_safe(test_views_schema):
    """What typesystem 0.4.1 refuses is gone; the rest of the parameter's schema stays."""
    operation = test_views_schema["paths"]["/api/v1/tests/bool/"]["get"]
    parameters = {parameter["name"]: parameter["schema"] for parameter in operation["parameters"]}
    assert parameters["score"] == {"type": "number", "minimum": -100, "maximum": 100}
    assert parameters["name"] == {"type": "string"}
    assert parameters["flag"] == {"type": "boolean"}


# The client side: a script run with the real client, printing how it understood each operation.
CLIENT_SCRIPT = """
import json
import os
import sys

from arkindex import ArkindexClient

if os.environ.get("SCHEMA_FILE"):
    client = ArkindexClient(schema_url=os.environ["SCHEMA_FILE"])
else:
    client = ArkindexClient(base_url=os.environ["ARKINDEX_API_URL"])

links = {
    name: {
        "url": link.url,
        "method": link.method,
        "paginated": link.paginated,
        "fields": [
            {"name": field.name, "location": field.location, "required": field.required}
            for field in link.fields
        ],
    }
    for name, link in client.document.links.items()
}
print(json.dumps(links))
"""


def client_links(run_in_clients_env, python, env):
    process = run_in_clients_env(python, CLIENT_SCRIPT, env=env, timeout=120)
    return json.loads(process.stdout.strip().splitlines()[-1])


def assert_client_understands(schema, links):
    """The client saw every operation, each the way the schema describes it."""
    operations = {
        operation["operationId"]: (path, method, operation) for path, method, operation in iter_operations(schema)
    }
    assert set(links) == set(operations)
    assert REQUIRED_OPERATIONS <= set(links)

    for name, (path, method, operation) in operations.items():
        link = links[name]
        assert link["url"] == path, f"{name}: the client would call {link['url']}"
        assert link["method"] == method.upper()
        assert link["paginated"] == operation.get("x-paginated"), name
        fields = {(field["name"], field["location"]): field for field in link["fields"]}
        body_fields = [field for field in link["fields"] if field["location"] == "body"]
        if "requestBody" in operation:
            assert [field["name"] for field in body_fields] == ["body"], f"{name}: {link['fields']}"
        else:
            assert body_fields == [], f"{name}: a body field the clients never send: {body_fields}"
        for parameter in operation.get("parameters", []):
            field = fields[(parameter["name"], parameter["in"])]
            assert field["required"] == parameter.get("required", False), f"{name}: {parameter['name']}"

    assert links["RetrieveUser"]["fields"] == []
    assert [(field["name"], field["required"]) for field in links["Login"]["fields"]] == [("body", True)]


def test_client_loads_schema_from_live_server(live_server, transactional_db, schema, worker_python, run_in_clients_env):
    """`ArkindexClient(base_url=…)` downloads the schema itself, anonymously, and parses it."""
    links = client_links(run_in_clients_env, worker_python, {"ARKINDEX_API_URL": live_server.url})
    assert_client_understands(schema, links)
    assert urljoin(live_server.url, links["Login"]["url"]).startswith(live_server.url + "/api/v1/")


@pytest.mark.parametrize("environment", ["worker_python", "cli_python"])
def test_client_loads_schema_from_file(request, tmp_path, schema, environment, run_in_clients_env):
    """`ArkindexClient(schema_url=<file>)`, in both clients' environments (same client, other pins)."""
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    python = request.getfixturevalue(environment)
    assert_client_understands(schema, client_links(run_in_clients_env, python, {"SCHEMA_FILE": path}))


@pytest.mark.urls("arkindex.api.tests.urls")
def test_client_loads_test_views_schema(tmp_path, test_views_schema, worker_python, run_in_clients_env):
    """The constructs typesystem is strict about (decimal bounds, ECMAScript patterns…) load too."""
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(test_views_schema))
    links = client_links(run_in_clients_env, worker_python, {"SCHEMA_FILE": path})
    assert_client_understands(test_views_schema, links)
    assert links["ListTestCursor"]["paginated"] is True
    assert links["ListTestUnpaginated"]["paginated"] is False


# The schema tells the truth (what the API answers is what it documents; the fuzzer checks it live)


def test_generation_has_no_warning(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))


@pytest.mark.parametrize(
    "component, field",
    [
        ("Element", "worker_run_id"),
        ("Element", "worker_version_id"),
        ("Element", "thumbnail_url"),
        ("Transcription", "worker_run_id"),
        ("Transcription", "worker_version_id"),
        ("MetaData", "worker_run_id"),
        ("Embedding", "worker_version_id"),
        ("Process", "duration"),
        ("DataFile", "s3_url"),
    ],
)
def test_nullable_fields_say_so(schema, component, field):
    assert schema["components"]["schemas"][component]["properties"][field].get("nullable") is True


def test_optional_fields_are_not_required(schema):
    """Lists leave out `has_children`, `zone` or `corpus` on request: the schema does not require them."""
    required = schema["components"]["schemas"]["Element"]["required"]
    assert not {"has_children", "zone", "corpus"} & set(required)
    assert "id" in required


def test_every_operation_documents_its_errors(schema):
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, method, operation in iter_operations(schema):
        responses = operation["responses"]
        assert "503" in responses, (path, method)
        for status, response in responses.items():
            if status[0] in "45":
                assert response["content"] == error, (path, method, status)
        if operation["operationId"] not in ("HealthCheck", "Login"):
            assert {"401", "403", "404"} <= set(responses), (path, method)
        if method in ("post", "put", "patch", "delete"):
            assert {"400", "409"} <= set(responses), (path, method)
        if "requestBody" in operation:
            assert "413" in responses, (path, method)


def test_reject_classification_declares_its_body(schema):
    operation = schema["paths"]["/api/v1/classifications/{id}/reject/"]["put"]
    body = resolve(schema, operation["requestBody"]["content"]["application/json"]["schema"])
    assert set(body["properties"]) == {"ml_class", "state"}
