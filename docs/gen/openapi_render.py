"""Render an OpenAPI 3.1 document (as FastAPI writes it) into one Markdown reference page.

Plain Markdown tables, no JavaScript: each route with its parameters, request body and responses,
then each schema with its fields. Schema references become links to the schema's section.
"""

from __future__ import annotations

import json
from typing import Any

from .markdown import code, notice, page, table

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
REF_PREFIX = "#/components/schemas/"
CONSTRAINTS = {
    "minimum": ">= {}",
    "maximum": "<= {}",
    "exclusiveMinimum": "> {}",
    "exclusiveMaximum": "< {}",
    "minLength": "at least {} characters",
    "maxLength": "at most {} characters",
    "minItems": "at least {} items",
    "maxItems": "at most {} items",
    "pattern": "matches {}",
}


def render_openapi(spec: dict[str, Any], *, intro: str = "") -> str:
    """The HTTP API page for ``spec``.

    Args:
        spec: an OpenAPI 3.x document whose schemas live under ``components.schemas``.
        intro: Markdown placed after the API's own description (authentication, links).

    Returns:
        The page as Markdown.
    """
    info = {"title": "", "version": "", "description": "", **spec.get("info", {})}
    operations = list(_operations(spec))
    schemas = spec.get("components", {}).get("schemas", {})
    return page(
        "# HTTP API",
        notice(script="docs/gen/openapi_render.py", source="reference/openapi.json (from serving.app)"),
        f"**{info['title']}** version {info['version']}. {info['description']}".strip(),
        intro,
        "## Routes",
        table(
            ["method", "path", "summary"],
            [
                (method.upper(), f"[`{path}`](#{_op_anchor(method, path)})", op.get("summary", ""))
                for method, path, op in operations
            ],
        ),
        *(_operation_section(method, path, op) for method, path, op in operations),
        "## Schemas" if schemas else "",
        *(_schema_section(name, schema) for name, schema in schemas.items()),
    )


def type_of(schema: dict[str, Any]) -> str:
    """A short, readable type of a JSON schema, with links to referenced schemas.

    Args:
        schema: a JSON schema fragment (``$ref``, ``anyOf``, ``type``, ``items``, ...).

    Returns:
        For example ``string or null``, ``array of [ErrorItem](#schema-erroritem)``,
        ``object (string → number)`` or ``one of "low", "high"``.
    """
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(REF_PREFIX)
        return f"[{name}](#{schema_anchor(name)})"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " or ".join(type_of(s) for s in schema[key])
    if "enum" in schema:
        return "one of " + ", ".join(code(json.dumps(v)) for v in schema["enum"])
    if "const" in schema:
        return code(json.dumps(schema["const"]))
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(type_of({**schema, "type": k}) for k in kind)
    if kind == "array":
        return _array_type(schema)
    if kind == "object":
        extra = schema.get("additionalProperties")
        return f"object (string → {type_of(extra)})" if isinstance(extra, dict) else "object"
    if kind is None:
        return "any"
    return f"{kind} ({schema['format']})" if "format" in schema else str(kind)


def schema_anchor(name: str) -> str:
    """The id of a schema's section."""
    return "schema-" + name.lower()


def _operations(spec: dict[str, Any]):  # type: ignore[no-untyped-def]
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def _operation_section(method: str, path: str, op: dict[str, Any]) -> str:
    blocks = [f"## `{method.upper()} {path}` {{#{_op_anchor(method, path)}}}", op.get("description", "")]
    if op.get("tags"):
        blocks.append("Tags: " + ", ".join(op["tags"]) + ".")
    if op.get("parameters"):
        blocks.append(
            "**Parameters**\n\n"
            + table(
                ["name", "in", "type", "required", "description"],
                [
                    (
                        code(p["name"]),
                        p["in"],
                        type_of(p.get("schema", {})),
                        _yes(p.get("required")),
                        p.get("description", ""),
                    )
                    for p in op["parameters"]
                ],
            )
        )
    if "requestBody" in op:
        body = op["requestBody"]
        media = body.get("content", {})
        kinds = "; ".join(f"{type_of(m.get('schema', {}))} ({code(t)})" for t, m in media.items())
        blocks.append(f"**Request body** ({'required' if body.get('required') else 'optional'}): {kinds}")
    blocks.append(
        "**Responses**\n\n"
        + table(
            ["status", "description", "body"],
            [
                (status, r.get("description", ""), _body(r))
                for status, r in sorted(op.get("responses", {}).items())
            ],
        )
    )
    return "\n\n".join(b for b in blocks if b)


def _schema_section(name: str, schema: dict[str, Any]) -> str:
    blocks = [f"### {name} {{#{schema_anchor(name)}}}", schema.get("description", "")]
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    if properties:
        blocks.append(
            table(
                ["field", "type", "required", "description"],
                [
                    (code(field), type_of(s), _yes(field in required), _describe(s))
                    for field, s in properties.items()
                ],
            )
        )
    else:
        blocks.append(f"Type: {type_of(schema)}.")
    if schema.get("additionalProperties") is False:
        blocks.append("Other fields are refused.")
    return "\n\n".join(b for b in blocks if b)


def _describe(schema: dict[str, Any]) -> str:
    branches = [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]
    limits = [template.format(b[key]) for b in branches for key, template in CONSTRAINTS.items() if key in b]
    description = schema.get("description", "").strip()
    sentences = [description + ("." if description and description[-1] not in ".!?" else "")]
    if limits:
        sentences.append("Constraints: " + ", ".join(limits) + ".")
    if "default" in schema:
        sentences.append(f"Default: {code(json.dumps(schema['default']))}.")
    sentences += [
        f"Example: {code(json.dumps(example, sort_keys=True))}." for example in schema.get("examples", [])
    ]
    return " ".join(s for s in sentences if s)


def _array_type(schema: dict[str, Any]) -> str:
    if "prefixItems" in schema:
        return "array [" + ", ".join(type_of(s) for s in schema["prefixItems"]) + "]"
    item = type_of(schema.get("items", {}))
    return f"array of ({item})" if " or " in item else f"array of {item}"


def _body(response: dict[str, Any]) -> str:
    return "; ".join(type_of(m.get("schema", {})) for m in response.get("content", {}).values())


def _yes(flag: object) -> str:
    return "yes" if flag else "no"


def _op_anchor(method: str, path: str) -> str:
    slug = "".join(ch if ch.isalnum() else "-" for ch in path.lower()).strip("-")
    return f"{method.lower()}-{'-'.join(filter(None, slug.split('-')))}"
