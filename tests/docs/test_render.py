"""The Markdown helpers and the OpenAPI renderer, on small hand-made inputs."""

from __future__ import annotations

import pytest

from docs.gen.markdown import code, table
from docs.gen.openapi_render import render_openapi, type_of

SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "demo", "version": "1.2.3", "description": "A demo API."},
    "paths": {
        "/v1/items/{item_id}": {
            "get": {
                "summary": "Get Item",
                "description": "One item.",
                "tags": ["items"],
                "parameters": [
                    {"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "responses": {
                    "404": {
                        "description": "no such item",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                    "200": {
                        "description": "OK",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}},
                    },
                },
            },
            "post": {
                "summary": "Put Item",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}},
                },
                "responses": {"200": {"description": "OK"}},
            },
        },
    },
    "components": {
        "schemas": {
            "Item": {
                "type": "object",
                "description": "An item.",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "description": "its name", "maxLength": 8},
                    "note": {
                        "anyOf": [{"type": "string", "maxLength": 128}, {"type": "null"}],
                        "default": None,
                    },
                    "group": {"type": "string", "enum": ["low", "high"]},
                    "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                    "range": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}]},
                    "scores": {"type": "object", "additionalProperties": {"type": "number"}},
                    "error": {"$ref": "#/components/schemas/Error"},
                },
            },
            "Error": {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]},
        }
    },
}


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"$ref": "#/components/schemas/ErrorItem"}, "[ErrorItem](#schema-erroritem)"),
        ({"anyOf": [{"type": "string"}, {"type": "null"}]}, "string or null"),
        (
            {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            "array of (string or integer)",
        ),
        ({"type": "array", "items": {"type": "string"}}, "array of string"),
        (
            {"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}]},
            "array [number, number]",
        ),
        ({"type": "object", "additionalProperties": {"type": "number"}}, "object (string → number)"),
        ({"type": "object", "additionalProperties": True}, "object"),
        ({"type": "string", "enum": ["a", "b"]}, 'one of `"a"`, `"b"`'),
        ({"type": "string", "format": "date-time"}, "string (date-time)"),
        ({"type": ["integer", "null"]}, "integer or null"),
        ({}, "any"),
    ],
)
def test_type_of(schema: dict, expected: str) -> None:
    assert type_of(schema) == expected


def test_render_openapi_documents_routes_parameters_bodies_and_schemas() -> None:
    text = render_openapi(SPEC, intro="Read this first.")
    assert "**demo** version 1.2.3. A demo API.\n\nRead this first." in text
    assert "| GET | [`/v1/items/{item_id}`](#get-v1-items-item-id) | Get Item |" in text
    assert "## `GET /v1/items/{item_id}` {#get-v1-items-item-id}" in text
    assert "| `item_id` | path | integer | yes |  |" in text
    assert "**Request body** (required): [Item](#schema-item) (`application/json`)" in text
    get_section = text.split("{#get-v1-items-item-id}")[1].split("## `POST")[0]
    assert get_section.index("| 200 | OK |") < get_section.index(
        "| 404 | no such item |"
    )  # statuses in order
    assert "| `name` | string | yes | its name. Constraints: at most 8 characters. |" in text
    assert "| `note` | string or null | no | Constraints: at most 128 characters. Default: `null`. |" in text
    assert "| `error` | [Error](#schema-error) | no |  |" in text
    item = text.split("### Item {#schema-item}")[1].split("### Error")[0]
    assert "Other fields are refused." in item
    assert "Other fields are refused." not in text.split("### Error {#schema-error}")[1]


def test_table_escapes_cells_and_checks_row_length() -> None:
    assert table(["a", "b"], [("x | y", "line\nbreak"), (None, 3)]) == (
        "| a | b |\n|---|---|\n| x \\| y | line break |\n|  | 3 |"
    )
    with pytest.raises(ValueError, match="2 cells, expected 3"):
        table(["a", "b", "c"], [("x", "y")])


def test_code_handles_backticks_and_empty_values() -> None:
    assert code("ldh") == "`ldh`"
    assert code("a`b") == "`` a`b ``"
    assert code("") == "" and code(None) == ""
