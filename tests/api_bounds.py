"""Absurd values into every parameter and body field of an OpenAPI document: the
table of probes of ``test_api_bounds`` (practice and portal). Each probe is one request
with one value replaced — an integer of 2**63 or -1, a string of 100,000 characters —
and every other value plausible, so the absurd one is what the server must refuse."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

HUGE_INT = 2**63
NEGATIVE = -1
HUGE_TEXT = "x" * 100_000


@dataclass
class Probe:
    method: str
    path: str  # with the path parameters filled in
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    what: str = ""

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path} [{self.what}]"


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"][name]
    if "anyOf" in schema:  # Optional[X]: the X
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        if options:
            return {
                **_resolve(doc, options[0]),
                **{k: v for k, v in schema.items() if k != "anyOf"},
            }
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return _resolve(doc, schema["allOf"][0])
    return schema


def plausible(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A value of the schema's type that is not absurd (it need not be valid)."""
    schema = _resolve(doc, schema)
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    kind = schema.get("type")
    fmt = schema.get("format", "")
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    if kind == "array":
        return [plausible(doc, schema.get("items", {}))]
    if kind == "object" or "properties" in schema:
        return {name: plausible(doc, prop) for name, prop in schema.get("properties", {}).items()}
    if fmt == "date":
        return "2030-01-07"
    if fmt == "date-time":
        return "2030-01-07T09:00:00+01:00"
    if fmt == "time":
        return "09:00:00"
    if fmt == "email":
        return "a@example.org"
    return "a" * max(1, int(schema.get("minLength", 1)))


def _absurd(doc: dict[str, Any], schema: dict[str, Any]) -> list[tuple[str, Any]]:
    schema = _resolve(doc, schema)
    kind = schema.get("type")
    if kind == "integer":
        return [("2**63", HUGE_INT), ("-1", NEGATIVE)]
    if kind == "string" and "enum" not in schema and not schema.get("format"):
        return [("huge text", HUGE_TEXT)]
    if kind == "array":
        items = _resolve(doc, schema.get("items", {}))
        nested = [(f"[{label}]", [value]) for label, value in _absurd(doc, items)]
        return [*nested, ("100,000 items", [plausible(doc, items)] * 100_000)]
    return []


def _body_variants(doc: dict[str, Any], schema: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(field, body) with one field absurd — nested objects included."""
    schema = _resolve(doc, schema)
    base = plausible(doc, schema)
    if not isinstance(base, dict):
        for label, value in _absurd(doc, schema):
            yield label, value
        return
    for name, prop in schema.get("properties", {}).items():
        for label, value in _absurd(doc, prop):
            yield f"{name}={label}", {**base, name: value}
        inner = _resolve(doc, prop)
        if "properties" in inner:
            for label, value in _body_variants(doc, inner):
                yield f"{name}.{label}", {**base, name: value}


def probes(doc: dict[str, Any], prefix: str) -> Iterator[Probe]:
    """Every absurd-value request of the document; paths are prefixed with ``prefix``."""
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            params = [p for p in op.get("parameters", []) if p["in"] in ("path", "query")]
            plain = {p["name"]: plausible(doc, p.get("schema", {})) for p in params}

            def fill(values: dict[str, Any], template: str = path) -> str:
                return prefix + re.sub(r"{(\w+)}", lambda m: str(values[m.group(1)]), template)

            body_schema = (
                op.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema")
            )
            body = plausible(doc, body_schema) if body_schema else None
            for p in params:
                for label, value in _absurd(doc, p.get("schema", {})):
                    values = {**plain, p["name"]: value}
                    query = {q["name"]: values[q["name"]] for q in params if q["in"] == "query"}
                    yield Probe(method, fill(values), query, body, f"{p['name']}={label}")
            if body_schema:
                query = {q["name"]: plain[q["name"]] for q in params if q["in"] == "query"}
                for label, variant in _body_variants(doc, body_schema):
                    yield Probe(method, fill(plain), query, variant, f"body {label}")


def send(client: Any, probe: Probe, headers: dict[str, str]) -> Any:
    """``probe`` through a Django test client."""
    fn = getattr(client, probe.method)
    kwargs: dict[str, Any] = dict(headers)
    path = probe.path
    if probe.query:
        from urllib.parse import urlencode

        path += "?" + urlencode(probe.query, doseq=True)
    if probe.body is not None:
        kwargs["data"] = json.dumps(probe.body)
        kwargs["content_type"] = "application/json"
    return fn(path, **kwargs)
